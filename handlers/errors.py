"""Errors named after the rule that was broken; translated into words only at the edge."""

from __future__ import annotations

from typing import Any, ClassVar

from handlers.i18n import N_, _


class UserError(Exception):
    """A request the bot refuses, with a message for the member. Nothing is written."""

    msgid: ClassVar[str] = N_("Sorry, that did not work.")

    def __init__(self, **params: Any) -> None:
        super().__init__(self.msgid)
        self.params = params

    def render(self) -> str:
        return _(self.msgid).format(**self.params)


class Usage(UserError):
    msgid = N_("Usage: {usage}")


class NotAllowed(UserError):
    msgid = N_("Only {who} can do that.")


class NotProjectLeader(UserError):
    msgid = N_("Only the leaders of “{project}” (or a community manager) can do that.")


class UnknownProject(UserError):
    msgid = N_("I don't know a project called “{slug}”.")

    def render(self) -> str:
        text = super().render()
        if self.params.get("suggestion"):
            text += " " + _("Did you mean “{suggestion}”?").format(**self.params)
        return text + " " + _("See /projects for the list.")


class UnknownNeed(UserError):
    msgid = N_("I don't know a need number {ref}. The numbers appear on each project card.")


class UnknownOffer(UserError):
    msgid = N_("I don't know an offer number {ref}.")


class UnknownMember(UserError):
    msgid = N_("I don't know anyone called “{who}”. They must have written to me once.")


class AmbiguousMember(UserError):
    msgid = N_("Several members are called “{who}”; use their number, e.g. #{example}.")


class ProjectNotOpen(UserError):
    msgid = N_("The project “{project}” is not open for contributions right now.")


class NeedClosed(UserError):
    msgid = N_("This need is already {status}: it no longer takes offers.")


class OfferAlreadyDecided(UserError):
    msgid = N_("This offer is already {status}; nothing was changed.")


class DuplicateOffer(UserError):
    msgid = N_("You already have a pending offer (no. {offer}) on this need: see /myoffers.")


class TextTooLong(UserError):
    msgid = N_("That is too long: at most {limit} characters, you sent {length}.")


class TextEmpty(UserError):
    msgid = N_("Please write something.")


class InvalidAmount(UserError):
    msgid = N_("Please give a positive amount, e.g. 150 or 150 EUR.")


class UnknownCurrency(UserError):
    msgid = N_("I don't know the currency “{currency}”. Use a code such as MAD, EUR, USD, CAD.")


class InvalidDate(UserError):
    msgid = N_("Please give a date as YYYY-MM-DD, e.g. {example}.")


class DeadlineInPast(UserError):
    msgid = N_("The deadline must be in the future (after {today}).")


class InvalidSlug(UserError):
    msgid = N_(
        "A project short name uses 3 to 50 lowercase letters, digits and dashes, "
        "e.g. “argan-tafraout”."
    )


class SlugTaken(UserError):
    msgid = N_("The short name “{slug}” is already used by another project.")


class NotInGroup(UserError):
    msgid = N_("Use this command inside the group you want to register.")


class StaleButton(UserError):
    msgid = N_("This button has expired; nothing was changed.")


class InvalidChoice(UserError):
    msgid = N_("Please choose one of the buttons.")


class WrongStatus(UserError):
    msgid = N_("That is not possible while the project is {status}.")


class NotYourOffer(UserError):
    msgid = N_("This offer is not yours; nothing was changed.")


class InvalidTags(UserError):
    msgid = N_("Use at most {count} tags of at most {length} characters each.")
