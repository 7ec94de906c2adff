"""The end of the `/campaign` dialog: the preview of the campaign as members will see it,
whom and when it would reach, and creating it once the community manager activates it.

Separate from the questions and checks because it is the only part that writes a campaign
and tells the scheduler."""

from __future__ import annotations

from sqlalchemy import select

from handlers.campaign_content import build_prompt, new_code
from handlers.campaign_draft import draft
from handlers.campaign_preview import (
    ACTIVE,
    audience_size,
    audit,
    describe_audience,
    kind_label,
    local_time,
    render_preview,
    sample_context,
    scheduler_of,
    tell_scheduler,
)
from handlers.chat import Rich, Span, bold
from handlers.context import Ctx
from handlers.dialogs import Data
from handlers.i18n import _
from store.models import Campaign

NEXT_RUNS = 3
CODE_TRIES = 20


async def preview(ctx: Ctx, data: Data) -> Rich:
    """Show the campaign as members will see it, then whom and when it reaches; ask to
    activate it."""
    campaign = draft(ctx, data)
    sample = await sample_context(ctx, campaign)
    private = campaign.audience.get("groups", "none") in ("none", [])
    for language in list(campaign.content) or [ctx.community.default_language]:
        ctx.reply(render_preview(build_prompt(sample, language, private=private), language))
    groups, members = await audience_size(ctx, campaign)
    lines: list[Rich | Span | str] = [
        bold(_("Campaign “{name}”").format(name=campaign.name)),
        _("Kind: {kind}").format(kind=kind_label(campaign.kind)),
        describe_audience(campaign, groups, members),
    ]
    if groups + members == 0:
        lines.append(
            bold(_("⚠️ Nobody would receive it now: I will refuse to activate it as it is."))
        )
    runs = scheduler_of(ctx).next_runs(campaign.schedule, campaign.timezone, NEXT_RUNS)
    lines.append(
        _("Next runs ({zone}): {runs}").format(
            zone=campaign.timezone,
            runs=", ".join(local_time(at, campaign.timezone) for at in runs) or "—",
        )
    )
    if campaign.ends_on is not None:
        lines.append(_("Until {date}").format(date=campaign.ends_on.isoformat()))
    if campaign.max_runs is not None:
        lines.append(_("For {count} runs").format(count=campaign.max_runs))
    lines += ["", _("Activate it?")]
    return Rich.join(lines)


async def _free_code(ctx: Ctx) -> str:
    for _attempt in range(CODE_TRIES):
        code = new_code()
        if await ctx.session.scalar(select(Campaign.id).where(Campaign.code == code)) is None:
            return code
    raise RuntimeError("no free campaign code after several tries")


async def create_campaign(ctx: Ctx, data: Data) -> None:
    """Save the campaign the answers describe, and tell the scheduler once it is committed."""
    described = draft(ctx, data)
    campaign = Campaign(
        code=await _free_code(ctx),
        name=described.name,
        kind=described.kind,
        status=ACTIVE,
        content=described.content,
        options=described.options,
        audience=described.audience,
        project_id=described.project_id,
        need_id=described.need_id,
        schedule=described.schedule,
        timezone=described.timezone,
        ends_on=described.ends_on,
        max_runs=described.max_runs,
        created_by=ctx.actor.member_id,
        created_at=described.created_at,
        updated_at=described.updated_at,
    )
    ctx.session.add(campaign)
    await ctx.session.flush()
    audit(
        ctx,
        "campaign.create",
        campaign.id,
        kind=campaign.kind,
        code=campaign.code,
        audience=campaign.audience,
        schedule=campaign.schedule,
        timezone=campaign.timezone,
    )
    tell_scheduler(ctx, campaign.id)
    ctx.reply(
        Rich.join(
            [
                Rich.of("✅ ")
                + bold(
                    _("The campaign “{name}” (no. {id}) is active.").format(
                        name=campaign.name, id=campaign.id
                    )
                ),
                _("Follow it, pause it or test it with /campaigns."),
            ]
        )
    )
