"""Creating a campaign: `/campaign` is one dialog, its steps grouped in small stages.

Each stage ends with a check that names what is wrong and asks only that step again (the
other answers are kept), so a bad cron expression, an unknown time zone or a poll option too
long for Discord costs one answer, not the whole conversation. The last step previews the
campaign as members will see it (the builders the scheduler's runs use), how many it would
reach and its next runs; activating it tells the scheduler, through its port, after the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from handlers import dialogs, lookup
from handlers.campaign_content import (
    INTRO_MAX,
    KIND_LABELS,
    build_prompt,
    check_poll,
    check_poll_question,
    check_run,
    new_code,
)
from handlers.campaign_parsing import (
    parse_lines,
    parse_local,
    parse_monthday,
    parse_time,
    parse_weekdays,
    parse_zone,
)
from handlers.campaign_preview import (
    ACTIVE,
    PERSONAL_KINDS,
    as_number,
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
from handlers.cards import NEED_STATUS_LABELS
from handlers.chat import Rich, Span, bold
from handlers.context import Ctx
from handlers.dialogs import Data, Dialog, FreeText, Option, Pick, Step
from handlers.errors import (
    DateInPast,
    EmptyAudience,
    InvalidDays,
    InvalidRunCount,
    InvalidSchedule,
    NeedClosed,
    ProjectNotOpen,
    TextEmpty,
    UserError,
)
from handlers.i18n import LANGUAGE_NAMES, LANGUAGES, N_, _
from store.models import Campaign, CampaignKind, NeedStatus, ProjectStatus

logger = logging.getLogger(__name__)

TEXT_KINDS = frozenset(
    {CampaignKind.MESSAGE.value, CampaignKind.QUESTION.value, CampaignKind.POLL.value}
)
CONTENT_MAX = 4096  # what can be typed at all; each platform's own bound is checked after
NAME_MAX = 80
OPTIONS_MAX = 1000
DAYS_LOW, DAYS_HIGH = 1, 365
RUNS_HIGH = 1000
NEXT_RUNS = 3
CODE_TRIES = 20
RECURRING = ("daily", "weekly", "monthly", "cron")
SCHEDULE_KEYS = {"once": "at", "daily": "time", "weekly": "weekdays", "monthly": "monthday"}

GROUP_OPTIONS = (
    Option("all", N_("All registered groups")),
    Option("tags", N_("Groups with some tags")),
    Option("none", N_("No group")),
)
MEMBER_OPTIONS = (
    Option("none", N_("Nobody in private")),
    Option("followers", N_("Followers of a project")),
    Option("contributors", N_("Contributors")),
    Option("everyone", N_("Every member")),
)
SCHEDULE_OPTIONS = (
    Option("once", N_("Once")),
    Option("daily", N_("Every day")),
    Option("weekly", N_("Every week")),
    Option("monthly", N_("Every month")),
    Option("cron", N_("Cron expression (experts)")),
)
CONFIRM = Pick([Option("yes", N_("Activate"))])

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


# --- the questions --------------------------------------------------------------------------


def _kind_in(*kinds: str) -> Callable[[Data], bool]:
    return lambda data: data.get("kind") in kinds


def _text_kind(data: Data) -> bool:
    return data.get("kind") in TEXT_KINDS


def _generated_kind(data: Data) -> bool:
    return data.get("kind") not in TEXT_KINDS


def _shared(data: Data) -> bool:
    return data.get("kind") not in PERSONAL_KINDS


def _language(data: Data, number: int) -> str:
    languages: list[str] = data["languages"]
    return languages[number - 1]


def _language_name(data: Data, number: int) -> str:
    code = _language(data, number)
    return LANGUAGE_NAMES.get(code, code)


def _ask_kind(ctx: Ctx, data: Data) -> Rich:
    return Rich.join(
        [
            bold(_("New campaign")),
            _("What kind of campaign? Type /cancel at any time to stop."),
        ]
    )


def _ask_name(ctx: Ctx, data: Data) -> str:
    return _("A name for it, for your lists (at most 80 characters):")


def _asker_content(number: int) -> Callable[[Ctx, Data], str]:
    def ask(ctx: Ctx, data: Data) -> str:
        language = _language_name(data, number)
        what = _("question") if data.get("kind") == "poll" else _("text")
        if number == 1:
            return _(
                "The {what} in {language}, the community's language (Telegram shows at most "
                "4096 characters, Discord 2000):"
            ).format(what=what, language=language)
        return _(
            "The {what} in {language}, or Skip: those who speak it get the {default} one."
        ).format(what=what, language=language, default=_language_name(data, 1))

    return ask


def _asker_intro(number: int) -> Callable[[Ctx, Data], str]:
    def ask(ctx: Ctx, data: Data) -> str:
        language = _language_name(data, number)
        if number == 1:
            return _(
                "A short introduction in {language}, shown above what I generate (at most 500 "
                "characters), or Skip:"
            ).format(language=language)
        return _("The introduction in {language}, or Skip:").format(language=language)

    return ask


def _asker_options(number: int) -> Callable[[Ctx, Data], str]:
    def ask(ctx: Ctx, data: Data) -> str:
        return _(
            "The poll's options in {language}: 2 to 10, one per line, at most 55 characters each."
        ).format(language=_language_name(data, number))

    return ask


def _ask_target(ctx: Ctx, data: Data) -> str:
    if data.get("kind") == CampaignKind.SPOTLIGHT.value:
        return _(
            "Which project goes in the spotlight (its short name)? Skip: each run picks the "
            "open project spotlighted least recently."
        )
    return _(
        "Add a button under the message? Give a project's short name (“See the project”) or a "
        "need number like #12 (“I can help”), or Skip."
    )


def _ask_days(ctx: Ctx, data: Data) -> str:
    if data.get("kind") == CampaignKind.FOLLOWUP.value:
        return _(
            "How many days after an offer is accepted should I ask its contributor how it is "
            "going? (1 to 365)"
        )
    return _(
        "After how many days without news from a member should I suggest a need to them? (1 to 365)"
    )


def _ask_groups(ctx: Ctx, data: Data) -> str:
    return _("Which groups receive it?")


def _ask_tags(ctx: Ctx, data: Data) -> str:
    return _("Which tags? Groups with at least one of them receive it (e.g. tafraout argan).")


def _ask_members(ctx: Ctx, data: Data) -> str:
    return _(
        "Who receives it in a private message? Only members who agreed to private messages do."
    )


def _ask_followers_of(ctx: Ctx, data: Data) -> str:
    return _("The followers of which project (its short name)?")


def _ask_schedule(ctx: Ctx, data: Data) -> str:
    return _("When should it be sent?")


def _ask_at(ctx: Ctx, data: Data) -> str:
    return _(
        "The date and time, as YYYY-MM-DD HH:MM (e.g. {example}), in the time zone you choose next."
    ).format(example=_example_moment(ctx))


def _ask_time(ctx: Ctx, data: Data) -> str:
    return _("At what time? HH:MM, e.g. 18:00.")


def _ask_weekdays(ctx: Ctx, data: Data) -> str:
    return _("On which days? e.g. “mon thu” or “1 4” (Monday is 1).")


def _ask_monthday(ctx: Ctx, data: Data) -> str:
    return _(
        "Which day of the month? A number from 1 to 31 (29 to 31 mean the last day of shorter "
        "months), or a weekday such as “first monday” or “last friday”."
    )


def _ask_cron(ctx: Ctx, data: Data) -> str:
    return _(
        "The cron expression: 5 fields, minute hour day-of-month month day-of-week, "
        "e.g. 0 18 * * 1-5 (weekdays at 18:00)."
    )


def _ask_timezone(ctx: Ctx, data: Data) -> str:
    return _("Its time zone? Skip to keep {zone}, or give a name such as Europe/Paris.").format(
        zone=ctx.community.timezone
    )


def _ask_end(ctx: Ctx, data: Data) -> str:
    return _(
        "When should it stop? An end date (YYYY-MM-DD), or a number of runs (e.g. 10), or Skip "
        "to run until you pause or delete it."
    )


def _is_poll(data: Data) -> bool:
    return data.get("kind") == CampaignKind.POLL.value


def _has(key: str, condition: Callable[[Data], bool]) -> Callable[[Data], bool]:
    return lambda data: condition(data) and bool(data.get(key))


def _schedule_in(*types: str) -> Callable[[Data], bool]:
    return lambda data: data.get("schedule") in types


async def _ask_confirm(ctx: Ctx, data: Data) -> Rich:
    return await preview(ctx, data)


def _field(data: Data) -> str:
    """Where the text is: the content of a message, question or poll; else an introduction."""
    return "content" if data.get("kind") in TEXT_KINDS else "intro"


def _tags_wanted(data: Data) -> bool:
    return data.get("groups") == "tags"


def _project_for_followers(data: Data) -> bool:
    return data.get("members") == "followers" and data.get("project_id") is None


# --- reading the answers into a campaign ------------------------------------------------------


def _content(data: Data) -> dict[str, str]:
    field = _field(data)
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


def _audience(data: Data) -> dict[str, Any]:
    if data.get("kind") in PERSONAL_KINDS:
        return {"groups": "none", "members": "everyone"}
    from handlers.projects import parse_tags

    groups: Any = data.get("groups", "none")
    if groups == "tags":
        groups = parse_tags(data.get("tags"))
    audience: dict[str, Any] = {"groups": groups, "members": data.get("members", "none")}
    if audience["members"] == "followers":
        audience["project_id"] = data.get("followers_project_id")
    return audience


def _zone(ctx: Ctx, data: Data) -> str:
    try:
        return parse_zone(data["timezone"]) if data.get("timezone") else ctx.community.timezone
    except UserError as error:
        raise Redo(error, "timezone") from None


def _example_moment(ctx: Ctx) -> str:
    return (ctx.today() + timedelta(days=7)).date().isoformat() + " 18:00"


def _schedule(ctx: Ctx, data: Data) -> dict[str, Any]:
    """The schedule as the scheduler reads it; Redo names the answer to give again."""
    kind = data.get("schedule")
    if kind == "cron":
        return {"type": "cron", "cron": " ".join(str(data.get("cron", "")).split())}
    key = SCHEDULE_KEYS.get(str(kind), "schedule")
    try:
        if kind == "once":
            at = parse_local(str(data.get("at", "")), _example_moment(ctx))
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


def _end(ctx: Ctx, data: Data, tz: str) -> tuple[date | None, int | None]:
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
        tz = _zone(ctx, data)
        schedule = _schedule(ctx, data)
        ends_on, max_runs = _end(ctx, data, tz)
    return Campaign(
        id=0,
        code="PREVIEW",
        name=str(data.get("name", "")),
        kind=data["kind"],
        status=ACTIVE,
        content=_content(data),
        options=_options(data),
        audience=_audience(data),
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


# --- the checks that end each stage -----------------------------------------------------------

Check = Callable[[Ctx, Data], Awaitable[None]]


def _check_text(number: int) -> Check:
    async def check(ctx: Ctx, data: Data) -> None:
        key = f"{_field(data)}_{number}"
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
    if _tags_wanted(data) and not _audience(data)["groups"]:
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
        _schedule(ctx, data)
    elif data.get("schedule") in ("weekly", "monthly"):
        try:
            parse_time(str(data.get("time", "")))
        except UserError as error:
            raise Redo(error, "time") from None


async def _check_schedule(ctx: Ctx, data: Data) -> None:
    """Well-formed days; a cron expression as the scheduler reads it."""
    schedule = _schedule(ctx, data)
    if schedule["type"] == "cron":
        try:
            scheduler_of(ctx).next_runs(schedule, ctx.community.timezone, 1)
        except ValueError as problem:
            raise Redo(InvalidSchedule(problem=str(problem)), "cron") from None


async def _check_zone(ctx: Ctx, data: Data) -> None:
    """A known time zone, and a single run in the future in that zone."""
    tz = _zone(ctx, data)
    schedule = _schedule(ctx, data)
    if schedule["type"] == "once":
        at = datetime.fromisoformat(schedule["at"]).replace(tzinfo=ZoneInfo(tz))
        if at <= ctx.now():
            raise Redo(DateInPast(when=schedule["at"].replace("T", " ")), "at")


async def _check_end(ctx: Ctx, data: Data) -> None:
    """The end, and the schedule as a whole: it must run at least once before it ends."""
    tz = _zone(ctx, data)
    schedule = _schedule(ctx, data)
    ends_on, _runs = _end(ctx, data, tz)
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
            await _create(ctx, data)
            return
        stage += 1
        data = {**data, "stage": stage}
        if _asks_something(data):
            await dialogs.start(ctx, CAMPAIGN, data=data)
            return


def _asks_something(data: Data) -> bool:
    return any(step.when is None or step.when(data) for step in CAMPAIGN.steps)


# --- the dialog, as a table -----------------------------------------------------------------


def _open(stage: int, key: str, condition: Callable[[Data], bool] | None) -> Callable[[Data], bool]:
    def when(data: Data) -> bool:
        return (
            int(data.get("stage", KIND)) >= stage
            and key not in data
            and (condition is None or condition(data))
        )

    return when


def _step(
    stage: int,
    name: str,
    ask: dialogs.Asker,
    expect: dialogs.Expect,
    condition: Callable[[Data], bool] | None = None,
) -> Step:
    """A step of `stage`, asked once the stage is reached, while unanswered, if `condition`."""
    return Step(name, ask, expect, when=_open(stage, name, condition))


CONTENT = FreeText(CONTENT_MAX)
MORE_CONTENT = FreeText(CONTENT_MAX, optional=True)
INTRO = FreeText(INTRO_MAX, optional=True)
OPTIONS = FreeText(OPTIONS_MAX)
KIND_PICK = Pick([Option(kind, label) for kind, label in KIND_LABELS.items()])
WITH_BUTTON = _kind_in(CampaignKind.MESSAGE.value, CampaignKind.SPOTLIGHT.value)
ONE_DAY_TIME = _schedule_in("daily", "weekly", "monthly")

CAMPAIGN = dialogs.register(
    Dialog(
        "campaign",
        steps=(
            _step(KIND, "kind", _ask_kind, KIND_PICK),
            _step(KIND, "name", _ask_name, FreeText(NAME_MAX)),
            _step(TEXT_1, "content_1", _asker_content(1), CONTENT, _text_kind),
            _step(TEXT_1, "intro_1", _asker_intro(1), INTRO, _generated_kind),
            _step(TEXT_2, "content_2", _asker_content(2), MORE_CONTENT, _text_kind),
            _step(TEXT_2, "intro_2", _asker_intro(2), INTRO, _has("intro_1", _generated_kind)),
            _step(TEXT_3, "content_3", _asker_content(3), MORE_CONTENT, _text_kind),
            _step(TEXT_3, "intro_3", _asker_intro(3), INTRO, _has("intro_1", _generated_kind)),
            _step(OPTIONS_1, "options_1", _asker_options(1), OPTIONS, _is_poll),
            _step(OPTIONS_2, "options_2", _asker_options(2), OPTIONS, _has("content_2", _is_poll)),
            _step(OPTIONS_3, "options_3", _asker_options(3), OPTIONS, _has("content_3", _is_poll)),
            _step(TARGET, "target", _ask_target, FreeText(60, optional=True), WITH_BUTTON),
            _step(DAYS, "days", _ask_days, FreeText(4), _kind_in(*PERSONAL_KINDS)),
            _step(GROUPS, "groups", _ask_groups, Pick(GROUP_OPTIONS), _shared),
            _step(GROUPS, "tags", _ask_tags, FreeText(200), _tags_wanted),
            _step(MEMBERS, "members", _ask_members, Pick(MEMBER_OPTIONS), _shared),
            _step(MEMBERS, "followers_of", _ask_followers_of, FreeText(60), _project_for_followers),
            _step(SCHEDULE, "schedule", _ask_schedule, Pick(SCHEDULE_OPTIONS)),
            _step(SCHEDULE, "at", _ask_at, FreeText(40), _schedule_in("once")),
            _step(SCHEDULE, "time", _ask_time, FreeText(10), ONE_DAY_TIME),
            _step(DETAIL, "weekdays", _ask_weekdays, FreeText(100), _schedule_in("weekly")),
            _step(DETAIL, "monthday", _ask_monthday, FreeText(40), _schedule_in("monthly")),
            _step(DETAIL, "cron", _ask_cron, FreeText(100), _schedule_in("cron")),
            _step(ZONE, "timezone", _ask_timezone, FreeText(64, optional=True)),
            _step(END, "end", _ask_end, FreeText(20, optional=True), _schedule_in(*RECURRING)),
            _step(CONFIRMING, "confirm", _ask_confirm, CONFIRM),
        ),
        finish=_checkpoint,
    )
)


async def begin(ctx: Ctx) -> None:
    """Start the dialog, asking for the text in the community's language first."""
    scheduler_of(ctx)
    default = ctx.community.default_language
    languages = [default, *(code for code in LANGUAGES if code != default)]
    await dialogs.start(ctx, CAMPAIGN, data={"stage": KIND, "languages": languages})


# --- the preview and the activation ---------------------------------------------------------


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


async def _create(ctx: Ctx, data: Data) -> None:
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
