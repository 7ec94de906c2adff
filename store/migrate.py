"""Alembic, driven from code: the migrations live in store/migrations, no alembic.ini needed.

Each function comes twice: a plain one for the command line and for synchronous code, and an
`*_async` one for code already running in an event loop. Alembic's environment runs its own
event loop, so both put the work on a worker thread when the calling thread has a loop.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.pool import NullPool

from store.db import create_engine
from store.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"
# Options shared by the migration environment and `autogenerate_diff`.
COMPARE_OPTIONS: dict[str, Any] = {"compare_type": True, "compare_server_default": False}

T = TypeVar("T")


def config(url: str) -> Config:
    """An Alembic configuration for the database at `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    # Handed over as an attribute: a URL in the ini options would go through % interpolation.
    cfg.attributes["url"] = url
    return cfg


def _off_loop(work: Callable[[], T]) -> T:
    """Run `work` here, or on a worker thread when this thread is running an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return work()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alembic") as pool:
        return pool.submit(work).result()


def head() -> str:
    """The newest revision of the migration scripts."""
    heads = ScriptDirectory.from_config(config("")).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads, expected one")
    return heads[0]


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision`."""
    _off_loop(lambda: command.upgrade(config(url), revision))


def downgrade(url: str, revision: str = "-1") -> None:
    """Migrate the database at `url` down to `revision` (`base` drops everything)."""
    _off_loop(lambda: command.downgrade(config(url), revision))


def current(url: str) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    return _off_loop(lambda: asyncio.run(_with_connection(url, _current)))


def autogenerate_diff(url: str) -> list[Any]:
    """What autogenerate would change to make the database match the models (empty: nothing)."""
    return _off_loop(lambda: asyncio.run(_with_connection(url, _diff)))


def revision(message: str, url: str | None = None) -> Path | None:
    """Write the next migration: what the models have that the migrated database lacks.

    Without `url`, a scratch SQLite database is migrated to head and compared. Returns the new
    file, or None when the models and the migrations already agree. Read and tidy the file
    before committing it: it is generated, not reviewed.
    """
    number = 1 + max(
        (
            int(match.group(1))
            for path in (MIGRATIONS / "versions").glob("*.py")
            if (match := re.match(r"(\d{4})_", path.name))
        ),
        default=0,
    )

    def write(target: str) -> Path | None:
        command.upgrade(config(target), "head")
        script = command.revision(
            config(target), message=message, autogenerate=True, rev_id=f"{number:04d}"
        )
        listed = script if isinstance(script, list) else [script]
        scripts = [one for one in listed if one is not None]
        if len(scripts) > 1:
            raise RuntimeError("alembic wrote several revisions")
        return Path(scripts[0].path) if scripts else None

    if url is not None:
        return _off_loop(lambda: write(url))
    with tempfile.TemporaryDirectory(prefix="cds-revision-") as scratch:
        scratch_url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        return _off_loop(lambda: write(scratch_url))


async def upgrade_async(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(command.upgrade, config(url), revision)


async def downgrade_async(url: str, revision: str = "-1") -> None:
    await asyncio.to_thread(command.downgrade, config(url), revision)


async def current_async(url: str) -> str | None:
    return await _with_connection(url, _current)


async def autogenerate_diff_async(url: str) -> list[Any]:
    return await _with_connection(url, _diff)


async def _with_connection(url: str, work: Callable[[Connection], T]) -> T:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(work)
    finally:
        await engine.dispose()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts=dict(COMPARE_OPTIONS))
    return list(compare_metadata(context, Base.metadata))
