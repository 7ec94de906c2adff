"""A large, realistic CDS community for the benchmarks (bench/stats.py, bench/matching.py).

By default: 100,000 members (with profiles: skills, liked kinds, languages, country, commune
of origin, consent flags) and one platform identity each, 2,000 projects with one or two
leaders, 20,000 needs, 200,000 offers over two years (decisions recorded in the audit log as
the bot writes them), 300 groups with announcements, clicks, follows, and 50 campaigns with
their runs, deliveries and responses. Everything is drawn from a seeded generator: the same
sizes and seed give the same community.

    async with scratch_databases(directory, pg_admin_url) as urls:   # migrated, empty
        for label, url in urls:
            engine = create_engine(url)
            data = await populate(engine, Sizes())
            ...

Rows are written with bulk INSERTs in chunks; on PostgreSQL the id sequences are moved past
the explicit ids afterwards, so the bot can insert rows of its own in the same database.
"""

from __future__ import annotations

import asyncio
import bisect
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from store import migrate, traits  # noqa: E402
from store.models import (  # noqa: E402
    Announcement,
    AuditEntry,
    Base,
    Campaign,
    CampaignResponse,
    CampaignRun,
    Chat,
    ContributionKind,
    Delivery,
    Follow,
    Member,
    MemberIdentity,
    MemberTrait,
    Need,
    NeedClick,
    Offer,
    Project,
    ProjectLeader,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
HISTORY = timedelta(days=730)
CHUNK = 5_000
KINDS = tuple(kind.value for kind in ContributionKind)
COMMUNES = (
    "Tafraout", "Tiznit", "Agadir", "Taroudant", "Inezgane", "Aït Melloul", "Biougra",
    "Chtouka", "Tata", "Guelmim", "Sidi Ifni", "Mirleft", "Imsouane", "Tamri", "Aourir",
    "Taghazout", "Ouled Teima", "Taliouine", "Igherm", "Anzi", "Ammeln", "Tahala", "Afella Ighir",
    "Tighmi", "Aglou", "Massa", "Belfaa", "Sidi Bibi", "Temsia", "Drarga",
)  # fmt: skip
SKILLS = (
    "comptabilité", "accounting", "marketing", "design", "photographie", "vidéo", "traduction",
    "arabe", "amazigh", "anglais", "informatique", "développement web", "python", "juridique",
    "droit des associations", "agronomie", "irrigation", "énergie solaire", "architecture",
    "btp", "santé", "médecine", "enseignement", "tourisme", "guide", "cuisine", "logistique",
    "export", "finance", "levée de fonds", "communication", "réseaux sociaux", "gestion de projet",
    "électricité", "plomberie", "menuiserie", "couture", "artisanat", "argan", "apiculture",
)  # fmt: skip
LANGUAGES = ("fr", "ar", "en", "es", "nl", "de", "zgh")
COUNTRIES = (("FR", 45), ("ES", 12), ("BE", 10), ("NL", 8), ("CA", 8), ("MA", 7), ("DE", 5),
             ("IT", 3), ("US", 2))  # fmt: skip
CITIES = {
    "FR": ("Paris", "Lyon", "Marseille", "Lille", "Montpellier"),
    "ES": ("Madrid", "Barcelona", "Murcia"),
    "BE": ("Bruxelles", "Anvers", "Liège"),
    "NL": ("Amsterdam", "Rotterdam", "Utrecht"),
    "CA": ("Montréal", "Toronto", "Québec"),
    "MA": ("Casablanca", "Rabat", "Agadir"),
    "DE": ("Berlin", "Düsseldorf", "Frankfurt"),
    "IT": ("Milano", "Torino", "Bologna"),
    "US": ("New York", "Washington"),
}
TIMEZONES = {"FR": "Europe/Paris", "ES": "Europe/Madrid", "BE": "Europe/Brussels",
             "NL": "Europe/Amsterdam", "CA": "America/Toronto", "MA": "Africa/Casablanca",
             "DE": "Europe/Berlin", "IT": "Europe/Rome", "US": "America/New_York"}  # fmt: skip
AVAILABILITIES = ("one_off", "few_hours", "ongoing")
PROJECT_STATUSES = (("open", 80), ("paused", 8), ("draft", 7), ("archived", 5))
NEED_STATUSES = (("open", 70), ("fulfilled", 20), ("cancelled", 10))
OFFER_STATUSES = (("pending", 15), ("accepted", 25), ("declined", 15), ("withdrawn", 5),
                  ("done", 40))  # fmt: skip
CURRENCIES = ("MAD", "EUR", "CAD")


@dataclass(frozen=True, slots=True)
class Sizes:
    members: int = 100_000
    projects: int = 2_000
    needs: int = 20_000
    offers: int = 200_000
    groups: int = 300
    campaigns: int = 50
    runs_per_campaign: int = 4
    deliveries_per_run: int = 500
    follows: int = 50_000
    clicks: int = 60_000


@dataclass
class Dataset:
    """What `populate` wrote: row counts per table, and handy references."""

    sizes: Sizes
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # A configured community manager's identity ("telegram:<id>") and their member id.
    manager_key: str = ""
    manager_id: int = 0
    # Open needs of open projects, announced: what a matcher would be asked about.
    sample_need_ids: list[int] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _weighted(rng: random.Random, table: Sequence[tuple[str, int]]) -> str:
    return rng.choices([value for value, _ in table], [weight for _, weight in table])[0]


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max((end - start).total_seconds(), 1.0)
    return start + timedelta(seconds=rng.uniform(0, span))


async def populate(
    engine: AsyncEngine, sizes: Sizes | None = None, *, now: datetime = NOW, seed: int = 6
) -> Dataset:
    """Fill an empty, migrated database with a community of `sizes`."""
    sizes = sizes or Sizes()
    rng = random.Random(seed)
    started = time.perf_counter()
    data = Dataset(sizes)
    begin = now - HISTORY
    tables: dict[type[Base], list[dict[str, Any]]] = {}

    # --- members and their identities ---
    members: list[dict[str, Any]] = []
    identities: list[dict[str, Any]] = []
    created_of: list[datetime] = [begin]  # index = member id
    for member_id in range(1, sizes.members + 1):
        created = _moment(rng, begin, now)
        country = _weighted(rng, COUNTRIES)
        named = f"Membre {member_id}"
        members.append(
            {
                "id": member_id,
                "display_name": named,
                "locale": rng.choice(("fr", "fr", "ar", "en")),
                "accepts_dm": rng.random() < 0.6,
                "timezone": TIMEZONES[country],
                "quiet_hours": "22:00-08:00" if rng.random() < 0.3 else None,
                "created_at": created,
                "last_seen_at": _moment(rng, created, now),
                "skills": rng.sample(SKILLS, rng.randint(0, 4)),
                "liked_kinds": rng.sample(KINDS, rng.randint(0, 3)),
                "languages": rng.sample(LANGUAGES, rng.randint(1, 3)),
                "country": country,
                "city": rng.choice(CITIES[country]),
                "origin": rng.choice(COMMUNES) if rng.random() < 0.8 else None,
                "availability": rng.choice((*AVAILABILITIES, None)),
                "share_name": rng.random() < 0.3,
                "matching_off": rng.random() < 0.05,
                "profile_skipped": [],
            }
        )
        platform = "telegram" if rng.random() < 0.7 else "discord"
        identities.append(
            {
                "id": member_id,
                "member_id": member_id,
                "platform": platform,
                "external_id": str(5_000_000_000 + member_id),
                "username": f"membre_{member_id}",
                "display_name": named,
                "language_code": "fr",
                "unreachable": rng.random() < 0.03,
                "last_seen_at": members[-1]["last_seen_at"],
            }
        )
        created_of.append(created)
    tables[Member], tables[MemberIdentity] = members, identities
    # Bulk inserts pass the ORM's hooks by: the traits matching reads are written beside.
    tables[MemberTrait] = [
        row for member in members for row in traits.rows_for(member["id"], member)
    ]
    data.manager_key = f"{identities[0]['platform']}:{identities[0]['external_id']}"
    data.manager_id = 1

    # --- projects, leaders, needs ---
    projects: list[dict[str, Any]] = []
    leaders: list[dict[str, Any]] = []
    leaders_of: dict[int, list[int]] = {}
    status_of_project: dict[int, str] = {}
    project_created: dict[int, datetime] = {}
    leader_pool = max(2, min(sizes.members, sizes.projects * 2))
    for project_id in range(1, sizes.projects + 1):
        created = _moment(rng, begin, now - timedelta(days=30))
        commune = rng.choice(COMMUNES)
        status = _weighted(rng, PROJECT_STATUSES)
        projects.append(
            {
                "id": project_id,
                "slug": f"projet-{project_id:05d}",
                "title": f"Projet {project_id} à {commune}",
                "summary": f"Un projet de la commune de {commune}.",
                "territory": commune,
                "tags": rng.sample(("eau", "école", "argan", "santé", "tourisme", "femmes"), 2),
                "status": status,
                "created_at": created,
                "updated_at": created,
            }
        )
        chosen = rng.sample(range(1, leader_pool + 1), rng.randint(1, 2))
        leaders_of[project_id] = chosen
        status_of_project[project_id] = status
        project_created[project_id] = created
        leaders += [
            {"project_id": project_id, "member_id": m, "granted_at": created} for m in chosen
        ]
    tables[Project], tables[ProjectLeader] = projects, leaders

    needs: list[dict[str, Any]] = []
    need_project: list[int] = [0]
    need_created: list[datetime] = [begin]
    need_kind: list[str] = [""]
    for need_id in range(1, sizes.needs + 1):
        project_id = rng.randint(1, sizes.projects)
        created = _moment(rng, project_created[project_id], now - timedelta(days=1))
        kind = rng.choice(KINDS)
        status = _weighted(rng, NEED_STATUSES)
        funding = kind == "funding"
        needs.append(
            {
                "id": need_id,
                "project_id": project_id,
                "kind": kind,
                "title": f"Besoin {need_id}: {kind}",
                "details": "Détails du besoin, ce qu'il permettra et pour qui.",
                "target_amount": Decimal(rng.randrange(1_000, 200_000, 500)) if funding else None,
                "currency": rng.choice(CURRENCIES) if funding else None,
                "effort": "" if funding else "quelques heures",
                "deadline": (now + timedelta(days=rng.randint(10, 200))).date()
                if rng.random() < 0.3
                else None,
                "status": status,
                "created_at": created,
                "closed_at": _moment(rng, created, now) if status != "open" else None,
            }
        )
        need_project.append(project_id)
        need_created.append(created)
        need_kind.append(kind)
    tables[Need] = needs

    # --- offers, and the audit entries of their decisions ---
    offers: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    # Offers spread evenly over the history, each on a need and by a member that existed then.
    needs_by_age = sorted(range(1, sizes.needs + 1), key=need_created.__getitem__)
    need_ages = [need_created[n] for n in needs_by_age]
    members_by_age = sorted(range(1, sizes.members + 1), key=created_of.__getitem__)
    member_ages = [created_of[m] for m in members_by_age]
    for offer_id in range(1, sizes.offers + 1):
        created = _moment(rng, need_ages[0], now)
        need_id = needs_by_age[rng.randrange(max(1, bisect.bisect(need_ages, created)))]
        member_id = members_by_age[rng.randrange(max(1, bisect.bisect(member_ages, created)))]
        created = max(created, need_created[need_id], created_of[member_id])
        status = _weighted(rng, OFFER_STATUSES)
        kind = need_kind[need_id] if rng.random() < 0.9 else rng.choice(KINDS)
        leader = rng.choice(leaders_of[need_project[need_id]])
        answered = created + timedelta(hours=rng.expovariate(1 / 30))  # 30 h on average
        finished = answered + timedelta(days=rng.uniform(1, 40))
        # What has not happened yet by `now` has not happened: still pending, or accepted.
        if answered > now and status != "withdrawn":
            status = "pending"
        elif status == "done" and finished > now:
            status = "accepted"
        decided_at: datetime | None = None
        decided_by: int | None = None
        if status in ("accepted", "declined", "done"):
            verb = "decline" if status == "declined" else "accept"
            audit.append(
                {
                    "at": answered,
                    "actor_id": leader,
                    "action": f"offer.{verb}",
                    "subject": f"offer:{offer_id}",
                    "details": {},
                }
            )
            decided_at, decided_by = answered, leader
            if status == "done":
                decided_at = finished
                audit.append(
                    {
                        "at": decided_at,
                        "actor_id": leader,
                        "action": "offer.done",
                        "subject": f"offer:{offer_id}",
                        "details": {},
                    }
                )
        elif status == "withdrawn":
            decided_at, decided_by = _moment(rng, created, now), member_id
        funding = kind == "funding"
        offers.append(
            {
                "id": offer_id,
                "need_id": need_id,
                "member_id": member_id,
                "kind": kind,
                "message": "Je peux aider, voici ce que je propose.",
                "availability": rng.choice(AVAILABILITIES),
                "pledged_amount": Decimal(rng.randrange(50, 5_000, 50)) if funding else None,
                "currency": rng.choice(CURRENCIES) if funding else None,
                "share_contact": rng.random() < 0.5,
                "status": status,
                "decided_by": decided_by,
                "decided_at": decided_at,
                "reason": "",
                "source": rng.choice(("link", "button", "command", "match", "share")),
                "referred_by": rng.randint(1, sizes.members) if rng.random() < 0.1 else None,
                "reminder_stage": 0,
                "created_at": created,
            }
        )
    tables[Offer], tables[AuditEntry] = offers, audit

    # --- groups, announcements, clicks, follows ---
    chats = [
        {
            "id": chat_id,
            "platform": "telegram" if chat_id % 3 else "discord",
            "external_id": str(-1_000_000_000_000 - chat_id),
            "title": f"Groupe {chat_id}",
            "tags": [rng.choice(COMMUNES).lower()],
            "registered": True,
            "active": True,
            "created_at": begin,
        }
        for chat_id in range(1, sizes.groups + 1)
    ]
    announcements: list[dict[str, Any]] = []
    announced: list[int] = []
    for need_id in range(1, sizes.needs + 1):
        if rng.random() < 0.5 or not chats:
            continue
        announced.append(need_id)
        at = need_created[need_id] + timedelta(hours=rng.uniform(1, 48))
        for chat_id in rng.sample(range(1, sizes.groups + 1), min(3, sizes.groups)):
            announcements.append(
                {"need_id": need_id, "chat_id": chat_id, "message_id": "1", "created_at": at}
            )
    clicks: list[dict[str, Any]] = []
    for _ in range(sizes.clicks if announced else 0):
        need_id = rng.choice(announced)
        clicks.append(
            {
                "need_id": need_id,
                "member_id": rng.randint(1, sizes.members),
                "referrer_id": rng.randint(1, sizes.members) if rng.random() < 0.2 else None,
                "source": rng.choice(("announce", "share", "match")),
                "created_at": _moment(rng, need_created[need_id], now),
            }
        )
    follow_pairs: set[tuple[int, int]] = set()
    while len(follow_pairs) < min(sizes.follows, sizes.members * sizes.projects):
        follow_pairs.add((rng.randint(1, sizes.members), rng.randint(1, sizes.projects)))
    follows = [
        {"member_id": m, "project_id": p, "created_at": _moment(rng, created_of[m], now)}
        for m, p in sorted(follow_pairs)
    ]
    tables[Chat], tables[Announcement] = chats, announcements
    tables[NeedClick], tables[Follow] = clicks, follows

    # --- campaigns, runs, deliveries, responses ---
    campaigns: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    run_id = 0
    for campaign_id in range(1, sizes.campaigns + 1):
        about = rng.choice(announced) if announced else None
        created = _moment(rng, begin, now - timedelta(days=10))
        campaigns.append(
            {
                "id": campaign_id,
                "code": f"C{campaign_id:05d}",
                "name": f"Campagne {campaign_id}",
                "kind": rng.choice(("message", "question", "poll", "spotlight")),
                "status": "active",
                "content": {"fr": "Bonjour !"},
                "options": {},
                "audience": {"groups": "all", "members": "everyone"},
                "need_id": about,
                "schedule": {"type": "weekly", "time": "18:00", "weekdays": [4]},
                "timezone": "Africa/Casablanca",
                "created_at": created,
                "updated_at": created,
            }
        )
        for index in range(sizes.runs_per_campaign):
            run_id += 1
            at = created + timedelta(days=7 * (index + 1))
            runs.append(
                {
                    "id": run_id,
                    "campaign_id": campaign_id,
                    "slot": f"{at:%Y-%m-%dT%H:%M}",
                    "scheduled_at": at,
                    "status": "skipped" if rng.random() < 0.1 else "done",
                    "details": {},
                    "created_at": at,
                    "finished_at": at,
                }
            )
            for _ in range(sizes.deliveries_per_run):
                member_id = rng.randint(1, sizes.members)
                deliveries.append(
                    {
                        "purpose": f"campaign:{run_id}",
                        "target": f"telegram:user:{5_000_000_000 + member_id}",
                        "platform": "telegram",
                        "member_id": member_id,
                        "run_id": run_id,
                        "payload": {},
                        "status": rng.choice(("sent", "sent", "sent", "failed", "skipped")),
                        "attempts": 1,
                        "not_before": at,
                        "created_at": at,
                        "sent_at": at,
                    }
                )
                if rng.random() < 0.15:
                    responses.append(
                        {
                            "campaign_id": campaign_id,
                            "run_id": run_id,
                            "member_id": member_id,
                            "kind": rng.choice(("answer", "vote", "click", "click", "offer")),
                            "choice": [],
                            "text": "",
                            "created_at": at + timedelta(hours=rng.uniform(0, 48)),
                        }
                    )
    # A delivery is unique per (purpose, target): drop the repeated draws.
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for row in deliveries:
        unique.setdefault((row["purpose"], row["target"]), row)
    tables[Campaign], tables[CampaignRun] = campaigns, runs
    tables[Delivery], tables[CampaignResponse] = list(unique.values()), responses

    await _write(engine, tables)
    data.rows = {model.__tablename__: len(rows) for model, rows in tables.items()}
    open_projects = {p for p, status in status_of_project.items() if status == "open"}
    data.sample_need_ids = [
        n
        for n in announced
        if needs[n - 1]["status"] == "open" and need_project[n] in open_projects
    ][:200]
    data.seconds = time.perf_counter() - started
    return data


async def _write(engine: AsyncEngine, tables: Mapping[type[Base], list[dict[str, Any]]]) -> None:
    """Bulk INSERT in chunks, parents before children; then move PostgreSQL's sequences."""
    async with engine.begin() as connection:
        for model in _parents_first(tables):
            rows = tables[model]
            for start in range(0, len(rows), CHUNK):
                await connection.execute(insert(model), rows[start : start + CHUNK])
        if engine.dialect.name == "postgresql":
            for model in tables:
                table = model.__table__
                if "id" in table.c and table.c.id.autoincrement:
                    name = table.name
                    await connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"coalesce((SELECT max(id) FROM {name}), 0) + 1, false)"
                        )
                    )
    async with engine.begin() as connection:  # fresh planner statistics, as in production
        await connection.execute(text("ANALYZE"))


def _parents_first(tables: Iterable[type[Base]]) -> list[type[Base]]:
    order = {table: index for index, table in enumerate(Base.metadata.sorted_tables)}
    return sorted(tables, key=lambda model: order[model.__table__])  # type: ignore[index]


# --- scratch databases ------------------------------------------------------------------------


async def _admin(url: str, statement: str) -> None:
    import asyncpg

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@asynccontextmanager
async def scratch_databases(
    directory: Path, pg_admin_url: str | None = None
) -> AsyncIterator[list[tuple[str, str]]]:
    """Empty migrated databases: a SQLite file in `directory`, and a PostgreSQL database
    created on the server of `pg_admin_url` (when given) and dropped afterwards."""
    sqlite_url = f"sqlite+aiosqlite:///{directory / f'bench-{uuid.uuid4().hex[:8]}.db'}"
    await asyncio.to_thread(migrate.upgrade, sqlite_url)
    urls = [("SQLite", sqlite_url)]
    name = f"cds_bench_{uuid.uuid4().hex[:12]}"
    if pg_admin_url:
        await _admin(pg_admin_url, f'CREATE DATABASE "{name}"')
        pg_url = (
            make_url(pg_admin_url)
            .set(drivername="postgresql+asyncpg", database=name)
            .render_as_string(hide_password=False)
        )
        await asyncio.to_thread(migrate.upgrade, pg_url)
        urls.append(("PostgreSQL", pg_url))
    try:
        yield urls
    finally:
        if pg_admin_url:
            await _admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
