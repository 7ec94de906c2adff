"""The offer reminder job: every few minutes (and once at start), move each late pending
offer along the timeline of `handlers.reminders` (remind the leaders, tell the community
managers, release the offer with an apology).

Each offer is handled in its own transaction, so one failure does not hold back the others,
and each stage is applied by a conditional update: two workers running this job at once, or
a restart in the middle, never send a stage twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from handlers import reminders
from handlers.context import Services
from store import reminders as store_reminders
from store.uow import UnitOfWork

logger = logging.getLogger(__name__)

CHECK_SECONDS = 300.0
BATCH = 500


async def remind_overdue(services: Services) -> int:
    """Apply every stage due now; returns how many stages were applied by this call."""
    now = services.now()
    days = services.community.offer_answer_days
    async with services.sessions() as session:
        waiting = await store_reminders.waiting_since(
            session, reminders.first_due(now, days), BATCH
        )
    applied = queued = 0
    for offer in waiting:
        stage = reminders.due_stage(offer.created_at, offer.stage, now, days)
        if stage is None:
            continue
        try:
            async with UnitOfWork(services.sessions) as uow:
                ctx = reminders.system_ctx(services, uow.session)
                if await reminders.apply_stage(ctx, offer.offer_id, stage):
                    applied += 1
                    queued += ctx.queued
                await uow.commit()
        except Exception:
            logger.exception("offer %d: reminder stage %d failed", offer.offer_id, stage)
    if queued and services.on_outbox is not None:
        woken = services.on_outbox()
        if woken is not None:
            await woken
    if applied:
        logger.info("offer reminders: %d stage(s) applied", applied)
    return applied


async def run_reminders(
    services: Services, stop: asyncio.Event, every: float = CHECK_SECONDS
) -> None:
    """Run `remind_overdue` now, then every `every` seconds until `stop` is set."""
    while not stop.is_set():
        try:
            await remind_overdue(services)
        except Exception:
            logger.exception("the offer reminder job failed; trying again later")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
