"""Campaigns, as the community manager runs them: create, list, pause, resume, delete, run
now, test, and read their results. Creating one is the dialog in `campaign_dialog`; what
members do with them is in `campaign_responses`; what they say is in `campaign_content`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from handlers.campaign_content import (
    FOLLOWUP_LABELS,
    RunContext,
    build_prompt,
    poll_options,
)
from handlers.campaign_dialog import begin
from handlers.campaign_preview import (
    ACTIVE,
    DELETED,
    FINISHED,
    PAUSED,
    as_number,
    audit,
    find_campaign,
    kind_label,
    local_time,
    sample_context,
    scheduler_of,
    status_label,
    tell_scheduler,
)
from handlers.campaign_responses import latest_run
from handlers.chat import (
    Button,
    Command,
    Message,
    Press,
    Rich,
    Span,
    bold,
    italic,
    rows,
)
from handlers.context import Ctx
from handlers.errors import (
    CampaignWrongStatus,
    StaleButton,
    Usage,
)
from handlers.i18n import N_, _
from store import campaigns as store_campaigns
from store.models import (
    Campaign,
    CampaignKind,
    CampaignResponse,
    Member,
)

logger = logging.getLogger(__name__)

ANSWERS_SHOWN = 10
TEST_CODE = "TEST"  # shorter than any real code
LISTED = 20
SKIP_REASONS = {
    "cap": N_("message limit"),
    "quiet": N_("quiet hours"),
    "unreachable": N_("unreachable"),
}


async def cmd_campaign(ctx: Ctx, cmd: Command) -> None:
    """Create a campaign (no argument), or show one with its statistics (its number)."""
    if cmd.args:
        if len(cmd.args) != 1 or as_number(cmd.args[0]) is None:
            raise Usage(usage=_("/campaign [number]"))
        await show_campaign(ctx, await find_campaign(ctx, cmd.args[0]))
        return
    await begin(ctx)


# --- the community manager's list, details and buttons -------------------------------------


async def cmd_campaigns(ctx: Ctx, cmd: Command) -> None:
    """List the campaigns with their status, next run and last results."""
    found = list(
        await ctx.session.scalars(
            select(Campaign)
            .where(Campaign.status != DELETED)
            .order_by(Campaign.id.desc())
            .limit(LISTED)
        )
    )
    if not found:
        ctx.reply(_("There are no campaigns yet. Create one with /campaign."))
        return
    ctx.reply(bold(_("Campaigns ({count}):").format(count=len(found))))
    for campaign in found:
        ctx.reply(await _summary(ctx, campaign), _campaign_buttons(campaign))


async def _summary(ctx: Ctx, campaign: Campaign) -> Rich:
    lines: list[Rich | Span | str] = [
        Rich.of(f"#{campaign.id} ")
        + bold(campaign.name)
        + " · "
        + kind_label(campaign.kind)
        + " · "
        + italic(status_label(campaign.status))
    ]
    if campaign.status == ACTIVE:
        lines.append(_("Next run: {when}").format(when=_next_run(ctx, campaign)))
    run = await latest_run(ctx, campaign.id)
    if run is not None:
        progress = await store_campaigns.run_progress(ctx.session, run.id)
        lines.append(
            _("Last run {when}: {sent} sent, {failed} failed, {waiting} waiting").format(
                when=local_time(run.scheduled_at, campaign.timezone),
                sent=progress.get("sent", 0),
                failed=progress.get("failed", 0) + progress.get("unknown", 0),
                waiting=progress.get("pending", 0) + progress.get("sending", 0),
            )
        )
    return Rich.join(lines)


def _next_run(ctx: Ctx, campaign: Campaign) -> str:
    try:
        runs = scheduler_of(ctx).next_runs(campaign.schedule, campaign.timezone, 1)
    except ValueError:
        runs = []
    if not runs:
        return _("none")
    return f"{local_time(runs[0], campaign.timezone)} ({campaign.timezone})"


def _campaign_buttons(campaign: Campaign) -> tuple[tuple[Button, ...], ...]:
    ref = (str(campaign.id),)
    first: list[Button] = []
    if campaign.status == ACTIVE:
        first.append(Button("⏸ " + _("Pause"), "cpause", ref))
    elif campaign.status == PAUSED:
        first.append(Button("▶️ " + _("Resume"), "cresume", ref))
    first += [
        Button("🚀 " + _("Run now"), "crun", ref),
        Button("🧪 " + _("Test"), "ctest", ref),
    ]
    second = [
        Button("📊 " + _("Details"), "cshow", ref),
        Button("🗑 " + _("Delete"), "cdelete", ref),
    ]
    return (tuple(first), tuple(second))


async def show_campaign(ctx: Ctx, campaign: Campaign) -> None:
    """One campaign with its statistics and its last answers."""
    stats = await store_campaigns.stats(ctx.session, campaign.id)
    lines: list[Rich | Span | str] = [await _summary(ctx, campaign)]
    lines.append(
        _("Code: {code} · time zone: {zone}").format(code=campaign.code, zone=campaign.timezone)
    )
    lines.append(
        _("Runs: {runs} (skipped: {skipped})").format(runs=stats.runs, skipped=stats.runs_skipped)
    )
    lines.append(
        _(
            "Messages: {sent} sent, {failed} failed, {unknown} unknown, {held} held, "
            "{pending} waiting"
        ).format(
            sent=stats.sent,
            failed=stats.failed,
            unknown=stats.unknown,
            held=stats.held,
            pending=stats.pending,
        )
    )
    if stats.skipped:
        lines.append(
            _("Skipped: {reasons}").format(
                reasons=", ".join(
                    f"{_(SKIP_REASONS.get(reason, reason))} {count}"
                    for reason, count in sorted(stats.skipped.items())
                )
            )
        )
    lines.append(
        _("Answers: {answers} · poll votes: {votes} · clicks: {clicks} · offers: {offers}").format(
            answers=stats.answers, votes=stats.votes, clicks=stats.clicks, offers=stats.offers
        )
    )
    if campaign.kind == CampaignKind.POLL.value and stats.choices:
        sample = RunContext.of(campaign, ctx.community.default_language)
        options = poll_options(sample, ctx.actor.locale)
        for index, option in enumerate(options):
            lines.append(f"  {option}: {stats.choices.get(str(index), 0)}")
    answers = await _last_answers(ctx, campaign.id)
    if answers:
        lines += ["", bold(_("Last answers:"))]
        lines.extend(answers)
    ctx.reply(Rich.join(lines), _campaign_buttons(campaign))


async def _last_answers(ctx: Ctx, campaign_id: int) -> list[Rich]:
    rows = await ctx.session.execute(
        select(CampaignResponse, Member.display_name)
        .outerjoin(Member, Member.id == CampaignResponse.member_id)
        .where(CampaignResponse.campaign_id == campaign_id, CampaignResponse.kind == "answer")
        .order_by(CampaignResponse.created_at.desc(), CampaignResponse.id.desc())
        .limit(ANSWERS_SHOWN)
    )
    shown: list[Rich] = []
    for response, name in rows:
        said = response.text or ", ".join(
            _(FOLLOWUP_LABELS.get(choice, choice)) for choice in response.choice
        )
        shown.append(Rich.of(f"— {name or '—'}: ") + italic(said))
    return shown


async def _pressed_campaign(ctx: Ctx, press: Press, size: int = 1) -> Campaign:
    if len(press.args) != size:
        raise StaleButton()
    return await find_campaign(ctx, press.args[0])


async def _move(
    ctx: Ctx, campaign: Campaign, from_statuses: Sequence[str], to: str, verb: str
) -> None:
    """Change the status if nobody changed it first; otherwise say what it is now."""
    result = await ctx.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(list(from_statuses)))
        .values(status=to, updated_at=ctx.now())
        .execution_options(synchronize_session="fetch")
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        await ctx.session.refresh(campaign)
        raise CampaignWrongStatus(name=campaign.name, status=status_label(campaign.status))
    await ctx.session.refresh(campaign)
    audit(ctx, f"campaign.{verb}", campaign.id, status=to)
    tell_scheduler(ctx, campaign.id)


async def press_pause(ctx: Ctx, press: Press) -> None:
    """Pause a campaign: nothing more is sent until it is resumed."""
    campaign = await _pressed_campaign(ctx, press)
    await _move(ctx, campaign, (ACTIVE,), PAUSED, "pause")
    ctx.reply(_("“{name}” is paused.").format(name=campaign.name), _campaign_buttons(campaign))


async def press_resume(ctx: Ctx, press: Press) -> None:
    """Resume a paused campaign."""
    campaign = await _pressed_campaign(ctx, press)
    await _move(ctx, campaign, (PAUSED,), ACTIVE, "resume")
    ctx.reply(
        _("“{name}” is active again. Next run: {when}").format(
            name=campaign.name, when=_next_run(ctx, campaign)
        ),
        _campaign_buttons(campaign),
    )


async def press_delete(ctx: Ctx, press: Press) -> None:
    """Delete a campaign, after a confirmation; its history and statistics are kept."""
    if len(press.args) == 1:
        campaign = await _pressed_campaign(ctx, press)
        ctx.reply(
            _("Delete the campaign “{name}”? Nothing more will be sent.").format(
                name=campaign.name
            ),
            rows(Button("🗑 " + _("Yes, delete it"), "cdelete", (str(campaign.id), "yes"))),
        )
        return
    if len(press.args) != 2 or press.args[1] != "yes":
        raise StaleButton()
    campaign = await find_campaign(ctx, press.args[0])
    await _move(ctx, campaign, (ACTIVE, PAUSED, FINISHED), DELETED, "delete")
    ctx.reply(_("The campaign “{name}” is deleted.").format(name=campaign.name))


async def press_run(ctx: Ctx, press: Press) -> None:
    """Run a campaign now, whatever its schedule."""
    campaign = await _pressed_campaign(ctx, press)
    scheduler = scheduler_of(ctx)
    campaign_id, member_id = campaign.id, ctx.actor.member_id
    audit(ctx, "campaign.run_now", campaign.id)

    async def run_now() -> None:
        await scheduler.run_now(campaign_id, member_id)

    ctx.after_commit.append(run_now)
    ctx.reply(
        _("“{name}” is running now; see its results with /campaign {id}.").format(
            name=campaign.name, id=campaign.id
        )
    )


async def press_test(ctx: Ctx, press: Press) -> None:
    """Send the campaign's message to yourself only, in your language."""
    campaign = await _pressed_campaign(ctx, press)
    # A code no campaign has: pressing the test's buttons credits nothing.
    sample = dataclasses.replace(await sample_context(ctx, campaign), code=TEST_CODE)
    prompt = build_prompt(sample, ctx.actor.locale, private=True)
    ctx.reply(italic(_("Test of “{name}”: only you receive it.").format(name=campaign.name)))
    if isinstance(prompt, Message):
        ctx.reply(prompt.text, prompt.buttons)
    else:
        ctx.replies.append(prompt)


async def press_show(ctx: Ctx, press: Press) -> None:
    """A campaign's details and statistics."""
    await show_campaign(ctx, await _pressed_campaign(ctx, press))
