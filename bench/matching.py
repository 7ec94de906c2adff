"""Matching at scale: the time to find the members a need reaches, and /stats beside it.

The community of bench/dataset.py (by default 100,000 members with profiles, 2,000
projects, 20,000 needs, 200,000 offers, and the rest) is written into a scratch SQLite file
and, with --pg or $CDS_TEST_DATABASE_URL, a scratch PostgreSQL database (created on that
server and dropped afterwards). The needs timed get realistic texts (skills of the community
in their title and details, so that skills, kinds, origins and languages all take part), and
`--feedback` "Not for me" answers are added. Then, for `--timed` open needs of open projects:

- match: `handlers.match_finding.find_matches` with the bound of notes per need (`--bound`, 200
  as in the settings): the candidate query and the exact scoring in Python, the skill tags
  already read (they are read once per `VOCABULARY_SECONDS`; their reading is shown apart as
  "skill tags");
- announce: `notify_matches` as /announce runs it (the matches, the members' addresses, the
  frequency cap, the notes built in each member's language and written to the outbox), in a
  transaction rolled back each time;
- /match: every match of a need (a leader's count of who would be reached), on fewer needs;
- /stats: `store.stats.collect` + `trend` and the whole command through `handlers.core.handle`
  (as bench/stats.py measures it, on the same database).

Target: match under 100 ms at p95.

    uv run python bench/matching.py [--members 100000] [--projects 2000] [--needs 20000]
        [--offers 200000] [--timed 50] [--bound 200] [--feedback 20000]
        [--pg postgresql+asyncpg://postgres@127.0.0.1:5432/test] [--no-stats] [--json]

Only 127.0.0.1 is contacted (the tests' network guard is installed); it stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytest  # noqa: E402  (the network guard uses its MonkeyPatch)
from sqlalchemy import insert, select, text, update  # noqa: E402

from bench.dataset import NOW, SKILLS, Dataset, Sizes, populate, scratch_databases  # noqa: E402
from bench.stats import FixedClock, percentile  # noqa: E402
from handlers import core, routes  # noqa: E402
from handlers.chat import Actor, Command, Event, Identity, Image, Place, Platform  # noqa: E402
from handlers.context import Community, Ctx, Services  # noqa: E402
from handlers.match_finding import find_matches, forget_skills  # noqa: E402
from handlers.match_notes import notify_matches  # noqa: E402
from store import matching as queries  # noqa: E402
from store import stats  # noqa: E402
from store.db import create_engine, session_factory  # noqa: E402
from store.models import MatchFeedback, Need, Project, ProjectLeader  # noqa: E402
from tests.conftest import NetworkGuard  # noqa: E402

TARGET_SECONDS = 0.100
LANGUAGES = frozenset({"fr"})
TEMPLATES = (
    ("Besoin en {a} pour le projet", "Nous cherchons une personne qui connaît {b} et {c}."),
    ("Un coup de main en {a}", "Deux heures par visio pour nous aider sur {b}, puis {c}."),
    ("{a} : conseils pour la coopérative", "Vous maîtrisez {b} ? Votre aide sur {c} compte."),
)


@dataclass
class Timing:
    database: str
    part: str
    runs: int
    p50: float
    p95: float
    note: str = ""


async def timed(work: Callable[[], Awaitable[Any]], repeat: int = 1) -> list[float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        await work()
        seconds.append(time.perf_counter() - started)
    return seconds


def timing(database: str, part: str, seconds: list[float], note: str = "") -> Timing:
    return Timing(
        database, part, len(seconds), percentile(seconds, 0.5), percentile(seconds, 0.95), note
    )


async def realistic(engine: Any, need_ids: list[int], feedback: int, members: int) -> None:
    """Give the timed needs texts naming skills of the community, and add "Not for me"
    answers spread over the community."""
    rng = random.Random(66)
    async with engine.begin() as connection:
        for need_id in need_ids:
            title, details = rng.choice(TEMPLATES)
            a, b, c = rng.sample(SKILLS, 3)
            await connection.execute(
                update(Need)
                .where(Need.id == need_id)
                .values(title=title.format(a=a), details=details.format(b=b, c=c))
            )
        needs = int(await connection.scalar(text("SELECT max(id) FROM needs")) or 0)
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < feedback:
            pairs.add((rng.randint(1, members), rng.randint(1, needs)))
        rows = [
            {"member_id": m, "need_id": n, "verdict": "not_for_me", "created_at": NOW}
            for m, n in sorted(pairs)
        ]
        for start in range(0, len(rows), 5_000):
            await connection.execute(insert(MatchFeedback), rows[start : start + 5_000])
    # Fresh planner statistics and, on PostgreSQL, a vacuumed table (its visibility map set,
    # as autovacuum leaves it in production): bulk-loaded pages are not left to the timed reads.
    async with engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        vacuum = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        await autocommit.execute(text(vacuum))


async def bench_database(
    label: str, url: str, sizes: Sizes, args: argparse.Namespace
) -> tuple[Dataset, list[Timing], dict[str, float]]:
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        data = await populate(engine, sizes)
        need_ids = data.sample_need_ids[: args.timed]
        await realistic(engine, need_ids, args.feedback, sizes.members)
        written = time.perf_counter() - started
        print(
            f"\n{label}: {data.total_rows:,} rows (+{args.feedback:,} feedback) in {written:.0f} s"
        )
        sessions = session_factory(engine)
        community = Community(
            default_language="fr",
            community_managers=frozenset({data.manager_key}),
            match_notes_max=args.bound,
        )
        services = Services(sessions=sessions, community=community, clock=FixedClock(NOW))
        async with sessions() as session:
            pairs = {
                need.id: (need, await session.get_one(Project, need.project_id))
                for need in await session.scalars(select(Need).where(Need.id.in_(need_ids)))
            }
            leaders = {
                project_id: member_id
                for project_id, member_id in await session.execute(
                    select(ProjectLeader.project_id, ProjectLeader.member_id)
                )
            }
        figures: dict[str, float] = {}
        timings: list[Timing] = []

        async with sessions() as session:
            forget_skills()
            vocabulary_seconds = await timed(lambda: queries.skill_vocabulary(session), 3)
        timings.append(timing(label, "skill tags", vocabulary_seconds, "once per 5 min"))

        found_counts: list[int] = []

        async def match(need_id: int) -> None:
            need, project = pairs[need_id]
            async with sessions() as session:
                found = await find_matches(
                    session, need, project, LANGUAGES, NOW, best=community.match_notes_max
                )
            found_counts.append(len(found.matches))

        async with sessions() as session:  # the skill tags, read once
            need, project = pairs[need_ids[0]]
            await find_matches(session, need, project, LANGUAGES, NOW, best=1)
        match_seconds: list[float] = []
        for need_id in need_ids:
            match_seconds += await timed(lambda need_id=need_id: match(need_id))
        timings.append(timing(label, "match", match_seconds, f"best {args.bound}"))

        queued: list[int] = []

        async def announce(need_id: int) -> None:
            need, project = pairs[need_id]
            leader = leaders.get(project.id, data.manager_id)
            identity = Identity(Platform.TELEGRAM, str(leader), None, "Leader", "fr")
            actor = Actor(leader, identity, "Leader", "fr", frozenset({"leader"}))
            place = Place(Platform.TELEGRAM, str(leader), private=True)
            async with sessions() as session, session.begin():
                ctx = Ctx(session, actor, place, services)
                report = await notify_matches(ctx, need, project)
                queued.append(report.queued)
                await session.rollback()

        announce_seconds: list[float] = []
        for need_id in need_ids:
            announce_seconds += await timed(lambda need_id=need_id: announce(need_id))
        timings.append(timing(label, "announce", announce_seconds, "notes written, rolled back"))

        all_counts: list[int] = []

        async def match_all(need_id: int) -> None:
            need, project = pairs[need_id]
            async with sessions() as session:
                found = await find_matches(session, need, project, LANGUAGES, NOW)
            all_counts.append(len(found.matches))

        all_seconds: list[float] = []
        for need_id in need_ids[: args.timed_all]:
            all_seconds += await timed(lambda need_id=need_id: match_all(need_id))
        timings.append(timing(label, "/match", all_seconds, "every match counted"))

        figures["matches_found_median"] = sorted(found_counts)[len(found_counts) // 2]
        figures["notes_queued_median"] = sorted(queued)[len(queued) // 2]
        figures["members_fitting_median"] = sorted(all_counts)[len(all_counts) // 2]

        if not args.no_stats:
            timings += await stats_timings(label, sessions, services, data, args.stats_repeat)
        return data, timings, figures
    finally:
        await engine.dispose()


async def stats_timings(
    label: str, sessions: Any, services: Services, data: Dataset, repeat: int
) -> list[Timing]:
    """/stats 30d on the same database, measured as bench/stats.py does."""
    platform, user_id = data.manager_key.split(":", 1)
    event = Event(
        Identity(Platform(platform), user_id, "cm", "CM", "fr"),
        Place(Platform(platform), user_id, private=True),
        Command("stats", ("30d",)),
    )

    async def sql() -> None:
        async with sessions() as session:
            asked = stats.Period.parse("30d", NOW)
            await stats.collect(session, asked)
            await stats.trend(session, asked)

    async def handler() -> None:
        replies = await core.handle(services, routes.ROUTER, event)
        assert any(isinstance(out, Image) for out in replies), replies

    sql_seconds = await timed(sql, repeat)
    await timed(handler, 1)  # the first chart of a process loads matplotlib
    handler_seconds = await timed(handler, repeat)
    return [
        timing(label, "/stats sql", sql_seconds, "30d"),
        timing(label, "/stats", handler_seconds, "30d, whole command"),
    ]


async def run(args: argparse.Namespace, directory: Path) -> int:
    sizes = Sizes(
        members=args.members, projects=args.projects, needs=args.needs, offers=args.offers
    )
    admin_url = args.pg or os.environ.get("CDS_TEST_DATABASE_URL", "").strip() or None
    print(
        f"matching with {sizes.members:,} members, {sizes.projects:,} projects, "
        f"{sizes.needs:,} needs, {sizes.offers:,} offers; {args.timed} needs timed"
    )
    timings: list[Timing] = []
    figures: dict[str, dict[str, float]] = {}
    async with scratch_databases(directory, admin_url) as urls:
        for label, url in urls:
            _, found, numbers = await bench_database(label, url, sizes, args)
            timings += found
            figures[label] = numbers
    if admin_url is None:
        print("PostgreSQL: skipped (give --pg URL or set CDS_TEST_DATABASE_URL)")
    print(f"\n{'database':12}{'part':>12}{'runs':>6}{'p50':>10}{'p95':>10}  note")
    for t in timings:
        print(
            f"{t.database:12}{t.part:>12}{t.runs:>6}{t.p50 * 1000:7.1f} ms"
            f"{t.p95 * 1000:7.1f} ms  {t.note}"
        )
    for label, numbers in figures.items():
        print(
            f"{label}: median {numbers['members_fitting_median']:.0f} members fit a timed need; "
            f"the best {numbers['matches_found_median']:.0f} scored to pick the notes; "
            f"{numbers['notes_queued_median']:.0f} notes written (the rest capped or unreachable)"
        )
    ok = all(t.p95 < TARGET_SECONDS for t in timings if t.part == "match")
    print(
        f"\ntarget: match under {TARGET_SECONDS * 1000:.0f} ms at p95: {'met' if ok else 'MISSED'}"
    )
    if args.json:
        print(json.dumps({"timings": [asdict(t) for t in timings], "figures": figures}))
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--projects", type=int, default=2_000)
    parser.add_argument("--needs", type=int, default=20_000)
    parser.add_argument("--offers", type=int, default=200_000)
    parser.add_argument("--timed", type=int, default=50, help="needs timed")
    parser.add_argument("--timed-all", type=int, default=10, help="needs timed for /match")
    parser.add_argument("--bound", type=int, default=200, help="notes per need, at most")
    parser.add_argument("--feedback", type=int, default=20_000, help='"Not for me" answers')
    parser.add_argument("--stats-repeat", type=int, default=5)
    parser.add_argument("--no-stats", action="store_true", help="leave /stats out")
    parser.add_argument("--pg", default=None, help="PostgreSQL server URL (scratch database)")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as directory:
        NetworkGuard().install(patch)
        return asyncio.run(run(args, Path(directory)))


if __name__ == "__main__":
    raise SystemExit(main())
