"""`cds-bot`: run the bot, open the console, migrate the database, import data."""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, NoReturn

import typer
from sqlalchemy.exc import SQLAlchemyError

from bot.config import ConfigError, Settings, load_settings

logger = logging.getLogger(__name__)

# Locals stay out of tracebacks: they would show the settings, tokens included.
app = typer.Typer(
    help="CDS bot: project needs, contribution offers and engagement campaigns.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="TOML configuration file (default: $CDS_CONFIG, else ./config.toml if present).",
        dir_okay=False,
    ),
]
DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL, overriding the configuration."),
]

# Kept at WARNING: httpx logs every request URL at INFO, and a Telegram Bot API URL contains
# the bot token; Alembic narrates every migration step at INFO.
QUIET_LOGGERS = ("httpx", "httpcore", "alembic")
DEMO_DATABASE = "sqlite+aiosqlite:///cds-demo.db"


def configure_logging(level: int | str = logging.INFO) -> None:
    """Log to stderr, keeping the HTTP client loggers (token-bearing URLs) at WARNING."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def settings_from(config: Path | None, db: str | None = None) -> Settings:
    """Load the settings, or stop with exit code 2 naming the key at fault."""
    overrides = {"database": {"url": db}} if db else None
    try:
        return load_settings(config, overrides=overrides)
    except ConfigError as exc:
        fail(f"configuration error: {exc.key}: {exc.reason}", code=2)


def prepare_database(settings: Settings) -> None:
    """Bring a SQLite database to the newest schema; PostgreSQL is migrated by its operator."""
    from store import migrate

    if settings.database.is_sqlite:
        database = settings.database.sqlite_file
        if database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(settings.database.url)


def call(entry: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call an entry point that may be a plain function or a coroutine function."""
    result = entry(*args, **kwargs)
    if inspect.isawaitable(result):
        return asyncio.run(_wait(result))
    return result


def exit_with(status: Any) -> None:
    """Entry points may return an exit status; anything else means success."""
    if isinstance(status, int) and not isinstance(status, bool) and status != 0:
        raise typer.Exit(status)


async def _wait(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


@contextmanager
def database_errors(settings: Settings) -> Iterator[None]:
    """Turn an unreachable or refusing database into one line instead of a traceback."""
    try:
        yield
    except (OSError, SQLAlchemyError) as exc:
        logger.debug("database error", exc_info=True)
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        fail(f"database error ({settings.database.safe_url}): {reason}")


def load(module: str) -> ModuleType:
    """Import a command's module at the last moment, so that each command needs only its code."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(exc.name + ".")):
            fail(f"{module} is not available in this installation")
        raise


def entry_point(module: str, name: str) -> Callable[..., Any]:
    entry: Callable[..., Any] = getattr(load(module), name)
    return entry


@app.callback()
def _main(
    log_level: Annotated[
        str, typer.Option("--log-level", envvar="CDS_LOG_LEVEL", help="DEBUG, INFO, WARNING...")
    ] = "INFO",
) -> None:
    level = log_level.upper()
    if level not in logging.getLevelNamesMapping():
        fail(f"unknown log level {log_level!r}", code=2)
    configure_logging(level)


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the bot on every platform that has a token."""
    settings = settings_from(config)
    with database_errors(settings):
        prepare_database(settings)
    exit_with(call(entry_point("bot.app", "run"), settings))


@app.command()
def console(
    config: ConfigOption = None,
    db: DbOption = None,
    as_name: Annotated[
        str | None, typer.Option("--as", help="Who you are in the console (console:NAME).")
    ] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Start with demonstration data.")] = False,
) -> None:
    """Talk to the bot in this terminal."""
    # The demonstration never writes into a configured database unless told to with --db.
    settings = settings_from(config, db or (DEMO_DATABASE if demo else None))
    with database_errors(settings):
        prepare_database(settings)
    exit_with(call(entry_point("bot.app", "run_console"), settings, as_name=as_name, demo=demo))


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="File to import.")],
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Import projects and needs from a catalogue file (TOML or CSV)."""
    settings = settings_from(config, db)
    with database_errors(settings):
        prepare_database(settings)
    importer = load("bot.importer")
    refused: type[Exception] = getattr(importer, "CatalogueError", ValueError)
    try:
        summary = call(importer.import_file, settings, file)
    except refused as exc:
        fail(str(exc))
    exit_with(summary)
    if summary is not None and not isinstance(summary, int):
        typer.echo(str(summary))


@db_app.command()
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Migrate the database up (to the newest schema by default)."""
    from store import migrate

    settings = settings_from(config, db)
    with database_errors(settings):
        migrate.upgrade(settings.database.url, revision)
        typer.echo(f"database at {migrate.current(settings.database.url) or 'base'}")


@db_app.command()
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision (default: one step down; 'base': empty).")
    ] = "-1",
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Migrate the database down."""
    from store import migrate

    settings = settings_from(config, db)
    with database_errors(settings):
        migrate.downgrade(settings.database.url, revision)
        typer.echo(f"database at {migrate.current(settings.database.url) or 'base'}")


@db_app.command()
def current(config: ConfigOption = None, db: DbOption = None) -> None:
    """Show the database's schema revision and the newest one."""
    from store import migrate

    settings = settings_from(config, db)
    database = settings.database.sqlite_file
    if database is not None and not database.exists():
        fail(f"no database file at {database}")
    with database_errors(settings):
        revision = migrate.current(settings.database.url)
    newest = migrate.head()
    state = "up to date" if revision == newest else f"newest is {newest}"
    typer.echo(f"{revision or 'base'} ({state})")


@db_app.command()
def revision(
    message: Annotated[str, typer.Argument(help="What the migration does, e.g. 'add campaigns'.")],
) -> None:
    """Write the next migration from the models (for developers; review the file it writes)."""
    from store import migrate

    written = migrate.revision(message)
    if written is None:
        typer.echo("the models and the migrations agree: nothing written")
    else:
        typer.echo(f"wrote {written}: read it, tidy it, and test it up and down")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
