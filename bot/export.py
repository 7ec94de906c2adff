"""`cds-bot export`: the data a CDS web showcase or a funder's report needs, as CSV or JSON.

CSV: one file per table (projects.csv, needs.csv, offers.csv, stats.csv), UTF-8, a header
row; a text that starts like a spreadsheet formula gets a leading apostrophe. JSON: one
file, cds-export.json, with a key per table, texts exactly as typed. What is exported, and what is
not (anything personal, unless its owner agreed to be named), is decided in `store.export`;
the figures are those of /stats, for the whole history and for the last 30 days.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from store import export as queries
from store import stats
from store.db import create_engine, session_factory

TABLES = ("projects", "needs", "offers", "stats")
FORMATS = ("csv", "json")
JSON_FILE = "cds-export.json"
STATS_PERIODS = ("all", "30d")
STATS_COLUMNS = ("period", "figure", "value")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """An export that cannot be made as asked (an unknown table or format)."""


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


def parse_tables(what: str) -> tuple[str, ...]:
    """Table names from "projects,needs": known ones, in the canonical order, once each."""
    asked = {part.strip().lower() for part in what.split(",") if part.strip()}
    unknown = sorted(asked - set(TABLES))
    if unknown:
        raise ExportError(
            f"unknown table(s) {', '.join(unknown)}: choose among {', '.join(TABLES)}"
        )
    if not asked:
        raise ExportError(f"nothing to export: choose among {', '.join(TABLES)}")
    return tuple(name for name in TABLES if name in asked)


async def gather(
    session: AsyncSession, tables: Sequence[str], now: datetime
) -> dict[str, Table | dict[str, Any]]:
    """The tables asked for; "stats" is a mapping period -> figures."""
    found: dict[str, Table | dict[str, Any]] = {}
    if "projects" in tables:
        found["projects"] = Table(
            "projects", queries.PROJECT_COLUMNS, await queries.projects(session)
        )
    if "needs" in tables:
        found["needs"] = Table("needs", queries.NEED_COLUMNS, await queries.needs(session))
    if "offers" in tables:
        found["offers"] = Table("offers", queries.OFFER_COLUMNS, await queries.offers(session))
    if "stats" in tables:
        found["stats"] = {
            key: (await stats.collect(session, stats.Period.parse(key, now))).as_dict()
            for key in STATS_PERIODS
        }
    return found


async def collect(
    settings: Settings, tables: Sequence[str], now: datetime
) -> dict[str, Table | dict[str, Any]]:
    """Read the tables from the configured database."""
    engine = create_engine(settings.database.url)
    try:
        async with session_factory(engine)() as session:
            return await gather(session, tables, now)
    finally:
        await engine.dispose()


def write(
    found: Mapping[str, Table | dict[str, Any]], fmt: str, out: Path, now: datetime
) -> list[Path]:
    """Write the tables into `out` (created if needed); returns the files written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose csv or json")
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        return [write_json(found, out / JSON_FILE, now)]
    return [write_csv(name, content, out) for name, content in found.items()]


def export(
    settings: Settings,
    *,
    fmt: str,
    what: str = ",".join(TABLES),
    out: Path = Path("."),
    now: datetime | None = None,
) -> list[Path]:
    """The whole export, from the database to the files (for the command line)."""
    tables = parse_tables(what)
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose csv or json")
    moment = now or datetime.now(UTC)
    return write(asyncio.run(collect(settings, tables, moment)), fmt, out, moment)


# --- CSV ------------------------------------------------------------------------------------


def write_csv(name: str, content: Table | dict[str, Any], out: Path) -> Path:
    path = out / f"{name}.csv"
    rows: Iterable[Mapping[str, str]]
    if isinstance(content, Table):
        columns, rows = content.columns, (_cells(row) for row in content.rows)
    else:
        columns, rows = STATS_COLUMNS, _stats_rows(content)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(column, "") for column in columns])
    return path


def _cells(row: Mapping[str, Any]) -> dict[str, str]:
    return {key: _cell(value) for key, value in row.items()}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return _text(", ".join(str(item) for item in value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return _text(value)
    return str(value)


def _text(value: str) -> str:
    """Text typed by people, made inert for spreadsheets: a cell that starts like a formula
    (a title "=HYPERLINK(...)") gets a leading apostrophe, which spreadsheets hide."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _stats_rows(by_period: Mapping[str, Any]) -> Iterable[dict[str, str]]:
    """One row per figure: ("30d", "funnel.clicked", "5")."""
    for period, figures in by_period.items():
        for figure, value in _flatten(figures):
            yield {"period": period, "figure": figure, "value": _cell(value)}


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in data.items():
        if isinstance(value, Mapping):
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


# --- JSON -----------------------------------------------------------------------------------


def write_json(found: Mapping[str, Table | dict[str, Any]], path: Path, now: datetime) -> Path:
    document: dict[str, Any] = {"exported_at": now.isoformat()}
    for name, content in found.items():
        document[name] = content.rows if isinstance(content, Table) else content
    with path.open("w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False, indent=1, default=_json_value)
        handle.write("\n")
    return path


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not exportable")
