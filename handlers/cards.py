"""How a project, a need and an offer look, on every platform."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from handlers.chat import Button, Message, Rich, Span, bold, code, italic
from handlers.i18n import N_, _
from store.models import ContributionKind, Need, NeedStatus, Offer, Project

KIND_LABELS: dict[str, str] = {
    ContributionKind.IDEA: N_("Idea"),
    ContributionKind.FACILITATION: N_("Facilitation"),
    ContributionKind.EXPERTISE: N_("Expertise"),
    ContributionKind.KNOWLEDGE: N_("Knowledge"),
    ContributionKind.SKILLS: N_("Skills"),
    ContributionKind.NETWORK: N_("Network"),
    ContributionKind.INFORMATION: N_("Information"),
    ContributionKind.FUNDING: N_("Funding (pledge)"),
}
KIND_ICONS: dict[str, str] = {
    "idea": "💡",
    "facilitation": "🤝",
    "expertise": "🎓",
    "knowledge": "📚",
    "skills": "🛠",
    "network": "🌐",
    "information": "📰",
    "funding": "💰",
}
PROJECT_STATUS_LABELS: dict[str, str] = {
    "draft": N_("draft"),
    "open": N_("open"),
    "paused": N_("paused"),
    "archived": N_("archived"),
}
NEED_STATUS_LABELS: dict[str, str] = {
    "open": N_("open"),
    "fulfilled": N_("fulfilled"),
    "cancelled": N_("cancelled"),
}
OFFER_STATUS_LABELS: dict[str, str] = {
    "pending": N_("pending"),
    "accepted": N_("accepted"),
    "declined": N_("declined"),
    "withdrawn": N_("withdrawn"),
    "done": N_("done"),
}
AVAILABILITY_LABELS: dict[str, str] = {
    "one_off": N_("One-off"),
    "few_hours": N_("A few hours"),
    "ongoing": N_("Ongoing"),
}


def kind_label(kind: str) -> str:
    return f"{KIND_ICONS.get(kind, '•')} {_(KIND_LABELS.get(kind, kind))}"


def money(amount: Decimal | str | None, currency: str | None) -> str:
    if amount is None:
        return ""
    value = Decimal(amount)
    text = f"{value:,.2f}".replace(",", " ")
    if text.endswith(".00"):
        text = text[:-3]
    return f"{text} {currency or ''}".strip()


def need_summary(need: Need) -> Rich:
    """One line: number, kind, title, and what is asked."""
    line = Rich.of(f"#{need.id} ") + kind_label(need.kind) + " — " + bold(need.title)
    if need.kind == ContributionKind.FUNDING and need.target_amount is not None:
        line += (
            " (" + _("goal {amount}").format(amount=money(need.target_amount, need.currency)) + ")"
        )
    elif need.effort:
        line += " (" + need.effort + ")"
    if need.deadline is not None:
        line += " · " + _("by {date}").format(date=need.deadline.isoformat())
    if need.status != NeedStatus.OPEN:
        line += Rich.of(" · ") + italic(_(NEED_STATUS_LABELS[need.status]))
    return line


def help_button(need: Need, *, numbered: bool = False) -> Button:
    """The "I can help" button: starts the offer dialog in private (a deep link from a
    Telegram group); `numbered` names the need, for cards that list several."""
    label = "🙋 " + _("I can help")
    return Button(
        f"{label} (#{need.id})" if numbered else label,
        "help",
        (str(need.id),),
        private_start=f"offer-{need.id}",
    )


def share_button(need: Need, *, numbered: bool = False) -> Button:
    """The "Share" button: the member gets, privately, their personal link to the need (a
    deep link from a Telegram group)."""
    label = "📣 " + _("Share")
    return Button(
        f"{label} (#{need.id})" if numbered else label,
        "share",
        (str(need.id),),
        private_start=f"share-{need.id}",
    )


def need_card(need: Need, project: Project) -> Message:
    """The announcement of one need, as posted in groups."""
    lines: list[Rich | Span | str] = [
        Rich.of("📣 ")
        + bold(project.title)
        + (f" · {project.territory}" if project.territory else ""),
        need_summary(need),
    ]
    if need.details:
        lines.append(need.details)
    lines.append(Rich.of(_("Project page: ")) + code(f"/project {project.slug}"))
    buttons: tuple[tuple[Button, ...], ...] = ()
    if need.status == NeedStatus.OPEN:
        buttons = (
            (help_button(need), Button("ℹ️ " + _("Project"), "proj", (project.slug,))),
            (share_button(need),),
        )
    else:
        lines.append(
            bold(
                _("This need is {status}. Thank you to everyone who helped!").format(
                    status=_(NEED_STATUS_LABELS[need.status])
                )
            )
        )
    return Message(Rich.join(lines), buttons)


def project_card(
    project: Project, needs: Sequence[Need], *, following: bool | None = None
) -> Message:
    """A project with its open needs and the buttons to help or follow."""
    lines: list[Rich | Span | str] = [bold(project.title)]
    meta = [project.territory] if project.territory else []
    meta += [f"#{tag}" for tag in project.tags]
    if project.status != "open":
        meta.append(_(PROJECT_STATUS_LABELS.get(project.status, project.status)))
    if meta:
        lines.append(italic(" · ".join(meta)))
    if project.summary:
        lines.append(project.summary)
    open_needs = [need for need in needs if need.status == NeedStatus.OPEN]
    if open_needs:
        lines.append("")
        lines.append(bold(_("Open needs:")))
        lines.extend(need_summary(need) for need in open_needs)
    else:
        lines.append(_("No open needs right now."))
    buttons: list[tuple[Button, ...]] = []
    if project.status == "open":
        buttons.extend(
            (help_button(need, numbered=True), share_button(need, numbered=True))
            for need in open_needs[:5]
        )
    if following is not None:
        buttons.append(
            (Button("🔕 " + _("Unfollow"), "unf", (project.slug,)),)
            if following
            else (Button("🔔 " + _("Follow"), "fol", (project.slug,)),)
        )
    return Message(Rich.join(lines), tuple(buttons))


def offer_summary(offer: Offer, need: Need, project: Project) -> Rich:
    """An offer as the member and the leaders see it."""
    lines: list[Rich | Span | str] = [
        Rich.of(_("Offer no. {offer}").format(offer=offer.id) + " · ")
        + italic(_(OFFER_STATUS_LABELS.get(offer.status, offer.status))),
        Rich.of(bold(project.title)) + " — " + need_summary(need),
        Rich.of(_("Contribution: ")) + kind_label(offer.kind),
    ]
    if offer.message:
        lines.append(Rich.of("« ") + offer.message + " »")
    lines.append(
        _("Availability: {availability}").format(
            availability=_(AVAILABILITY_LABELS.get(offer.availability, offer.availability))
        )
    )
    if offer.pledged_amount is not None:
        lines.append(
            _("Pledge: {amount} (a promise; the bot never handles money)").format(
                amount=money(offer.pledged_amount, offer.currency)
            )
        )
    if offer.reason:
        lines.append(_("Reason: {reason}").format(reason=offer.reason))
    return Rich.join(lines)
