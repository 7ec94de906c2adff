"""Member traits: the facts matching looks up, one indexed row each.

A member who may be matched (accepts private messages, did not stop the notes) has a row per
skill tag (as they wrote it), liked contribution kind and language code, and one for their
commune of origin, folded ("Aït-Baha" is stored "ait baha"). Matching a need then reads the
few rows it asks for through the primary key (trait, value, member_id) instead of reading
every member's profile.

The rows are derived from the `members` columns and rewritten in the same transaction as
any change of them:

- by a mapper hook when a `Member` is inserted, or its profile columns change, through the
  ORM (a flush);
- by `rewrite` after bulk statements that change those columns (`store.profiles.set_field`);
- by `forget` before a member row goes (erasure, the merge of two members).

`rows_for` gives the rows of one profile, for bulk loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, event, insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapper, Session

from store.folding import place_key
from store.models import Member, MemberTrait

SKILL = "skill"
KIND = "kind"
LANGUAGE = "lang"
ORIGIN = "origin"
# The member columns the traits are derived from.
SOURCES = ("skills", "liked_kinds", "languages", "origin", "accepts_dm", "matching_off")
VALUE_MAX = 100  # the column's length; longer values cannot be written and never match
_COLUMNS = tuple(getattr(Member, name) for name in SOURCES)
_BATCH = 5_000


def origin_key(origin: str | None) -> str:
    """A commune of origin as stored and looked up: folded words, one space apart."""
    return " ".join(place_key(origin))


def _texts(values: Any) -> set[str]:
    if not isinstance(values, list):
        return set()
    return {value for value in values if isinstance(value, str) and 0 < len(value) <= VALUE_MAX}


def facts(
    *,
    skills: Any,
    liked_kinds: Any,
    languages: Any,
    origin: str | None,
    accepts_dm: bool | None,
    matching_off: bool | None,
) -> set[tuple[str, str]]:
    """The (trait, value) pairs of one profile; none for a member who may not be matched."""
    if not accepts_dm or matching_off:
        return set()
    found = {(SKILL, tag) for tag in _texts(skills)}
    found |= {(KIND, kind) for kind in _texts(liked_kinds)}
    found |= {(LANGUAGE, code) for code in _texts(languages)}
    place = origin_key(origin)
    if place and len(place) <= VALUE_MAX:
        found.add((ORIGIN, place))
    return found


def rows_for(member_id: int, profile: Any) -> list[dict[str, Any]]:
    """The rows of one member, for a bulk insert; `profile` maps the `SOURCES` columns
    (a dict) or has them as attributes (a Member, a result row)."""
    get = profile.get if isinstance(profile, dict) else lambda name: getattr(profile, name)
    pairs = facts(**{name: get(name) for name in SOURCES})
    return [
        {"trait": trait, "value": value, "member_id": member_id} for trait, value in sorted(pairs)
    ]


def _replace(connection: Connection | Session, member_ids: Sequence[int]) -> None:
    """Derive the rows of these members again from what their `members` rows say now."""
    if not member_ids:
        return
    connection.execute(delete(MemberTrait).where(MemberTrait.member_id.in_(member_ids)))
    rows: list[dict[str, Any]] = []
    profiles = connection.execute(
        select(Member.id, *_COLUMNS).where(Member.id.in_(member_ids))
    ).all()
    for profile in profiles:
        rows += rows_for(profile.id, profile)
    for start in range(0, len(rows), _BATCH):
        connection.execute(insert(MemberTrait), rows[start : start + _BATCH])


async def rewrite(session: AsyncSession, member_ids: Iterable[int]) -> None:
    """Derive these members' traits again (after a bulk statement changed their profile)."""
    ids = sorted(set(member_ids))
    await session.run_sync(lambda sync: _replace(sync, ids))


async def forget(session: AsyncSession, member_ids: Iterable[int]) -> None:
    """Drop these members' traits (their rows are about to go)."""
    ids = sorted(set(member_ids))
    if ids:
        await session.execute(delete(MemberTrait).where(MemberTrait.member_id.in_(ids)))


@event.listens_for(Member, "after_insert")
def _inserted(_mapper: Mapper[Member], connection: Connection, member: Member) -> None:
    known = inspect(member).dict
    profile = {name: known[name] if name in known else _default(name) for name in SOURCES}
    rows = rows_for(member.id, profile)
    if rows:
        connection.execute(insert(MemberTrait), rows)


def _default(name: str) -> Any:
    """The value the INSERT gave a column the object did not set (its Python-side default,
    which the ORM does not copy back onto the object)."""
    default = Member.__table__.c[name].default
    if default is None:
        return None
    if default.is_callable:
        return default.arg(None)
    if default.is_scalar:
        return default.arg
    raise TypeError(f"members.{name}: a default only the database knows")


@event.listens_for(Member, "after_update")
def _updated(_mapper: Mapper[Member], connection: Connection, member: Member) -> None:
    state = inspect(member)
    if any(state.attrs[name].history.has_changes() for name in SOURCES):
        _replace(connection, [member.id])


__all__ = [
    "KIND",
    "LANGUAGE",
    "ORIGIN",
    "SKILL",
    "SOURCES",
    "facts",
    "forget",
    "origin_key",
    "rewrite",
    "rows_for",
]
