"""Whole journeys through `cds-bot console --demo`, run as a subprocess with a script on stdin.

The demo community: alice is a community manager, hassan leads `argan-tafraout`, yasmine
proposed `sentier-imsouane` (a draft), and the console group `souss-massa` is registered for
the argan project's announcements.
"""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.conftest import Console

HASSAN = "-> to hassan (private):"
YASMINE = "-> to yasmine (private):"
ALICE = "-> to alice (private):"
GROUP = "-> in #souss-massa:"
SKILLS_MESSAGE = "Je peux guider les visiteurs en darija, <b>français</b> et anglais @everyone"
REASON = "Le financement de la presse est déjà réuni"


def test_demo_banner_and_piped_input_without_prompt(console: Console) -> None:
    run = console.run("/projects")
    assert "DEMO community" in run
    assert "alice@" not in run.stdout  # no prompt when stdin is not a terminal
    assert "Coopérative féminine d'argan de Tafraout" in run
    # Seeding twice duplicates nothing.
    console.run("/projects")
    assert console.query("select count(*) from projects where slug = 'argan-tafraout'") == [(1,)]


def test_whole_journey(console: Console) -> None:
    # Alice (community manager) opens yasmine's draft and makes hassan one of its leaders;
    # hassan adds a need to his argan project through the /addneed dialog.
    first = console.run(
        "/publish sentier-imsouane",
        "/grant @hassan leader sentier-imsouane",
        "/as hassan",
        "/addneed argan-tafraout",
        "skills",
        "Guides bilingues pour les visiteurs",
        "Accueillir les groupes de la diaspora pendant l'été.",
        "2 jours",
        "1",  # Skip the deadline
        "1",  # Confirm
    )
    assert "is now open" in first
    assert first.block(YASMINE, "your project “Sentier d'écotourisme d'Imsouane” is published")
    assert first.block(HASSAN, "You are now a leader of “Sentier d'écotourisme d'Imsouane”")
    assert "Need added to “Coopérative féminine d'argan de Tafraout”" in first
    need = first.find(r"/announce (\d+)")

    # Hassan announces it: the card goes to the group. Yasmine sees it there and presses
    # "I can help": the offer conversation moves to her private chat.
    second = console.run(
        f"/announce {need}",
        "/as yasmine",
        "/in souss-massa",
        "1",  # 🙋 I can help, on the announcement
        "/in private",
        "1",  # Skills (the kind the need asks for comes first)
        SKILLS_MESSAGE,
        "2",  # A few hours
        "1",  # share my contact
        "1",  # Send my offer
        "/projects",
        "/project argan-tafraout",
        "1",  # I can help, on the first open need: the press funding
        "1",  # Funding
        "Pour la presse, de la part de ma famille",
        "1",  # One-off
        "200 EUR",
        "2",  # keep my contact private
        "1",  # Send my offer
    )
    card = second.block(GROUP, f"#{need} ")
    assert "Guides bilingues pour les visiteurs" in card
    assert "[1] 🙋 I can help" in card
    assert "Announced in 1 groups" in second
    assert "I have answered you in a private message" in second
    skills_offer = second.find(r"Your offer no\. (\d+) is sent")
    funding_offer = second.find(
        rf"Your offer no\. {skills_offer} is sent.*?Your offer no\. (\d+) is sent"
    )
    assert "Open projects (4)" in second  # the draft alice published stayed open
    leader_note = second.block(HASSAN, f"Offer no. {skills_offer}")
    assert "New offer from Yasmine" in leader_note
    assert SKILLS_MESSAGE in leader_note  # shown exactly as typed
    assert "200 EUR" in second.block(HASSAN, f"Offer no. {funding_offer}")

    # Hassan reviews: declines the pledge with a reason, accepts the skills, marks it done.
    third = console.run(
        "/offers",
        "4",  # Decline, on the second offer
        REASON,
        "/offers",
        "1",  # Accept
        "1",  # Mark done
        "/as yasmine",
        "/myoffers",
        as_name="hassan",
    )
    review = third.stdout.split("/offers")[0]
    assert review.index(f"Offer no. {skills_offer}") < review.index(f"Offer no. {funding_offer}")
    assert f"You declined offer no. {funding_offer}; I told Yasmine." in third
    declined = third.block(YASMINE, f"declined your offer no. {funding_offer}")
    assert f"Their reason: {REASON}" in declined
    assert f"You accepted offer no. {skills_offer}; I told Yasmine." in third
    assert third.block(YASMINE, f"Hassan accepted your offer no. {skills_offer}")
    assert f"Offer no. {skills_offer} is marked as done; I thanked Yasmine." in third
    assert third.block(YASMINE, "is marked as done")
    mine = third.after("(you are now yasmine")
    assert f"Offer no. {skills_offer} · done" in mine
    assert f"Offer no. {funding_offer} · declined" in mine
    assert f"Reason: {REASON}" in mine
    statuses = dict(console.query("select id, status from offers"))
    assert statuses == {int(skills_offer): "done", int(funding_offer): "declined"}


def test_dialog_survives_a_restart(console: Console) -> None:
    before = console.run(
        "/project argan-tafraout",
        "3",  # I can help (#2), the second open need: the organic certification
        "1",  # Expertise
        "Ingénieure agronome, j'ai accompagné deux coopératives vers Ecocert.",
        as_name="yasmine",
    )
    assert "This need asks for 🎓 Expertise" in before
    assert "How much time can you give?" in before
    assert console.query("select count(*) from offers") == [(0,)]

    # A new process on the same database picks the conversation up where it stopped:
    # the numbers typed now are read by the dialog itself (the old buttons are gone).
    after = console.run("3", "1", "1", as_name="yasmine")
    offer = after.find(r"Your offer no\. (\d+) is sent")
    rows = console.query(
        "select needs.title, offers.kind, message, availability, share_contact, offers.status "
        "from offers join needs on needs.id = offers.need_id where offers.id = ?",
        int(offer),
    )
    assert rows == [
        (
            "Conseil pour la certification bio",
            "expertise",
            "Ingénieure agronome, j'ai accompagné deux coopératives vers Ecocert.",
            "ongoing",
            1,
            "pending",
        )
    ]
    assert after.block(HASSAN, "New offer from Yasmine")


def test_forged_button_press_is_refused(console: Console) -> None:
    # An offer on the Tiznit library, a project hassan does not lead.
    offered = console.run(
        "/project bibliotheque-tiznit",
        "1",  # I can help, on the first open need: 600 books
        "1",  # Funding
        "Pour les livres",
        "1",  # One-off
        "50 EUR",
        "2",  # keep my contact private
        "1",  # Send my offer
        as_name="yasmine",
    )
    assert "Achat de 600 livres jeunesse" in offered
    offer = offered.find(r"Your offer no\. (\d+) is sent")

    forged = console.run(
        f"/press 1|acc|{offer}",
        f"/press 1|done|{offer}",
        "/press not-a-payload",
        "/as yasmine",
        "/myoffers",
        as_name="hassan",
    )
    assert "Only the leaders of “Bibliothèque de l'école primaire de Tiznit”" in forged
    assert "not a button payload" in forged
    assert YASMINE not in forged  # nobody was told anything
    assert f"Offer no. {offer} · pending" in forged.after("(you are now yasmine")
    assert console.query("select status, decided_by from offers where id = ?", int(offer)) == [
        ("pending", None)
    ]


def test_proposal_is_reviewed_and_published(console: Console) -> None:
    proposed = console.run(
        "/propose",
        "Jardin partagé <i>Agadir</i>",
        "Un jardin potager partagé pour les familles du quartier, avec un atelier compost.",
        "Agadir",
        "1",  # Skip the keywords
        "1",  # Confirm
        "/as alice",
        "/drafts",
        as_name="karim",
    )
    assert "Your proposal “Jardin partagé <i>Agadir</i>” goes to the community manager" in proposed
    note = proposed.block(ALICE, "New project proposal")
    assert "Proposed by Karim" in note
    slug = proposed.find(r"Short name: ([a-z0-9-]+)\.")
    drafts = proposed.after("(you are now alice")
    assert "Jardin partagé <i>Agadir</i>" in drafts
    assert "proposed by Karim" in drafts

    published = console.run(f"/publish {slug}", "/as karim", f"/project {slug}")
    assert "“Jardin partagé <i>Agadir</i>” is now open" in published
    told = published.block("-> to karim (private):", "is published")
    assert "Good news: your project “Jardin partagé <i>Agadir</i>” is published!" in told
    assert console.query("select status from projects where slug = ?", slug) == [("open",)]


def test_run_without_a_platform_says_how_to_start(console: Console) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        capture_output=True,
        text=True,
        cwd=console.directory,
        env=console.env(),
        timeout=30,
        check=False,
    )
    assert process.returncode == 2
    assert "no platform configured: set CDS_TELEGRAM__TOKEN or CDS_DISCORD__TOKEN" in process.stderr
    assert "cds-bot console --demo" in process.stderr
