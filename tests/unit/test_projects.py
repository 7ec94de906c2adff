"""Pure rules of the projects feature: short names, tags, kind filters, rights parsing."""

from __future__ import annotations

import pytest

from handlers.admin import parse_group_tags, parse_rights
from handlers.buttons import encode
from handlers.errors import InvalidTags, Usage
from handlers.project_rules import SLUG, parse_tags, pick_slug, slug_base
from handlers.project_status import TRANSITIONS
from handlers.projects import kind_named


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Coopérative féminine d'argan de Tafraout", "cooperative-feminine-d-argan-de-tafraout"),
        ("  École   numérique — Tata!  ", "ecole-numerique-tata"),
        ("Straße & Œuvre", "strasse-oeuvre"),
        ("AÏT BAHA 2027", "ait-baha-2027"),
        ("مكتبة Tiznit", "tiznit"),
        ("<b>@everyone</b>", "b-everyone-b"),
    ],
)
def test_slug_base_folds_accents_and_punctuation(title: str, slug: str) -> None:
    assert slug_base(title) == slug


def test_generated_slugs_are_valid_and_short_enough_for_buttons() -> None:
    slug = pick_slug("Irrigation goutte-à-goutte " * 10, set(), 0)
    assert SLUG.fullmatch(slug)
    assert len(slug) <= 48
    assert not slug.endswith("-")
    for action in ("proj", "pub", "fol", "unf"):
        encode(action, (slug,))  # raises when a payload would be over 64 bytes


def test_arabic_only_title_gets_a_numbered_slug() -> None:
    assert pick_slug("مكتبة مدرسية في تيزنيت", set(), 0) == "project-1"
    assert pick_slug("مكتبة", {"project-1", "project-2"}, 2) == "project-3"
    # a gap left by a renamed project is not reused blindly: the next free number wins
    assert pick_slug("مكتبة", {"project-1", "project-3"}, 2) == "project-4"


def test_too_short_title_gets_a_numbered_slug() -> None:
    assert pick_slug("Ab", set(), 4) == "project-5"
    assert pick_slug("!!!", set(), 0) == "project-1"


def test_collisions_add_a_counter() -> None:
    taken = {"argan-tafraout", "argan-tafraout-2"}
    assert pick_slug("Argan Tafraout", taken, 2) == "argan-tafraout-3"
    assert pick_slug("Argan Tafraout", set(), 0) == "argan-tafraout"


def test_tags_are_lowercased_deduplicated_and_capped() -> None:
    assert parse_tags("Eau, #Femmes  education,eau") == ["eau", "femmes", "education"]
    assert parse_tags(None) == []
    assert parse_tags(" , ") == []
    many = parse_tags(" ".join(f"t{n}" for n in range(20)))
    assert many == [f"t{n}" for n in range(8)]
    assert parse_tags("x" * 50) == ["x" * 30]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("funding", "funding"),
        ("FUNDING", "funding"),
        ("Funding (pledge)", "funding"),
        ("network", "network"),
        ("Expertise", "expertise"),
        ("Tafraout", None),
        ("", None),
    ],
)
def test_kind_named_accepts_ids_and_labels(text: str, kind: str | None) -> None:
    assert kind_named(text) == kind


def test_transition_table() -> None:
    publish_from, publish_to = TRANSITIONS["publish"]
    assert publish_to == "open"
    assert "archived" not in publish_from
    assert TRANSITIONS["pause"] == (frozenset({"open"}), "paused")
    assert TRANSITIONS["archive"][0] == frozenset({"draft", "open", "paused"})


def test_parse_rights() -> None:
    leader = parse_rights("grant", ("@yasmine", "leader", "argan-tafraout"))
    assert (leader.member_ref, leader.role, leader.slug) == ("@yasmine", "leader", "argan-tafraout")
    cm = parse_rights("grant", ("Yasmine", "El", "Amrani", "CM"))
    assert (cm.member_ref, cm.role, cm.slug) == ("Yasmine El Amrani", "cm", None)
    for bad in [(), ("yasmine",), ("yasmine", "leader"), ("yasmine", "boss", "x")]:
        with pytest.raises(Usage):
            parse_rights("grant", bad)


def test_group_tags() -> None:
    assert parse_group_tags(("Souss-Massa", "#Jeunes,France", "jeunes")) == [
        "souss-massa",
        "jeunes",
        "france",
    ]
    with pytest.raises(InvalidTags):
        parse_group_tags(tuple(f"t{n}" for n in range(11)))
    with pytest.raises(InvalidTags):
        parse_group_tags(("x" * 31,))
