"""The Telegram adapter (python-telegram-bot 22): `create_adapter(settings)` for `bot.app.run`.

This package imports only `handlers` of the project: it reads the settings object it is given
and receives the core's entry points from `bot.app` (`start(handle)`, `bind(...)`).
"""

from __future__ import annotations

from typing import Any

from bot.telegram.adapter import TelegramAdapter, TelegramOptions
from bot.telegram.messenger import TELEGRAM_RATES, TelegramMessenger

__all__ = [
    "TELEGRAM_RATES",
    "TelegramAdapter",
    "TelegramMessenger",
    "TelegramOptions",
    "create_adapter",
    "options_from",
]

PLATFORM_PREFIX = "telegram:"


def _staff(settings: Any) -> tuple[tuple[int, frozenset[str]], ...]:
    """Configured Telegram administrators and community managers, with their roles."""
    roles: dict[int, set[str]] = {}
    for key, granted in (
        (settings.access.admins, {"admin", "cm"}),
        (settings.access.community_managers, {"cm"}),
    ):
        for identity in key:
            if identity.startswith(PLATFORM_PREFIX) and identity[len(PLATFORM_PREFIX) :].isdigit():
                roles.setdefault(int(identity[len(PLATFORM_PREFIX) :]), set()).update(granted)
    return tuple((user_id, frozenset(found)) for user_id, found in sorted(roles.items()))


def options_from(settings: Any, **overrides: Any) -> TelegramOptions:
    """The adapter's options from the application settings (`bot.config.Settings`)."""
    telegram = settings.telegram
    if telegram.token is None:
        raise ValueError("telegram.token is not set")
    secret = telegram.webhook_secret
    options: dict[str, Any] = {
        "token": telegram.token.get_secret_value(),
        "mode": telegram.mode,
        "base_url": telegram.base_url,
        "base_file_url": telegram.base_file_url,
        "webhook_url": telegram.webhook_url,
        "listen": telegram.listen,
        "port": telegram.port,
        "webhook_secret": secret.get_secret_value() if secret is not None else None,
        "default_language": settings.community.default_language,
        "staff": _staff(settings),
        # SQLite has one writer at a time: events queue fairly here rather than in its lock.
        "core_concurrency": 1 if settings.database.is_sqlite else None,
    }
    options.update(overrides)
    return TelegramOptions(**options)


def create_adapter(settings: Any, **overrides: Any) -> TelegramAdapter:
    """The Telegram adapter for `settings`; nothing connects until `start`."""
    return TelegramAdapter(options_from(settings, **overrides))
