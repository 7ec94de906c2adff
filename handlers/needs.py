"""Needs: browsing them, adding, editing, closing and announcing them; news to a project's
followers and contributors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from handlers import dialogs, lookup, matching, notify, recognition
from handlers.cards import (
    KIND_LABELS,
    NEED_STATUS_LABELS,
    PROJECT_STATUS_LABELS,
    kind_label,
    money,
    need_card,
    need_summary,
)
from handlers.chat import (
    Button,
    Command,
    Edit,
    Message,
    MessageRef,
    Platform,
    Rich,
    Span,
    Target,
    bold,
    code,
    italic,
    rows,
)
from handlers.context import Ctx
from handlers.dialogs import Amount, Data, Day, Dialog, FreeText, Option, Pick, Step
from handlers.errors import (
    NeedClosed,
    ProjectNotOpen,
    UnknownNeed,
    UnknownProject,
    Usage,
    WrongStatus,
)
from handlers.i18n import LANGUAGES, N_, _, translate, use_language
from handlers.serial import dump
from store import needs as store_needs
from store import offers as store_offers
from store import outbox
from store.models import (
    Announcement,
    AuditEntry,
    ContributionKind,
    Delivery,
    DeliveryStatus,
    Need,
    NeedStatus,
    Offer,
    OfferStatus,
    Project,
    ProjectStatus,
)

logger = logging.getLogger(__name__)

KINDS: tuple[str, ...] = tuple(kind.value for kind in ContributionKind)
KIND_OPTIONS: tuple[Option, ...] = tuple(Option(kind, KIND_LABELS[kind]) for kind in KINDS)
CONFIRM: tuple[Option, ...] = (Option("yes", N_("Confirm")),)
CLOSING: dict[str, NeedStatus] = {
    NeedStatus.FULFILLED.value: NeedStatus.FULFILLED,
    NeedStatus.CANCELLED.value: NeedStatus.CANCELLED,
}
NEEDS_SHOWN = 20
UPDATE_MAX = 2000
CANCELLED_REASON = "need cancelled"
# Everyone with a live relation to the project hears its news.
NEWS_OFFER_STATUSES = (
    OfferStatus.PENDING.value,
    OfferStatus.ACCEPTED.value,
    OfferStatus.DONE.value,
)


# --- shared helpers ------------------------------------------------------------------------


def audit(ctx: Ctx, action: str, subject: str, **details: Any) -> AuditEntry:
    entry = AuditEntry(
        at=ctx.now(),
        actor_id=ctx.actor.member_id,
        action=action,
        subject=subject,
        details=details,
    )
    ctx.session.add(entry)
    return entry


def is_funding(data: Data) -> bool:
    return data.get("kind") == ContributionKind.FUNDING.value


def _kind_from(text: str) -> str | None:
    """A kind named by its identifier or its label in any of the languages."""
    wanted = dialogs.clean_text(text).casefold()
    for kind in KINDS:
        names = {kind, KIND_LABELS[kind]}
        names |= {translate(KIND_LABELS[kind], code) for code in LANGUAGES}
        names |= {name.split("(")[0].strip() for name in names}
        if wanted in {name.casefold() for name in names}:
            return kind
    return None


def _status_label(status: str) -> str:
    return _(NEED_STATUS_LABELS.get(status, status))


def _require_open_need(need: Need) -> None:
    if need.status != NeedStatus.OPEN.value:
        raise NeedClosed(status=_status_label(need.status))


def _require_not_archived(project: Project) -> None:
    if project.status == ProjectStatus.ARCHIVED.value:
        raise WrongStatus(status=_(PROJECT_STATUS_LABELS[project.status]))


async def _need_and_project(ctx: Ctx, ref: str) -> tuple[Need, Project]:
    need = await lookup.need(ctx, ref)
    project = await ctx.session.get_one(Project, need.project_id)
    return need, project


async def _led_need(ctx: Ctx, need_id: int) -> tuple[Need, Project]:
    """The need a dialog is about, re-read and re-authorised when the dialog finishes."""
    need = await ctx.session.get(Need, need_id)
    if need is None:
        raise UnknownNeed(ref=str(need_id))
    project = await ctx.session.get_one(Project, need.project_id)
    await lookup.require_leader(ctx, project)
    return need, project


async def refresh_announcements(ctx: Ctx, need: Need, project: Project, purpose: str) -> int:
    """Bring every posted card of this need up to date; returns how many will change.

    A card already posted is edited through the outbox; a card still waiting in the outbox
    gets the new content instead, so the group never sees the stale one."""
    with use_language(ctx.community.default_language):
        card = need_card(need, project)
    changed = 0
    for announcement, chat in await store_needs.announcements(ctx.session, need.id):
        delivery = (
            await ctx.session.get(Delivery, announcement.delivery_id)
            if announcement.delivery_id is not None
            else None
        )
        message_id = announcement.message_id or (delivery.message_id if delivery else None)
        if message_id:
            announcement.message_id = message_id
            target = Target(Platform(chat.platform), chat.external_id, False)
            queued = await outbox.enqueue(
                ctx.session,
                purpose=purpose,
                target=target.key,
                platform=chat.platform,
                payload=dump(Edit(MessageRef(target, message_id), card)),
                now=ctx.now(),
            )
            if queued is not None:
                ctx.queued += 1
                changed += 1
        elif delivery is not None and delivery.status == DeliveryStatus.PENDING.value:
            delivery.payload = dump(card)
            changed += 1
        else:
            # Being sent right now, or failed: there is no message to edit.
            logger.info(
                "announcement %s of need %s has no message to edit", announcement.id, need.id
            )
    return changed


# --- /needs --------------------------------------------------------------------------------


async def cmd_needs(ctx: Ctx, cmd: Command) -> None:
    """List the open needs of every open project, by kind, or only those of one kind."""
    kind: str | None = None
    if cmd.args:
        kind = _kind_from(cmd.rest)
        if kind is None:
            raise Usage(usage=_("/needs [kind]") + " — " + ", ".join(KINDS))
    found, total = await store_needs.open_needs(ctx.session, kind=kind, limit=NEEDS_SHOWN)
    if not found:
        if kind is None:
            ctx.reply(_("No open needs right now. See /projects for the projects."))
        else:
            ctx.reply(
                _("No open needs of the kind {kind} right now. See /needs for every kind.").format(
                    kind=kind_label(kind)
                )
            )
        return
    title = (
        _("Open needs: {kind}").format(kind=kind_label(kind))
        if kind is not None
        else _("Open needs of the open projects")
    )
    lines: list[Rich | Span | str] = [bold(title)]
    current = None
    for need, project in found:
        if kind is None and need.kind != current:
            current = need.kind
            lines += ["", bold(kind_label(need.kind))]
        lines.append(need_summary(need) + " · " + code(project.slug))
    lines.append("")
    if total > len(found):
        lines.append(
            _(
                "Showing {shown} of {total} open needs. Choose a kind, e.g. /needs {example}."
            ).format(shown=len(found), total=total, example=found[-1][0].kind)
        )
    lines.append(
        _("To offer your help: /offer <need no.>. A project's page: /project <short name>.")
    )
    ctx.reply(Rich.join(lines))


# --- /addneed ------------------------------------------------------------------------------


async def cmd_addneed(ctx: Ctx, cmd: Command) -> None:
    """Add a need to your project, in a short conversation."""
    if not cmd.args:
        raise Usage(usage=_("/addneed <short name>"))
    project = await lookup.project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    _require_not_archived(project)
    await dialogs.start(
        ctx,
        ADD_NEED,
        data={
            "project_id": project.id,
            "project_slug": project.slug,
            "project_title": project.title,
        },
    )


def _ask_kind(ctx: Ctx, data: Data) -> Rich:
    return Rich.join(
        [
            bold(_("New need for “{project}”.").format(project=data["project_title"])),
            _("What kind of contribution does it ask for?"),
        ]
    )


def _ask_title(ctx: Ctx, data: Data) -> str:
    return _("A short title (at most 120 characters), e.g. “Translate the brochure into Spanish”.")


def _ask_details(ctx: Ctx, data: Data) -> str:
    return _("The details: what exactly, for whom, how (at most 2000 characters, optional).")


def _ask_target(ctx: Ctx, data: Data) -> str:
    return _(
        "The amount to gather, with its currency, e.g. 5000 MAD or 500 EUR. "
        "Members only pledge: the bot never handles money."
    )


def _ask_effort(ctx: Ctx, data: Data) -> str:
    return _("The effort expected, e.g. “two hours by video call” (optional).")


def _ask_deadline(ctx: Ctx, data: Data) -> str:
    return _("A deadline as YYYY-MM-DD, after {today} (optional).").format(
        today=ctx.today().date().isoformat()
    )


def _need_lines(data: Data) -> list[Rich | Span | str]:
    lines: list[Rich | Span | str] = [
        Rich.of(_("Kind: ")) + kind_label(data["kind"]),
        Rich.of(_("Title: ")) + bold(data["title"]),
    ]
    if data.get("details"):
        lines.append(Rich.of(_("Details: ")) + data["details"])
    if is_funding(data) and data.get("target"):
        lines.append(_("Goal: {amount}").format(amount=money(data["target"], data.get("currency"))))
    if not is_funding(data) and data.get("effort"):
        lines.append(Rich.of(_("Effort: ")) + data["effort"])
    if data.get("deadline"):
        lines.append(_("Deadline: {date}").format(date=data["deadline"]))
    return lines


def _ask_confirm_new(ctx: Ctx, data: Data) -> Rich:
    return Rich.join(
        [
            bold(_("New need for “{project}”:").format(project=data["project_title"])),
            *_need_lines(data),
            "",
            _("Save it?"),
        ]
    )


async def _finish_addneed(ctx: Ctx, data: Data) -> None:
    project = await ctx.session.get(Project, data["project_id"])
    if project is None:
        raise UnknownProject(slug=data.get("project_slug", ""), suggestion="")
    await lookup.require_leader(ctx, project)
    _require_not_archived(project)
    funding = is_funding(data)
    deadline = data.get("deadline")
    need = Need(
        project_id=project.id,
        kind=data["kind"],
        title=data["title"],
        details=data.get("details") or "",
        target_amount=Decimal(data["target"]) if funding and data.get("target") else None,
        currency=data.get("currency") if funding and data.get("target") else None,
        effort="" if funding else data.get("effort") or "",
        deadline=dialogs.parse_day(deadline, ctx.today().date()) if deadline else None,
        status=NeedStatus.OPEN.value,
        created_by=ctx.actor.member_id,
        created_at=ctx.now(),
    )
    ctx.session.add(need)
    await ctx.session.flush()
    audit(ctx, "need.create", f"need:{need.id}", project=project.slug, kind=need.kind)
    lines: list[Rich | Span | str] = [
        bold(_("Need added to “{project}”:").format(project=project.title)),
        need_summary(need),
        Rich.of(_("Announce it in the groups: ")) + code(f"/announce {need.id}"),
    ]
    if project.status != ProjectStatus.OPEN.value:
        lines.append(_("Members will see it once the project is open."))
    ctx.reply(Rich.join(lines))


# --- /editneed -----------------------------------------------------------------------------

FIELD_LABELS: dict[str, str] = {
    "title": N_("Title"),
    "details": N_("Details"),
    "target": N_("Goal amount"),
    "effort": N_("Effort"),
    "deadline": N_("Deadline"),
}


async def cmd_editneed(ctx: Ctx, cmd: Command) -> None:
    """Change the title, details, effort or goal, or deadline of one of your needs."""
    if not cmd.args:
        raise Usage(usage=_("/editneed <need no.>"))
    need, project = await _need_and_project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    _require_open_need(need)
    _require_not_archived(project)
    current = {
        "title": need.title,
        "details": need.details,
        "target": money(need.target_amount, need.currency),
        "effort": need.effort,
        "deadline": need.deadline.isoformat() if need.deadline else "",
    }
    await dialogs.start(
        ctx,
        EDIT_NEED,
        data={
            "need_id": need.id,
            "need_title": need.title,
            "kind": need.kind,
            "currency": need.currency,
            "current": current,
        },
    )


def _field_options(data: Data) -> list[Option]:
    middle = "target" if is_funding(data) else "effort"
    return [Option(name, FIELD_LABELS[name]) for name in ("title", "details", middle, "deadline")]


def _ask_field(ctx: Ctx, data: Data) -> Rich:
    return Rich.join(
        [
            bold(f"#{data['need_id']} {data['need_title']}"),
            _("What do you want to change?"),
        ]
    )


def _ask_value(ctx: Ctx, data: Data) -> Rich:
    field = data["field"]
    questions = {
        "title": N_("The new title (at most 120 characters):"),
        "details": N_("The new details (at most 2000 characters; Skip to remove them):"),
        "target": N_("The new goal, with its currency, e.g. 5000 MAD:"),
        "effort": N_("The new effort expected (at most 200 characters; Skip to remove it):"),
        "deadline": N_("The new deadline as YYYY-MM-DD (Skip to remove it):"),
    }
    now = data["current"].get(field) or "—"
    return Rich.join([Rich.of(_("Now: ")) + italic(now), _(questions[field])])


def _editing(field: str) -> Callable[[Data], bool]:
    def when(data: Data) -> bool:
        return bool(data.get("field") == field)

    return when


def _new_value_text(data: Data) -> str:
    value = data.get("value")
    if not value:
        return "—"
    if data["field"] == "target":
        return money(value, data.get("currency"))
    return str(value)


def _ask_confirm_edit(ctx: Ctx, data: Data) -> Rich:
    field = data["field"]
    return Rich.join(
        [
            bold(
                _("Change the {field} of need #{need}?").format(
                    field=_(FIELD_LABELS[field]).lower(), need=data["need_id"]
                )
            ),
            Rich.of(_("Before: ")) + (data["current"].get(field) or "—"),
            Rich.of(_("After: ")) + _new_value_text(data),
        ]
    )


async def _finish_editneed(ctx: Ctx, data: Data) -> None:
    need, project = await _led_need(ctx, data["need_id"])
    _require_open_need(need)
    _require_not_archived(project)
    field = data["field"]
    value = str(data.get("value") or "")
    before = data["current"].get(field, "")
    if field == "title":
        need.title = value
    elif field == "details":
        need.details = value
    elif field == "effort":
        need.effort = value
    elif field == "target":
        need.target_amount = Decimal(value)
        need.currency = data.get("currency")
    elif field == "deadline":
        need.deadline = dialogs.parse_day(value, ctx.today().date()) if value else None
    entry = audit(ctx, "need.edit", f"need:{need.id}", field=field, before=before, after=value)
    await ctx.session.flush()
    changed = await refresh_announcements(ctx, need, project, f"need:{need.id}:edit:{entry.id}")
    lines: list[Rich | Span | str] = [bold(_("Need updated:")), need_summary(need)]
    if changed:
        lines.append(
            _("Its announcements in {count} groups will be updated.").format(count=changed)
        )
    ctx.reply(Rich.join(lines))


# --- /closeneed ----------------------------------------------------------------------------


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
    need, project = await _need_and_project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    _require_open_need(need)
    if not await store_needs.close(ctx.session, need.id, status.value, ctx.now()):
        await ctx.session.refresh(need)
        raise NeedClosed(status=_status_label(need.status))
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
                need=need.id, status=_status_label(need.status)
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


# --- /announce -----------------------------------------------------------------------------


async def cmd_announce(ctx: Ctx, cmd: Command) -> None:
    """Post the card of one of your needs in every registered group that matches it."""
    if not cmd.args:
        raise Usage(usage=_("/announce <need no.>"))
    need, project = await _need_and_project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    _require_open_need(need)
    if project.status != ProjectStatus.OPEN.value:
        raise ProjectNotOpen(project=project.title)
    chats = await store_needs.chats_for(ctx.session, project)
    if not chats:
        ctx.reply(
            _(
                "No registered group matches this project yet. Ask the community manager to "
                "register groups with /linkgroup."
            )
        )
        # Members whose profile fits still hear of it, personally.
        ctx.reply(matching.report_text(await matching.notify_matches(ctx, need, project)))
        return
    already = await store_needs.announced_chat_ids(ctx.session, need.id)
    purpose = f"announce:need:{need.id}"
    posted: list[int] = []
    for chat in chats:
        if chat.id in already:
            continue
        delivery_id = await notify.to_chat(ctx, chat, purpose, lambda: need_card(need, project))
        if delivery_id is None:  # queued before under this purpose: link that delivery
            target = Target(Platform(chat.platform), chat.external_id, False)
            existing = await outbox.existing(ctx.session, purpose, target.key)
            delivery_id = existing.id if existing is not None else None
        ctx.session.add(
            Announcement(
                need_id=need.id, chat_id=chat.id, delivery_id=delivery_id, created_at=ctx.now()
            )
        )
        posted.append(chat.id)
    skipped = len(chats) - len(posted)
    await ctx.session.flush()
    if posted:
        audit(ctx, "need.announce", f"need:{need.id}", chats=posted, already=skipped)
    matched = await matching.notify_matches(ctx, need, project)
    ctx.reply(
        Rich.join(
            [
                _("Announced in {count} groups ({already} already had it).").format(
                    count=len(posted), already=skipped
                ),
                matching.report_text(matched),
            ]
        )
    )


# --- /update -------------------------------------------------------------------------------


async def cmd_update(ctx: Ctx, cmd: Command) -> None:
    """Send news of your project to its followers and contributors."""
    if not cmd.args:
        raise Usage(usage=_("/update <short name>"))
    project = await lookup.project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    text = dialogs.parse_text(FreeText(UPDATE_MAX, optional=True), " ".join(cmd.args[1:]))
    if text is None:
        await dialogs.start(
            ctx, UPDATE, data={"project_id": project.id, "project_title": project.title}
        )
        return
    await _send_update(ctx, project, text)


def _ask_update(ctx: Ctx, data: Data) -> str:
    return _(
        "What is the news of “{project}”? Write it in one message (at most 2000 characters): "
        "it goes to its followers and contributors."
    ).format(project=data["project_title"])


async def _finish_update(ctx: Ctx, data: Data) -> None:
    project = await ctx.session.get(Project, data["project_id"])
    if project is None:
        raise UnknownProject(slug="", suggestion="")
    await lookup.require_leader(ctx, project)
    await _send_update(ctx, project, data["text"])


async def _send_update(ctx: Ctx, project: Project, text: str) -> None:
    audience = set(await store_needs.followers(ctx.session, project.id))
    audience |= set(await store_offers.contributors(ctx.session, project.id, NEWS_OFFER_STATUSES))
    audience.discard(ctx.actor.member_id)
    entry = audit(ctx, "project.update", f"project:{project.id}", text=text)
    await ctx.session.flush()
    author = ctx.actor.display_name

    def build() -> Message:
        return Message(
            Rich.join(
                [
                    Rich.of("📰 ") + bold(_("News from {project}").format(project=project.title)),
                    text,
                    italic(_("— {name}").format(name=author)),
                ]
            ),
            rows(Button("ℹ️ " + _("Project"), "proj", (project.slug,))),
        )

    sent = 0
    for member_id in sorted(audience):
        purpose = f"update:{project.id}:{entry.id}:{member_id}"
        if await notify.to_member(ctx, member_id, purpose, build):
            sent += 1
    entry.details = {"text": text, "recipients": sent}
    if sent:
        ctx.reply(_("Your news will be sent to {count} people.").format(count=sent))
    else:
        ctx.reply(
            _("Nobody follows “{project}” or has offered to it yet, so nobody received it.").format(
                project=project.title
            )
        )


# --- the conversations, as tables ----------------------------------------------------------

ADD_NEED = dialogs.register(
    Dialog(
        "addneed",
        steps=(
            Step("kind", _ask_kind, Pick(KIND_OPTIONS)),
            Step("title", _ask_title, FreeText(120)),
            Step("details", _ask_details, FreeText(2000, optional=True)),
            Step("target", _ask_target, Amount(), when=is_funding),
            Step(
                "effort",
                _ask_effort,
                FreeText(200, optional=True),
                when=lambda d: not is_funding(d),
            ),
            Step("deadline", _ask_deadline, Day(optional=True)),
            Step("confirm", _ask_confirm_new, Pick(CONFIRM)),
        ),
        finish=_finish_addneed,
    )
)

EDIT_NEED = dialogs.register(
    Dialog(
        "editneed",
        steps=(
            Step("field", _ask_field, Pick(_field_options)),
            Step("title", _ask_value, FreeText(120), key="value", when=_editing("title")),
            Step(
                "details",
                _ask_value,
                FreeText(2000, optional=True),
                key="value",
                when=_editing("details"),
            ),
            Step("target", _ask_value, Amount(), key="value", when=_editing("target")),
            Step(
                "effort",
                _ask_value,
                FreeText(200, optional=True),
                key="value",
                when=_editing("effort"),
            ),
            Step(
                "deadline", _ask_value, Day(optional=True), key="value", when=_editing("deadline")
            ),
            Step("confirm", _ask_confirm_edit, Pick(CONFIRM)),
        ),
        finish=_finish_editneed,
    )
)

UPDATE = dialogs.register(
    Dialog(
        "update",
        steps=(Step("text", _ask_update, FreeText(UPDATE_MAX)),),
        finish=_finish_update,
    )
)

__all__ = [
    "cmd_addneed",
    "cmd_announce",
    "cmd_closeneed",
    "cmd_editneed",
    "cmd_needs",
    "cmd_update",
    "refresh_announcements",
]
