"""A demo community to try the bot on the console: sample Souss-Massa projects, personas and a
group, written through the catalogue importer so that demo data and imports share code.

Personas (console identities): alice is the community manager (by configuration: the console
passes `community_managers={"console:alice"}`), hassan leads the argan cooperative, yasmine is
a member who proposed the eco-tourism trail (still a draft).

Campaigns, all posted in the demo group: a project spotlight on Mondays and Thursdays at
18:00, a digest of new needs on Fridays at 09:00, and a poll two days after the first start
at 19:00. `/clock +3d` in the console moves the bot's clock forward to watch them fire.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.importer import apply_catalogue, catalogue_from_data
from store import members, projects
from store.models import AuditEntry, Campaign, Chat, Member, MemberIdentity
from store.uow import UnitOfWork

PERSONAS = (("alice", "Alice"), ("hassan", "Hassan"), ("yasmine", "Yasmine"))
DEMO_GROUP = "souss-massa"
DEMO_TAG = "demo"


def demo_catalogue(today: date) -> dict[str, Any]:
    """The demo projects, as a catalogue; deadlines are relative to `today`."""

    def weeks(n: int) -> str:
        return (today + timedelta(weeks=n)).isoformat()

    return {
        "projects": [
            {
                "slug": "argan-tafraout",
                "title": "Coopérative féminine d'argan de Tafraout",
                "summary": (
                    "[DEMO] Trente femmes de la vallée des Ammeln pressent et vendent leur huile "
                    "d'argan. Elles veulent mécaniser la presse et vendre en direct en Europe."
                ),
                "territory": "Tafraout",
                "tags": [DEMO_TAG, "argan", "femmes", "souss-massa"],
                "status": "open",
                "leaders": ["console:hassan"],
                "needs": [
                    {
                        "kind": "funding",
                        "title": "Presse à huile semi-automatique",
                        "details": "Remplacer le broyage manuel : moins de fatigue, plus d'huile.",
                        "target_amount": 15000,
                        "currency": "MAD",
                        "deadline": weeks(12),
                    },
                    {
                        "kind": "expertise",
                        "title": "Conseil pour la certification bio",
                        "details": "Quelqu'un qui connaît les démarches Ecocert ou équivalent.",
                        "effort": "2 visios d'une heure",
                    },
                    {
                        "kind": "network",
                        "title": "Épiceries fines en France et en Belgique",
                        "details": "Des contacts de boutiques prêtes à tester l'huile.",
                    },
                ],
            },
            {
                "slug": "bibliotheque-tiznit",
                "title": "Bibliothèque de l'école primaire de Tiznit",
                "summary": (
                    "[DEMO] Une salle vide à transformer en bibliothèque pour 400 élèves, avec "
                    "des livres en arabe, en amazigh et en français."
                ),
                "territory": "Tiznit",
                "tags": [DEMO_TAG, "education", "lecture"],
                "status": "open",
                "needs": [
                    {
                        "kind": "funding",
                        "title": "Achat de 600 livres jeunesse",
                        "target_amount": 2500,
                        "currency": "EUR",
                        "deadline": weeks(8),
                    },
                    {
                        "kind": "skills",
                        "title": "Montage des étagères et inventaire",
                        "details": "Un week-end de bénévolat pendant les vacances d'été.",
                        "effort": "un week-end",
                    },
                ],
            },
            {
                "slug": "goutte-a-goutte-taroudant",
                "title": "Irrigation goutte-à-goutte à Taroudant",
                "summary": (
                    "[DEMO] Douze petites exploitations veulent économiser l'eau de la nappe "
                    "du Souss en passant au goutte-à-goutte."
                ),
                "territory": "Taroudant",
                "tags": [DEMO_TAG, "eau", "agriculture"],
                "status": "open",
                "needs": [
                    {
                        "kind": "expertise",
                        "title": "Dimensionner le réseau d'irrigation",
                        "details": "Un ingénieur hydraulicien pour relire le plan du réseau.",
                        "effort": "quelques heures",
                    },
                    {
                        "kind": "funding",
                        "title": "Goutteurs et tuyaux pour 12 parcelles",
                        "target_amount": 40000,
                        "currency": "MAD",
                        "deadline": weeks(16),
                    },
                    {
                        "kind": "skills",
                        "title": "Former les agriculteurs à l'entretien",
                        "effort": "3 demi-journées",
                    },
                ],
            },
            {
                "slug": "sentier-imsouane",
                "title": "Sentier d'écotourisme d'Imsouane",
                "summary": (
                    "[DEMO] Baliser un sentier côtier entre Imsouane et les villages voisins, "
                    "avec des haltes chez l'habitant."
                ),
                "territory": "Imsouane",
                "tags": [DEMO_TAG, "tourisme", "randonnee"],
                "status": "draft",
                "proposed_by": "console:yasmine",
                "needs": [
                    {
                        "kind": "facilitation",
                        "title": "Mise en relation avec la commune",
                    },
                    {
                        "kind": "skills",
                        "title": "Cartographie GPS du sentier",
                        "effort": "2 jours",
                    },
                ],
            },
        ]
    }


async def _persona(session: AsyncSession, name: str, display_name: str, now: datetime) -> None:
    if await members.identity(session, "console", name) is not None:
        return
    member = Member(display_name=display_name, created_at=now, last_seen_at=None)
    session.add_all(
        [
            member,
            MemberIdentity(
                member=member,
                platform="console",
                external_id=name,
                username=name,
                display_name=display_name,
            ),
        ]
    )
    await session.flush()


async def _group(session: AsyncSession, now: datetime) -> None:
    found = await session.scalar(
        select(Chat).where(Chat.platform == "console", Chat.external_id == DEMO_GROUP)
    )
    if found is None:
        found = Chat(platform="console", external_id=DEMO_GROUP, created_at=now)
        session.add(found)
    found.title = DEMO_GROUP
    found.tags = [DEMO_GROUP]
    found.registered = True
    found.active = True


def demo_campaigns(now: datetime, timezone: str) -> list[dict[str, Any]]:
    """The demo campaigns (codes are fixed, so that seeding again adds nothing)."""
    audience = {"groups": [DEMO_GROUP], "members": "none"}
    poll_day = (now + timedelta(days=2)).date()
    return [
        {
            "code": "DEMOSPOT",
            "name": "[DEMO] Projet de la semaine",
            "kind": "spotlight",
            "content": {
                "fr": "Un projet du Souss-Massa à découvrir cette semaine :",
                "en": "A Souss-Massa project to discover this week:",
                "ar": "مشروع من سوس ماسة نكتشفه هذا الأسبوع:",
            },
            "audience": audience,
            "schedule": {"type": "weekly", "time": "18:00", "weekdays": [0, 3]},
        },
        {
            "code": "DEMODIGE",
            "name": "[DEMO] Les besoins de la semaine",
            "kind": "digest",
            "content": {
                "fr": "Les nouveaux besoins et ceux dont l'échéance approche :",
                "en": "New needs, and those whose deadline is near:",
            },
            "audience": audience,
            "schedule": {"type": "weekly", "time": "09:00", "weekdays": [4]},
        },
        {
            "code": "DEMOPOLL",
            "name": "[DEMO] Sondage : quel thème ?",
            "kind": "poll",
            "content": {
                "fr": "Quel thème voulez-vous voir plus souvent ?",
                "en": "Which theme would you like to see more often?",
            },
            "options": {
                "options": {
                    "fr": ["Eau et agriculture", "Éducation", "Tourisme solidaire"],
                    "en": ["Water and farming", "Education", "Community tourism"],
                }
            },
            "audience": audience,
            "schedule": {"type": "once", "at": f"{poll_day.isoformat()}T19:00"},
            "max_runs": 1,
        },
    ]


async def _campaigns(session: AsyncSession, now: datetime, timezone: str) -> int:
    """The demo campaigns that are missing (a campaign the visitor paused stays so)."""
    alice = await members.identity(session, "console", "alice")
    created = 0
    for values in demo_campaigns(now, timezone):
        if await session.scalar(select(Campaign.id).where(Campaign.code == values["code"])):
            continue
        session.add(
            Campaign(
                **values,
                timezone=timezone,
                created_by=alice.member_id if alice is not None else None,
                created_at=now,
                updated_at=now,
            )
        )
        created += 1
    return created


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    timezone: str = "Africa/Casablanca",
) -> None:
    """Create the demo community, or what is missing of it; running it again changes nothing."""
    rows = catalogue_from_data(demo_catalogue(now.date()), now.date())
    async with UnitOfWork(sessions) as uow:
        session = uow.session
        for name, display_name in PERSONAS:
            await _persona(session, name, display_name, now)
        await _group(session, now)
        # Only what is missing: a demo project the visitor published or archived stays so.
        missing = [row for row in rows if await projects.by_slug(session, row.slug) is None]
        summary = await apply_catalogue(session, missing, now)
        campaigns = await _campaigns(session, now, timezone)
        if summary.projects_created or summary.needs_created or campaigns:
            details = {**asdict(summary), "campaigns_created": campaigns}
            session.add(AuditEntry(at=now, action="demo.seed", subject="demo", details=details))
        await uow.commit()
