"""Update delivery: getUpdates long polling, webhooks, and pushing updates to a webhook.

One long poll at a time (a second one gets Telegram's 409 "terminated by other getUpdates
request"), `offset` confirms updates, `allowed_updates` filters them; setWebhook ends polling
and `push_webhook` POSTs to the URL the bot registered, with its secret token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import Final
from urllib.parse import urlsplit

import aiohttp

from tests.emulators.telegram.model import JSON, ApiError, UploadedFile
from tests.emulators.telegram.params import as_int
from tests.emulators.telegram.state import EmulatorState

#: Update types delivered when `allowed_updates` is empty or was never set.
_DEFAULT_EXCLUDED_UPDATES: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: `push_webhook`'s default secret: the one the bot registered.
_REGISTERED: Final = object()


class UpdateDelivery(EmulatorState):
    """getUpdates, setWebhook, deleteWebhook, getWebhookInfo and webhook pushes."""

    async def _get_updates(self, params: JSON, files: dict[str, UploadedFile]) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        try:
            # A poll whose client went away ends a moment later: give it that moment.
            async with asyncio.timeout(self.poll_conflict_grace):
                await self._poll_lock.acquire()
        except TimeoutError:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            ) from None
        try:
            self._confirm(as_int(params.get("offset")) or 0)
            if "allowed_updates" in params and isinstance(params["allowed_updates"], list):
                self._allowed_updates = frozenset(params["allowed_updates"]) or None
            limit = min(max(as_int(params.get("limit")) or 100, 1), 100)
            timeout = max(as_int(params.get("timeout")) or 0, 0)
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                batch = self._next_batch(limit)
                remaining = deadline - asyncio.get_running_loop().time()
                if batch or remaining <= 0:
                    return batch
                added = self._update_added
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):
                        await added.wait()
                if self.webhook_url:
                    raise ApiError(409, "Conflict: terminated by setWebhook request")
        finally:
            self._poll_lock.release()

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._pending = self._pending[offset:]
        elif offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def _next_batch(self, limit: int) -> list[JSON]:
        def allowed(update: JSON) -> bool:
            kind = next(k for k in update if k != "update_id")
            if self._allowed_updates is None:
                return kind not in _DEFAULT_EXCLUDED_UPDATES
            return kind in self._allowed_updates

        self._pending = [u for u in self._pending if allowed(u)]
        batch = self._pending[:limit]
        self._delivered.update(u["update_id"] for u in batch)
        if batch:
            self._notify()
        return batch

    async def _set_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        url = params.get("url") or ""
        if not isinstance(url, str):
            raise ApiError(400, "Bad Request: bad webhook: Failed to parse webhook URL")
        if url and urlsplit(url).scheme not in ("http", "https"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not (isinstance(secret, str) and _SECRET_TOKEN.fullmatch(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        if isinstance(params.get("allowed_updates"), list):
            self._allowed_updates = frozenset(params["allowed_updates"]) or None
        self.webhook_url, self.webhook_secret = url, secret if url else None
        self._wake_pollers()
        return True

    async def _delete_webhook(self, params: JSON, files: dict[str, UploadedFile]) -> bool:
        if params.get("drop_pending_updates") is True:
            self._pending.clear()
        self.webhook_url, self.webhook_secret = "", None
        return True

    async def _get_webhook_info(self, params: JSON, files: dict[str, UploadedFile]) -> JSON:
        info: JSON = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook_url:
            info["max_connections"] = 40
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def push_webhook(
        self,
        update: JSON | int,
        url: str | None = None,
        secret: str | object | None = _REGISTERED,
        *,
        content_type: str = "application/json",
    ) -> int:
        """POST an update (or a queued update, by id) to the bot's webhook; return the status.

        `url` and `secret` default to what the bot registered with setWebhook; pass
        `secret=None` to omit the X-Telegram-Bot-Api-Secret-Token header.
        """
        if isinstance(update, int):
            update = next(u for u in self._pending if u["update_id"] == update)
            self._pending.remove(update)
        target = url or self.webhook_url
        if not target:
            raise RuntimeError("no webhook url: the bot did not call setWebhook")
        token = self.webhook_secret if secret is _REGISTERED else secret
        headers = {"Content-Type": content_type}
        if isinstance(token, str):
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        async with (
            aiohttp.ClientSession() as session,
            session.post(target, data=json.dumps(update), headers=headers) as response,
        ):
            await response.read()
            if response.status < 300:
                self._delivered.add(update["update_id"])
                self._notify()
            return response.status

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by the bot."""
        return list(self._pending)
