"""/mydata and /forgetme on the migrated store: the export is a JSON file sent privately
with everything kept about the member; the erasure leaves nothing that names them in any
table, keeps their offers anonymous, and still reaches them with its confirmation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from handlers import core, routes
from handlers.buttons import decode, encode
from handlers.chat import (
    Button,
    Command,
    Document,
    Event,
    Identity,
    Incoming,
    Message,
    Outgoing,
    Place,
    Platform,
    Text,
)
from store.models import (
    AuditEntry,
    Base,
    Campaign,
    CampaignResponse,
    CampaignRun,
    Delivery,
    DialogState,
    Follow,
    MatchFeedback,
    Member,
    MemberIdentity,
    MemberRole,
    Need,
    NeedClick,
    Offer,
    Project,
    ProjectLeader,
)
from tests.harness import Harness, buttons, plain

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
# Zoubida's identifiers: none of them may survive /forgetme anywhere.
USER_ID = "u48151623"
USERNAME = "zoubida_k"
NAME = "Zoubida Kettani"
OFFER_TEXT = "Quokka-ledger-7731: I audit cooperative accounts"
ANSWER_TEXT = "Wombat-answer-5150 about the wells"
IDENTIFIERS = (USER_ID, USERNAME, NAME, "Kettani", "Quokka-ledger-7731", "Wombat-answer-5150")


@dataclass
class World:
    argan: int
    solo: int  # a project Zoubida leads alone
    need: int
    second_need: int
    leila: int
    campaign: int
    run: int


@pytest.fixture
async def h(migrated_url: str) -> AsyncIterator[Harness]:
    harness = await Harness.create(migrated_url, default_language="en")
    yield harness
    await harness.close()


ZOUBIDA = Identity(Platform.CONSOLE, USER_ID, USERNAME, NAME)


async def as_zoubida(h: Harness, incoming: Incoming, group: str | None = None) -> list[Outgoing]:
    place = (
        Place(Platform.CONSOLE, group, False, group)
        if group
        else Place(Platform.CONSOLE, USER_ID, True)
    )
    h.last = await core.handle(h.services, routes.ROUTER, Event(ZOUBIDA, place, incoming))
    return h.last


async def say(h: Harness, line: str, group: str | None = None) -> list[Outgoing]:
    if line.startswith("/"):
        name, *args = line[1:].split()
        return await as_zoubida(h, Command(name, tuple(args)), group)
    return await as_zoubida(h, Text(line), group)


async def press(h: Harness, button: Button) -> list[Outgoing]:
    found = decode(encode(button.action, button.args))
    assert found is not None
    return await as_zoubida(h, found)


def dlg(dialog: str, step: str, value: str) -> Button:
    return Button(value, "dlg", (dialog, step, value))


async def seed(h: Harness) -> World:
    async with h.services.sessions() as session:
        leila = Member(display_name="Leila", created_at=NOW, last_seen_at=NOW)
        session.add(leila)
        session.add(
            MemberIdentity(member=leila, platform="console", external_id="leila", username="leila")
        )
        argan = Project(
            slug="argan-tafraout",
            title="Argan Tafraout",
            territory="Tafraout",
            status="open",
            created_at=NOW,
            updated_at=NOW,
        )
        solo = Project(
            slug="wells-tiznit", title="Wells Tiznit", status="open", created_at=NOW, updated_at=NOW
        )
        session.add_all([argan, solo])
        await session.flush()
        session.add(ProjectLeader(project_id=argan.id, member_id=leila.id, granted_at=NOW))
        need = Need(project_id=argan.id, kind="expertise", title="Audit the books", created_at=NOW)
        second = Need(project_id=argan.id, kind="idea", title="Name the oil", created_at=NOW)
        session.add_all([need, second])
        campaign = Campaign(
            code="wells1",
            name="Wells question",
            kind="question",
            content={"en": "What do you know about the wells?"},
            timezone="UTC",
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(campaign)
        await session.flush()
        run = CampaignRun(
            campaign_id=campaign.id, slot="2026-11-26T09:00", scheduled_at=NOW, created_at=NOW
        )
        session.add(run)
        await session.commit()
        return World(argan.id, solo.id, need.id, second.id, leila.id, campaign.id, run.id)


async def zoubida_id(h: Harness) -> int:
    async with h.services.sessions() as session:
        identity = await session.scalar(
            select(MemberIdentity).where(MemberIdentity.external_id == USER_ID)
        )
        assert identity is not None
        return identity.member_id


async def live_a_little(h: Harness, world: World) -> int:
    """Zoubida writes, fills her profile, follows, offers, answers, leads, is matched."""
    await say(h, "/start")
    await say(h, "/profile city")
    await say(h, "Lyon")
    await say(h, "/profile skills")
    await say(h, "audit, accounting")
    await say(h, "/follow argan-tafraout")
    await say(h, f"/offer {world.need}")
    await press(h, dlg("offer", "kind", "expertise"))
    await say(h, OFFER_TEXT)
    await press(h, dlg("offer", "availability", "few_hours"))
    await press(h, dlg("offer", "share_contact", "yes"))
    assert "offer no. 1 is sent" in plain(await press(h, dlg("offer", "send", "yes")))
    member_id = await zoubida_id(h)
    # Leila accepts: a message waits for Zoubida in the outbox.
    await h.press("leila", Button("acc", "acc", ("1",)))
    async with h.services.sessions() as session:
        session.add_all(
            [
                Delivery(
                    purpose=f"campaign:{world.campaign}:run:{world.run}",
                    target=f"console:user:{USER_ID}",
                    platform="console",
                    member_id=member_id,
                    run_id=world.run,
                    payload={"type": "message", "text": [[f"Hello {NAME}", "plain", None]]},
                    status="sent",
                    message_id="m-1",
                    not_before=NOW,
                    created_at=NOW,
                ),
                Delivery(
                    purpose="held:1",
                    target=f"console:user:{USER_ID}",
                    platform="console",
                    member_id=member_id,
                    payload={"text": [["waiting for you", "plain", None]], "buttons": []},
                    status="held",
                    not_before=NOW,
                    created_at=NOW,
                ),
                CampaignResponse(
                    campaign_id=world.campaign,
                    run_id=world.run,
                    member_id=member_id,
                    kind="answer",
                    text=ANSWER_TEXT,
                    created_at=NOW,
                ),
                MatchFeedback(
                    member_id=member_id,
                    need_id=world.second_need,
                    verdict="not_for_me",
                    created_at=NOW,
                ),
                NeedClick(need_id=world.need, member_id=member_id, source="link", created_at=NOW),
                NeedClick(
                    need_id=world.need,
                    member_id=None,
                    referrer_id=member_id,
                    source="share",
                    created_at=NOW,
                ),
                ProjectLeader(project_id=world.solo, member_id=member_id, granted_at=NOW),
                MemberRole(member_id=member_id, role="cm", granted_at=NOW),
                DialogState(
                    platform="link",
                    chat_id="code",
                    user_id="LINK42",
                    member_id=member_id,
                    dialog="link",
                    step="shown",
                    data={},
                    updated_at=NOW,
                ),
                AuditEntry(
                    at=NOW,
                    actor_id=world.leila,
                    action="rights.grant",
                    subject=f"member:{member_id}",
                    details={"role": "leader", "project": "wells-tiznit", "who": f"@{USERNAME}"},
                ),
            ]
        )
        await session.commit()
    return member_id


# --- /mydata ---------------------------------------------------------------------------------


async def test_mydata_is_a_json_file_sent_privately(h: Harness) -> None:
    world = await seed(h)
    await live_a_little(h, world)
    out = await say(h, "/mydata")
    documents = [o for o in out if isinstance(o, Document)]
    assert len(documents) == 1
    document = documents[0]
    assert document.filename == "cds-mydata-2026-11-26.json"
    assert document.to is not None and document.to.private and document.to.chat_id == USER_ID
    data = json.loads(document.data.decode("utf-8"))
    assert data["member"]["display_name"] == NAME
    assert data["member"]["city"] == "Lyon"
    assert data["member"]["skills"] == ["audit", "accounting"]
    assert data["identities"] == [
        {
            "platform": "console",
            "id": USER_ID,
            "username": USERNAME,
            "display_name": NAME,
            "language_code": None,
            "unreachable": False,
            "last_seen_at": data["identities"][0]["last_seen_at"],
        }
    ]
    [offer] = data["offers"]
    assert offer["message"] == OFFER_TEXT
    assert offer["need"] == "Audit the books"
    assert offer["project_title"] == "Argan Tafraout"
    assert offer["status"] == "accepted"
    assert [f["project"] for f in data["follows"]] == ["argan-tafraout"]
    assert [p["project"] for p in data["projects_led"]] == ["wells-tiznit"]
    assert [r["role"] for r in data["roles"]] == ["cm"]
    assert data["campaign_responses"][0]["text"] == ANSWER_TEXT
    assert data["match_feedback"][0]["need"] == "Name the oil"
    assert data["clicks"][0]["source"] == "link"
    assert data["clicks_through_your_shares"] == 1
    waiting = {(d["purpose"], d["status"]) for d in data["messages_waiting"]}
    assert ("held:1", "held") in waiting
    assert ("offer:1:accepted", "pending") in waiting
    assert all(set(d) == {"purpose", "status"} for d in data["messages_waiting"])
    assert "LINK42" not in document.data.decode()  # a pending link code is not shown


async def test_mydata_in_a_group_goes_to_the_private_chat(h: Harness) -> None:
    await seed(h)
    await say(h, "/start")
    out = await say(h, "/mydata", group="souss")
    [document] = [o for o in out if isinstance(o, Document)]
    assert document.to is not None and document.to.private
    notice = [o for o in out if isinstance(o, Message) and o.to is None]
    assert "answered you in a private message" in plain(notice)
    assert NAME not in plain(notice).replace(f"{NAME}, I have", "")


# --- /forgetme -------------------------------------------------------------------------------


async def every_row_as_text(h: Harness) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    async with h.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = (await connection.execute(select(table))).all()
            found[table.name] = [repr(tuple(row)) for row in rows]
    return found


async def test_cancel_keeps_everything(h: Harness) -> None:
    world = await seed(h)
    await live_a_little(h, world)
    said = plain(await say(h, "/forgetme"))
    assert "Erase your data?" in said and "/mydata" in said
    await press(h, dlg("forgetme", "confirm", "__cancel"))
    async with h.services.sessions() as session:
        assert await session.scalar(select(Member).where(Member.display_name == NAME))


async def test_forgetme_leaves_nothing_that_names_the_member(h: Harness) -> None:
    world = await seed(h)
    member_id = await live_a_little(h, world)
    before = await every_row_as_text(h)
    named = {
        table
        for table, rows in before.items()
        for row in rows
        if any(identifier.lower() in row.lower() for identifier in IDENTIFIERS)
    }
    expected = {"members", "member_identities", "offers", "campaign_responses", "audit_log"}
    assert expected | {"deliveries", "dialog_states"} <= named
    assert any(OFFER_TEXT in row for row in before["deliveries"])  # told to the leader

    said = plain(await say(h, "/forgetme"))
    assert "cannot be undone" in said
    confirm = next(b for b in buttons(h.last) if b.args[-1] == "yes")
    out = await press(h, confirm)
    assert "Done: your data is erased." in plain(out)
    assert all(o.to is None for o in out if isinstance(o, Message))  # a reply, not the outbox

    after = await every_row_as_text(h)
    leaks = [
        (table, row)
        for table, rows in after.items()
        for row in rows
        for identifier in IDENTIFIERS
        if identifier.lower() in row.lower()
    ]
    assert leaks == []

    async with h.services.sessions() as session:
        assert await session.get(Member, member_id) is None
        for model in (MemberIdentity, MemberRole, Follow, MatchFeedback, DialogState):
            rows = await session.scalars(select(model).where(model.member_id == member_id))
            assert list(rows) == []
        offer = await session.get_one(Offer, 1)
        assert (offer.member_id, offer.message, offer.kind, offer.status) == (
            None,
            "",
            "expertise",
            "accepted",
        )
        response = await session.scalar(select(CampaignResponse))
        assert response is not None and (response.member_id, response.text) == (None, "")
        clicks = list(await session.scalars(select(NeedClick)))
        assert len(clicks) == 2
        assert all(c.member_id is None and c.referrer_id is None for c in clicks)
        deliveries = list(await session.scalars(select(Delivery)))
        # the held and pending messages to her are gone; the sent one is an anonymous count
        assert not [d for d in deliveries if d.purpose in ("held:1", "offer:1:accepted")]
        assert not [d for d in deliveries if d.target == f"console:user:{USER_ID}"]
        sent = [d for d in deliveries if d.run_id == world.run]
        assert len(sent) == 1 and sent[0].member_id is None and sent[0].payload == {}
        # the community manager hears that her solo project has no leader any more
        assert await session.get(ProjectLeader, (world.solo, member_id)) is None
        assert await session.get_one(Project, world.solo)
        actions = list(await session.scalars(select(AuditEntry.action)))
        assert "project.leaderless" in actions and "member.erase" in actions
        grant = await session.scalar(select(AuditEntry).where(AuditEntry.action == "rights.grant"))
        assert grant is not None and grant.subject == "member:—"


async def test_the_community_manager_hears_of_a_leaderless_project(h: Harness) -> None:
    world = await seed(h)
    await h.send("alice", "/start")  # the configured community manager
    await live_a_little(h, world)
    await say(h, "/forgetme")
    await press(h, dlg("forgetme", "confirm", "yes"))
    to_alice = [d for d in await h.deliveries() if d.target == "console:user:alice"]
    assert len(to_alice) == 1
    text = json.dumps(to_alice[0].payload)
    assert "Wells Tiznit" in text and "has no leader any more" in text
    assert "Argan" not in text  # Leila still leads that one


async def test_after_forgetme_the_member_starts_afresh(h: Harness) -> None:
    world = await seed(h)
    await live_a_little(h, world)
    await say(h, "/forgetme")
    await press(h, dlg("forgetme", "confirm", "yes"))
    said = plain(await say(h, "/myoffers"))
    assert "You have not offered anything yet" in said
    async with h.services.sessions() as session:  # a new, empty member (SQLite may reuse ids)
        fresh = await session.get_one(Member, await zoubida_id(h))
        assert (fresh.city, fresh.skills, fresh.accepts_dm) == (None, [], False)
        assert fresh.profile_skipped == [] and fresh.profile_asked_at is None
        roles = await session.scalars(
            select(MemberRole.role).where(MemberRole.member_id == fresh.id)
        )
        assert list(roles) == []  # the rights she had are not inherited


async def test_forgetme_from_a_group_confirms_in_private(h: Harness) -> None:
    await seed(h)
    await say(h, "/start")
    out = await say(h, "/forgetme", group="souss")
    private = [o for o in out if isinstance(o, Message) and o.to is not None]
    assert private and "Erase your data?" in plain(private)
    assert "Erase your data?" not in plain([o for o in out if isinstance(o, Message) and not o.to])


def test_every_table_is_scanned() -> None:
    names = {table.name for table in Base.metadata.sorted_tables}
    assert {"members", "deliveries", "audit_log", "offers", "campaign_responses"} <= names
