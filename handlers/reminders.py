"""Promises kept on offers: leaders answer within N days, and members cannot flood them.

The timeline of a pending offer, N being `[offers] answer_within_days` (default 3):

| stage | when (after the offer)  | who hears it            | what happens                         |
|-------|-------------------------|-------------------------|--------------------------------------|
| 1     | N / 2   (1.5 days)      | the project's leaders   | a reminder, with Accept / Decline    |
| 2     | N       (3 days)        | the community managers  | the offer is overdue, with buttons   |
| 3     | N + N/2 (4.5 days)      | the member, the leaders | an apology; the offer is released:   |
|       |                         |                         | declined, reason "no answer in time",|
|       |                         |                         | decided by nobody                    |

Any decision (accept, decline, withdraw) stops the timeline: only pending offers move on.
Each stage happens once: `store.reminders.advance` moves `Offer.reminder_stage` with a
conditional UPDATE, and the messages are queued in the same transaction, so two workers or a
restart cannot send a stage twice. After an outage only the latest due stage is applied (a
reminder is pointless once the offer is being released), so a skipped stage is never sent
late. The periodic job that applies the stages is `schedules.reminders`.

A project without leaders has its reminders (stage 1) sent to the community managers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import lookup, notify
from handlers.cards import offer_summary
from handlers.chat import Actor, Button, Identity, Message, Place, Platform, Rich, Span, bold, rows
from handlers.context import Ctx, Services
from handlers.errors import TooManyOffersPerHour, TooManyPendingOffers
from handlers.i18n import N_, _
from store import members
from store import reminders as store_reminders
from store.models import AuditEntry, Member, Need, Offer, OfferStatus, Project

logger = logging.getLogger(__name__)

# Stored in Offer.reason (in English, like the other reasons the bot writes itself).
RELEASED_REASON = N_("no answer in time")
LEADERS, MANAGERS, MEMBER = "leaders", "managers", "member"


@dataclass(frozen=True, slots=True)
class Stage:
    number: int
    after: float  # in answer periods (N days) after the offer was made
    audience: str
    purpose: str  # `offer:<id>:<purpose>`
    audit: str


STAGES: tuple[Stage, ...] = (
    Stage(1, 0.5, LEADERS, "remind", "offer.remind"),
    Stage(2, 1.0, MANAGERS, "overdue", "offer.overdue"),
    Stage(3, 1.5, MEMBER, "released", "offer.release"),
)
BY_NUMBER = {stage.number: stage for stage in STAGES}
HOUR = timedelta(hours=1)


# --- the rules, as pure functions ------------------------------------------------------------


def stage_at(offer_created_at: datetime, stage: int, days: float) -> datetime:
    """When `stage` is due for an offer made at `offer_created_at`."""
    return offer_created_at + timedelta(days=days) * BY_NUMBER[stage].after


def due_stage(offer_created_at: datetime, stage: int, now: datetime, days: float) -> int | None:
    """The stage to apply now to a pending offer that reached `stage`: the latest one whose
    time has come, or None when nothing is due yet."""
    due = [
        later.number
        for later in STAGES
        if later.number > stage and stage_at(offer_created_at, later.number, days) <= now
    ]
    return max(due) if due else None


def first_due(now: datetime, days: float) -> datetime:
    """Offers made after this moment have no stage due yet."""
    return now - timedelta(days=days) * STAGES[0].after


# --- bounds on offers ------------------------------------------------------------------------


async def check_offer_limits(ctx: Ctx) -> None:
    """A member has a bounded number of pending offers, and of offers per hour."""
    community = ctx.community
    member_id = ctx.actor.member_id
    pending = await store_reminders.pending_count(ctx.session, member_id)
    if pending >= community.offer_max_pending:
        raise TooManyPendingOffers(count=pending)
    recent = await store_reminders.made_since(ctx.session, member_id, ctx.now() - HOUR)
    if recent >= community.offer_max_per_hour:
        raise TooManyOffersPerHour(count=recent)


# --- applying one stage ----------------------------------------------------------------------


def system_ctx(services: Services, session: AsyncSession) -> Ctx:
    """A context for what the bot does on its own (no member acts): it only queues messages
    through `notify`; audit entries it writes have no actor."""
    community = services.community
    identity = Identity(Platform.CONSOLE, "system", None, community.name)
    actor = Actor(0, identity, community.name, community.default_language, frozenset())
    return Ctx(session, actor, Place(Platform.CONSOLE, "system", True), services)


async def apply_stage(ctx: Ctx, offer_id: int, stage: int) -> bool:
    """Move the offer to `stage` and queue what it says, unless someone decided the offer or
    applied the stage first; True when this call did it."""
    now = ctx.now()
    step = BY_NUMBER[stage]
    values: dict[str, object] = {}
    if step.audience == MEMBER:
        values = {
            "status": OfferStatus.DECLINED.value,
            "reason": RELEASED_REASON,
            "decided_by": None,
            "decided_at": now,
        }
    if not await store_reminders.advance(ctx.session, offer_id, stage, **values):
        return False
    offer = await ctx.session.get_one(Offer, offer_id)
    await ctx.session.refresh(offer)
    need = await ctx.session.get_one(Need, offer.need_id)
    project = await ctx.session.get_one(Project, need.project_id)
    days = ctx.community.offer_answer_days
    name = await _name(ctx, offer.member_id)
    letter = _Letter(offer, need, project, name, days, ctx.community.tz)
    purpose = f"offer:{offer.id}:{step.purpose}"
    leaders = await lookup.leader_ids(ctx, project.id)
    if step.audience == LEADERS:
        for member_id in leaders or await _manager_ids(ctx):
            await notify.to_member(ctx, member_id, purpose, letter.reminder)
    elif step.audience == MANAGERS:
        names = [await _name(ctx, member_id) for member_id in leaders]
        for member_id in await _manager_ids(ctx):
            await notify.to_member(ctx, member_id, purpose, lambda: letter.overdue(names))
    else:
        if offer.member_id is not None:
            await notify.to_member(ctx, offer.member_id, purpose, letter.apology)
        for member_id in leaders:
            await notify.to_member(ctx, member_id, purpose, letter.released)
    ctx.session.add(
        AuditEntry(
            at=now,
            actor_id=None,
            action=step.audit,
            subject=f"offer:{offer.id}",
            details={"stage": stage, "days": days},
        )
    )
    logger.info("offer %d: reminder stage %d applied", offer.id, stage)
    return True


async def _name(ctx: Ctx, member_id: int | None) -> str:
    member = await ctx.session.get(Member, member_id) if member_id is not None else None
    return member.display_name if member is not None and member.display_name else "—"


async def _manager_ids(ctx: Ctx) -> list[int]:
    community = ctx.community
    return await members.community_manager_ids(
        ctx.session, community.community_managers | community.admins
    )


@dataclass(frozen=True, slots=True)
class _Letter:
    """The messages of the timeline; each is built in its reader's language."""

    offer: Offer
    need: Need
    project: Project
    member_name: str
    days: int
    tz: ZoneInfo  # the community's: deadlines are shown in its local time

    def _moment(self, stage: int) -> str:
        at = stage_at(self.offer.created_at, stage, self.days)
        return at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def _buttons(self) -> tuple[tuple[Button, ...], ...]:
        return rows(
            Button("✅ " + _("Accept"), "acc", (str(self.offer.id),)),
            Button("✖️ " + _("Decline"), "dec", (str(self.offer.id),)),
        )

    def reminder(self) -> Message:
        lines: list[Rich | Span | str] = [
            Rich.of("⏰ ")
            + bold(
                _("{name} is waiting for your answer to offer no. {offer}.").format(
                    name=self.member_name, offer=self.offer.id
                )
            ),
            offer_summary(self.offer, self.need, self.project),
            _(
                "Please accept or decline it before {deadline}: after that the community "
                "manager is told, and on {release} the offer is released with an apology."
            ).format(deadline=self._moment(2), release=self._moment(3)),
        ]
        return Message(Rich.join(lines), self._buttons())

    def overdue(self, leaders: list[str]) -> Message:
        lines: list[Rich | Span | str] = [
            Rich.of("⚠️ ")
            + bold(
                _("Offer no. {offer} got no answer in {days} days.").format(
                    offer=self.offer.id, days=self.days
                )
            ),
            offer_summary(self.offer, self.need, self.project),
            _("From: {name}").format(name=self.member_name),
            _("The project's leaders: {leaders}.").format(leaders=", ".join(leaders) or "—"),
            _(
                "Unless someone answers it, it is released on {release} and the member "
                "receives an apology. You may answer it yourself."
            ).format(release=self._moment(3)),
        ]
        return Message(Rich.join(lines), self._buttons())

    def apology(self) -> Message:
        lines: list[Rich | Span | str] = [
            Rich.of("🙏 ") + bold(_("We are sorry, {name}.").format(name=self.member_name)),
            _(
                "The leaders of {project} could not answer your offer no. {offer} on “{need}” "
                "in time, so it is released: you are free of it."
            ).format(project=self.project.title, offer=self.offer.id, need=self.need.title),
            _(
                "This is our fault, not yours, and your help is precious: other needs are "
                "waiting for people like you, see /needs."
            ),
        ]
        return Message(Rich.join(lines))

    def released(self) -> Message:
        return Message(
            Rich.of(
                _(
                    "Offer no. {offer} from {name} on “{need}” got no answer in time: it is "
                    "released, and I apologised to them."
                ).format(offer=self.offer.id, name=self.member_name, need=self.need.title)
            )
        )
