"""Offers: a member offers a contribution to a need; the project's leaders accept, decline
or mark it done; the member follows their offers and may withdraw them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from handlers import dialogs, lookup, notify, recognition, referrals, reminders
from handlers.cards import (
    AVAILABILITY_LABELS,
    KIND_LABELS,
    NEED_STATUS_LABELS,
    OFFER_STATUS_LABELS,
    kind_label,
    money,
    offer_summary,
)
from handlers.chat import Button, Command, Message, Press, Rich, Span, bold, italic, rows
from handlers.context import Ctx
from handlers.dialogs import Amount, Data, Dialog, FreeText, Option, Pick, Step
from handlers.errors import (
    DuplicateOffer,
    NeedClosed,
    NotYourOffer,
    OfferAlreadyDecided,
    ProjectNotOpen,
    StaleButton,
    UnknownNeed,
    Usage,
)
from handlers.i18n import N_, _
from store import offers as store_offers
from store.models import (
    AuditEntry,
    Availability,
    ContributionKind,
    Member,
    Need,
    NeedStatus,
    Offer,
    OfferStatus,
    Project,
    ProjectStatus,
    Role,
)

logger = logging.getLogger(__name__)

PENDING = OfferStatus.PENDING.value
ACCEPTED = OfferStatus.ACCEPTED.value
WITHDRAWABLE = (PENDING, ACCEPTED)
MESSAGE_MAX = 1000
REASON_MAX = 500
MY_OFFERS_SHOWN = 20
REVIEW_SHOWN = 30

KINDS: tuple[str, ...] = tuple(kind.value for kind in ContributionKind)
AVAILABILITY_OPTIONS: tuple[Option, ...] = tuple(
    Option(value.value, AVAILABILITY_LABELS[value.value]) for value in Availability
)
CONTACT_OPTIONS: tuple[Option, ...] = (
    Option("yes", N_("Yes, share my contact")),
    Option("no", N_("No, keep it private")),
)
SEND_OPTIONS: tuple[Option, ...] = (Option("yes", N_("Send my offer")),)


# --- shared helpers ------------------------------------------------------------------------


def _audit(ctx: Ctx, action: str, offer_id: int, **details: Any) -> None:
    ctx.session.add(
        AuditEntry(
            at=ctx.now(),
            actor_id=ctx.actor.member_id,
            action=action,
            subject=f"offer:{offer_id}",
            details=details,
        )
    )


def _offer_status(status: str) -> str:
    return _(OFFER_STATUS_LABELS.get(status, status))


async def _contact_of(ctx: Ctx, member_id: int) -> str:
    """How to reach a member: each platform, with its @username when there is one."""
    member = await ctx.session.get(Member, member_id)
    if member is None:
        return ""
    handles = [
        f"{identity.platform} @{identity.username}" if identity.username else identity.platform
        for identity in member.identities
    ]
    return ", ".join(handles)


async def _name_of(ctx: Ctx, member_id: int | None) -> str:
    member = await ctx.session.get(Member, member_id) if member_id is not None else None
    return member.display_name if member is not None and member.display_name else "—"


async def _check_offerable(ctx: Ctx, need: Need, project: Project) -> None:
    """A member may offer on an open need of an open project, once at a time."""
    if need.status != NeedStatus.OPEN.value:
        raise NeedClosed(status=_(NEED_STATUS_LABELS.get(need.status, need.status)))
    if project.status != ProjectStatus.OPEN.value:
        raise ProjectNotOpen(project=project.title)
    existing = await store_offers.pending_offer(ctx.session, need.id, ctx.actor.member_id)
    if existing is not None:
        raise DuplicateOffer(offer=existing.id)
    await reminders.check_offer_limits(ctx)  # pending offers and offers per hour are bounded


async def _offer_parts(ctx: Ctx, offer: Offer) -> tuple[Need, Project]:
    need = await ctx.session.get_one(Need, offer.need_id)
    project = await ctx.session.get_one(Project, need.project_id)
    return need, project


# --- offering ------------------------------------------------------------------------------


async def begin_offer(
    ctx: Ctx, need_ref: str, source: str = "link", referred_by: int | None = None
) -> None:
    """Start the offer conversation for a need (deep link, /offer or "I can help");
    `referred_by` is the member whose shared link brought the actor here."""
    need = await lookup.need(ctx, need_ref)
    project = await ctx.session.get_one(Project, need.project_id)
    await _check_offerable(ctx, need, project)
    await dialogs.start(
        ctx,
        OFFER,
        data={
            "need_id": need.id,
            "need_title": need.title,
            "need_kind": need.kind,
            "project_title": project.title,
            "kind": need.kind,
            "source": source,
            "referred_by": referred_by,
        },
    )


async def cmd_offer(ctx: Ctx, cmd: Command) -> None:
    """Offer a contribution to a need, by its number."""
    if not cmd.args:
        raise Usage(usage=_("/offer <need no.>"))
    await begin_offer(ctx, cmd.args[0], source="command")


async def press_help(ctx: Ctx, press: Press) -> None:
    """ "I can help" under a need: start the offer conversation."""
    if len(press.args) != 1:
        raise StaleButton()
    await begin_offer(ctx, press.args[0], source="button")


def _kind_options(data: Data) -> list[Option]:
    """The eight kinds, the one the need asks for first."""
    preset = data.get("need_kind")
    ordered = sorted(KINDS, key=lambda kind: kind != preset)
    return [Option(kind, KIND_LABELS[kind]) for kind in ordered]


def _ask_kind(ctx: Ctx, data: Data) -> Rich:
    return Rich.join(
        [
            Rich.of(bold(data["project_title"])) + " — " + data["need_title"],
            _("This need asks for {kind}. What will you bring?").format(
                kind=kind_label(data["need_kind"])
            ),
        ]
    )


def _ask_message(ctx: Ctx, data: Data) -> str:
    return _(
        "What do you offer, in a few words? Your experience, what you can do, how "
        "(at most 1000 characters)."
    )


def _ask_availability(ctx: Ctx, data: Data) -> str:
    return _("How much time can you give?")


def _ask_amount(ctx: Ctx, data: Data) -> str:
    return _(
        "How much do you pledge, with the currency? e.g. 200 EUR. This is a pledge: the bot "
        "never handles money; the project will tell you how to give."
    )


def _is_funding(data: Data) -> bool:
    return data.get("kind") == ContributionKind.FUNDING.value


async def _ask_contact(ctx: Ctx, data: Data) -> str:
    contact = await _contact_of(ctx, ctx.actor.member_id)
    return _(
        "May I give your contact ({contact}) to the project's leaders, so that they can reach you?"
    ).format(contact=contact or ctx.actor.display_name)


def _availability(data: Data) -> str:
    label = AVAILABILITY_LABELS[data["availability"]]
    return _(label)


def _ask_send(ctx: Ctx, data: Data) -> Rich:
    lines: list[Rich | Span | str] = [
        bold(_("Your offer:")),
        Rich.of(bold(data["project_title"])) + " — " + data["need_title"],
        Rich.of(_("Contribution: ")) + kind_label(data["kind"]),
        Rich.of("« ") + data["message"] + " »",
        _("Availability: {availability}").format(availability=_availability(data)),
    ]
    if _is_funding(data) and data.get("amount"):
        lines.append(
            _("Pledge: {amount} (a promise; the bot never handles money)").format(
                amount=money(data["amount"], data.get("currency"))
            )
        )
    lines.append(
        _("Your contact will be shared with the leaders.")
        if data.get("share_contact") == "yes"
        else _("Your contact stays private.")
    )
    return Rich.join(lines)


async def _finish_offer(ctx: Ctx, data: Data) -> None:
    need = await ctx.session.get(Need, data["need_id"])
    if need is None:
        raise UnknownNeed(ref=str(data["need_id"]))
    project = await ctx.session.get_one(Project, need.project_id)
    await _check_offerable(ctx, need, project)
    funding = _is_funding(data)
    offer = Offer(
        need_id=need.id,
        member_id=ctx.actor.member_id,
        kind=data["kind"],
        message=data["message"],
        availability=data["availability"],
        pledged_amount=Decimal(data["amount"]) if funding and data.get("amount") else None,
        currency=data.get("currency") if funding and data.get("amount") else None,
        share_contact=data.get("share_contact") == "yes",
        status=PENDING,
        source=str(data.get("source", ""))[:64],
        referred_by=referrals.credited(data.get("referred_by"), ctx.actor.member_id),
        created_at=ctx.now(),
    )
    ctx.session.add(offer)
    await ctx.session.flush()
    _audit(ctx, "offer.create", offer.id, need=need.id, kind=offer.kind)
    if offer.source.startswith("campaign:"):  # came through a campaign's link or button
        from handlers.campaign_responses import credit_offer

        await credit_offer(ctx, offer)
    await _tell_leaders_new(ctx, offer, need, project)
    ctx.reply(
        Rich.join(
            [
                bold(
                    _("Thank you, {name}! Your offer no. {offer} is sent.").format(
                        name=ctx.actor.display_name, offer=offer.id
                    )
                ),
                _("The project's leaders will answer you here. Follow your offers with /myoffers."),
            ]
        )
    )
    from handlers.profile import maybe_ask_profile_question

    await maybe_ask_profile_question(ctx)


async def _tell_leaders_new(ctx: Ctx, offer: Offer, need: Need, project: Project) -> None:
    name = ctx.actor.display_name
    contact = await _contact_of(ctx, ctx.actor.member_id) if offer.share_contact else ""

    def build() -> Message:
        lines: list[Rich | Span | str] = [
            Rich.of("🙋 ") + bold(_("New offer from {name}").format(name=name)),
            offer_summary(offer, need, project),
        ]
        if offer.share_contact:
            lines.append(_("Contact: {contact}").format(contact=contact or name))
        else:
            lines.append(
                italic(
                    _("They did not share their contact: answer with the buttons and I tell them.")
                )
            )
        return Message(Rich.join(lines), _decision_buttons(offer))

    for leader_id in await lookup.leader_ids(ctx, project.id):
        await notify.to_member(ctx, leader_id, f"offer:{offer.id}:new", build)


def _decision_buttons(offer: Offer) -> tuple[tuple[Button, ...], ...]:
    if offer.status == PENDING:
        return rows(
            Button("✅ " + _("Accept"), "acc", (str(offer.id),)),
            Button("✖️ " + _("Decline"), "dec", (str(offer.id),)),
        )
    if offer.status == ACCEPTED:
        return rows(Button("🎉 " + _("Mark done"), "done", (str(offer.id),)))
    if offer.status == OfferStatus.DONE.value and offer.thanked_at is None:
        return rows(recognition.thank_button(offer))
    return ()


# --- the member's offers -------------------------------------------------------------------


async def cmd_myoffers(ctx: Ctx, cmd: Command) -> None:
    """Show your offers, newest first, and let you withdraw the open ones."""
    found = await store_offers.of_member(ctx.session, ctx.actor.member_id, limit=MY_OFFERS_SHOWN)
    if not found:
        ctx.reply(
            _("You have not offered anything yet. See /projects or /needs to find where to help.")
        )
        return
    ctx.reply(bold(_("Your offers, newest first:")))
    for offer, need, project in found:
        buttons = (
            rows(Button("↩️ " + _("Withdraw"), "wd", (str(offer.id),)))
            if offer.status in WITHDRAWABLE
            else ()
        )
        ctx.reply(offer_summary(offer, need, project), buttons)


async def press_withdraw(ctx: Ctx, press: Press) -> None:
    """Withdraw one of your offers that is still pending or accepted."""
    offer = await _pressed_offer(ctx, press)
    if offer.member_id != ctx.actor.member_id:
        raise NotYourOffer()
    if offer.status not in WITHDRAWABLE:
        raise OfferAlreadyDecided(status=_offer_status(offer.status))
    won = await store_offers.transition(
        ctx.session,
        offer.id,
        from_statuses=WITHDRAWABLE,
        to_status=OfferStatus.WITHDRAWN.value,
        member_id=ctx.actor.member_id,
    )
    if not won:
        await ctx.session.refresh(offer)
        raise OfferAlreadyDecided(status=_offer_status(offer.status))
    need, project = await _offer_parts(ctx, offer)
    _audit(ctx, "offer.withdraw", offer.id, need=need.id)
    name = ctx.actor.display_name

    def build() -> Message:
        return Message(
            Rich.of(
                _("{name} withdrew their offer no. {offer} on “{need}” ({project}).").format(
                    name=name, offer=offer.id, need=need.title, project=project.title
                )
            )
        )

    for leader_id in await lookup.leader_ids(ctx, project.id):
        await notify.to_member(ctx, leader_id, f"offer:{offer.id}:withdrawn", build)
    ctx.reply(
        _("Your offer no. {offer} is withdrawn. Thank you all the same!").format(offer=offer.id)
    )


# --- the leaders' review -------------------------------------------------------------------


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
        lines.append(_("From: {name}").format(name=await _name_of(ctx, offer.member_id)))
        if offer.share_contact and offer.member_id is not None:
            lines.append(
                _("Contact: {contact}").format(contact=await _contact_of(ctx, offer.member_id))
            )
        ctx.reply(Rich.join(lines), _decision_buttons(offer))
    if total > len(found):
        ctx.reply(
            _(
                "Showing the {shown} oldest. Answer them first, or choose a project: "
                "/offers <short name>."
            ).format(shown=len(found))
        )
    await recognition.show_unthanked(ctx, project_ids)


async def _pressed_offer(ctx: Ctx, press: Press) -> Offer:
    if len(press.args) != 1:
        raise StaleButton()
    return await lookup.offer(ctx, press.args[0])


async def _led_offer(ctx: Ctx, offer_id: str) -> tuple[Offer, Need, Project]:
    """The offer a leader acts on, re-authorised on every press: the button proves nothing."""
    offer = await lookup.offer(ctx, offer_id)
    need, project = await _offer_parts(ctx, offer)
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
        raise OfferAlreadyDecided(status=_offer_status(offer.status))
    details = {"reason": reason} if to_status == OfferStatus.DECLINED.value else {}
    _audit(ctx, f"offer.{_VERBS[to_status]}", offer.id, **details)


_VERBS = {
    OfferStatus.ACCEPTED.value: "accept",
    OfferStatus.DECLINED.value: "decline",
    OfferStatus.DONE.value: "done",
}


async def _tell_member(ctx: Ctx, offer: Offer, decision: str, build: Callable[[], Message]) -> None:
    """Tell the member of a decision; if they cannot be reached, the deciding leader hears it."""
    if offer.member_id is None:  # erased member: nobody to tell
        return
    name = await _name_of(ctx, offer.member_id)

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
    leader_contact = await _contact_of(ctx, ctx.actor.member_id)

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
            offer=offer.id, name=await _name_of(ctx, offer.member_id)
        )
    ]
    if offer.share_contact and offer.member_id is not None:
        lines.append(
            _("Contact: {contact}").format(contact=await _contact_of(ctx, offer.member_id))
        )
    lines.append(_("When the contribution is made, mark it done to thank them."))
    ctx.reply(Rich.join(lines), _decision_buttons(offer))


async def press_decline(ctx: Ctx, press: Press) -> None:
    """Decline an offer on your project, after asking for an optional reason."""
    if len(press.args) != 1:
        raise StaleButton()
    offer, need, _project = await _led_offer(ctx, press.args[0])
    if offer.status != PENDING:
        raise OfferAlreadyDecided(status=_offer_status(offer.status))
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
            offer=offer.id, name=await _name_of(ctx, offer.member_id)
        )
    )


async def press_done(ctx: Ctx, press: Press) -> None:
    """Mark an accepted offer as done, and thank the member."""
    if len(press.args) != 1:
        raise StaleButton()
    offer, need, project = await _led_offer(ctx, press.args[0])
    await _decide(ctx, offer, from_status=ACCEPTED, to_status=OfferStatus.DONE.value)
    member_name = await _name_of(ctx, offer.member_id)

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
        _decision_buttons(offer),  # Thank, personally
    )


# --- the conversations, as tables ----------------------------------------------------------

OFFER = dialogs.register(
    Dialog(
        "offer",
        steps=(
            Step("kind", _ask_kind, Pick(_kind_options)),
            Step("message", _ask_message, FreeText(MESSAGE_MAX)),
            Step("availability", _ask_availability, Pick(AVAILABILITY_OPTIONS)),
            Step("amount", _ask_amount, Amount(), when=_is_funding),
            Step("share_contact", _ask_contact, Pick(CONTACT_OPTIONS)),
            Step("send", _ask_send, Pick(SEND_OPTIONS)),
        ),
        finish=_finish_offer,
    )
)

DECLINE = dialogs.register(
    Dialog(
        "decline",
        steps=(Step("reason", _ask_reason, FreeText(REASON_MAX, optional=True)),),
        finish=_finish_decline,
    )
)
