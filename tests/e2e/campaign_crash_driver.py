"""A bot process for the crash test: the real app, campaign engine and outbox dispatcher,
sending through the real Telegram messenger (python-telegram-bot) to the Telegram emulator.

    python -m tests.e2e.campaign_crash_driver DB_URL BASE_URL BASE_FILE_URL TOKEN

It recovers what a previous process left (`sending` rows become `unknown`), starts the
campaign engine (which fires the due slot once: a restart finds its run already there),
drains the outbox until nothing is pending, prints "done" and exits. The test kills it with
SIGKILL in the middle and starts it again.

The emulator's rate limits are off and the messenger's `rates` are raised accordingly, so
that 2,000 messages go out in seconds (Telegram's real 30 a second would take over a minute).
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import func, select
from telegram import Bot

from bot.app import build_app
from bot.config import load_settings
from bot.telegram.messenger import Sender, TelegramMessenger
from handlers.chat import Platform, SendRates
from store.models import Delivery, DeliveryStatus

FAST = SendRates(per_second=2000, private=(100, 1.0), group=(100, 1.0))


async def main(url: str, base_url: str, base_file_url: str, token: str) -> int:
    settings = load_settings(
        overrides={
            "database": {"url": url},
            "community": {"default_language": "en"},
            "campaigns": {"grace_minutes": 60},
            # The killed process keeps its outbox lease until it expires: the restarted one
            # waits that long before sending.
            "outbox": {"lease_seconds": 3},
        }
    )
    bot = Bot(token, base_url=base_url, base_file_url=base_file_url)
    await bot.initialize()
    messenger = TelegramMessenger(Sender(bot))
    messenger.rates = FAST  # type: ignore[misc]
    messenger.ready.set()
    app = await build_app(settings, messengers={Platform.TELEGRAM: messenger})
    async with app:
        recovered = await app.dispatcher.recover()
        print(f"recovered {recovered}", flush=True)
        assert app.campaigns is not None
        await app.campaigns.start()
        print("started", flush=True)
        while True:
            await app.dispatcher.drain()
            async with app.sessions() as session:
                pending = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(
                        Delivery.status.in_(
                            [DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]
                        )
                    )
                )
            if not pending:
                break
            await asyncio.sleep(0.05)
        await app.campaigns.stop()
    await bot.shutdown()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:5])))
