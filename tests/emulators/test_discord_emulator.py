"""The Discord emulator, exercised with the real discord.py client (and raw HTTP for limits)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.emulators.discord import DiscordEmulator

TOKEN = "tok"
APP_ID = 1_180_000_000_000_000_001
GUILD = 10
GENERAL = 11
ANNOUNCES = 12
VOICE = 13
ALICE = 100
BOB = 101


def make_emulator(**options: Any) -> DiscordEmulator:
    """An emulator with one guild (three channels) and two members, Alice and Bob."""
    emu = DiscordEmulator(token=TOKEN, app_id=APP_ID, bot_user_id=APP_ID, **options)
    emu.add_user(ALICE, "alice", "Alice", locale="fr")
    emu.add_user(BOB, "bob", locale="es-ES")
    emu.add_guild(
        GUILD,
        "CDS Souss-Massa",
        channels=[
            (GENERAL, "general"),
            (ANNOUNCES, "annonces"),
            {"id": VOICE, "name": "vocal", "type": 2},
        ],
        members=[ALICE, BOB],
    )
    return emu


@contextlib.asynccontextmanager
async def emulated(**options: Any) -> AsyncIterator[DiscordEmulator]:
    async with make_emulator(**options) as emu:
        with emu.patch_discord():
            yield emu


@pytest.fixture
async def emu() -> AsyncIterator[DiscordEmulator]:
    async with emulated() as emulator:
        yield emulator


def make_client() -> discord.Client:
    intents = discord.Intents.default()
    intents.message_content = False
    return discord.Client(intents=intents, guild_ready_timeout=0.1)


@contextlib.asynccontextmanager
async def running(emu: DiscordEmulator, client: discord.Client) -> AsyncIterator[discord.Client]:
    """Start the client against the emulator, wait for on_ready, close it afterwards."""
    task = asyncio.create_task(client.start(TOKEN))
    try:
        await emu.wait_for(lambda: client.is_ready() or task.done(), timeout=5)
        if task.done():
            task.result()
        yield client
    finally:
        await client.close()
        with contextlib.suppress(Exception):
            await task


async def api(
    emu: DiscordEmulator, method: str, path: str, body: Any = None, *, auth: bool = True
) -> tuple[int, Any, Mapping[str, str]]:
    """A raw REST call, for what discord.py checks itself before sending."""
    headers = {"Authorization": f"Bot {TOKEN}"} if auth else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, emu.api_base + path, json=body, headers=headers) as response,
    ):
        payload = await response.json(content_type=None) if response.status != 204 else None
        return response.status, payload, response.headers


def text_channel(client: discord.Client, channel_id: int) -> discord.TextChannel:
    channel = client.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


# ------------------------------------------------------------------------------ login, REST


async def test_client_logs_in_and_sees_the_guild(emu: DiscordEmulator) -> None:
    client = make_client()
    async with running(emu, client):
        assert client.user is not None and client.user.id == APP_ID
        assert client.application_id == APP_ID
        guild = client.get_guild(GUILD)
        assert guild is not None and guild.name == "CDS Souss-Massa"
        assert {c.name for c in guild.channels} == {"general", "annonces", "vocal"}
        assert guild.me is not None and guild.me.guild_permissions.send_messages
        assert text_channel(client, GENERAL).permissions_for(guild.me).embed_links
    assert emu.identify_count == 1
    assert emu.gateway_queries[0] == {"v": "10", "encoding": "json", "compress": "zlib-stream"}
    assert emu.heartbeat_count >= 1
    paths = [r.path for r in emu.requests]
    assert paths[:2] == ["/users/@me", "/oauth2/applications/@me"]
    assert emu.unhandled == []


async def test_gateway_can_send_zlib_stream_frames() -> None:
    async with emulated(gateway_compression=True) as emu:
        client = make_client()
        async with running(emu, client):
            assert client.get_guild(GUILD) is not None


async def test_rest_answers_are_plain_json_with_rate_limit_headers(emu: DiscordEmulator) -> None:
    status, me, headers = await api(emu, "GET", "/users/@me")
    assert status == 200 and me["id"] == str(APP_ID) and me["bot"] is True
    assert headers["Content-Type"] == "application/json"
    for name in ("Limit", "Remaining", "Reset", "Reset-After", "Bucket"):
        assert f"X-RateLimit-{name}" in headers
    status, body, _ = await api(emu, "GET", "/users/@me", auth=False)
    assert (status, body["code"]) == (401, 0)
    status, _, _ = await api(emu, "GET", "/no/such/route")
    assert status == 404 and emu.unhandled == ["GET /no/such/route"]
    status, body, _ = await api(emu, "GET", "/channels/999")
    assert (status, body) == (404, {"message": "Unknown Channel", "code": 10003})


# ------------------------------------------------------------------------------ messages


async def test_channel_message_and_embed_are_recorded(emu: DiscordEmulator) -> None:
    client = make_client()
    async with running(emu, client):
        channel = text_channel(client, GENERAL)
        sent = await channel.send(
            "Bonjour <@100> @everyone", allowed_mentions=discord.AllowedMentions.none()
        )
        embed = discord.Embed(title="Puits de Tafraout", description="Il manque un hydrologue")
        embed.add_field(name="Besoin", value="Expertise").set_footer(text="CDS")
        await channel.send(embed=embed)
        loud = await channel.send("@everyone réunion")
    first, second, third = emu.messages(GENERAL)
    assert first.id == sent.id and first.content == "Bonjour <@100> @everyone"
    assert first.allowed_mentions == {"parse": []}
    assert not first.mention_everyone and first.mentions == []
    assert second.embeds[0]["title"] == "Puits de Tafraout"
    assert second.embeds[0]["fields"] == [{"name": "Besoin", "value": "Expertise", "inline": True}]
    assert third.id == loud.id and third.mention_everyone  # no allowed_mentions: Discord pings


async def test_limits_raise_invalid_form_body(emu: DiscordEmulator) -> None:
    client = make_client()
    async with running(emu, client):
        channel = text_channel(client, GENERAL)
        with pytest.raises(discord.HTTPException) as too_long:
            await channel.send("x" * 2001)
        assert (too_long.value.status, too_long.value.code) == (400, 50035)
        assert "content" in too_long.value.text
        huge = [discord.Embed(description="d" * 4000) for _ in range(2)]
        with pytest.raises(discord.HTTPException) as too_big:
            await channel.send(embeds=huge)
        assert too_big.value.code == 50035
    assert emu.messages(GENERAL) == []


async def test_component_poll_and_modal_limits_over_raw_http() -> None:
    row = {"type": 1, "components": [{"type": 2, "style": 1, "label": "ok", "custom_id": "a"}]}
    six_rows = [
        {"type": 1, "components": [{"type": 2, "style": 1, "label": "b", "custom_id": f"b{i}"}]}
        for i in range(6)
    ]
    # Invalid requests count against the limits like on Discord: switch them off here.
    async with emulated(rate_limits=False) as emu:
        await check_message_limits(emu, row, six_rows)


async def check_message_limits(
    emu: DiscordEmulator, row: dict[str, Any], six_rows: list[dict[str, Any]]
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"components": six_rows}, "components"),
        ({"components": [{"type": 1, "components": [row["components"][0]] * 2}]}, "components"),
        (
            {
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "label": "l" * 81, "custom_id": "c"}
                        ],
                    }
                ]
            },
            "components",
        ),
        (
            {
                "poll": {
                    "question": {"text": "Quel jour ?"},
                    "answers": [{"poll_media": {"text": "a" * 56}}],
                    "duration": 24,
                }
            },
            "poll",
        ),
        (
            {
                "poll": {
                    "question": {"text": "q"},
                    "answers": [{"poll_media": {"text": "a"}}],
                    "duration": 769,
                }
            },
            "poll",
        ),
        ({"embeds": [{"title": "t"}] * 11}, "embeds"),
        ({"content": ""}, ""),
    ]
    for body, field in cases:
        status, error, _ = await api(emu, "POST", f"/channels/{GENERAL}/messages", body)
        assert status == 400, body
        if field:
            assert error["code"] == 50035 and field in error["errors"], error
        else:
            assert error == {"message": "Cannot send an empty message", "code": 50006}
    status, ok, _ = await api(
        emu, "POST", f"/channels/{GENERAL}/messages", {"content": "x", "components": [row]}
    )
    assert status == 200 and ok["components"] == [row]


async def test_files_polls_replies_edits_and_deletes(emu: DiscordEmulator) -> None:
    client = make_client()
    async with running(emu, client):
        channel = text_channel(client, GENERAL)
        export = discord.File(io.BytesIO(b"projet,besoin\n42,eau\n"), filename="export.csv")
        sent = await channel.send("Export", file=export)
        async with (
            aiohttp.ClientSession() as session,
            session.get(sent.attachments[0].url) as download,
        ):
            assert await download.read() == b"projet,besoin\n42,eau\n"
        poll = discord.Poll(question="Quel jour ?", duration=timedelta(hours=24))
        poll.add_answer(text="Lundi").add_answer(text="Mardi")
        voted = await channel.send(poll=poll)
        assert voted.poll is not None and voted.poll.duration == timedelta(hours=24)
        reply = await channel.send("Rappel", reference=voted)
        assert reply.type is discord.MessageType.reply
        await sent.edit(content="Export v2")
        await reply.delete()
    first, second = emu.messages(GENERAL)
    assert first.attachments[0].filename == "export.csv" and first.content == "Export v2"
    assert [edit["content"] for edit in first.edits] == ["Export"]
    assert second.poll is not None and second.poll["question"] == {"text": "Quel jour ?"}
    assert [m.content for m in emu.messages(GENERAL, deleted=True)][-1] == "Rappel"


async def test_command_options_and_dm_commands(emu: DiscordEmulator) -> None:
    client = make_client()
    tree = app_commands.CommandTree(client)
    seen: list[tuple[Any, ...]] = []

    @tree.command(name="inviter", description="Inviter un membre")
    async def inviter(
        interaction: discord.Interaction,
        qui: discord.Member,
        ou: discord.TextChannel,
        places: app_commands.Range[int, 1, 5] = 1,
    ) -> None:
        seen.append((qui.id, qui.name, ou.id, places, interaction.guild_id))
        await interaction.response.send_message("ok")

    @tree.command(name="aide", description="Aide")
    async def aide(interaction: discord.Interaction) -> None:
        seen.append((type(interaction.channel).__name__, interaction.user.id, interaction.locale))
        await interaction.response.send_message("aide")

    async with running(emu, client):
        await tree.sync()
        invited = await emu.slash_command(ALICE, GENERAL, "inviter", {"qui": BOB, "ou": ANNOUNCES})
        await invited.response()
        in_dm = await emu.slash_command(BOB, "dm", "aide", locale="es-ES")
        await in_dm.response()
        with pytest.raises(ValueError, match="maximum"):
            await emu.slash_command(ALICE, GENERAL, "inviter", {"qui": BOB, "ou": 12, "places": 9})
        with pytest.raises(LookupError):
            await emu.slash_command(ALICE, GENERAL, "inconnue")
    assert seen == [
        (BOB, "bob", ANNOUNCES, 1, GUILD),
        ("DMChannel", BOB, discord.Locale.spain_spanish),
    ]
    assert [m.content for m in emu.dm_messages(BOB)] == ["aide"]


async def test_tokens_and_privileged_intents_are_checked() -> None:
    async with emulated(privileged_intents=0) as emu:
        client = make_client()
        with pytest.raises(discord.LoginFailure):
            await client.login("wrong")
        await client.close()
        intents = discord.Intents.default()
        intents.message_content = True
        greedy = discord.Client(intents=intents, guild_ready_timeout=0.1)
        with pytest.raises(discord.PrivilegedIntentsRequired):
            await asyncio.wait_for(greedy.start(TOKEN), 5)
        await greedy.close()
    async with emulated() as emu:
        intents = discord.Intents.default()
        intents.members = True
        members = discord.Client(intents=intents, guild_ready_timeout=0.1)
        async with running(emu, members):
            guild = members.get_guild(GUILD)
            assert guild is not None and {ALICE, BOB, APP_ID} <= {m.id for m in guild.members}


# ------------------------------------------------------------------------------ rate limits


async def test_a_429_is_retried_by_discord_py(emu: DiscordEmulator) -> None:
    client = make_client()
    async with running(emu, client):
        emu.fail_next("POST", rf"^/channels/{GENERAL}/messages$", 429, retry_after=0.2)
        message = await text_channel(client, GENERAL).send("après la limite")
    assert emu.count_429 == 1
    statuses = [r.status for r in emu.requests if r.method == "POST"]
    assert statuses == [429, 200]
    assert emu.messages(GENERAL)[0].id == message.id


async def test_global_limit_answers_429_and_discord_py_waits() -> None:
    async with emulated(global_limit=(4, 0.5)) as emu:
        client = make_client()
        async with running(emu, client):
            await asyncio.sleep(0.5)  # let the login requests' window pass
            sends = [
                text_channel(client, channel).send(f"n°{n}")
                for n in range(3)
                for channel in (GENERAL, ANNOUNCES)
            ]
            await asyncio.gather(*sends)
        assert emu.count_429 >= 1
        assert len(emu.messages(GENERAL)) == len(emu.messages(ANNOUNCES)) == 3


async def test_message_bucket_headers_make_discord_py_wait() -> None:
    async with emulated(message_limit=(2, 0.5)) as emu:
        client = make_client()
        async with running(emu, client):
            channel = text_channel(client, GENERAL)
            started = time.monotonic()
            for n in range(3):
                await channel.send(f"n°{n}")
            elapsed = time.monotonic() - started
        assert elapsed >= 0.3  # the third waited for the bucket to refill
        assert emu.count_429 == 0


# ------------------------------------------------------------------------------ interactions


async def test_slash_command_syncs_and_answers_ephemerally(emu: DiscordEmulator) -> None:
    client = make_client()
    tree = app_commands.CommandTree(client)
    seen: list[tuple[str, str]] = []

    @tree.command(name="projets", description="Lister les projets")
    @app_commands.describe(region="La région")
    async def projets(interaction: discord.Interaction, region: str) -> None:
        seen.append((str(interaction.locale), region))
        await interaction.response.send_message(f"Projets de {region}", ephemeral=True)

    async with running(emu, client):
        synced = await tree.sync()
        assert [c.name for c in synced] == ["projets"]
        record = await emu.slash_command(
            ALICE, GENERAL, "projets", {"region": "Souss"}, locale="fr"
        )
        reply = await record.response(timeout=3)
    assert emu.commands()[0]["name"] == "projets"
    assert seen == [("fr", "Souss")]
    assert reply.type == 4 and reply.data["flags"] & 64 and reply.elapsed < 3
    assert reply.message is not None and reply.message.ephemeral
    assert reply.message.visible_to == ALICE
    assert emu.messages(GENERAL)[-1].content == "Projets de Souss"


async def test_command_names_are_validated(emu: DiscordEmulator) -> None:
    path = f"/applications/{APP_ID}/commands"
    bad = [
        {"name": "Projets", "description": "upper case", "type": 1},
        {"name": "ok", "description": "d" * 101, "type": 1},
        {"name": "loc", "description": "x", "name_localizations": {"xx": "loc"}},
    ]
    for command in bad:
        status, error, _ = await api(emu, "PUT", path, [command])
        assert (status, error["code"]) == (400, 50035), command
    too_many = [{"name": f"o{i}", "description": "x", "type": 3} for i in range(26)]
    status, error, _ = await api(
        emu, "PUT", path, [{"name": "big", "description": "x", "options": too_many}]
    )
    assert status == 400 and "options" in error["errors"]["0"]
    status, error, _ = await api(emu, "PUT", f"/applications/{APP_ID + 1}/commands", [])
    assert (status, error["code"]) == (403, 50001)


async def test_persistent_button_reaches_a_restarted_bot(emu: DiscordEmulator) -> None:
    presses: list[int] = []

    class Panel(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Suivre", custom_id="cds:follow:v1:42")
        async def follow(
            self, interaction: discord.Interaction, button: discord.ui.Button[Any]
        ) -> None:
            presses.append(interaction.user.id)
            await interaction.response.send_message("Vous suivez le projet", ephemeral=True)

    first = make_client()
    async with running(emu, first):
        await text_channel(first, GENERAL).send("Projet 42", view=Panel())

    second = make_client()

    async def setup_hook() -> None:
        second.add_view(Panel())

    second.setup_hook = setup_hook  # type: ignore[method-assign]
    async with running(emu, second):
        message = emu.messages(GENERAL)[0]
        assert message.custom_ids() == ["cds:follow:v1:42"]
        record = await emu.press_button(ALICE, message, "cds:follow:v1:42")
        reply = await record.response()
    assert presses == [ALICE]
    assert reply.message is not None and reply.message.ephemeral
    with pytest.raises(ValueError, match="no such component"):
        await emu.press_button(ALICE, message, "cds:other")


async def test_modal_opened_from_a_button_and_submitted(emu: DiscordEmulator) -> None:
    submitted: list[str] = []

    class Offer(discord.ui.Modal, title="Proposer une aide"):
        detail: discord.ui.TextInput[Offer] = discord.ui.TextInput(
            label="Votre aide", custom_id="detail", max_length=200
        )

        async def on_submit(self, interaction: discord.Interaction) -> None:
            submitted.append(self.detail.value)
            await interaction.response.send_message("Merci !", ephemeral=True)

    class Panel(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.button(label="Proposer", custom_id="cds:offer")
        async def offer(
            self, interaction: discord.Interaction, button: discord.ui.Button[Any]
        ) -> None:
            await interaction.response.send_modal(Offer(custom_id="cds:offer-modal"))

    client = make_client()
    async with running(emu, client):
        await text_channel(client, GENERAL).send("Besoin : un hydrologue", view=Panel())
        message = emu.messages(GENERAL)[0]
        press = await emu.press_button(BOB, message, "cds:offer")
        opened = await press.response()
        assert opened.type == 9 and opened.data["title"] == "Proposer une aide"
        with pytest.raises(ValueError, match=r"takes 0\.\.200"):
            await emu.submit_modal(BOB, None, "cds:offer-modal", {"detail": "x" * 201})
        submit = await emu.submit_modal(
            BOB, None, "cds:offer-modal", {"detail": "Je connais un hydrologue"}
        )
        thanks = await submit.response()
    assert submitted == ["Je connais un hydrologue"]
    assert submit.payload["message"]["id"] == str(message.id)
    assert thanks.message is not None and thanks.message.content == "Merci !"


async def test_select_autocomplete_defer_followup_and_edit(emu: DiscordEmulator) -> None:
    client = make_client()
    tree = app_commands.CommandTree(client)
    picked: list[list[str]] = []

    class Kinds(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=None)

        @discord.ui.select(
            custom_id="cds:kind",
            max_values=2,
            options=[discord.SelectOption(label=k, value=k) for k in ("idea", "skills", "funding")],
        )
        async def kind(
            self, interaction: discord.Interaction, select: discord.ui.Select[Any]
        ) -> None:
            picked.append(select.values)
            await interaction.response.edit_message(content="Choix enregistré", view=None)

    async def region_choices(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        regions = ["Souss-Massa", "Sud", "Oriental"]
        return [
            app_commands.Choice(name=r, value=r) for r in regions if r.lower().startswith(current)
        ]

    @tree.command(name="rapport", description="Préparer un rapport")
    @app_commands.autocomplete(region=region_choices)
    async def rapport(interaction: discord.Interaction, region: str) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("Détail en privé", ephemeral=True)
        await interaction.edit_original_response(content=f"Rapport {region} prêt")

    async with running(emu, client):
        tree.copy_global_to(guild=discord.Object(GUILD))
        await tree.sync(guild=discord.Object(GUILD))
        assert emu.commands(GUILD)[0]["guild_id"] == str(GUILD)
        completion = await emu.autocomplete(ALICE, GENERAL, "rapport", "region", "s")
        choices = await completion.response()
        assert [c["value"] for c in choices.data["choices"]] == ["Souss-Massa", "Sud"]

        record = await emu.slash_command(ALICE, GENERAL, "rapport", {"region": "Sud"})
        deferred = await record.response()
        await emu.wait_for(lambda: record.original is not None and record.original.edits)
        followup = await record.followup()

        await text_channel(client, GENERAL).send("Type ?", view=Kinds())
        message = emu.messages(GENERAL)[-1]
        choice = await emu.select(ALICE, message, "cds:kind", ["idea", "funding"])
        updated = await choice.response()
    assert deferred.type == 5
    assert record.original is not None and record.original.content == "Rapport Sud prêt"
    assert not record.original.loading and record.original.edits[0]["flags"] & 128
    assert followup.ephemeral and followup.content == "Détail en privé"
    assert picked == [["idea", "funding"]]
    assert updated.type == 7 and message.content == "Choix enregistré" and message.components == []


async def test_answer_after_the_deadline_gets_unknown_interaction() -> None:
    assert DiscordEmulator().interaction_deadline == 3.0
    async with emulated(interaction_deadline=0.3) as emu:
        client = make_client()
        tree = app_commands.CommandTree(client)
        errors: list[int] = []

        @tree.command(name="lent", description="Répond trop tard")
        async def lent(interaction: discord.Interaction) -> None:
            await asyncio.sleep(0.5)
            try:
                await interaction.response.send_message("trop tard")
            except discord.NotFound as error:
                errors.append(error.code)

        async with running(emu, client):
            await tree.sync()
            record = await emu.slash_command(BOB, GENERAL, "lent")
            await emu.wait_for(lambda: errors, timeout=3)
        attempt = record.attempts[0]
        assert errors == [10062]
        assert (attempt.status, attempt.code) == (404, 10062) and attempt.elapsed > 0.3
        assert record.reply is None


async def test_callbacks_are_acknowledged_once(emu: DiscordEmulator) -> None:
    command = {"name": "aide", "description": "Aide", "type": 1}
    await api(emu, "PUT", f"/applications/{APP_ID}/commands", [command])
    record = await emu.slash_command(ALICE, "dm", "aide")
    callback = f"/interactions/{record.id}/{record.token}/callback?with_response=1"
    followup = f"/webhooks/{APP_ID}/{record.token}?wait=true"
    status, error, _ = await api(emu, "POST", followup, {"content": "trop tôt"}, auth=False)
    assert (status, error["code"]) == (404, 10015)
    modal = {
        "custom_id": "m",
        "title": "t" * 46,
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "f", "style": 1, "label": "l"}]}
        ],
    }
    status, error, _ = await api(emu, "POST", callback, {"type": 9, "data": modal}, auth=False)
    assert status == 400 and "title" in error["errors"]["data"]
    status, body, _ = await api(
        emu, "POST", callback, {"type": 4, "data": {"content": "Salut"}}, auth=False
    )
    assert status == 200 and body["resource"]["message"]["content"] == "Salut"
    assert body["interaction"]["id"] == str(record.id)
    status, error, _ = await api(
        emu, "POST", callback, {"type": 4, "data": {"content": "2"}}, auth=False
    )
    assert (status, error) == (
        400,
        {"message": "Interaction has already been acknowledged", "code": 40060},
    )
    status, _, _ = await api(emu, "POST", followup, {"content": "ensuite"}, auth=False)
    assert status == 200
    assert [m.content for m in emu.dm_messages(ALICE)] == ["Salut", "ensuite"]
    status, error, _ = await api(
        emu, "POST", "/interactions/1/nope/callback", {"type": 4}, auth=False
    )
    assert (status, error["code"]) == (404, 10062)


# ------------------------------------------------------------------------------ DMs and errors


async def test_dm_to_a_user_with_closed_dms_is_forbidden(emu: DiscordEmulator) -> None:
    emu.close_dms(BOB)
    client = make_client()
    async with running(emu, client):
        alice = await client.fetch_user(ALICE)
        await alice.send("Bienvenue !")
        bob = await client.fetch_user(BOB)
        with pytest.raises(discord.Forbidden) as refused:
            await bob.send("Bienvenue !")
    assert refused.value.code == 50007
    assert [m.content for m in emu.dm_messages(ALICE)] == ["Bienvenue !"]
    assert emu.dm_messages(BOB) == []


async def test_denied_deleted_and_failing_channels(emu: DiscordEmulator) -> None:
    client = make_client()
    async with running(emu, client):
        emu.deny_channel(ANNOUNCES)
        with pytest.raises(discord.Forbidden) as denied:
            await text_channel(client, ANNOUNCES).send("x")
        assert denied.value.code == 50013
        general = text_channel(client, GENERAL)
        emu.fail_next("POST", r"/messages$", 502)
        await general.send("après un 502")  # discord.py retries 5xx after 1 s
        emu.fail_next("*", r"/messages$", 404, 10003)
        with pytest.raises(discord.NotFound):
            await general.send("x")
        emu.slow_next("POST", r"/messages$", 0.2)
        started = time.monotonic()
        await general.send("lent")
        assert time.monotonic() - started >= 0.2
        announces = text_channel(client, ANNOUNCES)
        emu.delete_channel(ANNOUNCES)
        await emu.wait_for(lambda: client.get_channel(ANNOUNCES) is None)
        with pytest.raises(discord.NotFound) as gone:
            await announces.send("x")
        assert gone.value.code == 10003
    statuses = [r.status for r in emu.requests if r.method == "POST"]
    assert statuses == [403, 502, 200, 404, 200, 404]


async def test_member_messages_hide_content_without_the_intent(emu: DiscordEmulator) -> None:
    client = make_client()
    received: list[tuple[str, bool]] = []

    @client.event
    async def on_message(message: discord.Message) -> None:
        received.append((message.content, message.guild is None))

    async with running(emu, client):
        emu.user_message(ALICE, GENERAL, "salut le bot")
        emu.user_message(ALICE, "dm", "bonjour en privé")
        await emu.wait_for(lambda: len(received) == 2)
    assert received == [("", False), ("bonjour en privé", True)]


# ------------------------------------------------------------------------------ gateway life


async def test_reconnect_resumes_and_replays_missed_dispatches(emu: DiscordEmulator) -> None:
    client = make_client()
    async with running(emu, client):
        async with emu.gateway_offline():
            await emu.request_reconnect()
            emu.delete_channel(ANNOUNCES)  # dispatched while the bot is away
            assert client.get_channel(ANNOUNCES) is not None
        await emu.wait_for(lambda: emu.resume_count == 1)
        await emu.wait_for(lambda: client.get_channel(ANNOUNCES) is None)
        assert emu.resumes[0].replayed == 1
        await text_channel(client, GENERAL).send("toujours là")
    assert emu.identify_count == 1


async def test_dropped_connection_resumes(emu: DiscordEmulator) -> None:
    client = make_client()
    async with running(emu, client):
        await emu.drop_connection()
        await emu.wait_for(lambda: emu.resume_count == 1)
        record = emu.user_message(BOB, "dm", "tu es là ?")
        assert record.content == "tu es là ?"
    assert emu.identify_count == 1


async def test_invalid_session_makes_the_client_identify_again(emu: DiscordEmulator) -> None:
    client = make_client()

    async def before_identify_hook(shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every IDENTIFY but the first: skip it here."""

    client.before_identify_hook = before_identify_hook  # type: ignore[method-assign]
    async with running(emu, client):
        await emu.invalidate_session()
        await emu.wait_for(lambda: emu.identify_count == 2)
        emu.add_guild(20, "Diaspora Lyon", channels=[(21, "accueil")], members=[ALICE])
        await emu.wait_for(lambda: client.get_guild(20) is not None)
        emu.remove_guild(20)
        await emu.wait_for(lambda: client.get_guild(20) is None)
