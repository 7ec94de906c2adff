"""Finding the members a need fits: `find_matches` reads the members' traits
(`store.matching.candidates`, through an index: never every profile), ordered by the most each
can score, then scores exactly in Python (`handlers.match_scoring`) as many of them as needed.

The skill tags that fit a need are decided over the community's distinct tags, read at most
every `VOCABULARY_SECONDS` per database (a tag written since may wait that long to be matched;
`forget_skills()`, called when a profile changes, drops the copy at once).

Kept apart from the notes (`match_notes`) and /match (`matching`), which both use it, because
it is the one part that talks to the database about many members and must stay fast
(bench/matching.py measures it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from handlers.context import Ctx
from handlers.match_scoring import (
    KIND_POINTS,
    LANGUAGE_POINTS,
    ORIGIN_POINTS,
    SKILL_POINTS,
    SKILLS_COUNTED,
    Feedback,
    Match,
    Profile,
    Subject,
    Vocabulary,
    ranked,
    score_subject,
    subject_of,
)
from store import matching as queries
from store.models import Need, Project

VOCABULARY_SECONDS = 300


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


__all__ = ["Found", "community_languages", "find_matches", "forget_skills"]
