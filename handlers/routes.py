"""The routing table: every command and button, its handler, usage and description.

Who may use each one is in `handlers.permissions`; the router refuses to start when a route
has no rule there.
"""

from __future__ import annotations

from handlers import (
    admin,
    campaign_responses,
    campaigns,
    link,
    matching,
    need_announcements,
    need_closing,
    need_dialogs,
    needs,
    offer_review,
    offers,
    privacy,
    profile,
    project_dialogs,
    project_news,
    project_status,
    projects,
    recognition,
    referrals,
    start,
    stats,
)
from handlers.chat import Text, Vote
from handlers.core import ActionHandler, IncomingHandler, Route, Router
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
    "propose": Route(project_dialogs.cmd_propose, N_("/propose"), N_("propose a new project")),
    "language": Route(start.cmd_language, N_("/language [fr|en|ar]"), N_("change language")),
    "cancel": Route(start.cmd_cancel, N_("/cancel"), N_("stop the current conversation")),
    "profile": Route(
        profile.cmd_profile,
        N_("/profile [field]"),
        N_("your profile: skills, languages, consents"),
    ),
    "mydata": Route(privacy.cmd_mydata, N_("/mydata"), N_("a file with all your data")),
    "forgetme": Route(privacy.cmd_forgetme, N_("/forgetme"), N_("erase your data")),
    "mycontributions": Route(
        recognition.cmd_mycontributions,
        N_("/mycontributions"),
        N_("your contributions and badges"),
    ),
    "contributors": Route(
        recognition.cmd_contributors,
        N_("/contributors <short name>"),
        N_("who contributed to a project"),
    ),
    "link": Route(
        link.cmd_link, N_("/link [code]"), N_("link your accounts on Telegram and Discord")
    ),
    # project leaders
    "addneed": Route(need_dialogs.cmd_addneed, N_("/addneed <short name>"), N_("add a need")),
    "editneed": Route(need_dialogs.cmd_editneed, N_("/editneed <need no.>"), N_("edit a need")),
    "closeneed": Route(
        need_closing.cmd_closeneed,
        N_("/closeneed <need no.> fulfilled|cancelled"),
        N_("close a need"),
    ),
    "offers": Route(
        offer_review.cmd_offers, N_("/offers [short name]"), N_("review pending offers")
    ),
    "announce": Route(
        need_announcements.cmd_announce,
        N_("/announce <need no.>"),
        N_("announce a need in the groups"),
    ),
    "update": Route(
        project_news.cmd_update,
        N_("/update <short name>"),
        N_("send news to followers and contributors"),
    ),
    "match": Route(
        matching.cmd_match, N_("/match <need no.>"), N_("who a need would reach, and why")
    ),
    # community managers
    "newproject": Route(project_dialogs.cmd_newproject, N_("/newproject"), N_("create a project")),
    "publish": Route(project_status.cmd_publish, N_("/publish <short name>"), N_("open a project")),
    "pause": Route(project_status.cmd_pause, N_("/pause <short name>"), N_("pause a project")),
    "archive": Route(
        project_status.cmd_archive, N_("/archive <short name>"), N_("archive a project")
    ),
    "drafts": Route(project_status.cmd_drafts, N_("/drafts"), N_("proposals to review")),
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
    "campaign": Route(
        campaigns.cmd_campaign,
        N_("/campaign [number]"),
        N_("create a campaign, or see one's results"),
    ),
    "campaigns": Route(campaigns.cmd_campaigns, N_("/campaigns"), N_("scheduled campaigns")),
    "stats": Route(
        stats.cmd_stats,
        N_("/stats [7d|30d|90d|1y|all]"),
        N_("the community's figures and their trend"),
    ),
}

ACTION_ROUTES: dict[str, ActionHandler] = {
    "page": projects.press_page,
    "proj": projects.press_project,
    "fol": projects.press_follow,
    "unf": projects.press_unfollow,
    "pub": project_status.press_publish,
    "help": offers.press_help,
    "wd": offers.press_withdraw,
    "acc": offer_review.press_accept,
    "dec": offer_review.press_decline,
    "done": offer_review.press_done,
    "lang": start.press_language,
    "pfe": profile.press_edit,
    "pfc": profile.press_clear,
    "pfk": profile.press_kinds,
    "cpause": campaigns.press_pause,
    "cresume": campaigns.press_resume,
    "cdelete": campaigns.press_delete,
    "crun": campaigns.press_run,
    "ctest": campaigns.press_test,
    "cshow": campaigns.press_show,
    "cans": campaign_responses.press_answer,
    "co": campaign_responses.press_campaign_offer,
    "cp": campaign_responses.press_campaign_project,
    "cno": campaign_responses.press_not_now,
    "fu": campaign_responses.press_followup,
    "thank": recognition.press_thank,
    "thankpub": recognition.press_thank_public,
    "mhelp": matching.press_match_help,
    "nfm": matching.press_not_for_me,
    "stop": matching.press_stop,
    "share": referrals.press_share,
}

# Incoming that is not a command nor a button, claimed before the dialogs see it.
INCOMING_ROUTES: dict[type, IncomingHandler] = {
    Text: campaign_responses.on_reply,  # a reply to a campaign's question
    Vote: campaign_responses.on_vote,  # a vote in a campaign's poll
}

ROUTER = Router(COMMAND_ROUTES, ACTION_ROUTES, INCOMING_ROUTES)

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
