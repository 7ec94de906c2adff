"""What the `/campaign` dialog asks, and when: the questions in the member's language, the
conditions that skip those a kind of campaign does not need, and the steps as one table.

Each step belongs to a stage (`campaign_draft`); the checks that end the stages and the
registration of the dialog are in `campaign_dialog`."""

from __future__ import annotations

from collections.abc import Callable

from handlers import dialogs
from handlers.campaign_activation import preview
from handlers.campaign_content import INTRO_MAX, KIND_LABELS
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
    TARGET,
    TEXT_1,
    TEXT_2,
    TEXT_3,
    TEXT_KINDS,
    ZONE,
    example_moment,
)
from handlers.campaign_preview import PERSONAL_KINDS
from handlers.chat import Rich, bold
from handlers.context import Ctx
from handlers.dialogs import Data, FreeText, Option, Pick, Step
from handlers.i18n import LANGUAGE_NAMES, N_, _
from store.models import CampaignKind

CONTENT_MAX = 4096  # what can be typed at all; each platform's own bound is checked after
NAME_MAX = 80
OPTIONS_MAX = 1000
RECURRING = ("daily", "weekly", "monthly", "cron")

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
    ).format(example=example_moment(ctx))


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


def tags_wanted(data: Data) -> bool:
    """The groups that receive it are those with some tags, to be named."""
    return data.get("groups") == "tags"


def _project_for_followers(data: Data) -> bool:
    return data.get("members") == "followers" and data.get("project_id") is None


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

STEPS: tuple[Step, ...] = (
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
    _step(GROUPS, "tags", _ask_tags, FreeText(200), tags_wanted),
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
)
