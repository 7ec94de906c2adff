"""The offer conversation, step by step, through the core as an adapter drives it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from handlers.chat import Message
from handlers.serial import load
from store.models import DialogState, Need, Project
from tests.harness import Harness, buttons, plain
from tests.integration.test_offers import (
    audit_actions,
    deliveries_to,
    dlg,
    make_offer,
    offers,
    row_count,
    seed,
)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db", default_language="en")
    yield harness
    await harness.close()


async def test_each_step_asks_its_question_with_its_buttons(h: Harness) -> None:
    world = await seed(h)
    out = await h.send("yasmine", f"/offer {world.skills}")
    text = plain(out)
    assert "Argan Tafraout — Build the website" in text
    assert "This need asks for 🛠 Skills. What will you bring?" in text
    kinds = [b.args[2] for b in buttons(out) if b.args[2] != "__cancel"]
    assert kinds[0] == "skills"  # the kind the need asks for comes first
    assert sorted(kinds) == sorted(
        [
            "idea",
            "facilitation",
            "expertise",
            "knowledge",
            "skills",
            "network",
            "information",
            "funding",
        ]
    )
    assert [b.label for b in buttons(out)][-1] == "Cancel"

    out = await h.press("yasmine", dlg("offer", "kind", "skills"))
    assert "What do you offer" in plain(out)
    assert isinstance(out[0], Message) and out[0].expects_text == 1000

    out = await h.send("yasmine", "I design websites.")
    assert "How much time can you give?" in plain(out)
    assert [b.label for b in buttons(out)] == ["One-off", "A few hours", "Ongoing", "Cancel"]

    out = await h.press("yasmine", dlg("offer", "availability", "ongoing"))
    assert "May I give your contact (console @yasmine)" in plain(out)  # no amount: not funding

    out = await h.press("yasmine", dlg("offer", "share_contact", "yes"))
    summary = plain(out)
    assert "Your offer:" in summary and "« I design websites. »" in summary
    assert "Availability: Ongoing" in summary
    assert "Your contact will be shared with the leaders." in summary
    assert "Pledge" not in summary

    out = await h.press("yasmine", dlg("offer", "send", "yes"))
    assert "Thank you, Yasmine! Your offer no. 1 is sent." in plain(out)
    assert "/myoffers" in plain(out)
    [offer] = await offers(h)
    assert (offer.need_id, offer.kind, offer.status) == (world.skills, "skills", "pending")
    assert (offer.availability, offer.share_contact, offer.source) == ("ongoing", True, "command")
    assert offer.pledged_amount is None and offer.currency is None
    assert await audit_actions(h) == ["offer.create"]
    # the offer conversation is over; at most the week's profile question remains open
    async with h.services.sessions() as session:
        left = set(await session.scalars(select(DialogState.dialog)))
    assert left <= {"profile_q"}


async def test_typed_answers_choose_options_too(h: Harness) -> None:
    world = await seed(h)
    await h.send("yasmine", f"/offer {world.skills}")
    await h.send("yasmine", "network")  # the kind by its identifier
    await h.send("yasmine", "I know the mayor.")
    await h.send("yasmine", "1")  # the first availability
    await h.send("yasmine", "2")  # "No, keep it private"
    await h.send("yasmine", "1")  # send
    [offer] = await offers(h)
    assert (offer.kind, offer.availability, offer.share_contact) == ("network", "one_off", False)


async def test_a_pledge_is_asked_only_for_funding_and_validated(h: Harness) -> None:
    world = await seed(h)
    await h.send("nadia", f"/offer {world.funding}")
    await h.press("nadia", dlg("offer", "kind", "funding"))
    await h.send("nadia", "For the press")
    out = await h.press("nadia", dlg("offer", "availability", "one_off"))
    assert "How much do you pledge" in plain(out)
    assert "never handles money" in plain(out)

    for bad, said in (
        ("plenty", "Please give a positive amount"),
        ("-20", "Please give a positive amount"),
        ("0", "Please give a positive amount"),
        ("100 XYZ", "I don't know the currency “XYZ”"),
    ):
        out = await h.send("nadia", bad)
        assert said in plain(out), bad
        assert "How much do you pledge" in plain(out)  # asked again
    assert await offers(h) == []

    await h.send("nadia", "1 500,50 EUR")
    await h.press("nadia", dlg("offer", "share_contact", "no"))
    assert "Pledge: 1 500.50 EUR" in plain(h.last)
    await h.press("nadia", dlg("offer", "send", "yes"))
    [offer] = await offers(h)
    assert offer.pledged_amount == Decimal("1500.50") and offer.currency == "EUR"
    assert offer.kind == "funding"


async def test_choosing_funding_on_another_need_asks_the_pledge(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "nadia", world.skills, kind="funding", amount="300")
    [offer] = await offers(h)
    assert offer.pledged_amount == Decimal("300.00") and offer.currency == "MAD"


async def test_too_long_or_empty_message_is_answered_and_nothing_written(h: Harness) -> None:
    world = await seed(h)
    await h.send("yasmine", f"/offer {world.skills}")
    await h.press("yasmine", dlg("offer", "kind", "skills"))
    out = await h.send("yasmine", "x" * 1001)
    assert "at most 1000 characters, you sent 1001" in plain(out)
    assert "What do you offer" in plain(out)
    out = await h.send("yasmine", "   ")
    assert "Please write something." in plain(out)
    assert await offers(h) == []
    # Exactly 1000 is fine.
    out = await h.send("yasmine", "y" * 1000)
    assert "How much time can you give?" in plain(out)


async def test_hostile_text_is_stored_and_shown_exactly(h: Harness) -> None:
    world = await seed(h)
    hostile = "<b>bold</b> @everyone *x* _y_ \u202eevil\u202c [link](http://x) `code`"
    await make_offer(h, "yasmine", world.skills, message=hostile)
    [offer] = await offers(h)
    assert offer.message == hostile
    [note] = await deliveries_to(h, "leila")
    assert hostile in load(note.payload).text.plain  # type: ignore[union-attr]


async def test_buttons_of_another_step_or_forged_values_are_refused(h: Harness) -> None:
    world = await seed(h)
    await h.send("yasmine", f"/offer {world.skills}")
    out = await h.press("yasmine", dlg("offer", "availability", "ongoing"))  # not this step
    assert "This button has expired" in plain(out)
    out = await h.press("yasmine", dlg("offer", "kind", "money"))  # not an option
    assert "Please choose one of the buttons." in plain(out)
    out = await h.press("yasmine", dlg("offer", "kind", "skills"))
    assert "What do you offer" in plain(out)


async def test_cancel_saves_nothing(h: Harness) -> None:
    world = await seed(h)
    await h.send("yasmine", f"/offer {world.skills}")
    await h.press("yasmine", dlg("offer", "kind", "skills"))
    await h.send("yasmine", "Something")
    out = await h.press("yasmine", h.button("Cancel"))
    assert "Cancelled. Nothing was saved." in plain(out)
    assert await offers(h) == []
    assert await row_count(h, DialogState) == 0


async def test_offers_refused_before_the_dialog(h: Harness) -> None:
    world = await seed(h)
    assert "Usage: /offer <need no.>" in plain(await h.send("yasmine", "/offer"))
    assert "I don't know a need number 999" in plain(await h.send("yasmine", "/offer 999"))
    assert "I don't know a need number abc" in plain(await h.send("yasmine", "/offer abc"))
    async with h.services.sessions() as session:
        await session.execute(
            update(Need).where(Need.id == world.skills).values(status="fulfilled")
        )
        await session.execute(
            update(Project).where(Project.id == world.school).values(status="paused")
        )
        await session.commit()
    out = plain(await h.send("yasmine", f"/offer {world.skills}"))
    assert "This need is already fulfilled: it no longer takes offers." in out
    out = plain(await h.send("yasmine", f"/offer {world.school_need}"))
    assert "The project “School Tiznit” is not open for contributions right now." in out
    assert await row_count(h, DialogState) == 0


async def test_need_closed_during_the_dialog_refuses_at_the_end(h: Harness) -> None:
    world = await seed(h)
    await h.send("yasmine", f"/offer {world.skills}")
    await h.press("yasmine", dlg("offer", "kind", "skills"))
    await h.send("yasmine", "Late offer")
    await h.press("yasmine", dlg("offer", "availability", "one_off"))
    await h.press("yasmine", dlg("offer", "share_contact", "yes"))
    async with h.services.sessions() as session:
        await session.execute(
            update(Need).where(Need.id == world.skills).values(status="cancelled")
        )
        await session.commit()
    out = plain(await h.press("yasmine", dlg("offer", "send", "yes")))
    assert "This need is already cancelled" in out
    assert await offers(h) == []
    assert await deliveries_to(h, "leila") == []
    assert await row_count(h, DialogState) == 0  # the dialog is over either way


async def test_deep_link_and_help_button_open_the_dialog_in_private(h: Harness) -> None:
    world = await seed(h)
    out = await h.send("yasmine", f"/start offer-{world.skills}")
    assert "What will you bring?" in plain(out)

    # "I can help" pressed in a group: the conversation moves to the private chat.
    out = await h.press("samir", f"1|help|{world.skills}", group="diaspora-fr")
    private = [m for m in out if isinstance(m, Message) and m.to is not None]
    assert private and private[0].to.key == "console:user:samir"  # type: ignore[union-attr]
    assert "What will you bring?" in private[0].text.plain
    assert "Samir, I have answered you in a private message." in plain(out)
    # The answer continues there.
    out = await h.press("samir", dlg("offer", "kind", "idea"))
    assert "What do you offer" in plain(out)
    await h.send("samir", "An idea")
    await h.press("samir", dlg("offer", "availability", "one_off"))
    await h.press("samir", dlg("offer", "share_contact", "no"))
    await h.press("samir", dlg("offer", "send", "yes"))
    [offer] = await offers(h)
    assert offer.source == "button" and offer.kind == "idea"
