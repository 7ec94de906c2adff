"""Campaigns through the core on SQLite: the community manager's dialog for every schedule,
bad input that creates nothing, the preview's counts, the list's buttons telling the
scheduler after the commit; members answering, voting, following up and clicking."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from handlers import core, routes
from handlers.campaign_content import CODE_PATTERN
from handlers.chat import Button, Outgoing, Poll, Text, Vote
from handlers.serial import dump, load
from store.models import (
    AuditEntry,
    Campaign,
    CampaignResponse,
    CampaignRun,
    Chat,
    Delivery,
    Follow,
    Member,
    MemberIdentity,
    Need,
    Offer,
    Project,
    ProjectLeader,
)
from tests.harness import FakeClock, Harness, buttons, plain

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # the harness clock: a Thursday


@dataclass
class FakeScheduler:
    """The scheduler port by simple rules; records what the handlers tell it, and what the
    database held when it was told (so that "after the commit" is checked, not assumed)."""

    clock: FakeClock
    h: Harness | None = None
    changed_ids: list[int] = field(default_factory=list)
    seen_statuses: list[str | None] = field(default_factory=list)
    runs: list[tuple[int, int | None]] = field(default_factory=list)

    def next_runs(self, schedule: dict[str, Any], timezone: str, count: int) -> list[datetime]:
        tz = ZoneInfo(timezone)
        now = self.clock.now().astimezone(tz)
        kind = schedule.get("type")
        if kind == "once":
            at = datetime.fromisoformat(schedule["at"]).replace(tzinfo=tz)
            return [at.astimezone(UTC)] if at > now else []
        if kind == "cron":
            fields = schedule["cron"].split()
            if len(fields) != 5 or not all(f.isdigit() for f in fields[:2]):
                raise ValueError(f"invalid cron expression {schedule['cron']!r}")
            if int(fields[0]) > 59 or int(fields[1]) > 23:
                raise ValueError(f"invalid cron field hour {fields[1]!r}")
            schedule = {"type": "daily", "time": f"{int(fields[1]):02d}:{int(fields[0]):02d}"}
            kind = "daily"
        hour, minute = map(int, schedule["time"].split(":"))
        found: list[datetime] = []
        day = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        while len(found) < count:
            if day > now and (
                kind == "daily"
                or (kind == "weekly" and day.weekday() in schedule["weekdays"])
                or (kind == "monthly" and day.day == schedule.get("day", 1))
            ):
                found.append(day.astimezone(UTC))
            day += timedelta(days=1)
        return found

    async def changed(self, campaign_id: int) -> None:
        self.changed_ids.append(campaign_id)
        if self.h is not None:  # a fresh session sees only what was committed
            async with self.h.services.sessions() as session:
                campaign = await session.get(Campaign, campaign_id)
                self.seen_statuses.append(campaign.status if campaign else None)

    async def run_now(self, campaign_id: int, started_by: int | None) -> int:
        self.runs.append((campaign_id, started_by))
        return len(self.runs)


@dataclass
class World:
    members: dict[str, int]
    argan: int  # open project "argan-tafraout", led by leila
    need: int  # an open skills need of argan
    offer: int  # yasmine's accepted offer on `need`
    pending: int  # samir's pending offer on `need`


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db")
    harness.services.scheduler = FakeScheduler(harness.clock, harness)
    yield harness
    await harness.close()


def scheduler(h: Harness) -> FakeScheduler:
    assert isinstance(h.services.scheduler, FakeScheduler)
    return h.services.scheduler


def add_member(session: Any, who: str, *, accepts_dm: bool = False) -> Member:
    member = Member(
        display_name=who.capitalize(), created_at=NOW, last_seen_at=NOW, accepts_dm=accepts_dm
    )
    session.add(member)
    session.add(
        MemberIdentity(
            member=member,
            platform="console",
            external_id=who,
            username=who,
            display_name=who.capitalize(),
            last_seen_at=NOW,
        )
    )
    return member


async def seed(h: Harness) -> World:
    async with h.services.sessions() as session:
        people = {
            "alice": add_member(session, "alice"),
            "leila": add_member(session, "leila"),
            "yasmine": add_member(session, "yasmine", accepts_dm=True),
            "samir": add_member(session, "samir", accepts_dm=True),
            "nadia": add_member(session, "nadia"),
        }
        argan = Project(
            slug="argan-tafraout",
            title="Argan Tafraout",
            summary="A women's argan cooperative.",
            territory="Tafraout",
            tags=["argan"],
            status="open",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(argan)
        await session.flush()
        session.add(
            ProjectLeader(project_id=argan.id, member_id=people["leila"].id, granted_at=NOW)
        )
        need = Need(
            project_id=argan.id, kind="skills", title="A website", status="open", created_at=NOW
        )
        session.add(need)
        for external, tags, registered in (
            ("g1", ["argan"], True),
            ("g2", ["school"], True),
            ("g3", [], False),
        ):
            session.add(
                Chat(
                    platform="console",
                    external_id=external,
                    title=external,
                    tags=tags,
                    registered=registered,
                    created_at=NOW,
                )
            )
        await session.flush()
        accepted = Offer(
            need_id=need.id,
            member_id=people["yasmine"].id,
            kind="skills",
            message="I build websites.",
            status="accepted",
            decided_by=people["leila"].id,
            decided_at=NOW - timedelta(days=20),
            created_at=NOW - timedelta(days=21),
        )
        pending = Offer(
            need_id=need.id,
            member_id=people["samir"].id,
            kind="skills",
            status="pending",
            created_at=NOW,
        )
        session.add_all([accepted, pending])
        session.add(Follow(member_id=people["yasmine"].id, project_id=argan.id, created_at=NOW))
        await session.commit()
        return World(
            members={who: m.id for who, m in people.items()},
            argan=argan.id,
            need=need.id,
            offer=accepted.id,
            pending=pending.id,
        )


async def walk(h: Harness, who: str, *answers: str) -> str:
    """Answer a dialog: "@label" presses the button whose label contains it, else types."""
    said = ""
    for answer in answers:
        if answer.startswith("@"):
            said = plain(await h.press(who, h.button(answer[1:])))
        else:
            said = plain(await h.send(who, answer))
    return said


async def all_campaigns(h: Harness) -> list[Campaign]:
    async with h.services.sessions() as session:
        return list(await session.scalars(select(Campaign).order_by(Campaign.id)))


async def responses(h: Harness) -> list[CampaignResponse]:
    async with h.services.sessions() as session:
        return list(await session.scalars(select(CampaignResponse).order_by(CampaignResponse.id)))


async def get(h: Harness, model: Any, key: Any) -> Any:
    async with h.services.sessions() as session:
        return await session.get(model, key)


MESSAGE_START = ("/campaign", "@Message", "Spring news", "Hello everyone!", "Bonjour à tous !")


async def new_message_campaign(h: Harness, *when: str) -> str:
    """A message campaign to every group and every member, scheduled by `when`."""
    return await walk(
        h,
        "alice",
        *MESSAGE_START,
        "@Skip",  # no Arabic text
        "@Skip",  # no button
        "@All registered",
        "@Every member",
        *when,
    )


# --- the dialog, for each kind of schedule ------------------------------------------------------


async def test_weekly_message_campaign_is_created_audited_and_the_scheduler_told(
    h: Harness,
) -> None:
    await seed(h)
    preview = await new_message_campaign(h, "@Every week", "18:00", "mon thu", "@Skip", "10")

    # The preview: the text as members see it, per language and platform bound, the audience
    # (two registered groups, two members who agreed to private messages), the next runs.
    assert "Preview in English (Discord 15/2000 · Telegram 15/4096)" in preview
    assert "Hello everyone!" in preview and "Bonjour à tous !" in preview
    assert "Audience: 2 groups, 2 members in private" in preview
    assert (
        "Next runs (Africa/Casablanca): 2026-11-26 18:00, 2026-11-30 18:00, 2026-12-03 18:00"
        in (preview)
    )
    assert "For 10 runs" in preview
    assert scheduler(h).changed_ids == []  # nothing exists yet

    done = await walk(h, "alice", "@Activate")
    [campaign] = await all_campaigns(h)
    assert f"“Spring news” (no. {campaign.id}) is active" in done
    assert campaign.kind == "message" and campaign.status == "active"
    assert campaign.content == {"en": "Hello everyone!", "fr": "Bonjour à tous !"}
    assert campaign.audience == {"groups": "all", "members": "everyone"}
    assert campaign.schedule == {"type": "weekly", "time": "18:00", "weekdays": [0, 3]}
    assert campaign.timezone == "Africa/Casablanca"
    assert campaign.max_runs == 10 and campaign.ends_on is None
    assert re.fullmatch(CODE_PATTERN, campaign.code)
    async with h.services.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions == ["campaign.create"]
    # Told after the commit: a fresh session already saw the campaign.
    assert scheduler(h).changed_ids == [campaign.id]
    assert scheduler(h).seen_statuses == ["active"]


@pytest.mark.parametrize(
    ("when", "expected", "zone", "ends_on"),
    [
        (
            ("@Once", "2026-12-01 18:30", "Europe/Paris"),
            {"type": "once", "at": "2026-12-01T18:30"},
            "Europe/Paris",
            None,
        ),
        (
            ("@Every day", "7h05", "@Skip", "2027-01-31"),
            {"type": "daily", "time": "07:05"},
            "Africa/Casablanca",
            "2027-01-31",
        ),
        (
            ("@Every month", "09:00", "first monday", "@Skip", "@Skip"),
            {"type": "monthly", "time": "09:00", "nth": 1, "weekday": 0},
            "Africa/Casablanca",
            None,
        ),
        (
            ("@Every month", "09:00", "15", "@Skip", "@Skip"),
            {"type": "monthly", "time": "09:00", "day": 15},
            "Africa/Casablanca",
            None,
        ),
        (
            ("@Every month", "09:00", "dernier vendredi", "@Skip", "@Skip"),
            {"type": "monthly", "time": "09:00", "nth": -1, "weekday": 4},
            "Africa/Casablanca",
            None,
        ),
        (
            ("@Cron", "0 18 * * 1-5", "america/montreal", "@Skip"),
            {"type": "cron", "cron": "0 18 * * 1-5"},
            "America/Montreal",
            None,
        ),
    ],
)
async def test_every_kind_of_schedule(
    h: Harness, when: tuple[str, ...], expected: dict[str, Any], zone: str, ends_on: str | None
) -> None:
    await seed(h)
    preview = await new_message_campaign(h, *when)
    assert "Activate it?" in preview, preview
    await walk(h, "alice", "@Activate")
    [campaign] = await all_campaigns(h)
    assert campaign.schedule == expected
    assert campaign.timezone == zone
    assert (campaign.ends_on.isoformat() if campaign.ends_on else None) == ends_on


async def test_the_community_manager_writes_the_community_language_first(h: Harness) -> None:
    await seed(h)
    h.services.community = type(h.services.community)(
        community_managers=frozenset({"console:alice"}), default_language="fr"
    )
    said = await walk(h, "alice", "/campaign", "@Message", "Nouvelles")
    assert "Français" in said  # the first text asked is the community's language


# --- bad input: a clear answer, the step asked again, nothing created ---------------------------


async def test_invalid_cron_is_refused_and_asked_again(h: Harness) -> None:
    await seed(h)
    said = await new_message_campaign(h, "@Cron", "0 25 * * *")
    assert "This schedule does not work: invalid cron field hour '25'" in said
    assert "The cron expression" in said  # asked again
    said = await walk(h, "alice", "0 18 * * *", "@Skip", "@Skip")
    assert "Activate it?" in said
    assert await all_campaigns(h) == []


async def test_unknown_time_zone_suggests_the_closest_and_asks_again(h: Harness) -> None:
    await seed(h)
    said = await new_message_campaign(h, "@Every day", "18:00", "Europe/Pariss")
    assert "I don't know the time zone “Europe/Pariss”" in said
    assert "Did you mean “Europe/Paris”?" in said
    assert "Its time zone?" in said
    said = await walk(h, "alice", "europe/paris", "@Skip")
    assert "Next runs (Europe/Paris)" in said
    assert await all_campaigns(h) == []


async def test_a_moment_in_the_past_is_refused(h: Harness) -> None:
    await seed(h)
    said = await new_message_campaign(h, "@Once", "2026-11-20 18:00", "@Skip")
    assert "2026-11-20 18:00 is already past" in said
    assert "The date and time" in said
    assert await all_campaigns(h) == []


async def test_a_moment_that_passed_while_the_preview_waited_is_asked_again(
    h: Harness,
) -> None:
    await seed(h)
    said = await new_message_campaign(h, "@Once", "2026-11-26 12:00", "@Skip")
    assert "Activate it?" in said
    h.clock.advance(timedelta(hours=3))  # 13:00 in Casablanca: the moment is past
    said = await walk(h, "alice", "@Activate")
    assert "2026-11-26 12:00 is already past" in said
    assert await all_campaigns(h) == []
    said = await walk(h, "alice", "2026-11-27 12:00")
    assert "Activate it?" in said  # the preview again, never a silent activation
    assert await all_campaigns(h) == []
    await walk(h, "alice", "@Activate")
    [campaign] = await all_campaigns(h)
    assert campaign.schedule == {"type": "once", "at": "2026-11-27T12:00"}


async def test_malformed_times_and_days_are_asked_again(h: Harness) -> None:
    await seed(h)
    said = await new_message_campaign(h, "@Every week", "25:00")
    assert "Please give a time as HH:MM" in said
    said = await walk(h, "alice", "18:00", "someday")
    assert "Please give weekdays" in said
    said = await walk(h, "alice", "fri", "@Skip", "2026-01-01")
    assert "2026-01-01 is already past" in said
    said = await walk(h, "alice", "0")
    assert "a number of runs from 1 to 1000" in said
    said = await walk(h, "alice", "2026-12-31")
    assert "Activate it?" in said and "Until 2026-12-31" in said
    assert await all_campaigns(h) == []


async def test_empty_audience_is_shown_at_preview_and_refused_at_activation(h: Harness) -> None:
    await seed(h)
    preview = await walk(
        h,
        "alice",
        *MESSAGE_START,
        "@Skip",
        "@Skip",
        "@Groups with some tags",
        "nowhere",
        "@Nobody in private",
        "@Every day",
        "18:00",
        "@Skip",
        "@Skip",
    )
    assert "Audience: 0 groups, 0 members in private" in preview
    assert "Nobody would receive it now" in preview
    said = await walk(h, "alice", "@Activate")
    assert "Nobody would receive this campaign" in said
    assert "Which groups receive it?" in said  # back to the audience, the rest kept
    assert await all_campaigns(h) == []
    said = await walk(h, "alice", "@Groups with some tags", "argan", "@Nobody in private")
    assert "Audience: 1 groups, 0 members in private" in said
    await walk(h, "alice", "@Activate")
    [campaign] = await all_campaigns(h)
    assert campaign.audience == {"groups": ["argan"], "members": "none"}


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ("Only one", "A poll on Discord needs 2 to 10 options, one per line; you gave 1."),
        ("\n".join(f"Option {n}" for n in range(11)), "you gave 11"),
        ("Short\n" + "x" * 60, "is too long for Discord: at most 55 characters"),
    ],
)
async def test_poll_options_out_of_bounds_are_refused(
    h: Harness, options: str, problem: str
) -> None:
    await seed(h)
    said = await walk(h, "alice", "/campaign", "@Poll", "Next meetup", "Where?", "@Skip", "@Skip")
    assert "The poll's options in English" in said
    said = await walk(h, "alice", options)
    assert problem in said
    assert "The poll's options in English" in said  # asked again
    assert await all_campaigns(h) == []


async def test_content_too_long_for_discord_names_the_platform_and_the_bound(h: Harness) -> None:
    await seed(h)
    said = await walk(h, "alice", "/campaign", "@Message", "Long", "x" * 2500)
    assert "too long for Discord: at most 2000 characters, and the message has 2500" in said
    assert "The text in English" in said  # asked again
    said = await walk(h, "alice", "y" * 4097)
    assert "at most 4096 characters" in said  # more than any platform takes at all
    assert await all_campaigns(h) == []


async def test_a_member_cannot_open_the_campaign_dialog(h: Harness) -> None:
    await seed(h)
    said = plain(await h.send("yasmine", "/campaign"))
    assert "Only a community manager can do that." in said
    assert plain(await h.send("yasmine", "/campaigns")).startswith("⚠️ Only")


# --- kind-specific steps and the poll's languages -----------------------------------------------


async def test_poll_with_options_per_language(h: Harness) -> None:
    await seed(h)
    preview = await walk(
        h,
        "alice",
        "/campaign",
        "@Poll",
        "Meetup",
        "Where shall we meet?",
        "Où se retrouver ?",
        "@Skip",
        "Agadir\nTiznit",
        "Agadir\nTiznit\nTafraout",
        "@No group",
        "@Every member",
        "@Every day",
        "18:00",
        "@Skip",
        "@Skip",
    )
    assert "📊 Where shall we meet?\n1. Agadir\n2. Tiznit" in preview
    assert "3. Tafraout" in preview
    await walk(h, "alice", "@Activate")
    [campaign] = await all_campaigns(h)
    assert campaign.options == {
        "options": {"en": ["Agadir", "Tiznit"], "fr": ["Agadir", "Tiznit", "Tafraout"]}
    }


async def test_message_with_a_need_button_and_followers_audience(h: Harness) -> None:
    world = await seed(h)
    preview = await walk(
        h,
        "alice",
        *MESSAGE_START,
        "@Skip",
        f"#{world.need}",
        "@No group",
        "@Followers of a project",  # the need's project: no need to ask which
        "@Every day",
        "18:00",
        "@Skip",
        "@Skip",
    )
    assert "[🙋 I can help]" in preview
    assert "Audience: 0 groups, 1 members in private" in preview  # yasmine follows argan
    await walk(h, "alice", "@Activate")
    [campaign] = await all_campaigns(h)
    assert (campaign.need_id, campaign.project_id) == (world.need, world.argan)
    assert campaign.audience == {
        "groups": "none",
        "members": "followers",
        "project_id": world.argan,
    }


async def test_followup_campaign_asks_days_and_reaches_offer_owners(h: Harness) -> None:
    await seed(h)
    said = await walk(h, "alice", "/campaign", "@Follow-up", "Check-ins", "@Skip", "0")
    assert "Please give a number of days from 1 to 365." in said
    preview = await walk(h, "alice", "14", "@Every week", "10:00", "mon", "@Skip", "@Skip")
    assert "How is it going with your contribution to “A website” (Argan Tafraout)?" in preview
    assert "Audience: 1 members who agreed to private messages" in preview
    await walk(h, "alice", "@Activate")
    [campaign] = await all_campaigns(h)
    assert campaign.options == {"days": 14}


# --- the list and its buttons -------------------------------------------------------------------


async def make_campaign(h: Harness, world: World, kind: str = "message", **values: Any) -> int:
    async with h.services.sessions() as session:
        campaign = Campaign(
            code=values.pop("code", "K7Q2MX"),
            name=values.pop("name", "Spring news"),
            kind=kind,
            status=values.pop("status", "active"),
            content=values.pop("content", {"en": "Hello everyone!"}),
            options=values.pop("options", {}),
            audience=values.pop("audience", {"groups": "all", "members": "everyone"}),
            schedule=values.pop("schedule", {"type": "daily", "time": "18:00"}),
            timezone="Africa/Casablanca",
            created_by=world.members["alice"],
            created_at=NOW,
            updated_at=NOW,
            **values,
        )
        session.add(campaign)
        await session.commit()
        return campaign.id


async def make_run(h: Harness, campaign_id: int) -> int:
    async with h.services.sessions() as session:
        run = CampaignRun(
            campaign_id=campaign_id,
            slot="2026-11-26T09:00",
            scheduled_at=NOW - timedelta(hours=1),
            status="dispatching",
            created_at=NOW,
        )
        session.add(run)
        await session.commit()
        return run.id


async def make_delivery(
    h: Harness,
    run_id: int,
    target: str,
    message: Outgoing,
    *,
    member_id: int | None = None,
    message_id: str | None = None,
    external_ref: str | None = None,
    status: str = "sent",
    error: str = "",
) -> None:
    async with h.services.sessions() as session:
        session.add(
            Delivery(
                purpose=f"campaign:run:{run_id}",
                target=target,
                platform="console",
                member_id=member_id,
                run_id=run_id,
                payload=dump(message),
                status=status,
                error=error,
                message_id=message_id,
                external_ref=external_ref,
                not_before=NOW,
                created_at=NOW,
                sent_at=NOW,
            )
        )
        await session.commit()


async def test_list_and_its_buttons_tell_the_scheduler_after_commit(h: Harness) -> None:
    world = await seed(h)
    campaign_id = await make_campaign(h, world)
    run_id = await make_run(h, campaign_id)
    await make_delivery(h, run_id, "console:chat:g1", Poll("?", ("a", "b")))

    listed = plain(await h.send("alice", "/campaigns"))
    assert f"#{campaign_id} Spring news · Message · active" in listed
    assert "Next run: 2026-11-26 18:00 (Africa/Casablanca)" in listed
    assert "Last run 2026-11-26 10:00: 1 sent, 0 failed, 0 waiting" in listed

    said = plain(await h.press("alice", h.button("Pause")))
    assert "“Spring news” is paused." in said
    assert (await get(h, Campaign, campaign_id)).status == "paused"
    assert scheduler(h).seen_statuses == ["paused"]  # told once committed

    said = plain(await h.press("alice", h.button("Resume")))
    assert "active again" in said
    assert scheduler(h).seen_statuses == ["paused", "active"]

    ref = (str(campaign_id),)
    said = plain(await h.press("alice", Button("run", "crun", ref)))
    assert "is running now" in said
    assert scheduler(h).runs == [(campaign_id, world.members["alice"])]

    said = plain(await h.press("alice", Button("test", "ctest", ref)))
    assert "Test of “Spring news”: only you receive it." in said
    assert "Hello everyone!" in said
    assert await responses(h) == []  # the test's buttons will credit nothing either

    await h.press("alice", Button("delete", "cdelete", ref))
    said = plain(await h.press("alice", h.button("Yes, delete it")))
    assert "is deleted" in said
    assert (await get(h, Campaign, campaign_id)).status == "deleted"
    assert scheduler(h).changed_ids == [campaign_id] * 3
    assert "no campaigns yet" in plain(await h.send("alice", "/campaigns"))
    async with h.services.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == [
        "campaign.pause",
        "campaign.resume",
        "campaign.run_now",
        "campaign.delete",
    ]


async def test_stale_and_forged_list_buttons_change_nothing(h: Harness) -> None:
    world = await seed(h)
    campaign_id = await make_campaign(h, world, status="paused")
    said = plain(await h.press("alice", Button("p", "cpause", (str(campaign_id),))))
    assert "“Spring news” is paused: that is not possible now." in said
    said = plain(await h.press("yasmine", Button("p", "cresume", (str(campaign_id),))))
    assert "Only a community manager can do that." in said
    said = plain(await h.press("alice", Button("p", "crun", ("999",))))
    assert "I don't know a campaign number 999." in said
    assert (await get(h, Campaign, campaign_id)).status == "paused"
    assert scheduler(h).changed_ids == [] and scheduler(h).runs == []


async def test_campaign_details_show_statistics_and_last_answers(h: Harness) -> None:
    world = await seed(h)
    campaign_id = await make_campaign(
        h,
        world,
        "poll",
        content={"en": "Where?"},
        options={"options": {"en": ["Agadir", "Tiznit"]}},
    )
    run_id = await make_run(h, campaign_id)
    await make_delivery(
        h,
        run_id,
        "console:user:yasmine",
        Poll("Where?", ("Agadir", "Tiznit")),
        member_id=world.members["yasmine"],
        external_ref="poll-1",
    )
    await make_delivery(
        h,
        run_id,
        "console:user:samir",
        Poll("Where?", ("Agadir", "Tiznit")),
        member_id=world.members["samir"],
        status="skipped",
        error="cap",
    )
    await core.handle(h.services, routes.ROUTER, h.event("yasmine", Vote("poll-1", (1,))))
    said = plain(await h.send("alice", f"/campaign {campaign_id}"))
    assert "Messages: 1 sent, 0 failed, 0 unknown, 0 held, 0 waiting" in said
    assert "Skipped: message limit 1" in said
    assert "poll votes: 1" in said
    assert "Tiznit: 1" in said and "Agadir: 0" in said
    assert "Usage: /campaign [number]" in plain(await h.send("alice", "/campaign many words"))


# --- members: answers, votes, follow-ups, clicks ------------------------------------------------


async def question_run(h: Harness, world: World) -> tuple[int, int]:
    campaign_id = await make_campaign(
        h, world, "question", name="Ideas", content={"en": "What should we do next?"}
    )
    return campaign_id, await make_run(h, campaign_id)


async def test_answer_in_private_through_the_answer_button(h: Harness) -> None:
    world = await seed(h)
    campaign_id, run_id = await question_run(h, world)
    await make_delivery(
        h,
        run_id,
        "console:user:yasmine",
        Poll("unused", ("a", "b")),
        member_id=world.members["yasmine"],
        message_id="m1",
    )
    answer = Button("✍️ Answer", "cans", (str(campaign_id), str(run_id)))
    said = plain(await h.press("yasmine", answer))
    assert "What should we do next?" in said and "Your answer" in said
    said = plain(await h.send("yasmine", "A festival of <b>argan</b> @everyone"))
    assert "Thank you, Yasmine! Your answer is recorded." in said
    [response] = await responses(h)
    assert (response.kind, response.run_id, response.text) == (
        "answer",
        run_id,
        "A festival of <b>argan</b> @everyone",
    )
    details = plain(await h.send("alice", f"/campaign {campaign_id}"))
    assert "— Yasmine: A festival of <b>argan</b> @everyone" in details
    assert "Answers: 1" in details

    # Someone the run did not write to, and a test message, record nothing.
    said = plain(await h.press("samir", answer))
    assert "was not sent to you" in said
    said = plain(await h.press("yasmine", Button("a", "cans", (str(campaign_id), "0"))))
    assert "This was a test" in said
    assert len(await responses(h)) == 1


async def test_answer_by_replying_to_the_bot_in_a_group(h: Harness) -> None:
    world = await seed(h)
    campaign_id, run_id = await question_run(h, world)
    await make_delivery(h, run_id, "console:chat:g1", Poll("?", ("a", "b")), message_id="555")

    async def reply(who: str, text: str, to: str, group: str = "g1") -> str:
        event = h.event(who, Text(text, reply_to=to), group=group)
        return plain(await core.handle(h.services, routes.ROUTER, event))

    said = await reply("samir", "More water for the cooperative", "555")
    assert "Thank you, Samir! Your answer is recorded." in said
    assert await reply("nadia", "Not an answer", "777") == ""  # not a campaign's message
    assert await reply("nadia", "Wrong chat", "555", group="g2") == ""  # ids are per chat
    [response] = await responses(h)
    assert (response.campaign_id, response.member_id, response.text) == (
        campaign_id,
        world.members["samir"],
        "More water for the cooperative",
    )


async def test_answer_button_under_a_group_question(h: Harness) -> None:
    """On Discord a channel message cannot be replied to: the Answer button works for anyone
    in the group, and the answer is written in private."""
    world = await seed(h)
    campaign_id, run_id = await question_run(h, world)
    await make_delivery(h, run_id, "console:chat:g1", Poll("?", ("a", "b")), message_id="556")
    answer = Button("✍️ Answer", "cans", (str(campaign_id), str(run_id)))
    asked = await h.press("samir", answer, group="g1")
    assert "Your answer" in plain(asked)
    said = plain(await h.send("samir", "A well for the school"))
    assert "Your answer is recorded." in said
    [response] = await responses(h)
    assert (response.member_id, response.text) == (world.members["samir"], "A well for the school")


async def test_votes_and_revotes_keep_one_vote_per_member(h: Harness) -> None:
    world = await seed(h)
    campaign_id = await make_campaign(
        h, world, "poll", content={"en": "Where?"}, options={"options": {"en": ["A", "B", "C"]}}
    )
    run_id = await make_run(h, campaign_id)
    await make_delivery(
        h, run_id, "console:chat:g1", Poll("Where?", ("A", "B", "C")), external_ref="tg-poll-9"
    )
    await make_delivery(
        h, run_id, "console:chat:g2", Poll("Where?", ("A", "B", "C")), message_id="dc-42"
    )

    async def vote(who: str, ref: str, *choices: int, group: str | None = None) -> list[Outgoing]:
        event = h.event(who, Vote(ref, choices), group=group)
        return await core.handle(h.services, routes.ROUTER, event)

    assert await vote("samir", "tg-poll-9", 0) == []  # silent
    await vote("samir", "tg-poll-9", 2)  # changed their mind
    await vote("nadia", "dc-42", 1, 2, 7, group="g2")  # several choices; 7 does not exist
    await vote("nadia", "dc-42", 0, group="g1")  # a message id of another chat: not this poll
    await vote("nadia", "unknown-poll", 1)
    found = {(r.member_id, tuple(r.choice)) for r in await responses(h)}
    assert found == {(world.members["samir"], ("2",)), (world.members["nadia"], ("1", "2"))}
    await vote("samir", "tg-poll-9")  # retracted
    assert [r.member_id for r in await responses(h)] == [world.members["nadia"]]
    assert all(r.kind == "vote" and r.run_id == run_id for r in await responses(h))


def followup(offer_id: int, choice: str, campaign_id: int | None = None) -> Button:
    args = (str(offer_id), choice) + ((str(campaign_id),) if campaign_id else ())
    return Button(choice, "fu", args)


async def deliveries_to(h: Harness, who: str) -> list[str]:
    return [
        load(d.payload).text.plain  # type: ignore[union-attr]
        for d in await h.deliveries()
        if d.target == f"console:user:{who}"
    ]


async def test_followup_done_marks_the_offer_done_and_tells_the_leader(h: Harness) -> None:
    world = await seed(h)
    campaign_id = await make_campaign(h, world, "followup", options={"days": 14})
    said = plain(await h.press("yasmine", followup(world.offer, "done", campaign_id)))
    assert "Wonderful, thank you Yasmine!" in said
    assert (await get(h, Offer, world.offer)).status == "done"
    [told] = await deliveries_to(h, "leila")
    assert "Yasmine says their contribution no." in told and "A website" in told
    [response] = await responses(h)
    assert (response.kind, response.choice) == ("answer", ["done"])
    # Pressed again: the offer is no longer accepted.
    said = plain(await h.press("yasmine", followup(world.offer, "done", campaign_id)))
    assert "This offer is already done; nothing was changed." in said


async def test_followup_help_tells_the_leader_and_the_community_manager(h: Harness) -> None:
    world = await seed(h)
    said = plain(await h.press("yasmine", followup(world.offer, "help")))
    assert "I told the project's leaders and the community manager" in said
    assert (await get(h, Offer, world.offer)).status == "accepted"
    assert any("Yasmine needs help" in text for text in await deliveries_to(h, "leila"))
    assert any("Yasmine needs help" in text for text in await deliveries_to(h, "alice"))


async def test_followup_stop_withdraws_the_offer(h: Harness) -> None:
    world = await seed(h)
    said = plain(await h.press("yasmine", followup(world.offer, "stop")))
    assert "your offer no." in said and "is withdrawn" in said
    assert (await get(h, Offer, world.offer)).status == "withdrawn"
    assert any("can no longer go on" in text for text in await deliveries_to(h, "leila"))


async def test_forged_followup_presses_are_refused(h: Harness) -> None:
    world = await seed(h)
    said = plain(await h.press("samir", followup(world.offer, "done")))
    assert "This offer is not yours; nothing was changed." in said
    said = plain(await h.press("samir", followup(world.pending, "done")))  # not accepted
    assert "This offer is already pending; nothing was changed." in said
    said = plain(await h.press("yasmine", followup(world.offer, "explode")))
    assert "This button has expired" in said
    assert (await get(h, Offer, world.offer)).status == "accepted"
    assert (await get(h, Offer, world.pending)).status == "pending"
    assert await h.deliveries() == []


async def test_deep_link_click_and_offer_are_credited_to_the_campaign(h: Harness) -> None:
    world = await seed(h)
    campaign_id = await make_campaign(h, world, code="K7Q2MX")
    run_id = await make_run(h, campaign_id)

    said = plain(await h.send("nadia", f"/start offer-{world.need}-cK7Q2MX"))
    assert "A website" in said  # the offer dialog started on that need
    await h.press("nadia", Button("skills", "dlg", ("offer", "kind", "skills")))
    await h.send("nadia", "I can help with the website.")
    await h.press("nadia", Button("few", "dlg", ("offer", "availability", "few_hours")))
    await h.press("nadia", Button("no", "dlg", ("offer", "share_contact", "no")))
    said = plain(await h.press("nadia", Button("send", "dlg", ("offer", "send", "yes"))))
    assert "Your offer no." in said
    async with h.services.sessions() as session:
        offer = await session.scalar(select(Offer).where(Offer.member_id == world.members["nadia"]))
    assert offer is not None and offer.source == "campaign:K7Q2MX"
    kinds = [(r.kind, r.run_id, r.member_id) for r in await responses(h)]
    assert kinds == [
        ("click", run_id, world.members["nadia"]),
        ("offer", run_id, world.members["nadia"]),
    ]

    said = plain(await h.send("samir", "/start project-argan-tafraout-cK7Q2MX"))
    assert "Argan Tafraout" in said
    said = plain(await h.press("samir", Button("p", "cp", ("argan-tafraout", "K7Q2MX"))))
    assert "Argan Tafraout" in said
    said = plain(await h.send("samir", "/start project-argan-tafraout"))  # no campaign
    assert "Argan Tafraout" in said
    said = plain(await h.send("samir", "/start project-argan-tafraout-cNOSUCH"))
    assert "Argan Tafraout" in said  # an unknown code credits nobody, the link still works
    clicks = [r for r in await responses(h) if r.kind == "click"]
    assert len(clicks) == 3
    details = plain(await h.send("alice", f"/campaign {campaign_id}"))
    assert "clicks: 3 · offers: 1" in details


async def test_campaign_help_button_starts_a_credited_offer(h: Harness) -> None:
    world = await seed(h)
    await make_campaign(h, world, code="K7Q2MX")
    said = plain(await h.press("nadia", Button("🙋", "co", (str(world.need), "K7Q2MX"))))
    assert "A website" in said
    async with h.services.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(CampaignResponse))
    assert count == 1


async def test_not_now_is_polite_and_records_nothing(h: Harness) -> None:
    world = await seed(h)
    campaign_id = await make_campaign(h, world, "reengage", options={"days": 30})
    said = plain(await h.press("samir", Button("🙂", "cno", (str(campaign_id),))))
    assert "No problem, Samir!" in said
    assert await responses(h) == []
    assert buttons(h.last) == []
