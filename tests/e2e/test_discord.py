"""Whole journeys on Discord: the real discord.py client (our adapter) against the Discord
emulator on 127.0.0.1, with the real app on SQLite and the outbox dispatcher running.

The server "CDS Souss-Massa": Alice owns it and is the community manager; Hassan will lead a
project; Yasmine offers help; Bob manages the server (Discord's "Manage server") but is not a
community manager. #general is where people talk to the bot, #annonces gets announcements.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import App, bind_adapter, build_app
from bot.config import load_settings
from bot.discord import DiscordAdapter, DiscordConfig
from handlers.chat import (
    Command,
    Event,
    Identity,
    Incoming,
    Message,
    NotPermitted,
    Outgoing,
    Place,
    Platform,
    Poll,
    Press,
    Rich,
    SendFailed,
    Target,
    Text,
    Unreachable,
    Vote,
)
from handlers.context import Community
from store.models import Base, Chat, Delivery, MemberIdentity, Offer
from tests.emulators.discord import (
    DiscordEmulator,
    InteractionRecord,
    InteractionType,
    MessageRecord,
    Where,
)

TOKEN = "discord-test-token"
APP_ID = 1_180_000_000_000_000_001
GUILD, GENERAL, ANNOUNCES = 10, 11, 12
ALICE, HASSAN, YASMINE, BOB = 100, 101, 102, 103
MANAGE_GUILD = 1 << 5
MANAGERS_ROLE = 500
TELEGRAM_YASMINE = "7001"
HOSTILE = (
    "**Je** peux aider @everyone @here <@101> <@&500> ||spoiler|| # titre\n"
    "> citation [lien](https://exemple.org) `code` ~~barré~~ "
    "وأستطيع المساعدة في الترجمة \u202eRTL\u202c _fin_"
)


# ------------------------------------------------------------------------------ the world


@dataclass
class World:
    emu: DiscordEmulator
    app: App
    adapter: DiscordAdapter
    stop: asyncio.Event
    dispatcher: asyncio.Task[None]
    delay: float = 0.0  # seconds the core takes per event (a slow database, say)
    handled: list[Event] = field(default_factory=list)

    async def handle(self, event: Event) -> list[Outgoing]:
        self.handled.append(event)
        if self.delay:
            await asyncio.sleep(self.delay)
        return await self.app.handle(event)

    async def start(self) -> None:
        bind_adapter(self.app, self.adapter)
        await self.adapter.start(self.handle)

    async def restart(self) -> None:
        await self.adapter.stop()
        await self.start()

    # --- acting as users -------------------------------------------------------------------

    async def command(
        self, user: int, where: Where, name: str, **options: Any
    ) -> InteractionRecord:
        record = await self.emu.slash_command(user, where, name, options)
        await record.response()
        return record

    async def press(
        self, user: int, message: MessageRecord, label: str, *, expect: str
    ) -> MessageRecord:
        """Press the button whose label contains `label`; the bot's message saying `expect`."""
        record = await self.emu.press_button(user, message, custom_id(message, label))
        return await said(self.emu, record, expect)

    async def answer(
        self, user: int, message: MessageRecord, text: str, *, expect: str
    ) -> MessageRecord:
        """Press "Answer" on a free-text step, type `text` in the modal and submit it."""
        return await said(self.emu, await self.submit(user, message, text), expect)

    async def submit(self, user: int, message: MessageRecord, text: str) -> InteractionRecord:
        opened = await self.emu.press_button(user, message, custom_id(message, "Answer"))
        modal = await opened.response()
        assert modal.type == 9, modal
        return await self.emu.submit_modal(user, None, modal.data["custom_id"], {"text": text})

    async def dm(self, user: int, expect: str) -> MessageRecord:
        """The bot's DM to `user` that says `expect` (sent through the outbox)."""
        return await self.emu.wait_for_message(
            lambda m: expect in text_of(m), channel_id=self.emu.dm_channel(user).id
        )

    async def rows(self, model: Any, *where: Any) -> list[Any]:
        async with self.app.sessions() as session:
            return list(await session.scalars(select(model).where(*where)))


def text_of(message: MessageRecord) -> str:
    """What a member reads: the content and the embeds, markdown escapes removed."""
    parts = [message.content]
    for embed in message.embeds:
        parts += [embed.get("title") or "", embed.get("description") or ""]
    return unescape("\n".join(parts))


def unescape(text: str) -> str:
    text = re.sub(r"(?<!\\)\*+", "", text)
    return re.sub(r"\\([^0-9A-Za-z\s])", r"\1", text).replace("\u200b", "")


def labels(message: MessageRecord) -> dict[str, str]:
    """custom_id -> label of the message's buttons."""
    found: dict[str, str] = {}
    for row in message.components:
        for item in row.get("components", []):
            if item.get("custom_id"):
                found[item["custom_id"]] = item.get("label") or ""
    return found


def custom_id(message: MessageRecord, label: str) -> str:
    for key, shown in labels(message).items():
        if label.lower() in shown.lower():
            return key
    raise AssertionError(f"no button {label!r} on {text_of(message)!r}: {labels(message)}")


def messages_of(record: InteractionRecord) -> list[MessageRecord]:
    return [m for m in [record.original, *record.followups] if m is not None and not m.deleted]


async def said(emu: DiscordEmulator, record: InteractionRecord, expect: str) -> MessageRecord:
    """Wait until one of the bot's answers to `record` says `expect`, and return it."""

    def find() -> MessageRecord | None:
        return next((m for m in messages_of(record) if expect in text_of(m)), None)

    try:
        found = await emu.wait_for(find, timeout=5)
    except TimeoutError:
        shown = [text_of(m) for m in messages_of(record)]
        raise AssertionError(f"never said {expect!r}; said {shown}") from None
    assert found is not None
    return found


@contextlib.asynccontextmanager
async def running_world(tmp_path: Path, **emulator: Any) -> AsyncIterator[World]:
    emu = DiscordEmulator(token=TOKEN, app_id=APP_ID, bot_user_id=APP_ID, **emulator)
    async with emu:
        for user, name in ((ALICE, "alice"), (HASSAN, "hassan"), (YASMINE, "yasmine")):
            emu.add_user(user, name, name.capitalize(), locale="en-US")
        emu.add_user(BOB, "bob", "Bob", locale="en-US")
        emu.add_guild(
            GUILD,
            "CDS Souss-Massa",
            channels=[(GENERAL, "general"), (ANNOUNCES, "annonces")],
            members=[HASSAN, YASMINE, {"id": BOB, "roles": [MANAGERS_ROLE]}],
            roles=[{"id": MANAGERS_ROLE, "name": "managers", "permissions": MANAGE_GUILD}],
            owner_id=ALICE,
        )
        settings = load_settings(
            overrides={"database": {"url": f"sqlite+aiosqlite:///{tmp_path / 'cds.db'}"}}
        )
        adapter = DiscordAdapter(
            DiscordConfig(
                token=TOKEN,
                api_base_url=emu.api_base,
                gateway_url=emu.gateway_url,
                default_language="en",
                guild_ready_timeout=0.1,
                reidentify_delay=0.0,
            )
        )
        community = Community(
            default_language="en", community_managers=frozenset({f"discord:{ALICE}"})
        )
        app = await build_app(
            settings, messengers={Platform.DISCORD: adapter.messenger}, community=community
        )
        async with app.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        stop = asyncio.Event()
        dispatcher = asyncio.create_task(app.dispatcher.run(stop, app.wake, 0.05))
        world = World(emu, app, adapter, stop, dispatcher)
        # The patch lasts until the adapter has stopped: stopping puts back the addresses it
        # found at start, which must not outlive this emulator.
        with emu.patch_discord():
            try:
                await world.start()
                yield world
            finally:
                stop.set()
                await adapter.stop()
                await dispatcher
                await app.aclose()
        assert emu.unhandled == []


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with running_world(tmp_path) as running:
        yield running


# ------------------------------------------------------------------------------ the set-up


async def open_project(world: World) -> None:
    """Alice registers #annonces, creates and opens a project, and makes Hassan its leader;
    every free-text step of her conversation is a modal."""
    # Hassan is known once his /start is answered (not only deferred): Alice names him below.
    await said(world.emu, await world.command(HASSAN, GENERAL, "start"), "Welcome")
    linked = await world.command(ALICE, ANNOUNCES, "linkgroup", tags="souss")
    registered = await said(world.emu, linked, "This group is registered")
    assert not registered.ephemeral  # the channel sees it

    started = await world.command(ALICE, GENERAL, "newproject")
    card = await said(world.emu, started, "Its short name")
    assert card.ephemeral and card.visible_to == ALICE
    steps = (
        ("argan-tafraout", "Give it a short title"),
        ("Coopérative d'argan de Tafraout", "Describe it in a few sentences"),
        ("Des femmes de Tafraout produisent l'huile d'argan.", "Where does it take place"),
        ("Tafraout", "A few keywords"),
        ("souss, argan", "Publish it now"),
    )
    for text, question in steps:
        card = await world.answer(ALICE, card, text, expect=question)
    card = await world.press(ALICE, card, "Publish now", expect="Create this project?")
    await world.press(ALICE, card, "Confirm", expect="is created and open")

    granted = await world.command(ALICE, GENERAL, "grant", details="@hassan leader argan-tafraout")
    await said(world.emu, granted, "Hassan is now a leader")
    await world.dm(HASSAN, "You are now a leader of “Coopérative d'argan de Tafraout”")


async def add_need(world: World, title: str = "Guides bilingues pour les visiteurs") -> int:
    """Hassan adds a skills need through the /addneed conversation; returns its number."""
    completion = await world.emu.autocomplete(HASSAN, GENERAL, "addneed", "project", "ARG")
    choices = (await completion.response()).data["choices"]
    assert choices[0]["value"] == "argan-tafraout"
    started = await world.command(HASSAN, GENERAL, "addneed", project="argan-tafraout")
    card = await said(world.emu, started, "What kind of contribution")
    card = await world.press(HASSAN, card, "Skills", expect="A short title")
    card = await world.answer(HASSAN, card, title, expect="The details")
    card = await world.answer(HASSAN, card, "Accueillir les groupes l'été.", expect="effort")
    card = await world.answer(HASSAN, card, "2 jours", expect="deadline")
    card = await world.press(HASSAN, card, "Skip", expect="Save it?")
    done = await world.press(HASSAN, card, "Confirm", expect="Need added")
    return int(re.search(r"/announce (\d+)", text_of(done)).group(1))  # type: ignore[union-attr]


async def announce(world: World, need: int) -> MessageRecord:
    record = await world.command(HASSAN, GENERAL, "announce", need=str(need))
    await said(world.emu, record, "Announced in 1 groups")
    return await world.emu.wait_for_message(
        lambda m: bool(m.embeds) and f"#{need}" in text_of(m), channel_id=ANNOUNCES
    )


async def offer_from_card(
    world: World, card: MessageRecord, message: str = "Je guide en darija et en anglais."
) -> int:
    """Yasmine presses "I can help" and goes through the offer, ephemerally, in place."""
    started = await world.emu.press_button(YASMINE, card, custom_id(card, "I can help"))
    step = await said(world.emu, started, "What will you bring?")
    assert step.ephemeral and step.visible_to == YASMINE
    step = await world.press(YASMINE, step, "Skills", expect="What do you offer")
    step = await world.answer(YASMINE, step, message, expect="How much time")
    step = await world.press(YASMINE, step, "A few hours", expect="May I give your contact")
    step = await world.press(YASMINE, step, "Yes, share", expect="Your offer:")
    sent = await world.press(YASMINE, step, "Send my offer", expect="is sent")
    return int(re.search(r"offer no\. (\d+) is sent", text_of(sent)).group(1))  # type: ignore[union-attr]


# ------------------------------------------------------------------------------ journeys


async def test_whole_journey(world: World) -> None:
    emu = world.emu
    await open_project(world)
    need = await add_need(world)

    # The announcement: an embed in #annonces, with its persistent "I can help" button.
    card = await announce(world, need)
    embed = card.embeds[0]
    assert embed["title"].startswith("📣 Coopérative d'argan de Tafraout")
    assert "Guides bilingues pour les visiteurs" in embed["description"]
    assert card.allowed_mentions == {"parse": []} and not card.mention_everyone
    assert custom_id(card, "I can help") == f"1|help|{need}"

    offer = await offer_from_card(world, card)
    note = await world.dm(HASSAN, "New offer from Yasmine")
    assert f"Offer no. {offer}" in text_of(note)

    # Hassan decides from his DMs: accept, then mark done; Yasmine hears each time.
    accepted = await world.press(HASSAN, note, "Accept", expect="You accepted offer")
    await world.dm(YASMINE, f"Hassan accepted your offer no. {offer}")
    await world.press(HASSAN, accepted, "Mark done", expect="is marked as done")
    await world.dm(YASMINE, "is marked as done")

    # Closing the need edits the announcement: no more button.
    closed = await world.command(HASSAN, GENERAL, "closeneed", need=str(need), status="fulfilled")
    await said(emu, closed, "is now fulfilled")
    await emu.wait_for(lambda: "This need is fulfilled" in text_of(emu.message(card.id)))
    assert emu.message(card.id).components == []

    mine = await world.command(YASMINE, GENERAL, "myoffers")
    listed = await said(emu, mine, f"Offer no. {offer} · done")
    assert listed.ephemeral
    [row] = await world.rows(Offer, Offer.id == offer)
    assert row.status == "done"
    assert all(r.reply is not None and r.reply.elapsed < 3 for r in emu.interactions.values())
    assert emu.count_429 == 0


async def test_commands_are_synced_translated_and_staff_ones_hidden(world: World) -> None:
    emu = world.emu
    commands = {c["name"]: c for c in emu.commands()}
    assert {"projects", "offer", "myoffers", "link", "linkgroup", "publish"} <= set(commands)
    publish = commands["publish"]
    assert int(publish["default_member_permissions"]) == MANAGE_GUILD
    assert commands["offer"]["default_member_permissions"] is None
    assert commands["offer"]["options"][0]["autocomplete"] is True
    assert commands["help"]["description_localizations"]["fr"] == "ce que vous pouvez faire"
    kinds = commands["needs"]["options"][0]["choices"]
    assert {"name": "Skills", "value": "skills", "name_localizations": {"fr": "Compétences"}} in (
        kinds
    )
    # Hidden from members by Discord itself...
    with pytest.raises(PermissionError):
        await emu.slash_command(YASMINE, GENERAL, "publish", {"project": "x"})
    # ...and still checked by the bot for someone who may see it.
    refused = await world.command(BOB, GENERAL, "publish", project="argan-tafraout")
    await said(emu, refused, "Only a community manager can do that")


async def test_a_persistent_button_works_after_a_restart(world: World) -> None:
    await open_project(world)
    need = await add_need(world)
    card = await announce(world, need)
    await world.restart()
    assert world.emu.identify_count == 2
    await offer_from_card(world, card)
    await world.dm(HASSAN, "New offer from Yasmine")


async def test_hostile_text_in_a_modal_is_kept_and_shown_as_typed(world: World) -> None:
    emu = world.emu
    await open_project(world)
    need = await add_need(world)
    started = await world.command(YASMINE, GENERAL, "offer", need=str(need))
    step = await said(emu, started, "What will you bring?")
    step = await world.press(YASMINE, step, "Skills", expect="What do you offer")
    # 4000 characters: more than an offer takes. Refused in words, and asked again.
    too_long = await world.submit(YASMINE, step, ((HOSTILE + " ") * 40)[:4000])
    refused = await said(emu, too_long, "That is too long")
    assert "at most 1000 characters, you sent 4000" in text_of(refused)
    step = await said(emu, too_long, "What do you offer")
    step = await world.answer(YASMINE, step, HOSTILE, expect="How much time")
    step = await world.press(YASMINE, step, "A few hours", expect="May I give your contact")
    step = await world.press(YASMINE, step, "No, keep", expect="Your offer:")
    await world.press(YASMINE, step, "Send my offer", expect="is sent")

    [offer] = await world.rows(Offer)
    assert offer.message == HOSTILE.strip()
    note = await world.dm(HASSAN, "New offer from Yasmine")
    assert HOSTILE.strip() in text_of(note)
    for message in emu.all_messages():
        assert not message.mention_everyone and message.mentions == []
        assert message.mention_roles == []
        assert len(message.content) <= 2000
    assert not re.search(r"(?<!\\)<@", note.content) and "\\*\\*Je\\*\\*" in note.content


async def test_slow_work_is_deferred_and_answered_in_time(world: World) -> None:
    world.delay = 3.5  # longer than Discord waits for a first answer
    record = await world.emu.slash_command(YASMINE, GENERAL, "projects", {})
    reply = await record.response()
    assert reply.type == 5 and reply.elapsed < 1.0
    answer = await said(world.emu, record, "There are no open projects yet")
    assert not answer.loading and not answer.ephemeral


async def test_a_member_with_closed_dms_gets_the_decision_later(world: World) -> None:
    emu = world.emu
    await open_project(world)
    need = await add_need(world)
    offer = await offer_from_card(world, await announce(world, need))
    note = await world.dm(HASSAN, "New offer from Yasmine")
    emu.close_dms(YASMINE)

    # Hassan declines with a reason, typed in a modal from his DMs.
    asked = await world.press(HASSAN, note, "Decline", expect="Why do you decline")
    await world.answer(HASSAN, asked, "Plus de place cet été", expect="You declined offer")
    await world.dm(HASSAN, "I could not write to Yasmine privately")
    await emu.wait_for(lambda: emu.dm_messages(YASMINE) == [] and len(emu.dm_messages(HASSAN)) > 3)
    [identity] = await world.rows(MemberIdentity, MemberIdentity.external_id == str(YASMINE))
    assert identity.unreachable
    [held] = await world.rows(Delivery, Delivery.purpose == f"offer:{offer}:declined")
    assert held.status == "held"

    # Her next interaction shows what waited for her, ephemerally, once.
    back = await world.command(YASMINE, GENERAL, "help")
    waited = await said(emu, back, "these messages waited for you")
    assert waited.ephemeral
    reason = await said(emu, back, "Their reason: Plus de place cet été")
    assert reason.ephemeral and reason.visible_to == YASMINE
    again = await world.command(YASMINE, GENERAL, "help")
    await said(emu, again, "For everyone")
    assert not any("waited for you" in text_of(m) for m in messages_of(again))


async def test_forged_custom_ids_change_nothing(world: World) -> None:
    emu = world.emu
    await open_project(world)
    need = await add_need(world)
    card = await announce(world, need)
    offer = await offer_from_card(world, card)
    channel = emu.channels[GENERAL]

    async def forged(custom: str) -> InteractionRecord:
        data = {"custom_id": custom, "component_type": 2}
        record = emu._interact(InteractionType.MESSAGE_COMPONENT, YASMINE, channel, data, None)
        await record.response()
        return record

    for custom in ("not-ours", "2|acc|1", "1|" + "x" * 99, "1|dlg|offer|kind|skills"):
        record = await forged(custom)
        await said(emu, record, "This button has expired")
        assert messages_of(record)[0].ephemeral
    accept = await forged(f"1|acc|{offer}")  # Yasmine is no leader
    await said(emu, accept, "Only a leader of the project can do that")
    close = await forged("1|pub|argan-tafraout")
    await said(emu, close, "Only a community manager can do that")
    [row] = await world.rows(Offer, Offer.id == offer)
    assert row.status == "pending"


async def test_linking_with_telegram_then_one_myoffers(world: World) -> None:
    emu = world.emu
    await open_project(world)
    first = await add_need(world)
    second = await add_need(world, "Traduire la brochure en espagnol")
    await offer_from_card(world, await announce(world, first))

    # The same Yasmine on Telegram (through the core, as the Telegram adapter would).
    async def on_telegram(incoming: Incoming) -> str:
        identity = Identity(Platform.TELEGRAM, TELEGRAM_YASMINE, "yasmine_t", "Yasmine", "en")
        place = Place(Platform.TELEGRAM, TELEGRAM_YASMINE, True)
        replies = await world.app.handle(Event(identity, place, incoming))
        return "\n".join(r.text.plain for r in replies if hasattr(r, "text"))

    await on_telegram(Command("offer", (str(second),)))
    for incoming in (
        Press("dlg", ("offer", "kind", "skills")),
        Text("Je traduis en espagnol, depuis Telegram."),
        Press("dlg", ("offer", "availability", "one_off")),
        Press("dlg", ("offer", "share_contact", "no")),
    ):
        await on_telegram(incoming)
    assert "is sent" in await on_telegram(Press("dlg", ("offer", "send", "yes")))

    shown = await world.command(YASMINE, GENERAL, "link")
    code_message = await said(emu, shown, "Your linking code")
    assert code_message.ephemeral
    code = re.search(r"/link ([A-Z0-9]{6})", text_of(code_message)).group(1)  # type: ignore[union-attr]
    assert "Your accounts are linked (Discord, Telegram)" in await on_telegram(
        Command("link", (code,))
    )

    mine = await world.command(YASMINE, GENERAL, "myoffers")
    await said(emu, mine, "Guides bilingues pour les visiteurs")
    await said(emu, mine, "Traduire la brochure en espagnol")
    members = {
        i.member_id
        for i in await world.rows(MemberIdentity)
        if i.external_id in (str(YASMINE), TELEGRAM_YASMINE)
    }
    assert len(members) == 1


async def test_gateway_disconnect_and_resume_loses_no_interaction(world: World) -> None:
    emu = world.emu
    async with emu.gateway_offline():
        await emu.drop_connection()
        record = await emu.slash_command(YASMINE, GENERAL, "needs", {})
    await emu.wait_for(lambda: emu.resume_count == 1, timeout=10)
    reply = await record.response()
    assert reply.type == 5 and reply.elapsed < 3
    await said(emu, record, "No open needs right now")
    assert emu.identify_count == 1 and emu.resumes[0].replayed >= 1


async def test_servers_and_channels_come_and_go(world: World) -> None:
    emu = world.emu

    async def chats() -> dict[str, Chat]:
        return {c.external_id: c for c in await world.rows(Chat)}

    # The bot is added to a second server: its channels are known at once.
    lyon = [(21, "accueil"), (22, "annonces-lyon")]
    emu.add_guild(20, "Diaspora Lyon", channels=lyon, members=[YASMINE], owner_id=ALICE)
    await wait_db(chats, lambda found: {"21", "22"} <= set(found))
    assert (await chats())["21"].title == "Diaspora Lyon #accueil"
    assert not (await chats())["22"].registered
    linked = await world.command(ALICE, 22, "linkgroup")
    await said(emu, linked, "This group is registered")

    emu.delete_channel(22)
    await wait_db(chats, lambda found: not found["22"].active)
    emu.remove_guild(20)
    await wait_db(chats, lambda found: not found["21"].active)
    assert (await chats())["22"].registered  # kept: it comes back if the bot does


async def test_missing_permission_is_reported_once_and_polls_are_native(world: World) -> None:
    emu = world.emu
    await open_project(world)
    emu.deny_channel(ANNOUNCES)
    need = await add_need(world)
    record = await world.command(HASSAN, GENERAL, "announce", need=str(need))
    await said(emu, record, "Announced in 1 groups")
    await wait_db(
        lambda: world.rows(Delivery, Delivery.purpose == f"announce:need:{need}"),
        lambda found: found and found[0].status == "failed",
    )
    await world.dm(ALICE, "I am not allowed to post in CDS Souss-Massa #annonces (Discord)")
    # Another announcement there fails too, without a second report.
    other = await add_need(world, "Traduire la brochure")
    record = await world.command(HASSAN, GENERAL, "announce", need=str(other))
    await said(emu, record, "Announced in 1 groups")
    await wait_db(
        lambda: world.rows(Delivery, Delivery.purpose == f"announce:need:{other}"),
        lambda found: found and found[0].status == "failed",
    )
    posts = [r for r in emu.requests if r.path == f"/channels/{ANNOUNCES}/messages"]
    assert len(posts) == 2  # one try each, never retried in a loop
    reports = [m for m in emu.dm_messages(ALICE) if "not allowed to post" in text_of(m)]
    assert len(reports) == 1

    poll_id = await world.adapter.messenger.send(
        Target(Platform.DISCORD, str(GENERAL), False),
        Poll("Quel jour pour l'atelier ?", ("Samedi", "Dimanche")),
    )
    poll = emu.message(int(poll_id or 0))
    assert poll.poll is not None
    assert [a["poll_media"]["text"] for a in poll.poll["answers"]] == ["Samedi", "Dimanche"]
    # A member votes (Discord numbers the answers from 1), then takes the vote back.
    for event in ("MESSAGE_POLL_VOTE_ADD", "MESSAGE_POLL_VOTE_REMOVE"):
        vote = {"user_id": str(YASMINE), "channel_id": str(GENERAL), "message_id": str(poll.id)}
        vote |= {"guild_id": str(GUILD), "answer_id": 2}
        emu._dispatch(event, vote, intent=1 << 24)
    await emu.wait_for(lambda: sum(isinstance(e.incoming, Vote) for e in world.handled) == 2)
    votes = [e for e in world.handled if isinstance(e.incoming, Vote)]
    assert [v.incoming for v in votes] == [Vote(str(poll.id), (1,)), Vote(str(poll.id), ())]
    assert votes[0].place == Place(Platform.DISCORD, str(GENERAL), False)
    assert votes[0].identity.user_id == str(YASMINE)


async def wait_db(read: Callable[[], Awaitable[Any]], check: Callable[[Any], Any]) -> None:
    """Wait (5 s at most) until `check` holds for what `read` finds in the database."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    while True:
        found = await read()
        if check(found):
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met; last: {found!r}")
        await asyncio.sleep(0.05)


async def test_the_messenger_speaks_the_outbox_language(world: World) -> None:
    emu, messenger = world.emu, world.adapter.messenger
    general = Target(Platform.DISCORD, str(GENERAL), False)
    linked = await world.command(ALICE, GENERAL, "linkgroup")
    await said(emu, linked, "This group is registered")
    hello = Message(Rich.of("Bonjour @everyone"))

    emu.fail_next("POST", rf"^/channels/{GENERAL}/messages$", 403, 50013)
    with pytest.raises(NotPermitted):
        await messenger.send(general, hello)
    emu.close_dms(YASMINE)
    with pytest.raises(Unreachable):
        await messenger.send(Target(Platform.DISCORD, str(YASMINE), True), hello)
    with pytest.raises(SendFailed):
        await messenger.send(Target(Platform.DISCORD, "not-an-id", True), hello)
    emu.fail_next("POST", rf"^/channels/{GENERAL}/messages$", 429, retry_after=0.2)
    assert await messenger.send(general, hello)  # discord.py waited and sent it again
    emu.fail_next("POST", rf"^/channels/{GENERAL}/messages$", 404, 10003)
    with pytest.raises(SendFailed):
        await messenger.send(general, hello)
    await wait_db(
        lambda: world.rows(Chat, Chat.external_id == str(GENERAL)),
        lambda found: found and not found[0].active,
    )
    [sent] = [m for m in emu.messages(GENERAL) if m.author_id == APP_ID and m.embeds]
    assert sent.embeds[0]["title"] == "Bonjour @\u200beveryone" and not sent.mention_everyone
