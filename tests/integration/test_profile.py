"""/profile on SQLite: every field shown, edited through small dialogs, validated, removed;
and the progressive questions: at most one a week, only in private, never over another
conversation, each skip remembered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from handlers import core, routes
from handlers.chat import Actor, Button, Identity, Place, Platform, Poll, Vote
from handlers.context import Ctx
from handlers.i18n import use_language
from handlers.profile import maybe_ask_profile_question
from handlers.serial import dump
from store.models import (
    AuditEntry,
    Campaign,
    CampaignRun,
    Delivery,
    DialogState,
    Member,
    MemberIdentity,
    Need,
    Project,
    ProjectLeader,
)
from tests.harness import Harness, buttons, plain

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@dataclass
class World:
    need: int
    members: dict[str, int]


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    harness = await Harness.create(database_url, default_language="en")
    yield harness
    await harness.close()


def add_member(session: Any, who: str, **profile: Any) -> Member:
    member = Member(display_name=who.capitalize(), created_at=NOW, last_seen_at=NOW, **profile)
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
            "leila": add_member(session, "leila"),
            "yasmine": add_member(session, "yasmine"),
            "samir": add_member(session, "samir", skills=["accounting", "design"]),
            "nadia": add_member(session, "nadia", skills=["accounting"]),
        }
        argan = Project(
            slug="argan-tafraout",
            title="Argan Tafraout",
            territory="Tafraout",
            status="open",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(argan)
        await session.flush()
        session.add(
            ProjectLeader(project_id=argan.id, member_id=people["leila"].id, granted_at=NOW)
        )
        need = Need(project_id=argan.id, kind="skills", title="Build the website", created_at=NOW)
        session.add(need)
        await session.commit()
        return World(need=need.id, members={who: m.id for who, m in people.items()})


async def member(h: Harness, who: str) -> Member:
    async with h.services.sessions() as session:
        identity = await session.scalar(
            select(MemberIdentity).where(MemberIdentity.external_id == who)
        )
        assert identity is not None
        return await session.get_one(Member, identity.member_id)


def dlg(dialog: str, step: str, value: str) -> Button:
    return Button(value, "dlg", (dialog, step, value))


async def make_offer(h: Harness, who: str, need_id: int) -> str:
    await h.send(who, f"/offer {need_id}")
    await h.press(who, dlg("offer", "kind", "skills"))
    await h.send(who, "I build websites.")
    await h.press(who, dlg("offer", "availability", "few_hours"))
    await h.press(who, dlg("offer", "share_contact", "no"))
    return plain(await h.press(who, dlg("offer", "send", "yes")))


# --- /profile --------------------------------------------------------------------------------


async def test_profile_shows_every_field_not_set_with_edit_buttons(h: Harness) -> None:
    await seed(h)
    said = plain(await h.send("yasmine", "/profile"))
    for label in ("Skills:", "Languages:", "Country of residence:", "Commune of origin:"):
        assert f"{label} not set" in said
    assert "Private messages from me: no" in said
    assert "Quiet hours: not set (the community's default)" in said
    edits = [b for b in buttons(h.last) if b.action == "pfe"]
    assert len(edits) == 12
    assert "Notes about needs that fit you: yes" in said  # matching is on until stopped
    assert not [b for b in buttons(h.last) if b.action == "pfc"]  # nothing to remove yet


async def test_profile_in_a_group_answers_in_private(h: Harness) -> None:
    await seed(h)
    out = await h.send("yasmine", "/profile", group="souss")
    assert "answered you in a private message" in plain(out)
    assert all(m.to is not None for m in out[:-1])  # type: ignore[union-attr]


async def test_skills_are_edited_with_suggestions_and_validated(h: Harness) -> None:
    await seed(h)
    await h.send("yasmine", "/profile")
    said = plain(await h.press("yasmine", h.button("Skills")))
    # the most common tags of the community are suggested, the most frequent first
    assert "Common in the community: accounting, design" in said
    too_many = ", ".join(f"tag{i}" for i in range(16))
    said = plain(await h.send("yasmine", too_many))
    assert "at most 15 tags of at most 30 characters" in said
    assert "Your skills" in said  # asked again
    assert (await member(h, "yasmine")).skills == []  # nothing half-written
    said = plain(await h.send("yasmine", "Accounting، Web-Design irrigation, accounting"))
    assert "Saved: Skills." in said
    assert "Skills: accounting, web-design, irrigation" in said
    assert (await member(h, "yasmine")).skills == ["accounting", "web-design", "irrigation"]


async def test_country_and_languages_accept_names_and_suggest_on_error(h: Harness) -> None:
    await seed(h)
    await h.send("yasmine", "/profile country")
    said = plain(await h.send("yasmine", "Marocco"))
    assert "Did you mean “Morocco (MA)”?" in said
    said = plain(await h.send("yasmine", "morocco"))
    assert "Country of residence: Morocco (MA)" in said
    await h.send("yasmine", "/profile languages")
    said = plain(await h.send("yasmine", "French, ar, Tachelhit"))
    assert "Languages: French, Arabic, Tachelhit" in said
    assert (await member(h, "yasmine")).languages == ["fr", "ar", "shi"]
    await h.send("yasmine", "/language fr")
    await h.send("yasmine", "/profile languages")
    await h.send("yasmine", "anglais et arabe")
    assert (await member(h, "yasmine")).languages == ["en", "ar"]


async def test_time_zone_quiet_hours_and_origin(h: Harness) -> None:
    await seed(h)
    await h.send("yasmine", "/profile timezone")
    said = plain(await h.send("yasmine", "Europe/Pariss"))
    assert "Did you mean “Europe/Paris”?" in said
    await h.send("yasmine", "europe/paris")
    await h.send("yasmine", "/profile quiet_hours")
    assert "HH:MM-HH:MM" in plain(await h.send("yasmine", "late at night"))
    await h.send("yasmine", "23h-7h")
    await h.send("yasmine", "/profile origin")
    assert "Communes of the projects: Tafraout" in plain(h.last)
    await h.send("yasmine", "tafraout")
    found = await member(h, "yasmine")
    assert (found.timezone, found.quiet_hours, found.origin) == (
        "Europe/Paris",
        "23:00-07:00",
        "Tafraout",  # spelled like the projects' territory
    )
    await h.send("yasmine", "/profile quiet_hours")
    await h.send("yasmine", "none")
    assert (await member(h, "yasmine")).quiet_hours is None


async def test_city_too_long_is_refused(h: Harness) -> None:
    await seed(h)
    await h.send("yasmine", "/profile city")
    said = plain(await h.send("yasmine", "x" * 101))
    assert "at most 100 characters" in said
    assert (await member(h, "yasmine")).city is None


async def test_consents_are_yes_no_and_audited(h: Harness) -> None:
    await seed(h)
    await h.send("yasmine", "/profile accepts_dm")
    said = plain(await h.press("yasmine", dlg("profile", "accepts_dm", "yes")))
    assert "Private messages from me: yes" in said
    await h.send("yasmine", "/profile share_name")
    await h.press("yasmine", dlg("profile", "share_name", "yes"))
    found = await member(h, "yasmine")
    assert found.accepts_dm and found.share_name
    async with h.services.sessions() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert actions == ["profile.accepts_dm", "profile.share_name"]
    # a forged value on a yes/no step is refused
    await h.send("yasmine", "/profile accepts_dm")
    said = plain(await h.press("yasmine", dlg("profile", "accepts_dm", "maybe")))
    assert "choose one of the buttons" in said


async def test_notes_about_fitting_needs_can_be_stopped_and_resumed(h: Harness) -> None:
    await seed(h)
    await h.send("yasmine", "/profile matching_off")
    said = plain(await h.press("yasmine", dlg("profile", "matching_off", "no")))
    assert "Notes about needs that fit you: no" in said
    assert (await member(h, "yasmine")).matching_off is True
    await h.send("yasmine", "/profile matching_off")
    await h.press("yasmine", dlg("profile", "matching_off", "yes"))
    assert (await member(h, "yasmine")).matching_off is False


async def test_liked_kinds_toggle_and_stale_buttons_do_not_undo(h: Harness) -> None:
    await seed(h)
    await h.send("yasmine", "/profile liked_kinds")
    await h.press("yasmine", Button("", "pfk", ("funding", "1")))
    await h.press("yasmine", Button("", "pfk", ("idea", "1")))
    assert any(b.label.startswith("✅") and b.args == ("idea", "0") for b in buttons(h.last))
    # the first keyboard's "add funding" pressed again: still added once
    await h.press("yasmine", Button("", "pfk", ("funding", "1")))
    assert (await member(h, "yasmine")).liked_kinds == ["idea", "funding"]
    await h.press("yasmine", Button("", "pfk", ("idea", "0")))
    said = plain(await h.press("yasmine", Button("", "pfk", ("done",))))
    assert "Contributions you like:" in said and "Funding" in said
    assert (await member(h, "yasmine")).liked_kinds == ["funding"]
    said = plain(await h.press("yasmine", Button("", "pfk", ("nonsense", "1"))))
    assert "expired" in said


async def test_remove_clears_a_field_and_it_is_not_asked_again(h: Harness) -> None:
    await seed(h)
    await h.send("yasmine", "/profile city")
    await h.send("yasmine", "Lyon")
    remove = next(b for b in buttons(h.last) if b.action == "pfc" and b.args == ("city",))
    await h.press("yasmine", remove)
    assert (await member(h, "yasmine")).city is None
    await h.send("yasmine", "/profile skills")
    await h.send("yasmine", "accounting")
    await h.press("yasmine", Button("", "pfc", ("skills",)))
    found = await member(h, "yasmine")
    assert found.skills == [] and "skills" in found.profile_skipped
    said = plain(await h.press("yasmine", Button("", "pfc", ("password",))))
    assert "expired" in said


async def test_profile_usage_on_an_unknown_field(h: Harness) -> None:
    await seed(h)
    said = plain(await h.send("yasmine", "/profile shoesize"))
    assert "Usage: /profile [field]" in said


# --- progressive questions -------------------------------------------------------------------


async def test_one_question_after_an_offer_then_none_for_a_week(h: Harness) -> None:
    world = await seed(h)
    said = await make_offer(h, "yasmine", world.need)
    assert "offer no. 1 is sent" in said
    # consent comes first, with its purpose and a Skip button
    assert "May I write to you privately when a need fits you?" in said
    assert said.index("offer no. 1 is sent") < said.index("A quick question")
    skip = h.button("Skip")
    await h.press("yasmine", skip)
    found = await member(h, "yasmine")
    assert found.profile_skipped == ["accepts_dm"]
    assert found.profile_asked_at == h.clock.now()

    h.clock.advance(timedelta(days=3))
    await h.send("yasmine", "/cancel")
    async with h.services.sessions() as session:  # another need to offer on
        need = Need(project_id=1, kind="skills", title="Translate", created_at=NOW)
        session.add(need)
        await session.commit()
        second = need.id
    said = await make_offer(h, "yasmine", second)
    assert "offer no. 2 is sent" in said and "A quick question" not in said

    h.clock.advance(timedelta(days=5))  # eight days after the first question
    async with h.services.sessions() as session:
        need = Need(project_id=1, kind="skills", title="Film", created_at=NOW)
        session.add(need)
        await session.commit()
        third = need.id
    said = await make_offer(h, "yasmine", third)
    # the skipped consent is not asked again: the next field in the order is
    assert "What are you good at?" in said
    assert "so that I only tell you about needs in your field" in said
    assert "Common in the community: accounting, design" in said
    said = plain(await h.send("yasmine", "translation, video"))
    assert "Thank you! Noted in your /profile." in said
    assert (await member(h, "yasmine")).skills == ["translation", "video"]


async def test_a_bad_answer_to_a_question_is_asked_again(h: Harness) -> None:
    world = await seed(h)
    async with h.services.sessions() as session:
        found = await session.get_one(Member, world.members["yasmine"])
        found.profile_skipped = ["accepts_dm", "skills", "origin", "liked_kinds"]
        await session.commit()
    said = await make_offer(h, "yasmine", world.need)
    assert "Which languages do you speak" in said
    said = plain(await h.send("yasmine", "elvish"))
    assert "I don't know the language “elvish”" in said
    assert "Which languages do you speak" in said
    await h.send("yasmine", "fr ar")
    assert (await member(h, "yasmine")).languages == ["fr", "ar"]


async def test_nothing_left_to_ask_asks_nothing(h: Harness) -> None:
    world = await seed(h)
    async with h.services.sessions() as session:
        found = await session.get_one(Member, world.members["yasmine"])
        found.profile_skipped = ["accepts_dm", "skills", "origin", "liked_kinds", "languages"]
        found.country = "FR"
        found.availability = "ongoing"
        await session.commit()
    said = await make_offer(h, "yasmine", world.need)
    assert "A quick question" not in said
    assert (await member(h, "yasmine")).profile_asked_at is None


def ctx_for(h: Harness, session: Any, member_id: int, place: Place) -> Ctx:
    identity = Identity(Platform.CONSOLE, "yasmine", "yasmine", "Yasmine")
    actor = Actor(member_id, identity, "Yasmine", "en", frozenset())
    return Ctx(session, actor, place, h.services)


async def test_never_asked_in_a_group(h: Harness) -> None:
    world = await seed(h)
    group = Place(Platform.CONSOLE, "souss", False, "souss")
    async with h.services.sessions() as session:
        ctx = ctx_for(h, session, world.members["yasmine"], group)
        await maybe_ask_profile_question(ctx)
        assert ctx.replies == []
        found = await session.get_one(Member, world.members["yasmine"])
        assert found.profile_asked_at is None
    whisper = Place(Platform.DISCORD, "channel", False, "souss", whisper=True)
    async with h.services.sessions() as session:
        ctx = ctx_for(h, session, world.members["yasmine"], whisper)
        with use_language("en"):  # outside the core, nothing chose the member's language
            await maybe_ask_profile_question(ctx)
        assert "A quick question" in plain(ctx.replies)


async def test_a_conversation_in_progress_is_not_clobbered(h: Harness) -> None:
    world = await seed(h)
    await h.send("yasmine", "/offer 1")  # the offer dialog is waiting for an answer
    private = Place(Platform.CONSOLE, "yasmine", True)
    async with h.services.sessions() as session:
        ctx = ctx_for(h, session, world.members["yasmine"], private)
        await maybe_ask_profile_question(ctx)
        assert ctx.replies == []
        state = await session.scalar(select(DialogState))
        assert state is not None and state.dialog == "offer"
    assert world.need == 1


async def test_a_vote_in_a_private_poll_may_ask_but_not_one_in_a_group(h: Harness) -> None:
    world = await seed(h)
    async with h.services.sessions() as session:
        campaign = Campaign(
            code="POLL1",
            name="Where next",
            kind="poll",
            content={"en": "Where?"},
            options={"options": {"en": ["A", "B"]}},
            timezone="UTC",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(campaign)
        await session.flush()
        run = CampaignRun(campaign_id=campaign.id, slot="s1", scheduled_at=NOW, created_at=NOW)
        session.add(run)
        await session.flush()
        for target, ref, member_id in (
            ("console:chat:souss", "group-poll", None),
            ("console:user:yasmine", "private-poll", world.members["yasmine"]),
        ):
            session.add(
                Delivery(
                    purpose=f"campaign:run:{run.id}",
                    target=target,
                    platform="console",
                    member_id=member_id,
                    run_id=run.id,
                    payload=dump(Poll("Where?", ("A", "B"))),
                    status="sent",
                    external_ref=ref,
                    not_before=NOW,
                    created_at=NOW,
                )
            )
        await session.commit()

    async def vote(ref: str) -> str:
        event = h.event("yasmine", Vote(ref, (1,)))
        return plain(await core.handle(h.services, routes.ROUTER, event))

    assert await vote("group-poll") == ""
    assert (await member(h, "yasmine")).profile_asked_at is None
    assert "May I write to you privately" in await vote("private-poll")
    assert (await member(h, "yasmine")).profile_asked_at == h.clock.now()
    assert await vote("private-poll") == ""  # voting again: not a second question
