"""What a campaign would do, before it runs: samples to render it with, how many it would
reach, and its preview as each platform shows it; with the few lookups and the scheduler port
access that the campaign modules share."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers.campaign_content import (
    KIND_LABELS,
    PLATFORM_LIMITS,
    STATUS_LABELS,
    RunContext,
    text_length,
)
from handlers.chat import Message, Outgoing, Poll, Rich, bold, italic
from handlers.context import Ctx, Scheduler
from handlers.errors import CampaignsUnavailable, UnknownCampaign
from handlers.i18n import LANGUAGE_NAMES, _
from store import campaigns as store_campaigns
from store.models import (
    Campaign,
    CampaignKind,
    CampaignStatus,
    ContributionKind,
    Member,
    Need,
    NeedStatus,
    Offer,
    OfferStatus,
    Project,
    ProjectStatus,
)

logger = logging.getLogger(__name__)

ACTIVE = CampaignStatus.ACTIVE.value
PAUSED = CampaignStatus.PAUSED.value
FINISHED = CampaignStatus.FINISHED.value
DELETED = CampaignStatus.DELETED.value
ACCEPTED = OfferStatus.ACCEPTED.value
PERSONAL_KINDS = frozenset({CampaignKind.FOLLOWUP.value, CampaignKind.REENGAGE.value})


# --- what the campaign modules share -------------------------------------------------------


def scheduler_of(ctx: Ctx) -> Scheduler:
    scheduler = ctx.services.scheduler
    if scheduler is None:
        raise CampaignsUnavailable()
    return scheduler


def tell_scheduler(ctx: Ctx, campaign_id: int) -> None:
    """Tell the scheduler about the change once it is committed (never before)."""
    scheduler = scheduler_of(ctx)

    async def changed() -> None:
        await scheduler.changed(campaign_id)

    ctx.after_commit.append(changed)


def audit(ctx: Ctx, action: str, campaign_id: int, **details: Any) -> None:
    ctx.audit(action, f"campaign:{campaign_id}", **details)


def kind_label(kind: str) -> str:
    return _(KIND_LABELS.get(kind, kind))


def status_label(status: str) -> str:
    return _(STATUS_LABELS.get(status, status))


def as_number(text: str) -> int | None:
    """The number in \"12\" or \"#12\", or None."""
    text = text.strip().lstrip("#")
    return int(text) if text.isdigit() and len(text) < 12 else None


def local_time(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


async def find_campaign(ctx: Ctx, ref: str, *, deleted: bool = False) -> Campaign:
    wanted = as_number(ref)
    found = await ctx.session.get(Campaign, wanted) if wanted is not None else None
    if found is None or (found.status == DELETED and not deleted):
        raise UnknownCampaign(ref=ref)
    return found


# --- samples, audiences, previews ----------------------------------------------------------


def example_need(ctx: Ctx) -> tuple[Need, Project]:
    project = Project(
        id=0,
        slug="example",
        title=_("Example project"),
        summary="",
        territory="",
        tags=[],
        status=ProjectStatus.OPEN.value,
    )
    need = Need(
        id=0,
        project_id=0,
        kind=ContributionKind.SKILLS.value,
        title=_("Example need"),
        details="",
        effort="",
        target_amount=None,
        currency=None,
        deadline=None,
        status=NeedStatus.OPEN.value,
    )
    return need, project


async def open_needs(ctx: Ctx, limit: int = 50) -> list[tuple[Need, Project]]:
    rows = await ctx.session.execute(
        select(Need, Project)
        .join(Project, Need.project_id == Project.id)
        .where(Need.status == NeedStatus.OPEN.value, Project.status == ProjectStatus.OPEN.value)
        .order_by(Need.created_at.desc(), Need.id.desc())
        .limit(limit)
    )
    return [(need, project) for need, project in rows]


async def sample_context(ctx: Ctx, campaign: Campaign, run_id: int | None = None) -> RunContext:
    """A context for a preview or a test: the campaign's own objects, else current ones,
    else an example (a follow-up needs an accepted offer, which may not exist yet)."""
    kind = campaign.kind
    default = ctx.community.default_language
    project = await ctx.session.get(Project, campaign.project_id) if campaign.project_id else None
    need = await ctx.session.get(Need, campaign.need_id) if campaign.need_id else None
    extra: dict[str, Any] = {"project": project, "need": need}
    if kind == CampaignKind.SPOTLIGHT.value:
        if project is None:
            project = await ctx.session.scalar(
                select(Project)
                .where(Project.status == ProjectStatus.OPEN.value)
                .order_by(Project.spotlighted_at.is_not(None), Project.spotlighted_at, Project.id)
                .limit(1)
            )
        if project is None:
            sample_need, project = example_need(ctx)
            extra["needs"] = [sample_need]
        else:
            extra["needs"] = [
                n
                for n in await ctx.session.scalars(
                    select(Need).where(Need.project_id == project.id).order_by(Need.id)
                )
            ]
        extra["project"] = project
    elif kind == CampaignKind.DIGEST.value:
        found = await open_needs(ctx)
        extra["needs"] = [n for n, _p in found]
        extra["projects"] = {p.id: p for _n, p in found}
    elif kind == CampaignKind.FOLLOWUP.value:
        row = (
            await ctx.session.execute(
                select(Offer, Need, Project)
                .join(Need, Offer.need_id == Need.id)
                .join(Project, Need.project_id == Project.id)
                .where(Offer.status == ACCEPTED)
                .order_by(Offer.id.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            extra.update(offer=row[0], need=row[1], project=row[2])
        else:
            sample_need, sample_project = example_need(ctx)
            offer = Offer(id=0, need_id=0, kind=sample_need.kind, status=ACCEPTED)
            extra.update(offer=offer, need=sample_need, project=sample_project)
    elif kind == CampaignKind.REENGAGE.value:
        found = await open_needs(ctx, limit=1)
        suggestion, suggested_project = found[0] if found else example_need(ctx)
        extra.update(suggestion=suggestion, project=suggested_project)
    return RunContext.of(campaign, default, run_id=run_id, **extra)


async def audience_size(ctx: Ctx, campaign: Campaign) -> tuple[int, int]:
    """How many groups and members would receive it now (members: only those who agreed)."""
    session = ctx.session
    if campaign.kind == CampaignKind.FOLLOWUP.value:
        owners = select(Offer.member_id).where(Offer.status == ACCEPTED)
        return 0, len(await store_campaigns.recipients(session, Member.id.in_(owners)))
    if campaign.kind == CampaignKind.REENGAGE.value:
        everyone = store_campaigns.audience_filter("everyone", None)
        assert everyone is not None
        return 0, len(await store_campaigns.recipients(session, everyone))
    audience = campaign.audience or {}
    chats = await store_campaigns.group_chats(session, audience.get("groups", "none"))
    project_id = audience.get("project_id", campaign.project_id)
    condition = store_campaigns.audience_filter(str(audience.get("members", "none")), project_id)
    members = await store_campaigns.recipients(session, condition) if condition is not None else []
    return len(chats), len(members)


def render_preview(prompt: Outgoing, language: str) -> Rich:
    """A prompt as the community manager previews it: its text, its buttons, and its length
    against each platform's bound."""
    if isinstance(prompt, Poll):
        body: Rich = Rich.join(
            [Rich.of("📊 ") + bold(prompt.question)]
            + [f"{number}. {option}" for number, option in enumerate(prompt.options, start=1)]
        )
        length = text_length(prompt.question)
        bounds = [
            f"{limits.platform} {length}/{limits.poll_question}" for limits in PLATFORM_LIMITS
        ]
    elif isinstance(prompt, Message):
        body = prompt.text
        labels = [f"[{button.label}]" for row in prompt.buttons for button in row]
        if labels:
            body = Rich.join([body, " ".join(labels)])
        length = text_length(prompt.text.plain)
        bounds = [f"{limits.platform} {length}/{limits.message}" for limits in PLATFORM_LIMITS]
    else:  # pragma: no cover - campaigns send messages and polls only
        body = Rich.of(type(prompt).__name__)
        bounds = []
    header = _("Preview in {language} ({bounds}):").format(
        language=LANGUAGE_NAMES.get(language, language), bounds=" · ".join(bounds)
    )
    return Rich.join([italic(header), body])


def describe_audience(campaign: Campaign, groups: int, members: int) -> str:
    if campaign.kind in PERSONAL_KINDS:
        return _("Audience: {members} members who agreed to private messages").format(
            members=members
        )
    return _("Audience: {groups} groups, {members} members in private").format(
        groups=groups, members=members
    )
