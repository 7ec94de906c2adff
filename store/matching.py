"""Matching queries: the members a need could reach, found through their traits.

Candidates are read from `member_traits` (see `store.traits`), which holds rows only for
members who accepted private messages and did not stop the notes: the members with a skill
tag that fits the need (decided in Python over the community's distinct tags,
`skill_vocabulary`) or the project's commune of origin first, then, only when those are too
few, the members who like the need's kind. Each row comes with the most the member can score
(`bound`), highest first, so that the caller reads only as many rows as it needs; who
offered, leads the project or said "Not for me" is told apart on those rows only.

It also holds the referral bookkeeping: clicks on a need's links and the share bound.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Text,
    and_,
    case,
    exists,
    false,
    func,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store import traits
from store.models import (
    AuditEntry,
    Delivery,
    MatchFeedback,
    Member,
    MemberTrait,
    Need,
    NeedClick,
    Offer,
    ProjectLeader,
)

NOT_FOR_ME = "not_for_me"
SHARE_ACTION = "need.share"


@dataclass(frozen=True, slots=True)
class Points:
    """What each reason is worth (the scoring's weights, for the SQL bound)."""

    skill: int
    skills_counted: int
    origin: int
    kind: int
    language: int


@dataclass(frozen=True, slots=True)
class Wanted:
    """What a need looks for, as the query needs it: the skill tags that fit it (exactly as
    members wrote them), the folded words of the project's territory, the community's
    languages."""

    need_id: int
    project_id: int
    kind: str
    tags: tuple[str, ...]
    territory: tuple[str, ...]
    languages: tuple[str, ...]
    points: Points


@dataclass(frozen=True, slots=True)
class Candidate:
    """A member the need could reach, with what scoring needs to decide: `bound` is the
    most they can score (the loose origin test may overrate, never underrate)."""

    member_id: int
    bound: int
    skills: tuple[str, ...]
    liked_kinds: tuple[str, ...]
    languages: tuple[str, ...]
    origin: str | None
    display_name: str
    share_name: bool
    locale: str | None
    not_for_me_project: int
    not_for_me_kind: int
    excluded: bool = False  # offered on the need, leads its project, or said "Not for me"


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _decode(text: Any) -> tuple[str, ...]:
    if text is None:
        return ()
    value = json.loads(text) if isinstance(text, str) else text
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


async def skill_vocabulary(session: AsyncSession) -> list[str]:
    """Every distinct skill tag of the members who may be matched."""
    rows = await session.scalars(
        select(MemberTrait.value).where(MemberTrait.trait == traits.SKILL).distinct()
    )
    return list(rows)


def _ranked(
    wanted: Wanted, dialect: str, *, weak: bool, limit: int | None, after: tuple[int, int] | None
) -> Any:
    """The (member id, bound) rows of one tier, highest bound first, then by member id.

    The strong tier holds the members with a fitting skill or the project's commune of
    origin, found through the traits' primary key; the weak tier those who would score with
    the kind and the language alone (at most `kind + language`), which only a need with few
    strong candidates ever reads. A member's liked kind and languages are looked up for the
    rows found, through the same key."""
    points = wanted.points
    found = aliased(MemberTrait, name="found")
    likes = aliased(MemberTrait, name="likes")
    speaks = aliased(MemberTrait, name="speaks")
    skill_hit: ColumnElement[bool] = (
        and_(found.trait == traits.SKILL, found.value.in_(wanted.tags)) if wanted.tags else false()
    )
    place = " ".join(wanted.territory)
    origin_hit: ColumnElement[bool] = (
        and_(found.trait == traits.ORIGIN, found.value == place) if place else false()
    )
    kind_hit = and_(found.trait == traits.KIND, found.value == wanted.kind)
    # At most `skills_counted` skills score: min() of two values in SQLite, least() in PG.
    least = func.least if dialect == "postgresql" else func.min
    # SQLite would read the whole member index to group without sorting; "+ 0" makes it
    # read only the rows the conditions ask for and sort those.
    member = found.member_id + 0 if dialect == "sqlite" else found.member_id
    grouped = (
        select(
            member.label("member_id"),
            (
                least(func.sum(case((skill_hit, 1), else_=0)), points.skills_counted) * points.skill
                + func.max(case((origin_hit, points.origin), else_=0))
            ).label("part"),
        )
        .where(or_(skill_hit, origin_hit, kind_hit) if weak else or_(skill_hit, origin_hit))
        .group_by(member)
        .subquery("grouped")
    )
    # The liked kind and the languages are looked up once per member found, after grouping.
    liked = exists().where(
        likes.trait == traits.KIND,
        likes.value == wanted.kind,
        likes.member_id == grouped.c.member_id,
    )
    spoken: ColumnElement[bool] = (
        exists().where(
            speaks.trait == traits.LANGUAGE,
            speaks.value.in_(wanted.languages),
            speaks.member_id == grouped.c.member_id,
        )
        if wanted.languages
        else false()
    )
    part = grouped.c.part
    bound = (
        part + case((liked, points.kind), else_=0) + case((spoken, points.language), else_=0)
    ).label("bound")
    weak_most = points.kind + points.language
    # The tier's test on `part` first: the look-ups only decide the members near the line.
    in_tier = (
        and_(part <= weak_most, bound <= weak_most)
        if weak
        else or_(part > weak_most, bound > weak_most)
    )
    query = select(grouped.c.member_id, bound).where(in_tier)
    if after is not None:
        query = query.where(
            or_(bound < after[0], and_(bound == after[0], grouped.c.member_id > after[1]))
        )
    query = query.order_by(bound.desc(), grouped.c.member_id)
    if limit is not None:
        query = query.limit(limit)
    return query.subquery("top")


async def candidates(
    session: AsyncSession,
    wanted: Wanted,
    *,
    limit: int | None = None,
    after: tuple[int, int] | None = None,
) -> list[Candidate]:
    """The members the need could reach (a superset of the exact matches), highest bound
    first, then by member id: `limit` rows after the (bound, member id) `after`, the strong
    tier first, then the weak one. Rows marked `excluded` hold the place of members who may
    not be reached."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        # Compiling these short queries to machine code costs more than running them.
        await session.execute(text("SET LOCAL jit = off"))
    weak_most = wanted.points.kind + wanted.points.language
    found: list[Candidate] = []
    if (wanted.tags or wanted.territory) and (after is None or after[0] > weak_most):
        top = _ranked(wanted, dialect, weak=False, limit=limit, after=after)
        found += await _details(session, wanted, top)
    if limit is None or len(found) < limit:
        rest = None if limit is None else limit - len(found)
        weak_after = after if after is not None and after[0] <= weak_most else None
        top = _ranked(wanted, dialect, weak=True, limit=rest, after=weak_after)
        found += await _details(session, wanted, top)
    return found


async def _details(session: AsyncSession, wanted: Wanted, top: Any) -> list[Candidate]:
    """The rows of `top` with what scoring needs: the profile, the "Not for me" counts,
    and whether the member may not be reached at all."""
    # Told apart on the page's rows only (a few hundred among thousands of candidates):
    # those who offered, the project's leaders, and those who said "Not for me" to this need.
    offered = exists().where(Offer.need_id == wanted.need_id, Offer.member_id == top.c.member_id)
    leads = exists().where(
        ProjectLeader.project_id == wanted.project_id, ProjectLeader.member_id == top.c.member_id
    )
    refused = exists().where(
        MatchFeedback.member_id == top.c.member_id, MatchFeedback.need_id == wanted.need_id
    )
    not_for_me_project = (
        select(func.count())
        .select_from(MatchFeedback)
        .join(Need, Need.id == MatchFeedback.need_id)
        .where(MatchFeedback.member_id == top.c.member_id, Need.project_id == wanted.project_id)
        .scalar_subquery()
    )
    not_for_me_kind = (
        select(func.count())
        .select_from(MatchFeedback)
        .join(Need, Need.id == MatchFeedback.need_id)
        .where(MatchFeedback.member_id == top.c.member_id, Need.kind == wanted.kind)
        .scalar_subquery()
    )
    query = (
        select(
            top.c.member_id,
            top.c.bound,
            type_coerce(Member.skills, Text),
            type_coerce(Member.liked_kinds, Text),
            type_coerce(Member.languages, Text),
            Member.origin,
            Member.display_name,
            Member.share_name,
            Member.locale,
            not_for_me_project,
            not_for_me_kind,
            or_(offered, leads, refused),
        )
        .join(Member, Member.id == top.c.member_id)
        .order_by(top.c.bound.desc(), top.c.member_id)
    )
    return [
        Candidate(
            member_id=row[0],
            bound=int(row[1]),
            skills=_decode(row[2]),
            liked_kinds=_decode(row[3]),
            languages=_decode(row[4]),
            origin=row[5],
            display_name=row[6] or "",
            share_name=bool(row[7]),
            locale=row[8],
            not_for_me_project=int(row[9] or 0),
            not_for_me_kind=int(row[10] or 0),
            excluded=bool(row[11]),
        )
        for row in await session.execute(query)
    ]


async def noted(session: AsyncSession, purpose: str) -> set[int]:
    """Members who already have a note (sent, waiting or skipped) under this purpose."""
    rows = await session.scalars(
        select(Delivery.member_id).where(
            Delivery.purpose == purpose, Delivery.member_id.is_not(None)
        )
    )
    return {member_id for member_id in rows if member_id is not None}


def _insert(session: AsyncSession, table: Any) -> Any:
    if _dialect(session) == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


async def insert_notes(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Write the notes' outbox rows in bulk; a (purpose, target) already there is kept."""
    if rows:
        await session.execute(_insert(session, Delivery), list(rows))


# --- feedback ----------------------------------------------------------------------------------


async def not_for_me(session: AsyncSession, member_id: int, need_id: int, now: datetime) -> bool:
    """Remember a member's "Not for me" on a need; False when it was already known."""
    result = await session.execute(
        _insert(session, MatchFeedback)
        .values(member_id=member_id, need_id=need_id, verdict=NOT_FOR_ME, created_at=now)
        .returning(MatchFeedback.id)
    )
    return result.scalar_one_or_none() is not None


# --- referrals ---------------------------------------------------------------------------------


async def record_click(
    session: AsyncSession,
    *,
    need_id: int,
    member_id: int,
    source: str,
    referrer_id: int | None,
    now: datetime,
) -> bool:
    """One click per member, need and source (opening the same link again adds nothing);
    True when this one was new."""
    seen = await session.scalar(
        select(NeedClick.id)
        .where(
            NeedClick.need_id == need_id,
            NeedClick.member_id == member_id,
            NeedClick.source == source,
        )
        .limit(1)
    )
    if seen is not None:
        return False
    session.add(
        NeedClick(
            need_id=need_id,
            member_id=member_id,
            referrer_id=referrer_id,
            source=source,
            created_at=now,
        )
    )
    return True


async def shares_since(session: AsyncSession, member_id: int, since: datetime) -> int:
    """How many share links a member asked for since `since`."""
    return int(
        await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == SHARE_ACTION,
                AuditEntry.actor_id == member_id,
                AuditEntry.at >= since,
            )
        )
        or 0
    )


async def member_exists(session: AsyncSession, member_id: int) -> bool:
    found = await session.scalar(select(Member.id).where(Member.id == member_id))
    return found is not None


__all__ = [
    "NOT_FOR_ME",
    "SHARE_ACTION",
    "Candidate",
    "Points",
    "Wanted",
    "candidates",
    "insert_notes",
    "member_exists",
    "not_for_me",
    "noted",
    "record_click",
    "shares_since",
    "skill_vocabulary",
]
