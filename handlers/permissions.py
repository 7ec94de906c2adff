"""Who may do what: one table for commands, one for buttons, read at a glance.

`leader` means "leads the project the command or button is about"; the router checks that
the actor leads at least one project (or is a community manager), and the handler checks
ownership of the very object, on every event, buttons included. Community managers and
admins may act on every project.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from store.models import Role


class Scope(enum.StrEnum):
    ANYWHERE = "anywhere"
    PRIVATE = "private"  # personal: moved to the private chat when used in a group
    GROUP = "group"  # only makes sense inside a group


@dataclass(frozen=True, slots=True)
class Rule:
    role: Role
    scope: Scope = Scope.ANYWHERE


MEMBER = Rule(Role.MEMBER)
MEMBER_PRIVATE = Rule(Role.MEMBER, Scope.PRIVATE)
LEADER_PRIVATE = Rule(Role.LEADER, Scope.PRIVATE)
CM = Rule(Role.CM)
CM_PRIVATE = Rule(Role.CM, Scope.PRIVATE)
CM_GROUP = Rule(Role.CM, Scope.GROUP)

COMMANDS: dict[str, Rule] = {
    # members
    "start": MEMBER,
    "help": MEMBER,
    "projects": MEMBER,
    "project": MEMBER,
    "needs": MEMBER,
    "offer": MEMBER_PRIVATE,
    "myoffers": MEMBER_PRIVATE,
    "follow": MEMBER,
    "unfollow": MEMBER,
    "propose": MEMBER_PRIVATE,
    "language": MEMBER_PRIVATE,
    "cancel": MEMBER,
    "profile": MEMBER_PRIVATE,
    "mydata": MEMBER_PRIVATE,
    "forgetme": MEMBER_PRIVATE,
    "link": MEMBER_PRIVATE,
    "mycontributions": MEMBER_PRIVATE,
    "contributors": MEMBER,  # names only those who agreed to be named
    # project leaders
    "addneed": LEADER_PRIVATE,
    "editneed": LEADER_PRIVATE,
    "closeneed": LEADER_PRIVATE,
    "offers": LEADER_PRIVATE,
    "announce": LEADER_PRIVATE,
    "update": LEADER_PRIVATE,
    "match": LEADER_PRIVATE,  # who a need of theirs would reach (counts; names by consent)
    # community managers
    "newproject": CM_PRIVATE,
    "publish": CM,
    "pause": CM,
    "archive": CM,
    "drafts": CM_PRIVATE,
    "grant": CM,
    "revoke": CM,
    "linkgroup": CM_GROUP,
    "unlinkgroup": CM_GROUP,
    "groups": CM,
    "campaign": CM_PRIVATE,
    "campaigns": CM_PRIVATE,
    "stats": CM_PRIVATE,
}

ACTIONS: dict[str, Rule] = {
    "page": MEMBER,  # browse /projects pages
    "proj": MEMBER,  # open a project card
    "help": MEMBER_PRIVATE,  # "I can help" on a need: start the offer dialog
    "fol": MEMBER,  # follow a project
    "unf": MEMBER,  # unfollow
    "wd": MEMBER_PRIVATE,  # withdraw my offer (owner checked by the handler)
    "lang": MEMBER_PRIVATE,  # choose a language
    "pfe": MEMBER_PRIVATE,  # edit a field of my profile
    "pfc": MEMBER_PRIVATE,  # remove a field of my profile
    "pfk": MEMBER_PRIVATE,  # toggle a contribution kind I like
    "acc": LEADER_PRIVATE,  # accept an offer
    "dec": LEADER_PRIVATE,  # decline an offer (asks a reason)
    "done": LEADER_PRIVATE,  # mark an offer done
    "pub": CM,  # publish a draft
    "dlg": MEMBER,  # answer a dialog step (the dialog re-checks its own rights)
    # campaigns: the community manager's buttons
    "cpause": CM_PRIVATE,
    "cresume": CM_PRIVATE,
    "cdelete": CM_PRIVATE,
    "crun": CM_PRIVATE,
    "ctest": CM_PRIVATE,
    "cshow": CM_PRIVATE,
    # campaigns: what members do with them (ownership checked by the handlers)
    "cans": MEMBER_PRIVATE,  # answer a campaign's question
    "co": MEMBER_PRIVATE,  # "I can help" under a campaign: the offer, credited to it
    "cp": MEMBER,  # "See the project" under a campaign, credited to it
    "cno": MEMBER,  # "Not now" under a suggestion
    "fu": MEMBER_PRIVATE,  # follow-up of my accepted offer: done / need help / stop
    # recognition (the leader of that very project is checked by the handlers)
    "thank": LEADER_PRIVATE,  # thank the member of a done offer, personally
    "thankpub": LEADER_PRIVATE,  # then in the project's groups, if they agreed to be named
    # matching notes and referrals
    "mhelp": MEMBER_PRIVATE,  # "I can help" under a matching note: the offer, credited to it
    "nfm": MEMBER_PRIVATE,  # "Not for me" under a matching note
    "stop": MEMBER_PRIVATE,  # "Stop these" (or turn them back on)
    "share": MEMBER_PRIVATE,  # my personal link to a need, to forward
}

RANK = {Role.MEMBER: 0, Role.LEADER: 1, Role.CM: 2, Role.ADMIN: 3}


def permits(rule: Rule, roles: frozenset[str], *, leads: bool | None = None) -> bool:
    """Whether someone with `roles` may use `rule`; `leads` is ownership of the object
    (None before the object is known: then leading any project is enough)."""
    if rule.role is Role.MEMBER or Role.ADMIN in roles:
        return True
    if rule.role is Role.CM:
        return Role.CM in roles
    if rule.role is Role.LEADER:
        if Role.CM in roles:
            return True
        return leads if leads is not None else Role.LEADER in roles
    return False
