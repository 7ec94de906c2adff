"""The Telegram adapter's pure parts: HTML from neutral spans (checked with the emulator's
parser, as strict as Telegram's), splitting, keyboards, commands, menus, and how Telegram's
errors become delivery errors.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.telegram.commands import (
    entries,
    group_admin_commands,
    group_commands,
    member_commands,
    menus,
    staff_commands,
)
from bot.telegram.keyboard import deep_link, keyboard
from bot.telegram.messenger import PartlySent, classify
from bot.telegram.render import MESSAGE_LIMIT, clip, size, split, to_html, visible
from bot.telegram.updates import parse_command, resume_payload
from handlers.buttons import decode
from handlers.chat import (
    Button,
    Command,
    NotPermitted,
    OutcomeUnknown,
    Platform,
    Press,
    RetryLater,
    Rich,
    SendFailed,
    Span,
    Target,
    Text,
    Unreachable,
    bold,
    code,
    italic,
    link,
    rows,
)
from tests.emulators.telegram import parse_html

BOT = "cds_test_bot"


def parsed(rich: Rich) -> str:
    text, _entities = parse_html(to_html(rich))
    return text


# --- HTML ------------------------------------------------------------------------------------


def test_user_text_is_escaped_and_shown_as_typed() -> None:
    rich = Rich.of(bold("<b>Coop</b> & co")) + " *x* @everyone " + code("a<b")
    html = to_html(rich)
    assert html == "<b>&lt;b&gt;Coop&lt;/b&gt; &amp; co</b> *x* @everyone <code>a&lt;b</code>"
    text, entities = parse_html(html)
    assert text == "<b>Coop</b> & co *x* @everyone a<b"
    assert [e["type"] for e in entities] == ["bold", "code"]


def test_links_are_escaped_and_unsafe_schemes_shown_as_text() -> None:
    safe = link("the <site>", 'https://example.org/?a=1&b="2"')
    html = to_html(Rich.of(safe))
    assert html == '<a href="https://example.org/?a=1&amp;b=&quot;2&quot;">the &lt;site&gt;</a>'
    text, entities = parse_html(html)
    assert text == "the <site>"
    assert entities[0]["url"] == 'https://example.org/?a=1&b="2"'
    unsafe = Rich.of(link("click", "javascript:alert(1)"))
    assert parsed(unsafe) == "click (javascript:alert(1))" == visible(unsafe)


def test_styles_render_as_telegram_tags() -> None:
    rich = Rich.of(italic("i")) + bold("b") + code("c")
    assert to_html(rich) == "<i>i</i><b>b</b><code>c</code>"


def test_right_to_left_and_emoji_stay_intact() -> None:
    rich = Rich.of(bold("تعاونية أركان")) + " 🌿 " + "مرحبا"
    assert parsed(rich) == "تعاونية أركان 🌿 مرحبا"


# --- splitting -------------------------------------------------------------------------------


def test_short_text_is_one_chunk() -> None:
    assert split(Rich.of("hello")) == [Rich.of("hello")]


def test_long_text_splits_between_words_without_breaking_tags() -> None:
    words = [bold(f"mot{i}") if i % 3 == 0 else Span(f"mot{i}") for i in range(2000)]
    rich = Rich.join(words, sep=" ")
    chunks = split(rich)
    assert len(chunks) > 1
    for chunk in chunks:
        text = parsed(chunk)  # every chunk is valid HTML on its own
        assert size(text) <= MESSAGE_LIMIT
        assert not text.startswith("ot")  # never inside a word
    rejoined = " ".join(parsed(chunk) for chunk in chunks)
    assert rejoined.split() == rich.plain.split()


def test_split_prefers_a_line_break() -> None:
    lines = [f"line {i} " + "x" * 50 for i in range(200)]
    chunks = split(Rich.of("\n".join(lines)))
    assert all(chunk.plain.rstrip().endswith("x" * 50) for chunk in chunks)


def test_one_word_longer_than_the_limit_is_cut() -> None:
    chunks = split(Rich.of(bold("a" * 10_000)))
    assert [len(c.plain) for c in chunks] == [4096, 4096, 1808]
    assert all(c.spans[0].kind == "bold" for c in chunks)


def test_astral_characters_count_double() -> None:
    chunks = split(Rich.of("🌿" * 3000))
    assert all(size(c.plain) <= MESSAGE_LIMIT for c in chunks)
    assert "".join(c.plain for c in chunks) == "🌿" * 3000


def test_whitespace_only_chunks_are_dropped() -> None:
    assert split(Rich.of("   \n ")) == []


spans = st.builds(
    Span,
    st.text(min_size=1, max_size=300),
    st.sampled_from(["plain", "bold", "italic", "code"]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(spans, max_size=40), st.integers(min_value=20, max_value=500))
def test_any_text_splits_into_valid_chunks(parts: list[Span], limit: int) -> None:
    rich = Rich(tuple(parts))
    chunks = split(rich, limit)
    for chunk in chunks:
        assert size(chunk.plain) <= limit
        text, _entities = parse_html(to_html(chunk))
        assert text == chunk.plain
    assert "".join(c.plain for c in chunks).split() == rich.plain.split()


def test_clip() -> None:
    assert clip("short", 10) == "short"
    assert clip("x" * 20, 10) == "x" * 9 + "…"


# --- keyboards -------------------------------------------------------------------------------

HELP = Button("🙋 I can help", "help", ("12",), private_start="offer-12")


def data(markup: InlineKeyboardMarkup | None) -> list[list[dict[str, str]]]:
    assert markup is not None
    return [[b.to_dict() for b in row] for row in markup.inline_keyboard]


def test_help_is_a_deep_link_in_groups_and_a_callback_in_private() -> None:
    in_group = data(keyboard(rows(HELP), private=False, bot_username=BOT))
    assert in_group == [[{"text": "🙋 I can help", "url": f"https://t.me/{BOT}?start=offer-12"}]]
    in_private = data(keyboard(rows(HELP), private=True, bot_username=BOT))
    payload = in_private[0][0]["callback_data"]
    assert decode(payload) == Press("help", ("12",))
    assert len(payload.encode()) <= 64


def test_rows_are_split_at_eight_and_links_kept() -> None:
    many = tuple(Button(str(i), "page", (str(i),)) for i in range(11))
    markup = data(
        keyboard(
            (many, (Button("site", url="https://cds.example"),)), private=True, bot_username=BOT
        )
    )
    assert [len(row) for row in markup] == [8, 3, 1]
    assert markup[2][0] == {"text": "site", "url": "https://cds.example"}


def test_a_payload_too_long_is_left_out() -> None:
    markup = keyboard(
        ((Button("too long", "dlg", ("x" * 80,)), Button("ok", "page", ("2",))),),
        private=True,
        bot_username=BOT,
    )
    assert [b["text"] for b in data(markup)[0]] == ["ok"]
    assert keyboard((), private=True, bot_username=BOT) is None


def test_deep_link_payload_is_checked() -> None:
    assert deep_link(BOT, "offer-3") == f"https://t.me/{BOT}?start=offer-3"
    assert deep_link(BOT, "bad payload!") == f"https://t.me/{BOT}"
    assert deep_link(BOT, None) == f"https://t.me/{BOT}"


# --- commands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start offer-12", Command("start", ("offer-12",))),
        (f"/Projects@{BOT} souss", Command("projects", ("souss",))),
        (f"/help@{BOT.upper()}", Command("help")),
        ("/help@other_bot", None),
        ("/update argan  big\nnews", Command("update", ("argan", "big", "news"))),
    ],
)
def test_parse_command(text: str, expected: Command | None) -> None:
    assert parse_command(text, BOT) == expected


def test_resume_payload() -> None:
    assert resume_payload(Command("offer", ("12",))) == "offer-12"
    assert resume_payload(Command("offer", ("#7",))) == "offer-7"
    assert resume_payload(Press("help", ("5",))) == "offer-5"
    assert resume_payload(Command("offer", ("abc",))) is None
    assert resume_payload(Command("myoffers")) is None
    assert resume_payload(Text("hello")) is None


def test_menus_hold_only_what_each_audience_may_use() -> None:
    private = member_commands()
    assert {"start", "projects", "offer", "myoffers", "cancel"} <= set(private)
    assert not {"addneed", "linkgroup", "publish"} & set(private)
    group = group_commands()
    assert set(group) >= {"projects", "project", "needs", "help", "follow", "unfollow"}
    assert not {"offer", "myoffers", "start", "cancel", "language", "propose"} & set(group)
    admins = group_admin_commands()
    assert set(admins) - set(group) == {"linkgroup", "unlinkgroup", "groups"}
    cm = staff_commands(frozenset({"cm"}))
    assert {"publish", "grant", "offers", "addneed", "projects"} <= set(cm)
    assert "linkgroup" not in cm  # a group command
    scopes = [menu.scope.type for menu in menus(((42, frozenset({"cm"})),))]
    assert scopes == ["all_private_chats", "all_group_chats", "all_chat_administrators", "chat"]


@pytest.mark.parametrize("language", ["fr", "en", "ar"])
def test_menu_entries_are_translated_and_within_limits(language: str) -> None:
    commands = entries(member_commands(), language)
    assert all(1 <= len(c.description) <= 256 for c in commands)
    assert all(c.command.islower() and len(c.command) <= 32 for c in commands)
    english = {c.command: c.description for c in entries(member_commands(), "en")}
    if language == "en":
        assert english["projects"] == "browse open projects"
    else:
        described = {c.command: c.description for c in commands}
        assert described["projects"] != english["projects"]


# --- delivery errors -------------------------------------------------------------------------

PRIVATE = Target(Platform.TELEGRAM, "42", True)
GROUP = Target(Platform.TELEGRAM, "-10042", False)


def raised_from(error: TelegramError, cause: Exception) -> TelegramError:
    try:
        raise error from cause
    except TelegramError as raised:
        return raised


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_flood_control_waits_as_long_as_telegram_asks() -> None:
    mapped = classify(RetryAfter(7), GROUP)
    assert isinstance(mapped, RetryLater) and mapped.seconds == 7


@pytest.mark.parametrize(
    ("error", "target", "kind"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), PRIVATE, Unreachable),
        (Forbidden("Forbidden: bot can't initiate conversation with a user"), PRIVATE, Unreachable),
        (Forbidden("Forbidden: bot was kicked from the supergroup chat"), GROUP, NotPermitted),
        (BadRequest("Bad Request: not enough rights to send text messages"), GROUP, NotPermitted),
        (BadRequest("Bad Request: chat not found"), PRIVATE, Unreachable),
        (BadRequest("Bad Request: chat not found"), GROUP, SendFailed),
        (BadRequest("Bad Request: message is too long"), GROUP, SendFailed),
        (InvalidToken("Unauthorized"), GROUP, RetryLater),
        (NetworkError("Internal Server Error"), GROUP, RetryLater),  # a 5xx answer
        (NetworkError("Bad Gateway"), PRIVATE, RetryLater),
        (TimedOut(), GROUP, OutcomeUnknown),  # read timeout: it may have been sent
        (TimedOut("Pool timeout: All connections ... Request was *not* sent"), GROUP, RetryLater),
        (raised_from(TimedOut(), httpx.ConnectTimeout("")), GROUP, RetryLater),
        (raised_from(TimedOut(), httpx.ReadTimeout("")), GROUP, OutcomeUnknown),
        (
            raised_from(NetworkError("httpx.ConnectError"), httpx.ConnectError("")),
            GROUP,
            RetryLater,
        ),
        (
            raised_from(NetworkError("httpx.RemoteProtocolError"), httpx.RemoteProtocolError("")),
            GROUP,
            OutcomeUnknown,
        ),
        (PartlySent("1 of 3 parts sent"), PRIVATE, OutcomeUnknown),  # never repeat a part
    ],
)
def test_telegram_errors_become_delivery_errors(
    error: TelegramError, target: Target, kind: type[Exception]
) -> None:
    mapped = classify(error, target)
    assert type(mapped) is kind
