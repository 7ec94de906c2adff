"""Discord rendering: member text escaped, pieces and embeds within Discord's limits, and
components whose custom_ids come back as the same presses."""

from __future__ import annotations

import re

import discord
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.discord.commands import arguments, options_of
from bot.discord.messenger import Composer
from bot.discord.render import (
    CONTENT_MAX,
    EMBED_DESCRIPTION_MAX,
    EMBED_TITLE_MAX,
    contents,
    embed_text,
    escape,
    markdown,
    split,
)
from bot.discord.views import (
    ANSWER,
    SELECT_ID,
    Labels,
    answer_limit,
    answer_modal,
    make_view,
    pressed_payload,
    submitted_text,
)
from handlers.buttons import decode
from handlers.chat import Button, Message, Rich, Span, bold, code, italic, link, rows

LABELS = Labels(answer="Answer", more="More choices…")


def unescape(text: str) -> str:
    """What Discord shows for escaped text: backslashes before punctuation disappear."""
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", text).replace("\u200b", "")


# ------------------------------------------------------------------------------ escaping


@pytest.mark.parametrize(
    "typed",
    [
        "**gras** _it_ `code` ~~barré~~ ||caché||",
        "# titre\n## sous-titre\n-# petit\n- liste\n1. un\n> citation\n>>> bloc",
        "[lien](https://evil.example) <https://x.example>",
        "@everyone @here <@123456789012345678> <@&123456789012345678> <#1> </cmd:1> <t:1:R>",
        "مرحبا بكم \u202eRTL\u202c في تافراوت",
        "back\\slash \\*",
    ],
)
def test_member_text_is_shown_as_typed_and_pings_nobody(typed: str) -> None:
    shown = escape(typed)
    assert unescape(shown) == typed
    assert "@everyone" not in shown.replace("@\u200beveryone", "")
    assert not re.search(r"(?<!\\)<[@#/t]", shown)
    for line in shown.splitlines():
        assert not re.match(r"\s*(#|-|>|\d+\.\s)", line), line


def test_styles_hug_their_text_and_links_are_checked() -> None:
    rich = Rich.of("a ") + bold(" b* ") + italic("c") + " " + code("x`y") + code("z")
    assert markdown(rich) == "a  **b\\*** *c* x\\`y`z`"
    assert markdown(Rich.of(link("site", "https://cds.example/a_b"))) == (
        "[site](<https://cds.example/a_b>)"
    )
    assert markdown(Rich.of(link("site", "javascript:alert(1)"))) == "site"


# ------------------------------------------------------------------------------ lengths


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet=st.sampled_from("ab *_\n@#>-é"), min_size=0, max_size=900),
            st.sampled_from(["plain", "bold", "italic", "code"]),
        ),
        max_size=12,
    )
)
def test_pieces_fit_and_keep_every_character(parts: list[tuple[str, str]]) -> None:
    rich = Rich(tuple(Span(text, kind) for text, kind in parts))  # type: ignore[arg-type]
    pieces = split(rich, 500)
    assert all(len(markdown(piece)) <= 500 for piece in pieces)
    assert "".join(piece.plain for piece in pieces).strip() == rich.plain.strip() or not (
        rich.plain.strip()
    )


def test_long_text_is_cut_between_words() -> None:
    rich = Rich.join([bold("Offre"), "mot " * 1200])
    pieces = contents(rich)
    assert len(pieces) == 3 and all(len(p) <= CONTENT_MAX for p in pieces)
    assert all(p.endswith("mot") or p.endswith("mot ") for p in pieces)
    assert pieces[0].startswith("**Offre**\n")


def test_announcement_embed_fits_discord_limits() -> None:
    title = "Coopérative *argan* " * 30
    card = Rich.join([Rich.of("📣 ") + bold(title), "#5 🛠 Compétences", "détail _x_ " * 900])
    embed = embed_text(card)
    assert len(embed.title) <= EMBED_TITLE_MAX and embed.title.endswith("…")
    assert len(embed.description) <= EMBED_DESCRIPTION_MAX and embed.description.endswith("…")
    assert embed.description.startswith("\\#5 🛠 Compétences\n")
    assert len(embed.title) + len(embed.description) <= 6000
    short = embed_text(Rich.of("Titre seul"))
    assert (short.title, short.description) == ("Titre seul", "")


def test_composer_puts_components_on_the_last_piece() -> None:
    message = Message(Rich.of("x " * 1500), rows(Button("OK", "acc", ("1",))))
    payloads = Composer(lambda: LABELS).message(message)
    assert len(payloads) == 2 and payloads[0].view is None and payloads[1].view is not None
    [announcement] = Composer(lambda: LABELS).message(message, embed=True)
    assert isinstance(announcement.embed, discord.Embed) and announcement.content is None


# ------------------------------------------------------------------------------ components


def components(view: discord.ui.View | None) -> list[list[dict[str, object]]]:
    assert view is not None
    return [row["components"] for row in view.to_components()]  # type: ignore[index]


async def test_buttons_carry_their_payload_and_come_back_as_presses() -> None:
    message = Message(
        Rich.of("?"),
        (
            (Button("🙋 I can help", "help", ("12",)), Button("Site", url="https://cds.example")),
            (Button("x" * 200, "dlg", ("offer", "kind", "skills")),),
        ),
    )
    [first, second] = components(make_view(message, LABELS))
    assert first[0]["custom_id"] == "1|help|12" and first[1]["url"] == "https://cds.example"
    assert len(str(second[0]["label"])) == 80
    press = decode(pressed_payload({"custom_id": first[0]["custom_id"]}))
    assert press is not None and (press.action, press.args) == ("help", ("12",))
    assert decode(pressed_payload({"custom_id": "not ours"})) is None


async def test_a_free_text_step_gets_an_answer_button_beside_cancel() -> None:
    message = Message(
        Rich.of("Your message?"),
        rows(Button("Cancel", "dlg", ("offer", "message", "__cancel"))),
        expects_text=1000,
    )
    [[answer, cancel]] = components(make_view(message, LABELS))
    assert answer["custom_id"] == "t1:1000" and answer["label"] == "✍️ Answer"
    assert cancel["style"] == discord.ButtonStyle.secondary.value
    assert answer_limit("t1:1000") == 1000 and answer_limit("1|t1:1") is None
    assert ANSWER.fullmatch(str(answer["custom_id"]))


async def test_too_many_choices_become_a_select_menu() -> None:
    choices = [Button(f"Choice {n}", "dlg", ("d", "s", str(n))) for n in range(14)]
    message = Message(Rich.of("?"), (*rows(*choices, width=2), (Button("Cancel", "x"),)))
    [[select], [cancel]] = components(make_view(message, LABELS))
    assert select["custom_id"] == SELECT_ID and len(select["options"]) == 14  # type: ignore[arg-type]
    picked = {"custom_id": SELECT_ID, "values": [select["options"][3]["value"]]}  # type: ignore[index]
    press = decode(pressed_payload(picked))
    assert press is not None and press.args == ("d", "s", "3")
    assert cancel["label"] == "Cancel"


async def test_the_answer_modal_and_what_comes_back() -> None:
    modal = answer_modal(1000, title="A" * 60, label="Your answer", placeholder="At most 1000")
    data = modal.to_dict()
    assert len(data["title"]) == 45 and data["custom_id"] == "m1"
    [row] = data["components"]
    text_input = row["components"][0]
    assert text_input["max_length"] == 4000 and text_input["style"] == 2
    submitted = {
        "custom_id": "m1",
        "components": [{"type": 1, "components": [{"custom_id": "text", "value": "Bonjour"}]}],
    }
    assert submitted_text(submitted) == "Bonjour"
    labelled = {"components": [{"type": 18, "component": {"custom_id": "x", "value": "Salut"}}]}
    assert submitted_text(labelled) == "Salut"


def test_slash_command_options_become_the_command_arguments() -> None:
    assert [o.name for o in options_of("closeneed")] == ["need", "status"]
    assert arguments(options_of("closeneed"), {"need": " 12 ", "status": "fulfilled"}) == (
        "12",
        "fulfilled",
    )
    grant = options_of("grant")
    assert arguments(grant, {"details": "@hassan  leader argan"}) == ("@hassan", "leader", "argan")
    assert arguments(options_of("offers"), {"project": None}) == ()
    assert [o.name for o in options_of("some-future-command")] == ["text"]


def test_the_adapter_is_built_from_the_settings() -> None:
    from bot.config import load_settings
    from bot.discord import create_adapter

    settings = load_settings(
        overrides={
            "community": {"default_language": "ar"},
            "discord": {"token": "secret", "guild_ids": "1,2", "gateway_url": "ws://127.0.0.1:9/"},
        }
    )
    adapter = create_adapter(settings)
    config = adapter.config
    assert (config.token, config.guild_ids, config.default_language) == ("secret", (1, 2), "ar")
    assert config.api_base_url == "https://discord.com/api/v10"
    assert config.gateway_url == "ws://127.0.0.1:9/"
    assert "secret" not in repr(settings.discord)
    assert adapter.messenger.rates.per_second == 50
