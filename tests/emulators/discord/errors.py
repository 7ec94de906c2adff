"""Discord's error answers: the JSON error codes with their HTTP status, `DiscordError`, and
`FormErrors`, which builds the nested ``errors`` tree of an "Invalid Form Body" (50035).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tests.emulators.discord.protocol import JSON

ERRORS: dict[int, tuple[int, str]] = {
    0: (400, "400: Bad Request"),
    10003: (404, "Unknown Channel"),
    10004: (404, "Unknown Guild"),
    10007: (404, "Unknown Member"),
    10008: (404, "Unknown Message"),
    10013: (404, "Unknown User"),
    10015: (404, "Unknown Webhook"),
    10062: (404, "Unknown interaction"),
    10063: (404, "Unknown application command"),
    40005: (413, "Request entity too large"),
    40060: (400, "Interaction has already been acknowledged"),
    50001: (403, "Missing Access"),
    50005: (403, "Cannot edit a message authored by another user"),
    50006: (400, "Cannot send an empty message"),
    50007: (403, "Cannot send messages to this user"),
    50008: (400, "Cannot send messages in a non-text channel"),
    50013: (403, "Missing Permissions"),
    50027: (401, "Invalid Webhook Token"),
    50033: (400, "Invalid Recipient(s)"),
    50035: (400, "Invalid Form Body"),
    50109: (400, "The request body contains invalid JSON."),
}
STATUS_MESSAGES = {
    401: "401: Unauthorized",
    404: "404: Not Found",
    405: "405: Method Not Allowed",
    500: "500: Internal Server Error",
    502: "502: Bad Gateway",
    503: "503: Service Unavailable",
    504: "504: Gateway Timeout",
}


class DiscordError(Exception):
    """An error answered like Discord's: an HTTP status, a JSON code and message, form errors."""

    def __init__(
        self,
        code: int,
        *,
        status: int | None = None,
        message: str | None = None,
        errors: JSON | None = None,
    ) -> None:
        known_status, known_message = ERRORS.get(code, (400, "400: Bad Request"))
        self.code = code
        self.status = status or known_status
        self.message = message or known_message
        self.errors = errors
        super().__init__(f"{self.status} (code {self.code}) {self.message}")

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class FormErrors:
    """Collects field errors into Discord's nested ``errors`` tree for a 50035 answer."""

    def __init__(self) -> None:
        self.tree: JSON = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def text(
        self,
        path: Sequence[str | int],
        value: Any,
        *,
        max_len: int,
        min_len: int = 0,
        required: bool = False,
    ) -> None:
        if value is None:
            if required:
                self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return
        if not isinstance(value, str):
            self.add(path, "BASE_TYPE_STRING", "Could not interpret the value as string.")
        elif len(value) > max_len and not min_len:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {max_len} or fewer in length.")
        elif not min_len <= len(value) <= max_len:
            message = f"Must be between {min_len} and {max_len} in length."
            self.add(path, "BASE_TYPE_BAD_LENGTH", message)

    def items(
        self, path: Sequence[str | int], value: Any, *, max_items: int, min_items: int = 0
    ) -> list[Any]:
        """Check a list's size and return it (empty when absent or not a list)."""
        if value is None:
            if min_items:
                self.add(path, "BASE_TYPE_REQUIRED", "This field is required")
            return []
        if not isinstance(value, list):
            self.add(path, "BASE_TYPE_ARRAY", "Could not interpret the value as an array.")
            return []
        if len(value) > max_items:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {max_items} or fewer in length.")
        elif len(value) < min_items:
            self.add(path, "BASE_TYPE_MIN_LENGTH", f"Must be {min_items} or more in length.")
        return value

    def number(self, path: Sequence[str | int], value: Any, *, low: float, high: float) -> None:
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, "NUMBER_TYPE_COERCE", f'Value "{value}" is not a number.')
        elif value > high:
            self.add(path, "NUMBER_TYPE_MAX", f"Must be less than or equal to {high}.")
        elif value < low:
            self.add(path, "NUMBER_TYPE_MIN", f"Must be greater than or equal to {low}.")

    def raise_if_any(self) -> None:
        if self.tree:
            raise DiscordError(50035, errors=self.tree)
