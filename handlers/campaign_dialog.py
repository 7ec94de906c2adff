"""Creating a campaign: `/campaign` is one dialog, its steps grouped in small stages.

Each stage ends with a check that names what is wrong and asks only that step again (the
other answers are kept), so a bad cron expression, an unknown time zone or a poll option too
long for Discord costs one answer, not the whole conversation. The last step previews the
campaign as members will see it (the builders the scheduler's runs use), how many it would
reach and its next runs; activating it tells the scheduler, through its port, after the commit.

This module holds the checks and the dialog itself; the questions and their table are in
`campaign_questions`, reading the answers in `campaign_draft`, the preview and the creation in
`campaign_activation`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from handlers import dialogs, lookup
from handlers.campaign_activation import create_campaign
from handlers.campaign_content import check_poll, check_poll_question, check_run
from handlers.campaign_draft import (
    CONFIRMING,
    DAYS,
    DETAIL,
    END,
    GROUPS,
    KIND,
    MEMBERS,
    OPTIONS_1,
    OPTIONS_2,
    OPTIONS_3,
    SCHEDULE,
    SCHEDULE_KEYS,
    TARGET,
    TEXT_1,
    TEXT_2,
    TEXT_3,
    ZONE,
    Redo,
    draft,
    read_audience,
    read_end,
    read_schedule,
    read_zone,
    text_field,
)
from handlers.campaign_parsing import parse_lines, parse_time
from handlers.campaign_preview import (
    PERSONAL_KINDS,
    as_number,
    audience_size,
    sample_context,
    scheduler_of,
)
from handlers.campaign_questions import STEPS, tags_wanted
from handlers.cards import NEED_STATUS_LABELS
from handlers.context import Ctx
from handlers.dialogs import Data, Dialog
from handlers.errors import (
    DateInPast,
    EmptyAudience,
    InvalidDays,
    InvalidSchedule,
    NeedClosed,
    ProjectNotOpen,
    TextEmpty,
    UserError,
)
from handlers.i18n import LANGUAGES, _
from store.models import CampaignKind, NeedStatus, ProjectStatus

logger = logging.getLogger(__name__)

DAYS_LOW, DAYS_HIGH = 1, 365

# --- the checks that end each stage -----------------------------------------------------------

Check = Callable[[Ctx, Data], Awaitable[None]]


def _check_text(number: int) -> Check:
    async def check(ctx: Ctx, data: Data) -> None:
        key = f"{text_field(data)}_{number}"
        if not data.get(key):
            return
        try:
            if data["kind"] == CampaignKind.POLL.value:
                check_poll_question(data[key])
            else:
                sample = await sample_context(ctx, draft(ctx, data))
                check_run(sample, [data["languages"][number - 1]])
        except UserError as error:
            raise Redo(error, key) from None

    return check


def _check_options(number: int) -> Check:
    async def check(ctx: Ctx, data: Data) -> None:
        key = f"options_{number}"
        if data.get("kind") != CampaignKind.POLL.value or not data.get(key):
            return
        try:
            check_poll(data[f"content_{number}"], parse_lines(data[key]))
        except UserError as error:
            raise Redo(error, key) from None

    return check


async def _check_target(ctx: Ctx, data: Data) -> None:
    """The project or need of a message's button, or a spotlight's project."""
    data.update(project_id=None, need_id=None)
    target = str(data.get("target") or "").strip()
    if not target:
        return
    try:
        if as_number(target) is not None and data["kind"] == CampaignKind.MESSAGE.value:
            need = await lookup.need(ctx, target)
            if need.status != NeedStatus.OPEN.value:
                raise NeedClosed(status=_(NEED_STATUS_LABELS.get(need.status, need.status)))
            data.update(need_id=need.id, project_id=need.project_id)
            return
        project = await lookup.project(ctx, target)
        if project.status != ProjectStatus.OPEN.value:
            raise ProjectNotOpen(project=project.title)
        data["project_id"] = project.id
    except UserError as error:
        raise Redo(error, "target") from None


async def _check_days(ctx: Ctx, data: Data) -> None:
    if data.get("kind") not in PERSONAL_KINDS:
        return
    days = as_number(str(data.get("days", "")))
    if days is None or not DAYS_LOW <= days <= DAYS_HIGH:
        raise Redo(InvalidDays(low=DAYS_LOW, high=DAYS_HIGH), "days")


async def _check_groups(ctx: Ctx, data: Data) -> None:
    if tags_wanted(data) and not read_audience(data)["groups"]:
        raise Redo(TextEmpty(), "tags")


async def _check_members(ctx: Ctx, data: Data) -> None:
    """Followers of the campaign's project, or of the one named for it."""
    data["followers_project_id"] = None
    if data.get("members") != "followers":
        return
    project_id = data.get("project_id")
    if project_id is None:
        try:
            project_id = (await lookup.project(ctx, str(data.get("followers_of") or ""))).id
        except UserError as error:
            raise Redo(error, "followers_of") from None
    data["followers_project_id"] = project_id


async def _check_moment(ctx: Ctx, data: Data) -> None:
    """A well-formed date and time, or time of day."""
    if data.get("schedule") in ("once", "daily"):
        read_schedule(ctx, data)
    elif data.get("schedule") in ("weekly", "monthly"):
        try:
            parse_time(str(data.get("time", "")))
        except UserError as error:
            raise Redo(error, "time") from None


async def _check_schedule(ctx: Ctx, data: Data) -> None:
    """Well-formed days; a cron expression as the scheduler reads it."""
    schedule = read_schedule(ctx, data)
    if schedule["type"] == "cron":
        try:
            scheduler_of(ctx).next_runs(schedule, ctx.community.timezone, 1)
        except ValueError as problem:
            raise Redo(InvalidSchedule(problem=str(problem)), "cron") from None


async def _check_zone(ctx: Ctx, data: Data) -> None:
    """A known time zone, and a single run in the future in that zone."""
    tz = read_zone(ctx, data)
    schedule = read_schedule(ctx, data)
    if schedule["type"] == "once":
        at = datetime.fromisoformat(schedule["at"]).replace(tzinfo=ZoneInfo(tz))
        if at <= ctx.now():
            raise Redo(DateInPast(when=schedule["at"].replace("T", " ")), "at")


async def _check_end(ctx: Ctx, data: Data) -> None:
    """The end, and the schedule as a whole: it must run at least once before it ends."""
    tz = read_zone(ctx, data)
    schedule = read_schedule(ctx, data)
    ends_on, _runs = read_end(ctx, data, tz)
    key = SCHEDULE_KEYS.get(schedule["type"], "cron")
    try:
        runs = scheduler_of(ctx).next_runs(schedule, tz, 1)
    except ValueError as problem:
        raise Redo(InvalidSchedule(problem=str(problem)), key) from None
    if not runs:
        raise Redo(InvalidSchedule(problem=_("it would never run.")), key)
    if ends_on is not None and runs[0].astimezone(ZoneInfo(tz)).date() > ends_on:
        raise Redo(InvalidSchedule(problem=_("its first run comes after its end date.")), "end")


AUDIENCE_KEYS = ("groups", "tags", "members", "followers_of")


async def _check_activation(ctx: Ctx, data: Data) -> None:
    """Still in the future (the preview may have waited), and someone to receive it."""
    await _check_zone(ctx, data)
    await _check_end(ctx, data)
    groups, members = await audience_size(ctx, draft(ctx, data))
    if groups + members == 0:
        if data["kind"] in PERSONAL_KINDS:
            raise EmptyAudience()
        raise Redo(EmptyAudience(), *AUDIENCE_KEYS, stage=GROUPS)


CHECKS: dict[int, Check] = {
    TEXT_1: _check_text(1),
    TEXT_2: _check_text(2),
    TEXT_3: _check_text(3),
    OPTIONS_1: _check_options(1),
    OPTIONS_2: _check_options(2),
    OPTIONS_3: _check_options(3),
    TARGET: _check_target,
    DAYS: _check_days,
    GROUPS: _check_groups,
    MEMBERS: _check_members,
    SCHEDULE: _check_moment,
    DETAIL: _check_schedule,
    ZONE: _check_zone,
    END: _check_end,
    CONFIRMING: _check_activation,
}


# --- the dialog ---------------------------------------------------------------------------


async def _checkpoint(ctx: Ctx, data: Data) -> None:
    """A stage is answered: check it and the stages with nothing to ask for this campaign,
    then ask the next question (or create the campaign)."""
    stage = int(data.get("stage", KIND))
    while True:
        check = CHECKS.get(stage)
        try:
            if check is not None:
                await check(ctx, data)
        except Redo as redo:
            ctx.reply("⚠️ " + redo.error.render())
            # The preview is shown again before anything is activated.
            forget = redo.keys | {"confirm"}
            kept = {key: value for key, value in data.items() if key not in forget}
            if redo.stage is not None:
                kept["stage"] = redo.stage
            await dialogs.start(ctx, CAMPAIGN, data=kept)
            return
        if stage == CONFIRMING:
            await create_campaign(ctx, data)
            return
        stage += 1
        data = {**data, "stage": stage}
        if _asks_something(data):
            await dialogs.start(ctx, CAMPAIGN, data=data)
            return


def _asks_something(data: Data) -> bool:
    return any(step.when is None or step.when(data) for step in CAMPAIGN.steps)


CAMPAIGN = dialogs.register(Dialog("campaign", steps=STEPS, finish=_checkpoint))


async def begin(ctx: Ctx) -> None:
    """Start the dialog, asking for the text in the community's language first."""
    scheduler_of(ctx)
    default = ctx.community.default_language
    languages = [default, *(code for code in LANGUAGES if code != default)]
    await dialogs.start(ctx, CAMPAIGN, data={"stage": KIND, "languages": languages})
