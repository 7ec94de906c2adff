"""Fixtures shared by every test: no traffic beyond this machine, and real databases.

`database_url` gives each test an empty database of each kind: a SQLite file, and, when
CDS_TEST_DATABASE_URL names a PostgreSQL server, a database created for the test on that
server and dropped after it. `migrated_url` is the same database with the migrations applied.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

T = TypeVar("T")

POSTGRES_ENV = "CDS_TEST_DATABASE_URL"

# --------------------------------------------------------------------------- network guard


class NetworkAccessBlocked(RuntimeError):
    """A test tried to reach beyond the loopback interface.

    Not an OSError on purpose: client libraries catch OSError to retry or to try the next
    address, which would hide the attempt.
    """


LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
INET_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})


def _host_text(host: object) -> str:
    if isinstance(host, bytes | bytearray):
        host = host.decode("ascii", "replace")
    # "[::1]" in URLs, "fe80::1%eth0" with a scope
    return str(host).strip().strip("[]").split("%", 1)[0].lower()


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass
class NetworkGuard:
    """Refuses connections and name lookups that would leave the machine; remembers them."""

    own_hostname: str = field(default_factory=lambda: socket.gethostname().lower())
    blocked: list[str] = field(default_factory=list)
    error: type[NetworkAccessBlocked] = NetworkAccessBlocked
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def is_local(self, host: object) -> bool:
        if host is None:
            return True  # getaddrinfo(None, port): the loopback or wildcard address
        text = _host_text(host)
        if text in ("", self.own_hostname) or text in LOCAL_NAMES or text.endswith(".localhost"):
            return True
        ip = _ip(text)
        return ip is not None and ip.is_loopback

    def refuse(self, what: str) -> NoReturn:
        with self._lock:
            self.blocked.append(what)
        raise NetworkAccessBlocked(f"network access blocked in tests: {what}")

    def check_address(self, family: int, address: Any, what: str) -> None:
        is_inet = family in INET_FAMILIES and isinstance(address, tuple) and address
        if is_inet and not self.is_local(address[0]):
            port = address[1] if len(address) > 1 else "?"
            self.refuse(f"{what} {address[0]!r} port {port}")

    def check_name(self, host: object, what: str) -> None:
        """Names are refused unless local; literal addresses resolve without traffic."""
        if host is None or self.is_local(host) or _ip(_host_text(host)) is not None:
            return
        self.refuse(f"{what} {host!r}")

    def install(self, patch: pytest.MonkeyPatch) -> None:
        guard = self
        base = socket.socket
        real_connect = base.connect
        real_connect_ex = base.connect_ex
        real_sendto = base.sendto
        real_getaddrinfo = socket.getaddrinfo
        real_gethostbyname = socket.gethostbyname
        real_gethostbyname_ex = socket.gethostbyname_ex
        real_gethostbyaddr = socket.gethostbyaddr
        real_getnameinfo = socket.getnameinfo

        def connect(self: socket.socket, address: Any) -> None:
            guard.check_address(self.family, address, "connect to")
            real_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            guard.check_address(self.family, address, "connect to")
            return real_connect_ex(self, address)

        def sendto(self: socket.socket, data: Any, *args: Any) -> int:
            # sendto(data, address) or sendto(data, flags, address)
            guard.check_address(self.family, args[-1] if args else None, "send a datagram to")
            return real_sendto(self, data, *args)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            guard.check_name(host, "resolve")
            return real_getaddrinfo(host, *args, **kwargs)

        def gethostbyname(host: str) -> str:
            guard.check_name(host, "resolve")
            return real_gethostbyname(host)

        def gethostbyname_ex(host: str) -> Any:
            guard.check_name(host, "resolve")
            return real_gethostbyname_ex(host)

        def gethostbyaddr(host: str) -> Any:
            if not guard.is_local(host):
                guard.refuse(f"reverse-resolve {host!r}")
            return real_gethostbyaddr(host)

        def getnameinfo(sockaddr: Any, flags: int) -> Any:
            if not flags & socket.NI_NUMERICHOST and not guard.is_local(sockaddr[0]):
                guard.refuse(f"reverse-resolve {sockaddr[0]!r}")
            return real_getnameinfo(sockaddr, flags)

        patch.setattr(base, "connect", connect)
        patch.setattr(base, "connect_ex", connect_ex)
        patch.setattr(base, "sendto", sendto)
        # Module attributes: asyncio, httpx, aiohttp and the standard library look them up
        # at call time, so every resolver path goes through these.
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        patch.setattr(socket, "gethostbyname", gethostbyname)
        patch.setattr(socket, "gethostbyname_ex", gethostbyname_ex)
        patch.setattr(socket, "gethostbyaddr", gethostbyaddr)
        patch.setattr(socket, "getnameinfo", getnameinfo)


@pytest.fixture(scope="session", autouse=True)
def _network_guard_installed() -> Iterator[NetworkGuard]:
    """Installed once, before any other session fixture, so that those are guarded too."""
    guard = NetworkGuard()
    with pytest.MonkeyPatch.context() as patch:
        guard.install(patch)
        yield guard


@pytest.fixture(autouse=True)
def network_guard(_network_guard_installed: NetworkGuard) -> Iterator[NetworkGuard]:
    """Fails the test that tried to leave the machine, even if a library swallowed the error.

    A test that provokes the guard on purpose clears `network_guard.blocked` before it ends.
    """
    guard = _network_guard_installed
    guard.blocked.clear()
    yield guard
    if guard.blocked:
        attempts = "; ".join(guard.blocked)
        guard.blocked.clear()
        pytest.fail(f"the test tried to use the network: {attempts}", pytrace=False)


# --------------------------------------------------------------------------- databases


def run_blocking(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from synchronous fixture code, even if a loop runs in this thread."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    result: list[T] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    try:
        connection = await asyncpg.connect(_asyncpg_dsn(url))
    except asyncpg.InvalidCatalogNameError:
        # The database in the URL does not exist yet: the server's own database will do.
        connection = await asyncpg.connect(_asyncpg_dsn(url, "postgres"))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of this test's own (created on first connection)."""
    return f"sqlite+aiosqlite:///{tmp_path / 'cds.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database created for this test and dropped after it."""
    admin_url = os.environ.get(POSTGRES_ENV, "").strip()
    if not admin_url:
        pytest.skip(f"{POSTGRES_ENV} is not set: PostgreSQL tests skipped")
    name = f"cds_test_{uuid.uuid4().hex[:16]}"
    run_blocking(lambda: _admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        run_blocking(lambda: _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database of each supported kind (PostgreSQL only with CDS_TEST_DATABASE_URL)."""
    kind = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(kind)
    return url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """`database_url` with the migrations applied up to head."""
    from store import migrate

    migrate.upgrade(database_url)
    return database_url


@pytest.fixture
async def store_engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """The bot's own engine (SQLite pragmas included) on a migrated database."""
    from store.db import create_engine

    engine = create_engine(migrated_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(store_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    from store.db import session_factory

    return session_factory(store_engine)
