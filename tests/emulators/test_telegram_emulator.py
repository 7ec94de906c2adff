"""The Telegram emulator, exercised by the real python-telegram-bot `Bot` and `Application`."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)
from telegram.request import HTTPXRequest

from tests.emulators.telegram import (
    Limits,
    RateLimits,
    TelegramEmulator,
    parse_html,
    parse_markdown_v2,
)

# PTB warns about `RetryAfter.retry_after` becoming a timedelta each time it raises one.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

TOKEN = "123456:TEST-token"
BOT_NAME = "cds_test_bot"
GROUP = -4001
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x02\x00\x00\x00\x03"
    b"\x08\x02\x00\x00\x00\x00\x00\x00\x00"
)


@pytest.fixture
async def emu() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(token=TOKEN, bot_username=BOT_NAME) as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as client:
        yield client


def build_app(emu: TelegramEmulator) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ---- basics ---------------------------------------------------------------------------------


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == BOT_NAME
    assert me.id == 123456
    assert me.is_bot
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False


async def test_wrong_token_is_unauthorized(emu: TelegramEmulator) -> None:
    request = HTTPXRequest()
    try:
        with pytest.raises(InvalidToken):
            await Bot("999:WRONG", base_url=emu.base_url, request=request).get_me()
    finally:
        await request.shutdown()
    assert emu.requests[-1].status == 401


async def test_unknown_method_and_raw_bodies(emu: TelegramEmulator) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emu.base_url}{TOKEN}/sendTelepathy") as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        form = {"chat_id": "1", "text": "123", "reply_markup": '{"inline_keyboard": []}'}
        async with http.post(f"{emu.base_url}{TOKEN}/sendMessage", data=form) as response:
            assert (await response.json())["result"]["text"] == "123"
        async with http.post(
            f"{emu.base_url}{TOKEN}/sendMessage", json={"chat_id": 1, "text": "true"}
        ) as response:
            assert response.status == 200
        async with http.get(f"{emu.base_url}{TOKEN}/getMe") as response:
            assert (await response.json())["result"]["username"] == BOT_NAME
    first, second = emu.sent(alice)
    assert first.text == "123"
    assert first.params["chat_id"] == 1
    assert second.text == "true"


# ---- sending and the world ------------------------------------------------------------------


async def test_send_message_to_a_started_user(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1001, "Alice", username="alice")
    emu.start_private(alice)

    message = await bot.send_message(
        alice.id,
        "<b>Bonjour</b> &lt;Alice&gt; 👋",
        parse_mode=ParseMode.HTML,
        reply_markup=keyboard("offer:1"),
    )

    assert message.text == "Bonjour <Alice> 👋"
    assert message.chat.first_name == "Alice"
    [sent] = emu.sent(alice)
    assert sent.text == "Bonjour <Alice> 👋"
    assert sent.parse_mode == "HTML"
    assert sent.entities == [{"type": "bold", "offset": 0, "length": 7}]
    assert sent.reply_markup == {
        "inline_keyboard": [[{"text": "offer:1", "callback_data": "offer:1"}]]
    }
    assert sent.callback_data == ["offer:1"]
    assert emu.calls("sendMessage", alice.id)[0].status == 200


async def test_user_who_never_started_the_bot_is_forbidden(emu: TelegramEmulator, bot: Bot) -> None:
    emu.add_user(1002, "Bob")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(1002, "hello")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999_999, "hello")


async def test_blocked_user_is_forbidden(emu: TelegramEmulator, bot: Bot) -> None:
    carol = emu.add_user(1003, "Carol")
    emu.start_private(carol)
    await bot.send_message(carol.id, "first")
    update_id = emu.block(carol.id)

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(carol.id, "second")
    update = Update.de_json(emu.updates[-1], bot)
    assert update.update_id == update_id
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"


async def test_group_membership_of_the_bot(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.add_group(GROUP, "Souss-Massa", members=[alice], with_bot=False)
    with pytest.raises(Forbidden, match="not a member of the group chat"):
        await bot.send_message(GROUP, "hi")

    added = emu.add_bot_to_group(GROUP)
    await bot.send_message(GROUP, "hi")
    removed = emu.remove_bot_from_group(GROUP, by=alice)
    with pytest.raises(Forbidden, match="not a member"):
        await bot.send_message(GROUP, "again")

    changes = {u["update_id"]: Update.de_json(u, bot) for u in emu.updates}
    assert changes[added].my_chat_member.new_chat_member.status == "member"
    assert changes[removed].my_chat_member.old_chat_member.status == "member"
    assert changes[removed].my_chat_member.from_user.id == alice.id


async def test_text_length_is_counted_after_entity_parsing(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    await bot.send_message(alice.id, "<b>" + "a" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(alice.id, "é" * 4097)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(alice.id, "  <b> </b> ", parse_mode=ParseMode.HTML)
    assert emu.requests[-1].description == "Bad Request: message text is empty"


@pytest.mark.parametrize(
    "text",
    ["<b>bold</i>", "<div>block</div>", "a < b", "<b>open", "</b>", "<br/>", "<span>x</span>"],
)
async def test_bad_html_cannot_be_parsed(emu: TelegramEmulator, bot: Bot, text: str) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(alice.id, text, parse_mode=ParseMode.HTML)
    assert emu.sent(alice) == []


def test_html_parser_knows_telegram_tags() -> None:
    text, entities = parse_html(
        '<a href="https://t.me/x?a=1&amp;b=2">lien</a> <tg-spoiler>s</tg-spoiler> '
        '<pre><code class="language-python">x = 1</code></pre> &#128075; &quot;q&quot; & ok'
    )
    assert text == 'lien s x = 1 👋 "q" & ok'
    assert entities == [
        {"type": "text_link", "offset": 0, "length": 4, "url": "https://t.me/x?a=1&b=2"},
        {"type": "spoiler", "offset": 5, "length": 1},
        {"type": "pre", "offset": 7, "length": 5, "language": "python"},
    ]
    assert parse_html("<b><i>x</i></b>🎉<u>y</u>")[1] == [
        {"type": "bold", "offset": 0, "length": 1},
        {"type": "italic", "offset": 0, "length": 1},
        {"type": "underline", "offset": 3, "length": 1},
    ]


async def test_markdown_v2_requires_escaping(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    with pytest.raises(BadRequest, match="reserved and must be escaped"):
        await bot.send_message(alice.id, "Merci.", parse_mode=ParseMode.MARKDOWN_V2)
    message = await bot.send_message(
        alice.id, "*Merci* \\(vraiment\\)\\.", parse_mode=ParseMode.MARKDOWN_V2
    )
    assert message.text == "Merci (vraiment)."
    assert parse_markdown_v2("__u__ ||s|| [l](https://x.y/\\))")[1] == [
        {"type": "underline", "offset": 0, "length": 1},
        {"type": "spoiler", "offset": 2, "length": 1},
        {"type": "text_link", "offset": 4, "length": 1, "url": "https://x.y/)"},
    ]


async def test_callback_data_is_limited_to_64_bytes(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    await bot.send_message(alice.id, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(alice.id, "ko", reply_markup=keyboard("x" * 65))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(alice.id, "ko", reply_markup=keyboard("é" * 33))
    assert len(emu.sent(alice)) == 1


async def test_inline_keyboard_shape_and_deep_links(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    with pytest.raises(BadRequest, match="Reply markup is too long"):
        await bot.send_message(alice.id, "wide", reply_markup=keyboard(*"abcdefghi"))
    rows = [
        [InlineKeyboardButton(f"{r}{c}", callback_data=f"{r}{c}") for c in "abcd"]
        for r in range(26)
    ]
    with pytest.raises(BadRequest, match="Reply markup is too long"):
        await bot.send_message(alice.id, "tall", reply_markup=InlineKeyboardMarkup(rows))

    def link(payload: str) -> InlineKeyboardMarkup:
        url = f"https://t.me/{BOT_NAME}?start={payload}"
        return InlineKeyboardMarkup([[InlineKeyboardButton("Aider", url=url)]])

    await bot.send_message(alice.id, "ok", reply_markup=link("offer-12_a"))
    with pytest.raises(BadRequest, match="Button_url_invalid"):
        await bot.send_message(alice.id, "ko", reply_markup=link("offer:12"))
    with pytest.raises(BadRequest, match="Button_url_invalid"):
        await bot.send_message(alice.id, "ko", reply_markup=link("a" * 65))
    async with aiohttp.ClientSession() as http:
        markup = {"inline_keyboard": [[{"text": "plain"}]]}
        body = {"chat_id": 1, "text": "x", "reply_markup": markup}
        async with http.post(f"{emu.base_url}{TOKEN}/sendMessage", json=body) as response:
            assert "Text buttons are unallowed" in (await response.json())["description"]


# ---- editing --------------------------------------------------------------------------------


async def test_edits_keep_history_and_refuse_no_op(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    message = await bot.send_message(
        alice.id, "Need: <b>a van</b>", parse_mode="HTML", reply_markup=keyboard("help")
    )

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "Need: <b>a van</b>",
            alice.id,
            message.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("help"),
        )
    await bot.edit_message_text(
        "Need: <b>a van</b> (done)", alice.id, message.message_id, parse_mode="HTML"
    )
    await bot.edit_message_reply_markup(
        alice.id, message.message_id, reply_markup=keyboard("thanks")
    )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(
            alice.id, message.message_id, reply_markup=keyboard("thanks")
        )
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", alice.id, 424242)

    [sent] = emu.sent(alice)
    assert sent.text == "Need: a van (done)"
    assert sent.callback_data == ["thanks"]
    assert [(r.method, r.text, r.reply_markup is not None) for r in sent.history] == [
        ("editMessageText", "Need: a van", True),
        ("editMessageReplyMarkup", "Need: a van (done)", False),
    ]


# ---- migration, rate limits and faults ------------------------------------------------------


async def test_migrated_group_raises_chat_migrated(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.add_group(GROUP, "Diaspora", members=[alice])
    supergroup = emu.migrate_group(GROUP, -1001234)

    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(GROUP, "hello")
    assert raised.value.new_chat_id == supergroup.id
    await bot.send_message(supergroup.id, "hello again")
    service = [Update.de_json(u, bot).message for u in emu.updates]
    assert [m.migrate_to_chat_id for m in service] == [-1001234, None]
    assert service[1].migrate_from_chat_id == GROUP

    emu.fail_next("sendMessage", -1001234, "migrated", migrate_to=-1009999)
    with pytest.raises(ChatMigrated) as raised:
        await bot.send_message(-1001234, "moved")
    assert raised.value.new_chat_id == -1009999


async def test_group_rate_limit_raises_retry_after() -> None:
    limits = RateLimits(group=20, group_window=1.5)
    async with (
        TelegramEmulator(token=TOKEN, bot_username=BOT_NAME, rate_limits=limits) as emu,
        Bot(TOKEN, base_url=emu.base_url) as bot,
    ):
        emu.add_group(GROUP, "Diaspora")
        outcomes: list[str] = []
        for index in range(25):
            try:
                await bot.send_message(GROUP, f"announcement {index}")
                outcomes.append("sent")
            except RetryAfter:
                outcomes.append("429")
        assert outcomes == ["sent"] * 20 + ["429"] * 5
        assert emu.count_429 == 5
        assert len(emu.sent(GROUP)) == 20
        refused = emu.requests[-1]
        assert refused.parameters == {"retry_after": 2}
        assert refused.description == "Too Many Requests: retry after 2"


async def test_private_chat_allows_a_burst_of_three() -> None:
    async with (
        TelegramEmulator(token=TOKEN, bot_username=BOT_NAME) as emu,
        Bot(TOKEN, base_url=emu.base_url) as bot,
    ):
        emu.start_private(emu.add_user(1, "Alice"))
        for text in ("a", "b", "c"):
            await bot.send_message(1, text)
        with pytest.raises(RetryAfter):
            await bot.send_message(1, "d")
        emu.rate_limits = RateLimits.off()
        await bot.send_message(1, "d")
        assert [m.text for m in emu.sent(1)] == ["a", "b", "c", "d"]


async def test_overall_limit_uses_an_injected_clock() -> None:
    now = [0.0]
    async with (
        TelegramEmulator(token=TOKEN, bot_username=BOT_NAME, clock=lambda: now[0]) as emu,
        Bot(TOKEN, base_url=emu.base_url) as bot,
    ):
        for user_id in range(1, 32):
            emu.start_private(emu.add_user(user_id, f"U{user_id}"))
        for user_id in range(1, 31):
            await bot.send_message(user_id, "campaign")
        with pytest.raises(RetryAfter):
            await bot.send_message(31, "campaign")
        now[0] += 1.0
        await bot.send_message(31, "campaign")


async def test_injected_faults(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)

    emu.fail_next("sendMessage", alice.id, "server_error", times=2, status=502)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(alice.id, "x")
    emu.fail_next("sendMessage", kind="blocked")
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(alice.id, "x")
    emu.fail_next("sendMessage", kind="chat_not_found")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(alice.id, "x")
    emu.fail_next("sendMessage", kind="flood", retry_after=3)
    with pytest.raises(RetryAfter):
        await bot.send_message(alice.id, "x")
    assert emu.sent(alice) == []

    emu.fail_next("sendMessage", kind="drop")
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "dropped")
    assert emu.sent(alice) == []
    emu.fail_next("sendMessage", kind="lost")
    with pytest.raises(NetworkError):
        await bot.send_message(alice.id, "lost answer")
    assert [m.text for m in emu.sent(alice)] == ["lost answer"]

    emu.fail_next("getChat", kind="slow", delay=0.3)
    started = asyncio.get_running_loop().time()
    chat = await bot.get_chat(alice.id)
    assert chat.first_name == "Alice"
    assert asyncio.get_running_loop().time() - started >= 0.3
    assert emu.count_429 == 1


# ---- updates and the Application ------------------------------------------------------------


async def test_injected_updates_parse_with_ptb(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice", username="alice", language_code="ar")
    bob = emu.add_user(2, "Bob")
    emu.add_group(GROUP, "Diaspora", members=[alice, bob])
    emu.start_private(alice)
    sent = await bot.send_message(alice.id, "Choose", reply_markup=keyboard("a", "b"))
    poll = await bot.send_poll(GROUP, "Quand ?", ["Lundi", "Mardi"], is_anonymous=False)

    ids = [
        emu.user_sends(alice, None, "/start offer-7"),
        emu.user_sends(bob, GROUP, f"/help@{BOT_NAME} now"),
        emu.user_presses(alice, sent.message_id, "b"),
        emu.user_votes(bob, poll.poll.id, [1]),
        emu.user_replies(bob, GROUP, "yes", poll.message_id),
    ]
    assert None not in ids
    updates = {u["update_id"]: Update.de_json(u, bot) for u in emu.updates}
    start, help_, press, vote, reply = (updates[i] for i in ids)

    assert start.message.text == "/start offer-7"
    assert start.message.entities[0].type == "bot_command"
    assert start.message.entities[0].length == len("/start")
    assert start.message.from_user.language_code == "ar"
    assert help_.message.entities[0].length == len(f"/help@{BOT_NAME}")
    assert help_.message.chat.title == "Diaspora"
    assert press.callback_query.data == "b"
    assert press.callback_query.message.message_id == sent.message_id
    assert press.callback_query.chat_instance
    assert vote.poll_answer.option_ids == (1,)
    assert vote.poll_answer.user.id == bob.id
    assert reply.message.reply_to_message.poll.options[1].voter_count == 1


async def test_privacy_mode_hides_plain_group_chatter(emu: TelegramEmulator) -> None:
    alice = emu.add_user(1, "Alice")
    emu.add_group(GROUP, "Diaspora", members=[alice])
    assert emu.user_sends(alice, GROUP, "bonjour tout le monde") is None
    assert emu.user_sends(alice, GROUP, "/start@other_bot") is None
    assert emu.user_sends(alice, GROUP, f"merci @{BOT_NAME}") is not None
    with pytest.raises(ValueError, match="not a member"):
        emu.user_sends(emu.add_user(2, "Eve"), GROUP, "/start")


async def test_application_polls_and_answers_a_command(emu: TelegramEmulator) -> None:
    alice = emu.add_user(1001, "Alice")
    emu.add_group(GROUP, "Diaspora", members=[alice])

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"Bienvenue {' '.join(context.args or [])}")

    app = build_app(emu)
    app.add_handler(CommandHandler("start", start))
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=5)
    await app.start()
    try:
        first = emu.user_sends(alice, None, "/start offer-12")
        reply = await emu.wait_for(lambda m: m.chat_id == alice.id, timeout=5)
        emu.user_sends(alice, GROUP, f"/start@{BOT_NAME}")
        in_group = await emu.wait_for(lambda m: m.chat_id == GROUP, timeout=5)
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    assert first is not None
    assert reply.text == "Bienvenue offer-12"
    assert reply.reply_to_message_id is None  # PTB quotes only in groups
    assert in_group.text == "Bienvenue"
    assert in_group.reply_to_message_id is not None
    assert emu.pending_updates == []  # the last getUpdates confirmed everything
    # updater.stop() hangs up on its long poll (499) and its last getUpdates is not a conflict.
    assert {r.status for r in emu.calls("getUpdates")} == {200, 499}
    assert emu.calls("getUpdates")[-1].status == 200
    assert emu.calls("deleteWebhook")


async def test_application_answers_a_callback_query(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1001, "Alice")
    emu.start_private(alice)
    card = await bot.send_message(alice.id, "Need: a van", reply_markup=keyboard("offer:3"))

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Merci !")
        await query.edit_message_text(f"Offer received ({query.data})")

    app = build_app(emu)
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(timeout=5)
        await app.start()
        update_id = emu.user_presses(alice, card.message_id, "offer:3")
        edited = await emu.wait_for(lambda m: m.text == "Offer received (offer:3)", timeout=5)
        await app.updater.stop()
        await app.stop()

    answer = emu.callback_answer(update_id)
    assert answer is not None
    assert answer["text"] == "Merci !"
    assert edited.history[0].text == "Need: a van"
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(emu.updates[-1]["callback_query"]["id"])
    with pytest.raises(ValueError, match="no button"):
        emu.user_presses(alice, card.message_id, "forged")
    emu.user_presses(alice, card.message_id, "forged", check=False)


async def test_answer_callback_query_limits(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    card = await bot.send_message(alice.id, "x", reply_markup=keyboard("k"))
    emu.user_presses(alice, card.message_id, "k")
    query_id = emu.updates[-1]["callback_query"]["id"]
    with pytest.raises(BadRequest):
        await bot.answer_callback_query(query_id, text="x" * 201)
    await bot.answer_callback_query(query_id, text="x" * 200)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("not-a-query")


async def test_second_poller_gets_a_conflict(emu: TelegramEmulator, bot: Bot) -> None:
    emu.poll_conflict_grace = 0.1
    alice = emu.add_user(1, "Alice")
    first = asyncio.create_task(bot.get_updates(timeout=3))
    await emu.wait_for_request(lambda r: r.method == "getUpdates", answered=False)
    await asyncio.sleep(0.05)
    async with Bot(TOKEN, base_url=emu.base_url) as other:
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await other.get_updates(timeout=0)
    update_id = emu.user_sends(alice, None, "hello")
    [update] = await first
    assert update.update_id == update_id
    assert update.message.text == "hello"
    await emu.wait_delivered(update_id)
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == ()
    assert emu.pending_updates == []


async def test_get_updates_offset_limit_and_allowed_updates(
    emu: TelegramEmulator, bot: Bot
) -> None:
    alice = emu.add_user(1, "Alice")
    ids = [emu.user_sends(alice, None, f"m{i}") for i in range(3)]
    emu.block(alice)
    got = await bot.get_updates(limit=2, timeout=0)
    assert [u.update_id for u in got] == ids[:2]
    got = await bot.get_updates(offset=ids[1] + 1, timeout=0, allowed_updates=["message"])
    assert [u.update_id for u in got] == ids[2:]  # the my_chat_member update is filtered
    assert await bot.get_updates(offset=ids[2] + 1, timeout=0) == ()


# ---- polls, media, commands, chats, webhooks ------------------------------------------------


async def test_polls(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.add_group(GROUP, "Diaspora", members=[alice])
    message = await bot.send_poll(
        GROUP,
        "Quel projet ?",
        ["Puits", "École", "Route"],
        is_anonymous=False,
        allows_multiple_answers=True,
    )
    assert message.poll.allows_revoting is True
    emu.user_votes(alice, message.poll.id, [0, 2])
    stopped = await bot.stop_poll(GROUP, message.message_id)
    assert stopped.is_closed
    assert [o.voter_count for o in stopped.options] == [1, 0, 1]
    with pytest.raises(BadRequest, match="already been closed"):
        await bot.stop_poll(GROUP, message.message_id)
    with pytest.raises(ValueError, match="closed"):
        emu.user_votes(alice, message.poll.id, [1])
    with pytest.raises(BadRequest, match="Poll question length"):
        await bot.send_poll(GROUP, "?" * 301, ["a", "b"])
    with pytest.raises(BadRequest, match="more than 12 options"):
        await bot.send_poll(GROUP, "?", [str(i) for i in range(13)])
    with pytest.raises(BadRequest, match="must not exceed 100"):
        await bot.send_poll(GROUP, "?", ["a" * 101, "b"])

    anonymous = await bot.send_poll(GROUP, "Anonyme ?", ["Oui", "Non"])
    emu.user_votes(alice, anonymous.poll.id, [0])
    kinds = [next(k for k in u if k != "update_id") for u in emu.updates]
    assert kinds == ["poll_answer", "poll", "poll"]  # vote, stop, anonymous vote
    parsed = [Update.de_json(u, bot) for u in emu.updates]
    assert parsed[1].poll.is_closed
    assert parsed[2].poll.options[0].voter_count == 1


async def test_poll_minimum_options_is_configurable() -> None:
    async with (
        TelegramEmulator(token=TOKEN, limits=Limits(poll_options_min=2)) as emu,
        Bot(TOKEN, base_url=emu.base_url) as bot,
    ):
        emu.add_group(GROUP, "Diaspora")
        with pytest.raises(BadRequest, match="at least 2 option"):
            await bot.send_poll(GROUP, "?", ["seul"])


async def test_photos_and_documents_are_recorded(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice")
    emu.start_private(alice)
    photo = await bot.send_photo(alice.id, PNG, caption="<i>Stats</i>", parse_mode="HTML")
    assert (photo.photo[0].width, photo.photo[0].height) == (2, 3)
    assert photo.caption == "Stats"
    await bot.send_document(alice.id, b"a,b\n1,2\n", filename="export.csv")
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_photo(alice.id, PNG, caption="c" * 1025)

    first, second = emu.sent(alice)
    assert first.photo == PNG
    assert first.caption_entities == [{"type": "italic", "offset": 0, "length": 5}]
    assert (second.document, second.file_name) == (b"a,b\n1,2\n", "export.csv")
    downloaded = await (await bot.get_file(photo.photo[0].file_id)).download_as_bytearray()
    assert bytes(downloaded) == PNG


async def test_commands_are_validated_and_scoped(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice", language_code="es")
    emu.add_group(GROUP, "Diaspora", members=[alice])
    await bot.set_my_commands([BotCommand("start", "Démarrer"), BotCommand("needs", "Besoins")])
    await bot.set_my_commands([BotCommand("start", "Empezar")], language_code="es")
    await bot.set_my_commands(
        [BotCommand("announce", "Annoncer")], scope=BotCommandScopeChat(GROUP)
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "needs"]
    assert emu.commands(language_code="es") == [{"command": "start", "description": "Empezar"}]
    assert emu.visible_commands(alice, alice.id) == [{"command": "start", "description": "Empezar"}]
    assert emu.visible_commands(alice, GROUP)[0]["command"] == "announce"
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "Capital")])
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand("start", "d" * 257)])
    with pytest.raises(BadRequest):
        await bot.set_my_commands([BotCommand(f"c{i}", "d") for i in range(101)])
    await bot.delete_my_commands(language_code="es")
    assert emu.commands(language_code="es") == []
    assert await bot.set_my_description("Bot CDS")
    assert emu.settings["setMyDescription"]["description"] == "Bot CDS"


async def test_chat_information(emu: TelegramEmulator, bot: Bot) -> None:
    alice = emu.add_user(1, "Alice", username="alice")
    bob = emu.add_user(2, "Bob")
    emu.add_group(GROUP, "Diaspora", members=[bob], admins=[alice], supergroup=True)
    chat = await bot.get_chat(GROUP)
    assert (chat.type, chat.title) == ("supergroup", "Diaspora")
    assert (await bot.get_chat_member(GROUP, alice.id)).status == "administrator"
    assert (await bot.get_chat_member(GROUP, bob.id)).status == "member"
    assert (await bot.get_chat_member(GROUP, emu.bot.id)).status == "member"
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(alice.id)  # she never started the bot
    assert await bot.leave_chat(GROUP)
    with pytest.raises(Forbidden, match="not a member of the supergroup chat"):
        await bot.send_message(GROUP, "hi")
    left = Update.de_json(emu.updates[-1], bot)
    assert left.my_chat_member.new_chat_member.status == "left"


async def test_webhook_mode_with_right_and_wrong_secret(emu: TelegramEmulator) -> None:
    alice = emu.add_user(1001, "Alice")

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Bienvenue")

    port = free_port()
    app = build_app(emu)
    app.add_handler(CommandHandler("start", start))
    async with app:
        assert app.updater is not None
        with pytest.raises(BadRequest, match="unallowed characters"):
            await app.bot.set_webhook("http://127.0.0.1/x", secret_token="bad secret!")
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=f"http://127.0.0.1:{port}/telegram",
            secret_token="s3cret-token",
        )
        await app.start()
        assert emu.webhook_url == f"http://127.0.0.1:{port}/telegram"
        with pytest.raises(Conflict, match="webhook is active"):
            await app.bot.get_updates()
        wrong = emu.user_sends(alice, None, "/start")
        assert wrong is not None
        assert await emu.push_webhook(wrong, secret="wrong") == 403
        assert await emu.push_webhook(emu.updates[-1], secret=None) == 403
        right = emu.user_sends(alice, None, "/start")
        assert right is not None
        assert await emu.push_webhook(right) == 200
        reply = await emu.wait_for(lambda m: m.text == "Bienvenue", timeout=5)
        await app.updater.stop()
        await app.stop()
    assert reply.chat_id == alice.id
    assert len(emu.sent(alice)) == 1
