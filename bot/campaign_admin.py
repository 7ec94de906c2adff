"""`cds-bot campaigns ...`: list, show, pause, resume and run campaigns from a terminal.

A running bot notices a pause or a resume made here within `[campaigns] resync_seconds`.
`run` fires the campaign at once (as /campaign run does), then sends what it can from this
process (console deliveries, printed) and tells how many deliveries wait for the running bot
(`cds-bot run`) on each platform.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import func, select

from bot.app import build_app
from bot.config import Settings, community_from
from bot.console import ConsoleMessenger, Screen
from handlers.chat import Platform
from schedules import triggers
from store import campaigns as queries
from store.db import create_engine, session_factory
from store.models import AuditEntry, Campaign, CampaignRun, CampaignStatus, Delivery
from store.uow import UnitOfWork


class CampaignNotFound(LookupError):
    """No campaign has that id (or it was deleted)."""


def _local(at: datetime | None, timezone: str) -> str:
    if at is None:
        return "-"
    return at.astimezone(triggers.zone(timezone)).strftime("%Y-%m-%d %H:%M")


def _next(campaign: Campaign, now: datetime) -> datetime | None:
    if campaign.status != CampaignStatus.ACTIVE.value:
        return None
    try:
        slot = triggers.next_slot(campaign.schedule, campaign.timezone, now)
    except ValueError:
        return None
    if slot is None or (campaign.ends_on is not None and slot.local.date() > campaign.ends_on):
        return None
    return slot.at


async def list_campaigns(settings: Settings, out: TextIO = sys.stdout) -> int:
    """One line per campaign (deleted ones left out)."""
    engine = create_engine(settings.database.url)
    now = datetime.now(UTC)
    try:
        async with session_factory(engine)() as session:
            found = list(
                await session.scalars(
                    select(Campaign)
                    .where(Campaign.status != CampaignStatus.DELETED.value)
                    .order_by(Campaign.id)
                )
            )
    finally:
        await engine.dispose()
    if not found:
        print("no campaigns", file=out)
        return 0
    print(
        f"{'id':>4}  {'code':8}  {'kind':9}  {'status':8}  {'next run (local)':16}  name", file=out
    )
    for campaign in found:
        upcoming = _local(_next(campaign, now), campaign.timezone)
        print(
            f"{campaign.id:>4}  {campaign.code:8}  {campaign.kind:9}  {campaign.status:8}  "
            f"{upcoming:16}  {campaign.name}",
            file=out,
        )
    return 0


async def show_campaign(settings: Settings, campaign_id: int, out: TextIO = sys.stdout) -> int:
    """The campaign, its next runs, its statistics and its last runs."""
    engine = create_engine(settings.database.url)
    now = datetime.now(UTC)
    try:
        async with session_factory(engine)() as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None or campaign.status == CampaignStatus.DELETED.value:
                raise CampaignNotFound(f"no campaign {campaign_id}")
            stats = await queries.stats(session, campaign_id)
            last_runs = list(
                await session.scalars(
                    select(CampaignRun)
                    .where(CampaignRun.campaign_id == campaign_id)
                    .order_by(CampaignRun.scheduled_at.desc(), CampaignRun.id.desc())
                    .limit(5)
                )
            )
    finally:
        await engine.dispose()
    tz = campaign.timezone
    print(f"campaign {campaign.id} ({campaign.code}): {campaign.name}", file=out)
    print(f"  kind {campaign.kind}, status {campaign.status}, time zone {tz}", file=out)
    print(f"  schedule {campaign.schedule}", file=out)
    if campaign.ends_on or campaign.max_runs:
        print(
            f"  ends on {campaign.ends_on or '-'}, at most {campaign.max_runs or '-'} runs",
            file=out,
        )
    print(f"  audience {campaign.audience}", file=out)
    if campaign.status == CampaignStatus.ACTIVE.value:
        try:
            upcoming = triggers.next_slots(campaign.schedule, tz, now, 3)
        except ValueError as exc:
            print(f"  bad schedule: {exc}", file=out)
            upcoming = []
        if campaign.ends_on is not None:
            upcoming = [slot for slot in upcoming if slot.local.date() <= campaign.ends_on]
        shown = ", ".join(_local(slot.at, tz) for slot in upcoming) or "none"
        print(f"  next runs (local): {shown}", file=out)
    skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(stats.skipped.items()))
    print(
        f"  runs {stats.runs} (+{stats.runs_skipped} skipped); deliveries {stats.deliveries}: "
        f"{stats.sent} sent, {stats.pending} pending, {stats.failed} failed, "
        f"{stats.unknown} unknown, {stats.held} held, skipped: {skipped or 'none'}",
        file=out,
    )
    print(
        f"  responses: {stats.answers} answers, {stats.votes} votes, {stats.clicks} clicks, "
        f"{stats.offers} offers",
        file=out,
    )
    for run in last_runs:
        reason = (run.details or {}).get("reason")
        print(
            f"  run {run.id}: slot {run.slot}, {run.status}" + (f" ({reason})" if reason else ""),
            file=out,
        )
    return 0


async def set_status(settings: Settings, campaign_id: int, status: CampaignStatus) -> str:
    """Pause or resume; resuming starts afresh (slots of the pause are not run late)."""
    engine = create_engine(settings.database.url)
    now = datetime.now(UTC)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            campaign = await uow.session.get(Campaign, campaign_id)
            if campaign is None or campaign.status == CampaignStatus.DELETED.value:
                raise CampaignNotFound(f"no campaign {campaign_id}")
            if campaign.status == status.value:
                return f"campaign {campaign_id} is already {status.value}"
            if campaign.status == CampaignStatus.FINISHED.value:
                return f"campaign {campaign_id} is finished; it cannot be {status.value}"
            previous = campaign.status
            campaign.status = status.value
            campaign.updated_at = now
            action = "campaign.resume" if status == CampaignStatus.ACTIVE else "campaign.pause"
            uow.session.add(
                AuditEntry(
                    at=now,
                    action=action,
                    subject=f"campaign:{campaign_id}",
                    details={"from": previous, "by": "command line"},
                )
            )
            await uow.commit()
    finally:
        await engine.dispose()
    return f"campaign {campaign_id}: {previous} -> {status.value}"


async def run_campaign(settings: Settings, campaign_id: int, out: TextIO = sys.stdout) -> int:
    """Fire the campaign now, send the console deliveries here, and say what is left."""
    messenger = ConsoleMessenger(Screen(out))
    app = await build_app(
        settings, messengers={Platform.CONSOLE: messenger}, community=community_from(settings)
    )
    async with app:
        campaigns = app.campaigns
        assert campaigns is not None
        try:
            run_id = await campaigns.run_now(campaign_id, None)
        except LookupError:
            raise CampaignNotFound(f"no campaign {campaign_id}") from None
        await app.dispatcher.drain()
        await campaigns.follow_progress()
        async with app.sessions() as session:
            run = await session.get_one(CampaignRun, run_id)
            rows = await session.execute(
                select(Delivery.platform, Delivery.status, Delivery.error, func.count())
                .where(Delivery.run_id == run_id)
                .group_by(Delivery.platform, Delivery.status, Delivery.error)
            )
            by_platform: dict[str, Counter[str]] = {}
            for platform, status, error, count in rows:
                key = f"{status} ({error})" if status == "skipped" else status
                by_platform.setdefault(platform, Counter())[key] += count
    reason = (run.details or {}).get("reason")
    print(
        f"run {run_id} of campaign {campaign_id}: {run.status}"
        + (f" ({reason})" if reason else ""),
        file=out,
    )
    for platform, counts in sorted(by_platform.items()):
        summary = ", ".join(f"{count} {key}" for key, count in sorted(counts.items()))
        print(f"  {platform}: {summary}", file=out)
        if platform != Platform.CONSOLE.value and counts.get("pending"):
            print(
                f"  {platform}: the pending ones are sent by the running bot (`cds-bot run`)",
                file=out,
            )
    return 0
