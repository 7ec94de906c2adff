"""The migrations build exactly the models' schema, up and down, on SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from store import migrate
from store.db import create_engine
from store.models import Base


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


def test_up_down_up_and_no_difference_with_the_models(database_url):
    assert migrate.current(database_url) is None

    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()
    tables = asyncio.run(table_names(database_url))
    assert set(Base.metadata.tables) <= tables

    migrate.downgrade(database_url, "base")
    assert migrate.current(database_url) is None
    assert asyncio.run(table_names(database_url)) <= {"alembic_version"}

    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()
    assert migrate.autogenerate_diff(database_url) == []


def test_every_revision_steps_down_and_up_again(migrated_url):
    revisions = list(ScriptDirectory.from_config(migrate.config("")).walk_revisions())
    for _ in revisions:
        migrate.downgrade(migrated_url, "-1")
    assert migrate.current(migrated_url) is None
    for revision in reversed(revisions):
        migrate.upgrade(migrated_url, "+1")
        assert migrate.current(migrated_url) == revision.revision
    assert migrate.autogenerate_diff(migrated_url) == []


async def test_async_wrappers_work_inside_a_running_loop(database_url):
    await migrate.upgrade_async(database_url)
    assert await migrate.current_async(database_url) == migrate.head()
    assert await migrate.autogenerate_diff_async(database_url) == []
    # The plain functions too: they move to a worker thread when a loop is running here.
    migrate.downgrade(database_url, "base")
    assert await migrate.current_async(database_url) is None
    await migrate.downgrade_async(database_url, "base")
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == migrate.head()


def test_migration_files_do_not_import_the_project():
    """A migration is frozen history: it must not change when the models change."""
    versions = Path(migrate.MIGRATIONS, "versions")
    files = sorted(versions.glob("*.py"))
    assert files
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                assert top not in {"store", "handlers", "schedules", "bot"}, (path.name, module)


def test_history_is_one_line():
    script = ScriptDirectory.from_config(migrate.config(""))
    assert script.get_heads() == [migrate.head()]
    assert len(script.get_bases()) == 1


# --------------------------------------------------------------------------- command line


def test_cli_migrates_up_and_down(sqlite_url):
    from typer.testing import CliRunner

    from bot.cli import app

    runner = CliRunner()
    upgraded = runner.invoke(app, ["db", "upgrade", "--db", sqlite_url])
    assert upgraded.exit_code == 0, upgraded.output
    shown = runner.invoke(app, ["db", "current", "--db", sqlite_url])
    assert shown.stdout.strip() == f"{migrate.head()} (up to date)"
    downgraded = runner.invoke(app, ["db", "downgrade", "base", "--db", sqlite_url])
    assert downgraded.exit_code == 0, downgraded.output
    assert migrate.current(sqlite_url) is None


def test_cli_upgrades_sqlite_before_handing_over(sqlite_url, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app

    seen: dict[str, object] = {}

    async def run_console(settings, *, as_name, demo):
        seen["revision"] = await migrate.current_async(settings.database.url)
        seen["as_name"] = as_name
        return 0

    import bot.app

    monkeypatch.setattr(bot.app, "run_console", run_console)
    result = CliRunner().invoke(app, ["console", "--db", sqlite_url, "--as", "amina"])
    assert result.exit_code == 0, result.output
    assert seen == {"revision": migrate.head(), "as_name": "amina"}
