"""The leaders' review of offers: `/offers` lists those waiting for an answer on the projects
a member leads (every project for community managers), and the Accept, Decline (with an
optional reason, asked in a one-question conversation) and Mark done buttons answer one and
tell the member.

Every press re-checks that the actor leads the offer's project and that nobody answered first:
the button proves nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers import dialogs, lookup, notify, recognition, referrals
from handlers.cards import offer_summary
from handlers.chat import Command, Message, Press, Rich, Span, bold, italic
from handlers.context import Ctx
from handlers.dialogs import Data, Dialog, FreeText, Step
from handlers.errors import OfferAlreadyDecided, StaleButton
from handlers.i18n import _
from handlers.offer_rules import (
    ACCEPTED,
    PENDING,
    WITHDRAWABLE,
    audit_offer,
    contact_of,
    decision_buttons,
    name_of,
    offer_parts,
    status_label,
)
from store import offers as store_offers
from store.models import Need, Offer, OfferStatus, Project, Role

REASON_MAX = 500
REVIEW_SHOWN = 30


async def cmd_offers(ctx: Ctx, cmd: Command) -> None:
    """Review the offers on your projects: accept, decline, or mark them done."""
    project_ids: list[int] | None
    if cmd.args:
        project = await lookup.project(ctx, cmd.args[0])
        await lookup.require_leader(ctx, project)
        project_ids = [project.id]
    elif ctx.actor.roles & {Role.CM.value, Role.ADMIN.value}:
        project_ids = None
    else:
        project_ids = await store_offers.led_project_ids(ctx.session, ctx.actor.member_id)
    found, total = await store_offers.for_review(
        ctx.session, project_ids=project_ids, statuses=WITHDRAWABLE, limit=REVIEW_SHOWN
    )
    if not found:
        ctx.reply(_("No offers are waiting for an answer."))
        await recognition.show_unthanked(ctx, project_ids)
        return
    ctx.reply(bold(_("Offers to answer: {count}").format(count=total)))
    for offer, need, project in found:
        lines: list[Rich | Span | str] = [offer_summary(offer, need, project)]
        lines.append(_("From: {name}").format(name=await name_of(ctx, offer.member_id)))
        if offer.share_contact and offer.member_id is not None:
            lines.append(
                _("Contact: {contact}").format(contact=await contact_of(ctx, offer.member_id))
            )
        ctx.reply(Rich.join(lines), decision_buttons(offer))
    if total > len(found):
        ctx.reply(
            _(
                "Showing the {shown} oldest. Answer them first, or choose a project: "
                "/offers <short name>."
            ).format(shown=len(found))
        )
    await recognition.show_unthanked(ctx, project_ids)


async def _led_offer(ctx: Ctx, offer_id: str) -> tuple[Offer, Need, Project]:
    """The offer a leader acts on, re-authorised on every press: the button proves nothing."""
    offer = await lookup.offer(ctx, offer_id)
    need, project = await offer_parts(ctx, offer)
    await lookup.require_leader(ctx, project)
    return offer, need, project


async def _decide(
    ctx: Ctx,
    offer: Offer,
    *,
    from_status: str,
    to_status: str,
    reason: str = "",
) -> None:
    """Apply one decision if nobody decided first; otherwise say what happened."""
    values: dict[str, Any] = {"decided_by": ctx.actor.member_id, "decided_at": ctx.now()}
    if to_status == OfferStatus.DECLINED.value:
        values["reason"] = reason
    won = await store_offers.transition(
        ctx.session, offer.id, from_statuses=(from_status,), to_status=to_status, **values
    )
    await ctx.session.refresh(offer)
    if not won:
        raise OfferAlreadyDecided(status=status_label(offer.status))
    details = {"reason": reason} if to_status == OfferStatus.DECLINED.value else {}
    audit_offer(ctx, f"offer.{_VERBS[to_status]}", offer.id, **details)


_VERBS = {
    OfferStatus.ACCEPTED.value: "accept",
    OfferStatus.DECLINED.value: "decline",
    OfferStatus.DONE.value: "done",
}


async def _tell_member(ctx: Ctx, offer: Offer, decision: str, build: Callable[[], Message]) -> None:
    """Tell the member of a decision; if they cannot be reached, the deciding leader hears it."""
    if offer.member_id is None:  # erased member: nobody to tell
        return
    name = await name_of(ctx, offer.member_id)

    def unreachable() -> Message:
        return Message(
            Rich.of(
                _(
                    "I could not write to {name} privately about offer no. {offer}: they have "
                    "not opened a private chat with me, or closed it. They will see your answer "
                    "as soon as they write to me."
                ).format(name=name, offer=offer.id)
            )
        )

    await notify.to_member(
        ctx,
        offer.member_id,
        f"offer:{offer.id}:{decision}",
        build,
        waiting=ctx.actor.member_id,
        if_unreachable=unreachable,
    )


async def press_accept(ctx: Ctx, press: Press) -> None:
    """Accept an offer on your project; the member is told you will contact them."""
    if len(press.args) != 1:
        raise StaleButton()
    offer, need, project = await _led_offer(ctx, press.args[0])
    await _decide(ctx, offer, from_status=PENDING, to_status=ACCEPTED)
    leader = ctx.actor.display_name
    leader_contact = await contact_of(ctx, ctx.actor.member_id)

    def build() -> Message:
        lines: list[Rich | Span | str] = [
            Rich.of("✅ ")
            + bold(
                _("{leader} accepted your offer no. {offer} for “{need}” ({project}).").format(
                    leader=leader, offer=offer.id, need=need.title, project=project.title
                )
            ),
            _("Thank you! They will contact you to organise what comes next."),
        ]
        if not offer.share_contact and leader_contact:
            lines.append(
                _("You kept your contact private: you can write to them ({contact}).").format(
                    contact=leader_contact
                )
            )
        return Message(Rich.join(lines))

    await _tell_member(ctx, offer, "accepted", build)
    await referrals.thank_referrer(ctx, offer, need, project)
    lines: list[Rich | Span | str] = [
        _("You accepted offer no. {offer}; I told {name}.").format(
            offer=offer.id, name=await name_of(ctx, offer.member_id)
        )
    ]
    if offer.share_contact and offer.member_id is not None:
        lines.append(_("Contact: {contact}").format(contact=await contact_of(ctx, offer.member_id)))
    lines.append(_("When the contribution is made, mark it done to thank them."))
    ctx.reply(Rich.join(lines), decision_buttons(offer))


async def press_decline(ctx: Ctx, press: Press) -> None:
    """Decline an offer on your project, after asking for an optional reason."""
    if len(press.args) != 1:
        raise StaleButton()
    offer, need, _project = await _led_offer(ctx, press.args[0])
    if offer.status != PENDING:
        raise OfferAlreadyDecided(status=status_label(offer.status))
    await dialogs.start(ctx, DECLINE, data={"offer_id": offer.id, "need_title": need.title})


def _ask_reason(ctx: Ctx, data: Data) -> str:
    return _(
        "Why do you decline offer no. {offer} (“{need}”)? The member will read your reason "
        "(at most 500 characters; Skip to give none)."
    ).format(offer=data["offer_id"], need=data["need_title"])


async def _finish_decline(ctx: Ctx, data: Data) -> None:
    offer, need, project = await _led_offer(ctx, str(data["offer_id"]))
    reason = data.get("reason") or ""
    await _decide(
        ctx, offer, from_status=PENDING, to_status=OfferStatus.DECLINED.value, reason=reason
    )
    leader = ctx.actor.display_name

    def build() -> Message:
        lines: list[Rich | Span | str] = [
            _("{leader} declined your offer no. {offer} for “{need}” ({project}).").format(
                leader=leader, offer=offer.id, need=need.title, project=project.title
            )
        ]
        if reason:
            lines.append(Rich.of(_("Their reason: ")) + italic(reason))
        lines.append(_("Thank you for offering: other needs may be waiting for you, see /needs."))
        return Message(Rich.join(lines))

    await _tell_member(ctx, offer, "declined", build)
    ctx.reply(
        _("You declined offer no. {offer}; I told {name}.").format(
            offer=offer.id, name=await name_of(ctx, offer.member_id)
        )
    )


async def press_done(ctx: Ctx, press: Press) -> None:
    """Mark an accepted offer as done, and thank the member."""
    if len(press.args) != 1:
        raise StaleButton()
    offer, need, project = await _led_offer(ctx, press.args[0])
    await _decide(ctx, offer, from_status=ACCEPTED, to_status=OfferStatus.DONE.value)
    member_name = await name_of(ctx, offer.member_id)

    def build() -> Message:
        return Message(
            Rich.join(
                [
                    Rich.of("🌱 ") + bold(_("Thank you, {name}!").format(name=member_name)),
                    _(
                        "Your contribution to “{need}” ({project}) is marked as done. This is "
                        "how the territory's projects move forward: thank you for being part of it."
                    ).format(need=need.title, project=project.title),
                    _("More needs are waiting for people like you: /needs"),
                ]
            )
        )

    await _tell_member(ctx, offer, "done", build)
    ctx.reply(
        _("Offer no. {offer} is marked as done; I thanked {name}.").format(
            offer=offer.id, name=member_name
        ),
        decision_buttons(offer),  # Thank, personally
    )


# --- the conversation, as a table ----------------------------------------------------------

DECLINE = dialogs.register(
    Dialog(
        "decline",
        steps=(Step("reason", _ask_reason, FreeText(REASON_MAX, optional=True)),),
        finish=_finish_decline,
    )
)
