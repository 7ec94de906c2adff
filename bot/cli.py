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
campaigns_app = typer.Typer(
    help="Engagement campaigns: list, show, pause, resume, run.", no_args_is_help=True
)
app.add_typer(campaigns_app, name="campaigns")

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
# the bot token; Alembic narrates every migration step at INFO, APScheduler every job it adds.
QUIET_LOGGERS = ("httpx", "httpcore", "alembic", "apscheduler")
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


CampaignId = Annotated[int, typer.Argument(help="The campaign's number (see `campaigns list`).")]


def _campaign_command(name: str, settings: Settings, *args: Any) -> Any:
    """Run one `campaigns` command, turning an unknown campaign into one line."""
    admin = load("bot.campaign_admin")
    with database_errors(settings):
        prepare_database(settings)
        try:
            return call(getattr(admin, name), settings, *args)
        except admin.CampaignNotFound as exc:
            fail(str(exc))


@campaigns_app.command("list")
def campaigns_list(config: ConfigOption = None, db: DbOption = None) -> None:
    """List the campaigns with their next run."""
    exit_with(_campaign_command("list_campaigns", settings_from(config, db)))


@campaigns_app.command("show")
def campaigns_show(campaign: CampaignId, config: ConfigOption = None, db: DbOption = None) -> None:
    """Show a campaign: schedule, next runs, statistics, last runs."""
    exit_with(_campaign_command("show_campaign", settings_from(config, db), campaign))


@campaigns_app.command("pause")
def campaigns_pause(campaign: CampaignId, config: ConfigOption = None, db: DbOption = None) -> None:
    """Pause a campaign (a running bot notices within [campaigns] resync_seconds)."""
    from store.models import CampaignStatus

    settings = settings_from(config, db)
    typer.echo(_campaign_command("set_status", settings, campaign, CampaignStatus.PAUSED))


@campaigns_app.command("resume")
def campaigns_resume(
    campaign: CampaignId, config: ConfigOption = None, db: DbOption = None
) -> None:
    """Resume a paused campaign from now on (what the pause skipped is not sent late)."""
    from store.models import CampaignStatus

    settings = settings_from(config, db)
    typer.echo(_campaign_command("set_status", settings, campaign, CampaignStatus.ACTIVE))


@campaigns_app.command("run")
def campaigns_run(campaign: CampaignId, config: ConfigOption = None, db: DbOption = None) -> None:
    """Run a campaign now and print what happened (console messages are shown here)."""
    exit_with(_campaign_command("run_campaign", settings_from(config, db), campaign))


@app.command()
def export(
    format_: Annotated[
        str, typer.Option("--format", "-f", help="csv (one file per table) or json (one file).")
    ],
    what: Annotated[
        str, typer.Option("--what", help="Tables, comma-separated: projects,needs,offers,stats.")
    ] = "projects,needs,offers,stats",
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write into.", file_okay=False)
    ] = Path("."),
    config: ConfigOption = None,
    db: DbOption = None,
) -> None:
    """Export published projects, needs, offers and figures for a showcase or a report.

    Members are named only if they agreed to be (their display name, nothing else)."""
    exporter = load("bot.export")
    fmt = format_.lower()
    try:
        exporter.parse_tables(what)
        if fmt not in exporter.FORMATS:
            raise exporter.ExportError(f"unknown format {format_!r}: choose csv or json")
    except exporter.ExportError as exc:
        fail(str(exc), code=2)
    settings = settings_from(config, db)
    with database_errors(settings):
        prepare_database(settings)
        written = call(exporter.export, settings, fmt=fmt, what=what, out=out)
    for path in written:
        typer.echo(str(path))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
