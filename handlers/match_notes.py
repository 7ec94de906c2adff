"""The personal notes written when a need is announced: `notify_matches` (called by
/announce) writes one to each member the need fits who accepts private messages, saying why,
with "I can help", "Not for me" and "Stop these" (answered in `matching`); the campaigns'
frequency cap and quiet hours apply, and at most `match_notes_max` notes are written per need,
best matches first. `report_text` tells the leader what was done.

The reasons in words live here too, for the member ("you know accounting") and for a leader
("know accounting", in /match): they are said the same way wherever a match is explained.

Separate from finding the matches (`match_finding`) because this is about messages: who may
be written to, when, in which language, and what the outbox receives."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from handlers.cards import KIND_LABELS, need_summary
from handlers.chat import Button, Message, Platform, Rich, Span, Target, bold, italic, rows
from handlers.context import Ctx
from handlers.i18n import _, current_language, negotiate, use_language
from handlers.match_finding import community_languages, find_matches
from handlers.match_scoring import Match, Reason
from handlers.profile_values import language_name
from handlers.serial import dump
from store import audiences, respect
from store import matching as queries
from store.models import DeliveryStatus, Need, Project

logger = logging.getLogger(__name__)

DETAILS_SHOWN = 300

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
    ctx.audit(
        "need.match",
        f"need:{need.id}",
        matched=report.matched,
        queued=report.queued,
        later=report.later,
        capped=report.capped,
        unreachable=report.unreachable,
        beyond=report.beyond,
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


__all__ = [
    "MatchReport",
    "explain",
    "listing",
    "note",
    "notify_matches",
    "purpose",
    "reason_label",
    "report_text",
]
