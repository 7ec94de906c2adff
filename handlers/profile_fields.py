"""The fields of a member's profile: their labels, how each is shown, asked, read from
an answer (validated by `handlers.profile_values`) and saved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handlers import dialogs
from handlers.campaign_parsing import parse_zone
from handlers.cards import AVAILABILITY_LABELS, kind_label
from handlers.chat import Rich, Span, italic
from handlers.context import Ctx
from handlers.dialogs import Data, FreeText, Option, Pick
from handlers.errors import InvalidChoice
from handlers.i18n import N_, _, current_language
from handlers.match_finding import forget_skills
from handlers.profile_values import (
    COUNTRY_INPUT_MAX,
    LANGUAGES_INPUT_MAX,
    PLACE_MAX,
    SKILLS_INPUT_MAX,
    country_name,
    language_name,
    parse_country,
    parse_languages,
    parse_place,
    parse_quiet_hours,
    parse_skills,
)
from store import profiles as store
from store.models import AuditEntry, Availability, ContributionKind, Member

KINDS: tuple[str, ...] = tuple(kind.value for kind in ContributionKind)
AVAILABILITIES: tuple[str, ...] = tuple(value.value for value in Availability)
# The progressive questions, most useful first: consent before anything else, then what
# matching needs most.
QUESTION_ORDER: tuple[str, ...] = (
    "accepts_dm",
    "skills",
    "origin",
    "liked_kinds",
    "languages",
    "country",
    "availability",
)
TIMEZONE_INPUT_MAX = 64
QUIET_INPUT_MAX = 30

FIELD_LABELS: dict[str, str] = {
    "skills": N_("Skills"),
    "liked_kinds": N_("Contributions you like"),
    "languages": N_("Languages"),
    "country": N_("Country of residence"),
    "city": N_("City"),
    "origin": N_("Commune of origin"),
    "availability": N_("Availability"),
    "timezone": N_("Time zone"),
    "accepts_dm": N_("Private messages from me"),
    "quiet_hours": N_("Quiet hours"),
    "share_name": N_("Named among contributors"),
    "matching_off": N_("Notes about needs that fit you"),
}
YES_NO: tuple[Option, ...] = (Option("yes", N_("Yes")), Option("no", N_("No")))


async def load_member(ctx: Ctx) -> Member:
    return await ctx.session.get_one(Member, ctx.actor.member_id, populate_existing=True)


def _yes_no(flag: bool) -> str:
    return _("yes") if flag else _("no")


def field_value(member: Member, field: str) -> str | None:
    """A field as the member reads it, in their language; None when not set."""
    language = current_language()
    value: Any = getattr(member, field)
    if field in store.FLAG_FIELDS:
        return _yes_no(bool(value) != (field in store.INVERTED_FLAGS))
    if not value:
        return None
    match field:
        case "skills":
            return ", ".join(value)
        case "liked_kinds":
            return ", ".join(kind_label(kind) for kind in value)
        case "languages":
            return ", ".join(language_name(code, language) for code in value)
        case "country":
            return f"{country_name(value, language)} ({value})"
        case "availability":
            return _(AVAILABILITY_LABELS.get(value, value))
    return str(value)


# --- reading and saving values -------------------------------------------------------------


async def parse_value(ctx: Ctx, field: str, raw: Any) -> Any:
    """The value to store for what was answered, or a UserError naming the rule."""
    language = current_language()
    if field in store.FLAG_FIELDS:
        if raw not in ("yes", "no"):
            raise InvalidChoice()
        return (raw == "yes") != (field in store.INVERTED_FLAGS)
    text = str(raw)
    match field:
        case "skills":
            return parse_skills(text)
        case "languages":
            return parse_languages(text, language)
        case "country":
            return parse_country(text, language)
        case "city":
            return parse_place(text)
        case "origin":
            return parse_place(text, await store.territories(ctx.session, limit=200))
        case "availability":
            if text not in AVAILABILITIES:
                raise InvalidChoice()
            return text
        case "timezone":
            return parse_zone(text)
        case "quiet_hours":
            return parse_quiet_hours(text, clear_words=(_("none"), _("default")))
        case "liked_kinds":
            if text not in KINDS:
                raise InvalidChoice()
            return [text]
    raise InvalidChoice()


async def save(ctx: Ctx, field: str, value: Any) -> None:
    await store.set_field(ctx.session, ctx.actor.member_id, field, value)
    if field == "skills":

        async def refresh() -> None:
            # A new skill tag is matched at once, not when the cached vocabulary expires.
            forget_skills()

        ctx.after_commit.append(refresh)
    if field in store.FLAG_FIELDS:  # a consent: kept with its date
        ctx.session.add(
            AuditEntry(
                at=ctx.now(),
                actor_id=ctx.actor.member_id,
                action=f"profile.{field}",
                subject=f"member:{ctx.actor.member_id}",
                details={field: bool(value)},
            )
        )


async def dont_ask(ctx: Ctx, key: str) -> None:
    """Never ask progressive question `key` again (skipped, removed or answered "no")."""
    if key not in QUESTION_ORDER:
        return
    member = await load_member(ctx)
    if key not in member.profile_skipped:
        await store.set_skipped(ctx.session, member.id, [*member.profile_skipped, key])


# --- asking for a field ----------------------------------------------------------------------


async def _current(ctx: Ctx, field: str) -> str:
    value = field_value(await load_member(ctx), field)
    return _("Now: {value}").format(value=value) if value is not None else _("Now: not set")


async def skills_hint(ctx: Ctx) -> list[str]:
    """The community's most common skills, as a line to show (or nothing)."""
    common = await store.common_skills(ctx.session, limit=10)
    if not common:
        return []
    return [_("Common in the community: {tags}").format(tags=", ".join(common))]


async def communes_hint(ctx: Ctx) -> list[str]:
    """The communes of the projects, as a line to show (or nothing)."""
    known = await store.territories(ctx.session)
    if not known:
        return []
    return [_("Communes of the projects: {names}").format(names=", ".join(known))]


async def _ask_skills(ctx: Ctx, data: Data) -> Rich:
    lines: list[Rich | Span | str] = [
        _(
            "Your skills, as short tags separated by commas (at most 15, of at most 30 "
            "characters each), e.g. accounting, translation, irrigation."
        )
    ]
    lines.extend(await skills_hint(ctx))
    return Rich.join(lines)


def _ask_languages(ctx: Ctx, data: Data) -> str:
    return _(
        "The languages you speak, as codes or names separated by commas (at most 6), "
        "e.g. fr, ar, en or French, Arabic, Tachelhit."
    )


def _ask_country(ctx: Ctx, data: Data) -> str:
    return _("Your country of residence: its name or its two-letter code, e.g. France or FR.")


def _ask_city(ctx: Ctx, data: Data) -> str:
    return _("Your city of residence (at most 100 characters).")


async def _ask_origin(ctx: Ctx, data: Data) -> Rich:
    lines: list[Rich | Span | str] = [
        _("The commune your family comes from (at most 100 characters).")
    ]
    lines.extend(await communes_hint(ctx))
    return Rich.join(lines)


def _ask_availability(ctx: Ctx, data: Data) -> str:
    return _("How much time can you usually give?")


def _ask_timezone(ctx: Ctx, data: Data) -> str:
    return _("Your time zone, e.g. Europe/Paris, America/Montreal or Africa/Casablanca.")


def _ask_accepts_dm(ctx: Ctx, data: Data) -> str:
    return _(
        "May I write to you privately about needs that fit you and about the community's "
        "news? Answers about your own offers always reach you."
    )


def _ask_quiet_hours(ctx: Ctx, data: Data) -> str:
    return _(
        "Hours when I must not write to you, as HH:MM-HH:MM in your time zone, e.g. "
        "22:00-08:00; 00:00-00:00 for none at all; “default” for the community's."
    )


def _ask_share_name(ctx: Ctx, data: Data) -> str:
    return _(
        "May your name appear in a project's list of contributors and in its thanks? "
        "Money pledges are only ever shown as totals."
    )


def _ask_matching(ctx: Ctx, data: Data) -> str:
    return _(
        "When a new need fits your profile, may I send you a personal note about it "
        "(only if you accept private messages)?"
    )


Asker = Callable[[Ctx, Data], Any]

EDIT_ASKS: dict[str, tuple[Asker, dialogs.Expect]] = {
    "skills": (_ask_skills, FreeText(SKILLS_INPUT_MAX)),
    "languages": (_ask_languages, FreeText(LANGUAGES_INPUT_MAX)),
    "country": (_ask_country, FreeText(COUNTRY_INPUT_MAX)),
    "city": (_ask_city, FreeText(PLACE_MAX)),
    "origin": (_ask_origin, FreeText(PLACE_MAX)),
    "availability": (
        _ask_availability,
        Pick([Option(value, AVAILABILITY_LABELS[value]) for value in AVAILABILITIES]),
    ),
    "timezone": (_ask_timezone, FreeText(TIMEZONE_INPUT_MAX)),
    "accepts_dm": (_ask_accepts_dm, Pick(YES_NO)),
    "quiet_hours": (_ask_quiet_hours, FreeText(QUIET_INPUT_MAX)),
    "share_name": (_ask_share_name, Pick(YES_NO)),
    "matching_off": (_ask_matching, Pick(YES_NO)),
}


def for_field(field: str) -> Callable[[Data], bool]:
    return lambda data: data.get("field") == field


def with_current(field: str, ask: Asker) -> Asker:
    """The question, with the answer kept now."""

    async def asked(ctx: Ctx, data: Data) -> Rich:
        question = ask(ctx, data)
        if not isinstance(question, Rich | Span | str):
            question = await question
        return Rich.join([Rich.of(question), italic(await _current(ctx, field))])

    return asked
