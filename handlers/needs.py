"""Browsing needs: `/needs` lists the open needs of every open project, by kind.

What a leader does to a need lives beside it: `need_dialogs` (/addneed, /editneed),
`need_closing` (/closeneed), `need_announcements` (/announce); a project's news is in
`project_news` (/update)."""

from __future__ import annotations

from handlers import dialogs
from handlers.cards import KIND_LABELS, kind_label, need_summary
from handlers.chat import Command, Rich, Span, bold, code
from handlers.context import Ctx
from handlers.errors import Usage
from handlers.i18n import LANGUAGES, _, translate
from handlers.need_rules import KINDS
from store import needs as store_needs

NEEDS_SHOWN = 20


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


__all__ = ["cmd_needs"]
