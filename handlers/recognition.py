"""Recognition: a member's contributions and badges, a project's contributors (those who
agreed to be named), a leader's thanks, and the thanks of a fulfilled need."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers import lookup, notify
from handlers.cards import OFFER_STATUS_LABELS, kind_label, money, need_summary
from handlers.chat import Button, Command, Message, Press, Rich, Span, bold, code, italic, rows
from handlers.context import Ctx
from handlers.errors import (
    AlreadyThanked,
    ContributorGone,
    NotNamedPublicly,
    OfferNotDone,
    StaleButton,
    Usage,
)
from handlers.i18n import N_, _
from store import needs as store_needs
from store import recognition as store
from store.models import (
    ContributionKind,
    Member,
    Need,
    Offer,
    OfferStatus,
    Project,
    ProjectStatus,
)

logger = logging.getLogger(__name__)

DONE = OfferStatus.DONE.value
CONTRIBUTED = store.CONTRIBUTED
KINDS: tuple[str, ...] = tuple(kind.value for kind in ContributionKind)
UNTHANKED_SHOWN = 5


# --- badges: one table -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tally:
    """What a member's accepted and done offers add up to."""

    contributions: int = 0
    kinds: frozenset[str] = frozenset()
    projects: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Badge:
    key: str
    icon: str
    label: str  # N_() msgid
    rule: str  # N_() msgid: how it is earned
    measure: Callable[[Tally], int]
    goal: int

    def earned(self, tally: Tally) -> bool:
        return self.measure(tally) >= self.goal

    def progress(self, tally: Tally) -> int:
        return min(self.measure(tally), self.goal)


BADGES: tuple[Badge, ...] = (
    Badge(
        "first",
        "🌱",
        N_("First contribution"),
        N_("a first offer accepted by a project"),
        lambda tally: tally.contributions,
        1,
    ),
    Badge(
        "every_kind",
        "🌈",
        N_("One of each kind"),
        N_("a contribution of each of the eight kinds"),
        lambda tally: len(tally.kinds & set(KINDS)),
        len(KINDS),
    ),
    Badge(
        "three_projects",
        "🏅",
        N_("Three projects helped"),
        N_("contributions to three different projects"),
        lambda tally: len(tally.projects),
        3,
    ),
)


def tally(offers: Sequence[tuple[Offer, Need, Project]]) -> Tally:
    """Count the accepted and done offers among a member's offers."""
    counted = [(offer, project) for offer, _need, project in offers if offer.status in CONTRIBUTED]
    return Tally(
        contributions=len(counted),
        kinds=frozenset(offer.kind for offer, _project in counted),
        projects=frozenset(project.id for _offer, project in counted),
    )


def earned_badges(counts: Tally) -> list[Badge]:
    return [badge for badge in BADGES if badge.earned(counts)]


# --- /mycontributions ------------------------------------------------------------------------


async def cmd_mycontributions(ctx: Ctx, cmd: Command) -> None:
    """Show your contributions on every platform, by kind, with your badges and a text to share."""
    offers = await store.history(ctx.session, ctx.actor.member_id)
    if not offers:
        ctx.reply(
            _(
                "You have not offered anything yet. See /projects or /needs to find where "
                "to help: your first accepted offer earns you a badge."
            )
        )
        return
    counts = tally(offers)
    lines: list[Rich | Span | str] = [
        bold(_("Your contributions, {name}").format(name=ctx.actor.display_name)),
        _(
            "{contributions} accepted or done, to {projects} projects ({offers} offers in all)."
        ).format(
            contributions=counts.contributions, projects=len(counts.projects), offers=len(offers)
        ),
    ]
    for kind in KINDS:
        mine = [(offer, need, project) for offer, need, project in offers if offer.kind == kind]
        if not mine:
            continue
        lines += ["", bold(kind_label(kind))]
        lines.extend(_history_line(ctx, offer, need, project) for offer, need, project in mine)
    lines += ["", bold(_("Badges"))]
    for badge in BADGES:
        if badge.earned(counts):
            lines.append(f"{badge.icon} " + _(badge.label))
        else:
            lines.append(
                italic(
                    _("Still to earn: {badge} ({rule}), {done}/{goal}").format(
                        badge=_(badge.label),
                        rule=_(badge.rule),
                        done=badge.progress(counts),
                        goal=badge.goal,
                    )
                )
            )
    buttons: tuple[tuple[Button, ...], ...] = ()
    shared = _shared_project(offers)
    if counts.contributions and shared is not None:
        lines += ["", bold(_("Share it")), _share_text(ctx, len(counts.projects), shared)]
        buttons = rows(Button("🔗 " + _("Link to share"), private_start=f"project-{shared.slug}"))
    ctx.reply(Rich.join(lines), buttons)


def _history_line(ctx: Ctx, offer: Offer, need: Need, project: Project) -> Rich:
    line = Rich.of(f"#{offer.id} ") + bold(project.title) + " — " + need.title
    line += " · " + _(OFFER_STATUS_LABELS.get(offer.status, offer.status))
    line += " · " + offer.created_at.astimezone(ctx.community.tz).date().isoformat()
    if offer.pledged_amount is not None:
        line += " · " + _("pledge {amount}").format(
            amount=money(offer.pledged_amount, offer.currency)
        )
    return line


def _shared_project(offers: Sequence[tuple[Offer, Need, Project]]) -> Project | None:
    """The project the share text invites to: the latest one helped that is still open."""
    for offer, _need, project in reversed(offers):
        if offer.status in CONTRIBUTED and project.status == ProjectStatus.OPEN.value:
            return project
    return None


def _share_text(ctx: Ctx, projects: int, project: Project) -> Rich:
    community = ctx.community.name
    if projects == 1:
        intro = _("I contributed to a project of the {community} community…").format(
            community=community
        )
    else:
        intro = _("I contributed to {count} projects of the {community} community…").format(
            count=projects, community=community
        )
    invite = _(
        "Join us: “{project}” needs people like you. Open the bot and send /start {payload}"
    ).format(project=project.title, payload=f"project-{project.slug}")
    return Rich.of(italic(intro + " " + invite))


# --- /contributors ---------------------------------------------------------------------------


async def cmd_contributors(ctx: Ctx, cmd: Command) -> None:
    """Show who contributed to a project, by kind, naming only those who agreed to it."""
    if not cmd.args:
        raise Usage(usage=_("/contributors <short name>"))
    from handlers.project_rules import visible_project

    project = await visible_project(ctx, cmd.args[0])
    found = await store.project_contributions(ctx.session, project.id)
    if not found:
        ctx.reply(
            _("Nobody has contributed to “{project}” yet. See its needs: /project {slug}").format(
                project=project.title, slug=project.slug
            )
        )
        return
    lines: list[Rich | Span | str] = [
        bold(_("The contributors of “{project}”").format(project=project.title))
    ]
    for kind in KINDS:
        of_kind = [item for item in found if item.kind == kind]
        if of_kind:
            lines += ["", bold(kind_label(kind)), *_kind_lines(of_kind)]
    everyone = _people(found)
    anonymous = everyone - len({item.member_id for item in found if item.named})
    lines += [
        "",
        _("{count} contributors in all, of whom {anonymous} prefer not to be named.").format(
            count=everyone, anonymous=anonymous
        ),
        italic(_("Each contributor chooses whether they may be named.")),
    ]
    ctx.reply(Rich.join(lines))


def _people(found: Sequence[store.Contribution]) -> int:
    """How many people: an erased member's offers cannot be told apart, each counts as one."""
    members = {item.member_id for item in found if item.member_id is not None}
    return len(members) + sum(1 for item in found if item.member_id is None)


def _kind_lines(found: Sequence[store.Contribution]) -> list[Rich | Span | str]:
    named: dict[int, str] = {}
    for item in found:
        if item.named and item.member_id is not None:
            named.setdefault(item.member_id, item.named)
    anonymous = _people(found) - len(named)
    lines: list[Rich | Span | str] = []
    if named:
        lines.append(", ".join(sorted(named.values(), key=str.casefold)))
    if anonymous and named:
        lines.append(_("and {count} more who prefer not to be named").format(count=anonymous))
    elif anonymous:
        lines.append(_("{count} who prefer not to be named").format(count=anonymous))
    totals: dict[str, Decimal] = {}
    for item in found:
        if item.pledged_amount is not None:
            currency = item.currency or ""
            totals[currency] = totals.get(currency, Decimal(0)) + item.pledged_amount
    if totals:
        pledged = ", ".join(
            money(amount, currency or None) for currency, amount in sorted(totals.items())
        )
        lines.append(_("Pledged in all: {amounts}").format(amounts=pledged))
    return lines


# --- thanks ----------------------------------------------------------------------------------


def thank_button(offer: Offer) -> Button:
    return Button("🙏 " + _("Thank"), "thank", (str(offer.id),))


async def show_unthanked(ctx: Ctx, project_ids: Collection[int] | None) -> None:
    """The done contributions of these projects that no leader thanked yet, with a Thank
    button each (shown under /offers)."""
    found, total = await store.unthanked_done(ctx.session, project_ids, UNTHANKED_SHOWN)
    if not found:
        return
    lines: list[Rich | Span | str] = [bold(_("Done, not thanked yet: {count}").format(count=total))]
    for offer, need, project in found:
        name = await _name(ctx, offer.member_id)
        lines.append(Rich.of(f"#{offer.id} {name} · ") + bold(project.title) + " — " + need.title)
    buttons = tuple(
        (Button("🙏 " + _("Thank no. {offer}").format(offer=offer.id), "thank", (str(offer.id),)),)
        for offer, _need, _project in found
    )
    ctx.reply(Rich.join(lines), buttons)


async def _name(ctx: Ctx, member_id: int | None) -> str:
    member = await ctx.session.get(Member, member_id) if member_id is not None else None
    return member.display_name if member is not None and member.display_name else "—"


async def _thanked_offer(ctx: Ctx, press: Press) -> tuple[Offer, Need, Project, Member]:
    """The done offer a leader thanks, re-authorised on every press."""
    if len(press.args) != 1:
        raise StaleButton()
    offer = await lookup.offer(ctx, press.args[0])
    need = await ctx.session.get_one(Need, offer.need_id)
    project = await ctx.session.get_one(Project, need.project_id)
    await lookup.require_leader(ctx, project)
    if offer.status != DONE:
        raise OfferNotDone(status=_(OFFER_STATUS_LABELS.get(offer.status, offer.status)))
    member = await ctx.session.get(Member, offer.member_id) if offer.member_id else None
    if member is None:
        raise ContributorGone(offer=offer.id)
    return offer, need, project, member


def _audit(ctx: Ctx, action: str, offer: Offer, **details: Any) -> None:
    ctx.audit(action, f"offer:{offer.id}", **details)


async def press_thank(ctx: Ctx, press: Press) -> None:
    """Thank the member of a done offer on your project, personally (once)."""
    offer, need, project, member = await _thanked_offer(ctx, press)
    if not await store.mark_thanked(ctx.session, offer.id, ctx.now()):
        raise AlreadyThanked(offer=offer.id)
    _audit(ctx, "offer.thank", offer)
    leader = ctx.actor.display_name
    name = member.display_name

    def build() -> Message:
        return Message(
            Rich.join(
                [
                    Rich.of("🙏 ")
                    + bold(
                        _("{leader}, of {project}, thanks you personally!").format(
                            leader=leader, project=project.title
                        )
                    ),
                    _(
                        "Your contribution to “{need}” ({kind}) made a difference. Thank you, "
                        "{name}, for giving your time and your heart to the territory."
                    ).format(need=need.title, kind=kind_label(offer.kind), name=name),
                    _("Your contributions and badges: /mycontributions"),
                ]
            )
        )

    def unreachable() -> Message:
        return Message(
            Rich.of(
                _(
                    "I could not write to {name} privately: they will read your thanks as "
                    "soon as they write to me."
                ).format(name=name)
            )
        )

    await notify.to_member(
        ctx,
        member.id,
        f"offer:{offer.id}:thanks",
        build,
        waiting=ctx.actor.member_id,
        if_unreachable=unreachable,
    )
    if member.share_name:
        ctx.reply(
            Rich.join(
                [
                    _("I sent your thanks to {name}.").format(name=name),
                    _("They agreed to be named: you may also thank them in the project's groups."),
                ]
            ),
            rows(Button("📣 " + _("Thank publicly"), "thankpub", (str(offer.id),))),
        )
    else:
        ctx.reply(
            Rich.join(
                [
                    _("I sent your thanks to {name}.").format(name=name),
                    _("They chose not to be named publicly, so the thanks stay between you."),
                ]
            )
        )


async def press_thank_public(ctx: Ctx, press: Press) -> None:
    """Post a short thanks to a contributor who agreed to be named, in the project's groups."""
    offer, need, project, member = await _thanked_offer(ctx, press)
    if offer.thanked_at is None:  # the button comes after the personal thanks
        raise StaleButton()
    if not member.share_name:
        raise NotNamedPublicly(offer=offer.id)
    purpose = f"offer:{offer.id}:thanks:public"
    if await store.queued_anywhere(ctx.session, purpose):
        raise AlreadyThanked(offer=offer.id)
    chats = await store_needs.chats_for(ctx.session, project)
    if not chats:
        ctx.reply(
            _(
                "No registered group matches this project yet. Ask the community manager to "
                "register groups with /linkgroup."
            )
        )
        return
    name = member.display_name

    def build() -> Message:
        return Message(
            Rich.join(
                [
                    Rich.of("🙏 ")
                    + bold(_("{project} thanks {name}!").format(project=project.title, name=name)),
                    Rich.of(
                        _("For their contribution ({kind}) to: ").format(
                            kind=kind_label(offer.kind)
                        )
                    )
                    + need_summary(need),
                    _("Want to help too? See the project's needs."),
                ]
            ),
            rows(Button("ℹ️ " + _("Project"), "proj", (project.slug,))),
        )

    posted = [chat.id for chat in chats if await notify.to_chat(ctx, chat, purpose, build)]
    _audit(ctx, "offer.thank_public", offer, chats=posted)
    ctx.reply(_("Your thanks will be posted in {count} groups.").format(count=len(posted)))


# --- a need fulfilled --------------------------------------------------------------------------


async def thank_need_contributors(ctx: Ctx, need: Need, project: Project) -> int:
    """Tell every contributor to a fulfilled need what their contribution made possible
    (once each); returns how many were told."""
    contributors = await store.need_contributors(ctx.session, need.id)
    together = len(contributors)
    told = 0
    for member_id, kinds in contributors.items():

        def build(kinds: list[str] = kinds) -> Message:
            lines: list[Rich | Span | str] = [
                Rich.of("🎉 ")
                + bold(
                    _("“{need}” of {project} is fulfilled, and you made it possible!").format(
                        need=need.title, project=project.title
                    )
                ),
                _("Your contribution ({kinds}) counted. Thank you!").format(
                    kinds=", ".join(kind_label(kind) for kind in kinds)
                ),
            ]
            if together > 1:
                lines.append(
                    _("Together, {count} contributors made it happen.").format(count=together)
                )
            lines.append(Rich.of(_("Follow what comes next: ")) + code(f"/project {project.slug}"))
            return Message(Rich.join(lines))

        if await notify.to_member(ctx, member_id, f"need:{need.id}:fulfilled:thanks", build):
            told += 1
    return told


__all__ = [
    "BADGES",
    "cmd_contributors",
    "cmd_mycontributions",
    "earned_badges",
    "press_thank",
    "press_thank_public",
    "show_unthanked",
    "tally",
    "thank_button",
    "thank_need_contributors",
]
