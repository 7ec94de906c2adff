"""What a campaign says: pure builders, used by the scheduler's runs and by the preview.

Contract with `schedules/` (the engine fills a `RunContext` and calls `build_prompt` once per
language and kind of place; nothing here reads the database or the clock):

- `Campaign.content` is `{"fr": text, "en": text, "ar": text}`; a missing language falls back
  to the community's, then to any (`pick_content`).
- `Campaign.options`: `{"options": {"fr": [...], ...}}` for a poll (same fallback),
  `{"days": 14}` for a follow-up (days after an offer was accepted) or a re-engagement
  (days of silence).
- `Campaign.audience`: `{"groups": "all" | "none" | [tags...], "members": "none" | "everyone" |
  "contributors" | "followers"}`; "followers" are those of `audience["project_id"]` (else of
  `Campaign.project_id`). Private messages go only to members with `accepts_dm`. Follow-ups
  go to the owners of the offers concerned, re-engagements to the members concerned
  (both private, with `accepts_dm`).
- Poll votes are recorded as `CampaignResponse(kind="vote", choice=[option index as str])`,
  so that votes in different languages count together.
- Buttons and deep links carry the campaign's short `code` (`CODE_PATTERN`) so that clicks
  and offers are credited to it: `offer-<need>-c<CODE>`, `project-<slug>-c<CODE>`.
- Button actions (handled in `handlers.campaign_responses`): "co" (need, code) "I can help";
  "cp" (slug, code) "See the project"; "cans" (campaign, run; 0 for a test) "Answer";
  "fu" (offer, done|help|stop, campaign) a follow-up's answers; "cno" (campaign) "Not now".
- A prompt fits every platform: what the community manager writes is checked when the
  campaign is created (`check_run`), and generated lists are cut to fit (`LIMITS`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from handlers.cards import need_summary
from handlers.chat import Button, Message, Outgoing, Poll, Rich, Span, bold, italic
from handlers.errors import (
    ContentTooLong,
    PollOptionCount,
    PollOptionTooLong,
    PollQuestionTooLong,
)
from handlers.i18n import LANGUAGES, N_, _, use_language
from store.models import Campaign, CampaignKind, CampaignStatus, Need, NeedStatus, Offer, Project

# --- labels --------------------------------------------------------------------------------

KIND_LABELS: dict[str, str] = {
    "message": N_("Message"),
    "question": N_("Question"),
    "poll": N_("Poll"),
    "spotlight": N_("Project spotlight"),
    "digest": N_("Digest of open needs"),
    "followup": N_("Follow-up of accepted offers"),
    "reengage": N_("Re-engagement of quiet members"),
}
STATUS_LABELS: dict[str, str] = {
    CampaignStatus.ACTIVE: N_("active"),
    CampaignStatus.PAUSED: N_("paused"),
    CampaignStatus.FINISHED: N_("finished"),
    CampaignStatus.DELETED: N_("deleted"),
}
FOLLOWUP_CHOICES = ("done", "help", "stop")
FOLLOWUP_LABELS: dict[str, str] = {
    "done": N_("done"),
    "help": N_("needs help"),
    "stop": N_("can't any more"),
}


# --- platform bounds -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """What one platform accepts in one message or poll (lengths in UTF-16 code units, as
    the platforms count them)."""

    platform: str  # named in the errors
    message: int
    poll_question: int
    poll_options_min: int
    poll_options_max: int
    poll_option: int


# Strictest first: a check names the strictest platform that refuses the content.
PLATFORM_LIMITS: tuple[Limits, ...] = (
    Limits(
        "Discord", 2000, poll_question=300, poll_options_min=2, poll_options_max=10, poll_option=55
    ),
    Limits(
        "Telegram",
        4096,
        poll_question=300,
        poll_options_min=2,
        poll_options_max=12,
        poll_option=100,
    ),
)

LIMITS = Limits(
    "every platform",
    message=min(limit.message for limit in PLATFORM_LIMITS),
    poll_question=min(limit.poll_question for limit in PLATFORM_LIMITS),
    poll_options_min=max(limit.poll_options_min for limit in PLATFORM_LIMITS),
    poll_options_max=min(limit.poll_options_max for limit in PLATFORM_LIMITS),
    poll_option=min(limit.poll_option for limit in PLATFORM_LIMITS),
)

DEEP_LINK_MAX = 64  # Telegram's `start` parameter: 1-64 characters of [A-Za-z0-9_-]
SPOTLIGHT_BUTTONS = 5
DIGEST_BUTTONS = 5
SUMMARY_SHOWN = 600  # a spotlight's project summary, clipped
DETAILS_SHOWN = 500  # a re-engagement's need details, clipped
MORE_RESERVE = 40  # room kept for "…and N more" when a list is cut
# The text a community manager writes around generated content (spotlight, digest, follow-up,
# re-engagement); with the generated parts fitted around it, the whole stays within bounds.
INTRO_MAX = 500


def text_length(text: str) -> int:
    """Length as Telegram and Discord count it (UTF-16 code units: an emoji counts 2)."""
    return len(text.encode("utf-16-le")) // 2


def check_prompt(prompt: Outgoing) -> None:
    """Refuse a prompt that one of the platforms would refuse, naming it and its bound."""
    for limits in PLATFORM_LIMITS:
        if isinstance(prompt, Message):
            length = text_length(prompt.text.plain)
            if length > limits.message:
                raise ContentTooLong(platform=limits.platform, limit=limits.message, length=length)
        elif isinstance(prompt, Poll):
            _check_poll(prompt.question, prompt.options, limits)


def check_poll(question: str, options: Sequence[str]) -> None:
    """A poll question and options that every platform accepts."""
    for limits in PLATFORM_LIMITS:
        _check_poll(question, options, limits)


def check_poll_question(question: str) -> None:
    """A poll question that every platform accepts (before its options are known)."""
    for limits in PLATFORM_LIMITS:
        _check_question(question, limits)


def _check_question(question: str, bounds: Limits) -> None:
    length = text_length(question)
    if length > bounds.poll_question:
        raise PollQuestionTooLong(
            platform=bounds.platform, limit=bounds.poll_question, length=length
        )


def _check_poll(question: str, options: Sequence[str], bounds: Limits) -> None:
    _check_question(question, bounds)
    if not bounds.poll_options_min <= len(options) <= bounds.poll_options_max:
        raise PollOptionCount(
            platform=bounds.platform,
            low=bounds.poll_options_min,
            high=bounds.poll_options_max,
            count=len(options),
        )
    for option in options:
        if text_length(option) > bounds.poll_option:
            raise PollOptionTooLong(
                platform=bounds.platform, option=option, limit=bounds.poll_option
            )


# --- campaign codes and deep links -----------------------------------------------------------

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I
CODE_LENGTH = 6
CODE_MAX = 8
# Upper case keeps a code apart from a project's short name, which is lower case.
CODE_PATTERN = r"[A-Z][A-Z0-9]{1,7}"


def new_code() -> str:
    """A fresh campaign code: a letter, then letters and digits (the caller checks it is free)."""
    letters = CODE_ALPHABET[:24]
    return secrets.choice(letters) + "".join(
        secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH - 1)
    )


def is_code(text: str) -> bool:
    return re.fullmatch(CODE_PATTERN, text) is not None


def split_code(value: str) -> tuple[str, str | None]:
    """`"12-cK7Q2MX"` -> `("12", "K7Q2MX")`; a value without a campaign code is unchanged."""
    head, sep, tail = value.rpartition("-c")
    if sep and head and is_code(tail):
        return head, tail
    return value, None


def deep_link(kind: str, value: str, code: str | None) -> str:
    """The `/start` payload for `kind` ("offer", "project"), carrying the campaign code when it
    fits in Telegram's 64 characters (a very long short name drops it: no credit, still works)."""
    plain = f"{kind}-{value}"
    if code:
        credited = f"{plain}-c{code}"
        if len(credited) <= DEEP_LINK_MAX:
            return credited
    return plain


def offer_button(need: Need, code: str, *, numbered: bool = False) -> Button:
    """ "I can help" on a need, credited to the campaign."""
    label = "🙋 " + _("I can help")
    return Button(
        f"{label} (#{need.id})" if numbered else label,
        "co",
        (str(need.id), code),
        private_start=deep_link("offer", str(need.id), code),
    )


def project_button(project: Project, code: str) -> Button:
    """ "See the project", credited to the campaign."""
    return Button(
        "ℹ️ " + _("See the project"),
        "cp",
        (project.slug, code),
        private_start=deep_link("project", project.slug, code),
    )


# --- what the engine gives the builders ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunContext:
    """One campaign as a run (or a preview) sees it, with the objects its kind talks about.

    Kind-specific fields: `project` + `needs` (its open needs) for a spotlight; `needs` +
    `projects` (by id) for a digest; `offer` + `need` + `project` for a follow-up;
    `suggestion` + `project` for a re-engagement; optional `project` or `need` for the
    button of a message."""

    campaign_id: int
    code: str
    kind: str
    content: Mapping[str, str]
    options: Mapping[str, Any]
    default_language: str
    name: str = ""
    project_id: int | None = None
    need_id: int | None = None
    run_id: int | None = None  # None for a preview or a test sent to oneself
    project: Project | None = None
    need: Need | None = None
    needs: Sequence[Need] = ()
    projects: Mapping[int, Project] = field(default_factory=dict)
    offer: Offer | None = None
    suggestion: Need | None = None

    @classmethod
    def of(
        cls, campaign: Campaign, default_language: str, *, run_id: int | None = None, **kind: Any
    ) -> RunContext:
        """A context for `campaign`; `kind` holds the kind-specific objects."""
        return cls(
            campaign_id=campaign.id,
            code=campaign.code,
            kind=campaign.kind,
            content=dict(campaign.content or {}),
            options=dict(campaign.options or {}),
            default_language=default_language,
            name=campaign.name,
            project_id=campaign.project_id,
            need_id=campaign.need_id,
            run_id=run_id,
            **kind,
        )


T = TypeVar("T")


def _fallback(values: Mapping[str, T], language: str, default_language: str) -> T | None:
    for code in (language, default_language, *LANGUAGES, *values):
        value = values.get(code)
        if value:
            return value
    return None


def pick_content(campaign_content: Mapping[str, str], language: str, default_language: str) -> str:
    """The text in `language`, else in the community's language, else in any language."""
    return _fallback(campaign_content, language, default_language) or ""


def poll_options(run: RunContext, language: str) -> tuple[str, ...]:
    """The poll's options in `language`, with the same fallback as the text."""
    by_language = run.options.get("options") or {}
    if not isinstance(by_language, Mapping):
        return ()
    chosen = _fallback(by_language, language, run.default_language) or []
    return tuple(str(option) for option in chosen)


# --- the prompts, one builder per kind -------------------------------------------------------


def build_prompt(ctx: RunContext, language: str, *, private: bool) -> Outgoing:
    """What the campaign sends, in `language`, to a private chat or to a group."""
    builder = BUILDERS.get(ctx.kind)
    if builder is None:
        raise ValueError(f"unknown campaign kind {ctx.kind!r}")
    with use_language(language):
        return builder(ctx, language, private)


def _text(ctx: RunContext, language: str) -> str:
    return pick_content(ctx.content, language, ctx.default_language)


def _message(ctx: RunContext, language: str, private: bool) -> Message:
    buttons: tuple[tuple[Button, ...], ...] = ()
    if ctx.need is not None and ctx.need.status == NeedStatus.OPEN.value:
        buttons = ((offer_button(ctx.need, ctx.code),),)
    elif ctx.project is not None:
        buttons = ((project_button(ctx.project, ctx.code),),)
    return Message(Rich.of(_text(ctx, language)), buttons)


def _question(ctx: RunContext, language: str, private: bool) -> Message:
    lines: list[Rich | Span | str] = [Rich.of("❓ ") + _text(ctx, language)]
    answer = Button("✍️ " + _("Answer"), "cans", (str(ctx.campaign_id), str(ctx.run_id or 0)))
    if not private:
        # Telegram members may also reply to the message; on Discord the button is the way.
        lines.append(italic(_("Press Answer, or reply to this message.")))
    return Message(Rich.join(lines), ((answer,),))


def _poll(ctx: RunContext, language: str, private: bool) -> Poll:
    return Poll(_text(ctx, language), poll_options(ctx, language))


def _intro(ctx: RunContext, language: str) -> list[Rich | Span | str]:
    text = _text(ctx, language)
    return [text] if text else []


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _fit(head: list[Rich | Span | str], items: Sequence[Rich], more: Callable[[int], str]) -> Rich:
    """`head` then as many `items` as fit within every platform's bound, the rest counted."""
    budget = LIMITS.message - MORE_RESERVE
    text = Rich.join(head)
    for index, item in enumerate(items):
        longer = Rich.join([text, item])
        if text_length(longer.plain) > budget:
            return Rich.join([text, more(len(items) - index)])
        text = longer
    return text


def _more_needs(count: int) -> str:
    return _("…and {count} more: see /needs").format(count=count)


def _spotlight(ctx: RunContext, language: str, private: bool) -> Message:
    project = ctx.project
    if project is None:
        raise ValueError("a spotlight needs its project")
    lines: list[Rich | Span | str] = [Rich.of("🌟 ") + bold(_("Project spotlight"))]
    lines += _intro(ctx, language)
    lines.append(bold(project.title))
    meta = [project.territory] if project.territory else []
    meta += [f"#{tag}" for tag in project.tags]
    if meta:
        lines.append(italic(" · ".join(meta)))
    if project.summary:
        lines.append(_clip(project.summary, SUMMARY_SHOWN))
    open_needs = [need for need in ctx.needs if need.status == NeedStatus.OPEN.value]
    if open_needs:
        lines += ["", bold(_("Open needs:"))]
    else:
        lines.append(_("No open needs right now."))
    text = _fit(lines, [need_summary(need) for need in open_needs], _more_needs)
    buttons: list[tuple[Button, ...]] = [
        (offer_button(need, ctx.code, numbered=True),) for need in open_needs[:SPOTLIGHT_BUTTONS]
    ]
    more = [project_button(project, ctx.code)]
    if private:
        more.append(Button("🔔 " + _("Follow"), "fol", (project.slug,)))
    buttons.append(tuple(more))
    return Message(text, tuple(buttons))


def _digest(ctx: RunContext, language: str, private: bool) -> Message:
    lines: list[Rich | Span | str] = [Rich.of("🗞 ") + bold(_("Needs waiting for you"))]
    lines += _intro(ctx, language)
    if not ctx.needs:
        lines.append(_("No open needs right now."))
    items = []
    for need in ctx.needs:
        line = need_summary(need)
        project = ctx.projects.get(need.project_id)
        if project is not None:
            line += Rich.of(" — ") + italic(project.title)
        items.append(line)
    buttons = tuple(
        (offer_button(need, ctx.code, numbered=True),) for need in ctx.needs[:DIGEST_BUTTONS]
    )
    return Message(_fit(lines, items, _more_needs), buttons)


def _followup(ctx: RunContext, language: str, private: bool) -> Message:
    offer, need, project = ctx.offer, ctx.need, ctx.project
    if offer is None or need is None or project is None:
        raise ValueError("a follow-up needs its offer, need and project")
    lines: list[Rich | Span | str] = [
        Rich.of("👋 ")
        + bold(
            _("How is it going with your contribution to “{need}” ({project})?").format(
                need=need.title, project=project.title
            )
        )
    ]
    lines += _intro(ctx, language)
    lines.append(_("Offer no. {offer}. Tell me in one tap:").format(offer=offer.id))
    args = (str(offer.id),)
    extra = (str(ctx.campaign_id),)
    buttons = (
        (Button("✅ " + _("Done"), "fu", (*args, "done", *extra)),),
        (Button("🆘 " + _("I need help"), "fu", (*args, "help", *extra)),),
        (Button("✋ " + _("I can't any more"), "fu", (*args, "stop", *extra)),),
    )
    return Message(Rich.join(lines), buttons)


def _reengage(ctx: RunContext, language: str, private: bool) -> Message:
    need = ctx.suggestion
    if need is None:
        raise ValueError("a re-engagement needs its suggestion")
    lines: list[Rich | Span | str] = [
        Rich.of("🌱 ") + bold(_("A need that could suit you")),
    ]
    lines += _intro(ctx, language)
    line = need_summary(need)
    if ctx.project is not None:
        line += Rich.of(" — ") + italic(ctx.project.title)
    lines.append(line)
    if need.details:
        lines.append(_clip(need.details, DETAILS_SHOWN))
    buttons = (
        (
            offer_button(need, ctx.code),
            Button("🙂 " + _("Not now"), "cno", (str(ctx.campaign_id),)),
        ),
    )
    return Message(Rich.join(lines), buttons)


Builder = Callable[[RunContext, str, bool], Outgoing]

BUILDERS: dict[str, Builder] = {
    CampaignKind.MESSAGE: _message,
    CampaignKind.QUESTION: _question,
    CampaignKind.POLL: _poll,
    CampaignKind.SPOTLIGHT: _spotlight,
    CampaignKind.DIGEST: _digest,
    CampaignKind.FOLLOWUP: _followup,
    CampaignKind.REENGAGE: _reengage,
}


def check_run(ctx: RunContext, languages: Sequence[str] = LANGUAGES) -> None:
    """Every prompt of this run (each language, private and group) within every platform's
    bounds; raises the first problem, naming the platform and the bound."""
    for language in languages:
        for private in (False, True):
            check_prompt(build_prompt(ctx, language, private=private))


__all__ = [
    "BUILDERS",
    "CODE_PATTERN",
    "LIMITS",
    "PLATFORM_LIMITS",
    "Limits",
    "RunContext",
    "build_prompt",
    "check_poll",
    "check_poll_question",
    "check_prompt",
    "check_run",
    "deep_link",
    "new_code",
    "pick_content",
    "poll_options",
    "split_code",
]
