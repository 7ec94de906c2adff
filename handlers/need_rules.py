"""What every leader command on a need shares: finding the need and its project, the rules
that a need must be open and its project not archived, and the audit entry each change writes
(a project's news, `/update`, writes the same).

Kept apart so that adding, editing, closing and announcing a need apply the same rules in the
same words, each from its own module."""

from __future__ import annotations

from typing import Any

from handlers import lookup
from handlers.cards import NEED_STATUS_LABELS, PROJECT_STATUS_LABELS
from handlers.context import Ctx
from handlers.errors import NeedClosed, UnknownNeed, WrongStatus
from handlers.i18n import _
from store.models import AuditEntry, ContributionKind, Need, NeedStatus, Project, ProjectStatus

KINDS: tuple[str, ...] = tuple(kind.value for kind in ContributionKind)


def audit(ctx: Ctx, action: str, subject: str, **details: Any) -> AuditEntry:
    """Record a leader's change; the entry is returned so its id can name what it queues."""
    return ctx.audit(action, subject, **details)


def status_label(status: str) -> str:
    """A need's status in the member's language."""
    return _(NEED_STATUS_LABELS.get(status, status))


def require_open_need(need: Need) -> None:
    """Refuse to act on a need that is already fulfilled or cancelled."""
    if need.status != NeedStatus.OPEN.value:
        raise NeedClosed(status=status_label(need.status))


def require_not_archived(project: Project) -> None:
    """Refuse to change the needs of an archived project."""
    if project.status == ProjectStatus.ARCHIVED.value:
        raise WrongStatus(status=_(PROJECT_STATUS_LABELS[project.status]))


async def need_and_project(ctx: Ctx, ref: str) -> tuple[Need, Project]:
    """The need a member names, with its project."""
    need = await lookup.need(ctx, ref)
    project = await ctx.session.get_one(Project, need.project_id)
    return need, project


async def led_need(ctx: Ctx, need_id: int) -> tuple[Need, Project]:
    """The need a dialog is about, re-read and re-authorised when the dialog finishes."""
    need = await ctx.session.get(Need, need_id)
    if need is None:
        raise UnknownNeed(ref=str(need_id))
    project = await ctx.session.get_one(Project, need.project_id)
    await lookup.require_leader(ctx, project)
    return need, project
