"""/profile: what a member tells the bot about themselves, shown and edited one field at a
time, and the small questions that build it a little at a time: at most one a week, only in
private, each saying what it is for, each with a "Skip" that is remembered."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers import dialogs
from handlers.cards import AVAILABILITY_LABELS, KIND_LABELS, kind_label
from handlers.chat import Button, Command, Press, Rich, Span, bold, italic
from handlers.context import Ctx
from handlers.dialogs import SKIP, Data, Dialog, FreeText, Option, Pick, Step
from handlers.errors import StaleButton, Usage, UserError
from handlers.i18n import N_, _
from handlers.profile_fields import (
    AVAILABILITIES,
    EDIT_ASKS,
    FIELD_LABELS,
    KINDS,
    QUESTION_ORDER,
    YES_NO,
    Asker,
    communes_hint,
    dont_ask,
    field_value,
    for_field,
    load_member,
    parse_value,
    save,
    skills_hint,
    with_current,
)
from handlers.profile_values import (
    COUNTRY_INPUT_MAX,
    LANGUAGES_INPUT_MAX,
    PLACE_MAX,
    SKILLS_INPUT_MAX,
)
from store import profiles as store
from store.models import Member

logger = logging.getLogger(__name__)

QUESTION_EVERY = timedelta(days=7)

# --- pacing (pure) -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProfileState:
    """What pacing needs to know of a member: when they were last asked, what they skipped
    and which questions their profile already answers."""

    asked_at: datetime | None
    skipped: frozenset[str]
    filled: frozenset[str]

    @staticmethod
    def of(member: Member) -> ProfileState:
        filled = {key for key in QUESTION_ORDER if key != "accepts_dm" and getattr(member, key)}
        if member.accepts_dm:
            filled.add("accepts_dm")
        return ProfileState(
            member.profile_asked_at, frozenset(member.profile_skipped), frozenset(filled)
        )


def next_question(profile_state: ProfileState, now: datetime) -> str | None:
    """The profile question to ask now, or None: one a week at most, never one skipped or
    already answered, in the order of `QUESTION_ORDER`."""
    asked = profile_state.asked_at
    if asked is not None and now - asked < QUESTION_EVERY:
        return None
    for key in QUESTION_ORDER:
        if key not in profile_state.filled and key not in profile_state.skipped:
            return key
    return None


# --- showing the profile -------------------------------------------------------------------


def _profile_buttons(member: Member) -> list[list[Button]]:
    """One row per field: edit it, and remove the answer when there is one."""
    layout: list[list[Button]] = []
    for field in store.FIELDS:
        row = [Button("✏️ " + _(FIELD_LABELS[field]), "pfe", (field,))]
        if field not in store.FLAG_FIELDS and getattr(member, field):
            row.append(Button("🗑 " + _("Remove"), "pfc", (field,)))
        layout.append(row)
    return layout


async def show_profile(ctx: Ctx) -> None:
    member = await load_member(ctx)
    lines: list[Rich | Span | str] = [
        bold(_("Your profile")),
        italic(
            _(
                "Only you see it. It helps me tell you about the needs that fit you. "
                "Change or remove any answer with the buttons."
            )
        ),
        "",
    ]
    for field in store.FIELDS:
        value = field_value(member, field)
        if value is None:
            value = (
                _("not set (the community's default)") if field == "quiet_hours" else _("not set")
            )
        label = _("{label}:").format(label=_(FIELD_LABELS[field]))
        lines.append(Rich.of(bold(label)) + " " + value)
    ctx.reply(Rich.join(lines), _profile_buttons(member))


async def cmd_profile(ctx: Ctx, cmd: Command) -> None:
    """Show your profile, with buttons to change or remove each answer."""
    if not cmd.args:
        await show_profile(ctx)
        return
    field = cmd.args[0].lower()
    if field not in store.FIELDS:
        raise Usage(usage=_("/profile [field]") + " — " + ", ".join(store.FIELDS))
    await _edit(ctx, field)


async def press_edit(ctx: Ctx, press: Press) -> None:
    """ "✏️" next to a profile field: ask for its new value."""
    if len(press.args) != 1 or press.args[0] not in store.FIELDS:
        raise StaleButton()
    await _edit(ctx, press.args[0])


async def _edit(ctx: Ctx, field: str) -> None:
    if field == "liked_kinds":
        await _show_kinds(ctx, await load_member(ctx))
        return
    await dialogs.start(ctx, EDIT, data={"field": field})


async def press_clear(ctx: Ctx, press: Press) -> None:
    """ "Remove" next to a profile field: forget that answer (and don't ask it again)."""
    if len(press.args) != 1 or press.args[0] not in store.FIELDS:
        raise StaleButton()
    field = press.args[0]
    await save(ctx, field, store.empty_value(field))
    await dont_ask(ctx, field)
    ctx.reply(_("Removed: {field}.").format(field=_(FIELD_LABELS[field])))
    await show_profile(ctx)


# --- liked kinds: toggles ------------------------------------------------------------------


async def _show_kinds(ctx: Ctx, member: Member) -> None:
    chosen = set(member.liked_kinds)
    buttons = [
        Button(
            ("✅ " if kind in chosen else "") + kind_label(kind),
            "pfk",
            (kind, "0" if kind in chosen else "1"),
        )
        for kind in KINDS
    ]
    layout = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    layout.append([Button(_("Done"), "pfk", ("done",))])
    ctx.reply(
        _("Which contributions do you like to make? Tap to choose or unchoose, then Done."),
        layout,
    )


async def press_kinds(ctx: Ctx, press: Press) -> None:
    """A contribution kind toggled in your profile, or Done."""
    if press.args == ("done",):
        await show_profile(ctx)
        return
    if len(press.args) != 2 or press.args[0] not in KINDS or press.args[1] not in ("0", "1"):
        raise StaleButton()
    kind, wanted = press.args[0], press.args[1] == "1"
    member = await load_member(ctx)
    # The button says what to do (add or remove), so an old button cannot undo a newer choice.
    chosen = [k for k in KINDS if (k == kind and wanted) or (k != kind and k in member.liked_kinds)]
    await save(ctx, "liked_kinds", chosen)
    await _show_kinds(ctx, await load_member(ctx))


# --- the edit dialog -----------------------------------------------------------------------


async def _finish_edit(ctx: Ctx, data: Data) -> None:
    field = data["field"]
    try:
        value = await parse_value(ctx, field, data.get("value"))
    except UserError as error:  # say why and ask again: nothing was written
        ctx.reply("⚠️ " + error.render())
        await dialogs.start(ctx, EDIT, data={"field": field})
        return
    await save(ctx, field, value)
    if field == "accepts_dm" and value is False:
        await dont_ask(ctx, field)
    ctx.reply(_("Saved: {field}.").format(field=_(FIELD_LABELS[field])))
    await show_profile(ctx)


EDIT = dialogs.register(
    Dialog(
        "profile",
        steps=tuple(
            Step(field, with_current(field, ask), expect, key="value", when=for_field(field))
            for field, (ask, expect) in EDIT_ASKS.items()
        ),
        finish=_finish_edit,
    )
)


# --- progressive questions -----------------------------------------------------------------

LATER = N_("You can change or remove this answer at any time with /profile.")


def _purpose(question: str) -> Callable[[Ctx, Data], Rich]:
    def ask(ctx: Ctx, data: Data) -> Rich:
        return Rich.join([bold(_("A quick question")), _(question), italic(_(LATER))])

    return ask


async def _purpose_skills(ctx: Ctx, data: Data) -> Rich:
    lines: list[Rich | Span | str] = [
        bold(_("A quick question")),
        _(
            "What are you good at? A few words separated by commas (e.g. accounting, "
            "translation), so that I only tell you about needs in your field."
        ),
    ]
    lines.extend(await skills_hint(ctx))
    lines.append(italic(_(LATER)))
    return Rich.join(lines)


async def _purpose_origin(ctx: Ctx, data: Data) -> Rich:
    lines: list[Rich | Span | str] = [
        bold(_("A quick question")),
        _(
            "Which commune does your family come from? So that you hear first about the "
            "projects there."
        ),
    ]
    lines.extend(await communes_hint(ctx))
    lines.append(italic(_(LATER)))
    return Rich.join(lines)


def _with_skip(options: Sequence[Option]) -> Pick:
    return Pick([*options, Option(SKIP, N_("Skip"))])


QUESTIONS: dict[str, tuple[Asker, dialogs.Expect]] = {
    "accepts_dm": (
        _purpose(
            N_(
                "May I write to you privately when a need fits you? That is how members hear "
                "of needs in their field; I write rarely, never at night."
            )
        ),
        _with_skip(YES_NO),
    ),
    "skills": (_purpose_skills, FreeText(SKILLS_INPUT_MAX, optional=True)),
    "origin": (_purpose_origin, FreeText(PLACE_MAX, optional=True)),
    "liked_kinds": (
        _purpose(
            N_(
                "Which contribution would you most like to make? So that I suggest the needs "
                "you will enjoy."
            )
        ),
        _with_skip([Option(kind, KIND_LABELS[kind]) for kind in KINDS]),
    ),
    "languages": (
        _purpose(
            N_(
                "Which languages do you speak (e.g. fr, ar, en)? So that projects can reach "
                "you in a language you read."
            )
        ),
        FreeText(LANGUAGES_INPUT_MAX, optional=True),
    ),
    "country": (
        _purpose(
            N_(
                "Which country do you live in? So that I tell you about the needs you can "
                "help with from there, at sensible hours."
            )
        ),
        FreeText(COUNTRY_INPUT_MAX, optional=True),
    ),
    "availability": (
        _purpose(
            N_("How much time can you usually give? So that projects only ask what fits your life.")
        ),
        _with_skip([Option(value, AVAILABILITY_LABELS[value]) for value in AVAILABILITIES]),
    ),
}


async def _finish_question(ctx: Ctx, data: Data) -> None:
    key = data["field"]
    raw = data.get("value")
    if raw is None or raw == SKIP:
        await dont_ask(ctx, key)
        ctx.reply(_("No problem, I won't ask that again. /profile whenever you like."))
        return
    try:
        value = await parse_value(ctx, key, raw)
    except UserError as error:
        ctx.reply("⚠️ " + error.render())
        await dialogs.start(ctx, QUESTION, data={"field": key})
        return
    await save(ctx, key, value)
    if key == "accepts_dm" and value is False:
        await dont_ask(ctx, key)
    ctx.reply(_("Thank you! Noted in your /profile."))


QUESTION = dialogs.register(
    Dialog(
        "profile_q",
        steps=tuple(
            Step(key, ask, expect, key="value", when=for_field(key))
            for key, (ask, expect) in QUESTIONS.items()
        ),
        finish=_finish_question,
    )
)


async def maybe_ask_profile_question(ctx: Ctx) -> None:
    """At a natural moment (an offer sent, a poll answered): ask one profile question if
    the week's one is due, in private, and never over a conversation in progress."""
    if not (ctx.place.private or ctx.place.whisper):
        return
    if await dialogs.current_state(ctx) is not None:
        return
    member = await ctx.session.get(Member, ctx.actor.member_id)
    if member is None:
        return
    key = next_question(ProfileState.of(member), ctx.now())
    if key is None:
        return
    await store.mark_asked(ctx.session, member.id, ctx.now())
    await dialogs.start(ctx, QUESTION, data={"field": key})
