"""Import a catalogue of projects and needs (TOML or CSV), idempotently and all or nothing.

A catalogue is checked whole before anything is written: one bad row refuses the file with
the list of every problem and its line. Then it is applied in one transaction: projects are
upserted by short name, needs matched by (project, title) and updated, never duplicated.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tomllib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings, _parse_identity
from handlers.dialogs import CURRENCIES, clean_text
from handlers.project_rules import SLUG
from store import members
from store import projects as project_store
from store.db import create_engine, session_factory
from store.models import (
    AuditEntry,
    ContributionKind,
    Member,
    MemberIdentity,
    Need,
    Project,
    ProjectLeader,
    ProjectStatus,
)
from store.uow import UnitOfWork

logger = logging.getLogger(__name__)

MAX_TAGS, MAX_TAG_LENGTH = 8, 30
LIMITS = {"title": 120, "summary": 1000, "territory": 100, "details": 2000, "effort": 200}
PROJECT_KEYS = {
    "slug",
    "title",
    "summary",
    "territory",
    "tags",
    "status",
    "leaders",
    "proposed_by",
    "needs",
}
NEED_KEYS = {"kind", "title", "details", "target_amount", "currency", "effort", "deadline"}
CSV_COLUMNS = (
    "project_slug", "project_title", "project_summary", "territory", "tags",
    "need_kind", "need_title", "need_details", "target_amount", "currency", "effort", "deadline",
)  # fmt: skip
CSV_PROJECT_COLUMNS = ("project_title", "project_summary", "territory", "tags")
KINDS = {kind.value for kind in ContributionKind}
STATUSES = {status.value for status in ProjectStatus}


@dataclass(frozen=True, slots=True)
class NeedRow:
    kind: str
    title: str
    details: str = ""
    target_amount: Decimal | None = None
    currency: str | None = None
    effort: str = ""
    deadline: date | None = None


@dataclass(frozen=True, slots=True)
class ProjectRow:
    slug: str
    title: str
    summary: str = ""
    territory: str = ""
    tags: tuple[str, ...] = ()
    status: str | None = None  # None: "open" when created, unchanged when updated
    leaders: tuple[str, ...] = ()  # platform identities, "console:hassan"
    proposed_by: str | None = None
    needs: tuple[NeedRow, ...] = ()


@dataclass
class ImportSummary:
    projects_created: int = 0
    projects_updated: int = 0
    projects_unchanged: int = 0
    needs_created: int = 0
    needs_updated: int = 0
    needs_unchanged: int = 0
    leaders_added: int = 0

    def __str__(self) -> str:
        return (
            f"projects: {self.projects_created} created, {self.projects_updated} updated, "
            f"{self.projects_unchanged} unchanged; needs: {self.needs_created} created, "
            f"{self.needs_updated} updated, {self.needs_unchanged} unchanged; "
            f"leaders added: {self.leaders_added}"
        )


class CatalogueError(Exception):
    """The catalogue was refused whole; `problems` lists every bad row with its line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the catalogue was not imported:\n" + "\n".join(problems))
        self.problems = problems


# --- checking rows -------------------------------------------------------------------------


@dataclass
class _Checker:
    """Collects the problems of one record, each prefixed with where it is."""

    where: str
    today: date
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.problems.append(f"{self.where}: {message}")

    def text(self, value: Any, name: str, *, required: bool = False, limit: int = 0) -> str:
        if value is None or value == "":
            if required:
                self.fail(f"{name} is required")
            return ""
        if not isinstance(value, str):
            self.fail(f"{name} must be text")
            return ""
        text = clean_text(value)
        if required and not text:
            self.fail(f"{name} is required")
        limit = limit or LIMITS.get(name, 0)
        if limit and len(text) > limit:
            self.fail(f"{name} is too long ({len(text)} characters, at most {limit})")
        return text

    def tags(self, value: Any) -> tuple[str, ...]:
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            words = re.split(r"[;,]", value)
        elif isinstance(value, list) and all(isinstance(word, str) for word in value):
            words = value
        else:
            self.fail("tags must be a list of words")
            return ()
        tags: list[str] = []
        for word in words:
            tag = word.strip().lstrip("#").lower()
            if len(tag) > MAX_TAG_LENGTH:
                self.fail(f"tag {tag!r} is too long (at most {MAX_TAG_LENGTH} characters)")
            elif tag and tag not in tags:
                tags.append(tag)
        if len(tags) > MAX_TAGS:
            self.fail(f"{len(tags)} tags, at most {MAX_TAGS}")
        return tuple(tags)

    def identity(self, value: Any, name: str) -> str | None:
        if not isinstance(value, str):
            self.fail(f"{name} must be a platform identity like 'telegram:123'")
            return None
        try:
            return _parse_identity(value)
        except ValueError as exc:
            self.fail(f"{name}: {exc}")
            return None

    def amount(self, value: Any) -> Decimal | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            self.fail("target_amount must be a number")
            return None
        try:
            amount = Decimal(str(value).replace(" ", "").replace("\u202f", ""))
        except InvalidOperation:
            self.fail(f"target_amount {value!r} is not a number")
            return None
        if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e12"):
            self.fail("target_amount must be a positive amount")
            return None
        return amount.quantize(Decimal("0.01"))

    def deadline(self, value: Any) -> date | None:
        if value is None or value == "":
            return None
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value.strip())
            except ValueError:
                self.fail(f"deadline {value!r} is not a date like 2027-03-31")
                return None
        if not isinstance(value, date):
            self.fail("deadline must be a date like 2027-03-31")
            return None
        if value <= self.today:
            self.fail(f"deadline {value.isoformat()} is not in the future")
        return value


def _check_project(raw: dict[str, Any], check: _Checker) -> ProjectRow:
    unknown = set(raw) - PROJECT_KEYS
    if unknown:
        check.fail(f"unknown keys {', '.join(sorted(unknown))}")
    slug = check.text(raw.get("slug"), "slug", required=True, limit=60).lower()
    if slug and not SLUG.fullmatch(slug):
        check.fail(f"slug {slug!r} must be 3 to 60 lowercase letters, digits and dashes")
    status = raw.get("status")
    if status is not None and status not in STATUSES:
        check.fail(f"status {status!r} is not one of {', '.join(sorted(STATUSES))}")
        status = None
    leaders_raw = raw.get("leaders", [])
    if not isinstance(leaders_raw, list):
        check.fail("leaders must be a list of identities like 'console:hassan'")
        leaders_raw = []
    leaders = [check.identity(leader, "leaders") for leader in leaders_raw]
    proposed_by = raw.get("proposed_by")
    return ProjectRow(
        slug=slug,
        title=check.text(raw.get("title"), "title", required=True),
        summary=check.text(raw.get("summary"), "summary"),
        territory=check.text(raw.get("territory"), "territory"),
        tags=check.tags(raw.get("tags")),
        status=status,
        leaders=tuple(leader for leader in leaders if leader),
        proposed_by=check.identity(proposed_by, "proposed_by") if proposed_by else None,
    )


def _check_need(raw: dict[str, Any], check: _Checker) -> NeedRow:
    unknown = set(raw) - NEED_KEYS
    if unknown:
        check.fail(f"unknown keys {', '.join(sorted(unknown))}")
    kind = raw.get("kind")
    if kind not in KINDS:
        check.fail(f"kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    amount = check.amount(raw.get("target_amount"))
    currency = check.text(raw.get("currency"), "currency").upper() or None
    if currency is not None and currency not in CURRENCIES:
        check.fail(f"currency {currency!r} is not one of {', '.join(sorted(CURRENCIES))}")
    if amount is not None and kind != ContributionKind.FUNDING.value:
        check.fail("target_amount is only for funding needs")
    if amount is None:
        currency = None
    return NeedRow(
        kind=str(kind),
        title=check.text(raw.get("title"), "title", required=True),
        details=check.text(raw.get("details"), "details"),
        target_amount=amount,
        currency=(currency or "MAD") if amount is not None else None,
        effort=check.text(raw.get("effort"), "effort"),
        deadline=check.deadline(raw.get("deadline")),
    )


def _check_duplicates(rows: list[ProjectRow], places: list[str], problems: list[str]) -> None:
    seen: dict[str, str] = {}
    for row, where in zip(rows, places, strict=True):
        if row.slug in seen:
            problems.append(f"{where}: slug {row.slug!r} already used at {seen[row.slug]}")
        seen.setdefault(row.slug, where)
        titles: set[str] = set()
        for need in row.needs:
            if need.title in titles:
                problems.append(f"{where}: two needs are titled {need.title!r}")
            titles.add(need.title)


def catalogue_from_data(
    data: dict[str, Any], today: date, lines: dict[tuple[int, int], int] | None = None
) -> list[ProjectRow]:
    """Check a catalogue given as data (`{"projects": [{..., "needs": [...]}]}`)."""
    lines = lines or {}
    projects = data.get("projects")
    problems: list[str] = []
    unknown = set(data) - {"projects"}
    if unknown:
        problems.append(f"unknown top-level keys {', '.join(sorted(unknown))}")
    if not isinstance(projects, list) or not projects:
        raise CatalogueError([*problems, "no [[projects]] in the catalogue"])
    rows: list[ProjectRow] = []
    places: list[str] = []
    for p, raw in enumerate(projects, start=1):
        where = _place(lines.get((p, 0)), f"project {p}")
        check = _Checker(where, today)
        if not isinstance(raw, dict):
            check.fail("must be a table")
            problems.extend(check.problems)
            continue
        row = _check_project(raw, check)
        needs_raw = raw.get("needs", [])
        if not isinstance(needs_raw, list):
            check.fail("needs must be a list of [[projects.needs]]")
            needs_raw = []
        needs: list[NeedRow] = []
        for n, need_raw in enumerate(needs_raw, start=1):
            need_check = _Checker(
                _place(lines.get((p, n)), f"project {p} ({row.slug or '?'}), need {n}"), today
            )
            if isinstance(need_raw, dict):
                needs.append(_check_need(need_raw, need_check))
            else:
                need_check.fail("must be a table")
            check.problems.extend(need_check.problems)
        problems.extend(check.problems)
        rows.append(_with_needs(row, needs))
        places.append(where)
    _check_duplicates(rows, places, problems)
    if problems:
        raise CatalogueError(problems)
    return rows


def _place(line: int | None, label: str) -> str:
    return f"line {line} ({label})" if line else label


def _with_needs(row: ProjectRow, needs: list[NeedRow]) -> ProjectRow:
    return replace(row, needs=tuple(needs))


_PROJECT_HEADER = re.compile(r"^\s*\[\[\s*projects\s*\]\]")
_NEED_HEADER = re.compile(r"^\s*\[\[\s*projects\s*\.\s*needs\s*\]\]")


def _toml_lines(text: str) -> dict[tuple[int, int], int]:
    """(project no., need no. or 0) -> the line of its `[[...]]` header, to point at problems."""
    lines: dict[tuple[int, int], int] = {}
    project = need = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if _PROJECT_HEADER.match(line):
            project, need = project + 1, 0
            lines[(project, 0)] = number
        elif _NEED_HEADER.match(line) and project:
            need += 1
            lines[(project, need)] = number
    return lines


def parse_toml(text: str, today: date) -> list[ProjectRow]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError([f"not valid TOML: {exc}"]) from None
    return catalogue_from_data(data, today, _toml_lines(text))


def parse_csv(text: str, today: date) -> list[ProjectRow]:
    """One row per need; the project columns repeat (the first row of a project wins)."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        raise CatalogueError([f"line 1: missing columns {', '.join(missing)}"])
    projects: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    need_lines: dict[tuple[int, int], int] = {}
    problems: list[str] = []
    for record in reader:
        line = reader.line_num
        if None in record:
            problems.append(f"line {line}: more cells than columns")
        values = {key: (value or "").strip() for key, value in record.items() if key}
        slug = values["project_slug"].lower()
        if not any(values.values()):
            continue
        project = projects.get(slug)
        if project is None:
            project = projects[slug] = {
                "slug": slug,
                "title": values["project_title"],
                "summary": values["project_summary"],
                "territory": values["territory"],
                "tags": values["tags"],
                "needs": [],
            }
            first_line[slug] = line
            need_lines[(len(projects), 0)] = line
        else:
            for column, key in zip(
                CSV_PROJECT_COLUMNS, ("title", "summary", "territory", "tags"), strict=True
            ):
                if values[column] and values[column] != project[key]:
                    problems.append(
                        f"line {line}: {column} differs from line {first_line[slug]} "
                        f"for project {slug!r}"
                    )
        if values["need_kind"] or values["need_title"]:
            project["needs"].append(
                {
                    "kind": values["need_kind"],
                    "title": values["need_title"],
                    "details": values["need_details"],
                    "target_amount": values["target_amount"],
                    "currency": values["currency"],
                    "effort": values["effort"],
                    "deadline": values["deadline"],
                }
            )
            need_lines[(list(projects).index(slug) + 1, len(project["needs"]))] = line
    if not projects:
        raise CatalogueError([*problems, "no rows in the catalogue"])
    try:
        rows = catalogue_from_data({"projects": list(projects.values())}, today, need_lines)
    except CatalogueError as error:
        problems.extend(error.problems)
        raise CatalogueError(problems) from None
    if problems:
        raise CatalogueError(problems)
    return rows


def read_catalogue(path: Path, today: date) -> list[ProjectRow]:
    """Read and check a `.toml` or `.csv` catalogue; CatalogueError lists every problem."""
    suffix = path.suffix.lower()
    if suffix not in {".toml", ".csv"}:
        raise CatalogueError([f"{path.name}: a catalogue is a .toml or a .csv file"])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CatalogueError([f"cannot read {path}: {exc.strerror}"]) from None
    except UnicodeDecodeError:
        raise CatalogueError([f"{path.name} is not UTF-8 text"]) from None
    return parse_toml(text, today) if suffix == ".toml" else parse_csv(text, today)


# --- writing -------------------------------------------------------------------------------


async def _member_for(session: AsyncSession, key: str, now: datetime) -> int:
    """The member behind a platform identity, created (not yet seen) when unknown."""
    platform, _, external_id = key.partition(":")
    found = await members.identity(session, platform, external_id)
    if found is not None:
        return found.member_id
    member = Member(display_name=external_id, created_at=now, last_seen_at=None)
    session.add_all(
        [member, MemberIdentity(member=member, platform=platform, external_id=external_id)]
    )
    await session.flush()
    return member.id


def _update(target: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(target, name) != value:
            setattr(target, name, value)
            changed = True
    return changed


async def apply_catalogue(
    session: AsyncSession, rows: list[ProjectRow], now: datetime
) -> ImportSummary:
    """Upsert checked rows inside the caller's transaction."""
    summary = ImportSummary()
    for row in rows:
        proposer = await _member_for(session, row.proposed_by, now) if row.proposed_by else None
        values: dict[str, Any] = {
            "title": row.title,
            "summary": row.summary,
            "territory": row.territory,
            "tags": list(row.tags),
        }
        if row.status is not None:
            values["status"] = row.status
        if proposer is not None:
            values["proposed_by"] = proposer
        project = await project_store.by_slug(session, row.slug)
        if project is None:
            values.setdefault("status", ProjectStatus.OPEN.value)
            project = Project(slug=row.slug, created_at=now, updated_at=now, **values)
            session.add(project)
            await session.flush()
            summary.projects_created += 1
        elif _update(project, values):
            project.updated_at = now
            summary.projects_updated += 1
        else:
            summary.projects_unchanged += 1
        for leader in row.leaders:
            member_id = await _member_for(session, leader, now)
            if await session.get(ProjectLeader, (project.id, member_id)) is None:
                session.add(
                    ProjectLeader(project_id=project.id, member_id=member_id, granted_at=now)
                )
                summary.leaders_added += 1
        existing: dict[str, Need] = {}
        for need in await project_store.needs_of(session, project.id):
            existing.setdefault(need.title, need)  # the oldest one of a title is the match
        for need_row in row.needs:
            need_values = {
                "kind": need_row.kind,
                "details": need_row.details,
                "target_amount": need_row.target_amount,
                "currency": need_row.currency,
                "effort": need_row.effort,
                "deadline": need_row.deadline,
            }
            match = existing.get(need_row.title)
            if match is None:
                session.add(
                    Need(project_id=project.id, title=need_row.title, created_at=now, **need_values)
                )
                summary.needs_created += 1
            elif _update(match, need_values):
                summary.needs_updated += 1
            else:
                summary.needs_unchanged += 1
        await session.flush()
    return summary


async def import_catalogue(
    sessions: async_sessionmaker[AsyncSession],
    catalogue_rows: list[ProjectRow],
    now: datetime,
    *,
    source: str = "catalogue",
) -> ImportSummary:
    """Apply checked rows in one transaction, with an audit entry; all or nothing."""
    async with UnitOfWork(sessions) as uow:
        summary = await apply_catalogue(uow.session, catalogue_rows, now)
        uow.session.add(
            AuditEntry(
                at=now,
                actor_id=None,
                action="catalogue.import",
                subject=source[:120],
                details=asdict(summary),
            )
        )
        await uow.commit()
    return summary


async def import_file(settings: Settings, path: Path) -> ImportSummary:
    """Check and import the catalogue at `path` into the configured database."""
    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(settings.community.timezone)).date()
    rows = read_catalogue(path, today)
    engine = create_engine(settings.database.url)
    try:
        summary = await import_catalogue(session_factory(engine), rows, now, source=path.name)
    finally:
        await engine.dispose()
    logger.info("imported %s: %s", path.name, summary)
    return summary


__all__ = [
    "CatalogueError",
    "ImportSummary",
    "NeedRow",
    "ProjectRow",
    "apply_catalogue",
    "catalogue_from_data",
    "import_catalogue",
    "import_file",
    "parse_csv",
    "parse_toml",
    "read_catalogue",
]
