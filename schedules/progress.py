"""What the person who started a run by hand sees: one message, edited as the run goes.

The first message is queued with the run's deliveries (`started`); once it is sent (the
outbox knows its message id) `follow`, called by the engine every few seconds, queues edits
of it while the counts change, and a final summary when nothing of the run is left to send
now. Edits are ordinary deliveries (`Edit` payloads, purposes "campaign:<run>:progress:<n>"),
so they go through the outbox's pacing and ordering like anything else, and are never sent
twice. `follow` also marks done, in one statement, the runs nobody follows once all their
deliveries are decided.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.chat import Edit, Message, MessageRef, Rich, Target, bold
from handlers.context import Community
from handlers.i18n import _, use_language
from handlers.serial import dump
from store import campaigns as queries
from store.models import Campaign, CampaignRun, Delivery, DeliveryStatus, RunStatus
from store.uow import UnitOfWork

logger = logging.getLogger(__name__)


def purpose(run_id: int) -> str:
    return f"campaign:{run_id}:progress"


def edit_purpose(run_id: int, number: int) -> str:
    return f"campaign:{run_id}:progress:{number}"


@dataclass(frozen=True, slots=True)
class Tally:
    """A run's deliveries, as the starter is told about them."""

    total: int = 0
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    unreachable: int = 0  # skipped as unreachable, or held for the member's return
    capped: int = 0
    waiting: int = 0  # pending, due later (quiet hours)
    due: int = 0  # pending now, or being sent

    @classmethod
    def of(cls, counts: Mapping[str, int], waiting: int) -> Tally:
        pending = counts.get("pending", 0) + counts.get("sending", 0)
        return cls(
            total=sum(counts.values()),
            sent=counts.get("sent", 0),
            failed=counts.get("failed", 0),
            unknown=counts.get("unknown", 0),
            unreachable=counts.get("skipped:unreachable", 0) + counts.get("held", 0),
            capped=counts.get("skipped:cap", 0),
            waiting=waiting,
            due=max(0, pending - waiting),
        )

    def as_list(self) -> list[int]:
        return [
            self.total,
            self.sent,
            self.failed,
            self.unknown,
            self.unreachable,
            self.capped,
            self.waiting,
            self.due,
        ]


def started(name: str, total: int) -> Message:
    """The first message: the run is on its way."""
    return Message(
        Rich.of("📣 ") + bold(name) + "\n" + _("Sending to {count} recipients…").format(count=total)
    )


def text(name: str, tally: Tally, *, finished: bool) -> Rich:
    """ "sent 340 / 1200, 3 failed, 2 unreachable", or the final summary."""
    if finished:
        head: Rich = Rich.of("✅ ") + bold(name)
        lines: list[Rich | str] = [
            head,
            _("Finished: {sent} sent of {total}.").format(sent=tally.sent, total=tally.total),
        ]
    else:
        lines = [
            Rich.of("📣 ") + bold(name),
            _("Sent {sent} / {total}").format(sent=tally.sent, total=tally.total),
        ]
    details = []
    if tally.failed:
        details.append(_("{count} failed").format(count=tally.failed))
    if tally.unknown:
        details.append(_("{count} outcome unknown").format(count=tally.unknown))
    if tally.unreachable:
        details.append(_("{count} unreachable").format(count=tally.unreachable))
    if tally.capped:
        details.append(_("{count} skipped (message limit)").format(count=tally.capped))
    if tally.waiting:
        details.append(_("{count} waiting for the end of quiet hours").format(count=tally.waiting))
    if details:
        lines.append(", ".join(details))
    return Rich.join(lines)


def edit(target: Target, message_id: str, name: str, tally: Tally, *, finished: bool) -> Edit:
    return Edit(MessageRef(target, message_id), Message(text(name, tally, finished=finished)))


# --- following runs -----------------------------------------------------------------------------


async def follow(
    sessions: async_sessionmaker[AsyncSession], now: datetime, community: Community
) -> int:
    """Settle the runs nobody follows, and edit the progress message of each run started by
    hand; returns how many edits were queued."""
    async with UnitOfWork(sessions) as uow:
        settled = await queries.settle_runs(uow.session, now)
        run_ids = await queries.started_runs_in_progress(uow.session)
        await uow.commit()
    if settled:
        logger.info("%d campaign run(s) done", settled)
    edits = 0
    for run_id in run_ids:
        try:
            edits += await _follow_run(sessions, run_id, now, community)
        except Exception:
            logger.exception("campaign run %d: progress failed", run_id)
    return edits


async def _follow_run(
    sessions: async_sessionmaker[AsyncSession], run_id: int, now: datetime, community: Community
) -> int:
    async with UnitOfWork(sessions) as uow:
        session = uow.session
        run = await session.get(CampaignRun, run_id, with_for_update=True)
        if run is None or run.status != RunStatus.DISPATCHING.value:
            return 0
        details = dict(run.details or {})
        state = dict(details.get("progress") or {})
        queued = 0
        if run.started_by is not None and state and not state.get("final"):
            queued = await _edit(session, run, state, now, community)
            details["progress"] = state
            run.details = details
        told = run.started_by is None or not state or state.get("final")
        if told and not await queries.open_deliveries(session, run_id):
            run.status = RunStatus.DONE.value
            run.finished_at = now
        await uow.commit()
    return queued


async def _edit(
    session: AsyncSession,
    run: CampaignRun,
    state: dict[str, Any],
    now: datetime,
    community: Community,
) -> int:
    """Queue an edit of the starter's message when the counts changed (or the final one)."""
    first = await session.scalar(select(Delivery).where(Delivery.purpose == purpose(run.id)))
    if first is None or first.status in (
        DeliveryStatus.FAILED.value,
        DeliveryStatus.UNKNOWN.value,
        DeliveryStatus.SKIPPED.value,
        DeliveryStatus.HELD.value,
    ):
        state["final"] = True  # the starter cannot see it: nothing to edit
        return 0
    if first.status != DeliveryStatus.SENT.value or first.message_id is None:
        return 0  # not out yet
    counts = await queries.run_progress(session, run.id)
    waiting = int(
        await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(
                Delivery.run_id == run.id,
                Delivery.status == DeliveryStatus.PENDING.value,
                Delivery.not_before > now,
            )
        )
        or 0
    )
    tally = Tally.of(counts, waiting)
    finished = tally.due == 0
    if tally.as_list() == state.get("last") and not finished:
        return 0
    name = await session.scalar(select(Campaign.name).where(Campaign.id == run.campaign_id))
    number = int(state.get("edits", 0)) + 1
    with use_language(str(state.get("language") or community.default_language)):
        message = edit(
            Target.parse(first.target), first.message_id, name or "", tally, finished=finished
        )
    await queries.insert_deliveries(
        session,
        [
            {
                "purpose": edit_purpose(run.id, number),
                "target": first.target,
                "platform": first.platform,
                "member_id": first.member_id,
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
    state.update(edits=number, last=tally.as_list(), final=finished)
    return 1
