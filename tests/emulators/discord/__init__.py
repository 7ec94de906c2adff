"""A Discord emulator for tests: REST under ``/api/v10`` and the gateway at ``/`` on one port.

The real discord.py client logs in, connects, syncs its commands, sends messages and answers
interactions against it. The emulator enforces Discord's documented limits and rate limits,
keeps a transcript per channel, and plays the users: slash commands, button presses, selects,
modal submissions, autocomplete and plain messages.

    async with DiscordEmulator(token="tok", app_id=1, bot_user_id=1) as emu:
        emu.add_guild(10, "CDS", channels=[(11, "general")], members=[100])
        with emu.patch_discord():
            ...  # start a discord.Client with guild_ready_timeout=0.1 and wait for on_ready
            record = await emu.slash_command(100, 11, "help")
            reply = await record.response()

Paths in ``requests``, ``fail_next`` and ``slow_next`` are relative to ``/api/v10``.

The package, from the bottom up:

- `protocol`: the JSON type, API constants, flags, intents, permissions, opcodes and
  interaction types; `errors`: Discord's error codes, `DiscordError` and form errors;
- `component_checks`, `message_checks`, `command_checks`: bodies checked against Discord's
  documented limits;
- `model`: users, channels, roles, members, guilds, attachments and messages, as dataclasses;
  `records`: interactions, requests and resumes as tests read them back;
- `ratelimits`: windows and headers; `routing`: a REST call, a route, a JSON answer;
- `state`: the options, the shared state, lookups, permissions and the dispatch queue;
  `payloads`: the JSON shapes of the world's objects; `transcripts`: storing, editing and
  deleting messages;
- one mixin per family: `world` (guild and channel lifecycle), `directory` (REST reads of
  users, guilds, channels, members), `channel_messages`, `interaction_answers` (callbacks and
  webhooks), `commands` (application commands), `invocation` and `user_actions` (users acting),
  `polls`, `gateway`, `faults`, `server` (the REST pipeline), `inspection` (transcripts, waits);
- `emulator`: `DiscordEmulator`, its lifecycle and the route table.
"""

from tests.emulators.discord.emulator import DiscordEmulator
from tests.emulators.discord.model import MessageRecord
from tests.emulators.discord.protocol import InteractionType, Where
from tests.emulators.discord.records import InteractionRecord

__all__ = [
    "DiscordEmulator",
    "InteractionRecord",
    "InteractionType",
    "MessageRecord",
    "Where",
]
