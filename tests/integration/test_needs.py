"""Needs on SQLite: listing, adding, editing, closing (and editing their announcements),
announcing in the matching groups, and news to followers and contributors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from handlers.chat import Edit, Message
from handlers.serial import load
from store.models import (
    Announcement,
    Chat,
    Delivery,
    DialogState,
    Follow,
    Need,
    Project,
    ProjectLeader,
)
from tests.harness import Harness, buttons, plain
from tests.integration.test_offers import (
    NOW,
    World,
    add_member,
    audit_actions,
    delivered_text,
    deliveries_to,
    dlg,
    make_offer,
    offer,
    row_count,
    seed,
)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db", default_language="en")
    yield harness
    await harness.close()


async def needs(h: Harness) -> list[Need]:
    async with h.services.sessions() as session:
        return list(await session.scalars(select(Need).order_by(Need.id)))


async def need(h: Harness, need_id: int) -> Need:
    async with h.services.sessions() as session:
        return await session.get_one(Need, need_id)


async def add_chats(h: Harness, *specs: tuple[str, list[str], bool, bool]) -> dict[str, int]:
    """Chats by external id: (id, tags, registered, active)."""
    async with h.services.sessions() as session:
        chats = {
            external: Chat(
                platform="console",
                external_id=external,
                title=external,
                tags=tags,
                registered=registered,
                active=active,
                created_at=NOW,
            )
            for external, tags, registered, active in specs
        }
        session.add_all(chats.values())
        await session.commit()
        return {external: chat.id for external, chat in chats.items()}


async def announcements(h: Harness) -> list[Announcement]:
    async with h.services.sessions() as session:
        return list(await session.scalars(select(Announcement).order_by(Announcement.id)))


# --- /needs --------------------------------------------------------------------------------


async def test_needs_lists_open_needs_of_open_projects_by_kind(h: Harness) -> None:
    world = await seed(h)
    async with h.services.sessions() as session:
        session.add(
            Need(
                project_id=world.argan,
                kind="skills",
                title="Closed one",
                status="fulfilled",
                created_at=NOW,
            )
        )
        hidden = Project(
            slug="draft-one", title="Draft", status="draft", created_at=NOW, updated_at=NOW
        )
        session.add(hidden)
        await session.flush()
        session.add(Need(project_id=hidden.id, kind="idea", title="Secret", created_at=NOW))
        await session.commit()
    text = plain(await h.send("yasmine", "/needs"))
    assert "Open needs of the open projects" in text
    assert "Closed one" not in text and "Secret" not in text
    # Grouped in the CDS order of kinds: expertise, skills, funding.
    assert (
        text.index("Teach robotics") < text.index("Build the website") < text.index("Buy a press")
    )
    assert (
        f"#{world.funding} 💰 Funding (pledge) — Buy a press (goal 5 000 MAD) · argan-tafraout"
        in text
    )
    assert f"#{world.skills} 🛠 Skills — Build the website (a weekend) · argan-tafraout" in text
    assert "/offer <need no.>" in text


async def test_needs_filtered_by_kind_id_or_label(h: Harness) -> None:
    await seed(h)
    for arg in ("funding", "Funding", "funding (pledge)", "FUNDING"):
        text = plain(await h.send("yasmine", f"/needs {arg}"))
        assert "Buy a press" in text and "Build the website" not in text, arg
    text = plain(await h.send("yasmine", "/needs information"))
    assert "No open needs of the kind 📰 Information right now." in text


async def test_needs_unknown_kind_lists_the_kinds(h: Harness) -> None:
    await seed(h)
    text = plain(await h.send("yasmine", "/needs money"))
    assert "Usage: /needs [kind]" in text
    assert "idea, facilitation, expertise, knowledge, skills, network, information, funding" in text


async def test_needs_capped_with_a_hint(h: Harness) -> None:
    world = await seed(h)
    async with h.services.sessions() as session:
        for number in range(25):
            session.add(
                Need(project_id=world.argan, kind="idea", title=f"Idea {number}", created_at=NOW)
            )
        await session.commit()
    text = plain(await h.send("yasmine", "/needs"))
    assert "Showing 20 of 28 open needs" in text
    assert text.count(" — ") == 20


async def test_needs_empty(h: Harness) -> None:
    text = plain(await h.send("yasmine", "/needs"))
    assert "No open needs right now." in text


# --- /addneed ------------------------------------------------------------------------------


async def test_addneed_dialog_creates_a_need(h: Harness) -> None:
    world = await seed(h)
    out = await h.send("leila", "/addneed argan-tafraout")
    assert "New need for “Argan Tafraout”." in plain(out)
    assert "Skills" in [b.label for b in buttons(out)]
    await h.press("leila", dlg("addneed", "kind", "skills"))
    out = await h.send("leila", "x" * 121)
    assert "at most 120 characters, you sent 121" in plain(out)
    await h.send("leila", "Translate the brochure")
    await h.send("leila", "Into Spanish, 4 pages.")
    out = await h.send("leila", "two hours")  # effort, not a target: not funding
    assert "A deadline as YYYY-MM-DD, after 2026-11-26" in plain(out)
    for bad, said in (
        ("next week", "Please give a date as YYYY-MM-DD"),
        ("2026-13-40", "Please give a date as YYYY-MM-DD"),
        ("2026-11-26", "The deadline must be in the future"),
        ("2020-01-01", "The deadline must be in the future"),
    ):
        assert said in plain(await h.send("leila", bad)), bad
    out = await h.send("leila", "2027-01-15")
    summary = plain(out)
    assert "Title: Translate the brochure" in summary
    assert "Effort: two hours" in summary and "Deadline: 2027-01-15" in summary
    before = len(await needs(h))
    out = await h.press("leila", dlg("addneed", "confirm", "yes"))
    text = plain(out)
    created = (await needs(h))[-1]
    assert len(await needs(h)) == before + 1
    assert f"/announce {created.id}" in text
    assert (created.project_id, created.kind, created.title) == (
        world.argan,
        "skills",
        "Translate the brochure",
    )
    assert created.details == "Into Spanish, 4 pages." and created.effort == "two hours"
    assert created.deadline == date(2027, 1, 15) and created.status == "open"
    assert created.created_by == world.members["leila"] and created.target_amount is None
    assert await audit_actions(h) == ["need.create"]


async def test_addneed_funding_asks_a_target(h: Harness) -> None:
    await seed(h)
    await h.send("karim", "/addneed argan-tafraout")
    await h.press("karim", dlg("addneed", "kind", "funding"))
    await h.send("karim", "Solar panels")
    out = await h.press("karim", h.button("Skip"))  # no details
    assert "The amount to gather" in plain(out)
    for bad, said in (
        ("0", "Please give a positive amount"),
        ("12 ABC", "I don't know the currency “ABC”"),
        ("lots", "Please give a positive amount"),
    ):
        assert said in plain(await h.send("karim", bad)), bad
    out = await h.send("karim", "EUR 2500")
    assert "A deadline" in plain(out)  # no effort question for funding
    out = await h.press("karim", h.button("Skip"))
    assert "Goal: 2 500 EUR" in plain(out)
    await h.press("karim", dlg("addneed", "confirm", "yes"))
    created = (await needs(h))[-1]
    assert (created.kind, created.target_amount, created.currency) == (
        "funding",
        Decimal("2500.00"),
        "EUR",
    )
    assert created.details == "" and created.deadline is None and created.effort == ""


async def test_addneed_hostile_text_stored_exactly(h: Harness) -> None:
    await seed(h)
    title = "<b>Help</b> @everyone *now*"
    details = "\u202eRTL\u202c _x_ <script>alert(1)</script>"
    await h.send("leila", "/addneed argan-tafraout")
    await h.press("leila", dlg("addneed", "kind", "idea"))
    await h.send("leila", title)
    await h.send("leila", details)
    await h.press("leila", h.button("Skip"))
    await h.press("leila", h.button("Skip"))
    out = await h.press("leila", dlg("addneed", "confirm", "yes"))
    created = (await needs(h))[-1]
    assert created.title == title and created.details == details
    assert title in plain(out)


async def test_addneed_refusals(h: Harness) -> None:
    await seed(h)
    assert "Usage: /addneed <short name>" in plain(await h.send("leila", "/addneed"))
    assert "I don't know a project called “argan”" in plain(await h.send("leila", "/addneed argan"))
    assert "Only the leaders of “School Tiznit”" in plain(
        await h.send("leila", "/addneed school-tiznit")
    )
    assert "Only a leader of the project can do that." in plain(
        await h.send("yasmine", "/addneed argan-tafraout")
    )
    async with h.services.sessions() as session:
        await session.execute(update(Project).values(status="archived"))
        await session.commit()
    assert "not possible while the project is archived" in plain(
        await h.send("leila", "/addneed argan-tafraout")
    )
    assert await row_count(h, DialogState) == 0


async def test_addneed_rights_rechecked_at_the_end(h: Harness) -> None:
    world = await seed(h)
    await h.send("leila", "/addneed argan-tafraout")
    await h.press("leila", dlg("addneed", "kind", "idea"))
    await h.send("leila", "An idea box")
    await h.press("leila", h.button("Skip"))
    await h.press("leila", h.button("Skip"))
    await h.press("leila", h.button("Skip"))
    async with h.services.sessions() as session:
        leader = await session.get_one(ProjectLeader, (world.argan, world.members["leila"]))
        await session.delete(leader)
        await session.commit()
    before = len(await needs(h))
    out = await h.press("leila", dlg("addneed", "confirm", "yes"))
    assert "Only" in plain(out)
    assert len(await needs(h)) == before


# --- /editneed -----------------------------------------------------------------------------


async def test_editneed_title_and_deadline(h: Harness) -> None:
    world = await seed(h)
    out = await h.send("leila", f"/editneed {world.skills}")
    assert [b.args[2] for b in buttons(out)][:4] == ["title", "details", "effort", "deadline"]
    out = await h.press("leila", dlg("editneed", "field", "title"))
    assert "Now: Build the website" in plain(out)
    await h.send("leila", "Build the *new* website")
    out = await h.press("leila", dlg("editneed", "confirm", "yes"))
    assert "Need updated:" in plain(out)
    assert (await need(h, world.skills)).title == "Build the *new* website"

    await h.send("leila", f"/editneed {world.skills}")
    await h.press("leila", dlg("editneed", "field", "deadline"))
    assert "The deadline must be in the future" in plain(await h.send("leila", "2026-01-01"))
    await h.send("leila", "2027-03-01")
    await h.press("leila", dlg("editneed", "confirm", "yes"))
    assert (await need(h, world.skills)).deadline == date(2027, 3, 1)
    assert await audit_actions(h) == ["need.edit", "need.edit"]


async def test_editneed_funding_target(h: Harness) -> None:
    world = await seed(h)
    out = await h.send("karim", f"/editneed {world.funding}")
    assert "target" in [b.args[2] for b in buttons(out)]
    await h.press("karim", dlg("editneed", "field", "target"))
    await h.send("karim", "6000")
    out = await h.press("karim", dlg("editneed", "confirm", "yes"))
    edited = await need(h, world.funding)
    assert (edited.target_amount, edited.currency) == (Decimal("6000.00"), "MAD")


async def test_editneed_refusals(h: Harness) -> None:
    world = await seed(h)
    assert "Only the leaders of “Argan Tafraout”" in plain(
        await h.send("omar", f"/editneed {world.skills}")
    )
    async with h.services.sessions() as session:
        await session.execute(
            update(Need).where(Need.id == world.skills).values(status="fulfilled")
        )
        await session.commit()
    assert "This need is already fulfilled" in plain(
        await h.send("leila", f"/editneed {world.skills}")
    )


async def test_editneed_updates_posted_announcements(h: Harness) -> None:
    world = await seed(h)
    await add_chats(h, ("g1", [], True, True))
    await h.send("leila", f"/announce {world.skills}")
    await _mark_sent(h, "g1", "555")
    await h.send("leila", f"/editneed {world.skills}")
    await h.press("leila", dlg("editneed", "field", "title"))
    await h.send("leila", "Renamed")
    out = await h.press("leila", dlg("editneed", "confirm", "yes"))
    assert "announcements in 1 groups will be updated" in plain(out)
    [edit] = [d for d in await h.deliveries() if d.purpose.startswith(f"need:{world.skills}:edit:")]
    payload = load(edit.payload)
    assert isinstance(payload, Edit) and payload.ref.message_id == "555"
    assert "Renamed" in payload.message.text.plain


# --- /announce -----------------------------------------------------------------------------


async def test_announce_posts_in_matching_groups_and_skips_announced(h: Harness) -> None:
    world = await seed(h)
    chats = await add_chats(
        h,
        ("tafraout-group", ["tafraout"], True, True),  # the territory
        ("argan-lovers", ["Argan", "cosmetics"], True, True),  # a project tag
        ("everything", [], True, True),  # no tags: hears everything
        ("tiznit-only", ["tiznit"], True, True),  # no match
        ("unregistered", [], False, True),
        ("inactive", [], True, False),
    )
    out = await h.send("leila", f"/announce {world.skills}")
    assert "Announced in 3 groups (0 already had it)." in plain(out)
    posted = await announcements(h)
    assert {a.chat_id for a in posted} == {
        chats["tafraout-group"],
        chats["argan-lovers"],
        chats["everything"],
    }
    sent = {d.id: d for d in await h.deliveries()}
    for announcement in posted:
        delivery = sent[announcement.delivery_id]  # type: ignore[index]
        assert delivery.purpose == f"announce:need:{world.skills}"
        card = load(delivery.payload)
        assert isinstance(card, Message)
        assert "Build the website" in card.text.plain
        assert [b.action for row in card.buttons for b in row] == ["help", "proj", "share"]
    assert sorted(d.target for d in sent.values()) == [
        "console:chat:argan-lovers",
        "console:chat:everything",
        "console:chat:tafraout-group",
    ]

    # A new group registered later: only it gets the need.
    await add_chats(h, ("women-network", ["women"], True, True))
    out = await h.send("karim", f"/announce {world.skills}")
    assert "Announced in 1 groups (3 already had it)." in plain(out)
    assert len(await announcements(h)) == 4
    assert len(await h.deliveries()) == 4
    assert await audit_actions(h) == ["need.announce", "need.announce"]


async def test_announce_without_matching_groups_suggests_linkgroup(h: Harness) -> None:
    world = await seed(h)
    await add_chats(h, ("tafraout-group", ["tafraout"], True, True))
    out = await h.send("omar", f"/announce {world.school_need}")
    assert "No registered group matches this project yet" in plain(out)
    assert "/linkgroup" in plain(out)
    assert await announcements(h) == [] and await h.deliveries() == []


async def test_announce_refusals(h: Harness) -> None:
    world = await seed(h)
    await add_chats(h, ("g1", [], True, True))
    assert "Usage: /announce <need no.>" in plain(await h.send("leila", "/announce"))
    assert "Only the leaders of “School Tiznit”" in plain(
        await h.send("leila", f"/announce {world.school_need}")
    )
    async with h.services.sessions() as session:
        await session.execute(
            update(Need).where(Need.id == world.skills).values(status="cancelled")
        )
        await session.execute(
            update(Project).where(Project.id == world.school).values(status="paused")
        )
        await session.commit()
    assert "already cancelled" in plain(await h.send("leila", f"/announce {world.skills}"))
    assert "“School Tiznit” is not open" in plain(
        await h.send("omar", f"/announce {world.school_need}")
    )
    assert await announcements(h) == [] and await h.deliveries() == []


# --- /closeneed ----------------------------------------------------------------------------


async def _mark_sent(h: Harness, chat: str, message_id: str) -> None:
    """What the dispatcher does once the card is posted in `chat`."""
    async with h.services.sessions() as session:
        delivery = await session.scalar(
            select(Delivery).where(Delivery.target == f"console:chat:{chat}")
        )
        assert delivery is not None
        delivery.status = "sent"
        delivery.message_id = message_id
        await session.execute(
            update(Announcement)
            .where(Announcement.delivery_id == delivery.id)
            .values(message_id=message_id)
        )
        await session.commit()


async def test_closing_a_need_edits_its_announcements(h: Harness) -> None:
    world = await seed(h)
    await add_chats(h, ("posted", [], True, True), ("waiting", [], True, True))
    await h.send("leila", f"/announce {world.skills}")
    await _mark_sent(h, "posted", "m-42")

    out = await h.send("leila", f"/closeneed {world.skills} fulfilled")
    text = plain(out)
    assert f"Need #{world.skills} is now fulfilled." in text
    assert "announcements in 2 groups will be updated" in text
    closed = await need(h, world.skills)
    assert closed.status == "fulfilled" and closed.closed_at == h.clock.now()

    by_target = {d.target: d for d in await h.deliveries() if d.purpose.startswith("need:")}
    edit = by_target["console:chat:posted"]
    assert edit.purpose == f"need:{world.skills}:closed"
    payload = load(edit.payload)
    assert isinstance(payload, Edit)
    assert payload.ref.message_id == "m-42" and payload.ref.target.key == "console:chat:posted"
    assert "This need is fulfilled. Thank you to everyone who helped!" in payload.message.text.plain
    assert payload.message.buttons == ()
    # The card still waiting in the outbox is replaced instead of edited later.
    waiting = next(
        d
        for d in await h.deliveries()
        if d.target == "console:chat:waiting" and d.purpose.startswith("announce:")
    )
    card = load(waiting.payload)
    assert isinstance(card, Message) and "This need is fulfilled" in card.text.plain
    assert card.buttons == ()
    assert "console:chat:waiting" not in by_target

    again = plain(await h.send("karim", f"/closeneed {world.skills} cancelled"))
    assert "This need is already fulfilled" in again
    assert (await need(h, world.skills)).status == "fulfilled"


async def test_cancelling_a_need_declines_its_pending_offers(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    await make_offer(h, "samir", world.skills)
    await h.press("leila", _button("acc", 2))
    out = await h.send("leila", f"/closeneed {world.skills} cancelled")
    assert "1 pending offers were declined; I told the members." in plain(out)
    first, second = await offer(h, 1), await offer(h, 2)
    assert (first.status, first.reason) == ("declined", "need cancelled")
    assert first.decided_by == world.members["leila"]
    assert second.status == "accepted"  # accepted ones are left to the leaders
    [told] = [d for d in await deliveries_to(h, "yasmine") if d.purpose == "offer:1:declined"]
    assert "was cancelled, so your offer no. 1 is closed" in delivered_text(told)
    assert "need.close" in await audit_actions(h)


async def test_fulfilling_a_need_tells_pending_offers_and_keeps_them(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills)
    out = await h.send("leila", f"/closeneed {world.skills} fulfilled")
    assert "1 offers are still pending" in plain(out)
    assert (await offer(h, 1)).status == "pending"
    [told] = [
        d
        for d in await deliveries_to(h, "yasmine")
        if d.purpose == f"need:{world.skills}:fulfilled"
    ]
    assert "is fulfilled. Your offer no. 1 is still pending" in delivered_text(told)
    # The leader may still decide it.
    assert "You accepted offer no. 1" in plain(await h.press("leila", _button("acc", 1)))


async def test_closeneed_refusals(h: Harness) -> None:
    world = await seed(h)
    usage = "Usage: /closeneed <need no.> fulfilled|cancelled"
    assert usage in plain(await h.send("leila", "/closeneed"))
    assert usage in plain(await h.send("leila", f"/closeneed {world.skills}"))
    assert usage in plain(await h.send("leila", f"/closeneed {world.skills} done"))
    assert "Only the leaders of “Argan Tafraout”" in plain(
        await h.send("omar", f"/closeneed {world.skills} fulfilled")
    )
    assert (await need(h, world.skills)).status == "open"


def _button(action: str, offer_id: int) -> str:
    return f"1|{action}|{offer_id}"


# --- /update -------------------------------------------------------------------------------


async def _followers(h: Harness, world: World, *who: str) -> None:
    async with h.services.sessions() as session:
        for name in who:
            session.add(
                Follow(member_id=world.members[name], project_id=world.argan, created_at=NOW)
            )
        await session.commit()


async def test_update_reaches_followers_and_contributors_once(h: Harness) -> None:
    world = await seed(h)
    async with h.services.sessions() as session:
        add_member(session, "zineb")
        await session.commit()
    await _followers(h, world, "yasmine", "nadia", "leila")
    await make_offer(h, "yasmine", world.skills)  # follower and contributor: once
    await make_offer(h, "samir", world.skills)
    await make_offer(h, "zineb", world.funding, kind="funding", amount="50")
    await h.press("leila", _button("acc", 2))
    await h.press("leila", _button("dec", 3))
    await h.send("leila", "Sorry")  # zineb's offer declined: she is not a contributor now
    news = "The press arrived! <b>Thanks</b> @everyone \u202e"
    out = await h.send("leila", f"/update argan-tafraout {news}")
    assert "Your news will be sent to 3 people." in plain(out)
    updates = [d for d in await h.deliveries() if d.purpose.startswith("update:")]
    assert sorted(d.target for d in updates) == [
        "console:user:nadia",
        "console:user:samir",
        "console:user:yasmine",
    ]
    message = load(updates[0].payload)
    assert isinstance(message, Message)
    assert "News from Argan Tafraout" in message.text.plain
    assert news in message.text.plain
    assert "project.update" in await audit_actions(h)


async def test_update_without_text_asks_for_it(h: Harness) -> None:
    world = await seed(h)
    await _followers(h, world, "nadia")
    out = await h.send("karim", "/update argan-tafraout")
    assert "What is the news of “Argan Tafraout”?" in plain(out)
    out = await h.send("karim", "y" * 2001)
    assert "at most 2000 characters, you sent 2001" in plain(out)
    assert await h.deliveries() == []
    out = await h.send("karim", "We planted 200 trees.")
    assert "Your news will be sent to 1 people." in plain(out)
    [sent] = await h.deliveries()
    assert sent.target == "console:user:nadia"
    assert "We planted 200 trees." in delivered_text(sent)


async def test_update_refusals(h: Harness) -> None:
    world = await seed(h)
    await _followers(h, world, "nadia")
    assert "Usage: /update <short name>" in plain(await h.send("leila", "/update"))
    assert "Only the leaders of “Argan Tafraout”" in plain(
        await h.send("omar", "/update argan-tafraout hello")
    )
    too_long = "z" * 2001
    assert "at most 2000 characters" in plain(
        await h.send("leila", f"/update argan-tafraout {too_long}")
    )
    assert await h.deliveries() == []
    out = await h.send("omar", "/update school-tiznit hello")
    assert "Nobody follows “School Tiznit”" in plain(out)
