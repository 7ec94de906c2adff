"""A project's status once it exists: the community manager's list of drafts waiting for
review, and the moves between draft, open, paused and archived (`/publish`, `/pause`,
`/archive`, and the Publish button of a proposal), each allowed only from the statuses in
`TRANSITIONS` and safe against two managers moving the same project at once; publishing a
proposal tells the member who proposed it.

Separate from `project_dialogs` because these commands ask nothing: they act on a project
that is already there."""

from __future__ import annotations

from handlers import lookup, notify
from handlers.cards import PROJECT_STATUS_LABELS
from handlers.chat import Button, Command, Message, Outgoing, Press, Rich, Span, bold, rows
from handlers.context import Ctx
from handlers.errors import WrongStatus
from handlers.i18n import N_, _
from handlers.project_rules import (
    ARCHIVED,
    DRAFT,
    OPEN,
    PAUSED,
    audit,
    short,
    slug_arg,
    usage,
)
from store import projects as store
from store.models import Project, ProjectLeader

# move -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "publish": (frozenset({DRAFT, PAUSED}), OPEN),
    "pause": (frozenset({OPEN}), PAUSED),
    "archive": (frozenset({DRAFT, OPEN, PAUSED}), ARCHIVED),
}


def _status_label(status: str) -> str:
    return _(PROJECT_STATUS_LABELS.get(status, status))


async def cmd_publish(ctx: Ctx, cmd: Command) -> None:
    """Open a draft or paused project to members."""
    await _move(ctx, "publish", _one_arg(cmd, "publish"))


async def cmd_pause(ctx: Ctx, cmd: Command) -> None:
    """Pause an open project: it leaves the project list until published again."""
    await _move(ctx, "pause", _one_arg(cmd, "pause"))


async def cmd_archive(ctx: Ctx, cmd: Command) -> None:
    """Archive a project for good."""
    await _move(ctx, "archive", _one_arg(cmd, "archive"))


async def press_publish(ctx: Ctx, press: Press) -> None:
    """The Publish button of a proposal."""
    await _move(ctx, "publish", slug_arg(press.args))


def _one_arg(cmd: Command, name: str) -> str:
    if len(cmd.args) != 1:
        raise usage(name)
    return cmd.args[0]


MOVE_DONE = {
    "publish": N_("“{title}” is now open: members find it in /projects and can offer help."),
    "pause": N_(
        "“{title}” is paused: it no longer appears in /projects. /publish {slug} reopens it."
    ),
    "archive": N_("“{title}” is archived."),
}


async def _move(ctx: Ctx, move: str, slug: str) -> None:
    project = await lookup.project(ctx, slug)
    allowed_from, to = TRANSITIONS[move]
    before = project.status
    if before != to and before not in allowed_from:
        raise WrongStatus(status=_status_label(before))
    changed = before != to and await store.change_status(
        ctx.session, project.id, allowed_from=allowed_from, to=to, now=ctx.now()
    )
    if not changed:
        await ctx.session.refresh(project)  # another event may have moved it meanwhile
        if project.status != to:
            raise WrongStatus(status=_status_label(project.status))
        ctx.reply(
            _("“{title}” is already {status}; nothing was changed.").format(
                title=project.title, status=_status_label(to)
            )
        )
        return
    await ctx.session.refresh(project)
    audit(ctx, f"project.{move}", f"project:{project.id}", slug=project.slug, previous=before)
    ctx.reply(_(MOVE_DONE[move]).format(title=project.title, slug=project.slug))
    if move == "publish" and before == DRAFT:
        await _published_proposal(ctx, project)


async def _published_proposal(ctx: Ctx, project: Project) -> None:
    """Tell the idea launcher their project is live, and hint the CM to make them a leader."""
    proposer = project.proposed_by
    if proposer is None:
        return
    if await ctx.session.get(ProjectLeader, (project.id, proposer)) is None:
        ctx.reply(
            _("To let the proposer manage it: /grant #{member} leader {slug}").format(
                member=proposer, slug=project.slug
            )
        )
    if proposer == ctx.actor.member_id:
        return

    def build() -> Outgoing:
        return Message(
            Rich.of("🎉 ")
            + _(
                "Good news: your project “{title}” is published! Members can now find it, "
                "follow it and offer help. Share it: /project {slug}"
            ).format(title=project.title, slug=project.slug),
            rows(Button("ℹ️ " + _("Project"), "proj", (project.slug,))),
        )

    await notify.to_member(ctx, proposer, f"project:{project.id}:published", build)


async def cmd_drafts(ctx: Ctx, cmd: Command) -> None:
    """List the proposals and drafts waiting for review, with a Publish button each."""
    found = await store.drafts(ctx.session)
    if not found:
        ctx.reply(_("No drafts to review."))
        return
    total = await store.count_with_status(ctx.session, DRAFT)
    lines: list[Rich | Span | str] = [
        bold(_("Drafts waiting for review ({count}):").format(count=total))
    ]
    for project, proposer in found:
        line = Rich.of("• ") + bold(project.title)
        if project.territory:
            line += " — " + project.territory
        if proposer is not None:
            line += " · " + _("proposed by {name}").format(name=proposer)
        lines.append(line + " · /project " + project.slug)
    buttons = [
        Button(
            "✅ " + _("Publish “{title}”").format(title=short(project.title, 30)),
            "pub",
            (project.slug,),
        )
        for project, _proposer in found
    ]
    ctx.reply(Rich.join(lines), rows(*buttons, width=1))
