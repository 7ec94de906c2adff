"""The campaign engine on a real store, with a fake clock: runs are created once, expanded
once, and members are respected (quiet hours, the frequency cap, consent, reachability).

The engine's APScheduler is started paused: jobs are registered (and checked) but never fire
on their own; the tests move the fake clock and call the engine, as its timers would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.context import Community
from schedules import progress, runs
from schedules.engine import CampaignEngine, EngineSettings, job_id
from schedules.triggers import Slot
from store import campaigns as queries
from store.models import (
    Campaign,
    CampaignResponse,
    CampaignRun,
    CampaignStatus,
    Chat,
    Delivery,
    DeliveryStatus,
    Follow,
    Member,
    MemberIdentity,
    Need,
    Offer,
    Project,
    RunStatus,
)
from tests.harness import FakeClock

START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 11:00 in Casablanca (UTC+1)
DAILY_NOON = {"type": "daily", "time": "12:00"}  # 11:00 UTC in winter
EVERYONE = {"groups": "none", "members": "everyone"}


@dataclass
class World:
    """A small community and a campaign engine on one database."""

    sessions: async_sessionmaker[AsyncSession]
    clock: FakeClock
    community: Community
    engines: list[CampaignEngine] = field(default_factory=list)
    _ids: int = 0

    def engine(self, **settings: Any) -> CampaignEngine:
        engine = CampaignEngine(
            self.sessions, self.community, self.clock, EngineSettings(**settings)
        )
        self.engines.append(engine)
        return engine

    async def add(self, *rows: Any) -> None:
        async with self.sessions() as session, session.begin():
            session.add_all(rows)

    async def member(
        self,
        name: str,
        *,
        accepts_dm: bool = True,
        platform: str = "telegram",
        locale: str | None = None,
        timezone: str | None = None,
        quiet_hours: str | None = None,
        unreachable: bool = False,
        last_seen: datetime | None = None,
        also: str | None = None,
    ) -> int:
        self._ids += 1
        member = Member(
            display_name=name,
            accepts_dm=accepts_dm,
            locale=locale,
            timezone=timezone,
            quiet_hours=quiet_hours,
            created_at=START - timedelta(days=400),
            last_seen_at=last_seen or START,
        )
        member.identities.append(
            MemberIdentity(
                platform=platform,
                external_id=str(1000 + self._ids),
                display_name=name,
                unreachable=unreachable,
                last_seen_at=last_seen or START,
            )
        )
        if also is not None:  # a second platform, seen longer ago
            member.identities.append(
                MemberIdentity(
                    platform=also,
                    external_id=str(5000 + self._ids),
                    display_name=name,
                    last_seen_at=START - timedelta(days=30),
                )
            )
        await self.add(member)
        return member.id

    async def group(self, external_id: str, tags: list[str], platform: str = "telegram") -> int:
        chat = Chat(
            platform=platform,
            external_id=external_id,
            title=external_id,
            tags=tags,
            registered=True,
            created_at=START,
        )
        await self.add(chat)
        return chat.id

    async def project(self, slug: str, status: str = "open") -> int:
        project = Project(
            slug=slug, title=slug.title(), status=status, created_at=START, updated_at=START
        )
        await self.add(project)
        return project.id

    async def need(
        self,
        project_id: int,
        title: str,
        *,
        created_at: datetime | None = None,
        deadline: date | None = None,
    ) -> int:
        need = Need(
            project_id=project_id,
            kind="skills",
            title=title,
            deadline=deadline,
            created_at=created_at or START,
        )
        await self.add(need)
        return need.id

    async def offer(
        self, need_id: int, member_id: int, status: str, decided_at: datetime | None
    ) -> int:
        offer = Offer(
            need_id=need_id,
            member_id=member_id,
            kind="skills",
            status=status,
            decided_at=decided_at,
            created_at=START - timedelta(days=60),
        )
        await self.add(offer)
        return offer.id

    async def campaign(
        self,
        kind: str = "message",
        *,
        schedule: dict[str, Any] | None = None,
        audience: dict[str, Any] | None = None,
        content: dict[str, str] | None = None,
        **values: Any,
    ) -> int:
        self._ids += 1
        campaign = Campaign(
            code=f"C{self._ids}",
            name=f"Campaign {self._ids}",
            kind=kind,
            content=content or {"en": "Hello", "fr": "Bonjour"},
            audience=audience if audience is not None else EVERYONE,
            schedule=schedule or DAILY_NOON,
            timezone=values.pop("timezone", "Africa/Casablanca"),
            created_at=values.pop("created_at", self.clock.now()),
            updated_at=values.pop("updated_at", self.clock.now()),
            **values,
        )
        await self.add(campaign)
        return campaign.id

    async def runs(self, campaign_id: int) -> list[CampaignRun]:
        async with self.sessions() as session:
            return list(
                await session.scalars(
                    select(CampaignRun)
                    .where(CampaignRun.campaign_id == campaign_id)
                    .order_by(CampaignRun.scheduled_at, CampaignRun.id)
                )
            )

    async def deliveries(self, run_id: int | None = None) -> list[Delivery]:
        async with self.sessions() as session:
            query = select(Delivery).order_by(Delivery.id)
            if run_id is not None:
                query = query.where(Delivery.run_id == run_id)
            return list(await session.scalars(query))

    async def status_of(self, campaign_id: int) -> str:
        async with self.sessions() as session:
            return (await session.get_one(Campaign, campaign_id)).status

    async def set_campaign(self, campaign_id: int, **values: Any) -> None:
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(Campaign).where(Campaign.id == campaign_id).values(**values)
            )


@pytest.fixture
async def world(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[World]:
    world = World(sessions, FakeClock(START), Community(default_language="en"))
    try:
        yield world
    finally:
        for engine in world.engines:
            await engine.stop()


def text_of(delivery: Delivery) -> str:
    return "".join(span[0] for span in delivery.payload.get("text", []))


# --- exactly once -----------------------------------------------------------------------------


async def test_firing_twice_for_the_same_slot_creates_one_run(world: World) -> None:
    await world.member("amina")
    await world.group("-100", ["souss"])
    campaign = await world.campaign(audience={"groups": "all", "members": "everyone"})
    slot = Slot(datetime(2026, 11, 26, 11, tzinfo=UTC), datetime(2026, 11, 26, 12))
    world.clock.current = slot.at
    first, second = world.engine(), world.engine()  # two workers

    outcome = await first.fire(campaign, slot, slot.at)
    assert outcome is not None and outcome.queued == 2
    assert await second.fire(campaign, slot, slot.at) is None
    assert await first.fire(campaign, slot, slot.at) is None

    [run] = await world.runs(campaign)
    assert run.slot == "2026-11-26T12:00"
    deliveries = await world.deliveries(run.id)
    assert sorted(d.target for d in deliveries) == ["telegram:chat:-100", "telegram:user:1001"]
    assert {d.purpose for d in deliveries} == {f"campaign:{run.id}"}


async def test_two_engines_catching_up_the_same_slots_run_each_once(world: World) -> None:
    await world.member("amina")
    campaign = await world.campaign(schedule={"type": "cron", "cron": "*/10 * * * *"})
    first, second = world.engine(), world.engine()
    await first.start(paused=True)
    await second.start(paused=True)
    before = world.clock.now()
    world.clock.advance(timedelta(minutes=55))
    fired = await first.clock_moved(before) + await second.clock_moved(before)
    assert fired == 5  # 10:10 ... 10:50 UTC, by one engine or the other
    runs_ = await world.runs(campaign)
    assert [run.slot[11:] for run in runs_] == ["11:10", "11:20", "11:30", "11:40", "11:50"]
    assert len(await world.deliveries()) == 5


async def test_restart_between_creation_and_dispatch_writes_the_deliveries_once(
    world: World,
) -> None:
    for name in ("amina", "karim", "sara"):
        await world.member(name)
    campaign = await world.campaign()
    # A run created, then the process died before expanding it.
    async with world.sessions() as session, session.begin():
        run_id = await runs.create_run(
            session, campaign, "2026-11-26T12:00", START + timedelta(hours=1), START
        )
    assert run_id is not None
    world.clock.current = START + timedelta(hours=1, minutes=5)

    restarted = world.engine()
    await restarted.start(paused=True)
    assert len(await world.deliveries(run_id)) == 3
    assert [run.status for run in await world.runs(campaign)] == ["dispatching"]

    # Another restart, and even a forced re-expansion, write nothing more.
    again = world.engine()
    await again.start(paused=True)
    async with world.sessions() as session, session.begin():
        await session.execute(
            update(CampaignRun).where(CampaignRun.id == run_id).values(status="pending")
        )
    await again.expand_pending()
    deliveries = await world.deliveries(run_id)
    assert len(deliveries) == 3
    assert len({d.target for d in deliveries}) == 3
    assert len(await world.runs(campaign)) == 1


# --- missed runs -------------------------------------------------------------------------------


async def test_runs_missed_while_down_run_within_the_grace_else_are_recorded(
    world: World,
) -> None:
    await world.member("amina")
    campaign = await world.campaign()  # every day at 12:00 local, 11:00 UTC
    # The bot was down from creation until 30 minutes after the fourth slot.
    world.clock.current = datetime(2026, 11, 29, 11, 30, tzinfo=UTC)
    engine = world.engine(grace=timedelta(minutes=60))
    await engine.start(paused=True)

    runs_ = await world.runs(campaign)
    assert [(run.slot, run.status, run.details.get("reason")) for run in runs_] == [
        ("2026-11-26T12:00", "skipped", "missed"),
        ("2026-11-27T12:00", "skipped", "missed"),
        ("2026-11-28T12:00", "skipped", "missed"),
        ("2026-11-29T12:00", "dispatching", None),
    ]
    assert len(await world.deliveries(runs_[-1].id)) == 1
    for run in runs_[:-1]:
        assert await world.deliveries(run.id) == []
    # Next: tomorrow at noon.
    assert engine.next_fire(campaign) == datetime(2026, 11, 30, 11, tzinfo=UTC)
    async with world.sessions() as session:
        stats = await queries.stats(session, campaign)
    assert (stats.runs, stats.runs_skipped) == (1, 3)


async def test_a_short_outage_loses_nothing(world: World) -> None:
    await world.member("amina")
    campaign = await world.campaign(schedule={"type": "cron", "cron": "*/15 * * * *"})
    engine = world.engine(grace=timedelta(minutes=60))
    await engine.start(paused=True)
    world.clock.advance(timedelta(minutes=40))  # down for 40 minutes
    await engine.stop()
    restarted = world.engine(grace=timedelta(minutes=60))
    await restarted.start(paused=True)
    assert [run.status for run in await world.runs(campaign)] == ["dispatching"] * 2


# --- respect for members -------------------------------------------------------------------------


async def test_quiet_hours_postpone_private_messages_not_group_ones(world: World) -> None:
    night_owl = await world.member("amina", timezone="Europe/Paris")
    no_quiet = await world.member("karim", timezone="Europe/Paris", quiet_hours="00:00-00:00")
    own_hours = await world.member("sara", quiet_hours="20:00-21:00")
    await world.group("-100", ["souss"])
    # 23:30 in Casablanca and in Paris... Casablanca is UTC+1 and so is Paris in winter.
    campaign = await world.campaign(
        schedule={"type": "daily", "time": "23:30"},
        audience={"groups": "all", "members": "everyone"},
    )
    at = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)
    world.clock.current = at
    engine = world.engine()
    await engine.start(paused=True)

    [run] = await world.runs(campaign)
    by_member = {d.member_id: d for d in await world.deliveries(run.id)}
    assert by_member[night_owl].not_before == datetime(2026, 11, 27, 7, tzinfo=UTC)  # 08:00
    assert by_member[night_owl].status == "pending"
    assert by_member[no_quiet].not_before == at
    assert by_member[own_hours].not_before == at  # 23:30 is outside 20:00-21:00
    [group] = [d for d in await world.deliveries(run.id) if d.member_id is None]
    assert group.not_before == at


async def test_the_frequency_cap_skips_and_records_cap(world: World) -> None:
    busy = await world.member("amina", also="discord")
    fresh = await world.member("karim")
    # Two campaign messages to amina this week, one of them on Discord.
    earlier = await world.campaign(schedule={"type": "once", "at": "2026-12-25T10:00"})
    async with world.sessions() as session, session.begin():
        old_run = await runs.create_run(
            session, earlier, "old", START, START, status=RunStatus.DONE
        )
        for index, (platform, status, age) in enumerate(
            [("telegram", "sent", 2), ("discord", "pending", 1), ("telegram", "sent", 9)]
        ):
            session.add(
                Delivery(
                    purpose=f"campaign:{old_run}:{index}",
                    target=f"{platform}:user:{index}",
                    platform=platform,
                    member_id=busy,
                    run_id=old_run,
                    status=status,
                    not_before=START,
                    created_at=START - timedelta(days=age),
                )
            )
    campaign = await world.campaign(schedule={"type": "cron", "cron": "0 * * * *"})
    world.clock.current = START + timedelta(hours=1)
    engine = world.engine()
    await engine.start(paused=True)

    [run] = await world.runs(campaign)
    by_member = {d.member_id: d for d in await world.deliveries(run.id)}
    assert (by_member[busy].status, by_member[busy].error) == ("skipped", "cap")
    assert by_member[busy].payload == {}
    assert by_member[fresh].status == "pending"
    # karim got one; a second run the same hour... the next hour: still under the cap (2).
    world.clock.advance(timedelta(hours=1))
    await engine.changed(campaign)
    world.clock.advance(timedelta(hours=1))
    await engine.changed(campaign)
    third = (await world.runs(campaign))[-1]
    [karim] = [d for d in await world.deliveries(third.id) if d.member_id == fresh]
    assert (karim.status, karim.error) == ("skipped", "cap")
    async with world.sessions() as session:
        stats = await queries.stats(session, campaign)
    assert stats.skipped_cap == 4  # amina three times, karim once
    assert stats.pending == 2


async def test_consent_and_reachability(world: World) -> None:
    await world.member("no-consent", accepts_dm=False)
    blocked = await world.member("blocked", unreachable=True)
    ok = await world.member("ok")
    campaign = await world.campaign()
    world.clock.current = START + timedelta(hours=1)
    await world.engine().start(paused=True)
    [run] = await world.runs(campaign)
    rows = {d.member_id: (d.status, d.error) for d in await world.deliveries(run.id)}
    assert rows == {blocked: ("skipped", "unreachable"), ok: ("pending", "")}
    async with world.sessions() as session:
        stats = await queries.stats(session, campaign)
    assert stats.skipped_unreachable == 1


async def test_each_member_in_their_language_groups_in_the_communitys(world: World) -> None:
    french = await world.member("amina", locale="fr")
    english = await world.member("karim", locale="en")
    arabic = await world.member("sara", locale="ar")  # no Arabic content: the community's
    await world.group("-100", ["souss"])
    campaign = await world.campaign(
        audience={"groups": ["SOUSS"], "members": "everyone"},
        content={"fr": "Bonjour", "en": "Hello"},
    )
    world.clock.current = START + timedelta(hours=1)
    await world.engine().start(paused=True)
    [run] = await world.runs(campaign)
    texts = {d.member_id: text_of(d) for d in await world.deliveries(run.id)}
    assert texts == {french: "Bonjour", english: "Hello", arabic: "Hello", None: "Hello"}


async def test_audiences_followers_contributors_and_tags(world: World) -> None:
    follower = await world.member("follower")
    contributor = await world.member("contributor")
    elsewhere = await world.member("elsewhere")
    project = await world.project("argan")
    other = await world.project("water")
    need = await world.need(project, "Press")
    other_need = await world.need(other, "Pipes")
    await world.offer(need, contributor, "pending", None)
    await world.offer(other_need, elsewhere, "accepted", START)
    await world.add(Follow(member_id=follower, project_id=project, created_at=START))
    await world.group("-1", ["souss"])
    await world.group("-2", ["oriental"])
    followers = await world.campaign(
        audience={"groups": ["souss"], "members": "followers"}, project_id=project
    )
    contributors = await world.campaign(
        audience={"groups": "none", "members": "contributors"}, project_id=project
    )
    everyone_who_helped = await world.campaign(audience={"members": "contributors"})
    world.clock.current = START + timedelta(hours=1)
    await world.engine().start(paused=True)

    async def targets(campaign: int) -> set[int | str]:
        [run] = await world.runs(campaign)
        return {d.member_id or d.target for d in await world.deliveries(run.id)}

    assert await targets(followers) == {follower, "telegram:chat:-1"}
    assert await targets(contributors) == {contributor}
    assert await targets(everyone_who_helped) == {contributor, elsewhere}


# --- kinds ------------------------------------------------------------------------------------


async def test_spotlight_rotates_through_open_projects(world: World) -> None:
    await world.group("-100", ["souss"])
    argan = await world.project("argan")
    water = await world.project("water")
    books = await world.project("books")
    await world.project("trail", status="draft")
    await world.need(water, "Pipes")
    campaign = await world.campaign("spotlight", audience={"groups": "all"})
    engine = world.engine()
    await engine.start(paused=True)
    chosen = []
    for _ in range(4):
        world.clock.advance(timedelta(minutes=1))
        run_id = await engine.run_now(campaign, None)
        async with world.sessions() as session:
            run = await session.get_one(CampaignRun, run_id)
            chosen.append(run.details["project_id"])
    assert chosen == [argan, water, books, argan]
    [water_run] = [r for r in await world.runs(campaign) if r.details["project_id"] == water]
    [delivery] = await world.deliveries(water_run.id)
    assert "Water" in text_of(delivery) and "Pipes" in text_of(delivery)


async def test_an_empty_digest_is_skipped(world: World) -> None:
    await world.group("-100", ["souss"])
    project = await world.project("argan")
    await world.need(project, "Old need", created_at=START - timedelta(days=30))
    await world.need(project, "Fresh need", created_at=START - timedelta(days=1))
    await world.need(
        project,
        "Due soon",
        created_at=START - timedelta(days=30),
        deadline=date(2026, 11, 30),
    )
    campaign = await world.campaign(
        "digest", audience={"groups": "all"}, schedule={"type": "daily", "time": "12:00"}
    )
    engine = world.engine()
    await engine.start(paused=True)

    world.clock.current = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
    await engine.changed(campaign)
    first = (await world.runs(campaign))[-1]
    [digest] = await world.deliveries(first.id)
    assert "Fresh need" in text_of(digest) and "Due soon" in text_of(digest)
    assert "Old need" not in text_of(digest)

    world.clock.current = datetime(2026, 11, 27, 11, 0, tzinfo=UTC)
    await engine.changed(campaign)
    second = (await world.runs(campaign))[-1]
    assert (second.status, second.details["reason"]) == ("skipped", "nothing new")
    assert await world.deliveries(second.id) == []

    await world.need(project, "Brand new", created_at=datetime(2026, 11, 27, 15, tzinfo=UTC))
    world.clock.current = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    await engine.changed(campaign)
    third = (await world.runs(campaign))[-1]
    [digest] = await world.deliveries(third.id)
    assert "Brand new" in text_of(digest) and "Fresh need" not in text_of(digest)


async def test_followup_targets_offers_accepted_long_ago_and_not_done(world: World) -> None:
    amina = await world.member("amina")
    karim = await world.member("karim")
    quiet = await world.member("no-consent", accepts_dm=False)
    project = await world.project("argan")
    need = await world.need(project, "Press")
    other = await world.need(project, "Labels")
    long_ago = START - timedelta(days=20)
    first = await world.offer(need, amina, "accepted", long_ago)
    second = await world.offer(other, amina, "accepted", long_ago)
    await world.offer(need, karim, "accepted", START - timedelta(days=5))  # too recent
    await world.offer(other, karim, "done", long_ago)  # done already
    await world.offer(other, quiet, "accepted", long_ago)  # no consent
    campaign = await world.campaign("followup", options={"days": 14}, audience={})
    engine = world.engine()
    await engine.start(paused=True)
    run_id = await engine.run_now(campaign, None)

    deliveries = await world.deliveries(run_id)
    assert sorted(d.purpose for d in deliveries) == [
        f"campaign:{run_id}:offer:{first}",
        f"campaign:{run_id}:offer:{second}",
    ]
    assert {d.member_id for d in deliveries} == {amina}
    actions = {b["action"] for d in deliveries for row in d.payload["buttons"] for b in row}
    assert actions == {"fu"}
    # Asked once: the next run has nothing new (amina's cap would stop a third anyway).
    world.clock.advance(timedelta(minutes=1))
    again = await engine.run_now(campaign, None)
    async with world.sessions() as session:
        run = await session.get_one(CampaignRun, again)
    assert (run.status, run.details["reason"]) == ("skipped", "nothing new")


async def test_reengage_suggests_a_need_of_a_followed_project(world: World) -> None:
    away = START - timedelta(days=45)
    sleeper = await world.member("sleeper", last_seen=away)
    no_interest = await world.member("no-interest", last_seen=away)
    active = await world.member("active")
    project = await world.project("argan")
    need = await world.need(project, "Press")
    for member in (sleeper, active):
        await world.add(Follow(member_id=member, project_id=project, created_at=START))
    campaign = await world.campaign("reengage", options={"days": 30}, audience={})
    engine = world.engine()
    await engine.start(paused=True)
    run_id = await engine.run_now(campaign, None)
    [delivery] = await world.deliveries(run_id)
    assert delivery.member_id == sleeper
    assert "Press" in text_of(delivery)
    assert no_interest not in {d.member_id for d in await world.deliveries(run_id)}
    assert any(b["args"][0] == str(need) for row in delivery.payload["buttons"] for b in row)


# --- the schedule follows the table -----------------------------------------------------------


async def test_pause_resume_and_delete_reschedule(world: World) -> None:
    campaign = await world.campaign()
    engine = world.engine()
    await engine.start(paused=True)
    assert job_id(campaign) in engine.job_ids()
    assert engine.next_fire(campaign) == datetime(2026, 11, 26, 11, tzinfo=UTC)

    await world.set_campaign(campaign, status="paused", updated_at=world.clock.now())
    await engine.changed(campaign)
    assert job_id(campaign) not in engine.job_ids()

    # Paused across two slots; resumed: those slots are not run late.
    world.clock.current = datetime(2026, 11, 28, 9, tzinfo=UTC)
    await world.set_campaign(campaign, status="active", updated_at=world.clock.now())
    await engine.changed(campaign)
    assert engine.next_fire(campaign) == datetime(2026, 11, 28, 11, tzinfo=UTC)
    assert await world.runs(campaign) == []

    # Changed elsewhere (another worker): the periodic resync notices.
    world.clock.advance(timedelta(minutes=1))
    await world.set_campaign(
        campaign, schedule={"type": "daily", "time": "20:00"}, updated_at=world.clock.now()
    )
    await engine.resync()
    assert engine.next_fire(campaign) == datetime(2026, 11, 28, 19, tzinfo=UTC)

    await world.set_campaign(campaign, status="deleted", updated_at=world.clock.now())
    await engine.resync()
    assert job_id(campaign) not in engine.job_ids()


async def test_campaigns_finish_after_max_runs_or_their_end_date(world: World) -> None:
    await world.member("amina", quiet_hours="00:00-00:00")
    twice = await world.campaign(max_runs=2)
    until = await world.campaign(ends_on=date(2026, 11, 27))
    once = await world.campaign(schedule={"type": "once", "at": "2026-11-26T18:00"})
    engine = world.engine()
    await engine.start(paused=True)
    before = world.clock.now()
    world.clock.current = datetime(2026, 11, 30, 12, tzinfo=UTC)
    await engine.clock_moved(before)
    assert [len(await world.runs(c)) for c in (twice, until, once)] == [2, 2, 1]
    assert [await world.status_of(c) for c in (twice, until, once)] == ["finished"] * 3
    assert not {job_id(c) for c in (twice, until, once)} & set(engine.job_ids())


async def test_a_clock_jump_fires_every_slot_in_order(world: World) -> None:
    await world.group("-100", ["souss"])
    morning = await world.campaign(
        schedule={"type": "daily", "time": "09:00"}, audience={"groups": "all"}
    )
    evening = await world.campaign(
        schedule={"type": "daily", "time": "19:00"}, audience={"groups": "all"}
    )
    engine = world.engine(grace=timedelta(minutes=60))
    await engine.start(paused=True)
    before = world.clock.now()
    world.clock.advance(timedelta(days=2))
    assert await engine.clock_moved(before) == 4
    async with world.sessions() as session:
        fired = list(
            await session.execute(
                select(CampaignRun.campaign_id, CampaignRun.slot).order_by(CampaignRun.id)
            )
        )
    assert fired == [
        (evening, "2026-11-26T19:00"),
        (morning, "2026-11-27T09:00"),
        (evening, "2026-11-27T19:00"),
        (morning, "2026-11-28T09:00"),
    ]
    # Fired as if on time: none of them is "missed".
    assert all(run.status == "dispatching" for run in await world.runs(morning))


# --- progress for the starter and statistics ------------------------------------------------------


async def test_a_run_started_by_hand_tells_its_starter_how_it_goes(world: World) -> None:
    cm = await world.member("alice", platform="console", accepts_dm=False)
    members_ = [await world.member(f"m{index}") for index in range(3)]
    campaign = await world.campaign()
    engine = world.engine()
    await engine.start(paused=True)
    run_id = await engine.run_now(campaign, cm)

    async def sent(purpose_or_id: str | int, message_id: str | None = None) -> None:
        column = Delivery.purpose if isinstance(purpose_or_id, str) else Delivery.id
        async with world.sessions() as session, session.begin():
            await session.execute(
                update(Delivery)
                .where(column == purpose_or_id)
                .values(status="sent", message_id=message_id)
            )

    async def progress_texts() -> list[str]:
        async with world.sessions() as session:
            rows = await session.scalars(
                select(Delivery)
                .where(Delivery.purpose.startswith(f"campaign:{run_id}:progress"))
                .order_by(Delivery.id)
            )
            return [text_of(d) for d in rows]

    assert "Sending to 3 recipients" in (await progress_texts())[0]
    assert await engine.follow_progress() == 0  # the first message is not out yet
    await sent(progress.purpose(run_id), "77")
    campaign_rows = await world.deliveries(run_id)
    await sent(campaign_rows[0].id)
    async with world.sessions() as session, session.begin():
        await session.execute(
            update(Delivery)
            .where(Delivery.id == campaign_rows[1].id)
            .values(status="failed", error="chat not found")
        )
    assert await engine.follow_progress() == 1
    texts = await progress_texts()
    assert "Sent 1 / 3" in texts[1] and "1 failed" in texts[1]
    assert await engine.follow_progress() == 0  # nothing changed: no edit
    await sent(campaign_rows[2].id)
    assert await engine.follow_progress() == 1
    final = (await progress_texts())[-1]
    assert "Finished: 2 sent of 3." in final and "1 failed" in final
    async with world.sessions() as session:
        run = await session.get_one(CampaignRun, run_id)
        edit = await session.scalar(
            select(Delivery).where(Delivery.purpose == progress.edit_purpose(run_id, 2))
        )
    assert run.status == "done"
    assert edit is not None
    assert (edit.payload["type"], edit.payload["message_id"]) == ("edit", "77")
    assert edit.run_id is None  # not counted as a campaign message
    assert len(members_) == 3


async def test_statistics_count_deliveries_and_responses(world: World) -> None:
    members_ = [await world.member(f"m{index}") for index in range(3)]
    campaign = await world.campaign("poll", options={"options": {"en": ["Yes", "No"]}})
    engine = world.engine()
    await engine.start(paused=True)
    run_id = await engine.run_now(campaign, None)
    rows = await world.deliveries(run_id)
    assert {d.payload["type"] for d in rows} == {"poll"}
    async with world.sessions() as session, session.begin():
        await session.execute(
            update(Delivery).where(Delivery.id == rows[0].id).values(status="sent")
        )
        await session.execute(
            update(Delivery).where(Delivery.id == rows[1].id).values(status="unknown")
        )
        for member, kind, choice in [
            (members_[0], "vote", ["0"]),
            (members_[1], "vote", ["1"]),
            (members_[2], "vote", ["0"]),
            (members_[0], "click", []),
            (members_[1], "offer", []),
            (members_[2], "answer", []),
        ]:
            session.add(
                CampaignResponse(
                    campaign_id=campaign,
                    run_id=run_id,
                    member_id=member,
                    kind=kind,
                    choice=choice,
                    created_at=START,
                )
            )
    async with world.sessions() as session:
        stats = await queries.stats(session, campaign)
        total = await session.scalar(select(func.count()).select_from(Delivery))
    assert (stats.runs, stats.deliveries, stats.sent, stats.unknown, stats.pending) == (
        1,
        3,
        1,
        1,
        1,
    )
    assert (stats.votes, stats.clicks, stats.offers, stats.answers) == (3, 1, 1, 1)
    assert stats.choices == {"0": 2, "1": 1}
    assert total == 3


async def test_next_runs_for_the_handlers(world: World) -> None:
    engine = world.engine()
    runs_ = engine.next_runs({"type": "weekly", "time": "18:00", "weekdays": [0]}, "UTC", 2)
    assert runs_ == [
        datetime(2026, 11, 30, 18, tzinfo=UTC),
        datetime(2026, 12, 7, 18, tzinfo=UTC),
    ]
    with pytest.raises(ValueError, match="in the past"):
        engine.next_runs({"type": "once", "at": "2026-01-01T10:00"}, "UTC", 1)
    assert CampaignStatus.ACTIVE.value == "active"
    assert DeliveryStatus.SKIPPED.value == "skipped"


class RunningClock:
    """Real time, shifted: `now()` moves with the wall clock from a chosen instant."""

    def __init__(self, start: datetime) -> None:
        self.offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def test_the_timer_fires_the_campaign_at_its_slot(world: World) -> None:
    await world.member("amina")
    campaign = await world.campaign(schedule={"type": "cron", "cron": "* * * * *"})
    clock = RunningClock(START + timedelta(seconds=58))  # two seconds before the next minute
    engine = CampaignEngine(world.sessions, world.community, clock, EngineSettings())
    world.engines.append(engine)
    await engine.start()  # APScheduler running: its timer, not the test, fires the job
    assert engine.next_fire(campaign) == START + timedelta(minutes=1)
    for _ in range(80):
        if await world.runs(campaign):
            break
        await asyncio.sleep(0.1)
    [run] = await world.runs(campaign)
    assert run.slot == "2026-11-26T11:01"
    assert len(await world.deliveries(run.id)) == 1
    assert engine.next_fire(campaign) == START + timedelta(minutes=2)
