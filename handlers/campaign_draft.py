"""The campaign a `/campaign` dialog describes: the stages its answers come in, and reading
those answers into a `Campaign` (`draft`), for the checks, the preview and the creation alike.

Reading is where a bad schedule, time zone or end is found, so `Redo`, which names the answer
to give again, lives here too. Nothing here asks, sends or writes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from handlers.campaign_parsing import (
    parse_lines,
    parse_local,
    parse_monthday,
    parse_time,
    parse_weekdays,
    parse_zone,
)
from handlers.campaign_preview import ACTIVE, PERSONAL_KINDS, as_number
from handlers.context import Ctx
from handlers.dialogs import Data
from handlers.errors import DateInPast, InvalidRunCount, UserError
from store.models import Campaign, CampaignKind

TEXT_KINDS = frozenset(
    {CampaignKind.MESSAGE.value, CampaignKind.QUESTION.value, CampaignKind.POLL.value}
)
RUNS_HIGH = 1000
SCHEDULE_KEYS = {"once": "at", "daily": "time", "weekly": "weekdays", "monthly": "monthday"}

# The stages, in order; each one's check runs when its steps are answered.
(
    KIND,
    TEXT_1,
    TEXT_2,
    TEXT_3,
    OPTIONS_1,
    OPTIONS_2,
    OPTIONS_3,
    TARGET,
    DAYS,
    GROUPS,
    MEMBERS,
    SCHEDULE,
    DETAIL,
    ZONE,
    END,
    CONFIRMING,
) = range(16)


class Redo(Exception):
    """A stage's check failed: say why and ask `keys` again (from `stage`, when given)."""

    def __init__(self, error: UserError, *keys: str, stage: int | None = None) -> None:
        super().__init__(error.msgid)
        self.error = error
        self.keys = frozenset(keys)
        self.stage = stage


def text_field(data: Data) -> str:
    """Where the text is: the content of a message, question or poll; else an introduction."""
    return "content" if data.get("kind") in TEXT_KINDS else "intro"


# --- reading the answers into a campaign ------------------------------------------------------


def _content(data: Data) -> dict[str, str]:
    field = text_field(data)
    return {
        language: data[f"{field}_{number}"]
        for number, language in enumerate(data["languages"], start=1)
        if data.get(f"{field}_{number}")
    }


def _options(data: Data) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if data.get("kind") == CampaignKind.POLL.value:
        options["options"] = {
            language: parse_lines(data[f"options_{number}"])
            for number, language in enumerate(data["languages"], start=1)
            if data.get(f"options_{number}")
        }
    days = as_number(str(data.get("days") or ""))
    if data.get("kind") in PERSONAL_KINDS and days is not None:
        options["days"] = days
    return options


def read_audience(data: Data) -> dict[str, Any]:
    """Which groups and which members receive it, as the scheduler reads it."""
    if data.get("kind") in PERSONAL_KINDS:
        return {"groups": "none", "members": "everyone"}
    from handlers.project_rules import parse_tags

    groups: Any = data.get("groups", "none")
    if groups == "tags":
        groups = parse_tags(data.get("tags"))
    audience: dict[str, Any] = {"groups": groups, "members": data.get("members", "none")}
    if audience["members"] == "followers":
        audience["project_id"] = data.get("followers_project_id")
    return audience


def read_zone(ctx: Ctx, data: Data) -> str:
    """The time zone named, or the community's; Redo asks again for an unknown one."""
    try:
        return parse_zone(data["timezone"]) if data.get("timezone") else ctx.community.timezone
    except UserError as error:
        raise Redo(error, "timezone") from None


def example_moment(ctx: Ctx) -> str:
    """A date and time a week ahead, to show how to write one."""
    return (ctx.today() + timedelta(days=7)).date().isoformat() + " 18:00"


def read_schedule(ctx: Ctx, data: Data) -> dict[str, Any]:
    """The schedule as the scheduler reads it; Redo names the answer to give again."""
    kind = data.get("schedule")
    if kind == "cron":
        return {"type": "cron", "cron": " ".join(str(data.get("cron", "")).split())}
    key = SCHEDULE_KEYS.get(str(kind), "schedule")
    try:
        if kind == "once":
            at = parse_local(str(data.get("at", "")), example_moment(ctx))
            return {"type": "once", "at": at.strftime("%Y-%m-%dT%H:%M")}
        key = "time"
        schedule: dict[str, Any] = {"type": kind, "time": parse_time(str(data.get("time", "")))}
        key = SCHEDULE_KEYS[str(kind)]
        if kind == "weekly":
            schedule["weekdays"] = parse_weekdays(str(data.get("weekdays", "")))
        elif kind == "monthly":
            schedule.update(parse_monthday(str(data.get("monthday", ""))))
    except UserError as error:
        raise Redo(error, key) from None
    return schedule


def read_end(ctx: Ctx, data: Data, tz: str) -> tuple[date | None, int | None]:
    """An end date or a number of runs (or neither)."""
    text = str(data.get("end") or "").strip()
    if not text or data.get("schedule") == "once":
        return None, None
    runs = as_number(text)
    if runs is not None:
        if not 1 <= runs <= RUNS_HIGH:
            raise Redo(InvalidRunCount(high=RUNS_HIGH), "end")
        return None, runs
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Redo(InvalidRunCount(high=RUNS_HIGH), "end") from None
    if day < ctx.now().astimezone(ZoneInfo(tz)).date():
        raise Redo(DateInPast(when=day.isoformat()), "end")
    return day, None


def draft(ctx: Ctx, data: Data) -> Campaign:
    """The campaign the answers so far describe (never added to the session)."""
    now = ctx.now()
    tz, schedule, ends_on, max_runs = ctx.community.timezone, {}, None, None
    if int(data.get("stage", KIND)) > END:  # the schedule is answered and checked
        tz = read_zone(ctx, data)
        schedule = read_schedule(ctx, data)
        ends_on, max_runs = read_end(ctx, data, tz)
    return Campaign(
        id=0,
        code="PREVIEW",
        name=str(data.get("name", "")),
        kind=data["kind"],
        status=ACTIVE,
        content=_content(data),
        options=_options(data),
        audience=read_audience(data),
        project_id=data.get("project_id"),
        need_id=data.get("need_id"),
        schedule=schedule,
        timezone=tz,
        ends_on=ends_on,
        max_runs=max_runs,
        created_by=ctx.actor.member_id,
        created_at=now,
        updated_at=now,
    )
