"""Referrals on SQLite: "Share" gives a member their personal link; an offer made through it
credits them (never themselves), the click is counted, the member is thanked when the offer
is accepted; shares are bounded; unknown or closed needs are answered politely."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from handlers.cards import need_card
from handlers.chat import Message
from handlers.referrals import SHARES_PER_HOUR, parse_link, share_payload
from store.models import AuditEntry, Need, NeedClick, Offer, Project
from tests.harness import Harness, buttons, plain
from tests.integration.test_offers import (
    World,
    delivered_text,
    deliveries_to,
    dlg,
    press,
    seed,
)


@pytest.fixture
async def h(database_url: str) -> AsyncIterator[Harness]:
    harness = await Harness.create(database_url, default_language="en")
    yield harness
    await harness.close()


async def offer_through(h: Harness, who: str, payload: str) -> str:
    """Open a link as `who` and go through the offer dialog; what the bot said at the end."""
    out = await h.send(who, f"/start {payload}")
    assert "What will you bring?" in plain(out), plain(out)
    await h.press(who, dlg("offer", "kind", "skills"))
    await h.send(who, "I can build it.")
    await h.press(who, dlg("offer", "availability", "few_hours"))
    await h.press(who, dlg("offer", "share_contact", "no"))
    return plain(await h.press(who, dlg("offer", "send", "yes")))


async def only_offer(h: Harness) -> Offer:
    async with h.services.sessions() as session:
        [offer] = list(await session.scalars(select(Offer)))
        return offer


async def clicks(h: Harness) -> list[tuple[int, int | None, int | None, str]]:
    async with h.services.sessions() as session:
        rows = await session.scalars(select(NeedClick).order_by(NeedClick.id))
        return [(c.need_id, c.member_id, c.referrer_id, c.source) for c in rows]


def test_links_are_parsed_and_fit_telegram() -> None:
    assert parse_link("12-r5") is not None
    link = parse_link("12-r5")
    assert link is not None and (link.need_ref, link.source, link.referrer) == ("12", "share", 5)
    match = parse_link("12-m")
    assert match is not None and (match.source, match.referrer) == ("match", None)
    for value in ("12", "12-r", "12-rx", "x-r5", "12-r5-r6", "12-c5", ""):
        assert parse_link(value) is None, value
    payload = share_payload(99_999_999_999, 99_999_999_999)
    assert len(payload) <= 64 and payload.replace("-", "").isalnum()


async def test_share_gives_a_personal_link_to_forward(h: Harness) -> None:
    world = await seed(h)
    yasmine = world.members["yasmine"]
    out = await h.send("yasmine", "/project argan-tafraout")
    share = h.button(f"Share (#{world.skills})")
    assert (share.action, share.args) == ("share", (str(world.skills),))
    assert share.private_start == f"share-{world.skills}"

    out = await h.press("yasmine", share)
    text = plain(out)
    assert "Forward the next message to people who could help" in text
    assert "Build the website" in text
    assert f"/start offer-{world.skills}-r{yasmine}" in text
    [open_need] = buttons(out)
    assert open_need.private_start == f"offer-{world.skills}-r{yasmine}"
    assert open_need.action == "" and open_need.url is None
    async with h.services.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "need.share"))
        assert entry is not None and entry.actor_id == yasmine

    # From a Telegram group the card's Share button is a deep link: the same answer.
    out = await h.send("yasmine", f"/start share-{world.skills}")
    assert f"/start offer-{world.skills}-r{yasmine}" in plain(out)


async def test_offer_through_a_share_credits_the_referrer_who_is_thanked(h: Harness) -> None:
    world = await seed(h)
    yasmine, samir = world.members["yasmine"], world.members["samir"]
    said = await offer_through(h, "samir", share_payload(world.skills, yasmine))
    assert "Your offer no. 1 is sent" in said
    offer = await only_offer(h)
    assert (offer.member_id, offer.referred_by, offer.source) == (samir, yasmine, "share")
    assert await clicks(h) == [(world.skills, samir, yasmine, "share")]
    assert [d for d in await deliveries_to(h, "yasmine") if d.purpose.startswith("referral:")] == []

    out = await h.press("leila", press("acc", offer.id))
    assert "You accepted offer no. 1" in plain(out)
    [thanks] = [d for d in await deliveries_to(h, "yasmine") if d.purpose == "referral:1"]
    text = delivered_text(thanks)
    assert "Thank you for sharing!" in text
    assert "Someone you shared “Build the website” (Argan Tafraout) with" in text
    assert "Samir" not in text  # who offered is not named

    # A second acceptance path (a double press) thanks nobody twice.
    await h.press("leila", press("acc", offer.id))
    assert len([d for d in await h.deliveries() if d.purpose == "referral:1"]) == 1


async def test_own_link_and_forged_referrers_credit_nobody(h: Harness) -> None:
    world = await seed(h)
    yasmine = world.members["yasmine"]
    await offer_through(h, "yasmine", share_payload(world.skills, yasmine))
    offer = await only_offer(h)
    assert (offer.referred_by, offer.source) == (None, "share")
    assert await clicks(h) == [(world.skills, yasmine, None, "share")]

    await offer_through(h, "samir", share_payload(world.funding, 987654))
    async with h.services.sessions() as session:
        forged = await session.scalar(select(Offer).where(Offer.need_id == world.funding))
    assert forged is not None and forged.referred_by is None

    await h.press("leila", press("acc", offer.id))
    assert [d for d in await h.deliveries() if d.purpose.startswith("referral:")] == []


async def test_opening_a_link_twice_counts_one_click(h: Harness) -> None:
    world = await seed(h)
    payload = share_payload(world.skills, world.members["yasmine"])
    await h.send("samir", f"/start {payload}")
    await h.send("samir", "/cancel")
    await h.send("samir", f"/start {payload}")
    assert len(await clicks(h)) == 1


async def test_unknown_and_closed_needs_in_links_are_answered_politely(h: Harness) -> None:
    world = await seed(h)
    yasmine = world.members["yasmine"]
    out = await h.send("samir", f"/start offer-999-r{yasmine}")
    assert "I don't know a need number 999" in plain(out)
    async with h.services.sessions() as session:
        await session.execute(
            update(Need).where(Need.id == world.skills).values(status="fulfilled")
        )
        await session.commit()
    out = await h.send("samir", f"/start {share_payload(world.skills, yasmine)}")
    assert "fulfilled" in plain(out)
    assert await clicks(h) == []  # refused: nothing was written
    out = await h.press("yasmine", f"1|share|{world.skills}")
    assert "fulfilled" in plain(out) and "/start offer-" not in plain(out)
    out = await h.send("yasmine", "/start share-999")
    assert "I don't know a need number 999" in plain(out)
    out = await h.press("yasmine", "1|share")
    assert "This button has expired; nothing was changed." in plain(out)


async def test_shares_are_bounded_per_hour(h: Harness) -> None:
    world = await seed(h)
    for _ in range(SHARES_PER_HOUR):
        out = await h.press("yasmine", f"1|share|{world.skills}")
        assert "/start offer-" in plain(out)
    out = await h.press("yasmine", f"1|share|{world.skills}")
    assert f"You asked for {SHARES_PER_HOUR} share links in the last hour" in plain(out)
    assert "/start offer-" not in plain(out)
    # Another member is not concerned, and an hour later it works again.
    out = await h.press("samir", f"1|share|{world.skills}")
    assert "/start offer-" in plain(out)
    h.clock.advance(timedelta(hours=1, minutes=1))
    out = await h.press("yasmine", f"1|share|{world.skills}")
    assert "/start offer-" in plain(out)


async def test_need_cards_carry_the_share_button(h: Harness) -> None:
    world: World = await seed(h)
    await h.send("yasmine", "/project argan-tafraout")
    labels = [b.label for b in buttons(h.last)]
    assert f"📣 Share (#{world.skills})" in labels and f"📣 Share (#{world.funding})" in labels
    async with h.services.sessions() as session:
        need = await session.get_one(Need, world.skills)
        project = await session.get_one(Project, need.project_id)
    card = need_card(need, project)
    assert isinstance(card, Message)
    shares = [b for row in card.buttons for b in row if b.action == "share"]
    assert [(b.args, b.private_start) for b in shares] == [
        ((str(world.skills),), f"share-{world.skills}")
    ]
