"""`cds-bot export` on SQLite and PostgreSQL: CSV files that parse with the expected columns,
a JSON file that loads, the /stats figures, and nothing personal of members who did not
agree to be named (their names, usernames and platform ids are searched for in every file)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from bot import cli
from bot import export as exporter
from bot.config import load_settings
from store import export as queries
from store.db import create_engine, session_factory
from store.models import Follow, Member, MemberIdentity
from store.uow import UnitOfWork
from tests.conftest import run_blocking
from tests.integration.test_stats import NOW, Community, seed

NAMED = "Farah Fresh"  # the only member who agreed to be named publicly


async def _seed(url: str) -> tuple[Community, list[str], list[str]]:
    """The /stats community, a follower; returns what must never leave the bot, and what
    may (the consenting contributor's name)."""
    engine = create_engine(url)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            community = await seed(uow.session)
            session = uow.session
            session.add(
                Follow(
                    member_id=community.members["Qamar Quiet"],
                    project_id=community.projects["argan-tafraout"],
                    created_at=NOW,
                )
            )
            await uow.commit()
        async with session_factory(engine)() as session:
            secrets: list[str] = ["my private message"]
            for member in await session.scalars(select(Member)):
                if not member.share_name:
                    secrets.append(member.display_name)
            for identity in await session.scalars(select(MemberIdentity)):
                secrets += [identity.external_id, identity.username or ""]
    finally:
        await engine.dispose()
    return community, [s for s in secrets if s], [NAMED]


@pytest.fixture
def seeded(migrated_url: str) -> tuple[str, Community, list[str]]:
    community, secrets, _ = run_blocking(lambda: _seed(migrated_url))
    return migrated_url, community, secrets


def run_export(url: str, out: Path, *args: str) -> list[Path]:
    result = CliRunner().invoke(cli.app, ["export", *args, "--out", str(out), "--db", url])
    assert result.exit_code == 0, result.output
    return [Path(line) for line in result.stdout.splitlines() if line.strip()]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def assert_nothing_personal(files: list[Path], secrets: list[str]) -> None:
    for path in files:
        content = path.read_text(encoding="utf-8")
        for secret in secrets:
            assert secret not in content, f"{secret!r} leaked into {path.name}"


def test_csv_files_have_their_columns_and_nothing_personal(
    seeded: tuple[str, Community, list[str]], tmp_path: Path
) -> None:
    url, community, secrets = seeded
    out = tmp_path / "showcase"
    written = run_export(url, out, "--format", "csv")
    assert sorted(p.name for p in written) == [
        "needs.csv",
        "offers.csv",
        "projects.csv",
        "stats.csv",
    ]
    assert all(p.parent == out for p in written)

    columns, projects = read_csv(out / "projects.csv")
    assert tuple(columns) == queries.PROJECT_COLUMNS
    by_slug = {row["slug"]: row for row in projects}
    assert sorted(by_slug) == ["argan-tafraout", "old-well", "school-tiznit"]  # no draft
    argan = by_slug["argan-tafraout"]
    assert (argan["status"], argan["tags"], argan["territory"]) == ("open", "souss", "Tafraout")
    counts = [argan[k] for k in ("needs", "open_needs", "offers", "contributions", "followers")]
    assert counts == ["2", "1", "5", "2", "1"]

    columns, needs = read_csv(out / "needs.csv")
    assert tuple(columns) == queries.NEED_COLUMNS
    press = next(row for row in needs if row["id"] == str(community.needs["press"]))
    assert (press["project"], press["kind"], press["status"]) == (
        "argan-tafraout",
        "funding",
        "open",
    )
    assert (Decimal(press["target_amount"]), press["currency"]) == (Decimal(15000), "MAD")
    assert (press["offers"], press["contributions"], press["deadline"]) == ("4", "1", "")
    assert datetime.fromisoformat(press["created_at"]).tzinfo is not None

    columns, offers = read_csv(out / "offers.csv")
    assert tuple(columns) == queries.OFFER_COLUMNS
    assert len(offers) == 6
    named = {row["id"]: row["contributor"] for row in offers}
    farah = {str(community.offers["o1"]), str(community.offers["o6"])}
    assert {key for key, name in named.items() if name} == farah
    assert set(named[key] for key in farah) == {NAMED}
    pledge = next(row for row in offers if row["id"] == str(community.offers["o1"]))
    assert (Decimal(pledge["pledged_amount"]), pledge["currency"]) == (Decimal(200), "EUR")
    assert pledge["status"] == "done" and pledge["decided_at"]

    columns, figures = read_csv(out / "stats.csv")
    assert columns == ["period", "figure", "value"]
    everything = {row["figure"]: row["value"] for row in figures if row["period"] == "all"}
    assert everything["offers_total"] == "6"
    assert everything["funnel.announced"] == "2" and everything["projects.open"] == "2"
    assert {row["period"] for row in figures} == {"all", "30d"}

    assert_nothing_personal(written, secrets)
    assert NAMED in (out / "offers.csv").read_text(encoding="utf-8")


def test_json_has_a_key_per_table_and_nothing_personal(
    seeded: tuple[str, Community, list[str]], tmp_path: Path
) -> None:
    url, community, secrets = seeded
    [path] = run_export(url, tmp_path, "--format", "json")
    assert path == tmp_path / "cds-export.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert set(document) == {"exported_at", "projects", "needs", "offers", "stats"}
    assert [p["slug"] for p in document["projects"]] == [
        "argan-tafraout",
        "old-well",
        "school-tiznit",
    ]
    assert all(set(p) == set(queries.PROJECT_COLUMNS) for p in document["projects"])
    assert document["projects"][0]["tags"] == ["souss"]
    offer = next(o for o in document["offers"] if o["id"] == community.offers["o1"])
    assert (offer["pledged_amount"], offer["contributor"]) == (200, NAMED)
    assert all(set(o) == set(queries.OFFER_COLUMNS) for o in document["offers"])
    assert set(document["stats"]) == {"all", "30d"}
    assert document["stats"]["all"]["funnel"]["offered"] == 5
    assert document["stats"]["all"]["members_total"] == 5
    assert_nothing_personal([path], secrets)


def test_some_tables_only_and_bad_requests(
    seeded: tuple[str, Community, list[str]], tmp_path: Path
) -> None:
    url, _, _ = seeded
    written = run_export(url, tmp_path, "-f", "csv", "--what", "stats, needs")
    assert sorted(p.name for p in written) == ["needs.csv", "stats.csv"]
    runner = CliRunner()
    for args, says in (
        (["--format", "xml"], "unknown format 'xml'"),
        (["--format", "csv", "--what", "members"], "unknown table(s) members"),
        (["--format", "json", "--what", ","], "nothing to export"),
    ):
        result = runner.invoke(cli.app, ["export", *args, "--out", str(tmp_path), "--db", url])
        assert result.exit_code == 2, result.output
        assert says in result.output
    assert runner.invoke(cli.app, ["export", "--db", url]).exit_code == 2  # --format needed


async def test_the_figures_are_those_of_stats(migrated_url: str, tmp_path: Path) -> None:
    engine = create_engine(migrated_url)
    try:
        async with UnitOfWork(session_factory(engine)) as uow:
            await seed(uow.session)
            await uow.commit()
        async with session_factory(engine)() as session:
            found = await exporter.gather(session, ("stats", "projects"), NOW)
    finally:
        await engine.dispose()
    figures = found["stats"]
    assert isinstance(figures, dict) and set(found) == {"stats", "projects"}
    recent = figures["30d"]
    assert (recent["members_new"], recent["members_active"]) == (2, 3)
    assert recent["funnel"] == {
        "announced": 1,
        "clicked": 5,
        "offered": 4,
        "accepted": 1,
        "done": 1,
    }
    assert recent["response_median"] == 24 * 3600 and recent["responses"] == 3
    assert recent["until"] == NOW.isoformat()
    assert figures["all"]["since"] is None
    [path] = exporter.write(found, "json", tmp_path / "out", NOW)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["exported_at"] == NOW.isoformat()
    assert document["stats"]["30d"]["offers_by_kind"] == {
        "funding": 2,
        "skills": 2,
        "information": 1,
    }


def test_a_bad_request_writes_nothing(tmp_path: Path) -> None:
    settings = load_settings(
        overrides={"database": {"url": f"sqlite+aiosqlite:///{tmp_path}/x.db"}}
    )
    out = tmp_path / "out"
    with pytest.raises(exporter.ExportError, match="unknown format"):
        exporter.export(settings, fmt="pdf", out=out)
    with pytest.raises(exporter.ExportError, match="unknown table"):
        exporter.export(settings, fmt="csv", what="projects,members", out=out)
    assert not out.exists()
    assert exporter.parse_tables("STATS,projects,stats") == ("projects", "stats")


def test_formulas_are_inert_in_csv_and_exact_in_json(tmp_path: Path) -> None:
    """A title typed as a spreadsheet formula cannot run in the funder's spreadsheet."""
    row = {column: "" for column in queries.PROJECT_COLUMNS}
    row.update(slug="puits", title='=HYPERLINK("https://exemple.org")', tags=["-eau", "@x"])
    row.update(summary="Un puits <b>@everyone</b>", needs=3)
    table = exporter.Table("projects", queries.PROJECT_COLUMNS, [row])
    _, [written] = read_csv(exporter.write_csv("projects", table, tmp_path))
    assert written["title"] == '\'=HYPERLINK("https://exemple.org")'
    assert written["tags"] == "'-eau, @x" and written["needs"] == "3"
    assert written["summary"] == "Un puits <b>@everyone</b>"  # otherwise exactly as typed
    [path] = exporter.write(
        {"projects": table}, "json", tmp_path / "json", datetime(2026, 11, 26, tzinfo=UTC)
    )
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["projects"][0]["title"] == '=HYPERLINK("https://exemple.org")'
