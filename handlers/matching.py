"""Matching, as members and leaders meet it: /match shows a leader who a need would reach
and why, naming only the members who agreed to be named; the buttons under a personal note
answer "I can help" (the offer, credited to matching), "Not for me" (remembered: later notes
fit better) and "Stop these".

The rest lives beside it: who a need fits and how much in `match_scoring`, finding them in the
database in `match_finding`, the notes written when a need is announced in `match_notes`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

from handlers import lookup
from handlers.cards import NEED_STATUS_LABELS, need_summary
from handlers.chat import Button, Command, Press, Rich, Span, bold, italic, rows
from handlers.context import Ctx
from handlers.errors import NeedClosed, StaleButton, Usage
from handlers.i18n import _
from handlers.match_finding import community_languages, find_matches
from handlers.match_notes import purpose, reason_label
from handlers.match_scoring import Match, Reason
from store import matching as queries
from store import profiles, respect
from store.folding import fold
from store.models import NeedStatus, Project

NAMES_SHOWN = 20
REASONS_SHOWN = 8

# --- /match --------------------------------------------------------------------------------


def top_reasons(matches: Sequence[Match]) -> list[tuple[Reason, int]]:
    """The most frequent reasons among the matches, with their counts."""
    counted: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], Reason] = {}
    for match in matches:
        for reason in match.reasons:
            key = (reason.kind, fold(reason.value))
            counted[key] += 1
            example.setdefault(key, reason)
    return [(example[key], count) for key, count in counted.most_common(REASONS_SHOWN)]


async def cmd_match(ctx: Ctx, cmd: Command) -> None:
    """Show how many members a need of yours would reach, and why, before announcing it."""
    if not cmd.args:
        raise Usage(usage=_("/match <need no.>"))
    need = await lookup.need(ctx, cmd.args[0])
    project = await ctx.session.get_one(Project, need.project_id)
    await lookup.require_leader(ctx, project)
    if need.status != NeedStatus.OPEN.value:
        raise NeedClosed(status=_(NEED_STATUS_LABELS.get(need.status, need.status)))
    found = await find_matches(ctx.session, need, project, community_languages(ctx), ctx.now())
    matches = found.matches
    lines: list[Rich | Span | str] = [Rich.of(bold(project.title)) + " — " + need_summary(need)]
    if not matches:
        lines.append(
            _(
                "No member's profile fits this need yet. Members fill in their profile with "
                "/profile; the need can still be announced in the groups."
            )
        )
        ctx.reply(Rich.join(lines))
        return
    community = ctx.community
    sent = await respect.engagement_counts(
        ctx.session,
        [match.member_id for match in matches],
        ctx.now() - timedelta(days=community.cap_days),
    )
    capped = sum(
        1 for m in matches if respect.capped(sent.get(m.member_id, 0), community.cap_messages)
    )
    already = len(await queries.noted(ctx.session, purpose(need.id)))
    lines.append(
        bold(_("{count} members would be reached by a personal note.").format(count=len(matches)))
    )
    if len(matches) > community.match_notes_max:
        lines.append(
            _("At most {bound} notes are sent per need, to the best matches.").format(
                bound=community.match_notes_max
            )
        )
    if capped:
        lines.append(
            _(
                "{count} of them already had enough messages this week: they would be skipped."
            ).format(count=capped)
        )
    if already:
        lines.append(_("{count} notes were already written for this need.").format(count=already))
    lines += ["", bold(_("Why they fit:"))]
    lines += [
        _("• {count} {reason}").format(count=count, reason=reason_label(reason))
        for reason, count in top_reasons(matches)
    ]
    named = [m.display_name for m in matches if m.share_name and m.display_name]
    hidden = len(matches) - len(named)
    lines.append("")
    if named:
        shown = ", ".join(named[:NAMES_SHOWN])
        more = len(named) - min(len(named), NAMES_SHOWN)
        lines.append(
            Rich.of(_("Among them, who agreed to be named: "))
            + shown
            + (f" (+{more})" if more else "")
        )
    if hidden:
        lines.append(
            italic(
                _("{count} others are counted but not named: they did not agree to it.").format(
                    count=hidden
                )
            )
        )
    ctx.reply(Rich.join(lines))


# --- what members do with a note --------------------------------------------------------------


def _need_arg(press: Press) -> str:
    if len(press.args) != 1:
        raise StaleButton()
    return press.args[0]


async def press_match_help(ctx: Ctx, press: Press) -> None:
    """ "I can help" under a personal note: start the offer, credited to matching."""
    from handlers import offers

    need = await lookup.need(ctx, _need_arg(press))
    await queries.record_click(
        ctx.session,
        need_id=need.id,
        member_id=ctx.actor.member_id,
        source="match",
        referrer_id=None,
        now=ctx.now(),
    )
    await offers.begin_offer(ctx, str(need.id), source="match")


async def press_not_for_me(ctx: Ctx, press: Press) -> None:
    """ "Not for me" under a personal note: remembered, so that later notes fit better."""
    need = await lookup.need(ctx, _need_arg(press))
    await queries.not_for_me(ctx.session, ctx.actor.member_id, need.id, ctx.now())
    ctx.reply(
        _(
            "Thank you for telling me. I will suggest needs like “{need}” less often. To tell "
            "me what you like to do, see /profile."
        ).format(need=need.title)
    )


async def press_stop(ctx: Ctx, press: Press) -> None:
    """ "Stop these": no more personal notes about needs (or, with "on", again)."""
    again = press.args[:1] == ("on",)
    if press.args and not again:
        raise StaleButton()
    await profiles.set_field(ctx.session, ctx.actor.member_id, "matching_off", not again)
    ctx.audit(
        "member.matching_on" if again else "member.matching_off", f"member:{ctx.actor.member_id}"
    )
    if again:
        ctx.reply(_("Done: I will tell you again about needs that fit your profile."))
        return
    ctx.reply(
        _(
            "Done: I will not send you personal notes about needs any more. You can turn them "
            "back on at any time in /profile, or with this button."
        ),
        rows(Button("🔔 " + _("Turn them back on"), "stop", ("on",))),
    )


__all__ = ["cmd_match", "press_match_help", "press_not_for_me", "press_stop"]
