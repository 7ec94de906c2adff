"""A REST call as the route handlers see it, an entry of the route table (with its rate limit
bucket), and the JSON answer exactly as discord.py expects it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from tests.emulators.discord.errors import DiscordError, FormErrors
from tests.emulators.discord.model import Attachment
from tests.emulators.discord.protocol import JSON, as_object

Handler = Callable[[Any, "Call"], Awaitable[tuple[int, Any]]]
"""A route handler: a method of the assembled emulator, given the call; (status, payload) out."""


@dataclass
class Call:
    """One REST call as the handlers see it."""

    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    files: list[Attachment]

    def id(self, name: str) -> int:
        try:
            return int(self.params[name])
        except ValueError:
            errors = FormErrors()
            value = self.params[name]
            errors.add((name,), "NUMBER_TYPE_COERCE", f'Value "{value}" is not snowflake.')
            raise DiscordError(50035, errors=errors.tree) from None

    @property
    def json(self) -> JSON:
        return as_object(self.body)


@dataclass(frozen=True)
class Route:
    """A REST route: its path template, handler, authentication, limits and bucket kind."""

    method: str
    template: str
    handler: Handler
    auth: bool = True
    global_limit: bool = True
    bucket: Literal["route", "message"] = "route"

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")

    @property
    def bucket_hash(self) -> str:
        return hashlib.sha1(f"{self.method} {self.template}".encode()).hexdigest()[:16]


def json_response(status: int, payload: Any, headers: Mapping[str, str]) -> web.Response:
    """An answer typed ``application/json`` exactly: discord.py reads a charset as plain text."""
    if payload is None:
        # A 204 has no body and no type: discord.py would try to parse "" as JSON.
        return web.Response(status=status, headers=headers)
    all_headers = {**headers, "Content-Type": "application/json"}
    return web.Response(status=status, body=json.dumps(payload).encode(), headers=all_headers)
