"""Matching: the members whose profile fits a need hear about it personally, and know why.

When a need is announced (`notify_matches`, called by /announce), each member it fits (see
`handlers.match_scoring`) who accepts private messages gets a personal note saying why,
with "I can help", "Not for me" (remembered: later notes fit better) and "Stop these"; the
campaigns' frequency cap and quiet hours apply, and at most `match_notes_max` notes are
written per need, best matches first. /match shows a leader who a need would reach, naming
only the members who agreed to be named.

Finding the matches reads the members' traits (`store.matching.candidates`, through an
index: never every profile), ordered by the most each can score, then scores exactly in
Python as many of them as needed. The skill tags that fit a need are decided over the
community's distinct tags, read at most every `VOCABULARY_SECONDS` per database (a tag written
since may wait that long to be matched; `forget_skills()`, called when a profile changes,
drops the copy at once).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from handlers import lookup
from handlers.cards import KIND_LABELS, NEED_STATUS_LABELS, need_summary
from handlers.chat import (
    Button,
    Command,
    Message,
    Platform,
    Press,
    Rich,
    Span,
    Target,
    bold,
    italic,
    rows,
)
from handlers.context import Ctx
from handlers.errors import NeedClosed, StaleButton, Usage
from handlers.i18n import _, current_language, negotiate, use_language
from handlers.match_scoring import (
    KIND_POINTS,
    LANGUAGE_POINTS,
    ORIGIN_POINTS,
    SKILL_POINTS,
    SKILLS_COUNTED,
    Feedback,
    Match,
    Profile,
    Reason,
    Subject,
    Vocabulary,
    ranked,
    score,
    score_subject,
    subject_of,
)
from handlers.profile_values import language_name
from handlers.serial import dump
from store import audiences, profiles, respect
from store import matching as queries
from store.folding import fold
from store.models import AuditEntry, DeliveryStatus, Need, NeedStatus, Project

logger = logging.getLogger(__name__)

DETAILS_SHOWN = 300
NAMES_SHOWN = 20
REASONS_SHOWN = 8
VOCABULARY_SECONDS = 300

# --- words for people ----------------------------------------------------------------------


def _kind_words(kind: str) -> str:
    return _(KIND_LABELS.get(kind, kind)).lower()


def _language_words(code: str) -> str:
    return language_name(code, current_language())


def reason_text(reason: Reason) -> str:
    """One reason, said to the member, in the current language."""
    if reason.kind == "skill":
        return _("you know {skill}").format(skill=reason.value)
    if reason.kind == "origin":
        return _("your family is from {place}").format(place=reason.value)
    if reason.kind == "kind":
        return _("you like to help with {kind}").format(kind=_kind_words(reason.value))
    return _("you speak {language}").format(language=_language_words(reason.value))


def reason_label(reason: Reason) -> str:
    """One reason, said about members to a leader, in the current language."""
    if reason.kind == "skill":
        return _("know {skill}").format(skill=reason.value)
    if reason.kind == "origin":
        return _("are from {place}").format(place=reason.value)
    if reason.kind == "kind":
        return _("like to help with {kind}").format(kind=_kind_words(reason.value))
    return _("speak {language}").format(language=_language_words(reason.value))


def listing(parts: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c" in the current language."""
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return _("{items} and {last}").format(items=", ".join(parts[:-1]), last=parts[-1])


def explain(match: Match) -> str:
    """Why a need reached a member: "you know accounting and your family is from Tafraout"."""
    return listing([reason_text(reason) for reason in match.reasons])


def note(need: Need, project: Project, match: Match) -> Message:
    """The personal note: the need, why it reached this member, and what they can do."""
    lines: list[Rich | Span | str] = [
        Rich.of("💡 ") + bold(_("A need that may be for you")),
        Rich.of(bold(project.title))
        + (f" · {project.territory}" if project.territory else "")
        + " — "
        + need_summary(need),
    ]
    if need.details:
        details = need.details
        if len(details) > DETAILS_SHOWN:
            details = details[: DETAILS_SHOWN - 1].rstrip() + "…"
        lines.append(details)
    why = explain(match)
    lines.append(Rich.of(_("Why you: ")) + why[:1].upper() + why[1:] + ".")
    lines.append(
        italic(
            _(
                "You receive this because you accept private messages and filled in your "
                "profile (/profile)."
            )
        )
    )
    return Message(Rich.join(lines), note_buttons(need.id))


def note_buttons(need_id: int) -> tuple[tuple[Button, ...], ...]:
    return rows(
        Button(
            "🙋 " + _("I can help"),
            "mhelp",
            (str(need_id),),
            private_start=f"offer-{need_id}-m",
        ),
        Button("🙅 " + _("Not for me"), "nfm", (str(need_id),)),
        Button("🔕 " + _("Stop these"), "stop"),
        width=2,
    )


# --- finding the matches -------------------------------------------------------------------


def community_languages(ctx: Ctx) -> frozenset[str]:
    return frozenset({ctx.community.default_language})


POINTS = queries.Points(
    skill=SKILL_POINTS,
    skills_counted=SKILLS_COUNTED,
    origin=ORIGIN_POINTS,
    kind=KIND_POINTS,
    language=LANGUAGE_POINTS,
)
PAGE_MARGIN = 100  # candidates read beyond the number of matches wanted

# The skill tags of each database (by URL), with when they were read.
_vocabularies: dict[str, tuple[datetime, Vocabulary]] = {}


def forget_skills() -> None:
    """Drop the copies of the community's skill tags (a profile changed)."""
    _vocabularies.clear()


async def vocabulary(session: AsyncSession, now: datetime) -> Vocabulary:
    """The community's distinct skill tags, read again when the copy is too old."""
    bind = session.bind
    key = (
        "" if bind is None else str(bind.url if isinstance(bind, AsyncEngine) else bind.engine.url)
    )
    known = _vocabularies.get(key)
    age = now - known[0] if known is not None else None
    if (
        known is None
        or age is None
        or not timedelta(0) <= age <= timedelta(seconds=VOCABULARY_SECONDS)
    ):
        known = (now, Vocabulary(await queries.skill_vocabulary(session)))
        _vocabularies[key] = known
    return known[1]


def wanted(subject: Subject, tags: Sequence[str]) -> queries.Wanted:
    return queries.Wanted(
        need_id=subject.need_id,
        project_id=subject.project_id,
        kind=subject.kind,
        tags=tuple(tags),
        territory=subject.territory,
        languages=tuple(sorted(subject.languages)),
        points=POINTS,
    )


@dataclass(frozen=True)
class Found:
    """The matches of a need, best first; `complete` when every candidate was scored (else
    more candidates remain, none of whom could rank before the matches found)."""

    matches: list[Match]
    complete: bool


def _scored(candidate: queries.Candidate, subject: Subject) -> Match | None:
    profile = Profile(
        member_id=candidate.member_id,
        skills=candidate.skills,
        liked_kinds=candidate.liked_kinds,
        languages=candidate.languages,
        origin=candidate.origin,
        display_name=candidate.display_name,
        share_name=candidate.share_name,
    )
    feedback = Feedback(
        same_project=candidate.not_for_me_project, same_kind=candidate.not_for_me_kind
    )
    return score_subject(profile, subject, feedback)


def _beyond_reach(match: Match, last: tuple[int, int]) -> bool:
    """No candidate after `last` (bound, member id) can rank before `match`: they score at
    most `last`'s bound, and those with that very bound come after it by member id (ties
    rank by member id)."""
    bound, member_id = last
    return match.score > bound or (match.score == bound and match.member_id < member_id)


async def find_matches(
    session: AsyncSession,
    need: Need,
    project: Project,
    languages: frozenset[str],
    now: datetime,
    *,
    best: int | None = None,
) -> Found:
    """The members the need reaches, best first: one query (per page), then exact scoring
    in Python. With `best`, only as many candidates are read as it takes to be sure of the
    `best` first: candidates come in the order of the most they can score, so reading stops
    once no candidate left can rank before the `best`-th match."""
    if best is not None and best <= 0:
        return Found([], complete=False)
    subject = subject_of(need, project, languages)
    query = wanted(subject, (await vocabulary(session, now)).fitting(subject))
    matches: list[Match] = []
    after: tuple[int, int] | None = None
    size = None if best is None else best + PAGE_MARGIN
    while True:
        page = await queries.candidates(session, query, limit=size, after=after)
        scored = (_scored(c, subject) for c in page if not c.excluded)
        matches.extend(match for match in scored if match is not None)
        if size is None or len(page) < size:
            return Found(ranked(matches), complete=True)
        matches = ranked(matches)
        last = (page[-1].bound, page[-1].member_id)
        if best is not None and len(matches) >= best and _beyond_reach(matches[best - 1], last):
            return Found(matches, complete=False)
        after = last


# --- the notes when a need is announced ------------------------------------------------------


@dataclass
class MatchReport:
    """What announcing a need did for matching."""

    matched: int = 0  # members found who fit and had no note yet (at least, with `more`)
    queued: int = 0  # notes on their way
    later: int = 0  # of which wait for the end of the member's quiet hours
    capped: int = 0  # skipped: the member already had enough messages this week
    unreachable: int = 0  # skipped: the member cannot be written to privately
    beyond: int = 0  # over the bound per announcement
    already: int = 0  # had a note for this need before
    bound: int = 0  # notes per announced need, at most
    more: bool = False  # more members may fit beyond `beyond` (not all were scored)
    counts: Counter[str] = field(default_factory=Counter)


def _language(recipient: audiences.Recipient, default: str) -> str:
    return recipient.locale or negotiate(recipient.language_code) or default


def purpose(need_id: int) -> str:
    return f"match:{need_id}"


async def notify_matches(ctx: Ctx, need: Need, project: Project) -> MatchReport:
    """Write a personal note to each member the need fits (best first, within the bound),
    respecting the frequency cap and quiet hours; returns what was done."""
    community = ctx.community
    now = ctx.now()
    report = MatchReport(bound=max(community.match_notes_max, 0))
    if not report.bound:  # matching notes are turned off
        return report
    key = purpose(need.id)
    already = await queries.noted(ctx.session, key)
    found = await find_matches(
        ctx.session,
        need,
        project,
        community_languages(ctx),
        now,
        best=report.bound + len(already),
    )
    report.already = sum(1 for match in found.matches if match.member_id in already)
    already.add(ctx.actor.member_id)  # a community manager announcing is not told of it
    fresh = [match for match in found.matches if match.member_id not in already]
    chosen = fresh[: report.bound]
    report.matched = len(fresh)
    report.beyond = len(fresh) - len(chosen)
    report.more = not found.complete
    if not chosen:
        return report
    ids = [match.member_id for match in chosen]
    where = await audiences.member_recipients(ctx.session, ids)
    sent = await respect.engagement_counts(
        ctx.session, ids, now - timedelta(days=community.cap_days)
    )
    rows_out: list[dict[str, object]] = []
    for match in chosen:
        recipient = where.get(match.member_id)
        if recipient is None:  # consent withdrawn meanwhile, or no identity left
            continue
        try:
            platform = Platform(recipient.platform)
        except ValueError:
            continue
        target = Target(platform, recipient.external_id, True)
        row: dict[str, object] = {
            "purpose": key,
            "target": target.key,
            "platform": platform.value,
            "member_id": match.member_id,
            "payload": {},
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "error": "",
            "not_before": now,
            "created_at": now,
        }
        if recipient.unreachable:
            row.update(status=DeliveryStatus.SKIPPED.value, error="unreachable")
            report.unreachable += 1
        elif respect.capped(sent.get(match.member_id, 0), community.cap_messages):
            row.update(status=DeliveryStatus.SKIPPED.value, error="cap")
            report.capped += 1
        else:
            sent[match.member_id] = sent.get(match.member_id, 0) + 1
            with use_language(_language(recipient, community.default_language)):
                row["payload"] = dump(note(need, project, match))
            row["not_before"] = respect.not_before(
                now,
                member_zone=recipient.timezone,
                member_quiet=recipient.quiet_hours,
                community_zone=community.tz,
                default_quiet=community.quiet_hours,
            )
            report.queued += 1
            if row["not_before"] != now:
                report.later += 1
            report.counts.update(reason.kind for reason in match.reasons)
        rows_out.append(row)
    await queries.insert_notes(ctx.session, rows_out)
    ctx.queued += report.queued
    ctx.session.add(
        AuditEntry(
            at=now,
            actor_id=ctx.actor.member_id,
            action="need.match",
            subject=f"need:{need.id}",
            details={
                "matched": report.matched,
                "queued": report.queued,
                "later": report.later,
                "capped": report.capped,
                "unreachable": report.unreachable,
                "beyond": report.beyond,
            },
        )
    )
    return report


def report_text(report: MatchReport) -> str:
    """The matching line of the leader's /announce answer."""
    if not report.bound:
        return _("Personal notes to the members whose profile fits are turned off.")
    if not report.matched:
        if report.already:
            return _("The {count} members whose profile fits already had a personal note.").format(
                count=report.already
            )
        return _("No member's profile fits this need yet, so nobody got a personal note.")
    first = (
        _("At least {count} members whose profile fits: {queued} will get a personal note.")
        if report.more
        else _("{count} members whose profile fits: {queued} will get a personal note.")
    )
    parts = [first.format(count=report.matched, queued=report.queued)]
    if report.later:
        parts.append(
            _("{count} of the notes wait for the end of the members' quiet hours.").format(
                count=report.later
            )
        )
    if report.capped:
        parts.append(
            _("{count} members already had enough messages this week: not this time.").format(
                count=report.capped
            )
        )
    if report.unreachable:
        parts.append(
            _("{count} members cannot be written to privately.").format(count=report.unreachable)
        )
    if report.beyond or report.more:
        parts.append(
            _("At most {bound} notes are written per need, to the best matches.").format(
                bound=report.bound
            )
        )
    return " ".join(parts)


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
    ctx.session.add(
        AuditEntry(
            at=ctx.now(),
            actor_id=ctx.actor.member_id,
            action="member.matching_on" if again else "member.matching_off",
            subject=f"member:{ctx.actor.member_id}",
            details={},
        )
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


__all__ = [
    "Feedback",
    "Found",
    "Match",
    "MatchReport",
    "Profile",
    "Reason",
    "cmd_match",
    "explain",
    "find_matches",
    "forget_skills",
    "notify_matches",
    "press_match_help",
    "press_not_for_me",
    "press_stop",
    "report_text",
    "score",
    "score_subject",
]
