"""/stats on a small community whose every figure is known, on SQLite and PostgreSQL: the
store's aggregates, the trend's buckets, and the command as a community manager sees it."""

from __future__ import annotations

import io
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from matplotlib.image import imread
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.chat import Image, Message, Platform, Target
from store import stats
from store.models import (
    Announcement,
    AuditEntry,
    Campaign,
    CampaignResponse,
    CampaignRun,
    Chat,
    Delivery,
    Member,
    MemberIdentity,
    Need,
    NeedClick,
    Offer,
    Project,
    ProjectLeader,
)
from store.uow import UnitOfWork
from tests.harness import Harness, plain

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EXTERNAL_IDS = itertools.count(7_340_000_001)  # distinctive: a scan for them finds only them


def ago(days: float = 0, hours: float = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


@dataclass
class Community:
    """The ids of what `seed` wrote; the names tell who agreed to be named publicly."""

    members: dict[str, int]
    projects: dict[str, int]
    needs: dict[str, int]
    offers: dict[str, int]


def member(
    session: AsyncSession, name: str, created: datetime, seen: datetime, **extra: Any
) -> Member:
    person = Member(display_name=name, created_at=created, last_seen_at=seen, **extra)
    person.identities.append(
        MemberIdentity(
            platform="telegram",
            external_id=str(next(EXTERNAL_IDS)),
            username=name.lower().replace(" ", "_"),
            display_name=name,
        )
    )
    session.add(person)
    return person


async def seed(session: AsyncSession) -> Community:
    """Four members (one named publicly), a leader, four projects, four needs, six offers,
    two announcements of one need, clicks and a campaign about it."""
    old = member(session, "Omar Oldtimer", ago(100), ago(60))
    fresh = member(session, "Farah Fresh", ago(5), ago(1), share_name=True)
    quiet = member(session, "Qamar Quiet", ago(20), ago(20))
    leader = member(session, "Layla Leader", ago(200), ago(2))
    helper = member(session, "Hamid Helper", ago(300), ago(45))  # a CM, not a leader
    await session.flush()

    def project(slug: str, status: str) -> Project:
        made = Project(
            slug=slug,
            title=slug.replace("-", " ").title(),
            summary=f"About {slug}",
            territory="Tafraout",
            tags=["souss"],
            status=status,
            created_at=ago(150),
            updated_at=ago(150),
        )
        session.add(made)
        return made

    argan, school = project("argan-tafraout", "open"), project("school-tiznit", "open")
    draft, old_project = project("draft-idea", "draft"), project("old-well", "archived")
    await session.flush()
    session.add(ProjectLeader(project_id=argan.id, member_id=leader.id, granted_at=ago(150)))
    session.add(ProjectLeader(project_id=school.id, member_id=leader.id, granted_at=ago(150)))

    def need(project: Project, kind: str, status: str, created: datetime, **extra: Any) -> Need:
        made = Need(
            project_id=project.id,
            kind=kind,
            title=f"{kind} for {project.slug}",
            details="Details",
            status=status,
            created_at=created,
            **extra,
        )
        session.add(made)
        return made

    press = need(argan, "funding", "open", ago(25), target_amount=Decimal("15000"), currency="MAD")
    guides = need(argan, "skills", "fulfilled", ago(40), closed_at=ago(3))
    books = need(school, "expertise", "open", ago(100))
    well = need(old_project, "network", "cancelled", ago(120), closed_at=ago(110))
    await session.flush()

    def offer(
        on: Need, by: Member | None, kind: str, status: str, created: datetime, **extra: Any
    ) -> Offer:
        made = Offer(
            need_id=on.id,
            member_id=by.id if by else None,
            kind=kind,
            message="my private message",
            status=status,
            created_at=created,
            **extra,
        )
        session.add(made)
        return made

    o1 = offer(
        press, fresh, "funding", "done", ago(4), decided_at=ago(1), decided_by=leader.id,
        pledged_amount=Decimal("200"), currency="EUR",
    )  # fmt: skip
    o2 = offer(press, quiet, "skills", "pending", ago(10))
    o3 = offer(press, old, "funding", "declined", ago(12), decided_at=ago(12, -4))
    o4 = offer(books, old, "expertise", "accepted", ago(90), decided_at=ago(90, -10))
    o5 = offer(guides, quiet, "skills", "accepted", ago(15), decided_at=ago(14))
    o6 = offer(press, fresh, "information", "withdrawn", ago(3), decided_at=ago(2))
    await session.flush()

    def decision(what: str, offer: Offer, by: Member, at: datetime) -> None:
        session.add(AuditEntry(at=at, actor_id=by.id, action=what, subject=f"offer:{offer.id}"))

    decision("offer.accept", o1, leader, ago(2))  # 48 h after the offer
    decision("offer.done", o1, leader, ago(1))  # not an answer: the acceptance was
    decision("offer.decline", o3, leader, ago(12, -4))  # 4 h
    decision("offer.accept", o4, leader, ago(90, -10))  # 10 h, long ago
    decision("offer.accept", o5, helper, ago(14))  # a CM, for the project's leaders
    session.add(AuditEntry(at=ago(1), actor_id=leader.id, action="need.announce", subject="x"))

    chats = [
        Chat(platform="telegram", external_id=str(-100 - i), title=f"G{i}", created_at=ago(200))
        for i in range(2)
    ]
    session.add_all(chats)
    await session.flush()
    for chat in chats:
        session.add(Announcement(need_id=press.id, chat_id=chat.id, created_at=ago(24)))
    session.add(Announcement(need_id=books.id, chat_id=chats[0].id, created_at=ago(95)))
    for _ in range(3):
        session.add(NeedClick(need_id=press.id, member_id=quiet.id, created_at=ago(20)))
    session.add(NeedClick(need_id=books.id, member_id=old.id, created_at=ago(94)))

    campaign = Campaign(
        code="PRESS1",
        name="Press spotlight",
        kind="spotlight",
        need_id=press.id,
        timezone="Africa/Casablanca",
        created_at=ago(30),
        updated_at=ago(30),
    )
    session.add(campaign)
    await session.flush()
    run = CampaignRun(
        campaign_id=campaign.id, slot="s1", scheduled_at=ago(22), status="done", created_at=ago(22)
    )
    skipped = CampaignRun(
        campaign_id=campaign.id,
        slot="s2",
        scheduled_at=ago(15),
        status="skipped",
        created_at=ago(15),
    )
    session.add_all([run, skipped])
    await session.flush()
    for index, status in enumerate(("sent", "failed")):
        session.add(
            Delivery(
                purpose=f"campaign:{run.id}",
                target=f"telegram:user:{index}",
                platform="telegram",
                run_id=run.id,
                status=status,
                not_before=ago(22),
                created_at=ago(22),
            )
        )
    for kind in ("click", "click", "vote", "answer"):
        session.add(
            CampaignResponse(
                campaign_id=campaign.id,
                run_id=run.id,
                member_id=quiet.id,
                kind=kind,
                created_at=ago(21),
            )
        )
    await session.flush()
    return Community(
        members={m.display_name: m.id for m in (old, fresh, quiet, leader, helper)},
        projects={p.slug: p.id for p in (argan, school, draft, old_project)},
        needs={"press": press.id, "guides": guides.id, "books": books.id, "well": well.id},
        offers={f"o{i}": o.id for i, o in enumerate((o1, o2, o3, o4, o5, o6), start=1)},
    )


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    harness = await Harness.create(database_url)
    harness.clock.current = NOW
    async with UnitOfWork(harness.services.sessions) as uow:
        await seed(uow.session)
        await uow.commit()
    yield harness
    await harness.close()


async def figures(h: Harness, key: str) -> tuple[stats.Stats, stats.Trend]:
    async with h.services.sessions() as session:
        period = stats.Period.parse(key, NOW)
        return await stats.collect(session, period), await stats.trend(session, period)


# --- the store ----------------------------------------------------------------------------------


async def test_the_last_30_days(h: Harness) -> None:
    found, _ = await figures(h, "30d")
    assert (found.members_total, found.members_new, found.members_active) == (5, 2, 3)
    assert found.projects == {"open": 2, "draft": 1, "archived": 1}
    assert (found.needs_open, found.needs_new, found.needs_fulfilled) == (2, 1, 1)
    assert found.offers_by_status == {
        "done": 1,
        "pending": 1,
        "declined": 1,
        "accepted": 1,
        "withdrawn": 1,
    }
    assert found.offers_by_kind == {"funding": 2, "skills": 2, "information": 1}
    # the argan press was announced (in two groups): 3 link clicks and 2 campaign clicks,
    # four offers on it, one accepted and done since
    assert found.funnel == stats.Funnel(announced=1, clicked=5, offered=4, accepted=1, done=1)
    # answers in the period: 48 h and 4 h by the leader, 24 h by a community manager; the
    # offer marked done and the one withdrawn are not answers
    assert (found.response_median, found.responses) == (24 * 3600, 3)
    assert found.campaigns == stats.CampaignTotals(
        runs=1, sent=1, answers=1, votes=1, clicks=2, offers=0
    )


async def test_everything_and_the_last_week(h: Harness) -> None:
    everything, _ = await figures(h, "all")
    assert (everything.members_new, everything.members_active) == (5, 5)
    assert everything.offers_total == 6
    assert everything.funnel == stats.Funnel(announced=2, clicked=6, offered=5, accepted=2, done=1)
    assert (everything.response_median, everything.responses) == (17 * 3600, 4)  # 10 h, 24 h
    week, _ = await figures(h, "7d")
    assert (week.members_new, week.members_active) == (1, 2)
    assert week.offers_by_status == {"done": 1, "withdrawn": 1}
    assert (week.response_median, week.responses) == (48 * 3600, 1)
    assert week.funnel == stats.Funnel()  # nothing announced this week
    assert week.needs_fulfilled == 1


async def test_the_trend_buckets_whole_weeks_ending_now(h: Harness) -> None:
    _, weekly = await figures(h, "30d")
    assert (weekly.days, weekly.origin) == (7, NOW - timedelta(days=35))
    assert weekly.members == (0, 0, 1, 0, 1)
    assert weekly.offers == (0, 0, 1, 2, 2)
    # by the date of the last decision: o5 accepted 14 days ago, o1 done yesterday
    assert weekly.accepted == (0, 0, 0, 1, 1)
    _, daily = await figures(h, "7d")
    assert daily.days == 1 and len(daily.offers) == 7
    assert daily.offers == (0, 0, 0, 1, 1, 0, 0)  # 4 and 3 days ago
    _, everything = await figures(h, "all")
    assert everything.days == 7 and len(everything.offers) == 43  # 300 days, in weeks
    assert sum(everything.members) == 5 and sum(everything.offers) == 6
    assert sum(everything.accepted) == 3


async def test_an_empty_community_has_zeros_and_no_median(database_url: str) -> None:
    harness = await Harness.create(database_url)
    try:
        async with harness.services.sessions() as session:
            period = stats.Period.parse("all", NOW)
            found = await stats.collect(session, period)
            steps = await stats.trend(session, period)
    finally:
        await harness.close()
    assert found.members_total == 0 and found.response_median is None
    assert found.funnel == stats.Funnel() and found.offers_by_status == {}
    assert steps.days == 1 and sum(steps.offers) == 0


# --- the command --------------------------------------------------------------------------------


def image_of(replies: list[Any]) -> Image:
    images = [out for out in replies if isinstance(out, Image)]
    assert len(images) == 1, replies
    return images[0]


def assert_png(data: bytes, size: tuple[int, int] = (1000, 700)) -> None:
    assert data.startswith(PNG_SIGNATURE)
    pixels = imread(io.BytesIO(data), format="png")
    assert (pixels.shape[1], pixels.shape[0]) == size
    assert pixels[..., :3].std() > 0.05  # drawn, not blank


async def test_a_community_manager_gets_the_text_and_the_chart(h: Harness) -> None:
    replies = await h.send("alice", "/stats")
    text = plain(replies)
    lines = text.splitlines()
    assert lines[0] == "📊 Figures for the last 30 days (27 Oct 2026 – 26 Nov 2026)"
    assert "Members: 6 · 3 new · 4 active" in text  # alice herself is new and active
    assert "Projects: 2 open · 1 draft · 1 archived" in text
    assert "Needs: 2 open · 1 new · 1 fulfilled" in text
    assert "Offers: 5 (1 pending · 1 accepted · 1 done · 1 declined · 1 withdrawn)" in text
    assert "Skills 2" in text and "Funding (pledge) 2" in text and "Information 1" in text
    assert "Announced 1 → clicked 5 → offered 4 → accepted 1 → done 1" in text
    assert "Leaders' answer to an offer: 24 h (median; answered: 3)" in text
    assert "Campaigns: runs 1 · sent 1 · answers 1 · votes 1 · offers 0" in text
    assert len(lines) <= 10 and max(len(line) for line in lines) < 120
    image = image_of(replies)
    assert_png(image.png)
    assert image.caption.plain == "📈 Figures for the last 30 days · week by week"
    assert image.to is None  # answered where she asked: her private chat


async def test_periods_and_bad_input(h: Harness) -> None:
    week = plain(await h.send("alice", "/stats 7D"))
    assert week.startswith("📊 Figures for the last 7 days")
    assert image_of(h.last).caption.plain.endswith("day by day")
    year = await h.send("alice", "/stats 1y")
    assert plain(year).startswith("📊 Figures for the last 12 months")
    everything = await h.send("alice", "/stats all")
    assert plain(everything).startswith("📊 Figures since the beginning\n")
    assert "Leaders' answer to an offer: 17 h (median; answered: 4)" in plain(everything)
    for bad in ("/stats 2w", "/stats 30", "/stats 7d 30d", "/stats tout"):
        refused = await h.send("alice", bad)
        assert plain(refused) == "⚠️ Usage: /stats [7d|30d|90d|1y|all]", bad
        assert not any(isinstance(out, Image) for out in refused)


async def test_only_community_managers_and_privately(h: Harness) -> None:
    refused = await h.send("yasmine", "/stats")
    assert plain(refused) == "⚠️ Only a community manager can do that."
    assert not any(isinstance(out, Image) for out in refused)
    # typed in a group: the figures and the chart go to alice's private chat
    replies = await h.send("alice", "/stats", group="diaspora")
    private = Target(Platform.CONSOLE, "alice", True)
    texts = [out for out in replies if isinstance(out, Message)]
    assert texts[0].to == private and "Figures for the last 30 days" in texts[0].text.plain
    assert image_of(replies).to == private
    assert "answered you in a private message" in texts[-1].text.plain and texts[-1].to is None
