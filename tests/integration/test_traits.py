"""Member traits follow the profiles they come from, whatever way a profile changes, on
SQLite and PostgreSQL; the migration derives them for the members already there."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from store import links, migrate, privacy, profiles, traits
from store.db import create_engine, session_factory
from store.models import Member, MemberTrait

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
PROFILE = {
    "skills": ["comptabilité", "python"],
    "liked_kinds": ["expertise"],
    "languages": ["fr", "ar"],
    "origin": "Aït-Baha",
    "accepts_dm": True,
    "matching_off": False,
}


async def stored(session: AsyncSession, member_id: int) -> set[tuple[str, str]]:
    rows = await session.execute(
        select(MemberTrait.trait, MemberTrait.value).where(MemberTrait.member_id == member_id)
    )
    return {(trait, value) for trait, value in rows}


async def add(session: AsyncSession, name: str, **profile: object) -> int:
    member = Member(display_name=name, created_at=NOW, last_seen_at=None, **profile)
    session.add(member)
    await session.flush()
    return member.id


async def test_an_inserted_member_gets_the_traits_of_their_profile(sessions):
    async with sessions() as session, session.begin():
        member_id = await add(session, "leila", **PROFILE)
        silent = await add(session, "omar", **{**PROFILE, "accepts_dm": False})
        bare = await add(session, "sara")
        assert await stored(session, member_id) == {
            ("skill", "comptabilité"),
            ("skill", "python"),
            ("kind", "expertise"),
            ("lang", "fr"),
            ("lang", "ar"),
            ("origin", "ait baha"),
        }
        assert await stored(session, silent) == set()
        assert await stored(session, bare) == set()


async def test_each_way_of_changing_a_profile_rewrites_the_traits(sessions):
    async with sessions() as session, session.begin():
        member_id = await add(session, "leila", **PROFILE)
    async with sessions() as session, session.begin():
        await profiles.set_field(session, member_id, "skills", ["design"])
        await profiles.set_field(session, member_id, "origin", "Tafraoût")
        assert {pair for pair in await stored(session, member_id) if pair[0] != "lang"} == {
            ("skill", "design"),
            ("kind", "expertise"),
            ("origin", "tafraout"),
        }
    async with sessions() as session, session.begin():  # through the ORM
        member = await session.get_one(Member, member_id)
        member.liked_kinds = ["idea", "network"]
        await session.flush()
        assert {pair for pair in await stored(session, member_id) if pair[0] == "kind"} == {
            ("kind", "idea"),
            ("kind", "network"),
        }
    async with sessions() as session, session.begin():  # "Stop these" and back
        await profiles.set_field(session, member_id, "matching_off", True)
        assert await stored(session, member_id) == set()
        await profiles.set_field(session, member_id, "matching_off", False)
        assert ("skill", "design") in await stored(session, member_id)
    async with sessions() as session, session.begin():  # a change that is not a trait
        await profiles.set_field(session, member_id, "city", "Lyon")
        member = await session.get_one(Member, member_id)
        member.display_name = "Leïla"
        await session.flush()
        assert ("skill", "design") in await stored(session, member_id)


async def test_a_rolled_back_change_leaves_the_traits_as_they_were(sessions):
    async with sessions() as session, session.begin():
        member_id = await add(session, "leila", **PROFILE)
    async with sessions() as session, session.begin():
        await profiles.set_field(session, member_id, "skills", ["design"])
        await session.rollback()
    async with sessions() as session:
        assert ("skill", "python") in await stored(session, member_id)
        assert ("skill", "design") not in await stored(session, member_id)


async def test_erasure_and_merge_leave_no_traits_of_the_member_gone(sessions):
    async with sessions() as session, session.begin():
        erased = await add(session, "leila", **PROFILE)
        kept = await add(session, "omar", **{**PROFILE, "skills": ["design"]})
        merged = await add(session, "omar-discord", **PROFILE)
    async with sessions() as session, session.begin():
        await privacy.erase_member(session, erased, NOW)
        await links.merge_members(session, kept, merged)
    async with sessions() as session:
        assert await stored(session, erased) == set()
        assert await stored(session, merged) == set()
        assert ("skill", "design") in await stored(session, kept)


async def test_the_hooks_keep_what_the_profiles_derive(sessions):
    async with sessions() as session, session.begin():
        for index in range(30):
            await add(
                session,
                f"m{index}",
                **{**PROFILE, "skills": [f"skill {index % 7}"], "accepts_dm": index % 3 > 0},
            )
        # A bulk insert bypasses the hooks: rows_for gives the traits to write beside it.
        result = await session.execute(
            insert(Member).returning(Member.id),
            [{"display_name": "bulk", "created_at": NOW, **PROFILE}],
        )
        bulk_id = result.scalar_one()
        await session.execute(insert(MemberTrait), traits.rows_for(bulk_id, PROFILE))
    async with sessions() as session:
        kept = {
            (row.trait, row.value, row.member_id)
            for row in await session.execute(select(MemberTrait.__table__))
        }
        columns = (getattr(Member, name) for name in traits.SOURCES)
        members = (await session.execute(select(Member.id, *columns))).all()
    derived = {
        (row["trait"], row["value"], row["member_id"])
        for member in members
        for row in traits.rows_for(member.id, member)
    }
    assert kept == derived
    assert len(kept) == 20 * 5 + 6  # 20 members who accept messages, and the bulk


def test_the_migration_derives_the_traits_of_existing_members(database_url):
    migrate.upgrade(database_url, "0004")

    async def work() -> tuple[set[tuple[str, str, int]], dict[str, int]]:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                ids = {}
                for name, profile in (
                    ("leila", PROFILE),
                    ("omar", {**PROFILE, "matching_off": True}),
                    ("sara", {**PROFILE, "skills": [], "origin": None, "languages": ["en"]}),
                ):
                    result = await connection.execute(
                        insert(Member.__table__).returning(Member.__table__.c.id),
                        [{"display_name": name, "created_at": NOW, **profile}],
                    )
                    ids[name] = result.scalar_one()
            await asyncio.to_thread(migrate.upgrade, database_url)
            async with session_factory(engine)() as session:
                rows = await session.execute(select(MemberTrait.__table__))
                return {(row.trait, row.value, row.member_id) for row in rows}, ids
        finally:
            await engine.dispose()

    found, ids = asyncio.run(work())
    expected = {
        (row["trait"], row["value"], row["member_id"])
        for name, profile in (
            ("leila", PROFILE),
            ("sara", {**PROFILE, "skills": [], "origin": None, "languages": ["en"]}),
        )
        for row in traits.rows_for(ids[name], profile)
    }
    assert found == expected
    assert ("origin", "ait baha", ids["leila"]) in found
    assert not any(member_id == ids["omar"] for _t, _v, member_id in found)
