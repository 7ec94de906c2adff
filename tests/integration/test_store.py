"""The store on real databases: transactions, SQLite pragmas, the outbox, members."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from store import members, outbox
from store.models import Delivery, Member, MemberIdentity
from store.uow import UnitOfWork

NOW = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)


async def count(sessions, model) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_unit_of_work_commits_everything(sessions):
    async with UnitOfWork(sessions) as uow:
        uow.session.add_all(
            [
                Member(display_name="Amina", created_at=NOW),
                Member(display_name="Yassine", created_at=NOW),
            ]
        )
        await uow.commit()
    assert await count(sessions, Member) == 2


async def test_unit_of_work_rolls_back_everything_unless_committed(sessions):
    async with UnitOfWork(sessions) as uow:
        uow.session.add(Member(display_name="Amina", created_at=NOW))
        await uow.session.flush()
        # no commit: leaving the block rolls back
    assert await count(sessions, Member) == 0

    with pytest.raises(RuntimeError, match="handler failed"):
        async with UnitOfWork(sessions) as uow:
            uow.session.add(Member(display_name="Amina", created_at=NOW))
            await uow.session.flush()
            raise RuntimeError("handler failed")
    assert await count(sessions, Member) == 0


async def test_unit_of_work_does_not_keep_half_of_a_failed_change(sessions):
    with pytest.raises(IntegrityError):
        async with UnitOfWork(sessions) as uow:
            member = Member(display_name="Amina", created_at=NOW)
            uow.session.add(member)
            await uow.session.flush()
            uow.session.add_all(
                [
                    MemberIdentity(member_id=member.id, platform="telegram", external_id="1"),
                    MemberIdentity(member_id=member.id, platform="telegram", external_id="1"),
                ]
            )
            await uow.commit()
    assert await count(sessions, Member) == 0
    assert await count(sessions, MemberIdentity) == 0


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url):
    from store import migrate
    from store.db import create_engine

    migrate.upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as connection:
            assert (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            with pytest.raises(IntegrityError):
                await connection.execute(
                    text(
                        "INSERT INTO member_identities (member_id, platform, external_id, "
                        "display_name, unreachable) VALUES (999, 'telegram', '1', '', 0)"
                    )
                )
    finally:
        await engine.dispose()


async def test_enqueue_is_idempotent_per_purpose_and_target(sessions):
    payload = {"text": "Nouveau besoin"}
    async with UnitOfWork(sessions) as uow:
        first = await outbox.enqueue(
            uow.session,
            purpose="need:1:announce",
            target="telegram:-100",
            platform="telegram",
            payload=payload,
            now=NOW,
        )
        again = await outbox.enqueue(
            uow.session,
            purpose="need:1:announce",
            target="telegram:-100",
            platform="telegram",
            payload={"text": "autre"},
            now=NOW,
        )
        await uow.commit()
    assert first is not None
    assert again is None

    async with UnitOfWork(sessions) as uow:
        later = await outbox.enqueue(
            uow.session,
            purpose="need:1:announce",
            target="telegram:-100",
            platform="telegram",
            payload=payload,
            now=NOW,
        )
        other_target = await outbox.enqueue(
            uow.session,
            purpose="need:1:announce",
            target="discord:42",
            platform="discord",
            payload=payload,
            now=NOW,
        )
        await uow.commit()
    assert later is None
    assert other_target not in (None, first)

    async with sessions() as session:
        kept = await outbox.existing(session, "need:1:announce", "telegram:-100")
        assert kept is not None
        assert kept.id == first
        assert kept.payload == payload
        assert kept.not_before == NOW  # aware UTC on both databases
    assert await count(sessions, Delivery) == 2


async def test_touch_identity_creates_then_finds_the_member(sessions):
    async with UnitOfWork(sessions) as uow:
        member, identity, changed = await members.touch_identity(
            uow.session,
            platform="telegram",
            external_id="1001",
            username="amina",
            display_name="Amina",
            now=NOW,
        )
        await uow.commit()
    assert changed
    assert member.id is not None
    assert identity.member_id == member.id

    async with UnitOfWork(sessions) as uow:
        found, found_identity, changed = await members.touch_identity(
            uow.session,
            platform="telegram",
            external_id="1001",
            username="amina",
            display_name="Amina",
            now=NOW,
        )
        await uow.commit()
    assert found.id == member.id
    assert found_identity.id == identity.id
    assert not changed
    assert await count(sessions, Member) == 1
    async with sessions() as session:
        assert await members.identity_keys(session, member.id) == ["telegram:1001"]
