"""Typed settings: defaults, then a TOML file, then `CDS_*` environment variables.

Secrets (bot tokens, the webhook secret) are read only from the environment or from a secrets
directory (`CDS_SECRETS_DIR`, one file per setting, named like the variable:
`cds_telegram__token`); a secret written in the TOML file is refused, so that the file can be
committed and shared.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    NestedSecretsSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from handlers.context import Community

ENV_PREFIX = "CDS_"
CONFIG_ENV = "CDS_CONFIG"
SECRETS_DIR_ENV = "CDS_SECRETS_DIR"
DEFAULT_CONFIG_FILE = Path("config.toml")

PLATFORMS = ("telegram", "discord", "console")
# Telegram and Discord identify people by number; a username would never match anyone.
NUMERIC_PLATFORMS = ("telegram", "discord")
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Drivers that SQLAlchemy can use from asyncio.
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
ACCEPTED_DRIVERS = {"sqlite": {"aiosqlite"}, "postgresql": {"asyncpg", "psycopg"}}


class ConfigError(Exception):
    """Bad configuration, named by its dotted key (`telegram.token`) and the reason."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def _split_list(value: Any) -> Any:
    """Accept a list, a JSON list or a comma-separated string (handy in environment variables)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list ({exc.msg} at character {exc.pos})") from None
    return [item.strip() for item in text.split(",") if item.strip()]


def _check_url(value: str | None, schemes: tuple[str, ...] = ("http", "https")) -> None:
    if value is None:
        return
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        starts = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(f"must be an absolute URL starting with {starts}")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommunitySettings(_Section):
    name: str = Field(default="CDS Souss-Massa", min_length=1, max_length=100)
    default_language: Literal["fr", "en", "ar"] = "fr"
    timezone: str = "Africa/Casablanca"
    dialog_timeout_hours: float = Field(default=24.0, gt=0, le=24 * 30)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class DatabaseSettings(_Section):
    url: str = "sqlite+aiosqlite:///cds.db"

    @field_validator("url")
    @classmethod
    def _async_url(cls, value: str) -> str:
        """Add the asyncio driver to a plain `sqlite://` or `postgresql://` URL."""
        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError("not a database URL") from None
        backend = url.get_backend_name()
        if backend not in ACCEPTED_DRIVERS:
            raise ValueError("only sqlite and postgresql databases are supported")
        if "+" not in url.drivername:
            url = url.set(drivername=f"{backend}+{ASYNC_DRIVERS[backend]}")
        elif url.get_driver_name() not in ACCEPTED_DRIVERS[backend]:
            accepted = ", ".join(sorted(ACCEPTED_DRIVERS[backend]))
            raise ValueError(f"the {backend} driver must be an asyncio one ({accepted})")
        return url.render_as_string(hide_password=False)

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.url).get_backend_name() == "sqlite"

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL and in-memory databases."""
        url = make_url(self.url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for logs."""
        return make_url(self.url).render_as_string(hide_password=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", self.safe_url


def _parse_identity(value: str) -> str:
    platform, sep, external_id = value.strip().partition(":")
    platform = platform.strip().lower()
    external_id = external_id.strip()
    if not sep or platform not in PLATFORMS:
        raise ValueError(
            f"{value!r} is not a platform identity like 'telegram:123', 'discord:456' or "
            "'console:alice'"
        )
    if not external_id:
        raise ValueError(f"{value!r} has no id after the platform")
    if platform in NUMERIC_PLATFORMS and not external_id.isdigit():
        raise ValueError(f"{value!r}: a {platform} identity is the numeric user id")
    return f"{platform}:{external_id}"


Identities = Annotated[list[str], NoDecode]


class AccessSettings(_Section):
    admins: Identities = Field(default_factory=list)
    community_managers: Identities = Field(default_factory=list)

    @field_validator("admins", "community_managers", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("admins", "community_managers")
    @classmethod
    def _identities(cls, values: list[str]) -> list[str]:
        return [_parse_identity(value) for value in values]


class OutboxSettings(_Section):
    batch_size: int = Field(default=50, ge=1, le=10_000)
    poll_seconds: float = Field(default=2.0, gt=0, le=3600)
    lease_seconds: float = Field(default=30.0, ge=1, le=3600)


class CampaignSettings(_Section):
    grace_minutes: float = Field(default=60.0, ge=0, le=60 * 24 * 7)
    cap_messages: int = Field(default=2, ge=0, le=1000)
    cap_days: int = Field(default=7, ge=1, le=365)
    quiet_hours: str = "22:00-08:00"
    digest_soon_days: int = Field(default=7, ge=1, le=90)
    progress_seconds: float = Field(default=5.0, gt=0, le=3600)
    resync_seconds: float = Field(default=60.0, gt=0, le=3600)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d-([01]?\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError("must be like '22:00-08:00' (HH:MM-HH:MM, may run over midnight)")
        return value.strip()


class MatchingSettings(_Section):
    notes_max: int = Field(default=200, ge=0, le=100_000)


class OfferSettings(_Section):
    answer_within_days: int = Field(default=3, ge=1, le=60)
    max_pending_per_member: int = Field(default=5, ge=1, le=1000)
    max_offers_per_hour: int = Field(default=5, ge=1, le=1000)


class TelegramSettings(_Section):
    token: SecretStr | None = None
    mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = Field(default=None, validate_default=True)
    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=1, le=65535)
    webhook_secret: SecretStr | None = None
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"

    @field_validator("webhook_url", "base_url", "base_file_url")
    @classmethod
    def _urls(cls, value: str | None) -> str | None:
        _check_url(value)
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_charset(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's rule for secret_token; the value itself never goes into the message.
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1 to 256 characters among A-Z, a-z, 0-9, '_' and '-'")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_needs_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("mode") == "webhook":
            raise ValueError("required when telegram.mode is 'webhook'")
        return value

    @property
    def enabled(self) -> bool:
        return self.token is not None


class DiscordSettings(_Section):
    token: SecretStr | None = None
    guild_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    api_base_url: str = "https://discord.com/api/v10"
    # None: ask the API for the gateway (GET /gateway/bot), as discord.py does by default.
    gateway_url: str | None = None

    @field_validator("guild_ids", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("api_base_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        _check_url(value)
        return value

    @field_validator("gateway_url")
    @classmethod
    def _gateway(cls, value: str | None) -> str | None:
        _check_url(value, ("ws", "wss"))
        return value

    @property
    def enabled(self) -> bool:
        return self.token is not None


@dataclass(frozen=True)
class _Sources:
    toml: dict[str, Any] = field(default_factory=dict)
    secrets_dir: Path | None = None


# The file and the secrets directory of the `load_settings` call in progress: pydantic-settings
# builds the sources inside the constructor, so they cannot be handed over as arguments.
_sources: ContextVar[_Sources] = ContextVar("cds_settings_sources")
_NO_SOURCES = _Sources()


class _TomlDataSource(PydanticBaseSettingsSource):
    """The already-read and already-checked TOML document, below the environment."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return _sources.get(_NO_SOURCES).toml.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_sources.get(_NO_SOURCES).toml)


class Settings(BaseSettings):
    """Everything the bot reads at start; build it with `load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_ignore_empty=True,
        case_sensitive=False,
        extra="forbid",
        frozen=True,
        secrets_dir_missing="error",
    )

    community: CommunitySettings = Field(default_factory=CommunitySettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    offers: OfferSettings = Field(default_factory=OfferSettings)
    matching: MatchingSettings = Field(default_factory=MatchingSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First wins: explicit overrides, environment, secret files, TOML, then defaults.
        secrets_dir = _sources.get(_NO_SOURCES).secrets_dir
        return (
            init_settings,
            env_settings,
            NestedSecretsSettingsSource(file_secret_settings, secrets_dir=secrets_dir),
            _TomlDataSource(settings_cls),
        )


def secret_keys(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[str]:
    """Dotted keys of every secret setting (`telegram.token`, ...)."""
    for name, info in model.model_fields.items():
        annotation = info.annotation
        kinds = get_args(annotation) or (annotation,)
        if SecretStr in kinds:
            yield f"{prefix}{name}"
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from secret_keys(annotation, f"{prefix}{name}.")


def env_name(key: str) -> str:
    """The environment variable of a dotted key: `telegram.token` -> `CDS_TELEGRAM__TOKEN`."""
    return ENV_PREFIX + key.replace(".", "__").upper()


def config_path_from(config_path: Path | None) -> Path | None:
    """`--config`, else `$CDS_CONFIG`, else `./config.toml` when it exists, else no file."""
    if config_path is not None:
        return config_path
    from_env = os.environ.get(CONFIG_ENV, "").strip()
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def read_toml(path: Path) -> dict[str, Any]:
    """Read the configuration file, refusing any secret written in it."""
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from None
    for key in secret_keys():
        section, _, name = key.rpartition(".")
        table = data.get(section) if section else data
        if isinstance(table, dict) and name in table:
            raise ConfigError(
                key,
                f"secrets are not read from the configuration file; set {env_name(key)} in the "
                f"environment or put it in a file named {env_name(key).lower()} in the "
                f"directory named by {SECRETS_DIR_ENV}",
            )
    return data


def _error_from(exc: ValidationError) -> ConfigError:
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"]) or "config"
    if error["type"] == "extra_forbidden":
        reason = "unknown key"
    else:
        reason = error["msg"].removeprefix("Value error, ")
    more = exc.error_count() - 1
    if more:
        reason += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(key, reason)


def load_settings(
    config_path: Path | None = None, *, overrides: dict[str, Any] | None = None
) -> Settings:
    """Load and check the settings; `overrides` (nested dicts) win over every other source."""
    path = config_path_from(config_path)
    data = read_toml(path) if path is not None else {}
    secrets_dir = os.environ.get(SECRETS_DIR_ENV, "").strip() or None
    if secrets_dir is not None and not Path(secrets_dir).is_dir():
        raise ConfigError(SECRETS_DIR_ENV, f"{secrets_dir} is not a directory")
    token = _sources.set(_Sources(data, Path(secrets_dir) if secrets_dir else None))
    try:
        return Settings(**(overrides or {}))
    except ValidationError as exc:
        raise _error_from(exc) from None
    except SettingsError as exc:
        # An environment value that should be JSON and is not, or an oversized secrets directory.
        raise ConfigError("environment", str(exc)) from None
    finally:
        _sources.reset(token)


def community_from(settings: Settings, *, demo: bool = False) -> Community:
    """The community settings as handlers see them."""
    community = settings.community
    return Community(
        name=community.name,
        default_language=community.default_language,
        timezone=community.timezone,
        admins=frozenset(settings.access.admins),
        community_managers=frozenset(settings.access.community_managers),
        dialog_timeout=timedelta(hours=community.dialog_timeout_hours),
        demo=demo,
        offer_answer_days=settings.offers.answer_within_days,
        offer_max_pending=settings.offers.max_pending_per_member,
        offer_max_per_hour=settings.offers.max_offers_per_hour,
        cap_messages=settings.campaigns.cap_messages,
        cap_days=settings.campaigns.cap_days,
        quiet_hours=settings.campaigns.quiet_hours,
        match_notes_max=settings.matching.notes_max,
    )
