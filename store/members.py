"""Members, their platform identities and their community-wide roles."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, literal, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Member, MemberIdentity, MemberRole, ProjectLeader, Role

# Refreshing last_seen on every message would write on every read-only command.
SEEN_GRANULARITY = timedelta(minutes=5)


async def identity(session: AsyncSession, platform: str, external_id: str) -> MemberIdentity | None:
    return await session.scalar(
        select(MemberIdentity).where(
            MemberIdentity.platform == platform, MemberIdentity.external_id == external_id
        )
    )


async def touch_identity(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    username: str | None,
    display_name: str,
    now: datetime,
    language_code: str | None = None,
    reachable: bool = False,
) -> tuple[Member, MemberIdentity, bool]:
    """Find or create the member behind a platform identity; returns (member, identity,
    whether anything was written). `reachable`: they wrote privately, so we can write back
    (`identity.returned` then tells whether they had been unreachable until now)."""
    found = await identity(session, platform, external_id)
    if found is None:
        member = Member(display_name=display_name, created_at=now, last_seen_at=now)
        found = MemberIdentity(
            member=member,
            platform=platform,
            external_id=external_id,
            username=username,
            display_name=display_name,
            language_code=language_code,
            last_seen_at=now,
        )
        session.add_all([member, found])
        await session.flush()
        return member, found, True
    member = await session.get_one(Member, found.member_id)
    changed = False
    if username is not None and found.username != username:
        found.username = username
        changed = True
    if display_name and found.display_name != display_name:
        found.display_name = display_name
        changed = True
    if language_code and found.language_code != language_code:
        found.language_code = language_code
        changed = True
    if found.unreachable and reachable:
        found.unreachable = False
        found.returned = True
        changed = True
    if member.display_name == "" and display_name:
        member.display_name = display_name
        changed = True
    if found.last_seen_at is None or now - found.last_seen_at > SEEN_GRANULARITY:
        found.last_seen_at = now
        member.last_seen_at = now
        changed = True
    return member, found, changed


async def granted_roles(session: AsyncSession, member_id: int) -> set[str]:
    """The member's community-wide roles, and "leader" when they lead a project (one query:
    it runs for every event)."""
    leads = select(literal("leader")).where(exists().where(ProjectLeader.member_id == member_id))
    roles = select(MemberRole.role).where(MemberRole.member_id == member_id)
    return set(await session.scalars(union_all(roles, leads)))


async def identity_keys(session: AsyncSession, member_id: int) -> list[str]:
    rows = await session.execute(
        select(MemberIdentity.platform, MemberIdentity.external_id).where(
            MemberIdentity.member_id == member_id
        )
    )
    return [f"{platform}:{external_id}" for platform, external_id in rows]


async def preferred_identity(session: AsyncSession, member_id: int) -> MemberIdentity | None:
    """The identity to write to privately: reachable first, then the most recently seen."""
    identities = list(
        await session.scalars(select(MemberIdentity).where(MemberIdentity.member_id == member_id))
    )
    if not identities:
        return None
    return sorted(
        identities,
        key=lambda i: (not i.unreachable, i.last_seen_at.timestamp() if i.last_seen_at else 0.0),
        reverse=True,
    )[0]


async def find_by_reference(session: AsyncSession, ref: str, platform: str) -> list[Member]:
    """Members matching `#12`, `telegram:123`, `@username` or a display name."""
    ref = ref.strip()
    if ref.startswith("#") and ref[1:].isdigit():
        member = await session.get(Member, int(ref[1:]))
        return [member] if member else []
    if ":" in ref:
        plat, _, external = ref.partition(":")
        found = await identity(session, plat, external)
        return [await session.get_one(Member, found.member_id)] if found else []
    name = ref.removeprefix("@").lower()
    by_username = list(
        await session.scalars(
            select(Member)
            .join(MemberIdentity)
            .where(func.lower(MemberIdentity.username) == name)
            .order_by(MemberIdentity.platform != platform, Member.id)
        )
    )
    if by_username:
        same_platform = [
            m for m in by_username if any(i.platform == platform for i in m.identities)
        ]
        unique = {m.id: m for m in (same_platform or by_username)}
        return list(unique.values())
    return list(
        await session.scalars(select(Member).where(func.lower(Member.display_name) == name))
    )


async def community_manager_ids(session: AsyncSession, identities: Iterable[str]) -> list[int]:
    """The community managers: members granted the `cm` role, and the members behind the
    configured identities ("telegram:123"), in id order."""
    found = set(
        await session.scalars(select(MemberRole.member_id).where(MemberRole.role == Role.CM.value))
    )
    pairs = [tuple(key.split(":", 1)) for key in identities if ":" in key]
    if pairs:
        found.update(
            await session.scalars(
                select(MemberIdentity.member_id).where(
                    or_(
                        *(
                            and_(MemberIdentity.platform == p, MemberIdentity.external_id == e)
                            for p, e in pairs
                        )
                    )
                )
            )
        )
    return sorted(found)
