"""The permission table: every command and action, for every role, with and without ownership."""

from __future__ import annotations

import itertools

import pytest

from handlers.permissions import ACTIONS, COMMANDS, Scope, permits
from handlers.routes import ACTION_ROUTES, COMMAND_ROUTES
from store.models import Role

ROLE_SETS = {
    "member": frozenset(),
    "leader": frozenset({"leader"}),
    "cm": frozenset({"cm"}),
    "admin": frozenset({"admin", "cm"}),
}

LEADER_COMMANDS = {"addneed", "editneed", "closeneed", "offers", "announce", "update", "match"}
CM_COMMANDS = {
    "newproject",
    "publish",
    "pause",
    "archive",
    "drafts",
    "grant",
    "revoke",
    "linkgroup",
    "unlinkgroup",
    "groups",
    "campaign",
    "campaigns",
    "stats",
}


def expected(name: str, who: str, owns: bool | None) -> bool:
    if name in CM_COMMANDS:
        return who in {"cm", "admin"}
    if name in LEADER_COMMANDS:
        if who in {"cm", "admin"}:
            return True
        # ownership of the very project decides; before the object is known, leading any
        # project is enough to get past the router
        return who == "leader" if owns is None else owns
    return True


@pytest.mark.parametrize(
    ("name", "who", "owns"),
    list(itertools.product(sorted(COMMANDS), sorted(ROLE_SETS), [None, True, False])),
)
def test_every_command_for_every_role(name: str, who: str, owns: bool | None) -> None:
    assert permits(COMMANDS[name], ROLE_SETS[who], leads=owns) is expected(name, who, owns)


def test_every_route_has_a_rule_and_every_rule_a_route() -> None:
    assert set(COMMAND_ROUTES) == set(COMMANDS)
    assert set(ACTION_ROUTES) | {"dlg"} == set(ACTIONS)


def test_personal_flows_are_private_and_group_commands_are_group_only() -> None:
    for name in ("offer", "myoffers", "propose", "addneed", "offers"):
        assert COMMANDS[name].scope is Scope.PRIVATE
    for name in ("linkgroup", "unlinkgroup"):
        assert COMMANDS[name].scope is Scope.GROUP


def test_leader_actions_need_a_leader() -> None:
    for action in ("acc", "dec", "done"):
        assert ACTIONS[action].role is Role.LEADER
        assert not permits(ACTIONS[action], frozenset())
        assert not permits(ACTIONS[action], frozenset({"leader"}), leads=False)
        assert permits(ACTIONS[action], frozenset({"leader"}), leads=True)
