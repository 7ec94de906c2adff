"""Servers and channels removed while the bot was offline: the real discord.py client (our
adapter) against the Discord emulator, restarted on the same database. Discord sends no event
for what happened meanwhile; at start-up the adapter reports what it sees and the core lets
the rest go, unless an outage hides servers."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from store.models import Chat, Delivery
from tests.e2e.test_discord import (
    ALICE,
    ANNOUNCES,
    GENERAL,
    GUILD,
    YASMINE,
    World,
    running_world,
    said,
    wait_db,
)

LYON, LYON_WELCOME, LYON_NEWS = 20, 21, 22


async def chats(world: World) -> dict[str, Chat]:
    return {c.external_id: c for c in await world.rows(Chat)}


async def register(world: World, channel: int) -> None:
    linked = await world.command(ALICE, channel, "linkgroup")
    await said(world.emu, linked, "This group is registered")


async def with_lyon(world: World) -> None:
    """The bot is in a second server, whose #annonces-lyon is registered."""
    channels = [(LYON_WELCOME, "accueil"), (LYON_NEWS, "annonces-lyon")]
    world.emu.add_guild(LYON, "Diaspora Lyon", channels=channels, members=[YASMINE], owner_id=ALICE)
    await wait_db(lambda: chats(world), lambda found: str(LYON_NEWS) in found)
    await register(world, LYON_NEWS)


async def test_a_server_left_while_offline_is_let_go_at_start_up(tmp_path: Path) -> None:
    async with running_world(tmp_path) as world:
        await register(world, ANNOUNCES)
        await with_lyon(world)

        await world.adapter.stop()
        world.emu.remove_guild(LYON)  # no one is connected to hear it
        await world.start()

        await wait_db(
            lambda: chats(world),
            lambda found: not found[str(LYON_NEWS)].active and not found[str(LYON_WELCOME)].active,
        )
        await world.dm(ALICE, "I can no longer post in Diaspora Lyon #annonces-lyon (Discord)")
        found = await chats(world)
        assert found[str(ANNOUNCES)].active and found[str(GENERAL)].active
        listed = await world.command(ALICE, GENERAL, "groups")
        await said(world.emu, listed, "Diaspora Lyon #annonces-lyon · inactive")


async def test_a_channel_deleted_while_offline_is_let_go_at_start_up(tmp_path: Path) -> None:
    async with running_world(tmp_path) as world:
        await register(world, ANNOUNCES)

        await world.adapter.stop()
        world.emu.delete_channel(ANNOUNCES)
        await world.start()

        await wait_db(lambda: chats(world), lambda found: not found[str(ANNOUNCES)].active)
        await world.dm(ALICE, "I can no longer post in CDS Souss-Massa #annonces (Discord)")
        assert (await chats(world))[str(GENERAL)].active
        # Its registration stays, inactive: nothing is announced there any more.
        assert (await chats(world))[str(ANNOUNCES)].registered


async def test_a_channel_only_left_out_of_the_list_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.groups")
    async with running_world(tmp_path) as world:
        await register(world, ANNOUNCES)

        await world.adapter.stop()
        world.emu.unlist_channel(ANNOUNCES)  # as Discord leaves an archived thread out
        caplog.clear()
        await world.start()

        await world.emu.wait_for(
            lambda: any("chats reconciled" in r.getMessage() for r in caplog.records)
        )
        found = await chats(world)
        assert found[str(ANNOUNCES)].active and found[str(ANNOUNCES)].registered
        notices = await world.rows(Delivery, Delivery.purpose.startswith("left:"))
        assert notices == []


async def test_nothing_is_let_go_while_an_outage_hides_a_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.discord.adapter")
    async with running_world(tmp_path) as world:
        emu = world.emu
        await register(world, ANNOUNCES)
        await with_lyon(world)

        await world.adapter.stop()
        emu.guild_outage(GUILD)
        emu.remove_guild(LYON)
        await world.start()

        await emu.wait_for(
            lambda: any("not reconciling channels" in r.getMessage() for r in caplog.records)
        )
        found = await chats(world)
        assert found[str(ANNOUNCES)].active  # hidden by the outage, not gone
        assert found[str(LYON_NEWS)].active  # gone, but nothing is judged from a partial view

        # The next session that sees every server reconciles.
        emu.guild_outage(GUILD, down=False)
        await world.restart()
        await wait_db(lambda: chats(world), lambda found: not found[str(LYON_NEWS)].active)
        assert (await chats(world))[str(ANNOUNCES)].active
