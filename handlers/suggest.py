"""Suggestions while a member types a command's argument (Discord's autocomplete).

Read-only: nobody is created or changed, and a member is only offered what they could see
with `/projects` and `/needs`; community managers also see drafts and paused projects.
"""

from __future__ import annotations

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.chat import Identity
from handlers.context import Services
from store import members
from store.models import Need, NeedStatus, Project, ProjectStatus, Role
from store.uow import UnitOfWork

KINDS = ("project", "need")
MAX_CHOICES = 25  # Discord's limit for autocomplete
LABEL_MAX = 100


def _clip(text: str, limit: int = LABEL_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def suggest(
    services: Services, identity: Identity, kind: str, typed: str, limit: int = MAX_CHOICES
) -> list[tuple[str, str]]:
    """Up to `limit` (value, label) pairs of `kind` ("project" or "need") matching what was
    typed so far."""
    if kind not in KINDS:
        return []
    typed = typed.strip().lstrip("#").casefold()
    async with UnitOfWork(services.sessions) as uow:
        session = uow.session
        everything = await _sees_everything(services, session, identity)
        if kind == "project":
            query = select(Project.slug, Project.title)
            if not everything:
                query = query.where(Project.status == ProjectStatus.OPEN.value)
            if typed:
                query = query.where(
                    or_(
                        func.lower(Project.slug).contains(typed, autoescape=True),
                        func.lower(Project.title).contains(typed, autoescape=True),
                    )
                )
            rows = await session.execute(query.order_by(Project.slug).limit(limit))
            return [(slug, _clip(f"{slug} — {title}")) for slug, title in rows]
        need_query = (
            select(Need.id, Need.title, Project.title)
            .join(Project, Need.project_id == Project.id)
            .where(Need.status == NeedStatus.OPEN.value)
        )
        if not everything:
            need_query = need_query.where(Project.status == ProjectStatus.OPEN.value)
        if typed:
            need_query = need_query.where(
                or_(
                    cast(Need.id, String).startswith(typed, autoescape=True),
                    func.lower(Need.title).contains(typed, autoescape=True),
                    func.lower(Project.title).contains(typed, autoescape=True),
                )
            )
        needs = await session.execute(need_query.order_by(Need.id.desc()).limit(limit))
        return [
            (str(need_id), _clip(f"#{need_id} {title} — {project}"))
            for need_id, title, project in needs
        ]


async def _sees_everything(services: Services, session: AsyncSession, identity: Identity) -> bool:
    community = services.community
    if identity.key in community.community_managers | community.admins:
        return True
    found = await members.identity(session, identity.platform.value, identity.user_id)
    if found is None:
        return False
    keys = await members.identity_keys(session, found.member_id)
    if any(key in community.community_managers | community.admins for key in keys):
        return True
    roles = await members.granted_roles(session, found.member_id)
    return bool(roles & {Role.CM.value, Role.ADMIN.value})
