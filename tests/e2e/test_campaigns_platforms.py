"""Campaigns end to end on Telegram and Discord (issue #5): a poll with votes, a question
with answers, and a follow-up whose "Done" closes the offer and tells its leader.

The real python-telegram-bot and discord.py clients run our adapters against the emulators
on 127.0.0.1, with the real app (`bot.app.build_app`: core, outbox dispatcher and the campaign
engine, started as `cds-bot run` starts it). The Telegram poll is made with the /campaign
dialog and started with the community manager's "Run now" button; the other campaigns are
written to the `campaigns` table as the dialog writes them and fired with the engine's
`run_now`. Tests run at any hour, so the quiet hours are turned off.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from bot.app import App, build_app
from bot.config import load_settings
from bot.discord import DiscordAdapter, DiscordConfig
from bot.importer import apply_catalogue, catalogue_from_data
from handlers.campaign_content import new_code
from handlers.chat import Platform
from handlers.context import Community
from store.models import (
    Campaign,
    CampaignResponse,
    CampaignRun,
    Delivery,
    Member,
    MemberIdentity,
    Need,
    Offer,
    OfferStatus,
)
from store.uow import UnitOfWork
from tests.e2e import test_discord as discord_e2e
from tests.e2e.test_discord import said, text_of
from tests.e2e.test_telegram import (
    ALICE,
    BOT,
    GROUP,
    HASSAN,
    HUMAN_PACE,
    KARIM,
    TOKEN,
    YASMINE,
    World,
    found,
    registered_group,
)
from tests.emulators.discord import DiscordEmulator
from tests.emulators.telegram import SentMessage, TelegramEmulator, User

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

WAIT = 10.0
OPTIONS = ["Saturday", "Sunday", "Either"]
QUESTION = "Which skill would you share with the cooperative?"
POLL = "Which day suits you for the workshop?"
NEED_TITLE = "Guides bilingues pour les visiteurs"
PROJECT_TITLE = "Coopérative féminine d'argan de Tafraout"


# --- the world, as the /campaign dialog and an accepted offer leave it ---------------------------


async def seed(app: App, leader: str) -> None:
    """One open project with one open need, led by `leader` ("telegram:1002")."""
    now = app.services.now()
    data = {
        "projects": [
            {
                "slug": "argan-tafraout",
                "title": PROJECT_TITLE,
                "summary": "Trente femmes pressent et vendent leur huile d'argan.",
                "status": "open",
                "leaders": [leader],
                "needs": [{"kind": "skills", "title": NEED_TITLE}],
            }
        ]
    }
    async with UnitOfWork(app.sessions) as uow:
        await apply_catalogue(uow.session, catalogue_from_data(data, now.date()), now)
        await uow.commit()


def quiet_hours_off(app: App) -> None:
    """The campaign engine sends private messages at any hour (the tests run at any hour)."""
    engine = app.campaigns
    assert engine is not None
    respect = dataclasses.replace(engine.settings.respect, quiet_hours="00:00-00:00")
    engine.settings = dataclasses.replace(engine.settings, respect=respect)


async def add_campaign(
    app: App,
    kind: str,
    name: str,
    text: str,
    *,
    audience: dict[str, Any],
    options: dict[str, Any] | None = None,
) -> int:
    """An active campaign as the dialog creates it, due once in months (it is run by hand);
    the engine is told, as after the dialog's commit."""
    now = app.services.now()
    async with UnitOfWork(app.sessions) as uow:
        campaign = Campaign(
            code=new_code(),
            name=name,
            kind=kind,
            content={"en": text},
            options=options or {},
            audience=audience,
            schedule={"type": "once", "at": f"{(now + timedelta(days=200)):%Y-%m-%dT10:00}"},
            timezone="Africa/Casablanca",
            created_at=now,
            updated_at=now,
        )
        uow.session.add(campaign)
        await uow.session.flush()
        campaign_id = campaign.id
        await uow.commit()
    assert app.campaigns is not None
    await app.campaigns.changed(campaign_id)
    return campaign_id


async def member_id(app: App, platform: str, user_id: int) -> int:
    async with app.sessions() as session:
        found = await session.scalar(
            select(MemberIdentity.member_id).where(
                MemberIdentity.platform == platform, MemberIdentity.external_id == str(user_id)
            )
        )
    assert found is not None, f"{platform}:{user_id} is not a member"
    return found


async def accept_private_messages(app: App, *members: int) -> None:
    async with UnitOfWork(app.sessions) as uow:
        await uow.session.execute(
            update(Member).where(Member.id.in_(members)).values(accepts_dm=True)
        )
        await uow.commit()


async def accepted_offer(app: App, member: int, leader: int, days_ago: int = 20) -> int:
    """`member`'s offer to the need, accepted by `leader` `days_ago` days ago."""
    now = app.services.now()
    async with UnitOfWork(app.sessions) as uow:
        need = await uow.session.scalar(select(Need.id).where(Need.title == NEED_TITLE))
        assert need is not None
        offer = Offer(
            need_id=need,
            member_id=member,
            kind="skills",
            message="Je guide en darija et en anglais.",
            status=OfferStatus.ACCEPTED.value,
            decided_by=leader,
            decided_at=now - timedelta(days=days_ago),
            created_at=now - timedelta(days=days_ago + 2),
        )
        uow.session.add(offer)
        await uow.session.flush()
        offer_id = offer.id
        await uow.commit()
    await accept_private_messages(app, member)
    return offer_id


async def responses(app: App, campaign_id: int, kind: str) -> dict[int, list[list[str] | str]]:
    """Each member's responses of `kind` to the campaign: choices of a vote, else texts."""
    async with app.sessions() as session:
        rows = await session.scalars(
            select(CampaignResponse)
            .where(CampaignResponse.campaign_id == campaign_id, CampaignResponse.kind == kind)
            .order_by(CampaignResponse.id)
        )
        found: dict[int, list[list[str] | str]] = {}
        for row in rows:
            assert row.member_id is not None
            given = list(row.choice) if kind == "vote" or row.choice else row.text
            found.setdefault(row.member_id, []).append(given)
    return found


async def sent_refs(app: App, external_ref: str) -> list[str | None]:
    """The message ids of the deliveries sent with this platform reference."""
    async with app.sessions() as session:
        return list(
            await session.scalars(
                select(Delivery.message_id).where(Delivery.external_ref == external_ref)
            )
        )


async def sent_message_ids(app: App, campaign_id: int) -> list[str | None]:
    """The message ids of the campaign's deliveries that were sent."""
    async with app.sessions() as session:
        return list(
            await session.scalars(
                select(Delivery.message_id)
                .join(CampaignRun, CampaignRun.id == Delivery.run_id)
                .where(CampaignRun.campaign_id == campaign_id, Delivery.status == "sent")
            )
        )


async def targets(app: App, campaign_id: int) -> list[str]:
    """Where the campaign's runs wrote (the outbox's targets)."""
    async with app.sessions() as session:
        return sorted(
            await session.scalars(
                select(Delivery.target)
                .join(CampaignRun, CampaignRun.id == Delivery.run_id)
                .where(CampaignRun.campaign_id == campaign_id)
            )
        )


async def offer_status(app: App, offer_id: int) -> str:
    async with app.sessions() as session:
        offer = await session.get_one(Offer, offer_id)
        return offer.status


async def eventually(
    read: Callable[[], Awaitable[Any]], expected: Any, seconds: float = WAIT
) -> None:
    """Wait until what `read` returns equals `expected`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        found = await read()
        if found == expected:
            return
        if loop.time() > deadline:
            raise AssertionError(f"expected {expected!r}, found {found!r}")
        await asyncio.sleep(0.05)


# --- Telegram -----------------------------------------------------------------------------------


async def tap(
    world: World, user: User, message: SentMessage, label: str, expect: str
) -> SentMessage:
    """`user` presses the button of `message` whose label holds `label`; the answer."""
    data = next(
        button["callback_data"]
        for button in message.buttons
        if label in button.get("text", "") and "callback_data" in button
    )
    return await world.presses(user, message, data, expect)


async def poll_through_the_dialog(world: World) -> int:
    """Alice creates the poll with /campaign, in English only; returns its number."""
    alice = world.alice
    at = world.app.services.now().astimezone(world.community.tz) + timedelta(days=200)
    step = await world.says(alice, None, "/campaign", "What kind of campaign?")
    step = await tap(world, alice, step, "Poll", "A name for it")
    step = await world.says(alice, None, "Workshop day", "The question in English")
    step = await world.says(alice, None, POLL, "The question in")  # in French: none
    step = await tap(world, alice, step, "Skip", "The question in")  # nor in Arabic
    step = await tap(world, alice, step, "Skip", "The poll's options in English")
    step = await world.says(alice, None, "\n".join(OPTIONS), "Which groups receive it?")
    step = await tap(world, alice, step, "All registered groups", "Who receives it")
    step = await tap(world, alice, step, "Nobody in private", "When should it be sent?")
    step = await tap(world, alice, step, "Once", "The date and time")
    step = await world.says(alice, None, f"{at:%Y-%m-%d} 10:00", "Its time zone?")
    step = await tap(world, alice, step, "Skip", "Activate it?")
    assert "Audience: 1 groups, 0 members in private" in (step.text or "")
    done = await tap(world, alice, step, "Activate", "is active")
    return int(found(r"\(no\. (\d+)\) is active", done))


@pytest.fixture
async def telegram_world(migrated_url: str) -> AsyncIterator[World]:
    """The bot on Telegram with its campaign engine running, as `cds-bot run` starts it."""
    async with TelegramEmulator(token=TOKEN, bot_username=BOT, rate_limits=HUMAN_PACE) as emu:
        world = World(emu, migrated_url)
        await world.start()
        engine = world.app.campaigns
        assert engine is not None
        quiet_hours_off(world.app)
        await engine.start()
        try:
            yield world
        finally:
            await engine.stop()
            await world.stop()


async def test_telegram_poll_question_and_follow_up(telegram_world: World) -> None:
    world, emu = telegram_world, telegram_world.emu
    alice, hassan, yasmine, karim = world.alice, world.hassan, world.yasmine, world.karim
    for user in (alice, hassan, yasmine, karim):
        await world.says(user, None, "/start", "Welcome")
    await seed(world.app, f"telegram:{HASSAN}")
    await registered_group(world)
    app = world.app
    assert app.campaigns is not None

    # A poll to the registered groups, made with the /campaign dialog and started with the
    # manager's "Run now" button.
    poll = await poll_through_the_dialog(world)
    listed = await world.says(alice, None, "/campaigns", f"#{poll} Workshop day")
    mark = world.mark()
    await world.presses(alice, listed, f"|crun|{poll}", "“Workshop day” is running now")
    sent = await emu.wait_for(
        lambda m: m.method == "sendPoll" and m.message_id > mark, WAIT, chat_id=GROUP
    )
    assert sent.poll is not None
    assert sent.poll["question"] == POLL
    assert [option["text"] for option in sent.poll["options"]] == OPTIONS
    assert sent.poll["is_anonymous"] is False  # else Telegram reports no votes to the bot
    poll_id = sent.poll["id"]
    assert await targets(app, poll) == [f"telegram:chat:{GROUP}"]
    # The outbox keeps the poll's id beside its message id: Telegram reports votes by poll id.
    await eventually(lambda: sent_refs(app, poll_id), [str(sent.message_id)])

    # Two members vote; Karim takes his vote back and votes again: his latest choice counts.
    emu.user_votes(yasmine, poll_id, [0])
    emu.user_votes(karim, poll_id, [1])
    emu.user_votes(karim, poll_id, [])
    last = emu.user_votes(karim, poll_id, [2])
    await emu.wait_delivered(last, WAIT)
    yasmine_id = await member_id(app, "telegram", YASMINE)
    karim_id = await member_id(app, "telegram", KARIM)
    await eventually(lambda: responses(app, poll, "vote"), {yasmine_id: [["0"]], karim_id: [["2"]]})
    assert not [m for m in emu.all_sent if m.message_id > mark and m.chat_id in (YASMINE, KARIM)]
    shown = await world.says(alice, None, f"/campaign {poll}", "poll votes: 2")
    assert "Saturday: 1\n" in (shown.text or "")
    assert "Sunday: 0\n" in (shown.text or "")
    assert "Either: 1" in (shown.text or "")

    # A question to the group, answered by replying to the bot's message.
    question = await add_campaign(
        app, "question", "Skills survey", QUESTION, audience={"groups": "all", "members": "none"}
    )
    mark = world.mark()
    await app.campaigns.run_now(question, None)
    asked = await world.next(GROUP, QUESTION, after=mark)
    assert "Press Answer, or reply to this message." in (asked.text or "")
    # A reply names the message it answers, known once the outbox has recorded its id.
    await eventually(lambda: sent_message_ids(app, question), [str(asked.message_id)])
    emu.user_replies(
        yasmine, GROUP, "Traduction <b>darija</b> & anglais @everyone", asked.message_id
    )
    thanks = await world.next(GROUP, "Thank you, Yasmine! Your answer is recorded.", after=mark)
    emu.user_replies(hassan, GROUP, "La comptabilité", asked.message_id)
    await world.next(GROUP, "Thank you, Hassan! Your answer is recorded.", after=thanks.message_id)
    # Group chatter that answers nobody's message is not an answer (the bot does not see it).
    assert emu.user_sends(karim, GROUP, "Bonne journée à tous") is None
    hassan_id = await member_id(app, "telegram", HASSAN)
    assert await responses(app, question, "answer") == {
        yasmine_id: ["Traduction <b>darija</b> & anglais @everyone"],
        hassan_id: ["La comptabilité"],
    }
    shown = await world.says(alice, None, f"/campaign {question}", "Answers: 2")
    assert "— Yasmine: Traduction <b>darija</b> & anglais @everyone" in (shown.text or "")
    assert "— Hassan: La comptabilité" in (shown.text or "")

    # A follow-up of offers accepted more than 14 days ago: Yasmine's, in private; Karim's
    # offer, accepted three days ago, is not followed up yet.
    offer = await accepted_offer(app, yasmine_id, hassan_id)
    await accepted_offer(app, karim_id, hassan_id, days_ago=3)
    follow_up = await add_campaign(
        app, "followup", "How is it going", "The cooperative thanks you!",
        audience={}, options={"days": 14},
    )  # fmt: skip
    mark = world.mark()
    await app.campaigns.run_now(follow_up, await member_id(app, "telegram", ALICE))
    prompt = await world.next(yasmine, "How is it going with your contribution", after=mark)
    assert f"“{NEED_TITLE}” ({PROJECT_TITLE})" in (prompt.text or "")
    assert await targets(app, follow_up) == [f"telegram:user:{YASMINE}"]
    assert [button["text"] for button in prompt.buttons] == [
        "✅ Done",
        "🆘 I need help",
        "✋ I can't any more",
    ]
    done = f"|fu|{offer}|done|{follow_up}"
    await world.presses(yasmine, prompt, done, "Wonderful, thank you Yasmine!")
    note = await world.next(hassan, f"Yasmine says their contribution no. {offer}", after=mark)
    assert f"“{NEED_TITLE}” ({PROJECT_TITLE}) is done" in (note.text or "")
    assert await offer_status(app, offer) == OfferStatus.DONE.value
    assert await responses(app, follow_up, "answer") == {yasmine_id: [["done"]]}
    # Done twice: the offer is already done, nothing changes and the leader hears nothing more.
    again = await world.press(yasmine, prompt, done)
    assert "already done" in (again.get("text") or "")
    assert len([m for m in emu.sent(hassan) if "contribution no." in (m.text or "")]) == 1
    shown = await world.says(alice, None, f"/campaign {follow_up}", "Answers: 1")
    assert "— Yasmine: done" in (shown.text or "")


# --- Discord ------------------------------------------------------------------------------------

D_ALICE, D_HASSAN, D_YASMINE, D_BOB = (
    discord_e2e.ALICE,
    discord_e2e.HASSAN,
    discord_e2e.YASMINE,
    discord_e2e.BOB,
)
ANNOUNCES = discord_e2e.ANNOUNCES


@pytest.fixture
async def discord_world(migrated_url: str) -> AsyncIterator[discord_e2e.World]:
    """The server of `test_discord` (Alice owns it and is the community manager), on a
    migrated database of each kind, with the campaign engine running."""
    emu = DiscordEmulator(token=discord_e2e.TOKEN, app_id=discord_e2e.APP_ID)
    async with emu:
        for user, name in ((D_ALICE, "alice"), (D_HASSAN, "hassan"), (D_YASMINE, "yasmine")):
            emu.add_user(user, name, name.capitalize(), locale="en-US")
        emu.add_user(D_BOB, "bob", "Bob", locale="en-US")
        emu.add_guild(
            discord_e2e.GUILD,
            "CDS Souss-Massa",
            channels=[(discord_e2e.GENERAL, "general"), (ANNOUNCES, "annonces")],
            members=[D_HASSAN, D_YASMINE, D_BOB],
            owner_id=D_ALICE,
        )
        settings = load_settings(overrides={"database": {"url": migrated_url}})
        adapter = DiscordAdapter(
            DiscordConfig(
                token=discord_e2e.TOKEN,
                api_base_url=emu.api_base,
                gateway_url=emu.gateway_url,
                default_language="en",
                guild_ready_timeout=0.1,
                reidentify_delay=0.0,
            )
        )
        community = Community(
            default_language="en", community_managers=frozenset({f"discord:{D_ALICE}"})
        )
        app = await build_app(
            settings, messengers={Platform.DISCORD: adapter.messenger}, community=community
        )
        assert app.campaigns is not None
        quiet_hours_off(app)
        stop = asyncio.Event()
        dispatcher = asyncio.create_task(app.dispatcher.run(stop, app.wake, 0.05))
        world = discord_e2e.World(emu, app, adapter, stop, dispatcher)
        # The patch lasts until the adapter has stopped: stopping puts back the addresses it
        # found at start, which must not outlive this emulator.
        with emu.patch_discord():
            try:
                await app.campaigns.start()
                await world.start()
                yield world
            finally:
                await app.campaigns.stop()
                stop.set()
                await adapter.stop()
                await dispatcher
                await app.aclose()
        assert emu.unhandled == []


async def test_discord_poll_question_and_follow_up(discord_world: discord_e2e.World) -> None:
    world, emu = discord_world, discord_world.emu
    for user in (D_ALICE, D_HASSAN, D_YASMINE, D_BOB):
        await said(emu, await world.command(user, "dm", "start"), "Welcome")
    linked = await world.command(D_ALICE, ANNOUNCES, "linkgroup", tags="souss")
    await said(emu, linked, "This group is registered")
    await seed(world.app, f"discord:{D_HASSAN}")
    await discord_journey(world)


async def discord_journey(world: discord_e2e.World) -> None:
    emu, app = world.emu, world.app
    assert app.campaigns is not None
    yasmine_id = await member_id(app, "discord", D_YASMINE)
    hassan_id = await member_id(app, "discord", D_HASSAN)
    bob_id = await member_id(app, "discord", D_BOB)

    # A native Discord poll in the registered channel; two members vote, Bob changes his mind.
    poll = await add_campaign(
        app, "poll", "Workshop day", POLL,
        audience={"groups": "all", "members": "none"},
        options={"options": {"en": OPTIONS}},
    )  # fmt: skip
    await app.campaigns.run_now(poll, None)
    sent = await emu.wait_for_message(lambda m: m.poll is not None, channel_id=ANNOUNCES)
    assert sent.poll is not None
    assert sent.poll["question"]["text"] == POLL
    assert [a["poll_media"]["text"] for a in sent.poll["answers"]] == OPTIONS
    assert await targets(app, poll) == [f"discord:chat:{ANNOUNCES}"]
    # Votes name the poll by its message id, once the outbox has recorded it.
    await eventually(lambda: sent_message_ids(app, poll), [str(sent.id)])
    emu.vote(D_YASMINE, sent, [1])
    emu.vote(D_BOB, sent, [2])
    await eventually(lambda: responses(app, poll, "vote"), {yasmine_id: [["0"]], bob_id: [["1"]]})
    emu.vote(D_BOB, sent, [3])  # Discord: his vote for "Sunday" removed, one for "Either" added
    await eventually(lambda: responses(app, poll, "vote"), {yasmine_id: [["0"]], bob_id: [["2"]]})
    shown = text_of(await said(emu, await campaign_shown(world, poll), "poll votes: 2"))
    assert "Saturday: 1\n" in shown and "Sunday: 0\n" in shown and "Either: 1" in shown

    # A question in direct messages: "Answer" opens the answer's step, typed in a modal.
    await accept_private_messages(app, yasmine_id, hassan_id)
    question = await add_campaign(
        app,
        "question",
        "Skills survey",
        QUESTION,
        audience={"groups": "none", "members": "everyone"},
    )
    await app.campaigns.run_now(question, None)
    # Members who accept private messages only (Alice and Bob have not said they do).
    assert await targets(app, question) == [
        f"discord:user:{D_HASSAN}",
        f"discord:user:{D_YASMINE}",
    ]
    for user, answer in ((D_YASMINE, "Traduction **darija** @everyone"), (D_HASSAN, "Comptable")):
        asked = await world.dm(user, QUESTION)
        step = await world.press(user, asked, "Answer", expect="Your answer (at most 1000")
        name = "Yasmine" if user == D_YASMINE else "Hassan"
        await world.answer(user, step, answer, expect=f"Thank you, {name}! Your answer is recorded")
    assert await responses(app, question, "answer") == {
        yasmine_id: ["Traduction **darija** @everyone"],
        hassan_id: ["Comptable"],
    }
    shown = text_of(await said(emu, await campaign_shown(world, question), "Answers: 2"))
    assert "— Yasmine: Traduction **darija** @everyone" in shown
    assert "— Hassan: Comptable" in shown

    # A follow-up of Yasmine's offer, accepted three weeks ago: "Done" in her direct messages.
    offer = await accepted_offer(app, yasmine_id, hassan_id)
    follow_up = await add_campaign(
        app, "followup", "How is it going", "The cooperative thanks you!",
        audience={}, options={"days": 14},
    )  # fmt: skip
    await app.campaigns.run_now(follow_up, None)
    prompt = await world.dm(D_YASMINE, "How is it going with your contribution")
    assert f"“{NEED_TITLE}” ({PROJECT_TITLE})" in text_of(prompt)
    assert await targets(app, follow_up) == [f"discord:user:{D_YASMINE}"]
    assert list(discord_e2e.labels(prompt).values()) == [
        "✅ Done",
        "🆘 I need help",
        "✋ I can't any more",
    ]
    await world.press(D_YASMINE, prompt, "Done", expect="Wonderful, thank you Yasmine!")
    await world.dm(D_HASSAN, f"Yasmine says their contribution no. {offer}")
    assert await offer_status(app, offer) == OfferStatus.DONE.value
    assert await responses(app, follow_up, "answer") == {yasmine_id: [["done"]]}
    again = await world.emu.press_button(D_YASMINE, prompt, discord_e2e.custom_id(prompt, "Done"))
    await said(emu, again, "This offer is already done; nothing was changed.")
    notes = [m for m in emu.dm_messages(D_HASSAN) if "contribution no." in text_of(m)]
    assert len(notes) == 1
    shown = text_of(await said(emu, await campaign_shown(world, follow_up), "Answers: 1"))
    assert "— Yasmine: done" in shown


async def campaign_shown(world: discord_e2e.World, campaign_id: int) -> Any:
    """Alice's `/campaign <number>` in her direct messages."""
    return await world.command(D_ALICE, "dm", "campaign", number=str(campaign_id))
