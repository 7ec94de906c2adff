"""Matching on SQLite: announcing a need writes personal notes to the members it fits (and to
no one else), within the frequency cap, the quiet hours and the bound; the notes' buttons;
/match for leaders, naming only who agreed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from handlers.chat import Message
from handlers.serial import load
from store.models import (
    AuditEntry,
    Chat,
    Delivery,
    DialogState,
    MatchFeedback,
    Member,
    MemberIdentity,
    Need,
    NeedClick,
    Offer,
    Project,
    ProjectLeader,
)
from tests.harness import Harness, buttons, plain

PROFILES: dict[str, dict[str, Any]] = {
    # fits: a skill and the origin, accents and case aside
    "yasmine": {"skills": ["accounting", "design"], "origin": "TAFRAOÛT", "share_name": True},
    # fits: likes the kind
    "omar": {"liked_kinds": ["expertise"]},
    # fits: "comptable" begins like "comptabilité"
    "salma": {"skills": ["comptable"], "languages": ["en"]},
    # does not fit: a language alone
    "nadia": {"languages": ["en", "fr"]},
    # does not fit: no consent to private messages
    "samir": {"skills": ["accounting"], "accepts_dm": False},
    # does not fit: stopped the notes
    "rachid": {"skills": ["accounting"], "matching_off": True},
    # does not fit: another field
    "hind": {"skills": ["painting"], "origin": "Agadir"},
}


@dataclass
class World:
    members: dict[str, int]
    project: int
    need: int  # expertise: accounting of the cooperative
    other: int  # another expertise need of the same project


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    harness = await Harness.create(database_url, default_language="en")
    yield harness
    await harness.close()


def person(session: Any, who: str, now: Any, **profile: Any) -> Member:
    values: dict[str, Any] = {"accepts_dm": True, **profile}
    member = Member(display_name=who.capitalize(), created_at=now, last_seen_at=now, **values)
    session.add(member)
    session.add(
        MemberIdentity(
            member=member,
            platform="console",
            external_id=who,
            username=who,
            display_name=who.capitalize(),
            last_seen_at=now,
        )
    )
    return member


async def seed(h: Harness, profiles: dict[str, dict[str, Any]] = PROFILES) -> World:
    now = h.clock.now()
    async with h.services.sessions() as session:
        people = {who: person(session, who, now, **profile) for who, profile in profiles.items()}
        people["leila"] = person(session, "leila", now, skills=["accounting"], origin="Tafraout")
        project = Project(
            slug="argan-tafraout",
            title="Argan Tafraout",
            territory="Tafraout",
            tags=["argan"],
            status="open",
            created_at=now,
            updated_at=now,
        )
        session.add(project)
        await session.flush()
        session.add(
            ProjectLeader(project_id=project.id, member_id=people["leila"].id, granted_at=now)
        )
        need = Need(
            project_id=project.id,
            kind="expertise",
            title="Accounting for the cooperative",
            details="Set up the books of the argan cooperative: comptabilité simple.",
            created_at=now,
        )
        other = Need(
            project_id=project.id,
            kind="expertise",
            title="Legal advice on the statutes",
            created_at=now,
        )
        session.add_all([need, other])
        session.add(
            Chat(
                platform="console",
                external_id="tafraout-group",
                title="Tafraout",
                tags=["tafraout"],
                registered=True,
                created_at=now,
            )
        )
        await session.commit()
        return World({w: m.id for w, m in people.items()}, project.id, need.id, other.id)


async def notes(h: Harness, need_id: int) -> dict[str, Delivery]:
    """The matching notes of a need, by the console user they go to."""
    async with h.services.sessions() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.purpose == f"match:{need_id}"))
        return {row.target.rsplit(":", 1)[1]: row for row in rows}


def note_text(delivery: Delivery) -> str:
    message = load(delivery.payload)
    assert isinstance(message, Message)
    return message.text.plain


async def test_announce_notes_exactly_the_members_who_fit(h: Harness) -> None:
    world = await seed(h)
    out = await h.send("leila", f"/announce {world.need}")
    text = plain(out)
    assert "Announced in 1 groups" in text
    assert "3 members whose profile fits: 3 will get a personal note." in text

    found = await notes(h, world.need)
    assert sorted(found) == ["omar", "salma", "yasmine"]  # never the leader herself
    assert {d.status for d in found.values()} == {"pending"}
    assert {d.member_id for d in found.values()} == {
        world.members[w] for w in ("omar", "salma", "yasmine")
    }
    yasmine = note_text(found["yasmine"])
    assert "Why you: You know accounting and your family is from Tafraout." in yasmine
    assert "Accounting for the cooperative" in yasmine
    assert "Why you: You like to help with expertise." in note_text(found["omar"])
    assert "Why you: You know comptable and you speak English." in note_text(found["salma"])
    message = load(found["yasmine"].payload)
    assert isinstance(message, Message)
    actions = [(b.action, b.args, b.private_start) for row in message.buttons for b in row]
    assert actions == [
        ("mhelp", (str(world.need),), f"offer-{world.need}-m"),
        ("nfm", (str(world.need),), None),
        ("stop", (), None),
    ]
    async with h.services.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "need.match"))
        assert entry is not None and entry.details["queued"] == 3

    # Announcing again writes no second note.
    out = await h.send("leila", f"/announce {world.need}")
    assert "already had a personal note" in plain(out)
    assert len(await notes(h, world.need)) == 3


async def test_announce_without_groups_still_notes_members(h: Harness) -> None:
    world = await seed(h)
    async with h.services.sessions() as session:
        await session.execute(update(Chat).values(registered=False))
        await session.commit()
    out = await h.send("leila", f"/announce {world.need}")
    assert "/linkgroup" in plain(out)
    assert "3 will get a personal note" in plain(out)
    assert sorted(await notes(h, world.need)) == ["omar", "salma", "yasmine"]


async def test_frequency_cap_and_quiet_hours_apply(h: Harness) -> None:
    world = await seed(h)
    now = h.clock.now()
    async with h.services.sessions() as session:
        # Omar already received two engagement messages this week: the cap (2 in 7 days).
        for n in range(2):
            session.add(
                Delivery(
                    purpose=f"match:{900 + n}",
                    target="console:user:omar",
                    platform="console",
                    member_id=world.members["omar"],
                    status="sent",
                    not_before=now - timedelta(days=2),
                    created_at=now - timedelta(days=2),
                )
            )
        # Salma lives in Montreal: 10:00 UTC is 05:00 there, inside the default 22:00-08:00.
        await session.execute(
            update(Member)
            .where(Member.id == world.members["salma"])
            .values(timezone="America/Montreal")
        )
        await session.commit()
    out = await h.send("leila", f"/announce {world.need}")
    text = plain(out)
    assert "3 members whose profile fits: 2 will get a personal note." in text
    assert "1 of the notes wait for the end of the members' quiet hours." in text
    assert "1 members already had enough messages this week" in text
    found = await notes(h, world.need)
    assert (found["omar"].status, found["omar"].error) == ("skipped", "cap")
    assert found["salma"].status == "pending"
    # 08:00 in Montreal (UTC-5 in November) is 13:00 UTC.
    assert found["salma"].not_before == now.replace(hour=13, minute=0)
    assert found["yasmine"].not_before == now


async def test_bound_keeps_the_best_matches(h: Harness) -> None:
    await h.close()
    h2 = await Harness.create(str(h.engine.url), default_language="en", match_notes_max=1)
    try:
        world = await seed(h2)
        out = await h2.send("leila", f"/announce {world.need}")
        text = plain(out)
        assert "3 members whose profile fits: 1 will get a personal note." in text
        assert "At most 1 notes are written per need, to the best matches." in text
        assert sorted(await notes(h2, world.need)) == ["yasmine"]  # 4 + 3 points
    finally:
        await h2.close()


async def test_not_for_me_is_remembered_and_lowers_later_matches(h: Harness) -> None:
    world = await seed(h)
    await h.send("leila", f"/announce {world.need}")
    message = load((await notes(h, world.need))["omar"].payload)
    assert isinstance(message, Message)
    [nfm] = [b for row in message.buttons for b in row if b.action == "nfm"]
    out = await h.press("omar", nfm)
    assert "I will suggest needs like “Accounting for the cooperative” less often" in plain(out)
    out = await h.press("omar", nfm)  # twice: still one row
    async with h.services.sessions() as session:
        rows = list(await session.scalars(select(MatchFeedback)))
    assert [(r.member_id, r.need_id, r.verdict) for r in rows] == [
        (world.members["omar"], world.need, "not_for_me")
    ]
    # Omar liked the kind only (2 points); a "Not for me" on the same project costs 2.
    out = await h.send("leila", f"/match {world.other}")
    assert "Omar" not in plain(out)
    await h.send("leila", f"/announce {world.other}")
    assert "omar" not in await notes(h, world.other)


async def test_stop_these_and_back_on(h: Harness) -> None:
    world = await seed(h)
    await h.send("leila", f"/announce {world.need}")
    out = await h.press("yasmine", "1|stop")
    assert "turn them back on at any time in /profile" in plain(out)
    [back_on] = buttons(out)
    async with h.services.sessions() as session:
        member = await session.get_one(Member, world.members["yasmine"])
        assert member.matching_off is True
    await h.send("leila", f"/announce {world.other}")
    assert "yasmine" not in await notes(h, world.other)
    assert "Turn them back on" in back_on.label
    out = await h.press("yasmine", back_on)
    assert "I will tell you again" in plain(out)
    async with h.services.sessions() as session:
        member = await session.get_one(Member, world.members["yasmine"], populate_existing=True)
        assert member.matching_off is False


async def test_i_can_help_from_a_note_credits_matching(h: Harness) -> None:
    world = await seed(h)
    await h.send("leila", f"/announce {world.need}")
    out = await h.press("yasmine", f"1|mhelp|{world.need}")
    assert "What will you bring?" in plain(out)
    async with h.services.sessions() as session:
        state = await session.scalar(select(DialogState))
        assert state is not None and state.data["source"] == "match"
        clicks = list(await session.scalars(select(NeedClick)))
    assert [(c.need_id, c.member_id, c.source, c.referrer_id) for c in clicks] == [
        (world.need, world.members["yasmine"], "match", None)
    ]
    await h.send("yasmine", "/cancel")
    # The deep link of the same button (a Telegram link) does the same.
    out = await h.send("yasmine", f"/start offer-{world.need}-m")
    assert "What will you bring?" in plain(out)
    await h.send("yasmine", "expertise")
    await h.send("yasmine", "I keep books for a living.")
    await h.send("yasmine", "1")
    await h.send("yasmine", "yes")
    await h.send("yasmine", "Send my offer")
    async with h.services.sessions() as session:
        offer = await session.scalar(select(Offer))
    assert offer is not None and (offer.source, offer.referred_by) == ("match", None)


async def test_match_counts_and_names_only_who_agreed(h: Harness) -> None:
    world = await seed(h)
    out = await h.send("leila", f"/match {world.need}")
    text = plain(out)
    assert "3 members would be reached by a personal note." in text
    assert "• 2 know accounting" not in text  # Samir and Rachid are not reachable
    assert "• 1 know accounting" in text
    assert "• 1 are from Tafraout" in text
    assert "• 1 like to help with expertise" in text
    assert "• 1 know comptable" in text
    assert "Among them, who agreed to be named: Yasmine" in text
    assert "Omar" not in text and "Salma" not in text
    assert "2 others are counted but not named" in text
    # Nothing was written: /match only looks.
    assert await notes(h, world.need) == {}

    out = await h.send("alice", f"/match {world.need}")  # a community manager
    assert "3 members would be reached" in plain(out)
    out = await h.send("omar", f"/match {world.need}")
    assert "Only" in plain(out) and "members would be reached" not in plain(out)
    out = await h.send("leila", "/match")
    assert "Usage: /match <need no.>" in plain(out)
    out = await h.send("leila", "/match 999")
    assert "I don't know a need number 999" in plain(out)


async def test_match_on_a_closed_need_is_refused(h: Harness) -> None:
    world = await seed(h)
    async with h.services.sessions() as session:
        await session.execute(update(Need).where(Need.id == world.need).values(status="fulfilled"))
        await session.commit()
    out = await h.send("leila", f"/match {world.need}")
    assert "fulfilled" in plain(out)
    assert "would be reached" not in plain(out)


async def test_no_fit_is_said_plainly(h: Harness) -> None:
    world = await seed(h, {"nadia": {"languages": ["fr"]}})
    out = await h.send("leila", f"/match {world.need}")
    assert "No member's profile fits this need yet" in plain(out)
    out = await h.send("leila", f"/announce {world.need}")
    assert "nobody got a personal note" in plain(out)
    assert [b.label for b in buttons(out)] == []


async def test_notes_can_be_turned_off(h: Harness) -> None:
    await h.close()
    off = await Harness.create(
        h.engine.url.render_as_string(hide_password=False),
        default_language="en",
        match_notes_max=0,
    )
    try:
        world = await seed(off)
        out = await off.send("leila", f"/announce {world.need}")
        assert "Personal notes to the members whose profile fits are turned off." in plain(out)
        assert await notes(off, world.need) == {}
    finally:
        await off.close()
