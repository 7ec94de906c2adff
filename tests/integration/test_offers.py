"""Offers end to end on SQLite: a member offers, the leaders accept, decline, mark done;
forged and stale presses are refused; two leaders deciding at once cannot both win."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from handlers.chat import Button
from handlers.serial import load
from store.models import (
    AuditEntry,
    Delivery,
    Member,
    MemberIdentity,
    Need,
    Offer,
    Project,
    ProjectLeader,
)
from tests.harness import Harness, buttons, plain

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@dataclass
class World:
    """Two projects with their leaders, a few members, and needs of both kinds."""

    members: dict[str, int]
    argan: int  # project "argan-tafraout", led by leila and karim
    school: int  # project "school-tiznit", led by omar
    skills: int  # a skills need of argan
    funding: int  # a funding need of argan
    school_need: int  # an expertise need of school


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db", default_language="en")
    yield harness
    await harness.close()


def add_member(session: Any, who: str, username: str | None = None) -> Member:
    member = Member(display_name=who.capitalize(), created_at=NOW, last_seen_at=NOW)
    session.add(member)
    session.add(
        MemberIdentity(
            member=member,
            platform="console",
            external_id=who,
            username=username if username is not None else who,
            display_name=who.capitalize(),
            last_seen_at=NOW,
        )
    )
    return member


async def seed(h: Harness) -> World:
    async with h.services.sessions() as session:
        people = {
            who: add_member(session, who)
            for who in ("leila", "karim", "omar", "yasmine", "samir", "nadia")
        }
        argan = Project(
            slug="argan-tafraout",
            title="Argan Tafraout",
            summary="A women's argan cooperative.",
            territory="Tafraout",
            tags=["argan", "women"],
            status="open",
            created_at=NOW,
            updated_at=NOW,
        )
        school = Project(
            slug="school-tiznit",
            title="School Tiznit",
            territory="Tiznit",
            tags=["education"],
            status="open",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add_all([argan, school])
        await session.flush()
        for who, project in (("leila", argan), ("karim", argan), ("omar", school)):
            session.add(
                ProjectLeader(project_id=project.id, member_id=people[who].id, granted_at=NOW)
            )
        skills = Need(
            project_id=argan.id,
            kind="skills",
            title="Build the website",
            effort="a weekend",
            created_at=NOW,
        )
        funding = Need(
            project_id=argan.id,
            kind="funding",
            title="Buy a press",
            target_amount=Decimal("5000"),
            currency="MAD",
            created_at=NOW,
        )
        school_need = Need(
            project_id=school.id, kind="expertise", title="Teach robotics", created_at=NOW
        )
        session.add_all([skills, funding, school_need])
        await session.commit()
        return World(
            members={who: m.id for who, m in people.items()},
            argan=argan.id,
            school=school.id,
            skills=skills.id,
            funding=funding.id,
            school_need=school_need.id,
        )


def dlg(dialog: str, step: str, value: str) -> Button:
    """A dialog button, as the engine draws it."""
    return Button(value, "dlg", (dialog, step, value))


async def make_offer(
    h: Harness,
    who: str,
    need_id: int,
    *,
    kind: str = "skills",
    message: str = "I build websites.",
    availability: str = "few_hours",
    amount: str | None = None,
    share: bool = True,
) -> str:
    """Go through the whole offer dialog; returns what the bot said at the end."""
    await h.send(who, f"/offer {need_id}")
    await h.press(who, dlg("offer", "kind", kind))
    await h.send(who, message)
    await h.press(who, dlg("offer", "availability", availability))
    if amount is not None:
        await h.send(who, amount)
    await h.press(who, dlg("offer", "share_contact", "yes" if share else "no"))
    return plain(await h.press(who, dlg("offer", "send", "yes")))


async def offers(h: Harness) -> list[Offer]:
    async with h.services.sessions() as session:
        return list(await session.scalars(select(Offer).order_by(Offer.id)))


async def offer(h: Harness, offer_id: int) -> Offer:
    async with h.services.sessions() as session:
        return await session.get_one(Offer, offer_id)


async def audit_actions(h: Harness) -> list[str]:
    async with h.services.sessions() as session:
        return list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


async def deliveries_to(h: Harness, who: str) -> list[Delivery]:
    return [d for d in await h.deliveries() if d.target == f"console:user:{who}"]


def delivered_text(delivery: Delivery) -> str:
    out = load(delivery.payload)
    return out.text.plain  # type: ignore[union-attr]


async def row_count(h: Harness, model: Any) -> int:
    async with h.services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def press(action: str, offer_id: int) -> Button:
    return Button(action, action, (str(offer_id),))


# --- the whole flow ------------------------------------------------------------------------


async def test_leader_accepts_one_declines_one_with_reason_and_marks_done(h: Harness) -> None:
    world = await seed(h)
    assert "offer no. 1 is sent" in await make_offer(h, "yasmine", world.skills)
    assert "offer no. 2 is sent" in await make_offer(h, "samir", world.skills, share=False)

    # Both leaders of the project heard of each offer, with the buttons to decide.
    for leader in ("leila", "karim"):
        sent = await deliveries_to(h, leader)
        assert [d.purpose for d in sent] == ["offer:1:new", "offer:2:new"]
        first = load(sent[0].payload)
        assert "New offer from Yasmine" in first.text.plain  # type: ignore[union-attr]
        assert "Contact: console @yasmine" in first.text.plain  # type: ignore[union-attr]
        actions = [b.action for row in first.buttons for b in row]  # type: ignore[union-attr]
        assert actions == ["acc", "dec"]
        second = delivered_text(sent[1])
        assert "Samir" in second and "@samir" not in second
    assert not await deliveries_to(h, "omar")

    review = plain(await h.send("leila", "/offers"))
    assert "Offers to answer: 2" in review
    assert "From: Yasmine" in review and "Contact: console @yasmine" in review
    assert "@samir" not in review

    reply = plain(await h.press("leila", press("acc", 1)))
    assert "You accepted offer no. 1; I told Yasmine." in reply
    accepted = await offer(h, 1)
    assert accepted.status == "accepted"
    assert accepted.decided_by == world.members["leila"]
    assert accepted.decided_at is not None
    told = [d for d in await deliveries_to(h, "yasmine") if d.purpose == "offer:1:accepted"]
    assert "Leila accepted your offer no. 1" in delivered_text(told[0])

    asked = plain(await h.press("karim", press("dec", 2)))
    assert "Why do you decline offer no. 2" in asked
    assert (await offer(h, 2)).status == "pending"  # nothing decided before the reason
    reply = plain(await h.send("karim", "We found someone <b>already</b>, sorry."))
    assert "You declined offer no. 2; I told Samir." in reply
    declined = await offer(h, 2)
    assert declined.status == "declined"
    assert declined.reason == "We found someone <b>already</b>, sorry."
    assert declined.decided_by == world.members["karim"]
    told = [d for d in await deliveries_to(h, "samir") if d.purpose == "offer:2:declined"]
    assert "Their reason: We found someone <b>already</b>, sorry." in delivered_text(told[0])

    review = plain(await h.send("leila", "/offers argan-tafraout"))
    assert "Offers to answer: 1" in review
    assert [(b.label, b.action) for b in buttons(h.last)] == [("🎉 Mark done", "done")]
    reply = plain(await h.press("leila", press("done", 1)))
    assert "Offer no. 1 is marked as done; I thanked Yasmine." in reply
    assert (await offer(h, 1)).status == "done"
    thanks = [d for d in await deliveries_to(h, "yasmine") if d.purpose == "offer:1:done"]
    assert "Thank you, Yasmine!" in delivered_text(thanks[0])

    review = plain(await h.send("leila", "/offers"))
    assert review.startswith("No offers are waiting for an answer.")
    assert "not thanked yet: 1" in review
    assert await audit_actions(h) == [
        "offer.create",
        "offer.create",
        "offer.accept",
        "offer.decline",
        "offer.done",
    ]


async def test_accepting_without_shared_contact_gives_the_leader_contact(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "samir", world.skills, share=False)
    await h.press("leila", press("acc", 1))
    told = [d for d in await deliveries_to(h, "samir") if d.purpose == "offer:1:accepted"]
    assert "you can write to them (console @leila)" in delivered_text(told[0])


async def test_decline_without_reason(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    await h.press("leila", press("dec", 1))
    reply = plain(await h.press("leila", h.button("Skip")))
    assert "You declined offer no. 1" in reply
    declined = await offer(h, 1)
    assert declined.status == "declined" and declined.reason == ""
    told = [d for d in await deliveries_to(h, "yasmine") if d.purpose == "offer:1:declined"]
    assert "Their reason" not in delivered_text(told[0])


async def test_community_manager_reviews_every_project(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    await make_offer(h, "samir", world.school_need, kind="expertise")
    assert "Offers to answer: 1" in plain(await h.send("omar", "/offers"))
    assert "Offers to answer: 2" in plain(await h.send("alice", "/offers"))
    await h.press("alice", press("acc", 2))
    assert (await offer(h, 2)).status == "accepted"


# --- the member's side ---------------------------------------------------------------------


async def test_myoffers_and_withdraw(h: Harness) -> None:
    world = await seed(h)
    assert "You have not offered anything yet" in plain(await h.send("yasmine", "/myoffers"))
    await make_offer(h, "yasmine", world.skills)
    await make_offer(h, "yasmine", world.school_need, kind="expertise")
    out = await h.send("yasmine", "/myoffers")
    text = plain(out)
    assert text.index("Offer no. 2") < text.index("Offer no. 1")  # newest first
    assert [b.action for b in h.last[1].buttons[0]] == ["wd"]  # type: ignore[union-attr]

    # Someone else cannot withdraw it.
    assert "not yours" in plain(await h.press("samir", press("wd", 1)))
    assert (await offer(h, 1)).status == "pending"

    reply = plain(await h.press("yasmine", press("wd", 1)))
    assert "Your offer no. 1 is withdrawn" in reply
    assert (await offer(h, 1)).status == "withdrawn"
    told = [d for d in await deliveries_to(h, "leila") if d.purpose == "offer:1:withdrawn"]
    assert "Yasmine withdrew their offer no. 1" in delivered_text(told[0])

    # Twice: the button is stale now.
    assert "already withdrawn" in plain(await h.press("yasmine", press("wd", 1)))
    # A withdrawn offer cannot be accepted any more.
    assert "already withdrawn" in plain(await h.press("leila", press("acc", 1)))
    assert (await offer(h, 1)).status == "withdrawn"
    # The withdrawn one shows no button any more.
    await h.send("yasmine", "/myoffers")
    assert h.last[2].buttons == ()  # type: ignore[union-attr]


async def test_an_accepted_offer_can_be_withdrawn_a_declined_one_cannot(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    await make_offer(h, "yasmine", world.school_need, kind="expertise")
    await h.press("leila", press("acc", 1))
    await h.press("omar", press("dec", 2))
    await h.send("omar", "No")
    assert "is withdrawn" in plain(await h.press("yasmine", press("wd", 1)))
    assert "already declined" in plain(await h.press("yasmine", press("wd", 2)))
    assert (await offer(h, 2)).status == "declined"


# --- duplicates ----------------------------------------------------------------------------


async def test_a_second_pending_offer_on_the_same_need_is_refused(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    reply = plain(await h.send("yasmine", f"/offer {world.skills}"))
    assert "You already have a pending offer (no. 1) on this need" in reply
    # Once decided, a new offer is welcome again.
    await h.press("leila", press("acc", 1))
    assert "offer no. 2 is sent" in await make_offer(h, "yasmine", world.skills)
    assert [o.status for o in await offers(h)] == ["accepted", "pending"]


async def test_a_duplicate_finished_in_two_chats_is_refused_at_the_end(h: Harness) -> None:
    world = await seed(h)
    # Start the dialog, then offer completely in the meantime (e.g. from another device).
    await h.send("yasmine", f"/offer {world.skills}")
    await h.press("yasmine", dlg("offer", "kind", "skills"))
    async with h.services.sessions() as session:
        session.add(
            Offer(
                need_id=world.skills,
                member_id=world.members["yasmine"],
                kind="skills",
                status="pending",
                created_at=NOW,
            )
        )
        await session.commit()
    await h.send("yasmine", "Me again")
    await h.press("yasmine", dlg("offer", "availability", "one_off"))
    await h.press("yasmine", dlg("offer", "share_contact", "no"))
    reply = plain(await h.press("yasmine", dlg("offer", "send", "yes")))
    assert "You already have a pending offer (no. 1)" in reply
    assert len(await offers(h)) == 1
    assert await deliveries_to(h, "leila") == []


# --- forged and stale presses --------------------------------------------------------------


async def test_a_leader_cannot_decide_on_another_leaders_project(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    before = await h.deliveries()
    for action in ("acc", "dec", "done"):
        reply = plain(await h.press("omar", press(action, 1)))
        assert "Only the leaders of “Argan Tafraout”" in reply
    # A plain member is refused by the permission table itself.
    assert "Only a leader of the project can do that." in plain(
        await h.press("samir", press("acc", 1))
    )
    current = await offer(h, 1)
    assert current.status == "pending" and current.decided_by is None
    assert len(await h.deliveries()) == len(before)
    assert "offer.accept" not in await audit_actions(h)


async def test_forged_payloads_are_refused(h: Harness) -> None:
    await seed(h)
    assert "I don't know an offer number 999" in plain(await h.press("leila", "1|acc|999"))
    assert "expired" in plain(await h.press("leila", "1|acc"))
    assert "I don't know an offer number abc" in plain(await h.press("leila", "1|acc|abc"))


async def test_stale_presses_on_decided_offers(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    await h.press("leila", press("acc", 1))
    sent = len(await h.deliveries())
    # Karim presses the Accept, then the Decline of his own (now old) notification.
    assert "This offer is already accepted; nothing was changed." in plain(
        await h.press("karim", press("acc", 1))
    )
    assert "already accepted" in plain(await h.press("karim", press("dec", 1)))
    # Mark done on a pending offer is refused too.
    await make_offer(h, "samir", world.skills)
    assert "already pending" in plain(await h.press("leila", press("done", 2)))
    assert (await offer(h, 2)).status == "pending"
    assert (await offer(h, 1)).status == "accepted"
    assert len(await h.deliveries()) == sent + 2  # only samir's offer notifications


async def test_decline_reason_answered_after_someone_else_accepted(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    await h.press("karim", press("dec", 1))
    await h.press("leila", press("acc", 1))
    reply = plain(await h.send("karim", "Not needed"))
    assert "This offer is already accepted; nothing was changed." in reply
    current = await offer(h, 1)
    assert current.status == "accepted" and current.reason == ""
    assert [d.purpose for d in await deliveries_to(h, "yasmine")] == ["offer:1:accepted"]


async def test_decline_reason_too_long_is_asked_again(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    await h.press("leila", press("dec", 1))
    reply = plain(await h.send("leila", "x" * 501))
    assert "at most 500 characters, you sent 501" in reply
    assert (await offer(h, 1)).status == "pending"
    await h.send("leila", "Short")
    assert (await offer(h, 1)).reason == "Short"


# --- two leaders at once -------------------------------------------------------------------


async def test_two_leaders_accepting_at_once_one_wins(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    first, second = await asyncio.gather(
        h.press("leila", press("acc", 1)), h.press("karim", press("acc", 1))
    )
    replies = [plain(first), plain(second)]
    assert sum("You accepted offer no. 1" in r for r in replies) == 1
    assert sum("already accepted" in r for r in replies) == 1
    current = await offer(h, 1)
    assert current.status == "accepted"
    winner = "leila" if "You accepted" in replies[0] else "karim"
    assert current.decided_by == world.members[winner]
    assert [d.purpose for d in await deliveries_to(h, "yasmine")] == ["offer:1:accepted"]
    assert (await audit_actions(h)).count("offer.accept") == 1


async def test_accept_and_decline_at_once_one_wins(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    await h.press("karim", press("dec", 1))  # Karim is typing his reason...
    accept, decline = await asyncio.gather(
        h.press("leila", press("acc", 1)), h.send("karim", "Too late for this season")
    )
    replies = [plain(accept), plain(decline)]
    current = await offer(h, 1)
    assert current.status in {"accepted", "declined"}
    assert sum("already" in r for r in replies) == 1
    if current.status == "accepted":
        assert "You accepted offer no. 1" in replies[0] and current.reason == ""
    else:
        assert "You declined offer no. 1" in replies[1]
        assert current.reason == "Too late for this season"
    purposes = [d.purpose for d in await deliveries_to(h, "yasmine")]
    assert purposes == [f"offer:1:{current.status}"]
