"""Runs: one firing of a campaign, created exactly once and expanded into the outbox once.

`create_run` inserts the `campaign_runs` row with INSERT ... ON CONFLICT DO NOTHING on
(campaign, slot): when two workers, a restart or a DST change fire the same slot, one insert
wins and only its caller goes on to `expand` the run, in the same transaction. A crash before
the commit leaves nothing behind; a run found still `pending` (written by an older version or
by hand) is expanded at the next start, and expanding is idempotent: deliveries are unique on
(purpose, target) and written with ON CONFLICT DO NOTHING.

Expanding a run resolves its audience, builds each target's message in the target's language
(the handlers' `build_prompt`) and writes the `deliveries` rows in bulk. Members are
respected: a private message falling in the member's quiet hours waits for their end
(`not_before`); past the frequency cap (campaign messages per member over a number of days,
every platform together) the row is written as `skipped` with error "cap"; a member who can no
longer be written to privately gets a `skipped` row with error "unreachable". Skipped rows
keep those reasons countable in the statistics.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.campaign_content import RunContext, build_prompt
from handlers.chat import Platform, Target
from handlers.context import Community
from handlers.i18n import negotiate, use_language
from handlers.serial import dump
from schedules import progress
from schedules.plans import PLANNERS, Env, Plan, Respect
from store import audiences, members
from store import campaigns as queries
from store import respect as store_respect
from store.models import (
    Campaign,
    CampaignRun,
    DeliveryStatus,
    Member,
    RunStatus,
)

logger = logging.getLogger(__name__)

MANUAL = queries.MANUAL_PREFIX


@dataclass
class Outcome:
    """What expanding a run did: its status, and its deliveries by status (skips by reason)."""

    run_id: int
    status: str
    reason: str | None = None
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def queued(self) -> int:
        return self.counts.get(DeliveryStatus.PENDING.value, 0)


def manual_slot(now: datetime) -> str:
    """The slot name of a run started by hand: "manual:" and the UTC time (ms)."""
    return MANUAL + now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


async def create_run(
    session: AsyncSession,
    campaign_id: int,
    slot: str,
    scheduled_at: datetime,
    now: datetime,
    *,
    started_by: int | None = None,
    status: RunStatus = RunStatus.PENDING,
    details: dict[str, Any] | None = None,
) -> int | None:
    """The new run's id, or None when that slot already has its run."""
    return await queries.insert_run(
        session,
        campaign_id=campaign_id,
        slot=slot,
        scheduled_at=scheduled_at,
        status=status.value,
        started_by=started_by,
        details=details or {},
        created_at=now,
        finished_at=now if status in (RunStatus.SKIPPED, RunStatus.DONE) else None,
    )


# --- members' time --------------------------------------------------------------------------


def not_before(
    recipient: audiences.Recipient, at: datetime, community: Community, respect: Respect
) -> datetime:
    """`at`, or the end of the member's quiet hours when `at` falls in them."""
    return store_respect.not_before(
        at,
        member_zone=recipient.timezone,
        member_quiet=recipient.quiet_hours,
        community_zone=community.tz,
        default_quiet=respect.quiet_hours,
    )


# --- expansion --------------------------------------------------------------------------------


class _Rows:
    """The delivery rows of one run, with the messages built once per language."""

    def __init__(self, run_id: int, community: Community, now: datetime) -> None:
        self.run_id = run_id
        self.community = community
        self.now = now
        self.rows: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()
        self._payloads: dict[tuple[int, str, bool], dict[str, Any]] = {}

    def payload(self, context: RunContext, language: str, private: bool) -> dict[str, Any]:
        key = (id(context), language, private)
        found = self._payloads.get(key)
        if found is None:
            found = dump(build_prompt(context, language, private=private))
            self._payloads[key] = found
        return found

    def add(
        self,
        *,
        target: Target,
        suffix: str = "",
        member_id: int | None = None,
        payload: dict[str, Any] | None = None,
        status: DeliveryStatus = DeliveryStatus.PENDING,
        error: str = "",
        not_before: datetime | None = None,
    ) -> None:
        self.rows.append(
            {
                "purpose": f"campaign:{self.run_id}{suffix}",
                "target": target.key,
                "platform": target.platform.value,
                "member_id": member_id,
                "run_id": self.run_id,
                "payload": payload or {},
                "status": status.value,
                "attempts": 0,
                "error": error,
                "not_before": not_before or self.now,
                "created_at": self.now,
            }
        )
        self.counts[status.value if status != DeliveryStatus.SKIPPED else f"skipped:{error}"] += 1


def _language(recipient: audiences.Recipient, community: Community) -> str:
    return recipient.locale or negotiate(recipient.language_code) or community.default_language


def _platform(value: str) -> Platform | None:
    try:
        return Platform(value)
    except ValueError:
        return None


async def _members_of(
    session: AsyncSession, plan: Plan
) -> tuple[list[tuple[int, str, RunContext]], dict[int, audiences.Recipient]]:
    """(member, purpose suffix, context) to write to, and where each member is."""
    if plan.personal:
        found = await audiences.member_recipients(
            session, [member_id for member_id, _suffix, _context in plan.personal]
        )
        return plan.personal, found
    condition = audiences.audience_filter(plan.audience, plan.project_id)
    if condition is None or plan.context is None:
        return [], {}
    recipients = await audiences.recipients(session, condition)
    context = plan.context
    return (
        [(recipient.member_id, "", context) for recipient in recipients],
        {recipient.member_id: recipient for recipient in recipients},
    )


async def expand(
    session: AsyncSession,
    run_id: int,
    community: Community,
    respect: Respect,
    now: datetime,
) -> Outcome:
    """Write the run's deliveries (once: a run that is not `pending` is left as it is)."""
    run = await session.get(CampaignRun, run_id, with_for_update=True, populate_existing=True)
    if run is None:
        raise LookupError(f"no campaign run {run_id}")
    if run.status != RunStatus.PENDING.value:
        return Outcome(run_id, run.status, (run.details or {}).get("reason"))
    campaign = await session.get_one(Campaign, run.campaign_id)
    env = Env(campaign, run, community, respect, now)
    planner = PLANNERS.get(campaign.kind)
    if planner is None:
        return await _finish(session, run, RunStatus.SKIPPED, now, reason="unknown kind")
    plan: Plan = await planner(session, env)
    if plan.skip is not None:
        return await _finish(session, run, RunStatus.SKIPPED, now, reason=plan.skip)

    rows = _Rows(run.id, community, now)
    if plan.context is not None:
        with use_language(community.default_language):
            for chat in plan.groups:
                platform = _platform(chat.platform)
                if platform is None:
                    continue
                rows.add(
                    target=Target(platform, chat.external_id, False),
                    payload=rows.payload(plan.context, community.default_language, False),
                )

    personal, where = await _members_of(session, plan)
    if personal:
        since = now - timedelta(days=respect.cap_days)
        counts = await audiences.recent_campaign_counts(session, since)
        for member_id, suffix, context in personal:
            recipient = where.get(member_id)
            platform = _platform(recipient.platform) if recipient is not None else None
            if recipient is None or platform is None:
                continue  # no consent, or no identity to write to
            target = Target(platform, recipient.external_id, True)
            if recipient.unreachable:
                rows.add(
                    target=target,
                    suffix=suffix,
                    member_id=member_id,
                    status=DeliveryStatus.SKIPPED,
                    error="unreachable",
                )
                continue
            if counts.get(member_id, 0) >= respect.cap_messages:
                rows.add(
                    target=target,
                    suffix=suffix,
                    member_id=member_id,
                    status=DeliveryStatus.SKIPPED,
                    error="cap",
                )
                continue
            counts[member_id] = counts.get(member_id, 0) + 1
            rows.add(
                target=target,
                suffix=suffix,
                member_id=member_id,
                payload=rows.payload(context, _language(recipient, community), True),
                not_before=not_before(recipient, now, community, respect),
            )

    if not rows.rows:
        return await _finish(session, run, RunStatus.SKIPPED, now, reason="no recipients")
    await queries.insert_deliveries(session, rows.rows)
    run.details = {**(run.details or {}), **plan.details, "counts": dict(rows.counts)}
    status = RunStatus.DISPATCHING if rows.counts.get("pending") else RunStatus.DONE
    if run.started_by is not None:
        await _progress_message(session, run, campaign, community, rows.counts, now)
        status = RunStatus.DISPATCHING  # settled by the engine, which tells the starter
    run.status = status.value
    run.finished_at = now if status == RunStatus.DONE else None
    return Outcome(run.id, run.status, None, rows.counts)


async def _finish(
    session: AsyncSession, run: CampaignRun, status: RunStatus, now: datetime, *, reason: str
) -> Outcome:
    run.status = status.value
    run.finished_at = now
    run.details = {**(run.details or {}), "reason": reason}
    logger.info("campaign run %d: %s (%s)", run.id, status.value, reason)
    return Outcome(run.id, run.status, reason)


async def _progress_message(
    session: AsyncSession,
    run: CampaignRun,
    campaign: Campaign,
    community: Community,
    counts: Mapping[str, int],
    now: datetime,
) -> None:
    """Tell the person who started the run that it is on its way (edited as it goes)."""
    assert run.started_by is not None
    identity = await members.preferred_identity(session, run.started_by)
    platform = _platform(identity.platform) if identity is not None else None
    if identity is None or platform is None:
        return
    language = await _member_language(session, run.started_by, community)
    with use_language(language):
        message = progress.started(campaign.name, sum(counts.values()))
    target = Target(platform, identity.external_id, True)
    await queries.insert_deliveries(
        session,
        [
            {
                "purpose": progress.purpose(run.id),
                "target": target.key,
                "platform": platform.value,
                "member_id": run.started_by,
                "run_id": None,  # not a campaign message: no cap, not in the statistics
                "payload": dump(message),
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "error": "",
                "not_before": now,
                "created_at": now,
            }
        ],
    )
    run.details = {**(run.details or {}), "progress": {"language": language, "edits": 0}}


async def _member_language(session: AsyncSession, member_id: int, community: Community) -> str:
    member = await session.get(Member, member_id)
    if member is not None and member.locale:
        return member.locale
    identity = await members.preferred_identity(session, member_id)
    code = negotiate(identity.language_code) if identity is not None else None
    return code or community.default_language


def describe(counts: Mapping[str, int]) -> str:
    """ "3 pending, 2 skipped (cap)" for logs and the command line."""
    parts = []
    for key, count in sorted(counts.items()):
        status, _sep, reason = key.partition(":")
        parts.append(f"{count} {status}" + (f" ({reason})" if reason else ""))
    return ", ".join(parts) or "nothing"


__all__ = [
    "Outcome",
    "Respect",
    "create_run",
    "describe",
    "expand",
    "manual_slot",
    "not_before",
]
