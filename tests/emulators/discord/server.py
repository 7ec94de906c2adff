"""The REST side of the HTTP server: every call recorded, matched to a route, counted against
the rate limits, authenticated, delayed or failed as scripted, then handled; attachments are
served for download.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tests.emulators.discord.errors import STATUS_MESSAGES, DiscordError
from tests.emulators.discord.faults import FaultInjection
from tests.emulators.discord.model import Attachment
from tests.emulators.discord.ratelimits import RateLimited, Window, fill_rate_headers
from tests.emulators.discord.records import RequestRecord
from tests.emulators.discord.routing import Call, Route, json_response


class RestServer(FaultInjection):
    """REST requests from arrival to answer."""

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        method = request.method
        record = RequestRecord(method, path, dict(request.query), time.monotonic(), None)
        self.requests.append(record)
        headers: dict[str, str] = {}
        try:
            record.json, files = await self._read_body(request)
            route, params = self._match(method, path)
            self._rate_limit(route, params, headers)
            if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(0, status=401, message=STATUS_MESSAGES[401])
            delay, failure = self._take_faults(method, path)
            if delay:
                await asyncio.sleep(delay)
            if failure is not None:
                self._raise_fault(failure)
            call = Call(method, path, params, request.query, record.json, files)
            status, payload = await route.handler(self, call)
        except DiscordError as error:
            status, payload = error.status, error.body()
        except RateLimited as limited:
            status = 429
            payload = {
                "message": "You are being rate limited.",
                "retry_after": round(limited.retry_after, 3),
                "global": limited.is_global,
            }
            headers["Via"] = "1.1 google"
            headers["Retry-After"] = str(max(1, round(limited.retry_after)))
            headers["X-RateLimit-Scope"] = "global" if limited.is_global else "user"
            if limited.is_global:
                headers["X-RateLimit-Global"] = "true"
        record.status = status
        if status == 429:
            self.count_429 += 1
        self._changed()
        return json_response(status, payload, headers)

    async def _read_body(self, request: web.Request) -> tuple[Any, list[Attachment]]:
        content_type = request.content_type
        if not request.can_read_body:
            return None, []
        if content_type.startswith("multipart/"):
            form = await request.post()
            body: Any = {}
            files: list[Attachment] = []
            for name, value in form.items():
                if name == "payload_json":
                    if isinstance(value, web.FileField):
                        value = value.file.read()
                    text = value.decode() if isinstance(value, bytes | bytearray) else value
                    body = json.loads(text)
                elif isinstance(value, web.FileField):
                    data = value.file.read()
                    files.append(
                        Attachment(self._ids.next(), value.filename, value.content_type, data)
                    )
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            raise DiscordError(50109) from None

    def _match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        known_path = False
        for route, pattern in self._routes:
            found = pattern.match(path)
            if found is None:
                continue
            known_path = True
            if route.method == method:
                return route, found.groupdict()
        self.unhandled.append(f"{method} {path}")
        status = 405 if known_path else 404
        raise DiscordError(0, status=status, message=STATUS_MESSAGES[status])

    def _rate_limit(self, route: Route, params: Mapping[str, str], headers: dict[str, str]) -> None:
        """Count the call against the global and route limits; fill the X-RateLimit headers."""
        now = time.monotonic()
        major = params.get("channel_id") or params.get("guild_id") or params.get("token") or ""
        key = (route.bucket_hash, major)
        window = self._buckets.get(key)
        if window is None:
            limit = self.message_limit if route.bucket == "message" else self.route_limit
            window = self._buckets[key] = Window(*limit)
        window.refresh(now)
        if self.rate_limits and route.global_limit:
            self._global_window.limit, self._global_window.per = self.global_limit
            self._global_window.refresh(now)
            if self._global_window.remaining <= 0:
                fill_rate_headers(headers, window, route.bucket_hash, now)
                raise RateLimited(self._global_window.retry_after(now), is_global=True)
        if self.rate_limits and window.remaining <= 0:
            fill_rate_headers(headers, window, route.bucket_hash, now)
            raise RateLimited(window.retry_after(now), is_global=False)
        if self.rate_limits and route.global_limit:
            self._global_window.remaining -= 1
        window.remaining = max(window.remaining - 1, 0) if self.rate_limits else window.limit
        fill_rate_headers(headers, window, route.bucket_hash, now)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        message_files = (a for m in self._messages.values() for a in m.attachments)
        wanted = int(request.match_info["attachment_id"])
        found = next((a for a in message_files if a.id == wanted), None)
        if found is None:
            return json_response(404, {"message": "404: Not Found", "code": 0}, {})
        content_type = found.content_type or "application/octet-stream"
        return web.Response(body=found.data, headers={"Content-Type": content_type})
