"""Matching queries: the members a need could reach, in one filtered SQL query.

The query keeps only members who accepted private messages, did not stop the notes, have
not offered on the need, do not lead its project and did not say "Not for me" to it, and
whose profile could fit: a liked kind equal to the need's, an origin spelled like the
project's territory (accents and case compared loosely, with LIKE wildcards; Python decides),
or one of the skill tags that fit the need (decided in Python over the community's distinct
tags, `skill_vocabulary`, then found as they are written in the JSON column). Each row comes
with the most the member can score (`bound`), highest first, so that the caller reads only
as many rows as it needs; the "Not for me" counts are read for those rows only, through the
feedback's (member, need) index.

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
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import (
    AuditEntry,
    Delivery,
    MatchFeedback,
    Member,
    Need,
    NeedClick,
    Offer,
    ProjectLeader,
)

# Letters that may carry an accent (or stand for one in a folded word): a LIKE pattern
# lets any one character stand in their place.
_LOOSE = frozenset("aeiouycn")
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


def like_pattern(folded: str, *, inside: bool = True) -> str:
    """A LIKE pattern finding a folded (accent-free, lower-case) text in the text as typed:
    letters that may carry an accent, and other alphabets, match any one character; other
    signs any run. `inside`: anywhere in the text, else the whole text."""
    out = []
    for char in folded:
        if char in _LOOSE or not char.isascii():
            out.append("_")
        elif char.isalnum():
            out.append(char)
        else:
            out.append("%")
    pattern = "".join(out)
    return f"%{pattern}%" if inside else pattern


def tag_forms(tag: str) -> tuple[str, ...]:
    """How a tag appears in a JSON list as stored: with non-ASCII letters escaped (how
    SQLAlchemy writes JSON) or not (written by other means), quotes included."""
    return tuple(sorted({json.dumps(tag), json.dumps(tag, ensure_ascii=False)}))


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _like(column: Any, pattern: str, dialect: str) -> ColumnElement[bool]:
    # SQLite's LIKE already ignores ASCII case; PostgreSQL's needs ILIKE.
    found: ColumnElement[bool] = (
        column.ilike(pattern) if dialect == "postgresql" else column.like(pattern)
    )
    return found


def _contains(column: Any, needle: str, dialect: str) -> ColumnElement[bool]:
    """`needle` is in the column's text (exact, case included): a plain substring search,
    cheaper than LIKE with a leading wildcard."""
    if dialect == "postgresql":
        position = func.strpos(cast(column, Text), needle)
    else:  # SQLite keeps JSON as text already: no CAST to evaluate on every row
        position = func.instr(type_coerce(column, Text), needle)
    found: ColumnElement[bool] = position > 0
    return found


def _has_tag(tag: str, dialect: str) -> ColumnElement[bool]:
    return or_(*(_contains(Member.skills, form, dialect) for form in tag_forms(tag)))


def _origin_fits(territory: Sequence[str], dialect: str) -> ColumnElement[bool]:
    if not territory:
        return false()
    pattern = like_pattern(" ".join(territory), inside=False)
    return and_(Member.origin.is_not(None), _like(func.trim(Member.origin), pattern, dialect))


def _decode(text: Any) -> tuple[str, ...]:
    if text is None:
        return ()
    value = json.loads(text) if isinstance(text, str) else text
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


def _points(condition: ColumnElement[bool], points: int) -> Any:
    return case((condition, points), else_=0)


async def skill_vocabulary(session: AsyncSession) -> list[str]:
    """Every distinct skill tag of the members who may be matched."""
    if _dialect(session) == "postgresql":
        array = case(
            (func.json_typeof(Member.skills) == "array", Member.skills),
            else_=cast(literal("[]"), Member.skills.type),
        )
        tags = func.json_array_elements_text(array).table_valued("value").alias("tag")
    else:
        tags = func.json_each(Member.skills).table_valued("value").alias("tag")
    rows = await session.scalars(
        select(tags.c.value)
        .select_from(Member)
        .join(tags, literal(True))
        .where(Member.accepts_dm.is_(True), Member.matching_off.is_(False))
        .distinct()
    )
    return [tag for tag in rows if isinstance(tag, str)]


async def candidates(
    session: AsyncSession,
    wanted: Wanted,
    *,
    limit: int | None = None,
    after: tuple[int, int] | None = None,
) -> list[Candidate]:
    """The members the need could reach (a superset of the exact matches), highest bound
    first, then by member id, in one query: `limit` rows after the (bound, member id)
    `after`. Rows marked `excluded` hold the place of members who may not be reached."""
    dialect = _dialect(session)
    points = wanted.points
    kind_fits = _contains(Member.liked_kinds, json.dumps(wanted.kind), dialect)
    language_fits = or_(
        false(),
        *(_contains(Member.languages, json.dumps(code), dialect) for code in wanted.languages),
    )
    origin_fits = _origin_fits(wanted.territory, dialect)
    skill_tests = [_has_tag(tag, dialect) for tag in wanted.tags]
    skill_count: Any = sum((_points(test, 1) for test in skill_tests), literal(0))
    # At most `skills_counted` skills score: min() of two values in SQLite, least() in PG.
    least = func.least if dialect == "postgresql" else func.min
    bound = (
        least(skill_count, points.skills_counted) * points.skill
        + _points(origin_fits, points.origin)
        + _points(kind_fits, points.kind)
        + _points(language_fits, points.language)
    ).label("bound")
    ranked = select(Member.id.label("member_id"), bound).where(
        Member.accepts_dm.is_(True),
        Member.matching_off.is_(False),
        or_(kind_fits, origin_fits, *skill_tests),
    )
    if after is not None:
        ranked = ranked.where(or_(bound < after[0], and_(bound == after[0], Member.id > after[1])))
    ranked = ranked.order_by(bound.desc(), Member.id)
    if limit is not None:
        ranked = ranked.limit(limit)
    top = ranked.subquery("top")
    # Who may not be reached at all is told apart on the page's rows only (a handful of them
    # among thousands of candidates): those who offered, the project's leaders, and those
    # who said "Not for me" to this need.
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
    if dialect == "postgresql":
        # Compiling this short query to machine code costs more than running it.
        await session.execute(text("SET LOCAL jit = off"))
    found: list[Candidate] = []
    for row in await session.execute(query):
        found.append(
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
        )
    return found


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
    "like_pattern",
    "member_exists",
    "not_for_me",
    "noted",
    "record_click",
    "shares_since",
    "skill_vocabulary",
    "tag_forms",
]
