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


class InvalidLinkCode(UserError):
    msgid = N_(
        "This code is unknown, expired or already used. Send /link on your other account to "
        "get a new one."
    )


class TooManyLinkAttempts(UserError):
    msgid = N_("Too many wrong codes: please try again in an hour.")


class LinkCodeIsYours(UserError):
    msgid = N_(
        "This code was given to you: enter it from your account on the other platform. "
        "If you did, your accounts are already linked."
    )


class LinkSamePlatform(UserError):
    msgid = N_(
        "Both accounts are on {platform}: you can link accounts of different platforms only."
    )


# --- campaigns ---------------------------------------------------------------------------------


class ContentTooLong(UserError):
    msgid = N_(
        "This is too long for {platform}: at most {limit} characters, and the message has "
        "{length}. Please shorten it."
    )


class PollQuestionTooLong(UserError):
    msgid = N_("A poll question on {platform} has at most {limit} characters; yours has {length}.")


class PollOptionCount(UserError):
    msgid = N_(
        "A poll on {platform} needs {low} to {high} options, one per line; you gave {count}."
    )


class PollOptionTooLong(UserError):
    msgid = N_("The poll option “{option}” is too long for {platform}: at most {limit} characters.")


class InvalidSchedule(UserError):
    msgid = N_("This schedule does not work: {problem}")


class UnknownTimezone(UserError):
    msgid = N_("I don't know the time zone “{zone}”. Use a name such as Africa/Casablanca.")

    def render(self) -> str:
        text = super().render()
        if self.params.get("suggestion"):
            text += " " + _("Did you mean “{suggestion}”?").format(**self.params)
        return text


class InvalidTime(UserError):
    msgid = N_("Please give a time as HH:MM, e.g. 09:30.")


class InvalidDateTime(UserError):
    msgid = N_("Please give a date and time as YYYY-MM-DD HH:MM, e.g. {example}.")


class DateInPast(UserError):
    msgid = N_("{when} is already past: please give a moment in the future.")


class InvalidWeekdays(UserError):
    msgid = N_("Please give weekdays such as “mon wed fri” (or 1 3 5, Monday being 1).")


class InvalidMonthDay(UserError):
    msgid = N_("Please give a day of the month from 1 to 28, or a weekday such as “first monday”.")


class InvalidRunCount(UserError):
    msgid = N_("Please give an end date (YYYY-MM-DD) or a number of runs from 1 to {high}.")


class InvalidDays(UserError):
    msgid = N_("Please give a number of days from {low} to {high}.")


class EmptyAudience(UserError):
    msgid = N_(
        "Nobody would receive this campaign: no group and no member matches its audience. "
        "Nothing was activated."
    )


class UnknownCampaign(UserError):
    msgid = N_("I don't know a campaign number {ref}. See /campaigns.")


class CampaignNotAnswerable(UserError):
    msgid = N_("This campaign is over or was not sent to you; nothing was recorded.")


class CampaignWrongStatus(UserError):
    msgid = N_("The campaign “{name}” is {status}: that is not possible now.")


class CampaignsUnavailable(UserError):
    msgid = N_("Campaigns are not available: the scheduler is not running. Please try again later.")


# --- offer lifecycle and recognition -----------------------------------------------------------


class TooManyPendingOffers(UserError):
    msgid = N_(
        "You already have {count} offers waiting for an answer, the most at a time. Wait for "
        "the leaders' answers, or withdraw one in /myoffers."
    )


class TooManyOffersPerHour(UserError):
    msgid = N_(
        "You sent {count} offers in the last hour, the most for now. Thank you for your "
        "energy! Please try again a little later."
    )


class OfferNotDone(UserError):
    msgid = N_("Only a contribution marked as done can be thanked; this offer is {status}.")


class AlreadyThanked(UserError):
    msgid = N_("Offer no. {offer} was already thanked; nothing was sent again.")


class ContributorGone(UserError):
    msgid = N_("The contributor of offer no. {offer} erased their data: nobody can be thanked.")


class NotNamedPublicly(UserError):
    msgid = N_(
        "The contributor of offer no. {offer} has not agreed to be named publicly, so I "
        "will not thank them in the groups."
    )


# --- profiles and privacy ------------------------------------------------------------------------


class UnknownLanguage(UserError):
    msgid = N_(
        "I don't know the language “{language}”. Use codes such as fr, ar, en, or their names."
    )

    def render(self) -> str:
        text = super().render()
        if self.params.get("suggestion"):
            text += " " + _("Did you mean “{suggestion}”?").format(**self.params)
        return text


class TooManyLanguages(UserError):
    msgid = N_("Please give at most {count} languages.")


class UnknownCountry(UserError):
    msgid = N_("I don't know the country “{country}”. Use its name or its code, e.g. FR or MA.")

    def render(self) -> str:
        text = super().render()
        if self.params.get("suggestion"):
            text += " " + _("Did you mean “{suggestion}”?").format(**self.params)
        return text


class InvalidQuietHours(UserError):
    msgid = N_(
        "Please give quiet hours as HH:MM-HH:MM, e.g. 22:00-08:00, or “none” for the default."
    )


# --- matching and referrals -----------------------------------------------------------------------


class ShareLimit(UserError):
    msgid = N_(
        "You asked for {count} share links in the last hour, the most for now. Thank you for "
        "spreading the word! Please try again a little later."
    )
