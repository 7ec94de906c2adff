"""The routing table: every command and button, its handler, usage and description.

Who may use each one is in `handlers.permissions`; the router refuses to start when a route
has no rule there.
"""

from __future__ import annotations

from handlers import admin, needs, offers, projects, start
from handlers.core import ActionHandler, Route, Router
from handlers.i18n import N_, _
from handlers.permissions import COMMANDS, permits
from store.models import Role

COMMAND_ROUTES: dict[str, Route] = {
    # members
    "start": Route(start.cmd_start, N_("/start"), N_("welcome and privacy notice")),
    "help": Route(start.cmd_help, N_("/help"), N_("what you can do")),
    "projects": Route(
        projects.cmd_projects, N_("/projects [territory or kind]"), N_("browse open projects")
    ),
    "project": Route(
        projects.cmd_project, N_("/project <short name>"), N_("a project and its needs")
    ),
    "needs": Route(needs.cmd_needs, N_("/needs [kind]"), N_("every open need")),
    "offer": Route(offers.cmd_offer, N_("/offer <need no.>"), N_("offer a contribution")),
    "myoffers": Route(offers.cmd_myoffers, N_("/myoffers"), N_("your offers and their status")),
    "follow": Route(projects.cmd_follow, N_("/follow <short name>"), N_("get news of a project")),
    "unfollow": Route(
        projects.cmd_unfollow, N_("/unfollow <short name>"), N_("stop news of a project")
    ),
    "propose": Route(projects.cmd_propose, N_("/propose"), N_("propose a new project")),
    "language": Route(start.cmd_language, N_("/language [fr|en|ar]"), N_("change language")),
    "cancel": Route(start.cmd_cancel, N_("/cancel"), N_("stop the current conversation")),
    # project leaders
    "addneed": Route(needs.cmd_addneed, N_("/addneed <short name>"), N_("add a need")),
    "editneed": Route(needs.cmd_editneed, N_("/editneed <need no.>"), N_("edit a need")),
    "closeneed": Route(
        needs.cmd_closeneed,
        N_("/closeneed <need no.> fulfilled|cancelled"),
        N_("close a need"),
    ),
    "offers": Route(offers.cmd_offers, N_("/offers [short name]"), N_("review pending offers")),
    "announce": Route(
        needs.cmd_announce, N_("/announce <need no.>"), N_("announce a need in the groups")
    ),
    "update": Route(
        needs.cmd_update, N_("/update <short name>"), N_("send news to followers and contributors")
    ),
    # community managers
    "newproject": Route(projects.cmd_newproject, N_("/newproject"), N_("create a project")),
    "publish": Route(projects.cmd_publish, N_("/publish <short name>"), N_("open a project")),
    "pause": Route(projects.cmd_pause, N_("/pause <short name>"), N_("pause a project")),
    "archive": Route(projects.cmd_archive, N_("/archive <short name>"), N_("archive a project")),
    "drafts": Route(projects.cmd_drafts, N_("/drafts"), N_("proposals to review")),
    "grant": Route(
        admin.cmd_grant,
        N_("/grant <member> leader <short name> | /grant <member> cm"),
        N_("give rights"),
    ),
    "revoke": Route(
        admin.cmd_revoke,
        N_("/revoke <member> leader <short name> | /revoke <member> cm"),
        N_("take rights back"),
    ),
    "linkgroup": Route(
        admin.cmd_linkgroup, N_("/linkgroup [tags...]"), N_("register this group for announcements")
    ),
    "unlinkgroup": Route(
        admin.cmd_unlinkgroup, N_("/unlinkgroup"), N_("stop announcements in this group")
    ),
    "groups": Route(admin.cmd_groups, N_("/groups"), N_("registered groups")),
}

ACTION_ROUTES: dict[str, ActionHandler] = {
    "page": projects.press_page,
    "proj": projects.press_project,
    "fol": projects.press_follow,
    "unf": projects.press_unfollow,
    "pub": projects.press_publish,
    "help": offers.press_help,
    "wd": offers.press_withdraw,
    "acc": offers.press_accept,
    "dec": offers.press_decline,
    "done": offers.press_done,
    "lang": start.press_language,
}

ROUTER = Router(COMMAND_ROUTES, ACTION_ROUTES)

SECTIONS = (
    (start.SECTION_MEMBER, Role.MEMBER),
    (start.SECTION_LEADER, Role.LEADER),
    (start.SECTION_CM, Role.CM),
)


def commands_for(roles: frozenset[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The commands someone with `roles` may use, grouped by the role that opens them."""
    sections = []
    for title, role in SECTIONS:
        entries = [
            (_(route.usage), _(route.description))
            for name, route in COMMAND_ROUTES.items()
            if COMMANDS[name].role is role and permits(COMMANDS[name], roles)
        ]
        if entries:
            sections.append((title, entries))
    return sections
