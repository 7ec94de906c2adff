"""The catalogue importer and the demo seed: idempotent, checked whole, all or nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import load_settings
from bot.demo import seed_demo
from bot.importer import (
    CatalogueError,
    import_catalogue,
    import_file,
    parse_csv,
    parse_toml,
    read_catalogue,
)
from store.db import session_factory
from store.models import (
    AuditEntry,
    Chat,
    Member,
    MemberIdentity,
    Need,
    Project,
    ProjectLeader,
)
from tests.harness import make_engine

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
EXAMPLE = Path(__file__).parents[2] / "docs" / "catalogue.example.toml"

TOML = """
[[projects]]
slug = "argan-tafraout"
title = "Coopérative d'argan de Tafraout"
summary = "Trente femmes pressent l'huile."
territory = "Tafraout"
tags = ["Argan", "femmes"]
leaders = ["console:hassan"]

[[projects.needs]]
kind = "funding"
title = "Presse à huile"
target_amount = 15000
currency = "mad"
deadline = 2027-03-01

[[projects.needs]]
kind = "expertise"
title = "Certification bio"
effort = "2 heures"

[[projects]]
slug = "bibliotheque-tiznit"
title = "Bibliothèque de Tiznit"
territory = "Tiznit"
status = "draft"

[[projects.needs]]
kind = "funding"
title = "600 livres"
target_amount = "2500.50"
currency = "EUR"
"""

CSV_HEADER = (
    "project_slug,project_title,project_summary,territory,tags,need_kind,need_title,"
    "need_details,target_amount,currency,effort,deadline\n"
)
CSV = CSV_HEADER + (
    "argan-tafraout,Coopérative d'argan de Tafraout,Trente femmes,Tafraout,argan;femmes,"
    "funding,Presse à huile,,15000,MAD,,2027-03-01\n"
    "argan-tafraout,,,,,network,Épiceries fines,Des contacts,,,,\n"
    'bibliotheque-tiznit,Bibliothèque de Tiznit,"Des livres, beaucoup",Tiznit,,'
    "skills,Étagères,,,,un week-end,\n"
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await make_engine(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


async def counts(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        return {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Project, Need, Member, MemberIdentity, ProjectLeader, Chat)
        }


async def test_toml_import_creates_then_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    rows = parse_toml(TOML, TODAY)
    first = await import_catalogue(sessions, rows, NOW)
    assert (first.projects_created, first.needs_created, first.leaders_added) == (2, 3, 1)
    before = await counts(sessions)
    assert before["Project"] == 2 and before["Need"] == 3 and before["ProjectLeader"] == 1

    second = await import_catalogue(sessions, parse_toml(TOML, TODAY), NOW + timedelta(days=1))
    assert (second.projects_created, second.projects_updated, second.projects_unchanged) == (
        0,
        0,
        2,
    )
    assert (second.needs_created, second.needs_updated, second.needs_unchanged) == (0, 0, 3)
    assert second.leaders_added == 0
    assert await counts(sessions) == before

    async with sessions() as session:
        argan = await session.scalar(select(Project).where(Project.slug == "argan-tafraout"))
        library = await session.scalar(select(Project).where(Project.slug == "bibliotheque-tiznit"))
        assert argan is not None and library is not None
        assert (argan.status, argan.tags) == ("open", ["argan", "femmes"])
        assert library.status == "draft"
        press = await session.scalar(select(Need).where(Need.title == "Presse à huile"))
        assert press is not None
        assert (press.target_amount, press.currency) == (Decimal("15000.00"), "MAD")
        assert press.deadline == date(2027, 3, 1) and press.status == "open"
        books = await session.scalar(select(Need).where(Need.title == "600 livres"))
        assert books is not None and books.target_amount == Decimal("2500.50")
        # the leader did not exist yet: a member with that identity waits for them
        hassan = await session.scalar(
            select(MemberIdentity).where(MemberIdentity.external_id == "hassan")
        )
        assert hassan is not None and hassan.platform == "console"
        audit = list(
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "catalogue.import"))
        )
        assert len(audit) == 2


async def test_import_updates_matching_needs_instead_of_duplicating(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await import_catalogue(sessions, parse_toml(TOML, TODAY), NOW)
    changed = TOML.replace('effort = "2 heures"', 'effort = "3 heures"').replace(
        "Trente femmes pressent l'huile.", "Quarante femmes pressent l'huile."
    )
    summary = await import_catalogue(sessions, parse_toml(changed, TODAY), NOW)
    assert (summary.projects_updated, summary.needs_updated, summary.needs_created) == (1, 1, 0)
    async with sessions() as session:
        needs = list(await session.scalars(select(Need).where(Need.title == "Certification bio")))
        assert [need.effort for need in needs] == ["3 heures"]


async def test_csv_import_is_idempotent(sessions: async_sessionmaker[AsyncSession]) -> None:
    rows = parse_csv(CSV, TODAY)
    assert [(row.slug, len(row.needs)) for row in rows] == [
        ("argan-tafraout", 2),
        ("bibliotheque-tiznit", 1),
    ]
    assert rows[0].tags == ("argan", "femmes")
    assert rows[1].summary == "Des livres, beaucoup"
    first = await import_catalogue(sessions, rows, NOW)
    assert (first.projects_created, first.needs_created) == (2, 3)
    before = await counts(sessions)
    second = await import_catalogue(sessions, parse_csv(CSV, TODAY), NOW)
    assert (second.projects_created, second.needs_created, second.needs_updated) == (0, 0, 0)
    assert await counts(sessions) == before


async def test_a_bad_toml_file_is_refused_whole_with_every_line(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bad = (
        TOML
        + """
[[projects]]
slug = "Bad Slug"
title = "x"
colour = "blue"

[[projects.needs]]
kind = "money"
title = "Des sous"

[[projects.needs]]
kind = "expertise"
title = "%s"
target_amount = 10
deadline = 2020-01-01

[[projects.needs]]
kind = "funding"
title = "Un camion"
target_amount = -5
currency = "XYZ"
"""
        % ("t" * 121)
    )
    with pytest.raises(CatalogueError) as refused:
        parse_toml(bad, TODAY)
    problems = "\n".join(refused.value.problems)
    lines = bad.splitlines()
    project_line = lines.index('slug = "Bad Slug"')  # the header is the line before it
    assert f"line {project_line}" in problems and "slug 'bad slug'" in problems
    assert "unknown keys colour" in problems
    assert "kind 'money' is not one of" in problems
    assert "title is too long (121 characters, at most 120)" in problems
    assert "target_amount is only for funding needs" in problems
    assert "deadline 2020-01-01 is not in the future" in problems
    assert "target_amount must be a positive amount" in problems
    assert "currency 'XYZ' is not one of" in problems
    assert len(refused.value.problems) == 8
    assert await counts(sessions) == dict.fromkeys(
        ("Project", "Need", "Member", "MemberIdentity", "ProjectLeader", "Chat"), 0
    )


def test_bad_csv_files_are_refused() -> None:
    with pytest.raises(CatalogueError) as refused:
        parse_csv("project_slug,project_title\nx,y\n", TODAY)
    assert "missing columns project_summary" in refused.value.problems[0]

    conflicting = CSV + "argan-tafraout,Autre titre,,,,skills,Site web,,,,,\n"
    with pytest.raises(CatalogueError) as refused:
        parse_csv(conflicting, TODAY)
    assert refused.value.problems == [
        "line 5: project_title differs from line 2 for project 'argan-tafraout'"
    ]

    duplicate_need = CSV + "argan-tafraout,,,,,funding,Presse à huile,,10,EUR,,\n"
    with pytest.raises(CatalogueError) as refused:
        parse_csv(duplicate_need, TODAY)
    assert "two needs are titled 'Presse à huile'" in refused.value.problems[0]

    bad_date = CSV_HEADER + "puits-tata,Puits,,Tata,,funding,Pompe,,100,MAD,,31/12/2027\n"
    with pytest.raises(CatalogueError) as refused:
        parse_csv(bad_date, TODAY)
    assert refused.value.problems == [
        "line 2 (project 1 (puits-tata), need 1): deadline '31/12/2027' is not a date like "
        "2027-03-31"
    ]


def test_example_catalogue_is_valid() -> None:
    rows = read_catalogue(EXAMPLE, TODAY)
    assert [row.slug for row in rows] == ["argan-ait-baha", "dattes-solaire-tata"]
    assert all(len(row.needs) == 3 for row in rows)
    assert {need.kind for row in rows for need in row.needs} >= {"funding", "expertise"}


def test_unknown_file_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalogue.json"
    path.write_text("{}")
    with pytest.raises(CatalogueError, match=r"a \.toml or a \.csv file"):
        read_catalogue(path, TODAY)


async def test_import_file_uses_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    engine = await make_engine(url)
    later = (datetime.now(UTC) + timedelta(days=90)).date().isoformat()
    path = tmp_path / "catalogue.toml"
    path.write_text(TOML.replace("2027-03-01", later), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # no config.toml here
    monkeypatch.delenv("CDS_CONFIG", raising=False)
    settings = load_settings(overrides={"database": {"url": url}})
    try:
        summary = await import_file(settings, path)
        assert (summary.projects_created, summary.needs_created) == (2, 3)
        assert "projects: 2 created" in str(summary)
        again = await import_file(settings, path)
        assert (again.projects_created, again.needs_created, again.needs_unchanged) == (0, 0, 3)
    finally:
        await engine.dispose()


async def test_demo_seed_is_idempotent(sessions: async_sessionmaker[AsyncSession]) -> None:
    await seed_demo(sessions, NOW)
    before = await counts(sessions)
    assert before["Project"] == 4 and before["Chat"] == 1
    assert before["Member"] == 3 and before["ProjectLeader"] == 1
    assert 2 * 4 <= before["Need"] <= 3 * 4
    await seed_demo(sessions, NOW)
    assert await counts(sessions) == before

    async with sessions() as session:
        statuses = sorted(await session.scalars(select(Project.status)))
        assert statuses == ["draft", "open", "open", "open"]
        draft = await session.scalar(select(Project).where(Project.status == "draft"))
        assert draft is not None and draft.proposed_by is not None
        kinds = set(await session.scalars(select(Need.kind)))
        assert {"funding", "expertise", "network", "skills"} <= kinds
        currencies = set(await session.scalars(select(Need.currency).where(Need.kind == "funding")))
        assert currencies == {"MAD", "EUR"}
        chat = await session.scalar(select(Chat))
        assert chat is not None
        assert (chat.platform, chat.external_id, chat.title, chat.tags, chat.registered) == (
            "console",
            "souss-massa",
            "souss-massa",
            ["souss-massa"],
            True,
        )
        names = sorted(
            (i.external_id, i.username, i.display_name)
            for i in await session.scalars(select(MemberIdentity))
        )
        assert names == [
            ("alice", "alice", "Alice"),
            ("hassan", "hassan", "Hassan"),
            ("yasmine", "yasmine", "Yasmine"),
        ]
        leader = await session.scalar(select(ProjectLeader))
        assert leader is not None
        argan = await session.get(Project, leader.project_id)
        assert argan is not None and argan.slug == "argan-tafraout"


async def test_demo_seed_keeps_what_the_visitor_changed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_demo(sessions, NOW)
    async with sessions() as session, session.begin():
        trail = await session.scalar(select(Project).where(Project.slug == "sentier-imsouane"))
        assert trail is not None and trail.status == "draft"
        trail.status = "open"
    await seed_demo(sessions, NOW + timedelta(days=3))
    async with sessions() as session:
        status = await session.scalar(
            select(Project.status).where(Project.slug == "sentier-imsouane")
        )
        assert status == "open"
