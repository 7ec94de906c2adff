"""Whole journeys on Telegram: the real python-telegram-bot `Application` of the adapter, the
real app (database, core, outbox dispatcher), and the Bot API emulator on 127.0.0.1.

People: alice is a community manager (by configuration), hassan leads the argan cooperative,
yasmine and karim are members. The group is a registered Telegram group of the diaspora.
Journeys use Telegram's overall and group limits; private chats allow a human's pace of
messages (a test answers faster than anyone types), except where the limits are the subject.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import App, bind_adapter, build_app
from bot.config import load_settings
from bot.importer import apply_catalogue, catalogue_from_data
from bot.telegram import TelegramAdapter, create_adapter
from handlers.chat import (
    Button,
    Document,
    Image,
    Message,
    MessageRef,
    Platform,
    Poll,
    Rich,
    Target,
    bold,
    rows,
)
from handlers.context import Community
from store.models import Chat, Delivery, MemberIdentity, Offer
from store.uow import UnitOfWork
from tests.emulators.telegram import RateLimits, SentMessage, TelegramEmulator, User

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:TEST-token"
BOT = "cds_test_bot"
ALICE, HASSAN, YASMINE, KARIM = 1001, 1002, 1003, 1004
GROUP = -1001500
HUMAN_PACE = RateLimits(private=100, private_window=1.0)
WAIT = 10.0
SKILLS_MESSAGE = "Je peux guider les visiteurs en darija, <b>français</b> et anglais @everyone"
REASON = "Le financement de la presse est déjà réuni"


def catalogue(today: datetime) -> dict[str, Any]:
    deadline = (today + timedelta(weeks=12)).date().isoformat()
    return {
        "projects": [
            {
                "slug": "argan-tafraout",
                "title": "Coopérative féminine d'argan de Tafraout",
                "summary": "Trente femmes pressent et vendent leur huile d'argan.",
                "territory": "Tafraout",
                "tags": ["argan", "souss-massa"],
                "status": "open",
                "leaders": [f"telegram:{HASSAN}"],
                "needs": [
                    {
                        "kind": "funding",
                        "title": "Presse à huile semi-automatique",
                        "target_amount": 15000,
                        "currency": "MAD",
                        "deadline": deadline,
                    },
                    {"kind": "expertise", "title": "Conseil pour la certification bio"},
                ],
            },
            {
                "slug": "bibliotheque-tiznit",
                "title": "Bibliothèque de l'école primaire de Tiznit",
                "summary": "Une salle vide à transformer en bibliothèque.",
                "territory": "Tiznit",
                "tags": ["education"],
                "status": "open",
                "needs": [{"kind": "skills", "title": "Montage des étagères"}],
            },
            {
                "slug": "sentier-imsouane",
                "title": "Sentier d'écotourisme d'Imsouane",
                "summary": "Baliser un sentier côtier.",
                "territory": "Imsouane",
                "tags": ["tourisme"],
                "status": "draft",
                "proposed_by": f"telegram:{YASMINE}",
            },
        ]
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class World:
    """The emulator, and the bot as `cds-bot run` wires it, on one database."""

    def __init__(self, emu: TelegramEmulator, url: str) -> None:
        self.emu = emu
        self.url = url
        self.community = Community(
            default_language="en", community_managers=frozenset({f"telegram:{ALICE}"})
        )
        self.alice = emu.add_user(ALICE, "Alice", "alice", "en")
        self.hassan = emu.add_user(HASSAN, "Hassan", "hassan", "en")
        self.yasmine = emu.add_user(YASMINE, "Yasmine", "yasmine", "en")
        self.karim = emu.add_user(KARIM, "Karim", "karim", "en")
        self._app: App | None = None
        self._adapter: TelegramAdapter | None = None
        self._stop = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None

    @property
    def app(self) -> App:
        assert self._app is not None
        return self._app

    @property
    def adapter(self) -> TelegramAdapter:
        assert self._adapter is not None
        return self._adapter

    async def start(self, **options: Any) -> None:
        settings = load_settings(
            overrides={
                "database": {"url": self.url},
                "telegram": {
                    "token": TOKEN,
                    "base_url": self.emu.base_url,
                    "base_file_url": self.emu.base_file_url,
                },
                "access": {"community_managers": [f"telegram:{ALICE}"]},
                "community": {"default_language": "en"},
            }
        )
        self._adapter = create_adapter(settings, poll_timeout=2, **options)
        self._app = await build_app(
            settings,
            messengers={Platform.TELEGRAM: self._adapter.messenger},
            community=self.community,
        )
        bind_adapter(self._app, self._adapter)
        self._stop = asyncio.Event()
        await self._app.dispatcher.recover()
        self._dispatcher = asyncio.create_task(
            self._app.dispatcher.run(self._stop, self._app.wake, 0.2)
        )
        await self._adapter.start(self._app.handle)

    async def stop(self) -> None:
        if self._adapter is not None:
            await self._adapter.stop()
        self._stop.set()
        if self._dispatcher is not None:
            await self._dispatcher
        if self._app is not None:
            await self._app.aclose()
        self._app = self._adapter = self._dispatcher = None

    async def seed(self) -> None:
        """The projects, with hassan leading the argan cooperative."""
        now = datetime.now(UTC)
        async with UnitOfWork(self.app.sessions) as uow:
            await apply_catalogue(uow.session, catalogue_from_data(catalogue(now), now.date()), now)
            await uow.commit()

    # --- talking -----------------------------------------------------------------------------

    def mark(self) -> int:
        """The newest message id so far: what comes after it is new."""
        return max((m.message_id for m in self.emu.all_sent), default=0)

    async def next(
        self, chat: int | User, contains: str = "", *, after: int, seconds: float = WAIT
    ) -> SentMessage:
        """The first message the bot posted in `chat` after `after` that holds `contains`."""
        chat_id = chat if isinstance(chat, int) else chat.id
        return await self.emu.wait_for(
            lambda m: m.message_id > after and contains in (m.text or m.caption or ""),
            seconds,
            chat_id=chat_id,
        )

    async def says(
        self, user: User, chat: int | None, text: str, expect: str = "", where: int | None = None
    ) -> SentMessage:
        """`user` writes `text` (privately when `chat` is None); returns the answer."""
        mark = self.mark()
        self.emu.user_sends(user, chat, text)
        return await self.next(where or chat or user.id, expect, after=mark)

    async def press(
        self, user: User, message: SentMessage, ending: str, *, check: bool = True
    ) -> dict[str, Any]:
        """`user` presses the button whose data ends with `ending`; returns the callback answer
        (sent once the answers to the press are out)."""
        data = ending
        if check:
            data = next(d for d in message.callback_data if d.endswith(ending))
        update_id = self.emu.user_presses(user, message, data, check=check)
        query_id = next(
            u["callback_query"]["id"] for u in self.emu.updates if u["update_id"] == update_id
        )
        await self.emu.wait_for_request(
            lambda r: (
                r.method == "answerCallbackQuery" and r.params.get("callback_query_id") == query_id
            ),
            WAIT,
        )
        answer = self.emu.callback_answer(update_id)
        assert answer is not None
        return answer

    async def presses(
        self, user: User, message: SentMessage, ending: str, expect: str = ""
    ) -> SentMessage:
        """Press, then return the next message in the presser's chat with `expect`."""
        mark = self.mark()
        await self.press(user, message, ending)
        return await self.next(message.chat_id, expect, after=mark)

    async def offer(self, user: User, need: int, kind: str, message: str) -> int:
        """A whole offer conversation from the deep link; returns the offer number."""
        question = await self.says(user, None, f"/start offer-{need}", "What will you bring?")
        asked = await self.presses(user, question, f"|kind|{kind}", "What do you offer")
        asked = await self.says(user, None, message, "How much time")
        asked = await self.presses(user, asked, "|availability|few_hours")
        if kind == "funding":
            asked = await self.says(user, None, "200 EUR")
        asked = await self.presses(user, asked, "|share_contact|yes")
        sent = await self.presses(user, asked, "|send|yes", "is sent")
        return int(found(r"Your offer no\. (\d+) is sent", sent))

    async def until(self, probe: Callable[[], Any], seconds: float = WAIT) -> Any:
        """Poll the database (or anything) until `probe` returns something truthy."""
        async with asyncio.timeout(seconds):
            while True:
                value = await probe()
                if value:
                    return value
                await asyncio.sleep(0.05)

    async def scalar(self, statement: Any) -> Any:
        async with self.app.sessions() as session:
            return await session.scalar(statement)


def found(pattern: str, message: SentMessage) -> str:
    match = re.search(pattern, message.text or "")
    assert match is not None, f"{pattern!r} not in {message.text!r}"
    return match.group(1)


def need_ids(message: SentMessage) -> list[int]:
    return [int(n) for n in re.findall(r"#(\d+)", message.text or "")]


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(token=TOKEN, bot_username=BOT, rate_limits=HUMAN_PACE) as emulator:
        yield emulator


@pytest.fixture
async def world(emu: TelegramEmulator, migrated_url: str) -> AsyncIterator[World]:
    world = World(emu, migrated_url)
    await world.start()
    try:
        yield world
    finally:
        await world.stop()


async def registered_group(world: World, chat_id: int = GROUP, title: str = "Diaspora") -> None:
    """A group with everyone in it; alice adds the bot and registers the group."""
    emu = world.emu
    emu.add_group(
        chat_id,
        title,
        members=[world.hassan, world.yasmine, world.karim],
        admins=[world.alice],
        with_bot=False,
        supergroup=chat_id <= -1_000_000,  # basic groups have short ids
    )
    emu.add_bot_to_group(chat_id, by=world.alice)
    await world.until(lambda: world.scalar(select(Chat.id).where(Chat.external_id == str(chat_id))))
    await world.says(world.alice, chat_id, f"/linkgroup@{BOT} souss-massa", "is registered")


async def everyone_started(world: World) -> None:
    for user in (world.alice, world.hassan, world.yasmine):
        await world.says(user, None, "/start", f"Welcome to CDS Souss-Massa, {user.first_name}")
    await world.seed()


async def announced_need(world: World) -> tuple[int, SentMessage]:
    """hassan adds a need through the dialog and announces it; returns it and its card."""
    hassan = world.hassan
    asked = await world.says(hassan, None, "/addneed argan-tafraout")
    asked = await world.presses(hassan, asked, "|kind|skills")
    asked = await world.says(hassan, None, "Guides bilingues <pour> les visiteurs")
    asked = await world.says(hassan, None, "Accueillir les groupes de la diaspora & leurs amis.")
    asked = await world.says(hassan, None, "2 jours")
    asked = await world.presses(hassan, asked, "|deadline|__skip")
    added = await world.presses(hassan, asked, "|confirm|yes", "Need added")
    need = int(found(r"/announce (\d+)", added))
    mark = world.mark()
    await world.says(hassan, None, f"/announce {need}", "Announced in 1 groups")
    card = await world.next(GROUP, "Guides bilingues", after=mark)
    return need, card


# --- the journey --------------------------------------------------------------------------------


async def test_whole_journey(world: World) -> None:
    emu, alice, hassan, yasmine = world.emu, world.alice, world.hassan, world.yasmine
    await everyone_started(world)
    await registered_group(world)

    # alice publishes yasmine's draft and makes hassan one of its leaders, from her private chat
    mark = world.mark()
    await world.says(alice, None, "/publish sentier-imsouane", "is now open")
    await world.next(yasmine, "is published", after=mark)
    await world.says(alice, None, "/grant @hassan leader sentier-imsouane")
    await world.next(hassan, "You are now a leader of", after=mark)

    # hassan adds a need and announces it: an HTML card in the group, user text escaped
    need, card = await announced_need(world)
    assert "Guides bilingues <pour> les visiteurs" in (card.text or "")
    assert "Accueillir les groupes de la diaspora & leurs amis." in (card.text or "")
    assert card.parse_mode == "HTML"
    assert {"type": "bold", "offset": 3, "length": 40} in card.entities
    assert card.button("🙋 I can help")["url"] == f"https://t.me/{BOT}?start=offer-{need}"
    assert card.button("ℹ️ Project")["callback_data"] == "1|proj|argan-tafraout"

    # in the group, browsing answers in the group, briefly, as a reply
    listed = await world.says(yasmine, GROUP, "/projects", "Open projects")
    assert listed.reply_to_message_id is not None
    await world.says(yasmine, GROUP, f"/needs@{BOT}", "Guides bilingues")
    assert emu.user_sends(yasmine, GROUP, "/needs@another_bot") is None  # not for us

    # the deep link of the card opens yasmine's private chat at the offer
    skills = await world.offer(yasmine, need, "skills", SKILLS_MESSAGE)
    note = await world.next(hassan, f"Offer no. {skills}", after=mark)
    assert "New offer from Yasmine" in (note.text or "")
    assert SKILLS_MESSAGE in (note.text or "")  # exactly as typed, markup and mention included

    # a second offer from the project card in private: there "I can help" is a button
    project = await world.says(yasmine, None, "/project argan-tafraout", "Presse à huile")
    funding_need = min(need_ids(project))
    asked = await world.presses(yasmine, project, f"|help|{funding_need}", "What will you bring?")
    asked = await world.presses(yasmine, asked, "|kind|funding")
    asked = await world.says(yasmine, None, "Pour la presse, de la part de ma famille")
    asked = await world.presses(yasmine, asked, "|availability|one_off")
    asked = await world.says(yasmine, None, "200 EUR")
    asked = await world.presses(yasmine, asked, "|share_contact|no")
    sent = await world.presses(yasmine, asked, "|send|yes", "is sent")
    funding = int(found(r"Your offer no\. (\d+) is sent", sent))
    note = await world.next(hassan, f"Offer no. {funding}", after=mark)
    assert "200 EUR" in (note.text or "")

    # personal commands typed in the group are answered privately
    mark = world.mark()
    await world.says(yasmine, GROUP, "/myoffers", "answered you in a private message")
    await world.next(yasmine, "Your offers, newest first", after=mark)

    # hassan reviews: declines the pledge with a reason, accepts the skills, marks it done
    mark = world.mark()
    emu.user_sends(hassan, None, "/offers")
    review = await world.next(hassan, f"Offer no. {funding}", after=mark)
    asked = await world.presses(hassan, review, f"|dec|{funding}")
    await world.says(hassan, None, REASON, f"You declined offer no. {funding}; I told Yasmine.")
    declined = await world.next(yasmine, f"declined your offer no. {funding}", after=mark)
    assert f"Their reason: {REASON}" in (declined.text or "")
    emu.user_sends(hassan, None, "/offers")
    review = await world.next(hassan, f"Offer no. {skills}", after=world.mark())
    accepted = await world.presses(hassan, review, f"|acc|{skills}", "You accepted")
    await world.next(yasmine, f"Hassan accepted your offer no. {skills}", after=mark)
    await world.presses(hassan, accepted, f"|done|{skills}", "is marked as done")
    await world.next(yasmine, "is marked as done", after=mark)

    # the need is fulfilled: its card in the group is edited in place, its buttons gone
    await world.says(hassan, None, f"/closeneed {need} fulfilled", f"Need #{need} is now")
    edited = await emu.wait_for(
        lambda m: m.message_id == card.message_id and "fulfilled" in (m.text or ""), WAIT
    )
    assert edited.history and edited.reply_markup is None
    assert "Guides bilingues <pour> les visiteurs" in (edited.text or "")

    async with world.app.sessions() as session:
        rows = {row[0]: row[1] for row in await session.execute(select(Offer.id, Offer.status))}
    assert rows == {skills: "done", funding: "declined"}
    assert emu.count_429 == 0
    assert all(r.status == 200 for r in emu.calls("answerCallbackQuery"))


async def test_command_menus_per_audience_and_language(world: World) -> None:
    emu = world.emu
    await registered_group(world)
    private = [c["command"] for c in emu.commands({"type": "all_private_chats"}, "en")]
    assert "offer" in private and "addneed" not in private and "linkgroup" not in private
    group = [c["command"] for c in emu.visible_commands(world.yasmine, GROUP)]
    assert "projects" in group and "offer" not in group and "linkgroup" not in group
    admins = [c["command"] for c in emu.visible_commands(world.alice, GROUP)]
    assert {"linkgroup", "unlinkgroup", "groups"} <= set(admins)
    staff = [c["command"] for c in emu.visible_commands(world.alice, ALICE)]
    assert {"publish", "grant", "newproject", "projects"} <= set(staff)
    french = {
        c["command"]: c["description"] for c in emu.commands({"type": "all_group_chats"}, "fr")
    }
    english = {
        c["command"]: c["description"] for c in emu.commands({"type": "all_group_chats"}, "en")
    }
    assert french.keys() == english.keys()
    assert french["projects"] != english["projects"]
    arabic = emu.commands({"type": "all_group_chats"}, "ar")
    assert len(arabic) == len(english)
    default = {c["command"]: c["description"] for c in emu.commands({"type": "all_group_chats"})}
    assert default == english  # the community's language (en in these tests)


async def test_deep_link_from_a_group_card_opens_the_private_offer(world: World) -> None:
    await everyone_started(world)
    await registered_group(world)
    need, card = await announced_need(world)
    link = card.button("🙋 I can help")["url"]
    payload = link.split("?start=", 1)[1]
    assert payload == f"offer-{need}"
    question = await world.says(world.karim, None, f"/start {payload}", "What will you bring?")
    assert "Guides bilingues" in (question.text or "")
    assert question.callback_data[0] == "1|dlg|offer|kind|skills"


async def test_a_member_whose_private_chat_is_closed(world: World) -> None:
    emu, hassan, yasmine, karim = world.emu, world.hassan, world.yasmine, world.karim
    await everyone_started(world)
    await registered_group(world)
    need, _card = await announced_need(world)

    # karim never started the bot: he is told in the group, with the deep link to the offer
    notice = await world.says(karim, GROUP, f"/offer {need}", "can't write to you privately")
    assert (notice.text or "").startswith("Karim, ")
    assert notice.button("Open a chat with me")["url"] == f"https://t.me/{BOT}?start=offer-{need}"
    assert "answered you in a private message" not in " ".join(
        m.text or "" for m in emu.sent(GROUP)
    )
    unreachable = select(MemberIdentity.unreachable).where(MemberIdentity.external_id == str(KARIM))
    assert await world.scalar(unreachable) is True
    # nothing is lost: the link opens the private chat at the offer
    await world.says(karim, None, f"/start offer-{need}", "What will you bring?")
    assert await world.scalar(unreachable) is False

    # yasmine offers, then blocks the bot; hassan accepts: he hears that she could not be told
    offer = await world.offer(yasmine, need, "skills", "Je connais bien la région")
    emu.block(yasmine)
    await world.until(
        lambda: world.scalar(
            select(MemberIdentity.unreachable).where(MemberIdentity.external_id == str(YASMINE))
        )
    )
    mark = world.mark()
    emu.user_sends(hassan, None, "/offers")
    review = await world.next(hassan, f"Offer no. {offer}", after=mark)
    await world.presses(hassan, review, f"|acc|{offer}", "You accepted")
    told = await world.next(hassan, "I could not write to Yasmine privately", after=mark)
    assert f"offer no. {offer}" in (told.text or "")
    held = await world.until(
        lambda: world.scalar(
            select(Delivery.id).where(
                Delivery.status == "held", Delivery.target == f"telegram:user:{YASMINE}"
            )
        )
    )
    assert held

    # she comes back: what waited for her is shown first
    emu.start_private(yasmine)
    mark = world.mark()
    emu.user_sends(yasmine, None, "/myoffers")
    await world.next(yasmine, "While I could not write to you", after=mark)
    await world.next(yasmine, f"Hassan accepted your offer no. {offer}", after=mark)


async def test_a_forged_button_for_another_leaders_offer_is_refused(world: World) -> None:
    emu, hassan, yasmine = world.emu, world.hassan, world.yasmine
    await everyone_started(world)
    project = await world.says(yasmine, None, "/project bibliotheque-tiznit", "Montage")
    tiznit_need = min(need_ids(project))
    offer = await world.offer(yasmine, tiznit_need, "skills", "Je monte des étagères")
    mark = world.mark()
    welcome = emu.sent(hassan)[0]  # any message of his with buttons will do

    answer = await world.press(hassan, welcome, f"1|acc|{offer}", check=False)
    assert "Only the leaders of “Bibliothèque de l'école primaire de Tiznit”" in answer["text"]
    assert answer["show_alert"] is True
    answer = await world.press(hassan, welcome, f"1|done|{offer}", check=False)
    assert "Only the leaders" in answer["text"]
    answer = await world.press(hassan, welcome, "not-a-payload", check=False)
    assert answer["text"] == "This button has expired; nothing was changed."

    await asyncio.sleep(0.5)  # let the outbox run: it must have nothing to send
    assert [m for m in emu.all_sent if m.message_id > mark] == []
    status = await world.scalar(select(Offer.status).where(Offer.id == offer))
    decided = await world.scalar(select(Offer.decided_by).where(Offer.id == offer))
    assert (status, decided) == ("pending", None)


async def test_an_offer_dialog_survives_a_restart(world: World) -> None:
    yasmine = world.yasmine
    await everyone_started(world)
    project = await world.says(yasmine, None, "/project argan-tafraout", "Conseil")
    expertise = max(need_ids(project))
    asked = await world.says(yasmine, None, f"/start offer-{expertise}", "What will you bring?")
    await world.presses(yasmine, asked, "|kind|expertise", "What do you offer")

    await world.stop()
    await world.start()

    asked = await world.says(
        yasmine, None, "Ingénieure agronome, deux coopératives certifiées.", "How much time"
    )
    asked = await world.presses(yasmine, asked, "|availability|ongoing")
    asked = await world.presses(yasmine, asked, "|share_contact|yes")
    sent = await world.presses(yasmine, asked, "|send|yes", "is sent")
    offer = int(found(r"Your offer no\. (\d+) is sent", sent))
    async with world.app.sessions() as session:
        row = (
            await session.execute(
                select(
                    Offer.need_id, Offer.kind, Offer.message, Offer.availability, Offer.status
                ).where(Offer.id == offer)
            )
        ).one()
    assert tuple(row) == (
        expertise,
        "expertise",
        "Ingénieure agronome, deux coopératives certifiées.",
        "ongoing",
        "pending",
    )
    await world.next(world.hassan, "New offer from Yasmine", after=0)


async def test_an_announcement_to_fifty_groups_within_the_limits(
    migrated_url: str,
) -> None:
    async with TelegramEmulator(token=TOKEN, bot_username=BOT) as emu:  # the real limits
        world = World(emu, migrated_url)
        await world.start()
        try:
            await everyone_started(world)
            groups = [-1_002_000_000_000 - i for i in range(50)]
            now = datetime.now(UTC)
            async with UnitOfWork(world.app.sessions) as uow:
                for index, chat_id in enumerate(groups):
                    emu.add_group(
                        chat_id, f"Groupe {index}", members=[world.yasmine], supergroup=True
                    )
                    uow.session.add(
                        Chat(
                            platform="telegram",
                            external_id=str(chat_id),
                            title=f"Groupe {index}",
                            tags=["souss-massa"],
                            registered=True,
                            active=True,
                            created_at=now,
                        )
                    )
                await uow.commit()
            project = await world.says(world.hassan, None, "/project argan-tafraout", "Conseil")
            need = max(need_ids(project))
            started = emu.clock()
            await world.says(world.hassan, None, f"/announce {need}", "Announced in 50 groups")
            await world.until(lambda: _all_have_a_card(emu, groups), seconds=30)
            took = emu.clock() - started
            assert emu.count_429 == 0  # the emulator holds each send to Telegram's windows
            assert took < 20  # 50 cards at about 30 a second: paced, not stalled
            # (a card still being sent when the need closes is not edited: see the report)
            recorded = (
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.purpose == f"announce:need:{need}", Delivery.status == "sent")
            )
            await world.until(lambda: _is(world.scalar(recorded), 50))
            await world.says(world.hassan, None, f"/closeneed {need} cancelled", "is now")
            await world.until(lambda: _all_edited(emu, groups), seconds=30)
            # (hassan's own quick commands may meet the private chat's limit: not a group's)
            assert [r for r in emu.requests if r.status == 429 and r.chat_id in groups] == []
        finally:
            await world.stop()


async def _all_have_a_card(emu: TelegramEmulator, groups: list[int]) -> bool:
    return all(any("Conseil" in (m.text or "") for m in emu.sent(g)) for g in groups)


async def _all_edited(emu: TelegramEmulator, groups: list[int]) -> bool:
    return all(any(m.history for m in emu.sent(g)) for g in groups)


async def test_a_migrated_group_keeps_its_registration(world: World) -> None:
    emu = world.emu
    await everyone_started(world)
    old, new = -4001, -1004001
    await registered_group(world, old, "Diaspora Agadir")
    emu.migrate_group(old, new)  # Telegram's two service messages
    await world.until(lambda: world.scalar(select(Chat.id).where(Chat.external_id == str(new))))
    assert await world.scalar(select(Chat.registered).where(Chat.external_id == str(new))) is True
    assert await world.scalar(select(func.count()).select_from(Chat)) == 1

    # a group migrated before the bot heard of it: the send meets ChatMigrated and follows
    other_old, other_new = -4002, -1004002
    await registered_group(world, other_old, "Diaspora Tiznit")
    emu.add_group(other_new, "Diaspora Tiznit", members=[world.yasmine], supergroup=True)
    emu.fail_next("sendMessage", other_old, "migrated", migrate_to=other_new)
    project = await world.says(world.hassan, None, "/project argan-tafraout", "Conseil")
    need = max(need_ids(project))
    await world.says(world.hassan, None, f"/announce {need}", "Announced in 2 groups")
    await world.next(new, "Conseil", after=0)
    await world.next(other_new, "Conseil", after=0)
    assert (
        await world.scalar(select(Chat.registered).where(Chat.external_id == str(other_new)))
        is True
    )
    sent = select(Delivery.status).where(Delivery.target == f"telegram:chat:{other_old}")
    assert await world.until(lambda: _is(world.scalar(sent), "sent"))  # recorded once sent


async def test_the_bot_removed_from_a_group_stops_announcing_there(world: World) -> None:
    emu = world.emu
    await everyone_started(world)
    await registered_group(world)
    emu.remove_bot_from_group(GROUP, by=world.alice)
    await world.until(
        lambda: _is(world.scalar(select(Chat.active).where(Chat.external_id == str(GROUP))), False)
    )
    project = await world.says(world.hassan, None, "/project argan-tafraout", "Conseil")
    need = max(need_ids(project))
    await world.says(world.hassan, None, f"/announce {need}", "No registered group matches")


async def _is(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_webhook_mode_checks_the_secret(emu: TelegramEmulator, migrated_url: str) -> None:
    port = free_port()
    world = World(emu, migrated_url)
    await world.start(
        mode="webhook",
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        listen="127.0.0.1",
        port=port,
        webhook_secret="s3cret-Token_1",
    )
    try:
        assert emu.webhook_url == f"http://127.0.0.1:{port}/telegram"
        assert emu.webhook_secret == "s3cret-Token_1"
        wrong = emu.user_sends(world.yasmine, None, "/start")
        assert wrong is not None
        assert await emu.push_webhook(wrong, secret="not-the-secret") == 403
        right = emu.user_sends(world.yasmine, None, "/start")
        assert right is not None
        assert await emu.push_webhook(right) == 200
        await world.next(world.yasmine, "Welcome to CDS Souss-Massa, Yasmine", after=0)
        await asyncio.sleep(0.3)
        assert len(emu.sent(world.yasmine)) == 1  # the refused update was never handled
    finally:
        await world.stop()


async def test_telegram_faults_in_the_outbox(emu: TelegramEmulator, migrated_url: str) -> None:
    world = World(emu, migrated_url)
    await world.start(read_timeout=0.5)
    try:
        await everyone_started(world)
        await registered_group(world)
        project = await world.says(world.hassan, None, "/project argan-tafraout", "Conseil")
        funding, expertise = sorted(need_ids(project))[:2]

        # a server error, then flood control: the card waits and is sent once
        emu.fail_next("sendMessage", GROUP, "server_error")
        emu.fail_next("sendMessage", GROUP, "flood", retry_after=1)
        await world.says(world.hassan, None, f"/announce {funding}", "Announced in 1 groups")
        card = await world.next(GROUP, "Presse à huile", after=0, seconds=20)
        assert [r.status for r in emu.calls("sendMessage", GROUP)][-3:] == [500, 429, 200]
        status = select(Delivery.status).where(Delivery.purpose == f"announce:need:{funding}")
        await world.until(lambda: _is(world.scalar(status), "sent"))
        attempts = select(Delivery.attempts).where(Delivery.purpose == f"announce:need:{funding}")
        assert await world.scalar(attempts) == 3
        assert card.message_id == int(
            await world.scalar(
                select(Delivery.message_id).where(Delivery.purpose == f"announce:need:{funding}")
            )
        )

        # the connection breaks after Telegram posted the card: unknown, never sent again
        emu.fail_next("sendMessage", GROUP, "lost")
        await world.says(world.hassan, None, f"/announce {expertise}", "Announced in 1 groups")
        lost = select(Delivery.status).where(Delivery.purpose == f"announce:need:{expertise}")
        await world.until(lambda: _is(world.scalar(lost), "unknown"))

        # a timeout hides whether the news reached yasmine: unknown, never sent again
        await world.says(world.yasmine, None, "/follow argan-tafraout")
        emu.fail_next("sendMessage", YASMINE, "slow", delay=1.0)
        await world.says(
            world.hassan, None, "/update argan-tafraout La presse arrive !", "sent to 1"
        )
        news = select(Delivery.status).where(Delivery.target == f"telegram:user:{YASMINE}")
        await world.until(lambda: _is(world.scalar(news), "unknown"))
        await asyncio.sleep(1.5)
        assert sum("Conseil" in (m.text or "") for m in emu.sent(GROUP)) == 1
        tried = [r for r in emu.calls("sendMessage", YASMINE) if "La presse" in r.params["text"]]
        assert len(tried) == 1  # asked once; whether it arrived is unknown
    finally:
        await world.stop()


async def test_long_texts_polls_and_files_reach_telegram(world: World) -> None:
    emu, yasmine = world.emu, world.yasmine
    await world.says(yasmine, None, "/start", "Welcome")
    messenger = world.adapter.messenger
    to = Target(Platform.TELEGRAM, str(YASMINE), True)
    words = Rich.join([bold(f"mot{i}") if i % 5 == 0 else f"<mot{i}>" for i in range(1500)], " ")
    buttons = rows(Button("↩️ Withdraw", "wd", ("1",)))
    mark = world.mark()
    last = await messenger.send(to, Message(words, buttons))
    long = [m for m in emu.sent(yasmine) if m.message_id > mark]
    assert len(long) == 4 and all(len(m.text or "") <= 4096 for m in long)
    assert " ".join(m.text or "" for m in long).split() == words.plain.split()
    assert [m.reply_markup is not None for m in long] == [False, False, False, True]
    assert last == str(long[-1].message_id)

    # editing to the same content is not an error
    ref = MessageRef(to, last or "")
    await messenger.edit(ref, Message(Rich.of("edited"), buttons))
    await messenger.edit(ref, Message(Rich.of("edited"), buttons))
    assert emu.calls("editMessageText")[-1].description is not None  # "not modified"

    await messenger.send(to, Poll("Quel projet vous tient à cœur ?" + "?" * 400, ("Argan", "Eau")))
    poll = emu.sent(yasmine)[-1].poll
    assert poll is not None and len(poll["question"]) == 300
    caption = Rich.of(bold("Chiffres de la semaine")) + " " + "x" * 1100
    await messenger.send(to, Image(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, caption))
    photo, follow_up = emu.sent(yasmine)[-2:]
    assert photo.method == "sendPhoto" and photo.caption is None
    assert (follow_up.text or "").startswith("Chiffres de la semaine")
    await messenger.send(to, Document(b"id;name\n1;x\n", "export.csv", Rich.of("<export>")))
    document = emu.sent(yasmine)[-1]
    assert (document.file_name, document.caption) == ("export.csv", "<export>")


async def test_cds_bot_run_starts_the_telegram_adapter(
    emu: TelegramEmulator, tmp_path: Path
) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDS_")}
    env |= {
        "CDS_TELEGRAM__TOKEN": TOKEN,
        "CDS_TELEGRAM__BASE_URL": emu.base_url,
        "CDS_TELEGRAM__BASE_FILE_URL": emu.base_file_url,
        "CDS_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'run.db'}",
        "CDS_COMMUNITY__DEFAULT_LANGUAGE": "en",
        "CDS_LOG_LEVEL": "INFO",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yasmine = emu.add_user(YASMINE, "Yasmine", "yasmine", "en")
        emu.user_sends(yasmine, None, "/start")
        welcome = await emu.wait_for(lambda m: m.chat_id == YASMINE, timeout=30)
        assert "Welcome to CDS Souss-Massa, Yasmine" in (welcome.text or "")
        assert emu.commands({"type": "all_private_chats"}, "fr")
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = await asyncio.wait_for(process.communicate(), 30)
    log = err.decode()
    assert process.returncode == 0, log
    assert "telegram adapter started" in log
    assert TOKEN not in log  # the token is in every request URL: never logged
