"""Projects, proposals, publication, rights and groups, driven through the core like an
adapter would, on a real SQLite store seeded with the demo community."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.demo import seed_demo
from bot.importer import catalogue_from_data, import_catalogue
from handlers.chat import Button
from store.models import AuditEntry, Chat, Follow, MemberRole, Project, ProjectLeader
from tests.harness import Harness, buttons, plain

GROUP = "diaspora-fr"


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await Harness.create(
        f"sqlite+aiosqlite:///{tmp_path}/t.db", admins=frozenset({"console:root"})
    )
    await seed_demo(harness.services.sessions, harness.clock.now())
    yield harness
    await harness.close()


async def scalar(h: Harness, stmt: object) -> object:
    async with h.services.sessions() as session:
        return await session.scalar(stmt)  # type: ignore[call-overload]


async def project(h: Harness, slug: str) -> Project:
    async with h.services.sessions() as session:
        found = await session.scalar(select(Project).where(Project.slug == slug))
        assert found is not None
        return found


async def member_id(h: Harness, name: str) -> int:
    from store import members

    async with h.services.sessions() as session:
        found = await members.identity(session, "console", name)
        assert found is not None
        return found.member_id


async def audits(h: Harness, action: str) -> list[AuditEntry]:
    async with h.services.sessions() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def actions(h: Harness) -> list[tuple[str, tuple[str, ...]]]:
    return [(b.action, b.args) for b in buttons(h.last)]


# --- browsing ------------------------------------------------------------------------------


async def test_projects_lists_open_projects_with_their_open_needs(h: Harness) -> None:
    text = plain(await h.send("yasmine", "/projects"))
    assert "Open projects (3)" in text
    assert "Coopérative féminine d'argan de Tafraout — Tafraout · 3 open needs" in text
    assert "Tiznit · 2 open needs" in text
    assert "Imsouane" not in text  # the draft proposal is not listed
    assert ("proj", ("argan-tafraout",)) in actions(h)
    assert not any(action == "page" for action, _args in actions(h))


async def test_projects_filters_by_territory_and_by_kind(h: Harness) -> None:
    text = plain(await h.send("yasmine", "/projects TIZNIT"))
    assert "(1)" in text and "Tiznit" in text and "Tafraout" not in text
    text = plain(await h.send("yasmine", "/projects network"))
    assert "(1)" in text and "Tafraout" in text and "Tiznit" not in text
    text = plain(await h.send("yasmine", "/projects Funding (pledge)"))
    assert "(3)" in text
    text = plain(await h.send("yasmine", "/projects information"))
    assert "No open project matches “information”" in text
    assert buttons(h.last) == []
    text = plain(await h.send("yasmine", "/projects " + "x" * 41))
    assert "Usage: /projects [territory or kind]" in text


async def test_projects_in_a_group_is_brief(h: Harness) -> None:
    text = plain(await h.send("yasmine", "/projects", group=GROUP))
    assert "Open projects (3)" in text
    assert "/project <short name>" not in text
    assert len([a for a, _ in actions(h) if a == "proj"]) == 3


async def test_pagination(h: Harness) -> None:
    extra = {
        "projects": [
            {"slug": f"puits-{n}", "title": f"Puits du douar {n}", "territory": "Tata"}
            for n in range(1, 6)
        ]
    }
    rows = catalogue_from_data(extra, h.clock.now().date())
    await import_catalogue(h.services.sessions, rows, h.clock.now())

    text = plain(await h.send("yasmine", "/projects"))
    assert "Open projects (8): page 1 of 2" in text
    assert len([a for a, _ in actions(h) if a == "proj"]) == 5
    assert ("page", ("", "2")) in actions(h)
    assert "Prev" not in " ".join(b.label for b in buttons(h.last))

    text = plain(await h.press("yasmine", h.button("Next")))
    assert "page 2 of 2" in text
    assert "6. " in text and "8. " in text
    assert len([a for a, _ in actions(h) if a == "proj"]) == 3
    assert ("page", ("", "1")) in actions(h)

    # the filter travels with the page buttons
    text = plain(await h.send("yasmine", "/projects tata"))
    assert "(5)" in text and "Puits du douar 5" in text and "Next" not in str(buttons(h.last))

    # a page past the end (the list shrank) shows the last page; forged pages are refused
    text = plain(await h.press("yasmine", Button("x", "page", ("", "9"))))
    assert "page 2 of 2" in text
    for forged in [("", "abc"), ("", "0"), ("x",), ("", "2", "3")]:
        text = plain(await h.press("yasmine", Button("x", "page", forged)))
        assert "expired" in text, forged


# --- one project ---------------------------------------------------------------------------


async def test_project_card_private_group_and_hidden_drafts(h: Harness) -> None:
    await h.send("yasmine", "/projects")
    text = plain(await h.press("yasmine", h.button("argan")))
    assert "Presse à huile semi-automatique" in text
    text = plain(await h.send("yasmine", "/project argan-tafraout"))
    assert "Presse à huile semi-automatique" in text and "15 000 MAD" in text
    assert ("fol", ("argan-tafraout",)) in actions(h)
    assert sum(1 for a, _ in actions(h) if a == "help") == 3

    await h.send("yasmine", "/project argan-tafraout", group=GROUP)
    assert not any(a in {"fol", "unf"} for a, _ in actions(h))
    assert any(a == "help" for a, _ in actions(h))

    # a draft is visible to CMs (with a Publish button) and to its leaders, no one else
    for who in ("yasmine", "hassan"):
        text = plain(await h.send(who, "/project sentier-imsouane"))
        assert "I don't know a project called “sentier-imsouane”" in text
    text = plain(await h.send("alice", "/project sentier-imsouane"))
    assert "Sentier d'écotourisme d'Imsouane" in text
    assert ("pub", ("sentier-imsouane",)) in actions(h)
    assert not any(a == "fol" for a, _ in actions(h))  # drafts cannot be followed

    text = plain(await h.send("yasmine", "/project"))
    assert "Usage: /project <short name>" in text
    text = plain(await h.press("yasmine", Button("x", "proj", ("NOT A SLUG",))))
    assert "expired" in text


async def test_start_deep_link_opens_the_card(h: Harness) -> None:
    text = plain(await h.send("yasmine", "/start project-bibliotheque-tiznit"))
    assert "Bibliothèque de l'école primaire de Tiznit" in text


# --- following -----------------------------------------------------------------------------


async def test_follow_is_idempotent_and_refused_on_closed_projects(h: Harness) -> None:
    text = plain(await h.send("yasmine", "/follow argan-tafraout"))
    assert "You now follow" in text and "news" in text
    text = plain(await h.press("yasmine", Button("x", "fol", ("argan-tafraout",))))
    assert "You already follow" in text
    yasmine = await member_id(h, "yasmine")
    assert await scalar(h, select(func.count()).select_from(Follow)) == 1

    text = plain(await h.send("yasmine", "/project argan-tafraout"))
    assert ("unf", ("argan-tafraout",)) in actions(h)
    text = plain(await h.press("yasmine", h.button("Unfollow")))
    assert "You no longer follow" in text
    text = plain(await h.send("yasmine", "/unfollow argan-tafraout"))
    assert "You were not following" in text
    assert await scalar(h, select(func.count()).select_from(Follow)) == 0

    await h.send("alice", "/pause bibliotheque-tiznit")
    text = plain(await h.send("yasmine", "/follow bibliotheque-tiznit"))
    assert "is not open for contributions" in text
    text = plain(await h.send("alice", "/follow sentier-imsouane"))
    assert "is not open for contributions" in text
    text = plain(await h.send("yasmine", "/follow sentier-imsouane"))
    assert "I don't know a project" in text
    assert (
        await scalar(h, select(func.count()).select_from(Follow).where(Follow.member_id == yasmine))
        == 0
    )


# --- propose, drafts, publish --------------------------------------------------------------


async def test_propose_then_publish_notifies_cm_and_proposer(h: Harness) -> None:
    await h.send("yasmine", "/propose", group=GROUP)  # moved to the private chat
    assert "What is the project?" in plain(h.last)
    await h.send("yasmine", "Coopérative de miel d'Imouzzer")
    await h.send("yasmine", "Du miel de thym <b>bio</b> @everyone.")
    await h.send("yasmine", "Imouzzer Ida Outanane")
    text = plain(await h.send("yasmine", "Miel, #Abeilles thym"))
    assert "#miel · #abeilles · #thym" in text
    text = plain(await h.press("yasmine", h.button("Confirm")))
    assert "goes to the community manager" in text

    draft = await project(h, "cooperative-de-miel-d-imouzzer")
    assert draft.status == "draft"
    assert draft.summary == "Du miel de thym <b>bio</b> @everyone."  # stored as typed
    assert draft.tags == ["miel", "abeilles", "thym"]
    assert draft.proposed_by == await member_id(h, "yasmine")
    assert len(await audits(h, "project.propose")) == 1

    to_alice = [d for d in await h.deliveries() if d.target == "console:user:alice"]
    assert [d.purpose for d in to_alice] == [f"project:{draft.id}:proposed"]
    publish = to_alice[0].payload["buttons"][0][0]
    assert (publish["action"], publish["args"]) == ("pub", ["cooperative-de-miel-d-imouzzer"])

    text = plain(await h.send("alice", "/drafts"))
    assert "Drafts waiting for review (2)" in text
    assert "Coopérative de miel d'Imouzzer" in text and "proposed by Yasmine" in text
    assert ("pub", ("sentier-imsouane",)) in actions(h)
    publish_button = h.button("miel")

    # a member cannot press the Publish button; the CM can
    text = plain(await h.press("yasmine", publish_button))
    assert "Only a community manager" in text
    assert (await project(h, draft.slug)).status == "draft"
    text = plain(await h.press("alice", publish_button))
    assert "is now open" in text
    assert f"/grant #{draft.proposed_by} leader {draft.slug}" in text
    assert (await project(h, draft.slug)).status == "open"
    assert len(await audits(h, "project.publish")) == 1

    to_yasmine = [d for d in await h.deliveries() if d.target == "console:user:yasmine"]
    assert [d.purpose for d in to_yasmine] == [f"project:{draft.id}:published"]
    assert "is published" in "".join(span[0] for span in to_yasmine[0].payload["text"])

    # publishing again changes nothing and tells nobody
    text = plain(await h.send("alice", f"/publish {draft.slug}"))
    assert "already open" in text
    assert len(await h.deliveries()) == 2


async def test_arabic_proposal_gets_a_numbered_short_name(h: Harness) -> None:
    await h.send("yasmine", "/propose")
    await h.send("yasmine", "مكتبة مدرسية")
    await h.send("yasmine", "كتب للأطفال")
    await h.send("yasmine", "تيزنيت")
    await h.press("yasmine", h.button("Skip"))
    await h.press("yasmine", h.button("Confirm"))
    found = await project(h, "project-1")
    assert found.title == "مكتبة مدرسية" and found.tags == []


async def test_status_changes_are_for_cms_and_follow_the_table(h: Harness) -> None:
    for who in ("yasmine", "hassan"):  # hassan leads the argan project but is not a CM
        text = plain(await h.send(who, "/pause argan-tafraout"))
        assert "Only a community manager" in text
    assert (await project(h, "argan-tafraout")).status == "open"

    text = plain(await h.send("alice", "/pause argan-tafraout"))
    assert "is paused" in text
    assert "Tafraout" not in plain(await h.send("yasmine", "/projects"))
    text = plain(await h.send("alice", "/publish argan-tafraout"))
    assert "is now open" in text
    text = plain(await h.send("alice", "/pause sentier-imsouane"))
    assert "not possible while the project is draft" in text
    text = plain(await h.send("alice", "/archive argan-tafraout"))
    assert "is archived" in text
    text = plain(await h.send("alice", "/publish argan-tafraout"))
    assert "not possible while the project is archived" in text
    assert (await project(h, "argan-tafraout")).status == "archived"
    assert [a.details["previous"] for a in await audits(h, "project.pause")] == ["open"]
    assert len(await audits(h, "project.archive")) == 1

    text = plain(await h.send("alice", "/archive"))
    assert "Usage: /archive <short name>" in text
    text = plain(await h.send("alice", "/publish argan-tafrout"))
    assert "Did you mean “argan-tafraout”" in text
    text = plain(await h.press("alice", Button("x", "pub", ())))
    assert "expired" in text


async def test_newproject_dialog_reasks_a_bad_or_taken_short_name(h: Harness) -> None:
    text = plain(await h.send("yasmine", "/newproject"))
    assert "Only a community manager" in text
    text = plain(await h.send("alice", "/newproject argan-tafraout"))
    assert "already used" in text
    text = plain(await h.send("alice", "/newproject Bad_Slug"))
    assert "3 to 50 lowercase letters" in text

    await h.send("alice", "/newproject")
    await h.send("alice", "argan-tafraout")
    await h.send("alice", "Maison des jeunes d'Aït Melloul")
    await h.send("alice", "Un lieu pour les jeunes du quartier.")
    await h.send("alice", "Aït Melloul")
    await h.send("alice", "jeunesse")
    await h.press("alice", h.button("Publish now"))
    text = plain(await h.press("alice", h.button("Confirm")))
    assert "“argan-tafraout” is already used" in text
    assert "short name" in text  # asked again, the other answers are kept
    text = plain(await h.send("alice", "maison-jeunes-ait-melloul"))
    assert "Maison des jeunes d'Aït Melloul" in text and "Create this project?" in text
    text = plain(await h.press("alice", h.button("Confirm")))
    assert "is created and open" in text
    created = await project(h, "maison-jeunes-ait-melloul")
    assert (created.status, created.territory, created.tags) == (
        "open",
        "Aït Melloul",
        ["jeunesse"],
    )
    assert created.proposed_by is None
    assert len(await audits(h, "project.create")) == 1


# --- rights --------------------------------------------------------------------------------


async def test_grant_and_revoke_leader(h: Harness) -> None:
    text = plain(await h.send("hassan", "/grant yasmine leader bibliotheque-tiznit"))
    assert "Only a community manager" in text

    text = plain(await h.send("alice", "/grant @yasmine leader bibliotheque-tiznit"))
    assert "Yasmine is now a leader of" in text
    library = await project(h, "bibliotheque-tiznit")
    yasmine = await member_id(h, "yasmine")
    assert await scalar(h, select(ProjectLeader).where(ProjectLeader.member_id == yasmine))
    told = [d for d in await h.deliveries() if d.target == "console:user:yasmine"]
    assert len(told) == 1
    told_text = "".join(span[0] for span in told[0].payload["text"])
    assert (
        "/addneed bibliotheque-tiznit" in told_text and "/offers bibliotheque-tiznit" in told_text
    )

    text = plain(await h.send("alice", "/grant yasmine leader bibliotheque-tiznit"))
    assert "already a leader" in text
    assert len(await audits(h, "rights.grant")) == 1

    # the new leader now has the leader commands' rights on her project
    text = plain(await h.send("yasmine", "/help"))
    assert "/addneed" in text

    text = plain(await h.send("alice", f"/revoke #{yasmine} leader bibliotheque-tiznit"))
    assert "no longer a leader" in text
    text = plain(await h.send("alice", "/revoke yasmine leader bibliotheque-tiznit"))
    assert "is not a leader" in text
    assert len(await audits(h, "rights.revoke")) == 1
    assert [a.details["project"] for a in await audits(h, "rights.revoke")] == [library.slug]
    assert len([d for d in await h.deliveries() if d.target == "console:user:yasmine"]) == 2

    text = plain(await h.send("alice", "/grant nobody leader bibliotheque-tiznit"))
    assert "I don't know anyone called “nobody”" in text
    text = plain(await h.send("alice", "/grant yasmine"))
    assert "Usage: /grant" in text


async def test_only_admins_grant_and_revoke_cm(h: Harness) -> None:
    text = plain(await h.send("alice", "/grant yasmine cm"))
    assert "Only an administrator" in text
    assert await scalar(h, select(func.count()).select_from(MemberRole)) == 0

    text = plain(await h.send("root", "/grant yasmine cm"))
    assert "Yasmine is now a community manager" in text
    text = plain(await h.send("root", "/grant yasmine cm"))
    assert "already a community manager" in text
    text = plain(await h.send("root", "/grant alice cm"))  # a CM by configuration
    assert "already a community manager" in text
    assert await scalar(h, select(func.count()).select_from(MemberRole)) == 1

    text = plain(await h.send("yasmine", "/drafts"))
    assert "Drafts waiting for review" in text

    text = plain(await h.send("alice", "/revoke yasmine cm"))
    assert "Only an administrator" in text
    text = plain(await h.send("root", "/revoke alice cm"))
    assert "by configuration" in text
    text = plain(await h.send("root", "/revoke yasmine cm"))
    assert "no longer a community manager" in text
    text = plain(await h.send("yasmine", "/drafts"))
    assert "Only a community manager" in text
    assert [a.details["role"] for a in await audits(h, "rights.grant")] == ["cm"]
    assert [a.details["role"] for a in await audits(h, "rights.revoke")] == ["cm"]


# --- groups --------------------------------------------------------------------------------


async def test_linkgroup_in_a_group_updates_tags_and_refuses_private(h: Harness) -> None:
    text = plain(await h.send("alice", "/linkgroup"))
    assert "inside the group" in text

    text = plain(await h.send("yasmine", "/linkgroup jeunes", group=GROUP))
    assert "Only a community manager" in text

    text = plain(await h.send("alice", "/linkgroup Souss-Massa #Jeunes", group=GROUP))
    assert "registered" in text and "souss-massa, jeunes" in text
    text = plain(await h.send("alice", "/linkgroup france", group=GROUP))
    async with h.services.sessions() as session:
        chats = list(await session.scalars(select(Chat).where(Chat.external_id == GROUP)))
    assert len(chats) == 1
    assert (chats[0].platform, chats[0].title, chats[0].tags) == ("console", GROUP, ["france"])
    assert chats[0].registered and chats[0].active

    text = plain(
        await h.send("alice", "/linkgroup " + " ".join(f"t{n}" for n in range(11)), group=GROUP)
    )
    assert "at most 10 tags" in text

    text = plain(await h.send("alice", "/groups"))
    assert "Registered groups (2)" in text
    assert "console — diaspora-fr · #france" in text
    assert "#souss-massa" in text  # the demo group

    text = plain(await h.send("alice", "/unlinkgroup", group=GROUP))
    assert "no longer registered" in text
    text = plain(await h.send("alice", "/unlinkgroup", group=GROUP))
    assert "was not registered" in text
    assert "diaspora-fr" not in plain(await h.send("alice", "/groups"))
    assert len(await audits(h, "chat.link")) == 2
    assert len(await audits(h, "chat.unlink")) == 1
