"""Adding and editing a need: the /addneed and /editneed conversations, their questions, their
confirmations and what finishing them writes.

Both dialogs ask the same kinds of answers (a title, details, an effort or a goal amount, a
deadline) and end by re-checking that the member still leads the project, so they share this
module; the two tables are at its end."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from handlers import dialogs, lookup
from handlers.cards import KIND_LABELS, kind_label, money, need_summary
from handlers.chat import Command, Rich, Span, bold, code, italic
from handlers.context import Ctx
from handlers.dialogs import Amount, Data, Day, Dialog, FreeText, Option, Pick, Step
from handlers.errors import UnknownProject, Usage
from handlers.i18n import N_, _
from handlers.need_announcements import refresh_announcements
from handlers.need_rules import (
    KINDS,
    audit,
    led_need,
    need_and_project,
    require_not_archived,
    require_open_need,
)
from store.models import ContributionKind, Need, NeedStatus, Project, ProjectStatus

KIND_OPTIONS: tuple[Option, ...] = tuple(Option(kind, KIND_LABELS[kind]) for kind in KINDS)
CONFIRM: tuple[Option, ...] = (Option("yes", N_("Confirm")),)


def is_funding(data: Data) -> bool:
    return data.get("kind") == ContributionKind.FUNDING.value


# --- /addneed ------------------------------------------------------------------------------


async def cmd_addneed(ctx: Ctx, cmd: Command) -> None:
    """Add a need to your project, in a short conversation."""
    if not cmd.args:
        raise Usage(usage=_("/addneed <short name>"))
    project = await lookup.project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    require_not_archived(project)
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
    require_not_archived(project)
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
    need, project = await need_and_project(ctx, cmd.args[0])
    await lookup.require_leader(ctx, project)
    require_open_need(need)
    require_not_archived(project)
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
    need, project = await led_need(ctx, data["need_id"])
    require_open_need(need)
    require_not_archived(project)
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

__all__ = ["cmd_addneed", "cmd_editneed"]
