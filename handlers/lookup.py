"""Finding what a member names (projects, needs, offers, members) and checking ownership."""

from __future__ import annotations

import difflib

from sqlalchemy import select

from handlers.context import Ctx
from handlers.errors import (
    AmbiguousMember,
    NotProjectLeader,
    UnknownMember,
    UnknownNeed,
    UnknownOffer,
    UnknownProject,
)
from store import members
from store.models import Member, Need, Offer, Project, ProjectLeader, ProjectStatus, Role


async def project(ctx: Ctx, slug: str) -> Project:
    """The project with this short name, or a refusal suggesting the closest one."""
    slug = slug.strip().lower()
    found = await ctx.session.scalar(select(Project).where(Project.slug == slug))
    if found is not None:
        return found
    # Members are only pointed at open projects: a hidden draft's name is not public.
    query = select(Project.slug)
    if not ctx.actor.roles & {Role.CM.value, Role.ADMIN.value}:
        query = query.where(Project.status == ProjectStatus.OPEN.value)
    slugs = list(await ctx.session.scalars(query))
    close = difflib.get_close_matches(slug, slugs, n=1, cutoff=0.5)
    if not close:
        close = [s for s in slugs if slug and slug in s][:1]
    raise UnknownProject(slug=slug, suggestion=close[0] if close else "")


def _number(ref: str) -> int | None:
    ref = ref.strip().lstrip("#")
    return int(ref) if ref.isdigit() and len(ref) < 12 else None


async def need(ctx: Ctx, ref: str) -> Need:
    number = _number(ref)
    found = await ctx.session.get(Need, number) if number is not None else None
    if found is None:
        raise UnknownNeed(ref=ref)
    return found


async def offer(ctx: Ctx, ref: str) -> Offer:
    number = _number(ref)
    found = await ctx.session.get(Offer, number) if number is not None else None
    if found is None:
        raise UnknownOffer(ref=ref)
    return found


async def member(ctx: Ctx, ref: str) -> Member:
    found = await members.find_by_reference(ctx.session, ref, ctx.place.platform.value)
    if not found:
        raise UnknownMember(who=ref)
    if len(found) > 1:
        raise AmbiguousMember(who=ref, example=found[0].id)
    return found[0]


async def leads(ctx: Ctx, project_id: int) -> bool:
    """Whether the actor may act as a leader of this project (CMs may act on every one)."""
    if ctx.actor.roles & {Role.CM.value, Role.ADMIN.value}:
        return True
    row = await ctx.session.get(ProjectLeader, (project_id, ctx.actor.member_id))
    return row is not None


async def require_leader(ctx: Ctx, project: Project) -> None:
    if not await leads(ctx, project.id):
        raise NotProjectLeader(project=project.title)


async def leader_ids(ctx: Ctx, project_id: int) -> list[int]:
    return list(
        await ctx.session.scalars(
            select(ProjectLeader.member_id).where(ProjectLeader.project_id == project_id)
        )
    )
