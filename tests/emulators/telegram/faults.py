"""Fault injection: make the next calls of a method fail as Telegram or the network would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tests.emulators.telegram.model import JSON, ApiError
from tests.emulators.telegram.params import as_int, same_id
from tests.emulators.telegram.state import EmulatorState

FaultKind = Literal[
    "blocked",
    "kicked",
    "chat_not_found",
    "migrated",
    "server_error",
    "flood",
    "slow",
    "drop",
    "lost",
]


@dataclass
class Fault:
    """A planned failure of the next `times` calls of `method`."""

    method: str
    chat_id: int | str | None
    kind: FaultKind
    times: int
    delay: float
    status: int
    migrate_to: int | None
    retry_after: int


class FaultInjection(EmulatorState):
    """`fail_next`, and the errors the HTTP layer answers with when a fault fires."""

    def fail_next(
        self,
        method: str,
        chat_id: int | str | None = None,
        kind: FaultKind = "server_error",
        *,
        times: int = 1,
        delay: float = 1.0,
        status: int = 500,
        migrate_to: int | None = None,
        retry_after: int = 1,
    ) -> None:
        """Make the next `times` calls of `method` (to `chat_id`, if given) fail.

        Kinds: "blocked" and "kicked" (403), "chat_not_found" and "migrated" (400),
        "server_error" (`status`, 500 or 502), "flood" (429 with `retry_after`), "slow"
        (answer normally after `delay` seconds), "drop" (close the connection, do nothing) and
        "lost" (do the work, then close the connection without answering).
        """
        self._faults.append(
            Fault(method, chat_id, kind, times, delay, status, migrate_to, retry_after)
        )

    def _take_fault(self, method: str, params: JSON) -> Fault | None:
        for fault in self._faults:
            if fault.method.lower() != method.lower():
                continue
            if fault.chat_id is not None and not same_id(params.get("chat_id"), fault.chat_id):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _fault_error(self, fault: Fault, params: JSON) -> ApiError:
        chat = self.chats.get(as_int(params.get("chat_id")) or 0)
        chat_kind = "supergroup" if chat and chat.type == "supergroup" else "group"
        if fault.kind == "blocked":
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if fault.kind == "kicked":
            return ApiError(403, f"Forbidden: bot was kicked from the {chat_kind} chat")
        if fault.kind == "chat_not_found":
            return ApiError(400, "Bad Request: chat not found")
        if fault.kind == "migrated":
            new_id = fault.migrate_to or -(10**12) - abs(as_int(params.get("chat_id")) or 1)
            return ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": new_id},
            )
        if fault.kind == "flood":
            return ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        phrase = "Bad Gateway" if fault.status == 502 else "Internal Server Error"
        return ApiError(fault.status, phrase)
