"""Settings: defaults < TOML file < environment; secrets only from the environment or files."""

from __future__ import annotations

import logging
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot import cli
from bot.config import (
    ConfigError,
    Settings,
    community_from,
    env_name,
    load_settings,
    secret_keys,
)

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:AAE-not-a-real-token-but-long-enough"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CDS_* variable of the developer's shell, and no ./config.toml of theirs."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("CDS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment():
    settings = load_settings(None)
    assert settings == Settings()
    assert settings.community.name == "CDS Souss-Massa"
    assert settings.community.default_language == "fr"
    assert settings.community.timezone == "Africa/Casablanca"
    assert settings.database.url == "sqlite+aiosqlite:///cds.db"
    assert settings.outbox.batch_size == 50
    assert settings.telegram.mode == "polling"
    assert settings.telegram.token is None
    assert settings.discord.guild_ids == []


def test_file_overrides_defaults_and_environment_overrides_file(tmp_path, monkeypatch):
    config = write(
        tmp_path / "bot.toml",
        """
        [community]
        name = "CDS Test"
        default_language = "en"
        [outbox]
        batch_size = 10
        """,
    )
    monkeypatch.setenv("CDS_OUTBOX__BATCH_SIZE", "20")
    monkeypatch.setenv("CDS_DATABASE__URL", "postgresql+asyncpg://cds@db.example.org/cds")
    settings = load_settings(config)
    assert settings.community.name == "CDS Test"  # file
    assert settings.community.default_language == "en"  # file
    assert settings.community.timezone == "Africa/Casablanca"  # default
    assert settings.outbox.batch_size == 20  # environment beats the file
    assert settings.database.url == "postgresql+asyncpg://cds@db.example.org/cds"


def test_file_is_found_by_option_then_environment_then_working_directory(tmp_path, monkeypatch):
    write(tmp_path / "config.toml", '[community]\nname = "from cwd"\n')
    assert load_settings(None).community.name == "from cwd"
    monkeypatch.setenv("CDS_CONFIG", str(write(tmp_path / "env.toml", '[community]\nname = "env"')))
    assert load_settings(None).community.name == "env"
    option = write(tmp_path / "option.toml", '[community]\nname = "option"\n')
    assert load_settings(option).community.name == "option"


def test_missing_or_broken_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as missing:
        load_settings(tmp_path / "nope.toml")
    assert missing.value.key == "config"
    assert "not found" in missing.value.reason
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path / "bad.toml", "[community\n"))


def test_secret_from_environment_never_shows(monkeypatch):
    monkeypatch.setenv("CDS_TELEGRAM__TOKEN", TOKEN)
    monkeypatch.setenv("CDS_TELEGRAM__WEBHOOK_SECRET", "s3cret-Value_1")
    monkeypatch.setenv("CDS_DISCORD__TOKEN", "discord-secret-token")
    settings = load_settings(None)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == TOKEN
    assert settings.telegram.enabled
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in (TOKEN, "s3cret-Value_1", "discord-secret-token"):
        assert secret not in shown


def test_database_password_is_masked_in_repr(monkeypatch):
    monkeypatch.setenv("CDS_DATABASE__URL", "postgresql://cds:hunter2@db/cds")
    settings = load_settings(None)
    assert settings.database.url == "postgresql+asyncpg://cds:hunter2@db/cds"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in settings.database.safe_url


def test_secret_from_a_secrets_directory(tmp_path, monkeypatch):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    write(secrets / "cds_telegram__token", TOKEN + "\n")
    monkeypatch.setenv("CDS_SECRETS_DIR", str(secrets))
    settings = load_settings(None)
    assert settings.telegram.token is not None
    assert settings.telegram.token.get_secret_value() == TOKEN
    monkeypatch.setenv("CDS_TELEGRAM__TOKEN", "654321:from-the-environment")
    token = load_settings(None).telegram.token
    assert token is not None
    assert token.get_secret_value() == "654321:from-the-environment"


def test_missing_secrets_directory_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("CDS_SECRETS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError) as error:
        load_settings(None)
    assert error.value.key == "CDS_SECRETS_DIR"


@pytest.mark.parametrize("key", sorted(secret_keys()))
def test_secret_in_the_file_is_refused_naming_the_key(tmp_path, key):
    section, name = key.split(".")
    config = write(tmp_path / "c.toml", f'[{section}]\n{name} = "{TOKEN}"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert error.value.key == key
    assert env_name(key) in error.value.reason
    assert TOKEN not in str(error.value)


def test_secret_keys_are_the_tokens_and_the_webhook_secret():
    assert set(secret_keys()) == {"telegram.token", "telegram.webhook_secret", "discord.token"}


def test_invalid_timezone_names_the_key(tmp_path):
    config = write(tmp_path / "c.toml", '[community]\ntimezone = "Mars/Olympus_Mons"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(config)
    assert error.value.key == "community.timezone"
    assert "Mars/Olympus_Mons" in error.value.reason
    assert str(error.value).startswith("community.timezone: ")


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"CDS_COMMUNITY__DEFAULT_LANGUAGE": "de"}, "community.default_language"),
        ({"CDS_COMMUNITY__DIALOG_TIMEOUT_HOURS": "0"}, "community.dialog_timeout_hours"),
        ({"CDS_DATABASE__URL": "mysql://db/cds"}, "database.url"),
        ({"CDS_DATABASE__URL": "postgresql+psycopg2://db/cds"}, "database.url"),
        ({"CDS_ACCESS__ADMINS": "alice"}, "access.admins"),
        ({"CDS_ACCESS__ADMINS": "slack:1"}, "access.admins"),
        ({"CDS_ACCESS__ADMINS": "telegram:"}, "access.admins"),
        ({"CDS_ACCESS__COMMUNITY_MANAGERS": "telegram:@amina"}, "access.community_managers"),
        ({"CDS_OUTBOX__POLL_SECONDS": "0"}, "outbox.poll_seconds"),
        ({"CDS_TELEGRAM__MODE": "push"}, "telegram.mode"),
        ({"CDS_TELEGRAM__MODE": "webhook"}, "telegram.webhook_url"),
        ({"CDS_TELEGRAM__PORT": "70000"}, "telegram.port"),
        ({"CDS_TELEGRAM__WEBHOOK_SECRET": "has spaces"}, "telegram.webhook_secret"),
        ({"CDS_TELEGRAM__WEBHOOK_SECRET": "x" * 257}, "telegram.webhook_secret"),
        ({"CDS_TELEGRAM__BASE_URL": "api.telegram.org/bot"}, "telegram.base_url"),
        ({"CDS_DISCORD__GUILD_IDS": "12,abc"}, "discord.guild_ids.1"),
        ({"CDS_DISCORD__GATEWAY_URL": "https://gateway"}, "discord.gateway_url"),
        ({"CDS_TELEGRAM__TOKN": "x"}, "telegram.tokn"),
    ],
)
def test_bad_values_name_their_key(monkeypatch, env, key):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings(None)
    assert error.value.key == key
    assert "has spaces" not in error.value.reason


def test_unknown_key_in_the_file_is_refused(tmp_path):
    config = write(tmp_path / "c.toml", '[community]\nnmae = "typo"\n')
    with pytest.raises(ConfigError, match=r"^community\.nmae: unknown key$"):
        load_settings(config)


def test_identities_and_lists_from_file_and_environment(tmp_path, monkeypatch):
    config = write(
        tmp_path / "c.toml",
        '[access]\nadmins = ["telegram:123", " Discord:456 ", "console:alice"]\n',
    )
    monkeypatch.setenv("CDS_ACCESS__COMMUNITY_MANAGERS", "telegram:7, console:bob")
    monkeypatch.setenv("CDS_DISCORD__GUILD_IDS", "[111, 222]")
    settings = load_settings(config)
    assert settings.access.admins == ["telegram:123", "discord:456", "console:alice"]
    assert settings.access.community_managers == ["telegram:7", "console:bob"]
    assert settings.discord.guild_ids == [111, 222]


def test_plain_database_urls_get_the_async_driver(monkeypatch):
    monkeypatch.setenv("CDS_DATABASE__URL", "sqlite:///data/cds.db")
    settings = load_settings(None)
    assert settings.database.url == "sqlite+aiosqlite:///data/cds.db"
    assert settings.database.is_sqlite
    assert settings.database.sqlite_file == Path("data/cds.db")


def test_overrides_win_over_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("CDS_DATABASE__URL", "sqlite:///env.db")
    settings = load_settings(None, overrides={"database": {"url": "sqlite:///cli.db"}})
    assert settings.database.url == "sqlite+aiosqlite:///cli.db"


def test_community_for_the_handlers(tmp_path):
    config = write(
        tmp_path / "c.toml",
        """
        [community]
        name = "CDS Oriental"
        default_language = "ar"
        timezone = "Europe/Paris"
        dialog_timeout_hours = 2
        [access]
        admins = ["telegram:1"]
        community_managers = ["discord:2", "console:cm"]
        """,
    )
    community = community_from(load_settings(config), demo=True)
    assert community.name == "CDS Oriental"
    assert community.default_language == "ar"
    assert community.timezone == "Europe/Paris"
    assert community.admins == frozenset({"telegram:1"})
    assert community.community_managers == frozenset({"discord:2", "console:cm"})
    assert community.dialog_timeout == timedelta(hours=2)
    assert community.demo is True


def test_example_file_documents_every_key_with_the_defaults():
    example = ROOT / "config.example.toml"
    text = example.read_text(encoding="utf-8")
    data = tomllib.loads(text)
    assert load_settings(example) == Settings()
    secrets = set(secret_keys())
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type)
        for name in model.model_fields:
            key = f"{section}.{name}"
            if key in secrets:
                assert env_name(key) in text, key
            else:
                # optional URLs are shown commented out, like the secrets
                assert name in data.get(section, {}) or f"# {name} = " in text, key


# --------------------------------------------------------------------------- command line


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli.app, list(args), env=env)


def test_cli_reports_bad_configuration_with_exit_code_2():
    result = invoke("db", "current", env={"CDS_COMMUNITY__TIMEZONE": "Nowhere/Atlantis"})
    assert result.exit_code == 2
    assert "configuration error: community.timezone: unknown time zone" in result.stderr
    assert "Traceback" not in result.output


def test_cli_refuses_a_token_in_the_file_with_exit_code_2(tmp_path):
    config = write(tmp_path / "c.toml", f'[telegram]\ntoken = "{TOKEN}"\n')
    for command in (["run"], ["console"], ["db", "upgrade"], ["import", str(config)]):
        result = invoke(*command, "--config", str(config))
        assert result.exit_code == 2, (command, result.output)
        assert "configuration error: telegram.token: " in result.stderr
        assert TOKEN not in result.output


def test_cli_reports_a_missing_config_file_with_exit_code_2(tmp_path):
    result = invoke("db", "current", "--config", str(tmp_path / "absent.toml"))
    assert result.exit_code == 2
    assert "configuration error: config: file not found" in result.stderr


def test_logging_keeps_http_client_quiet():
    cli.configure_logging("DEBUG")
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
