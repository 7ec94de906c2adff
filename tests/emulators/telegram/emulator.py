"""The assembled emulator: the HTTP server on 127.0.0.1 and the table of Bot API methods.

`TelegramEmulator` combines the method families (one mixin per module) over the shared
`EmulatorState`; its HTTP layer records every call, applies the injected faults and answers
with Telegram's own error bodies so the client raises what it would in production.
"""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from tests.emulators.telegram.chats import ChatMembers
from tests.emulators.telegram.commands import BotCommands
from tests.emulators.telegram.edits import Edits
from tests.emulators.telegram.faults import FaultInjection
from tests.emulators.telegram.files import Files
from tests.emulators.telegram.inspection import Inspection
from tests.emulators.telegram.keyboards import KeyboardCallbacks
from tests.emulators.telegram.messages import Messages
from tests.emulators.telegram.model import JSON, ApiError, RecordedRequest
from tests.emulators.telegram.params import read_params
from tests.emulators.telegram.polls import Polls
from tests.emulators.telegram.state import Handler
from tests.emulators.telegram.updates import UpdateDelivery
from tests.emulators.telegram.world import World


class TelegramEmulator(
    World,
    Messages,
    Files,
    Edits,
    KeyboardCallbacks,
    Polls,
    ChatMembers,
    BotCommands,
    UpdateDelivery,
    FaultInjection,
    Inspection,
):
    """A Bot API server on 127.0.0.1 with a scriptable world of users, chats and faults.

    Its options are those of `EmulatorState.__init__`.
    """

    # ---- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> TelegramEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("POST", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def close(self) -> None:
        """Stop the server, ending pending long polls."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, once started."""
        if self._port is None:
            raise RuntimeError("the emulator is not started: use `async with`")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        """The value for `ApplicationBuilder().base_url(...)`."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """The value for `ApplicationBuilder().base_file_url(...)`."""
        return f"{self.url}/file/bot"

    # ---- HTTP layer ------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["method"]
        params, files = await read_params(request)
        canonical, handler = self._methods.get(name.lower(), (name, None))
        record = RecordedRequest(canonical, params, files, self.clock(), request.method)
        self.requests.append(record)
        self._notify()
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found")
            fault = self._take_fault(canonical, params)
            if fault is not None and fault.kind == "drop":
                return self._drop(request, record)
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault is not None and fault.kind != "lost":
                raise self._fault_error(fault, params)
            result = await handler(params, files)
            if fault is not None and fault.kind == "lost":
                return self._drop(request, record)
            body: JSON = {"ok": True, "result": result}
            status = 200
        except ApiError as error:
            body, status = error.body(), error.code
            record.description, record.parameters = error.description, error.parameters
        except asyncio.CancelledError:
            # The client hung up (e.g. a cancelled long poll): nginx's "client closed request".
            record.status, record.description = 499, "client closed the connection"
            raise
        record.status = status
        if status == 429:
            self.count_429 += 1
        self._notify()
        return web.json_response(body, status=status)

    def _drop(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        record.status, record.description = 0, "connection dropped"
        self._notify()
        if request.transport is not None:
            request.transport.abort()
        return web.Response(status=500)

    # ---- Bot API methods -------------------------------------------------------------------

    def _method_table(self) -> dict[str, Handler]:
        return {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "sendPoll": self._send_poll,
            "stopPoll": self._stop_poll,
            "sendChatAction": self._send_chat_action,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback_query,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "leaveChat": self._leave_chat,
            "getFile": self._get_file,
        } | {
            name: self._setting(name)
            for name in (
                "setChatMenuButton",
                "setMyDescription",
                "setMyShortDescription",
                "setMyName",
            )
        }
