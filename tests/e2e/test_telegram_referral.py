"""Referral credit through a deep link, on Telegram: the real python-telegram-bot adapter, the
real app and outbox, and the Bot API emulator on 127.0.0.1 (the world of test_telegram.py).

yasmine takes the "Share" link of a need card posted in the group, gets her personal link in
private, karim opens it and offers; when hassan accepts, the offer credits yasmine and she is
thanked, privately; karim, who shared nothing, is not credited for his own link.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from store.models import MemberIdentity, NeedClick, Offer
from tests.e2e import test_telegram as telegram
from tests.e2e.test_telegram import (
    BOT,
    World,
    announced_need,
    everyone_started,
    found,
    registered_group,
)
from tests.emulators.telegram import SentMessage, User

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

# The emulator and the running bot, as test_telegram.py sets them up.
emu = telegram.emu
world = telegram.world


async def member_id(world: World, user: User) -> int:
    found_id = await world.scalar(
        select(MemberIdentity.member_id).where(
            MemberIdentity.platform == "telegram", MemberIdentity.external_id == str(user.id)
        )
    )
    assert found_id is not None
    return int(found_id)


async def offer_through(world: World, user: User, payload: str) -> int:
    """`user` opens a `/start` link and goes through the offer; returns the offer number."""
    asked = await world.says(user, None, f"/start {payload}", "What will you bring?")
    asked = await world.presses(user, asked, "|kind|skills", "What do you offer")
    asked = await world.says(user, None, "Je connais bien les sentiers.", "How much time")
    asked = await world.presses(user, asked, "|availability|few_hours")
    asked = await world.presses(user, asked, "|share_contact|no")
    sent = await world.presses(user, asked, "|send|yes", "is sent")
    return int(found(r"Your offer no\. (\d+) is sent", sent))


def start_payload(message: SentMessage, label: str) -> str:
    url = message.button(label)["url"]
    prefix = f"https://t.me/{BOT}?start="
    assert url.startswith(prefix), url
    return str(url.removeprefix(prefix))


async def test_a_shared_link_credits_the_referrer_who_is_thanked(world: World) -> None:
    emulator, hassan = world.emu, world.hassan
    yasmine, karim = world.yasmine, world.karim
    await everyone_started(world)
    await world.says(karim, None, "/start", "Welcome to CDS Souss-Massa, Karim")
    await registered_group(world)
    need, card = await announced_need(world)

    # In the group the card's "Share" is a link into the private chat.
    assert start_payload(card, "📣 Share") == f"share-{need}"
    mark = world.mark()
    await world.says(yasmine, None, f"/start share-{need}", "Your personal link")
    shared = await world.next(yasmine, "Guides bilingues", after=mark)
    yasmine_id = await member_id(world, yasmine)
    payload = start_payload(shared, "🙋 Open this need")
    assert payload == f"offer-{need}-r{yasmine_id}"
    assert f"/start {payload}" in (shared.text or "")  # for those who cannot open links

    # karim opens yasmine's link (as a forwarded message's button does) and offers.
    offer_id = await offer_through(world, karim, payload)
    karim_id = await member_id(world, karim)
    async with world.app.sessions() as session:
        offer = await session.get_one(Offer, offer_id)
        clicks = list(await session.scalars(select(NeedClick).where(NeedClick.need_id == need)))
    assert (offer.member_id, offer.referred_by, offer.source) == (karim_id, yasmine_id, "share")
    assert [(c.member_id, c.referrer_id, c.source) for c in clicks] == [
        (karim_id, yasmine_id, "share")
    ]

    # hassan accepts: karim hears it, and yasmine is thanked without karim being named.
    mark = world.mark()
    emulator.user_sends(hassan, None, "/offers")
    review = await world.next(hassan, f"Offer no. {offer_id}", after=mark)
    await world.presses(hassan, review, f"|acc|{offer_id}", "You accepted")
    await world.next(karim, f"Hassan accepted your offer no. {offer_id}", after=mark)
    thanks = await world.next(yasmine, "Thank you for sharing!", after=mark)
    assert "Guides bilingues <pour> les visiteurs" in (thanks.text or "")
    assert "Karim" not in (thanks.text or "")
    assert emulator.count_429 == 0


async def test_own_links_unknown_and_stale_ones(world: World) -> None:
    yasmine, karim = world.yasmine, world.karim
    await everyone_started(world)
    await world.says(karim, None, "/start", "Welcome to CDS Souss-Massa, Karim")
    await registered_group(world)
    need, _card = await announced_need(world)

    # The Share button of a project card in private is a button; its link is karim's own.
    project = await world.says(karim, None, "/project argan-tafraout", "Guides bilingues")
    mark = world.mark()
    await world.press(karim, project, f"|share|{need}")
    shared = await world.next(karim, "Guides bilingues", after=mark)
    payload = start_payload(shared, "🙋 Open this need")
    assert payload == f"offer-{need}-r{await member_id(world, karim)}"
    # His own link credits nobody.
    offer_id = await offer_through(world, karim, payload)
    async with world.app.sessions() as session:
        offer = await session.get_one(Offer, offer_id)
    assert offer.referred_by is None

    # Unknown needs and closed ones are answered politely.
    await world.says(yasmine, None, "/start offer-999-r1", "I don't know a need number 999")
    await world.says(world.hassan, None, f"/closeneed {need} fulfilled", f"Need #{need} is now")
    await world.says(yasmine, None, f"/start {payload}", "fulfilled")
    await world.says(yasmine, None, f"/start share-{need}", "fulfilled")
