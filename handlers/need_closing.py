"""Closing a need: `/closeneed` marks it fulfilled or cancelled, updates its announcements, and
tells the members concerned (pending offers declined or kept, contributors thanked).

Separate from editing because closing is a decision about the offers too, not a change of
wording."""

from __future__ import annotations

from handlers import dialogs, lookup, notify, recognition
from handlers.cards import NEED_STATUS_LABELS, need_summary
from handlers.chat import Command, Message, Rich, Span, bold
from handlers.context import Ctx
from handlers.errors import NeedClosed, Usage
from handlers.i18n import _
from handlers.need_announcements import refresh_announcements
from handlers.need_rules import audit, need_and_project, require_open_need, status_label
from store import needs as store_needs
from store import offers as store_offers
from store.models import Need, NeedStatus, Offer, OfferStatus, Project

CLOSING: dict[str, NeedStatus] = {
    NeedStatus.FULFILLED.value: NeedStatus.FULFILLED,
    NeedStatus.CANCELLED.value: NeedStatus.CANCELLED,
}
CANCELLED_REASON = "need cancelled"


def _closing_status(word: str) -> NeedStatus | None:
    wanted = dialogs.clean_text(word).casefold()
    for value, status in CLOSING.items():
        if wanted in {value, _(NEED_STATUS_LABELS[value]).casefold()}:
            return status
    return None


async def cmd_closeneed(ctx: Ctx, cmd: Command) -> None:
    """Close one of your needs as fulfilled or cancelled, and update its announcements."""
    usage = _("/closeneed <need no.> fulfilled|cancelled")
    if len(cmd.args) < 2:
        raise Usage(usage=usage)
    status = _closing_status(cmd.args[1])
    if status is None:
        raise Usage(usage=usage)
    need, project = await need_and_project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    require_open_need(need)
    if not await store_needs.close(ctx.session, need.id, status.value, ctx.now()):
        await ctx.session.refresh(need)
        raise NeedClosed(status=status_label(need.status))
    await ctx.session.refresh(need)
    edited = await refresh_announcements(ctx, need, project, f"need:{need.id}:closed")
    pending = await store_offers.on_need(ctx.session, need.id, (OfferStatus.PENDING.value,))
    thanked = 0
    if status is NeedStatus.CANCELLED:
        told = await _decline_for_cancelled_need(ctx, need, project, pending)
    else:
        told = await _tell_need_fulfilled(ctx, need, project, pending)
        # Every contributor hears what their contribution made possible.
        thanked = await recognition.thank_need_contributors(ctx, need, project)
    audit(
        ctx,
        "need.close",
        f"need:{need.id}",
        status=status.value,
        announcements=edited,
        pending_offers=[offer.id for offer in pending],
        offers_declined=status is NeedStatus.CANCELLED,
        contributors_thanked=thanked,
    )
    lines: list[Rich | Span | str] = [
        bold(
            _("Need #{need} is now {status}.").format(
                need=need.id, status=status_label(need.status)
            )
        ),
        need_summary(need),
    ]
    if edited:
        lines.append(_("Its announcements in {count} groups will be updated.").format(count=edited))
    if thanked:
        lines.append(
            _("I told its {count} contributors what their help made possible.").format(
                count=thanked
            )
        )
    if pending and status is NeedStatus.CANCELLED:
        lines.append(
            _("{count} pending offers were declined; I told the members.").format(count=told)
        )
    elif pending:
        lines.append(
            _(
                "{count} offers are still pending: I told the members; decide them with /offers."
            ).format(count=len(pending))
        )
    ctx.reply(Rich.join(lines))


async def _decline_for_cancelled_need(
    ctx: Ctx, need: Need, project: Project, pending: list[Offer]
) -> int:
    declined = 0
    for offer in pending:
        won = await store_offers.transition(
            ctx.session,
            offer.id,
            from_statuses=(OfferStatus.PENDING.value,),
            to_status=OfferStatus.DECLINED.value,
            reason=CANCELLED_REASON,
            decided_by=ctx.actor.member_id,
            decided_at=ctx.now(),
        )
        if not won:
            continue
        declined += 1
        if offer.member_id is None:
            continue
        offer_id = offer.id

        def build(offer_id: int = offer_id) -> Message:
            return Message(
                Rich.join(
                    [
                        _(
                            "The need “{need}” of {project} was cancelled, so your offer no. "
                            "{offer} is closed. Thank you for offering!"
                        ).format(need=need.title, project=project.title, offer=offer_id),
                        _("Other needs are waiting: see /needs."),
                    ]
                )
            )

        await notify.to_member(ctx, offer.member_id, f"offer:{offer.id}:declined", build)
    return declined


async def _tell_need_fulfilled(ctx: Ctx, need: Need, project: Project, pending: list[Offer]) -> int:
    told = 0
    for offer in pending:
        if offer.member_id is None:
            continue
        offer_id = offer.id

        def build(offer_id: int = offer_id) -> Message:
            return Message(
                Rich.of(
                    _(
                        "Good news: the need “{need}” of {project} is fulfilled. Your offer no. "
                        "{offer} is still pending: the leaders will tell you if they can use it."
                    ).format(need=need.title, project=project.title, offer=offer_id)
                )
            )

        if await notify.to_member(ctx, offer.member_id, f"need:{need.id}:fulfilled", build):
            told += 1
    return told


__all__ = ["cmd_closeneed"]
