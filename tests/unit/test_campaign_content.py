"""What campaigns say: each kind's builder, the language fallback, button payloads and deep
links within the platforms' limits, and bounds that name the platform that refuses."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from handlers.buttons import MAX_BYTES, encode
from handlers.campaign_content import (
    CODE_MAX,
    CODE_PATTERN,
    LIMITS,
    RunContext,
    build_prompt,
    check_poll,
    check_prompt,
    check_run,
    deep_link,
    new_code,
    pick_content,
    poll_options,
    split_code,
    text_length,
)
from handlers.campaign_parsing import (
    parse_local,
    parse_monthday,
    parse_time,
    parse_weekdays,
    parse_zone,
)
from handlers.chat import Button, Message, Poll, Rich
from handlers.errors import (
    ContentTooLong,
    InvalidMonthDay,
    InvalidTime,
    InvalidWeekdays,
    PollOptionCount,
    PollOptionTooLong,
    PollQuestionTooLong,
    UnknownTimezone,
)
from handlers.i18n import _, use_language
from store.models import Need, Offer, Project

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LONG_SLUG = "a" * 50  # the longest short name a project may have
BIG_ID = 10**11 - 1  # the largest number lookups accept


def project(**values: Any) -> Project:
    defaults: dict[str, Any] = {
        "id": 3,
        "slug": "argan-tafraout",
        "title": "Argan Tafraout",
        "summary": "A women's argan cooperative.",
        "territory": "Tafraout",
        "tags": ["argan"],
        "status": "open",
    }
    return Project(**{**defaults, **values})


def need(**values: Any) -> Need:
    defaults: dict[str, Any] = {
        "id": 12,
        "project_id": 3,
        "kind": "skills",
        "title": "A website",
        "details": "",
        "effort": "",
        "target_amount": None,
        "currency": None,
        "deadline": None,
        "status": "open",
    }
    return Need(**{**defaults, **values})


def run(kind: str, **values: Any) -> RunContext:
    defaults: dict[str, Any] = {
        "campaign_id": 7,
        "code": "K7Q2MX",
        "kind": kind,
        "content": {"fr": "Bonjour !", "en": "Hello!"},
        "options": {},
        "default_language": "fr",
        "run_id": 41,
    }
    return RunContext(**{**defaults, **values})


def all_buttons(out: Message) -> list[Button]:
    return [button for row in out.buttons for button in row]


def message(out: Any) -> Message:
    assert isinstance(out, Message)
    return out


# --- language fallback ---------------------------------------------------------------------------


def test_pick_content_falls_back_to_the_community_language_then_any() -> None:
    content = {"fr": "Bonjour", "en": "Hello"}
    assert pick_content(content, "en", "fr") == "Hello"
    assert pick_content(content, "ar", "fr") == "Bonjour"
    assert pick_content({"en": "Hello"}, "ar", "fr") == "Hello"
    assert pick_content({"fr": "", "ar": "مرحبا"}, "en", "fr") == "مرحبا"
    assert pick_content({}, "en", "fr") == ""


def test_prompts_are_built_in_the_recipients_language() -> None:
    out = message(build_prompt(run("question"), "ar", private=True))
    assert out.text.plain == "❓ Bonjour !"  # no Arabic text: the community's French one
    with use_language("en"):  # the caller's language does not leak into the prompt
        prompt = message(build_prompt(run("question"), "fr", private=True))
    with use_language("fr"):
        expected = "✍️ " + _("Answer")
    assert [b.label for b in all_buttons(prompt)] == [expected]


# --- each kind ----------------------------------------------------------------------------------


def test_message_with_a_need_button_carries_the_campaign_code() -> None:
    out = message(build_prompt(run("message", need=need(), project=project()), "en", private=False))
    assert out.text.plain == "Hello!"
    [button] = all_buttons(out)
    assert (button.action, button.args) == ("co", ("12", "K7Q2MX"))
    assert button.private_start == "offer-12-cK7Q2MX"


def test_message_with_a_project_button_and_without_any() -> None:
    out = message(build_prompt(run("message", project=project()), "en", private=True))
    [button] = all_buttons(out)
    assert (button.action, button.args) == ("cp", ("argan-tafraout", "K7Q2MX"))
    assert button.private_start == "project-argan-tafraout-cK7Q2MX"
    assert all_buttons(message(build_prompt(run("message"), "en", private=True))) == []
    # A closed need gets no "I can help".
    closed = run("message", need=need(status="fulfilled"), project=project())
    assert [b.action for b in all_buttons(message(build_prompt(closed, "en", private=True)))] == [
        "cp"
    ]


def test_question_has_an_answer_button_everywhere_and_a_reply_hint_in_groups() -> None:
    private = message(build_prompt(run("question"), "en", private=True))
    [answer] = all_buttons(private)
    assert (answer.action, answer.args) == ("cans", ("7", "41"))
    group = message(build_prompt(run("question"), "en", private=False))
    # Discord channels cannot be replied to (no message-content intent): the button is the way
    assert [(b.action, b.args) for b in all_buttons(group)] == [("cans", ("7", "41"))]
    assert "Press Answer, or reply to this message." in group.text.plain
    test = message(build_prompt(run("question", run_id=None), "en", private=True))
    assert all_buttons(test)[0].args == ("7", "0")  # a test: answers are not recorded


def test_poll_options_follow_the_language_with_fallback() -> None:
    options = {"options": {"fr": ["Agadir", "Tiznit"], "en": ["Agadir", "Tiznit", "Online"]}}
    poll = build_prompt(run("poll", options=options), "en", private=False)
    assert poll == Poll("Hello!", ("Agadir", "Tiznit", "Online"))
    poll = build_prompt(run("poll", options=options), "ar", private=True)
    assert poll == Poll("Bonjour !", ("Agadir", "Tiznit"))
    assert poll_options(run("poll", options={"options": "broken"}), "en") == ()


def test_spotlight_shows_the_project_its_open_needs_and_credited_buttons() -> None:
    needs = [need(), need(id=13, title="Drivers", kind="network"), need(id=14, status="fulfilled")]
    context = run("spotlight", project=project(), needs=needs)
    out = message(build_prompt(context, "en", private=True))
    text = out.text.plain
    assert "Argan Tafraout" in text and "A women's argan cooperative." in text
    assert "#12" in text and "#13" in text and "#14" not in text
    actions = [(b.action, b.args) for b in all_buttons(out)]
    assert actions == [
        ("co", ("12", "K7Q2MX")),
        ("co", ("13", "K7Q2MX")),
        ("cp", ("argan-tafraout", "K7Q2MX")),
        ("fol", ("argan-tafraout",)),
    ]
    group = message(build_prompt(context, "en", private=False))
    assert "fol" not in [b.action for b in all_buttons(group)]  # following is personal
    with pytest.raises(ValueError, match="project"):
        build_prompt(run("spotlight"), "en", private=False)


def test_digest_lists_needs_with_their_project_within_discords_bound() -> None:
    many = [need(id=n, title=f"Need number {n} " + "x" * 100) for n in range(1, 201)]
    context = run("digest", content={}, needs=many, projects={3: project()})
    out = message(build_prompt(context, "en", private=False))
    text = out.text.plain
    assert "#1 " in text and "Argan Tafraout" in text
    assert re.search(r"…and \d+ more: see /needs", text)
    assert text_length(text) <= LIMITS.message
    assert len(all_buttons(out)) == 5
    check_prompt(out)


def test_followup_asks_about_the_offer_with_three_answers() -> None:
    offer = Offer(id=55, need_id=12, kind="skills", status="accepted")
    context = run("followup", content={}, offer=offer, need=need(), project=project())
    out = message(build_prompt(context, "en", private=True))
    assert "How is it going with your contribution to “A website” (Argan Tafraout)?" in (
        out.text.plain
    )
    assert [(b.action, b.args) for b in all_buttons(out)] == [
        ("fu", ("55", "done", "7")),
        ("fu", ("55", "help", "7")),
        ("fu", ("55", "stop", "7")),
    ]


def test_reengage_suggests_a_need_with_i_can_help_and_not_now() -> None:
    suggestion = need(details="d" * 3000)
    out = message(
        build_prompt(
            run("reengage", content={}, suggestion=suggestion, project=project()),
            "en",
            private=True,
        )
    )
    assert "A website" in out.text.plain and "Argan Tafraout" in out.text.plain
    assert text_length(out.text.plain) < LIMITS.message  # long details are clipped
    assert [(b.action, b.args) for b in all_buttons(out)] == [
        ("co", ("12", "K7Q2MX")),
        ("cno", ("7",)),
    ]


def test_run_context_of_a_campaign() -> None:
    from store.models import Campaign

    campaign = Campaign(
        id=9,
        code="ABCDEF",
        name="News",
        kind="message",
        content={"en": "x"},
        options={},
        project_id=3,
        need_id=None,
    )
    context = RunContext.of(campaign, "fr", run_id=2, project=project())
    assert (context.campaign_id, context.code, context.run_id, context.project_id) == (
        9,
        "ABCDEF",
        2,
        3,
    )
    assert context.project is not None and context.default_language == "fr"


# --- payloads and deep links within the platforms' limits ----------------------------------------


def worst_case_prompts() -> list[Message]:
    """Every kind's buttons with the largest ids, the longest short name and code."""
    code = "Z" * CODE_MAX
    big_need = need(id=BIG_ID)
    big_project = project(id=BIG_ID, slug=LONG_SLUG)
    offer = Offer(id=BIG_ID, need_id=BIG_ID, kind="skills", status="accepted")
    contexts = [
        run("message", code=code, campaign_id=BIG_ID, need=big_need, project=big_project),
        run("message", code=code, campaign_id=BIG_ID, project=big_project),
        run("question", code=code, campaign_id=BIG_ID, run_id=BIG_ID),
        run("spotlight", code=code, campaign_id=BIG_ID, project=big_project, needs=[big_need]),
        run("digest", code=code, campaign_id=BIG_ID, needs=[big_need]),
        run("followup", code=code, campaign_id=BIG_ID, offer=offer, need=big_need,
            project=big_project),
        run("reengage", code=code, campaign_id=BIG_ID, suggestion=big_need, project=big_project),
    ]  # fmt: skip
    return [message(build_prompt(context, "en", private=True)) for context in contexts]


def test_every_button_payload_fits_in_64_bytes() -> None:
    for prompt in worst_case_prompts():
        for button in all_buttons(prompt):
            assert len(encode(button.action, button.args).encode()) <= MAX_BYTES


def test_deep_links_fit_telegrams_start_parameter() -> None:
    for prompt in worst_case_prompts():
        for button in all_buttons(prompt):
            if button.private_start is not None:
                assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", button.private_start)
    # A short name too long to carry the code keeps the link working, without the credit.
    assert deep_link("project", LONG_SLUG, "ZZZZZZZZ") == f"project-{LONG_SLUG}"
    assert deep_link("project", "argan", "ZZZZZZZZ") == "project-argan-cZZZZZZZZ"
    assert deep_link("offer", "12", None) == "offer-12"


def test_campaign_codes_are_told_apart_from_short_names() -> None:
    assert split_code("12-cK7Q2MX") == ("12", "K7Q2MX")
    assert split_code("argan-tafraout-cK7Q2MX") == ("argan-tafraout", "K7Q2MX")
    # Short names are lower case: a "-c..." inside one is not a code.
    assert split_code("ecole-cooperative") == ("ecole-cooperative", None)
    assert split_code("foo-c123") == ("foo-c123", None)
    assert split_code("12") == ("12", None)
    for _attempt in range(50):
        code = new_code()
        assert re.fullmatch(CODE_PATTERN, code) and len(code) <= CODE_MAX
        assert split_code(f"argan-c{code}") == ("argan", code)


# --- bounds, naming the platform --------------------------------------------------------------


def test_a_message_too_long_for_discord_names_discord_and_its_bound() -> None:
    with pytest.raises(ContentTooLong) as raised:
        check_prompt(Message(Rich.of("x" * 2500)))
    assert raised.value.params == {"platform": "Discord", "limit": 2000, "length": 2500}
    with use_language("en"):
        assert "too long for Discord: at most 2000 characters" in raised.value.render()
    check_prompt(Message(Rich.of("x" * 2000)))


def test_lengths_count_as_the_platforms_do() -> None:
    assert text_length("🌱") == 2  # one emoji, two UTF-16 code units
    with pytest.raises(ContentTooLong):
        check_prompt(Message(Rich.of("🌱" * 1001)))


def test_check_run_covers_every_language_and_both_places() -> None:
    context = run("question", content={"fr": "ok", "en": "x" * 1999})
    check_run(context, ["fr"])
    with pytest.raises(ContentTooLong):  # "❓ " pushes the English text past 2000
        check_run(context)


@pytest.mark.parametrize(
    ("question", "options", "error", "params"),
    [
        ("Where?", ["Agadir"], PollOptionCount, {"platform": "Discord", "count": 1}),
        ("Where?", [f"o{n}" for n in range(11)], PollOptionCount, {"high": 10, "count": 11}),
        ("Where?", [f"o{n}" for n in range(13)], PollOptionCount, {"platform": "Discord"}),
        ("Where?", ["ok", "x" * 56], PollOptionTooLong, {"platform": "Discord", "limit": 55}),
        ("q" * 301, ["a", "b"], PollQuestionTooLong, {"limit": 300, "length": 301}),
    ],
)
def test_poll_bounds_name_the_platform(
    question: str, options: list[str], error: type[Exception], params: dict[str, Any]
) -> None:
    with pytest.raises(error) as raised:
        check_poll(question, options)
    assert params.items() <= raised.value.params.items()  # type: ignore[attr-defined]


def test_a_poll_within_every_bound_passes() -> None:
    check_poll("q" * 300, ["x" * 55] * 10)
    check_prompt(Poll("Where?", ("a", "b")))
    assert LIMITS.poll_options_min == 2 and LIMITS.poll_options_max == 10


# --- what a community manager types for a schedule -----------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("18:00", "18:00"), ("7:05", "07:05"), ("9h30", "09:30"), (" 23.59 ", "23:59")],
)
def test_times(typed: str, expected: str) -> None:
    assert parse_time(typed) == expected


@pytest.mark.parametrize("typed", ["24:00", "18", "6pm", "12:60", ""])
def test_bad_times(typed: str) -> None:
    with pytest.raises(InvalidTime):
        parse_time(typed)


def test_weekdays_in_three_languages_and_numbers() -> None:
    assert parse_weekdays("mon thu") == [0, 3]
    assert parse_weekdays("Lundi, jeudi") == [0, 3]
    assert parse_weekdays("1 4 7") == [0, 3, 6]
    assert parse_weekdays("الجمعة") == [4]
    for bad in ("", "someday", "8"):
        with pytest.raises(InvalidWeekdays):
            parse_weekdays(bad)


def test_days_of_the_month() -> None:
    assert parse_monthday("15") == {"day": 15}
    assert parse_monthday("31") == {"day": 31}
    assert parse_monthday("first monday") == {"nth": 1, "weekday": 0}
    assert parse_monthday("dernier vendredi") == {"nth": -1, "weekday": 4}
    assert parse_monthday("2 tue") == {"nth": 2, "weekday": 1}
    for bad in ("0", "32", "monday", "first", "first monday tuesday"):
        with pytest.raises(InvalidMonthDay):
            parse_monthday(bad)


def test_moments_and_time_zones() -> None:
    assert parse_local("2026-12-01 18:30", "x") == datetime(2026, 12, 1, 18, 30)
    assert parse_local("2026-12-01T18:30", "x") == datetime(2026, 12, 1, 18, 30)
    assert parse_zone("europe/paris") == "Europe/Paris"
    with pytest.raises(UnknownTimezone) as raised:
        parse_zone("Europe/Pariss")
    assert raised.value.params["suggestion"] == "Europe/Paris"
    with pytest.raises(UnknownTimezone) as raised:
        parse_zone("Casablanca")
    assert raised.value.params["suggestion"] == "Africa/Casablanca"


def test_decimal_amounts_render_in_needs() -> None:
    funding = need(kind="funding", target_amount=Decimal("1500"), currency="EUR")
    out = message(build_prompt(run("digest", needs=[funding]), "en", private=False))
    assert "1 500 EUR" in out.text.plain
