"""Promises kept, on SQLite with a fake clock: the leaders are reminded at half the answer
period, the community managers told at its end, and the member receives an apology when the
offer is released; each stage once, across restarts and two workers. And a member cannot
flood the leaders with offers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from handlers.chat import Button, Message
from handlers.context import Services
from handlers.serial import load
from schedules.reminders import remind_overdue, run_reminders
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
from tests.harness import Harness, plain

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass
class World:
    members: dict[str, int]
    argan: int  # led by leila
    orphan: int  # a project without leaders
    needs: list[int]  # four needs of argan
    orphan_need: int


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db")
    yield harness
    await harness.close()


def add_member(session: Any, who: str, *, share_name: bool = False) -> Member:
    member = Member(
        display_name=who.capitalize(), created_at=NOW, last_seen_at=NOW, share_name=share_name
    )
    session.add(member)
    session.add(
        MemberIdentity(
            member=member,
            platform="console",
            external_id=who,
            username=who,
            display_name=who.capitalize(),
            last_seen_at=NOW,
        )
    )
    return member


async def seed(h: Harness, *, named: tuple[str, ...] = ()) -> World:
    """Argan (led by leila) with four needs, a project without leaders, alice the CM."""
    async with h.services.sessions() as session:
        people = {
            who: add_member(session, who, share_name=who in named)
            for who in ("leila", "alice", "yasmine", "samir", "nadia")
        }
        argan = Project(
            slug="argan-tafraout",
            title="Argan Tafraout",
            territory="Tafraout",
            tags=["argan"],
            status="open",
            created_at=NOW,
            updated_at=NOW,
        )
        orphan = Project(
            slug="well-tiznit", title="Well Tiznit", status="open", created_at=NOW, updated_at=NOW
        )
        session.add_all([argan, orphan])
        await session.flush()
        session.add(
            ProjectLeader(project_id=argan.id, member_id=people["leila"].id, granted_at=NOW)
        )
        needs = [
            Need(project_id=argan.id, kind=kind, title=title, created_at=NOW)
            for kind, title in (
                ("skills", "Build the website"),
                ("expertise", "Audit the accounts"),
                ("network", "Meet buyers in Lyon"),
                ("idea", "Name the brand"),
            )
        ]
        orphan_need = Need(project_id=orphan.id, kind="skills", title="Dig", created_at=NOW)
        session.add_all([*needs, orphan_need])
        await session.commit()
        return World(
            members={who: m.id for who, m in people.items()},
            argan=argan.id,
            orphan=orphan.id,
            needs=[need.id for need in needs],
            orphan_need=orphan_need.id,
        )


def dlg(dialog: str, step: str, value: str) -> Button:
    return Button(value, "dlg", (dialog, step, value))


async def make_offer(h: Harness, who: str, need_id: int, kind: str = "skills") -> str:
    """The whole offer dialog; what the bot said at the end."""
    await h.send(who, f"/offer {need_id}")
    await h.press(who, dlg("offer", "kind", kind))
    await h.send(who, "I can help with this.")
    await h.press(who, dlg("offer", "availability", "few_hours"))
    await h.press(who, dlg("offer", "share_contact", "yes"))
    return plain(await h.press(who, dlg("offer", "send", "yes")))


async def offer(h: Harness, offer_id: int) -> Offer:
    async with h.services.sessions() as session:
        return await session.get_one(Offer, offer_id)


async def sent_to(h: Harness, who: str) -> list[Delivery]:
    return [d for d in await h.deliveries() if d.target == f"console:user:{who}"]


def text_of(delivery: Delivery) -> str:
    out = load(delivery.payload)
    assert isinstance(out, Message)
    return out.text.plain


def actions_of(delivery: Delivery) -> list[str]:
    out = load(delivery.payload)
    assert isinstance(out, Message)
    return [b.action for row in out.buttons for b in row]


async def audits(h: Harness) -> list[tuple[str, int | None]]:
    async with h.services.sessions() as session:
        rows = await session.execute(
            select(AuditEntry.action, AuditEntry.actor_id)
            .where(AuditEntry.action.in_(["offer.remind", "offer.overdue", "offer.release"]))
            .order_by(AuditEntry.id)
        )
        return [(action, actor) for action, actor in rows]


async def at(h: Harness, after: timedelta) -> int:
    """Move the clock to `after` the offers were made, and run the job once."""
    h.clock.current = NOW + after
    return await remind_overdue(h.services)


# --- the timeline ------------------------------------------------------------------------------


async def test_the_whole_timeline_each_stage_once(h: Harness) -> None:
    world = await seed(h)
    assert "offer no. 1 is sent" in await make_offer(h, "yasmine", world.needs[0])
    leila_before = len(await sent_to(h, "leila"))  # the "new offer" note

    assert await at(h, 35 * HOUR) == 0
    assert len(await sent_to(h, "leila")) == leila_before

    # Stage 1, at half of 3 days: the leaders are reminded, with the buttons to answer.
    assert await at(h, 36 * HOUR) == 1
    reminders = [d for d in await sent_to(h, "leila") if d.purpose == "offer:1:remind"]
    assert len(reminders) == 1
    assert "Yasmine is waiting for your answer to offer no. 1." in text_of(reminders[0])
    # The deadline and the release, in the community's time (Casablanca, UTC+1 in November).
    assert "before 2026-11-29 11:00" in text_of(reminders[0])
    assert "on 2026-11-30 23:00 the offer is released" in text_of(reminders[0])
    assert actions_of(reminders[0]) == ["acc", "dec"]
    assert (await offer(h, 1)).reminder_stage == 1
    assert await sent_to(h, "alice") == []

    # Running again (another tick, a restart) sends nothing more.
    assert await at(h, 40 * HOUR) == 0
    fresh = Services(sessions=h.services.sessions, community=h.services.community, clock=h.clock)
    assert await remind_overdue(fresh) == 0
    assert len([d for d in await sent_to(h, "leila") if d.purpose == "offer:1:remind"]) == 1

    # Stage 2, at 3 days: the community manager is told, and may answer.
    assert await at(h, 72 * HOUR) == 1
    told = await sent_to(h, "alice")
    assert [d.purpose for d in told] == ["offer:1:overdue"]
    assert "Offer no. 1 got no answer in 3 days." in text_of(told[0])
    assert "The project's leaders: Leila." in text_of(told[0])
    assert actions_of(told[0]) == ["acc", "dec"]
    assert (await offer(h, 1)).status == "pending"

    # Stage 3, at 4.5 days: released with an apology; nobody decided it.
    assert await at(h, 108 * HOUR) == 1
    released = await offer(h, 1)
    assert released.status == "declined"
    assert released.reason == "no answer in time"
    assert released.decided_by is None
    assert released.decided_at == NOW + 108 * HOUR
    assert released.reminder_stage == 3
    apology = [d for d in await sent_to(h, "yasmine") if d.purpose == "offer:1:released"]
    assert len(apology) == 1
    assert "We are sorry, Yasmine." in text_of(apology[0])
    assert "could not answer your offer no. 1 on “Build the website” in time" in text_of(apology[0])
    note = [d for d in await sent_to(h, "leila") if d.purpose == "offer:1:released"]
    assert "got no answer in time: it is released" in text_of(note[0])

    assert await at(h, 500 * HOUR) == 0
    assert await audits(h) == [
        ("offer.remind", None),
        ("offer.overdue", None),
        ("offer.release", None),
    ]
    # The leader's late answer is refused, and the member sees why in /myoffers.
    assert "This offer is already declined" in plain(
        await h.press("leila", Button("acc", "acc", ("1",)))
    )
    assert "Reason: no answer in time" in plain(await h.send("yasmine", "/myoffers"))


async def test_an_answered_offer_leaves_the_timeline(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.needs[0])
    await make_offer(h, "samir", world.needs[0])
    assert await at(h, 37 * HOUR) == 2  # both reminded
    h.clock.current = NOW + 38 * HOUR
    await h.press("leila", Button("acc", "acc", ("1",)))
    await h.send("samir", "/myoffers")
    await h.press("samir", Button("wd", "wd", ("2",)))
    assert (await offer(h, 2)).status == "withdrawn"
    assert await at(h, 300 * HOUR) == 0
    assert (await offer(h, 1)).status == "accepted"
    assert await sent_to(h, "alice") == []
    assert not [d for d in await h.deliveries() if d.purpose.endswith(":released")]


async def test_after_an_outage_only_the_latest_stage_is_applied(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.needs[0])
    await make_offer(h, "samir", world.needs[1], kind="expertise")
    # Samir's offer is a day younger.
    async with h.services.sessions() as session:
        samir = await session.get_one(Offer, 2)
        samir.created_at = NOW + 24 * HOUR
        await session.commit()
    assert await at(h, 80 * HOUR) == 2
    assert (await offer(h, 1)).reminder_stage == 2  # at 80 h: overdue, no late reminder
    assert (await offer(h, 2)).reminder_stage == 1  # at 56 h of its own: reminded
    purposes = sorted(d.purpose for d in await h.deliveries() if d.purpose.count(":") == 2)
    assert "offer:1:remind" not in purposes
    assert {"offer:1:overdue", "offer:2:remind"} <= set(purposes)
    assert await at(h, 500 * HOUR) == 2
    assert [(await offer(h, n)).status for n in (1, 2)] == ["declined", "declined"]


async def test_two_workers_apply_each_stage_once(h: Harness) -> None:
    world = await seed(h)
    for need in world.needs[:3]:
        await make_offer(h, "yasmine", need)
    h.clock.current = NOW + 40 * HOUR
    other = Services(sessions=h.services.sessions, community=h.services.community, clock=h.clock)
    done = await asyncio.gather(remind_overdue(h.services), remind_overdue(other))
    assert sum(done) == 3
    reminders = [d for d in await sent_to(h, "leila") if d.purpose.endswith(":remind")]
    assert sorted(d.purpose for d in reminders) == [f"offer:{n}:remind" for n in (1, 2, 3)]
    h.clock.current = NOW + 200 * HOUR
    done = await asyncio.gather(remind_overdue(h.services), remind_overdue(other))
    assert sum(done) == 3
    apologies = [d for d in await sent_to(h, "yasmine") if d.purpose.endswith(":released")]
    assert len(apologies) == 3


async def test_a_project_without_leaders_has_its_reminders_sent_to_the_managers(
    h: Harness,
) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.orphan_need)
    assert await at(h, 36 * HOUR) == 1
    assert [d.purpose for d in await sent_to(h, "alice")] == ["offer:1:remind"]
    assert await at(h, 109 * HOUR) == 1
    assert (await offer(h, 1)).status == "declined"


async def test_the_answer_period_is_a_setting(tmp_path: Path) -> None:
    h = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db", offer_answer_days=1)
    try:
        world = await seed(h)
        await make_offer(h, "yasmine", world.needs[0])
        assert await at(h, 11 * HOUR) == 0
        assert await at(h, 12 * HOUR) == 1
        assert await at(h, 24 * HOUR) == 1
        assert await at(h, 36 * HOUR) == 1
        assert (await offer(h, 1)).status == "declined"
    finally:
        await h.close()


async def test_the_job_runs_at_start_then_periodically_until_stopped(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.needs[0])
    h.clock.current = NOW + 40 * HOUR
    woken: list[int] = []
    h.services.on_outbox = lambda: woken.append(1)
    stop = asyncio.Event()
    task = asyncio.create_task(run_reminders(h.services, stop, every=0.01))
    for _ in range(200):
        if (await offer(h, 1)).reminder_stage == 1:
            break
        await asyncio.sleep(0.01)
    h.clock.current = NOW + 80 * HOUR
    for _ in range(200):
        if (await offer(h, 1)).reminder_stage == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert (await offer(h, 1)).reminder_stage == 2
    assert woken  # the dispatcher was woken for the queued messages


# --- bounds on offers ----------------------------------------------------------------------


async def test_pending_offers_per_member_are_bounded(tmp_path: Path) -> None:
    h = await Harness.create(
        f"sqlite+aiosqlite:///{tmp_path}/cds.db", offer_max_pending=2, offer_max_per_hour=10
    )
    try:
        world = await seed(h)
        assert "is sent" in await make_offer(h, "yasmine", world.needs[0])
        assert "is sent" in await make_offer(h, "yasmine", world.needs[1], kind="expertise")
        refused = plain(await h.send("yasmine", f"/offer {world.needs[2]}"))
        assert "You already have 2 offers waiting for an answer, the most at a time" in refused
        # Once one is answered, there is room again.
        await h.press("leila", Button("acc", "acc", ("1",)))
        assert "is sent" in await make_offer(h, "yasmine", world.needs[2], kind="network")
        # Others are not affected.
        assert "is sent" in await make_offer(h, "samir", world.needs[0])
    finally:
        await h.close()


async def test_offers_per_hour_are_bounded(tmp_path: Path) -> None:
    h = await Harness.create(
        f"sqlite+aiosqlite:///{tmp_path}/cds.db", offer_max_pending=10, offer_max_per_hour=2
    )
    try:
        world = await seed(h)
        await make_offer(h, "yasmine", world.needs[0])
        await h.send("yasmine", "/myoffers")
        await h.press("yasmine", Button("wd", "wd", ("1",)))  # withdrawn still counts
        await make_offer(h, "yasmine", world.needs[1], kind="expertise")
        refused = plain(await h.send("yasmine", f"/offer {world.needs[2]}"))
        assert "You sent 2 offers in the last hour, the most for now" in refused
        h.clock.advance(61 * timedelta(minutes=1))
        assert "is sent" in await make_offer(h, "yasmine", world.needs[2], kind="network")
    finally:
        await h.close()


async def test_the_bounds_are_checked_again_when_the_offer_is_sent(tmp_path: Path) -> None:
    h = await Harness.create(
        f"sqlite+aiosqlite:///{tmp_path}/cds.db", offer_max_pending=1, offer_max_per_hour=10
    )
    try:
        world = await seed(h)
        await h.send("yasmine", f"/offer {world.needs[0]}")
        await h.press("yasmine", dlg("offer", "kind", "skills"))
        # Meanwhile, an offer sent from another device fills the quota.
        async with h.services.sessions() as session:
            session.add(
                Offer(
                    need_id=world.needs[1],
                    member_id=world.members["yasmine"],
                    kind="expertise",
                    status="pending",
                    created_at=NOW,
                )
            )
            await session.commit()
        await h.send("yasmine", "Me")
        await h.press("yasmine", dlg("offer", "availability", "one_off"))
        await h.press("yasmine", dlg("offer", "share_contact", "no"))
        reply = plain(await h.press("yasmine", dlg("offer", "send", "yes")))
        assert "You already have 1 offers waiting for an answer" in reply
        async with h.services.sessions() as session:
            assert len(list(await session.scalars(select(Offer)))) == 1
        assert [d for d in await sent_to(h, "leila") if d.purpose.endswith(":new")] == []
    finally:
        await h.close()
