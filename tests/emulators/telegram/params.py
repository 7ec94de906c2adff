"""Decoding a Bot API call (query string, form, multipart or JSON body) and lenient ids."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Final

from aiohttp import web

from tests.emulators.telegram.model import JSON, UploadedFile

#: Form fields that stay strings even when they look like JSON ("123", "true", "null").
TEXT_FIELDS: Final = frozenset(
    {
        "text",
        "caption",
        "question",
        "callback_data",
        "callback_query_id",
        "inline_message_id",
        "parse_mode",
        "url",
        "description",
        "short_description",
        "name",
        "title",
        "explanation",
        "secret_token",
        "language_code",
        "file_id",
        "photo",
        "document",
        "ip_address",
        "query",
        "emoji",
    }
)


def _decode_field(name: str, value: str) -> Any:
    """A form field: JSON when it parses, except text fields which stay strings."""
    if name in TEXT_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


async def read_params(request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
    """Decode query string and body (form, multipart, JSON or nothing) into parameters."""
    params: JSON = {key: _decode_field(key, value) for key, value in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if not request.body_exists:
        return params, files
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                data = value.file.read()
                files[key] = UploadedFile(key, value.filename, value.content_type, data)
            elif isinstance(value, str):
                params[key] = _decode_field(key, value)
        return params, files
    raw = await request.read()
    if raw.strip():
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if isinstance(body, dict):
            params.update(body)
    return params, files


def as_int(value: Any) -> int | None:
    """An id given as a number or a numeric string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def same_id(value: Any, expected: int | str) -> bool:
    """Whether a `chat_id` parameter names `expected` (as a number or a string)."""
    return value == expected or (as_int(value) is not None and as_int(value) == as_int(expected))
