"""What each kind of campaign sends in a run: its audience and the context of its prompt.

A planner reads what its kind talks about (the spotlighted project, the needs of a digest,
the offers to follow up, the suggestions for members gone quiet) and returns a `Plan`: one
context shared by the groups and members of the audience, or one context per member; or
the reason to skip the run ("nothing new", "no open project").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.campaign_content import RunContext
from handlers.context import Community
from schedules import triggers
from store import audiences
from store.models import (
    Campaign,
    CampaignKind,
    CampaignRun,
    Chat,
    Need,
    Project,
    RunStatus,
)

DEFAULT_QUIET_HOURS = "22:00-08:00"
FOLLOWUP_DAYS = 14
REENGAGE_DAYS = 30


@dataclass(frozen=True, slots=True)
class Respect:
    """How campaigns treat members (the `[campaigns]` settings)."""

    cap_messages: int = 2
    cap_days: int = 7
    quiet_hours: str = DEFAULT_QUIET_HOURS
    digest_soon_days: int = 7


@dataclass
class Plan:
    """What one run sends: a shared context for groups and members, or one context per
    member (follow-ups: one per offer, with its own purpose suffix)."""

    context: RunContext | None = None
    groups: list[Chat] = field(default_factory=list)
    audience: str = "none"  # the audience's "members" value, when members share `context`
    project_id: int | None = None  # of "followers" and "contributors"
    personal: list[tuple[int, str, RunContext]] = field(default_factory=list)
    skip: str | None = None  # the reason when there is nothing to send
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Env:
    """What every planner needs besides the session."""

    campaign: Campaign
    run: CampaignRun
    community: Community
    respect: Respect
    now: datetime

    @property
    def today(self) -> date:
        return triggers.local_time(self.now, self.community.tz).date()

    def context(self, **kind: Any) -> RunContext:
        return RunContext.of(
            self.campaign, self.community.default_language, run_id=self.run.id, **kind
        )

    @property
    def audience(self) -> Mapping[str, Any]:
        audience = self.campaign.audience or {}
        return audience if isinstance(audience, Mapping) else {}

    @property
    def audience_project(self) -> int | None:
        project = self.audience.get("project_id")
        return int(project) if isinstance(project, int) else self.campaign.project_id

    def days(self, default: int) -> int:
        value = (self.campaign.options or {}).get("days", default)
        return value if isinstance(value, int) and value > 0 else default


async def _shared(session: AsyncSession, env: Env, **kind: Any) -> Plan:
    """A plan where groups and members of the audience all get the same prompt."""
    return Plan(
        context=env.context(**kind),
        groups=await audiences.group_chats(session, env.audience.get("groups", "none")),
        audience=str(env.audience.get("members", "none")),
        project_id=env.audience_project,
    )


async def _plan_message(session: AsyncSession, env: Env) -> Plan:
    campaign = env.campaign
    need = await session.get(Need, campaign.need_id) if campaign.need_id else None
    project_id = campaign.project_id or (need.project_id if need is not None else None)
    project = await session.get(Project, project_id) if project_id else None
    return await _shared(session, env, project=project, need=need)


async def _plan_plain(session: AsyncSession, env: Env) -> Plan:
    return await _shared(session, env)


async def _plan_spotlight(session: AsyncSession, env: Env) -> Plan:
    chosen = env.run.details.get("project_id")
    if isinstance(chosen, int):
        project = await session.get(Project, chosen)
    else:
        project = await audiences.spotlight_project(session, env.campaign.project_id)
    if project is None:
        return Plan(skip="no open project")
    project.spotlighted_at = env.now
    needs = await audiences.open_needs(session, [project.id])
    plan = await _shared(session, env, project=project, needs=needs)
    plan.details["project_id"] = project.id
    return plan


async def _previous_sent(session: AsyncSession, env: Env) -> datetime | None:
    """When this campaign last sent something before this run."""
    found: datetime | None = await session.scalar(
        select(CampaignRun.scheduled_at)
        .where(
            CampaignRun.campaign_id == env.campaign.id,
            CampaignRun.id != env.run.id,
            CampaignRun.scheduled_at <= env.run.scheduled_at,
            CampaignRun.status.in_([RunStatus.DISPATCHING.value, RunStatus.DONE.value]),
        )
        .order_by(CampaignRun.scheduled_at.desc())
        .limit(1)
    )
    return found


async def _plan_digest(session: AsyncSession, env: Env) -> Plan:
    soon_days = env.respect.digest_soon_days
    since = await _previous_sent(session, env) or env.campaign.created_at - timedelta(
        days=soon_days
    )
    since_day = triggers.local_time(since, env.community.tz).date()
    needs = await audiences.digest_needs(
        session,
        since=since,
        today=env.today,
        soon=env.today + timedelta(days=soon_days),
        soon_before=since_day + timedelta(days=soon_days),
    )
    if not needs:
        return Plan(skip="nothing new")
    projects = await audiences.projects_by_id(session, [need.project_id for need in needs])
    plan = await _shared(session, env, needs=needs, projects=projects)
    plan.details["need_ids"] = [need.id for need in needs]
    return plan


async def _plan_followup(session: AsyncSession, env: Env) -> Plan:
    cutoff = env.now - timedelta(days=env.days(FOLLOWUP_DAYS))
    asked = await audiences.followed_up_offers(session, env.campaign.id)
    plan = Plan()
    for offer, need, project in await audiences.accepted_offers(session, cutoff):
        if offer.id in asked or offer.member_id is None:
            continue
        context = env.context(offer=offer, need=need, project=project)
        plan.personal.append((offer.member_id, f":offer:{offer.id}", context))
    if not plan.personal:
        return Plan(skip="nothing new")
    return plan


async def _plan_reengage(session: AsyncSession, env: Env) -> Plan:
    days = env.days(REENGAGE_DAYS)
    cutoff = env.now - timedelta(days=days)
    inactive = await audiences.recipients(session, audiences.inactive_since(cutoff))
    recently = await audiences.campaign_recipients_since(session, env.campaign.id, cutoff)
    candidates = [r.member_id for r in inactive if r.member_id not in recently]
    suggestions = await audiences.suggestions(session, candidates, env.today)
    projects = await audiences.projects_by_id(
        session, [need.project_id for need in suggestions.values()]
    )
    plan = Plan()
    for member_id in candidates:
        need = suggestions.get(member_id)
        if need is None:
            continue  # nothing to suggest: better silent than generic
        context = env.context(suggestion=need, project=projects.get(need.project_id))
        plan.personal.append((member_id, "", context))
    if not plan.personal:
        return Plan(skip="nothing new")
    return plan


Planner = Callable[[AsyncSession, Env], Awaitable[Plan]]

PLANNERS: dict[str, Planner] = {
    CampaignKind.MESSAGE: _plan_message,
    CampaignKind.QUESTION: _plan_plain,
    CampaignKind.POLL: _plan_plain,
    CampaignKind.SPOTLIGHT: _plan_spotlight,
    CampaignKind.DIGEST: _plan_digest,
    CampaignKind.FOLLOWUP: _plan_followup,
    CampaignKind.REENGAGE: _plan_reengage,
}
