"""The matching queries find exactly what scoring every member in Python finds.

Random communities (profiles with accents, cases and spellings that fold alike, consents,
"Not for me" answers, offers, leaders) on SQLite and PostgreSQL; for each need, the best
`k` matches `find_matches` returns (reading pages of candidates through the traits, with a
page margin of 0 so that every page boundary and both tiers are crossed) are the first `k`
of the ranking of every member scored one by one.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import match_finding
from handlers.match_scoring import Feedback, Match, Profile, ranked, score
from store.models import MatchFeedback, Member, Need, Offer, Project, ProjectLeader

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LANGUAGES = frozenset({"fr"})
KINDS = ("expertise", "skills", "idea", "network")
SKILLS = (
    "comptabilité", "Comptabilite", "comptable", "accounting", "design", "web", "UX",
    "web design", "traduction", "irrigation", "python", "droit", "juriste", "santé",
)  # fmt: skip
ORIGINS = ("Tafraout", "TAFRAOÛT", "tafraout ", "Aït-Baha", "ait baha", "Agadir", "", None)
TERRITORIES = ("Tafraout", "Aït Baha", "Agadir", "")
TITLES = (
    ("Comptabilité de la coopérative", "Un comptable pour les livres"),
    ("Web design of the site", "A UX review, then traduction of the pages"),
    ("Irrigation du verger", "Conseils de juriste sur le droit de l'eau"),
    ("Santé: une journée de dépistage", ""),
    ("Nothing in common", "zzz"),
)


async def community(session: AsyncSession, rng: random.Random) -> list[tuple[Need, Project]]:
    members = []
    for index in range(120):
        member = Member(
            display_name=f"m{index}",
            created_at=NOW,
            last_seen_at=None,
            skills=rng.sample(SKILLS, rng.randint(0, 3)),
            liked_kinds=rng.sample(KINDS, rng.randint(0, 2)),
            languages=rng.sample(("fr", "en", "ar"), rng.randint(0, 2)),
            origin=rng.choice(ORIGINS),
            accepts_dm=rng.random() < 0.85,
            matching_off=rng.random() < 0.1,
        )
        members.append(member)
    session.add_all(members)
    await session.flush()
    pairs = []
    for index, territory in enumerate(TERRITORIES):
        project = Project(
            slug=f"p{index}",
            title=f"Project {index}",
            territory=territory,
            status="open",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(project)
        await session.flush()
        session.add(
            ProjectLeader(project_id=project.id, member_id=rng.choice(members).id, granted_at=NOW)
        )
        for title, details in TITLES:
            need = Need(
                project_id=project.id,
                kind=rng.choice(KINDS),
                title=title,
                details=details,
                created_at=NOW,
            )
            session.add(need)
            pairs.append((need, project))
    await session.flush()
    needs = [need for need, _project in pairs]
    said = {(rng.choice(members).id, rng.choice(needs).id) for _ in range(150)}
    session.add_all(
        MatchFeedback(member_id=m, need_id=n, verdict="not_for_me", created_at=NOW) for m, n in said
    )
    offered = {(rng.choice(members).id, rng.choice(needs)) for _ in range(60)}
    session.add_all(
        Offer(need_id=need.id, member_id=m, kind=need.kind, created_at=NOW) for m, need in offered
    )
    await session.flush()
    return pairs


async def reference(session: AsyncSession, need: Need, project: Project) -> list[Match]:
    """Every member scored one by one, as the scoring rules say."""
    leaders = set(
        await session.scalars(
            select(ProjectLeader.member_id).where(ProjectLeader.project_id == project.id)
        )
    )
    offered = set(await session.scalars(select(Offer.member_id).where(Offer.need_id == need.id)))
    said = list(
        await session.execute(
            select(MatchFeedback.member_id, Need.id, Need.project_id, Need.kind).join(
                Need, Need.id == MatchFeedback.need_id
            )
        )
    )
    found = []
    for member in await session.scalars(select(Member)):
        if member.id in leaders or member.id in offered:
            continue
        theirs = [row for row in said if row[0] == member.id]
        feedback = Feedback(
            this_need=any(row[1] == need.id for row in theirs),
            same_project=sum(1 for row in theirs if row[2] == project.id),
            same_kind=sum(1 for row in theirs if row[3] == need.kind),
        )
        profile = Profile(
            member_id=member.id,
            skills=tuple(member.skills),
            liked_kinds=tuple(member.liked_kinds),
            languages=tuple(member.languages),
            origin=member.origin,
            accepts_dm=member.accepts_dm,
            matching_off=member.matching_off,
        )
        match = score(profile, need, project, feedback, languages=LANGUAGES)
        if match is not None:
            found.append(match)
    return ranked(found)


def key(matches: list[Match]) -> list[tuple[int, int, tuple[str, ...]]]:
    return [(m.member_id, m.score, tuple(r.kind for r in m.reasons)) for m in matches]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
async def test_find_matches_agrees_with_scoring_every_member(sessions, monkeypatch, seed):
    monkeypatch.setattr(match_finding, "PAGE_MARGIN", 0)
    match_finding.forget_skills()
    async with sessions() as session, session.begin():
        pairs = await community(session, random.Random(seed))
        sizes: list[int] = []
        tiers: set[str] = set()
        for need, project in pairs:
            expected = await reference(session, need, project)
            sizes.append(len(expected))
            tiers.update(
                "strong" if {"skill", "origin"} & {r.kind for r in m.reasons} else "weak"
                for m in expected
            )
            every = await match_finding.find_matches(session, need, project, LANGUAGES, NOW)
            assert every.complete
            assert key(every.matches) == key(expected), need.title
            for best in (1, 2, 5, 13):
                found = await match_finding.find_matches(
                    session, need, project, LANGUAGES, NOW, best=best
                )
                assert key(found.matches[:best]) == key(expected[:best]), (need.title, best)
        assert max(sizes) > 13 and tiers == {"strong", "weak"}
    match_finding.forget_skills()
