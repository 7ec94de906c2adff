"""The console: hostile text is shown as typed minus terminal control sequences; lines
become events; numbers press the buttons shown."""

from __future__ import annotations

import io

from bot.console.render import clean, header, render, rich_text
from bot.console.screen import ConsoleMessenger, Screen, group_view, private_view
from bot.console.session import Console
from handlers.chat import (
    Button,
    Command,
    Document,
    Edit,
    Event,
    Identity,
    Message,
    MessageRef,
    Outgoing,
    Place,
    Platform,
    Poll,
    Press,
    Rich,
    Span,
    Target,
    Text,
    bold,
    link,
    rows,
)

RTL_OVERRIDE = "\u202e"


def test_ansi_escapes_are_removed() -> None:
    hostile = "\x1b[2J\x1b[HCleared\x1b[31m red\x1b[0m \x1b]0;new title\x07done\x1bc"
    assert clean(hostile) == "Cleared red done"


def test_control_characters_are_removed_but_newlines_and_tabs_kept() -> None:
    assert clean("a\x07b\x08c\x00d\x7fe\nf\tg") == "abcde\nf\tg"
    # A carriage return could overwrite what was printed before it on the line.
    assert clean("safe\rEVIL") == "safe\nEVIL"
    assert "\x9b" not in clean("x\x9b2Jy")
    assert clean("x\x9b2Jy") == "xy"


def test_unterminated_escape_does_not_leak() -> None:
    assert clean("title\x1b]0;owned") == "title"
    assert clean("end\x1b") == "end"


def test_markup_mentions_and_rtl_are_kept_exactly() -> None:
    for text in ("<b>bold</b>", "@everyone", "*x*", "_y_", "`z`", "[a](b)", "&amp;"):
        assert clean(text) == text
    arabic = "مشروع الأركان " + RTL_OVERRIDE + "txt.exe"
    assert clean(arabic) == arabic


def test_long_text_is_not_cut() -> None:
    text = "word " * 2000
    assert rich_text(Rich.of(text)) == text


def test_spans_render_as_plain_text_with_link_addresses() -> None:
    rich = Rich.join(
        [Rich.of(bold("Argan")) + " — " + Span("coop", "italic"), link("site", "https://x.org")]
    )
    assert rich_text(rich) == "Argan — coop\nsite <https://x.org>"
    assert rich_text(Rich.of(link("https://x.org", "https://x.org"))) == "https://x.org"


def test_hostile_span_and_button_label_are_cleaned() -> None:
    message = Message(
        Rich.of(bold("\x1b[2J<b>Title</b> @everyone")),
        rows(Button("\x1b[31mAccept", "acc", ("1",)), Button("Decline", "dec", ("1",))),
    )
    rendered = render(message)
    assert rendered.text == "<b>Title</b> @everyone\n[1] Accept   [2] Decline"
    assert "\x1b" not in rendered.text


def test_buttons_are_numbered_across_rows() -> None:
    buttons = (
        (Button("Yes", "dlg", ("d", "s", "yes")), Button("No", "dlg", ("d", "s", "no"))),
        (Button("Maybe", "dlg", ("d", "s", "maybe")),),
        (Button("Website", url="https://cds.example"), Button("Cancel", "dlg", ("d", "s", "x"))),
    )
    rendered = render(Message(Rich.of("Question?"), buttons))
    assert rendered.text.splitlines() == [
        "Question?",
        "[1] Yes   [2] No",
        "[3] Maybe",
        "[4] Website <https://cds.example>   [5] Cancel",
    ]
    assert [b.label for b in rendered.buttons] == ["Yes", "No", "Maybe", "Website", "Cancel"]
    continued = render(Message(Rich.of("More"), buttons[1:2]), first_number=6)
    assert continued.text.splitlines()[1] == "[6] Maybe"


def test_poll_and_document() -> None:
    poll = render(Poll("Which \x1b[2Jday?", ("Mon", "Tue")))
    assert poll.text.splitlines() == ["(poll) Which day?", "  1. Mon", "  2. Tue"]
    document = render(Document(b"a,b\n", "export.csv", Rich.of("your data")))
    assert document.text == "(document export.csv, 4 bytes)\nyour data"


def test_headers() -> None:
    assert header(Target(Platform.CONSOLE, "hassan", True)) == "-> to hassan (private):"
    assert header(Target(Platform.CONSOLE, "souss-massa", False)) == "-> in #souss-massa:"
    assert (
        header(Target(Platform.CONSOLE, "souss-massa", False), edited="12")
        == "-> in #souss-massa (edited message 12):"
    )
    assert header(Target(Platform.CONSOLE, "hassan\x1b[2J", True)) == "-> to hassan (private):"


async def test_screen_prints_plainly_here_and_with_a_header_elsewhere() -> None:
    out = io.StringIO()
    screen = Screen(out)
    screen.current = private_view("hassan")
    messenger = ConsoleMessenger(screen)
    screen.new_batch()
    screen.show(private_view("hassan"), Message(Rich.of("for you"), rows(Button("Ok", "a"))))
    first = await messenger.send(private_view("yasmine"), Message(Rich.of("for her")))
    second = await messenger.send(group_view("souss-massa"), Message(Rich.of("for all")))
    await messenger.edit(MessageRef(group_view("souss-massa"), second), Message(Rich.of("done")))
    assert (first, second) == ("1", "2")
    assert out.getvalue().split("\n\n") == [
        "for you\n[1] Ok",
        "-> to yasmine (private):\n  for her",
        "-> in #souss-massa:\n  for all",
        "-> in #souss-massa (edited message 2):\n  done",
        "",
    ]


def test_screen_numbers_buttons_per_view_and_per_answer() -> None:
    screen = Screen(io.StringIO())
    here = private_view("yasmine")
    screen.current = here
    screen.new_batch()
    screen.show(here, Message(Rich.of("a"), rows(Button("A1", "x", ("1",)), Button("A2", "x"))))
    screen.show(here, Message(Rich.of("b"), rows(Button("B1", "y", ("1",)))))
    screen.show(group_view("g"), Message(Rich.of("c"), rows(Button("G1", "z"))))
    assert [screen.button(here, n) for n in (1, 2, 3)] == [
        Button("A1", "x", ("1",)),
        Button("A2", "x"),
        Button("B1", "y", ("1",)),
    ]
    assert screen.button(here, 4) is None
    assert screen.button(here, 0) is None
    assert screen.button(group_view("g"), 1) == Button("G1", "z")

    # The next answer here starts again from 1; a message without buttons clears them.
    screen.new_batch()
    screen.show(here, Message(Rich.of("d"), rows(Button("D1", "w"))))
    assert screen.button(here, 1) == Button("D1", "w")
    assert screen.button(here, 2) is None
    screen.new_batch()
    screen.show(here, Message(Rich.of("plain")))
    assert screen.button(here, 1) is None
    # An edit elsewhere does not disturb this view; there, it replaces the buttons.
    edited = Message(Rich.of("e"), rows(Button("E1", "v")))
    screen.show(group_view("g"), Edit(MessageRef(group_view("g"), "1"), edited))
    assert screen.button(group_view("g"), 1) == Button("E1", "v")
    assert screen.button(here, 1) is None


class FakeCore:
    """Records the events the console produces and answers with canned messages."""

    def __init__(self, *answers: list[Outgoing]) -> None:
        self.answers = list(answers)
        self.events: list[Event] = []
        self.drained = 0

    async def handle(self, event: Event) -> list[Outgoing]:
        self.events.append(event)
        return self.answers.pop(0) if self.answers else []

    async def drain(self) -> int:
        self.drained += 1
        return 0


def make_console(core: FakeCore, persona: str = "yasmine") -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(core.handle, core.drain, Screen(out), persona), out


async def test_lines_become_events_from_the_persona() -> None:
    core = FakeCore()
    console, _out = make_console(core)
    await console.feed("/Project  argan-tafraout ")
    await console.feed("hello <b>there</b>")
    await console.feed("/as Hassan")
    await console.feed("/in #souss-massa")
    await console.feed("/needs funding")
    first, second, third = core.events
    assert first.incoming == Command("project", ("argan-tafraout",))
    assert first.identity == Identity(Platform.CONSOLE, "yasmine", "yasmine", "Yasmine")
    assert first.place == Place(Platform.CONSOLE, "yasmine", True)
    assert second.incoming == Text("hello <b>there</b>")
    assert third.identity.user_id == "hassan"
    assert third.place == Place(Platform.CONSOLE, "souss-massa", False, "souss-massa")
    assert core.drained == 3  # the outbox is drained after every event


async def test_a_number_presses_a_button_of_the_latest_answer_here() -> None:
    buttons = rows(Button("Accept", "acc", ("7",)), Button("Decline", "dec", ("7",)))
    core = FakeCore([Message(Rich.of("offer 7"), buttons)])
    console, out = make_console(core, "hassan")
    await console.feed("/offers")
    await console.feed("2")
    await console.feed("3")  # out of range: it is text
    assert core.events[1].incoming == Press("dec", ("7",))
    assert core.events[2].incoming == Text("3")
    assert "[1] Accept   [2] Decline" in out.getvalue()


async def test_private_start_button_opens_the_private_chat() -> None:
    card = Message(Rich.of("need"), rows(Button("I can help", private_start="offer-5")))
    core = FakeCore([Message(Rich.of("ok"))])
    console, _out = make_console(core)
    console.screen.current = group_view("g")
    console.group = "g"
    console.screen.new_batch()
    console.screen.show(group_view("g"), card)
    await console.feed("1")
    assert core.events[0].incoming == Command("start", ("offer-5",))
    assert core.events[0].place == Place(Platform.CONSOLE, "yasmine", True)


async def test_answers_elsewhere_print_under_a_header() -> None:
    private = Target(Platform.CONSOLE, "yasmine", True)
    core = FakeCore([Message(Rich.of("in private"), to=private), Message(Rich.of("told you"))])
    console, out = make_console(core)
    await console.feed("/in souss-massa")
    await console.feed("/myoffers")
    text = out.getvalue()
    assert "-> to yasmine (private):\n  in private\n" in text
    assert "\ntold you\n" in text


async def test_press_sends_a_raw_payload_and_refuses_garbage() -> None:
    core = FakeCore()
    console, out = make_console(core, "hassan")
    await console.feed("/press 1|acc|12")
    await console.feed("/press nonsense")
    assert [event.incoming for event in core.events] == [Press("acc", ("12",))]
    assert "not a button payload" in out.getvalue()
    assert await console.feed("/quit") is False
