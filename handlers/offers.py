"""Offering: a member offers a contribution to a need through a short conversation (from a
deep link, `/offer`, the "I can help" button, a match or a campaign), the project's leaders
hear of it, and the member follows their offers with `/myoffers` and may withdraw them.

`begin_offer` is the one way into the conversation for the other modules. The leaders' answers
are in `offer_review`; what both sides share is in `offer_rules`."""

from __future__ import annotations

import logging
from decimal import Decimal

from handlers import dialogs, lookup, notify, referrals, reminders
from handlers.cards import (
    AVAILABILITY_LABELS,
    KIND_LABELS,
    NEED_STATUS_LABELS,
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
from handlers.offer_rules import (
    PENDING,
    WITHDRAWABLE,
    audit_offer,
    contact_of,
    decision_buttons,
    offer_parts,
    status_label,
)
from store import offers as store_offers
from store.models import (
    Availability,
    ContributionKind,
    Need,
    NeedStatus,
    Offer,
    OfferStatus,
    Project,
    ProjectStatus,
)

logger = logging.getLogger(__name__)

MESSAGE_MAX = 1000
MY_OFFERS_SHOWN = 20

KINDS: tuple[str, ...] = tuple(kind.value for kind in ContributionKind)
AVAILABILITY_OPTIONS: tuple[Option, ...] = tuple(
    Option(value.value, AVAILABILITY_LABELS[value.value]) for value in Availability
)
CONTACT_OPTIONS: tuple[Option, ...] = (
    Option("yes", N_("Yes, share my contact")),
    Option("no", N_("No, keep it private")),
)
SEND_OPTIONS: tuple[Option, ...] = (Option("yes", N_("Send my offer")),)


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
    contact = await contact_of(ctx, ctx.actor.member_id)
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
    audit_offer(ctx, "offer.create", offer.id, need=need.id, kind=offer.kind)
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
    contact = await contact_of(ctx, ctx.actor.member_id) if offer.share_contact else ""

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
        return Message(Rich.join(lines), decision_buttons(offer))

    for leader_id in await lookup.leader_ids(ctx, project.id):
        await notify.to_member(ctx, leader_id, f"offer:{offer.id}:new", build)


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
        raise OfferAlreadyDecided(status=status_label(offer.status))
    won = await store_offers.transition(
        ctx.session,
        offer.id,
        from_statuses=WITHDRAWABLE,
        to_status=OfferStatus.WITHDRAWN.value,
        member_id=ctx.actor.member_id,
    )
    if not won:
        await ctx.session.refresh(offer)
        raise OfferAlreadyDecided(status=status_label(offer.status))
    need, project = await offer_parts(ctx, offer)
    audit_offer(ctx, "offer.withdraw", offer.id, need=need.id)
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


async def _pressed_offer(ctx: Ctx, press: Press) -> Offer:
    if len(press.args) != 1:
        raise StaleButton()
    return await lookup.offer(ctx, press.args[0])


# --- the conversation, as a table ----------------------------------------------------------

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
