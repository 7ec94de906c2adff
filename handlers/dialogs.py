"""The dialog engine: conversations declared as data, written once for every platform.

A `Dialog` is a tuple of `Step`s and a `finish` coroutine. Each step asks a question, says what
kind of answer it expects, and stores the parsed answer in the dialog's data under its `key`.
The engine validates answers, keeps the state in the database (keyed by platform, chat and
user, so a dialog survives a restart), handles cancel, skip, timeouts and stale buttons.
"""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, select

from handlers.chat import Button, Press, Rich
from handlers.context import Ctx
from handlers.errors import (
    DeadlineInPast,
    InvalidAmount,
    InvalidChoice,
    InvalidDate,
    StaleButton,
    TextEmpty,
    TextTooLong,
    UnknownCurrency,
    UserError,
)
from handlers.i18n import _
from store.models import DialogState

Data = dict[str, Any]
Asker = Callable[[Ctx, Data], Rich | str | Awaitable[Rich | str]]

CANCEL = "__cancel"
SKIP = "__skip"
CURRENCIES = frozenset({"MAD", "EUR", "USD", "CAD", "GBP", "CHF", "SEK", "NOK", "DKK", "AED"})


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str  # an N_() msgid, translated when shown


@dataclass(frozen=True, slots=True)
class Pick:
    """One of a fixed set of options, shown as buttons."""

    options: Sequence[Option] | Callable[[Data], Sequence[Option]]

    def resolve(self, data: Data) -> Sequence[Option]:
        return self.options(data) if callable(self.options) else self.options


@dataclass(frozen=True, slots=True)
class FreeText:
    max_length: int
    optional: bool = False


@dataclass(frozen=True, slots=True)
class Amount:
    """A positive amount with an optional currency: "150", "150 EUR", "1 500,50 MAD"."""

    default_currency: str = "MAD"


@dataclass(frozen=True, slots=True)
class Day:
    """A date in the future, or nothing when optional."""

    optional: bool = True


Expect = Pick | FreeText | Amount | Day


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    ask: Asker
    expect: Expect
    key: str = ""
    when: Callable[[Data], bool] | None = None  # skipped when this says False


@dataclass(frozen=True, slots=True)
class Dialog:
    name: str
    steps: tuple[Step, ...]
    finish: Callable[[Ctx, Data], Awaitable[None]]

    def index(self, step_name: str) -> int:
        for i, step in enumerate(self.steps):
            if step.name == step_name:
                return i
        raise KeyError(step_name)


REGISTRY: dict[str, Dialog] = {}


def register(dialog: Dialog) -> Dialog:
    REGISTRY[dialog.name] = dialog
    return dialog


# --- parsing answers -----------------------------------------------------------------------


def clean_text(text: str) -> str:
    """Trim and normalise a member's text without altering what they typed."""
    return unicodedata.normalize("NFC", text).strip()


def parse_text(expect: FreeText, raw: str) -> str | None:
    text = clean_text(raw)
    if not text:
        if expect.optional:
            return None
        raise TextEmpty()
    if len(text) > expect.max_length:
        raise TextTooLong(limit=expect.max_length, length=len(text))
    return text


_AMOUNT = re.compile(r"^\s*([0-9][0-9\s.,']*)\s*([A-Za-z]{3})?\s*$")
_AMOUNT_FIRST_CURRENCY = re.compile(r"^\s*([A-Za-z]{3})\s*([0-9][0-9\s.,']*)\s*$")


def parse_amount(raw: str, default_currency: str = "MAD") -> tuple[Decimal, str]:
    """Parse "150", "150 EUR", "EUR 150", "1 500,50 MAD" into (amount, currency)."""
    match = _AMOUNT.match(raw) or None
    if match:
        number, currency = match.group(1), match.group(2)
    else:
        other = _AMOUNT_FIRST_CURRENCY.match(raw)
        if not other:
            word = raw.strip().split()[-1] if raw.strip() else ""
            if word.isalpha() and len(word) == 3:
                raise UnknownCurrency(currency=word.upper())
            raise InvalidAmount()
        currency, number = other.group(1), other.group(2)
    currency = (currency or default_currency).upper()
    if currency not in CURRENCIES:
        raise UnknownCurrency(currency=currency)
    number = re.sub(r"[\s']", "", number)
    if "," in number and "." not in number:
        number = number.replace(",", ".")
    else:
        number = number.replace(",", "")
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise InvalidAmount() from None
    if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e12"):
        raise InvalidAmount()
    return amount.quantize(Decimal("0.01")), currency


def parse_day(raw: str, today: date) -> date:
    text = raw.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InvalidDate(example=today.replace(day=1).isoformat()) from None
    if day <= today:
        raise DeadlineInPast(today=today.isoformat())
    return day


# --- the engine ----------------------------------------------------------------------------


async def current_state(ctx: Ctx) -> DialogState | None:
    place, identity = ctx.place, ctx.actor.identity
    return await ctx.session.scalar(
        select(DialogState).where(
            DialogState.platform == place.platform.value,
            DialogState.chat_id == place.chat_id,
            DialogState.user_id == identity.user_id,
        )
    )


async def clear(ctx: Ctx) -> bool:
    place, identity = ctx.place, ctx.actor.identity
    result = await ctx.session.execute(
        delete(DialogState).where(
            DialogState.platform == place.platform.value,
            DialogState.chat_id == place.chat_id,
            DialogState.user_id == identity.user_id,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def start(ctx: Ctx, dialog: Dialog, data: Data | None = None) -> None:
    """Begin `dialog` for the actor here, replacing any dialog already in progress."""
    await clear(ctx)
    state = DialogState(
        platform=ctx.place.platform.value,
        chat_id=ctx.place.chat_id,
        user_id=ctx.actor.identity.user_id,
        member_id=ctx.actor.member_id,
        dialog=dialog.name,
        step="",
        data=dict(data or {}),
        updated_at=ctx.now(),
    )
    ctx.session.add(state)
    await _advance(ctx, dialog, state, from_index=0)


async def _advance(ctx: Ctx, dialog: Dialog, state: DialogState, from_index: int) -> None:
    data = dict(state.data)
    for step in dialog.steps[from_index:]:
        if step.when is None or step.when(data):
            state.step = step.name
            state.data = data
            state.updated_at = ctx.now()
            await ask(ctx, dialog, step, data)
            return
    await ctx.session.delete(state)
    await ctx.session.flush()
    # The finish may refuse (the need closed meanwhile): then nothing it wrote stays, the
    # dialog is over either way, and the member is told why.
    try:
        async with ctx.session.begin_nested():
            await dialog.finish(ctx, data)
    except UserError as error:
        ctx.reply("⚠️ " + error.render())


async def ask(ctx: Ctx, dialog: Dialog, step: Step, data: Data) -> None:
    """Show the question of `step` with its buttons."""
    question = step.ask(ctx, data)
    if inspect.isawaitable(question):
        question = await question
    buttons: list[list[Button]] = []
    expect = step.expect
    if isinstance(expect, Pick):
        options = expect.resolve(data)
        row: list[Button] = []
        for option in options:
            row.append(Button(_(option.label), "dlg", (dialog.name, step.name, option.value)))
            if len(row) == 2:
                buttons.append(row)
                row = []
        if row:
            buttons.append(row)
    tail = []
    if (isinstance(expect, FreeText | Day)) and expect.optional:
        tail.append(Button(_("Skip"), "dlg", (dialog.name, step.name, SKIP)))
    tail.append(Button(_("Cancel"), "dlg", (dialog.name, step.name, CANCEL)))
    buttons.append(tail)
    expects_text = None
    if isinstance(expect, FreeText):
        expects_text = expect.max_length
    elif isinstance(expect, Amount | Day):
        expects_text = 40
    ctx.reply(Rich.of(question), buttons, expects_text=expects_text, text_label=step.name)


async def on_text(ctx: Ctx, state: DialogState, text: str) -> None:
    """A free-text answer to the current step."""
    dialog = REGISTRY.get(state.dialog)
    if dialog is None or _expired(ctx, state):
        await _expire(ctx, state)
        return
    step = dialog.steps[dialog.index(state.step)]
    await _answer(ctx, dialog, state, step, text, pressed=False)


async def on_press(ctx: Ctx, press: Press) -> None:
    """A button of a dialog: checked against the step the dialog is at now."""
    if len(press.args) != 3:
        raise StaleButton()
    dialog_name, step_name, value = press.args
    state = await current_state(ctx)
    if state is None or state.dialog != dialog_name or state.step != step_name:
        raise StaleButton()
    dialog = REGISTRY.get(dialog_name)
    if dialog is None or _expired(ctx, state):
        await _expire(ctx, state)
        return
    if value == CANCEL:
        await clear(ctx)
        ctx.reply(_("Cancelled. Nothing was saved."))
        return
    step = dialog.steps[dialog.index(step_name)]
    await _answer(ctx, dialog, state, step, value, pressed=True)


async def _answer(
    ctx: Ctx, dialog: Dialog, state: DialogState, step: Step, raw: str, *, pressed: bool
) -> None:
    data = dict(state.data)
    try:
        data[step.key or step.name] = _parse(ctx, step, data, raw, pressed=pressed)
    except UserError as error:
        ctx.reply("⚠️ " + error.render())
        await ask(ctx, dialog, step, data)
        return
    state.data = data
    await _advance(ctx, dialog, state, from_index=dialog.index(step.name) + 1)


def _parse(ctx: Ctx, step: Step, data: Data, raw: str, *, pressed: bool) -> Any:
    expect = step.expect
    if pressed and raw == SKIP and isinstance(expect, FreeText | Day) and expect.optional:
        return None
    if isinstance(expect, Pick):
        options = expect.resolve(data)
        if pressed:
            if raw in {o.value for o in options}:
                return raw
            raise InvalidChoice()
        # Typed answers: a number from the list or the label itself.
        typed = clean_text(raw).casefold()
        for number, option in enumerate(options, start=1):
            if typed in {str(number), option.value.casefold(), _(option.label).casefold()}:
                return option.value
        raise InvalidChoice()
    if pressed:  # a forged press on a step that expects text
        raise InvalidChoice()
    if isinstance(expect, FreeText):
        if expect.optional and _typed_skip(raw):
            return None
        return parse_text(expect, raw)
    if isinstance(expect, Amount):
        amount, currency = parse_amount(raw, data.get("currency") or expect.default_currency)
        data["currency"] = currency
        return str(amount)
    if isinstance(expect, Day):
        if expect.optional and (
            _typed_skip(raw) or clean_text(raw).casefold() == _("none").casefold()
        ):
            return None
        return parse_day(raw, ctx.today().date()).isoformat()
    raise AssertionError(f"unknown expectation {expect!r}")


def _typed_skip(raw: str) -> bool:
    """ "-" or the word on the Skip button, typed instead of pressed."""
    return clean_text(raw).casefold() in {"-", "skip", _("Skip").casefold()}


def _expired(ctx: Ctx, state: DialogState) -> bool:
    return ctx.now() - state.updated_at > ctx.community.dialog_timeout


async def _expire(ctx: Ctx, state: DialogState) -> None:
    await ctx.session.delete(state)
    ctx.reply(
        _("That conversation had expired, so I closed it. Nothing was saved; please start again.")
    )
