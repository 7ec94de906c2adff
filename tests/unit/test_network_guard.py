"""The guard in conftest.py stops traffic beyond the loopback before it starts."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest


def test_connecting_outside_the_machine_is_refused(network_guard):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)  # if the guard ever failed, do not wait for a blackhole
        with pytest.raises(network_guard.error, match=r"10\.255\.255\.1"):
            sock.connect(("10.255.255.1", 9))
    assert network_guard.blocked == ["connect to '10.255.255.1' port 9"]
    network_guard.blocked.clear()  # provoked on purpose: do not fail this test


async def test_asyncio_connections_and_lookups_are_refused(network_guard):
    with pytest.raises(network_guard.error):
        await asyncio.wait_for(asyncio.open_connection("10.255.255.1", 9), 1)
    with pytest.raises(network_guard.error):
        await asyncio.get_running_loop().getaddrinfo("example.org", 443)
    with pytest.raises(network_guard.error):
        socket.create_connection(("example.org", 80), timeout=0.5)
    assert len(network_guard.blocked) == 3
    network_guard.blocked.clear()


async def test_loopback_stays_open(network_guard):
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readline())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        for host in ("127.0.0.1", "localhost"):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"ping\n")
            assert await reader.readline() == b"ping\n"
            writer.close()
            await writer.wait_closed()
    assert network_guard.blocked == []


def test_a_swallowed_attempt_is_remembered_for_the_teardown_check(network_guard):
    with contextlib.suppress(Exception):  # what a careless library might do
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)
    # The autouse fixture fails any test that ends with this list non-empty.
    assert network_guard.blocked == ["connect to '192.0.2.1' port 80"]
    network_guard.blocked.clear()
