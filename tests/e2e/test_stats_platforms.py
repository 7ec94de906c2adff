"""/stats through the real platform libraries: the figures and their chart reach the
community manager as a photo in her private chat on Telegram (python-telegram-bot against the
Bot API emulator), and as an attachment of the interaction's ephemeral follow-up on Discord
(discord.py against the Discord emulator). Other members get neither."""

from __future__ import annotations

import io
import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from matplotlib.image import imread

from tests.e2e.test_discord import ALICE as DISCORD_ALICE
from tests.e2e.test_discord import GENERAL, running_world, said, text_of
from tests.e2e.test_discord import YASMINE as DISCORD_YASMINE
from tests.e2e.test_telegram import ALICE, BOT, GROUP, HUMAN_PACE, TOKEN, World, registered_group
from tests.emulators.telegram import TelegramEmulator

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WAIT = 15.0  # the first chart of a process also loads matplotlib and its fonts


def assert_chart(png: bytes) -> None:
    """A valid PNG of 1000x700 pixels (by its IHDR chunk and by decoding it), not blank."""
    assert png.startswith(PNG_SIGNATURE) and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (1000, 700)
    pixels = imread(io.BytesIO(png), format="png")
    assert pixels.shape[:2] == (700, 1000)
    assert pixels[..., :3].std() > 0.05


# --- Telegram -----------------------------------------------------------------------------------


@pytest.fixture
async def telegram(migrated_url: str) -> AsyncIterator[World]:
    async with TelegramEmulator(token=TOKEN, bot_username=BOT, rate_limits=HUMAN_PACE) as emu:
        world = World(emu, migrated_url)
        await world.start()
        try:
            yield world
        finally:
            await world.stop()


async def test_telegram_sends_the_chart_as_a_photo_in_the_managers_private_chat(
    telegram: World,
) -> None:
    world, emu = telegram, telegram.emu
    for user in (world.alice, world.hassan, world.yasmine):
        await world.says(user, None, "/start", "Welcome")
    await world.seed()

    mark = world.mark()
    emu.user_sends(world.alice, None, "/stats 7d")
    text = await world.next(ALICE, "Figures for the last 7 days", after=mark, seconds=WAIT)
    assert "Members: 3 · 3 new · 3 active" in (text.text or "")
    photo = await emu.wait_for(
        lambda m: m.method == "sendPhoto" and m.message_id > mark, WAIT, chat_id=ALICE
    )
    assert photo.photo is not None
    assert_chart(photo.photo)
    assert (photo.caption or "").startswith("📈 Figures for the last 7 days · day by day")
    assert len(photo.caption or "") <= 1024
    assert photo.message_id > text.message_id  # the figures first, then their chart

    # typed in the group: a short note there, the figures and the chart in private
    await registered_group(world)
    mark = world.mark()
    emu.user_sends(world.alice, GROUP, f"/stats@{BOT}")
    await world.next(GROUP, "answered you in a private message", after=mark, seconds=WAIT)
    await world.next(ALICE, "Figures for the last 30 days", after=mark, seconds=WAIT)
    moved = await emu.wait_for(
        lambda m: m.method == "sendPhoto" and m.message_id > mark, WAIT, chat_id=ALICE
    )
    assert moved.photo is not None
    assert_chart(moved.photo)
    assert not [m for m in emu.sent(GROUP) if m.method == "sendPhoto"]

    # a member is refused, and sent no chart
    mark = world.mark()
    refused = await world.says(world.yasmine, None, "/stats", "Only a community manager")
    assert refused.message_id > mark
    assert not [m for m in emu.sent(world.yasmine) if m.method == "sendPhoto"]


# --- Discord ------------------------------------------------------------------------------------


async def test_discord_attaches_the_chart_to_the_ephemeral_follow_up(tmp_path: Path) -> None:
    async with running_world(tmp_path) as world:
        # Counted once her /start is answered, not only deferred.
        await said(world.emu, await world.command(DISCORD_YASMINE, GENERAL, "start"), "Welcome")
        record = await world.command(DISCORD_ALICE, GENERAL, "stats", period="90d")
        figures = await said(world.emu, record, "Figures for the last 90 days")
        assert figures.ephemeral and figures.visible_to == DISCORD_ALICE
        assert "Members: 2 · 2 new · 2 active" in text_of(figures)
        chart = await record.followup(0, timeout=WAIT)
        assert chart.ephemeral and chart.visible_to == DISCORD_ALICE
        [attachment] = chart.attachments
        assert attachment.filename == "image.png"
        assert_chart(attachment.data)
        assert "Figures for the last 90 days" in text_of(chart)
        # nothing for the channel to see
        assert not [m for m in world.emu.messages(GENERAL) if m.attachments and not m.ephemeral]

        # in her direct messages: the same, not ephemeral there
        direct = await world.command(DISCORD_ALICE, "dm", "stats")
        await said(world.emu, direct, "Figures for the last 30 days")
        in_dm = await direct.followup(0, timeout=WAIT)
        assert_chart(in_dm.attachments[0].data)

        # members do not even see the command in a server (staff commands are hidden)
        with pytest.raises(PermissionError):
            await world.command(DISCORD_YASMINE, GENERAL, "stats")
        # nor can they use it in their direct messages
        refused = await world.command(DISCORD_YASMINE, "dm", "stats")
        await said(world.emu, refused, "Only a community manager")
        assert not [m for m in refused.followups if m.attachments]


async def test_bad_periods_are_answered_with_the_usage_on_both(
    telegram: World, tmp_path: Path
) -> None:
    await telegram.says(telegram.alice, None, "/start", "Welcome")
    await telegram.says(telegram.alice, None, "/stats 2w", "Usage: /stats [7d|30d|90d|1y|all]")
    assert not [m for m in telegram.emu.sent(telegram.alice) if m.method == "sendPhoto"]
    (tmp_path / "discord").mkdir()
    async with running_world(tmp_path / "discord") as world:
        record = await world.command(DISCORD_ALICE, GENERAL, "stats", period="tomorrow")
        await said(world.emu, record, "Usage: /stats [7d|30d|90d|1y|all]")
        assert not [m for m in record.followups if m.attachments]
