"""Recognition on SQLite: /mycontributions across platforms with badges, /contributors naming
only those who agreed (money as totals), the leader's Thank (personal, then public), and the
contributors of a fulfilled need told what they made possible."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers.chat import Button, Message
from handlers.recognition import BADGES, Tally, earned_badges
from handlers.serial import load
from store.models import AuditEntry, Chat, Member, MemberIdentity, Need, Offer, Project
from tests.harness import Harness, buttons, plain
from tests.integration.test_reminders import World, add_member, seed, sent_to, text_of

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
KINDS = ("idea", "facilitation", "expertise", "knowledge", "skills", "network", "information")


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(f"sqlite+aiosqlite:///{tmp_path}/cds.db")
    yield harness
    await harness.close()


def press(action: str, offer_id: int) -> Button:
    return Button(action, action, (str(offer_id),))


async def add_offer(
    h: Harness,
    who: str | None,
    need_id: int,
    status: str,
    *,
    world: World,
    kind: str | None = None,
    amount: str | None = None,
    currency: str | None = None,
) -> int:
    async with h.services.sessions() as session:
        need = await session.get_one(Need, need_id)
        offer = Offer(
            need_id=need_id,
            member_id=world.members[who] if who else None,
            kind=kind or need.kind,
            status=status,
            pledged_amount=Decimal(amount) if amount else None,
            currency=currency,
            created_at=NOW,
            decided_at=NOW if status != "pending" else None,
        )
        session.add(offer)
        await session.commit()
        return offer.id


async def add_project(h: Harness, slug: str, status: str = "open") -> int:
    async with h.services.sessions() as session:
        project = Project(
            slug=slug, title=slug.title(), status=status, created_at=NOW, updated_at=NOW
        )
        session.add(project)
        await session.flush()
        need = Need(project_id=project.id, kind="skills", title=f"Help {slug}", created_at=NOW)
        session.add(need)
        await session.commit()
        return need.id


# --- badges: the table as pure rules ---------------------------------------------------------


@pytest.mark.parametrize(
    ("tally", "expected"),
    [
        (Tally(), []),
        (Tally(1, frozenset({"skills"}), frozenset({1})), ["first"]),
        (Tally(3, frozenset({"skills"}), frozenset({1, 2})), ["first"]),
        (
            Tally(3, frozenset({"skills", "idea"}), frozenset({1, 2, 3})),
            ["first", "three_projects"],
        ),
        (Tally(8, frozenset(KINDS), frozenset({1})), ["first"]),
        (Tally(8, frozenset({*KINDS, "funding"}), frozenset({1})), ["first", "every_kind"]),
    ],
)
def test_badge_rules(tally: Tally, expected: list[str]) -> None:
    assert [badge.key for badge in earned_badges(tally)] == expected


def test_every_badge_has_a_goal_and_words() -> None:
    assert len({badge.key for badge in BADGES}) == len(BADGES)
    assert all(badge.goal > 0 and badge.label and badge.rule for badge in BADGES)


# --- /mycontributions ------------------------------------------------------------------------


async def test_mycontributions_across_platforms_by_kind_with_badges_and_share(
    h: Harness,
) -> None:
    world = await seed(h)
    well = await add_project(h, "well-agadir")
    school = await add_project(h, "school-tiznit")
    # Yasmine also uses Discord: the same member.
    async with h.services.sessions() as session:
        session.add(
            MemberIdentity(
                member_id=world.members["yasmine"],
                platform="discord",
                external_id="4242",
                username="yas",
                display_name="Yas",
                last_seen_at=NOW,
            )
        )
        await session.commit()
    await add_offer(h, "yasmine", world.needs[0], "done", world=world)
    await add_offer(h, "yasmine", world.needs[1], "pending", world=world)
    await add_offer(h, "yasmine", well, "accepted", world=world)
    await add_offer(h, "yasmine", school, "declined", world=world)
    await add_offer(
        h, "yasmine", world.needs[2], "accepted", world=world, kind="funding", amount="150",
        currency="EUR",
    )  # fmt: skip
    await add_offer(h, "samir", world.needs[0], "done", world=world)

    text = plain(await h.send("yasmine", "/mycontributions"))
    assert "Your contributions, Yasmine" in text
    assert "3 accepted or done, to 2 projects (5 offers in all)." in text
    # by kind, in the CDS order
    assert text.index("Expertise") < text.index("Skills") < text.index("Funding (pledge)")
    assert "#1 Argan Tafraout — Build the website · done" in text
    assert "#4 School-Tiznit — Help school-tiznit · declined" in text
    assert "pledge 150 EUR" in text
    assert "#6" not in text  # Samir's
    assert "🌱 First contribution" in text
    assert "Still to earn: Three projects helped" in text and "2/3" in text
    assert "Still to earn: One of each kind" in text and "2/8" in text
    assert (
        "I contributed to 2 projects of the CDS Souss-Massa community… Join us: “Argan Tafraout” "
        "needs people like you. Open the bot and send /start project-argan-tafraout"
    ) in text
    [share] = buttons(h.last)
    assert share.private_start == "project-argan-tafraout" and not share.action

    # The same history from Discord.
    from handlers import core, routes
    from handlers.chat import Command, Event, Identity, Place, Platform

    identity = Identity(Platform.DISCORD, "4242", "yas", "Yas")
    place = Place(Platform.DISCORD, "dm-4242", True)
    replies = await core.handle(
        h.services, routes.ROUTER, Event(identity, place, Command("mycontributions"))
    )
    assert "3 accepted or done, to 2 projects (5 offers in all)." in plain(replies)


async def test_mycontributions_when_nothing_yet(h: Harness) -> None:
    world = await seed(h)
    assert "You have not offered anything yet" in plain(await h.send("nadia", "/mycontributions"))
    await add_offer(h, "nadia", world.needs[0], "pending", world=world)
    text = plain(await h.send("nadia", "/mycontributions"))
    assert "0 accepted or done, to 0 projects (1 offers in all)." in text
    assert "Share it" not in text and buttons(h.last) == []


async def test_mycontributions_in_a_group_moves_to_private(h: Harness) -> None:
    world = await seed(h)
    await add_offer(h, "yasmine", world.needs[0], "done", world=world)
    replies = await h.send("yasmine", "/mycontributions", group="diaspora")
    personal = [r for r in replies if isinstance(r, Message) and r.to is not None]
    assert personal and "Your contributions" in personal[0].text.plain


# --- /contributors -----------------------------------------------------------------------------


async def test_contributors_names_only_those_who_agreed_and_totals_money(h: Harness) -> None:
    world = await seed(h, named=("yasmine", "nadia"))
    await add_offer(h, "yasmine", world.needs[0], "done", world=world)
    await add_offer(h, "yasmine", world.needs[0], "accepted", world=world)  # counted once
    await add_offer(h, "samir", world.needs[0], "accepted", world=world)  # not named
    await add_offer(h, "nadia", world.needs[1], "pending", world=world)  # not a contribution
    await add_offer(h, None, world.needs[1], "done", world=world)  # an erased member
    for who, amount, currency in (
        ("nadia", "100", "EUR"),
        ("samir", "250.50", "EUR"),
        ("yasmine", "2000", "MAD"),
    ):
        await add_offer(
            h, who, world.needs[2], "accepted", world=world, kind="funding", amount=amount,
            currency=currency,
        )  # fmt: skip
    await add_offer(
        h, "nadia", world.needs[2], "declined", world=world, kind="funding", amount="9999",
        currency="EUR",
    )  # fmt: skip

    text = plain(await h.send("samir", "/contributors argan-tafraout", group="diaspora"))
    assert "The contributors of “Argan Tafraout”" in text
    skills = text[text.index("Skills") : text.index("Funding")]
    assert "Yasmine" in skills and "and 1 more who prefer not to be named" in skills
    expertise = text[text.index("Expertise") : text.index("Skills")]
    assert "1 who prefer not to be named" in expertise and "Nadia" not in expertise
    funding = text[text.index("Funding") :]
    assert "Nadia, Yasmine" in funding and "and 1 more who prefer not to be named" in funding
    assert "Pledged in all: 350.50 EUR, 2 000 MAD" in funding
    for single in ("100", "250.50", "9999", "2000 MAD"):
        assert single not in text
    assert "Samir" not in text
    assert "4 contributors in all, of whom 2 prefer not to be named." in text


async def test_contributors_of_an_unknown_hidden_or_empty_project(h: Harness) -> None:
    await seed(h)
    await add_project(h, "secret-draft", status="draft")
    assert "I don't know a project called “argan”" in plain(
        await h.send("samir", "/contributors argan")
    )
    assert "Did you mean “argan-tafraout”" in plain(h.last)
    assert "I don't know a project called “secret-draft”" in plain(
        await h.send("samir", "/contributors secret-draft")
    )
    assert "Usage: /contributors <short name>" in plain(await h.send("samir", "/contributors"))
    assert "Nobody has contributed to “Argan Tafraout” yet" in plain(
        await h.send("samir", "/contributors argan-tafraout")
    )


# --- Thank -------------------------------------------------------------------------------------


async def link_group(h: Harness, external_id: str, tags: list[str]) -> None:
    async with h.services.sessions() as session:
        session.add(
            Chat(
                platform="console",
                external_id=external_id,
                title=external_id,
                tags=tags,
                registered=True,
                created_at=NOW,
            )
        )
        await session.commit()


async def test_thank_personally_then_publicly_once(h: Harness) -> None:
    world = await seed(h, named=("yasmine",))
    await link_group(h, "tafraout-diaspora", ["tafraout"])
    await link_group(h, "everyone", [])
    await link_group(h, "tiznit", ["tiznit"])
    offer_id = await add_offer(h, "yasmine", world.needs[0], "accepted", world=world)

    # Marking done offers the Thank button.
    reply = await h.press("leila", press("done", offer_id))
    assert [b.action for b in buttons(reply)] == ["thank"]
    # /offers lists the done offers not thanked yet.
    review = plain(await h.send("leila", "/offers"))
    assert "No offers are waiting for an answer." in review
    assert "Done, not thanked yet: 1" in review and f"#{offer_id} Yasmine" in review
    assert [b.action for b in buttons(h.last)] == ["thank"]

    reply = plain(await h.press("leila", press("thank", offer_id)))
    assert "I sent your thanks to Yasmine." in reply
    assert [b.action for b in buttons(h.last)] == ["thankpub"]
    thanks = [d for d in await sent_to(h, "yasmine") if d.purpose == f"offer:{offer_id}:thanks"]
    assert "Leila, of Argan Tafraout, thanks you personally!" in text_of(thanks[0])
    assert "Build the website" in text_of(thanks[0])
    async with h.services.sessions() as session:
        offer = await session.get_one(Offer, offer_id)
        assert offer.thanked_at == NOW

    # Once only; /offers no longer lists it.
    assert "was already thanked" in plain(await h.press("leila", press("thank", offer_id)))
    assert "Done, not thanked yet" not in plain(await h.send("leila", "/offers"))

    reply = plain(await h.press("leila", press("thankpub", offer_id)))
    assert "Your thanks will be posted in 2 groups." in reply
    public = [d for d in await h.deliveries() if d.purpose == f"offer:{offer_id}:thanks:public"]
    assert sorted(d.target for d in public) == [
        "console:chat:everyone",
        "console:chat:tafraout-diaspora",
    ]
    posted = load(public[0].payload)
    assert isinstance(posted, Message)
    assert "Argan Tafraout thanks Yasmine!" in posted.text.plain
    assert "Build the website" in posted.text.plain
    assert "@yasmine" not in posted.text.plain
    assert "was already thanked" in plain(await h.press("leila", press("thankpub", offer_id)))

    async with h.services.sessions() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("offer.thank%"))
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["offer.thank", "offer.thank_public"]


async def test_no_public_thanks_without_consent(h: Harness) -> None:
    world = await seed(h)  # nobody agreed to be named
    await link_group(h, "everyone", [])
    offer_id = await add_offer(h, "yasmine", world.needs[0], "done", world=world)
    reply = plain(await h.press("leila", press("thank", offer_id)))
    assert "They chose not to be named publicly" in reply
    assert buttons(h.last) == []
    # A forged "Thank publicly" is refused, and nothing reaches the group.
    assert "has not agreed to be named publicly" in plain(
        await h.press("leila", press("thankpub", offer_id))
    )
    assert not [d for d in await h.deliveries() if d.target.startswith("console:chat:")]


async def test_thank_is_for_leaders_of_that_project_and_done_offers(h: Harness) -> None:
    world = await seed(h, named=("yasmine",))
    other_need = await add_project(h, "school-tiznit")
    accepted = await add_offer(h, "yasmine", world.needs[0], "accepted", world=world)
    elsewhere = await add_offer(h, "yasmine", other_need, "done", world=world)
    erased = await add_offer(h, None, world.needs[1], "done", world=world)
    async with h.services.sessions() as session:
        add_member(session, "omar")
        await session.commit()

    assert "Only a contribution marked as done can be thanked; this offer is accepted." in plain(
        await h.press("leila", press("thank", accepted))
    )
    assert "Only the leaders of “School-Tiznit”" in plain(
        await h.press("leila", press("thank", elsewhere))
    )
    assert "Only" in plain(await h.press("omar", press("thank", elsewhere)))  # not a leader
    assert "erased their data" in plain(await h.press("leila", press("thank", erased)))
    assert "This button has expired" in plain(await h.press("leila", "1|thank"))
    assert "I don't know an offer number 999" in plain(await h.press("leila", press("thank", 999)))
    # Thank publicly before thanking personally: a forged press.
    done = await add_offer(h, "yasmine", world.needs[0], "done", world=world)
    assert "This button has expired" in plain(await h.press("leila", press("thankpub", done)))
    async with h.services.sessions() as session:
        thanked = list(await session.scalars(select(Offer.id).where(Offer.thanked_at.is_not(None))))
    assert thanked == []


async def test_two_thanks_at_once_send_one(h: Harness) -> None:
    world = await seed(h)
    offer_id = await add_offer(h, "yasmine", world.needs[0], "done", world=world)
    replies = await asyncio.gather(
        h.press("leila", press("thank", offer_id)), h.press("alice", press("thank", offer_id))
    )
    texts = [plain(reply) for reply in replies]
    assert sum("I sent your thanks" in text for text in texts) == 1
    assert sum("was already thanked" in text for text in texts) == 1
    thanks = [d for d in await sent_to(h, "yasmine") if d.purpose.endswith(":thanks")]
    assert len(thanks) == 1


# --- a need fulfilled ------------------------------------------------------------------------


async def test_a_fulfilled_need_thanks_each_contributor_once(h: Harness) -> None:
    world = await seed(h)
    need = world.needs[0]
    await add_offer(h, "yasmine", need, "done", world=world)
    await add_offer(h, "yasmine", need, "accepted", world=world, kind="network")
    await add_offer(h, "samir", need, "accepted", world=world)
    await add_offer(h, "nadia", need, "pending", world=world)
    await add_offer(h, "leila", world.needs[1], "done", world=world)  # another need
    await add_offer(h, None, need, "done", world=world)  # erased: nobody to tell

    reply = plain(await h.send("leila", f"/closeneed {need} fulfilled"))
    assert "I told its 2 contributors what their help made possible." in reply
    purpose = f"need:{need}:fulfilled:thanks"
    thanked = sorted(d.target for d in await h.deliveries() if d.purpose == purpose)
    assert thanked == ["console:user:samir", "console:user:yasmine"]
    [to_yasmine] = [d for d in await sent_to(h, "yasmine") if d.purpose == purpose]
    text = text_of(to_yasmine)
    assert "“Build the website” of Argan Tafraout is fulfilled, and you made it possible!" in text
    assert "Skills" in text and "Network" in text
    assert "Together, 2 contributors made it happen." in text
    # The pending offer's member hears the need is fulfilled, not a thank-you for it.
    nadia = [d.purpose for d in await sent_to(h, "nadia")]
    assert f"need:{need}:fulfilled" in nadia and purpose not in nadia


async def test_a_cancelled_need_thanks_nobody(h: Harness) -> None:
    world = await seed(h)
    await add_offer(h, "yasmine", world.needs[0], "accepted", world=world)
    reply = plain(await h.send("leila", f"/closeneed {world.needs[0]} cancelled"))
    assert "what their help made possible" not in reply
    assert not [d for d in await h.deliveries() if d.purpose.endswith(":fulfilled:thanks")]


async def test_member_share_name_is_read_at_press_time(h: Harness) -> None:
    world = await seed(h, named=("yasmine",))
    await link_group(h, "everyone", [])
    offer_id = await add_offer(h, "yasmine", world.needs[0], "done", world=world)
    await h.press("leila", press("thank", offer_id))
    async with h.services.sessions() as session:
        member = await session.get_one(Member, world.members["yasmine"])
        member.share_name = False  # consent withdrawn in the meantime
        await session.commit()
    assert "has not agreed to be named publicly" in plain(
        await h.press("leila", press("thankpub", offer_id))
    )
