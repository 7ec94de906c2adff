"""Neutral messages to and from JSON, for the outbox's `payload` column."""

from __future__ import annotations

import base64
from typing import Any

from handlers.chat import (
    Button,
    Document,
    Edit,
    Image,
    Message,
    MessageRef,
    Outgoing,
    Poll,
    Rich,
    Span,
    Target,
)


def _rich(rich: Rich) -> list[list[str | None]]:
    return [[span.text, span.kind, span.url] for span in rich.spans]


def _unrich(data: list[list[Any]]) -> Rich:
    return Rich(tuple(Span(text, kind, url) for text, kind, url in data))


def _button(button: Button) -> dict[str, Any]:
    return {
        "label": button.label,
        "action": button.action,
        "args": list(button.args),
        "url": button.url,
        "private_start": button.private_start,
    }


def _unbutton(data: dict[str, Any]) -> Button:
    return Button(
        data["label"], data["action"], tuple(data["args"]), data["url"], data["private_start"]
    )


def _message(message: Message) -> dict[str, Any]:
    return {
        "text": _rich(message.text),
        "buttons": [[_button(b) for b in row] for row in message.buttons],
    }


def _unmessage(data: dict[str, Any]) -> Message:
    return Message(
        _unrich(data["text"]),
        tuple(tuple(_unbutton(b) for b in row) for row in data["buttons"]),
    )


def dump(out: Outgoing) -> dict[str, Any]:
    """A JSON-ready dict for `out` (its `to` is not kept: the delivery row has the target)."""
    match out:
        case Message():
            return {"type": "message", **_message(out)}
        case Edit():
            return {
                "type": "edit",
                "target": out.ref.target.key,
                "message_id": out.ref.message_id,
                **_message(out.message),
            }
        case Poll():
            return {"type": "poll", "question": out.question, "options": list(out.options)}
        case Image():
            return {
                "type": "image",
                "png": base64.b64encode(out.png).decode(),
                "caption": _rich(out.caption),
            }
        case Document():
            return {
                "type": "document",
                "data": base64.b64encode(out.data).decode(),
                "filename": out.filename,
                "caption": _rich(out.caption),
            }
    raise TypeError(f"cannot serialise {out!r}")


def load(data: dict[str, Any]) -> Outgoing:
    """The message a payload stands for."""
    kind = data["type"]
    if kind == "message":
        return _unmessage(data)
    if kind == "edit":
        ref = MessageRef(Target.parse(data["target"]), data["message_id"])
        return Edit(ref, _unmessage(data))
    if kind == "poll":
        return Poll(data["question"], tuple(data["options"]))
    if kind == "image":
        return Image(base64.b64decode(data["png"]), _unrich(data["caption"]))
    if kind == "document":
        return Document(base64.b64decode(data["data"]), data["filename"], _unrich(data["caption"]))
    raise ValueError(f"unknown payload type {kind!r}")
