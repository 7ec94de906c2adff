"""Linking accounts on SQLite: a code shown on one platform and entered on another makes one
member of two, with their offers, follows and rights; bad codes are refused and limited."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from handlers import core, routes
from handlers.chat import (
    Command,
    Event,
    Identity,
    Incoming,
    Outgoing,
    Place,
    Platform,
    Press,
    Text,
)
from store.models import AuditEntry, DialogState, Follow, Member, MemberIdentity, Offer
from tests.harness import Harness, plain
from tests.integration.test_offers import make_offer, seed

TELEGRAM_YASMINE = "555001"


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db", default_language="en")
    yield harness
    await harness.close()


async def on_telegram(
    h: Harness, user_id: str, name: str, *command: str, incoming: Incoming | None = None
) -> list[Outgoing]:
    """A private command (or `incoming`) from a Telegram account, through the core like the
    Telegram adapter does."""
    identity = Identity(Platform.TELEGRAM, user_id, name.lower(), name, "en")
    place = Place(Platform.TELEGRAM, user_id, True)
    if incoming is None:
        incoming = Command(command[0], tuple(command[1:]))
    return await core.handle(h.services, routes.ROUTER, Event(identity, place, incoming))


def shown_code(text: str) -> str:
    match = re.search(r"/link ([A-Z0-9]{6})", text)
    assert match is not None, text
    return match.group(1)


async def count(h: Harness, model: type, *where: object) -> int:
    async with h.services.sessions() as session:
        found = await session.scalar(select(func.count()).select_from(model).where(*where))
        return int(found or 0)


async def test_linking_merges_offers_follows_and_identities(h: Harness) -> None:
    world = await seed(h)
    await make_offer(h, "yasmine", world.skills, message="Websites, from the console")
    await h.send("yasmine", "/follow argan-tafraout")
    # The same person on Telegram: another member for now, with an offer of her own.
    await on_telegram(h, TELEGRAM_YASMINE, "Yasmine", "start")
    await on_telegram(h, TELEGRAM_YASMINE, "Yasmine", "follow", "argan-tafraout")
    await on_telegram(h, TELEGRAM_YASMINE, "Yasmine", "follow", "school-tiznit")
    await on_telegram(h, TELEGRAM_YASMINE, "Yasmine", "offer", str(world.school_need))
    async with h.services.sessions() as session:
        telegram_member = await session.scalar(
            select(MemberIdentity.member_id).where(MemberIdentity.external_id == TELEGRAM_YASMINE)
        )
    assert telegram_member is not None and telegram_member != world.members["yasmine"]
    # Her Telegram offer, through the dialog like the Telegram adapter would send it.
    for incoming in (
        Press("dlg", ("offer", "kind", "expertise")),
        Text("Robotics workshops, from Telegram"),
        Press("dlg", ("offer", "availability", "ongoing")),
        Press("dlg", ("offer", "share_contact", "no")),
        Press("dlg", ("offer", "send", "yes")),
    ):
        await on_telegram(h, TELEGRAM_YASMINE, "Yasmine", incoming=incoming)
    assert await count(h, Offer) == 2

    code = shown_code(plain(await h.send("yasmine", "/link")))
    linked = plain(await on_telegram(h, TELEGRAM_YASMINE, "Yasmine", "link", code.lower()))
    assert "Your accounts are linked (Console, Telegram)" in linked

    yasmine = world.members["yasmine"]
    assert await count(h, Member, Member.id == telegram_member) == 0
    assert await count(h, MemberIdentity, MemberIdentity.member_id == yasmine) == 2
    assert await count(h, Offer, Offer.member_id == yasmine) == 2
    assert await count(h, Follow, Follow.member_id == yasmine) == 2  # argan once, school
    assert await count(h, DialogState, DialogState.platform == "link") == 0
    async with h.services.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "member.link"))
    assert entry is not None and entry.details["merged"] == telegram_member

    # One /myoffers, on either side, shows both offers.
    for mine in (
        plain(await h.send("yasmine", "/myoffers")),
        plain(await on_telegram(h, TELEGRAM_YASMINE, "Yasmine", "myoffers")),
    ):
        assert "Build the website" in mine and "Teach robotics" in mine


async def test_codes_are_single_use_expire_and_refuse_their_owner(h: Harness) -> None:
    await seed(h)
    code = shown_code(plain(await h.send("yasmine", "/link")))
    assert "already linked" in plain(await h.send("yasmine", f"/link {code}"))
    # A second code replaces the first.
    second = shown_code(plain(await h.send("yasmine", "/link")))
    assert await count(h, DialogState, DialogState.platform == "link") == 1
    assert "unknown, expired" in plain(await on_telegram(h, "9", "Samir", "link", code))

    h.clock.advance(timedelta(minutes=16))
    assert "unknown, expired" in plain(await on_telegram(h, "9", "Samir", "link", second))
    assert await count(h, Member) == 7  # nothing merged

    # Linking two accounts of the same platform is refused, and the code stays usable.
    third = shown_code(plain(await h.send("yasmine", "/link")))
    assert "Both accounts are on Console" in plain(await h.send("samir", f"/link {third}"))
    assert "linked" in plain(await on_telegram(h, "9", "Samir", "link", third))
    assert "unknown, expired" in plain(await on_telegram(h, "10", "Nadia", "link", third))


async def test_wrong_codes_are_limited(h: Harness) -> None:
    await seed(h)
    code = shown_code(plain(await h.send("yasmine", "/link")))
    for _ in range(5):
        assert "unknown" in plain(await on_telegram(h, "9", "Samir", "link", "ZZZZZZ"))
    refused = plain(await on_telegram(h, "9", "Samir", "link", code))
    assert "Too many wrong codes" in refused
    assert await count(h, MemberIdentity, MemberIdentity.external_id == "9") == 1
    h.clock.advance(timedelta(minutes=61))
    fresh = shown_code(plain(await h.send("yasmine", "/link")))
    assert "linked" in plain(await on_telegram(h, "9", "Samir", "link", fresh))
    assert "/link" in plain(await on_telegram(h, "9", "Samir", "link", "A", "B"))  # usage
