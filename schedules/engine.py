"""The campaign scheduler: APScheduler 3 jobs rebuilt from the `campaigns` table.

The table is the source of truth; the scheduler only holds, in memory (nothing pickled),
one job per active campaign, `campaign:<id>:v1`, due at the campaign's next slot. The slots
come from `schedules.triggers` (so DST and Morocco's Ramadan shifts follow the rules tested
there), and each job is an APScheduler `DateTrigger` for the next slot, registered again after
every firing. A `CronTrigger` was not used: it would apply its own DST rules, not ours.

When a job fires, every slot of the campaign from its last run up to now is handled, each in
its own transaction: a slot older than the grace period (`[campaigns] grace_minutes`) is
recorded as a `skipped` run with details.reason "missed"; the others create their run
(INSERT ... ON CONFLICT DO NOTHING, so a slot fired twice, by two workers or after a restart,
has one run) and, only when this process created it, expand it into the outbox in the same
transaction. The same catching up runs at start, which is how runs missed while the bot was
down are either run late (within the grace) or recorded as missed.

A campaign finishes (status `finished`) when its end date has passed, its `max_runs`
scheduled runs are done, or its schedule has no slot left (a `once`).

Other workers change campaigns too: every `resync_seconds` the engine compares each
campaign's (status, updated_at) with what it registered and catches up the ones that changed.
A run started by hand (`run_now`, from /campaign or the command line) tells its starter how
it goes: `follow_progress` edits one message every `progress_seconds` (see
`schedules.progress`), and settles runs whose deliveries are all decided.

The clock is the services' clock. With a clock that is not the system's (tests, the
console's `/clock +3d`), `clock_moved` fires every slot the jump went past, in order, as if on
time; APScheduler's timers, which run on real time, are set by the distance to the next slot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.chat import Clock
from handlers.context import Community
from schedules import progress, runs, triggers
from schedules.plans import DEFAULT_QUIET_HOURS, Respect
from schedules.runs import Outcome
from store import campaigns as queries
from store.models import (
    AuditEntry,
    Campaign,
    CampaignRun,
    CampaignStatus,
    RunStatus,
)
from store.uow import UnitOfWork

logger = logging.getLogger(__name__)

JOB_ID = "campaign:{campaign_id}:v1"
RESYNC_JOB = "campaigns:resync:v1"
PROGRESS_JOB = "campaigns:progress:v1"
# Beyond this many missed slots (a bot down for months with a minutely campaign), only the
# latest are recorded, and the count is logged.
MAX_MISSED_RECORDED = 100
# A job woken by its timer a little before the services' clock reaches its slot waits for it.
EARLY_WAKE = 5.0
TINY = timedelta(microseconds=1)


def job_id(campaign_id: int) -> str:
    return JOB_ID.format(campaign_id=campaign_id)


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """The `[campaigns]` settings the engine needs."""

    grace: timedelta = timedelta(minutes=60)
    respect: Respect = field(default_factory=Respect)
    progress_seconds: float = 5.0
    resync_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """A campaign's schedule, read once per catching up."""

    id: int
    schedule: dict[str, Any]
    timezone: str
    ends_on: date | None
    max_runs: int | None
    updated_at: datetime
    status: str

    @classmethod
    def of(cls, campaign: Campaign) -> _Snapshot:
        return cls(
            campaign.id,
            dict(campaign.schedule or {}),
            campaign.timezone,
            campaign.ends_on,
            campaign.max_runs,
            campaign.updated_at,
            campaign.status,
        )

    def slots(self, start: datetime, end: datetime) -> list[triggers.Slot]:
        found = triggers.slots_between(self.schedule, self.timezone, start, end)
        if self.ends_on is not None:
            found = [slot for slot in found if slot.local.date() <= self.ends_on]
        return found

    def next_slot(self, after: datetime) -> triggers.Slot | None:
        slot = triggers.next_slot(self.schedule, self.timezone, after)
        if slot is None or (self.ends_on is not None and slot.local.date() > self.ends_on):
            return None
        return slot


class CampaignEngine:
    """Implements `handlers.context.Scheduler` on APScheduler 3's `AsyncIOScheduler`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        community: Community,
        clock: Clock,
        settings: EngineSettings | None = None,
        *,
        on_outbox: Callable[[], Awaitable[None] | None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.community = community
        self.clock = clock
        self.settings = settings or EngineSettings()
        self.on_outbox = on_outbox
        self.scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        )
        # (status, updated_at) of each campaign as last registered: what `resync` compares.
        self._versions: dict[int, tuple[str, datetime]] = {}
        self._lock = asyncio.Lock()

    # --- the port handlers use ------------------------------------------------------------------

    def next_runs(self, schedule: dict[str, Any], timezone: str, count: int) -> list[datetime]:
        """The next `count` firing times (UTC); ValueError names what is wrong."""
        now = self.clock.now()
        triggers.validate(schedule, timezone, now)
        return [slot.at for slot in triggers.next_slots(schedule, timezone, now, count)]

    async def changed(self, campaign_id: int) -> None:
        """A campaign was created or changed: catch it up and (re)register or drop its job.
        Call it once the change is committed (`ctx.after_commit`)."""
        await self._sync(campaign_id)

    async def run_now(self, campaign_id: int, started_by: int | None) -> int:
        """Fire a campaign at once (slot "manual:<utc time>"); returns the run id. It writes in
        its own transaction: call it after the caller's unit of work has committed."""
        now = self.clock.now()
        async with self._lock:
            for attempt in range(5):  # two manual runs within the same millisecond
                at = now + timedelta(milliseconds=attempt)
                async with UnitOfWork(self.sessions) as uow:
                    campaign = await uow.session.get(Campaign, campaign_id)
                    if campaign is None or campaign.status == CampaignStatus.DELETED.value:
                        raise LookupError(f"no campaign {campaign_id}")
                    run_id = await runs.create_run(
                        uow.session, campaign_id, runs.manual_slot(at), at, now,
                        started_by=started_by,
                    )  # fmt: skip
                    if run_id is None:
                        continue
                    outcome = await runs.expand(
                        uow.session, run_id, self.community, self.settings.respect, now
                    )
                    await uow.commit()
                logger.info(
                    "campaign %d run %d started by hand: %s",
                    campaign_id, run_id, runs.describe(outcome.counts),
                )  # fmt: skip
                break
            else:
                raise RuntimeError(f"could not create a manual run of campaign {campaign_id}")
        await self._wake()
        return run_id

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    async def start(self, *, paused: bool = False) -> None:
        """Start APScheduler, catch up every campaign, and register the jobs. `paused`: jobs
        are registered but never fire (tests drive the engine themselves)."""
        self.scheduler.start(paused=paused)
        await self.rebuild()
        self.scheduler.add_job(
            self.resync,
            IntervalTrigger(seconds=self.settings.resync_seconds),
            id=RESYNC_JOB,
            replace_existing=True,
        )
        self.scheduler.add_job(
            self.follow_progress,
            IntervalTrigger(seconds=self.settings.progress_seconds),
            id=PROGRESS_JOB,
            replace_existing=True,
        )

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def rebuild(self) -> None:
        """From the table: expand runs left pending, catch up every active campaign (missed
        runs run within the grace, else are recorded as missed), register every job."""
        await self.expand_pending()
        await self._catch_up_all(on_time_after=None)

    async def clock_moved(self, before: datetime) -> int:
        """The services' clock jumped forward from `before`: fire every slot it went past,
        in order, as if on time; returns how many runs were created."""
        fired = await self._catch_up_all(on_time_after=before)
        await self.follow_progress()
        return fired

    async def resync(self) -> None:
        """Catch up the campaigns changed elsewhere (another worker, the command line)."""
        async with self.sessions() as session:
            versions = await queries.versions(session)
        for campaign_id, version in versions.items():
            if self._versions.get(campaign_id) != version:
                await self._sync(campaign_id)
        for campaign_id in set(self._versions) - set(versions):
            self._drop(campaign_id)

    # --- jobs -------------------------------------------------------------------------------

    def job_ids(self) -> list[str]:
        return sorted(job.id for job in self.scheduler.get_jobs())

    def next_fire(self, campaign_id: int) -> datetime | None:
        """When the campaign's job is due (on the services' clock), if it has one."""
        job = self.scheduler.get_job(job_id(campaign_id))
        if job is None:
            return None
        at = job.kwargs.get("at")
        return datetime.fromisoformat(at) if isinstance(at, str) else None

    def _register(self, snapshot: _Snapshot | None, campaign_id: int, now: datetime) -> None:
        if snapshot is None or snapshot.status != CampaignStatus.ACTIVE.value:
            self._drop(campaign_id)
            if snapshot is not None:
                self._versions[campaign_id] = (snapshot.status, snapshot.updated_at)
            return
        self._versions[campaign_id] = (snapshot.status, snapshot.updated_at)
        try:
            slot = snapshot.next_slot(now)
        except ValueError:
            logger.exception("campaign %d has a bad schedule: not scheduled", campaign_id)
            slot = None
        if slot is None:
            self._drop(campaign_id)
            return
        # APScheduler's timers run on real time; the services' clock may be ahead of it.
        run_date = datetime.now(UTC) + (slot.at - now)
        self.scheduler.add_job(
            self._job,
            DateTrigger(run_date=run_date),
            id=job_id(campaign_id),
            kwargs={"campaign_id": campaign_id, "at": slot.at.isoformat()},
            replace_existing=True,
        )

    def _drop(self, campaign_id: int) -> None:
        self._versions.pop(campaign_id, None)
        if self.scheduler.get_job(job_id(campaign_id)) is not None:
            self.scheduler.remove_job(job_id(campaign_id))

    async def _job(self, campaign_id: int, at: str) -> None:
        """A campaign's timer went off: handle its due slots, then set the next timer."""
        early = (datetime.fromisoformat(at) - self.clock.now()).total_seconds()
        if 0 < early <= EARLY_WAKE:
            await asyncio.sleep(early)
        try:
            await self._sync(campaign_id)
        except Exception:
            logger.exception("campaign %d: firing failed; retried at the next resync", campaign_id)
            self._versions.pop(campaign_id, None)

    # --- catching up -------------------------------------------------------------------------

    async def _sync(self, campaign_id: int) -> None:
        async with self._lock:
            now = self.clock.now()
            async with self.sessions() as session:
                campaign = await session.get(Campaign, campaign_id)
                snapshot = _Snapshot.of(campaign) if campaign is not None else None
                last = await queries.last_scheduled(session, [campaign_id])
            fired = 0
            if snapshot is not None and snapshot.status == CampaignStatus.ACTIVE.value:
                missed, due = self._split(snapshot, last.get(campaign_id), now, None)
                await self._record_missed(snapshot, missed, now)
                for slot in due:
                    fired += await self._fire_checked(snapshot, slot, now)
                snapshot = (await self._finish_over([snapshot], now))[0]
            self._register(snapshot, campaign_id, now)
        if fired:
            await self._wake()

    async def _catch_up_all(self, on_time_after: datetime | None) -> int:
        """Catch up every active campaign (reading them all in two queries), fire the due
        slots of all of them in time order, then register every job."""
        async with self._lock:
            now = self.clock.now()
            async with self.sessions() as session:
                snapshots = [_Snapshot.of(c) for c in await queries.active(session)]
                last = await queries.last_scheduled(session)
            pending: list[tuple[triggers.Slot, int]] = []
            by_id = {snapshot.id: snapshot for snapshot in snapshots}
            for snapshot in snapshots:
                missed, due = self._split(snapshot, last.get(snapshot.id), now, on_time_after)
                await self._record_missed(snapshot, missed, now)
                pending.extend((slot, snapshot.id) for slot in due)
            # Every campaign's slots in firing order: what a watcher of a clock jump expects.
            pending.sort(key=lambda item: (item[0], item[1]))
            fired = 0
            for slot, campaign_id in pending:
                at = slot.at if on_time_after is not None and slot.at > on_time_after else now
                fired += await self._fire_checked(by_id[campaign_id], slot, at)
            for snapshot in await self._finish_over(snapshots, now):
                self._register(snapshot, snapshot.id, now)
            for campaign_id in set(self._versions) - set(by_id):
                self._drop(campaign_id)  # no longer active
        if fired:
            await self._wake()
        return fired

    def _split(
        self,
        snapshot: _Snapshot,
        last: queries.LastRun | None,
        now: datetime,
        on_time_after: datetime | None,
    ) -> tuple[list[triggers.Slot], list[triggers.Slot]]:
        """The campaign's slots since its last change or run up to now, split into missed ones
        (older than the grace period) and due ones."""
        # After the last change of the campaign; from its last run's instant included: a slot
        # at the same instant (several nominal times in one DST gap) is handled too, and the
        # slot that already has its run is not created again.
        start = snapshot.updated_at
        done: frozenset[str] = frozenset()
        if last is not None and last.at >= start:
            start, done = last.at - TINY, last.slots
        try:
            slots = [slot for slot in snapshot.slots(start, now) if slot.key not in done]
        except ValueError:
            logger.exception("campaign %d has a bad schedule: skipped", snapshot.id)
            return [], []
        missed: list[triggers.Slot] = []
        due: list[triggers.Slot] = []
        for slot in slots:
            on_time = on_time_after is not None and slot.at > on_time_after
            if not on_time and now - slot.at > self.settings.grace:
                missed.append(slot)
            else:
                due.append(slot)
        return missed, due

    async def _record_missed(
        self, snapshot: _Snapshot, missed: list[triggers.Slot], now: datetime
    ) -> None:
        if not missed:
            return
        if len(missed) > MAX_MISSED_RECORDED:
            logger.warning(
                "campaign %d missed %d slots while the bot was down; recording the last %d",
                snapshot.id, len(missed), MAX_MISSED_RECORDED,
            )  # fmt: skip
            missed = missed[-MAX_MISSED_RECORDED:]
        async with UnitOfWork(self.sessions) as uow:
            recorded = 0
            for slot in missed:
                created = await runs.create_run(
                    uow.session, snapshot.id, slot.key, slot.at, now,
                    status=RunStatus.SKIPPED, details={"reason": "missed"},
                )  # fmt: skip
                recorded += created is not None
            await uow.commit()
        if recorded:
            logger.warning(
                "campaign %d: %d run(s) missed beyond the grace period, recorded as skipped",
                snapshot.id, recorded,
            )  # fmt: skip

    async def _fire_checked(self, snapshot: _Snapshot, slot: triggers.Slot, at: datetime) -> int:
        """Fire one slot unless the campaign stopped or used up its runs in the meantime;
        1 when this process created the run."""
        async with self.sessions() as session:
            status = await session.scalar(select(Campaign.status).where(Campaign.id == snapshot.id))
            if status != CampaignStatus.ACTIVE.value:
                return 0
            if snapshot.max_runs is not None:
                done = await queries.counted_runs(session, [snapshot.id])
                if done.get(snapshot.id, 0) >= snapshot.max_runs:
                    return 0
        return int(await self.fire(snapshot.id, slot, at) is not None)

    async def fire(self, campaign_id: int, slot: triggers.Slot, at: datetime) -> Outcome | None:
        """Create the slot's run and expand it, in one transaction; None when the slot
        already had its run (this process lost the race, or fired it before)."""
        async with UnitOfWork(self.sessions) as uow:
            run_id = await runs.create_run(uow.session, campaign_id, slot.key, slot.at, at)
            if run_id is None:
                return None
            outcome = await runs.expand(
                uow.session, run_id, self.community, self.settings.respect, at
            )
            await uow.commit()
        logger.info(
            "campaign %d fired slot %s (run %d): %s",
            campaign_id, slot.key, run_id, outcome.reason or runs.describe(outcome.counts),
        )  # fmt: skip
        return outcome

    async def expand_pending(self) -> int:
        """Expand the runs created but not expanded (idempotent); returns how many."""
        async with self.sessions() as session:
            pending = list(
                await session.scalars(
                    select(CampaignRun.id)
                    .where(CampaignRun.status == RunStatus.PENDING.value)
                    .order_by(CampaignRun.id)
                )
            )
        for run_id in pending:
            async with UnitOfWork(self.sessions) as uow:
                await runs.expand(
                    uow.session, run_id, self.community, self.settings.respect, self.clock.now()
                )
                await uow.commit()
        if pending:
            await self._wake()
        return len(pending)

    async def _finish_over(self, snapshots: list[_Snapshot], now: datetime) -> list[_Snapshot]:
        """Mark finished the campaigns with nothing left to fire (end date passed, no slot
        left, `max_runs` reached); returns the snapshots, updated."""
        ending: dict[int, str] = {}
        for snapshot in snapshots:
            if snapshot.status != CampaignStatus.ACTIVE.value:
                continue
            try:
                if snapshot.next_slot(now) is None:
                    ending[snapshot.id] = "ends_on" if snapshot.ends_on else "no more slots"
            except ValueError:
                continue
        limited = [s.id for s in snapshots if s.max_runs is not None and s.id not in ending]
        if limited:
            async with self.sessions() as session:
                done = await queries.counted_runs(session, limited)
            for snapshot in snapshots:
                if snapshot.id in limited and done.get(snapshot.id, 0) >= (snapshot.max_runs or 0):
                    ending[snapshot.id] = "max_runs"
        if not ending:
            return snapshots
        async with UnitOfWork(self.sessions) as uow:
            finished = set(await queries.finish(uow.session, sorted(ending)))
            for campaign_id in sorted(finished):
                uow.session.add(
                    AuditEntry(
                        at=now,
                        actor_id=None,
                        action="campaign.finish",
                        subject=f"campaign:{campaign_id}",
                        details={"reason": ending[campaign_id]},
                    )
                )
                logger.info("campaign %d finished (%s)", campaign_id, ending[campaign_id])
            await uow.commit()
        return [
            dataclasses.replace(snapshot, status=CampaignStatus.FINISHED.value)
            if snapshot.id in finished
            else snapshot
            for snapshot in snapshots
        ]

    # --- progress ------------------------------------------------------------------------------

    async def follow_progress(self) -> int:
        """Edit the starters' progress messages and settle finished runs; returns how many
        edits were queued."""
        edits = await progress.follow(self.sessions, self.clock.now(), self.community)
        if edits:
            await self._wake()
        return edits

    async def _wake(self) -> None:
        if self.on_outbox is None:
            return
        result = self.on_outbox()
        if result is not None:
            await result


def settings_from(values: Mapping[str, Any]) -> EngineSettings:
    """Engine settings from plain values (the `[campaigns]` section as a dict)."""
    return EngineSettings(
        grace=timedelta(minutes=float(values.get("grace_minutes", 60))),
        respect=Respect(
            cap_messages=int(values.get("cap_messages", 2)),
            cap_days=int(values.get("cap_days", 7)),
            quiet_hours=str(values.get("quiet_hours", DEFAULT_QUIET_HOURS)),
            digest_soon_days=int(values.get("digest_soon_days", 7)),
        ),
        progress_seconds=float(values.get("progress_seconds", 5.0)),
        resync_seconds=float(values.get("resync_seconds", 60.0)),
    )
