"""The gateway: the WebSocket at ``/`` (HELLO, heartbeats, IDENTIFY and READY, RESUME and the
replayed backlog, member requests, optional zlib-stream compression), and the controls tests
use to disturb it (held connections, op 7, op 9, dropped TCP).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.emulators.discord.payloads import Payloads
from tests.emulators.discord.protocol import JSON, PRIVILEGED_INTENTS, Intent, Op, as_object
from tests.emulators.discord.records import ResumeRecord
from tests.emulators.discord.routing import json_response


@dataclass
class Connection:
    """One gateway WebSocket; frames go out through a queue to keep their order."""

    ws: web.WebSocketResponse
    request: web.Request
    compress: bool
    queue: asyncio.Queue[tuple[JSON, Callable[[], None] | None]] = field(
        default_factory=asyncio.Queue
    )
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    authenticated: bool = False
    compressor: Any = None

    def send(self, frame: JSON, on_sent: Callable[[], None] | None = None) -> None:
        self.queue.put_nowait((frame, on_sent))


@dataclass
class Session:
    """The gateway session: it outlives its connections and keeps the backlog a resume replays."""

    id: str
    intents: int
    seq: int = 0
    backlog: list[JSON] = field(default_factory=list)
    connection: Connection | None = None


class Gateway(Payloads):
    """The gateway server, its session, and the disturbances tests script."""

    @contextlib.asynccontextmanager
    async def gateway_offline(self) -> AsyncIterator[None]:
        """Hold new gateway connections (no HELLO) so dispatches pile up for the resume."""
        self._gateway_open.clear()
        try:
            yield
        finally:
            self._gateway_open.set()

    async def request_reconnect(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Send op 7 and wait until the client has closed the connection."""
        connection = self._live_connection()
        connection.send({"op": Op.RECONNECT, "d": None})
        await asyncio.wait_for(connection.closed.wait(), timeout)

    async def invalidate_session(self, resumable: bool = False, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Send op 9; unless ``resumable`` the client must IDENTIFY again."""
        connection = self._live_connection()
        connection.send({"op": Op.INVALID_SESSION, "d": resumable})
        if not resumable:
            self._session = None
        await asyncio.wait_for(connection.closed.wait(), timeout)

    async def drop_connection(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Cut the TCP connection without a close frame; the client reconnects and resumes."""
        connection = self._live_connection()
        transport = connection.request.transport
        if transport is not None:
            transport.abort()
        await asyncio.wait_for(connection.closed.wait(), timeout)

    def _live_connection(self) -> Connection:
        if self._session is None or self._session.connection is None:
            raise RuntimeError("no client is connected to the gateway")
        return self._session.connection

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024)
        if not ws.can_prepare(request).ok:
            return json_response(400, {"message": "WebSocket expected", "code": 0}, {})
        await ws.prepare(request)
        self.gateway_queries.append(dict(request.query))
        compress = self.gateway_compression and request.query.get("compress") == "zlib-stream"
        connection = Connection(ws, request, compress)
        if compress:
            connection.compressor = zlib.compressobj()
        self._connections.append(connection)
        writer = asyncio.create_task(self._write_frames(connection))
        try:
            await self._gateway_open.wait()
            if request.query.get("v", "10") != "10":
                await ws.close(code=4012, message=b"Invalid API version")
                return ws
            if request.query.get("encoding", "json") != "json":
                await ws.close(code=4002, message=b"Error while decoding payload.")
                return ws
            connection.send({"op": Op.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval}})
            async for frame in ws:
                if frame.type != WSMsgType.TEXT:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                try:
                    payload = json.loads(frame.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._on_gateway_frame(connection, as_object(payload))
        finally:
            connection.closed.set()
            if self._session is not None and self._session.connection is connection:
                self._session.connection = None
            writer.cancel()
            self._connections.remove(connection)
            self._changed()
        return ws

    async def _write_frames(self, connection: Connection) -> None:
        while True:
            frame, on_sent = await connection.queue.get()
            text = json.dumps(frame, separators=(",", ":"))
            try:
                if connection.compressor is not None:
                    chunk = connection.compressor.compress(text.encode())
                    chunk += connection.compressor.flush(zlib.Z_SYNC_FLUSH)
                    await connection.ws.send_bytes(chunk)
                else:
                    await connection.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
            if on_sent is not None:
                on_sent()

    async def _on_gateway_frame(self, connection: Connection, payload: JSON) -> None:
        op = payload.get("op")
        data = payload.get("d")
        masked = dict(payload)
        if isinstance(data, dict) and "token" in data:
            masked["d"] = data | {"token": "***"}
        self.gateway_received.append(masked)
        if op == Op.HEARTBEAT:
            self.heartbeat_count += 1
            connection.send({"op": Op.HEARTBEAT_ACK})
        elif op == Op.IDENTIFY:
            await self._identify(connection, as_object(data))
        elif op == Op.RESUME:
            await self._resume(connection, as_object(data))
        elif not connection.authenticated:
            await connection.ws.close(code=4003, message=b"Not authenticated.")
        elif op == Op.PRESENCE_UPDATE:
            self.presence = as_object(data)
        elif op == Op.REQUEST_GUILD_MEMBERS:
            self._send_member_chunk(as_object(data))
        elif op != Op.VOICE_STATE_UPDATE:
            await connection.ws.close(code=4001, message=b"Unknown opcode.")
        self._changed()

    async def _identify(self, connection: Connection, data: JSON) -> None:
        if data.get("token") not in (self.token, f"Bot {self.token}"):
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        if connection.authenticated:
            await connection.ws.close(code=4005, message=b"Already authenticated.")
            return
        intents = int(data.get("intents", 0))
        if intents & PRIVILEGED_INTENTS & ~self.privileged_intents:
            await connection.ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        connection.authenticated = True
        self.identify_count += 1
        self._session = Session(secrets.token_hex(16), intents, connection=connection)
        ready: JSON = {
            "v": 10,
            "user": self.bot_user.to_json() | {"verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": self._session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "user_settings": {},
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["rotterdam"],
            "auth": {},
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        self._dispatch("READY", ready)
        for guild in self.guilds.values():
            if not guild.unavailable:
                self._dispatch(
                    "GUILD_CREATE", self._guild_create(guild, intents), intent=Intent.GUILDS
                )

    async def _resume(self, connection: Connection, data: JSON) -> None:
        if data.get("token") not in (self.token, f"Bot {self.token}"):
            await connection.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = self._session
        if session is None or data.get("session_id") != session.id:
            connection.send({"op": Op.INVALID_SESSION, "d": False})
            return
        connection.authenticated = True
        seq = int(data.get("seq") or 0)
        session.connection = connection
        missed = [frame for frame in session.backlog if frame["s"] > seq]
        for frame in missed:
            connection.send(frame)
        self.resume_count += 1
        self.resumes.append(ResumeRecord(session.id, seq, len(missed)))
        self._dispatch("RESUMED", {})

    def _send_member_chunk(self, data: JSON) -> None:
        guild = self.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        query = str(data.get("query") or "").lower()
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [
            m
            for m in guild.members.values()
            if (not wanted or m.user_id in wanted)
            and self._user(m.user_id).username.lower().startswith(query)
        ]
        limit = int(data.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: JSON = {
            "guild_id": str(guild.id),
            "members": [self._member_json(guild, m) for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self._dispatch("GUILD_MEMBERS_CHUNK", chunk)
