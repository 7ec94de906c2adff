"""A Telegram Bot API emulator: a real HTTP server on 127.0.0.1 for the real python-telegram-bot.

Point the client at it and script a small world of users, private chats and groups::

    async with TelegramEmulator(token="123:ABC", bot_username="cds_test_bot") as emu:
        app = (
            ApplicationBuilder()
            .token(emu.token)
            .base_url(emu.base_url)
            .base_file_url(emu.base_file_url)
            .build()
        )
        alice = emu.add_user(1001, "Alice", username="alice")
        emu.start_private(alice)
        emu.user_sends(alice, alice.id, "/start")
        reply = await emu.wait_for(lambda m: m.chat_id == alice.id)

The emulator answers with Telegram's own error bodies (so the client raises the same
exceptions it would in production), enforces the documented limits and the send rate limits,
and can inject faults (`fail_next`). Everything the bot sent is kept per chat (`sent`), every
call in `requests`.

The package, from the bottom up:

- `model`: users, chats, the bot's messages, recorded calls and `ApiError`, as dataclasses;
- `limits`: the documented sizes and the send rate windows;
- `entities`, `html_markup`, `markdown`, `formatting`: text parsed by parse mode, as strictly
  as Telegram parses it;
- `params`: decoding a call's parameters;
- `state`: the shared state, ids, chat lookups and the update queue; `store`: the bot's
  messages and their rendering as Bot API objects;
- one mixin per family: `world` (scripted users and groups), `messages`, `files`, `edits`,
  `keyboards` (markup and callbacks), `polls`, `chats`, `commands`, `updates` (getUpdates and
  webhooks), `faults`, `inspection` (what the bot did, waits);
- `emulator`: `TelegramEmulator`, the HTTP server and the method table.
"""

from tests.emulators.telegram.emulator import TelegramEmulator
from tests.emulators.telegram.html_markup import parse_html
from tests.emulators.telegram.limits import Limits, RateLimits
from tests.emulators.telegram.markdown import parse_markdown_v2
from tests.emulators.telegram.model import SentMessage, User

__all__ = [
    "Limits",
    "RateLimits",
    "SentMessage",
    "TelegramEmulator",
    "User",
    "parse_html",
    "parse_markdown_v2",
]
