"""Settings.from_env: defaults, every variable of docs/operations.md, and one-line refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, database_path


@pytest.fixture
def env(app_keys: tuple[str, str]) -> dict[str, str]:
    return {
        "GITHUB_APP_ID": "123",
        "GITHUB_PRIVATE_KEY": app_keys[0],
        "GITHUB_WEBHOOK_SECRET": "s3cret",
    }


def test_defaults(env: dict[str, str]) -> None:
    settings = Settings.from_env(env)
    assert settings.app_id == 123
    assert settings.webhook_secret == "s3cret"
    assert settings.api_url == "https://api.github.com"
    assert settings.graphql_url == "https://api.github.com/graphql"
    assert settings.port == 8080
    assert settings.database_path == Path("var/hardening-bot.db")
    assert settings.sentry_dsn is None
    assert settings.worker_concurrency >= 1 and settings.max_attempts >= 1
    assert "s3cret" not in repr(settings) and "PRIVATE KEY" not in repr(settings)


def test_refuses_to_start_without_webhook_secret(env: dict[str, str]) -> None:
    del env["GITHUB_WEBHOOK_SECRET"]
    with pytest.raises(SettingsError, match="GITHUB_WEBHOOK_SECRET"):
        Settings.from_env(env)
    env["GITHUB_WEBHOOK_SECRET"] = "   "
    with pytest.raises(SettingsError, match="GITHUB_WEBHOOK_SECRET"):
        Settings.from_env(env)
    # replay never receives webhooks
    assert Settings.from_env(env, require_webhook_secret=False).webhook_secret == ""


def test_the_previous_webhook_secret_is_optional_and_never_shown(env: dict[str, str]) -> None:
    assert Settings.from_env(env).previous_webhook_secret is None
    env["GITHUB_WEBHOOK_SECRET_PREVIOUS"] = "old-s3cret"
    settings = Settings.from_env(env)
    assert settings.previous_webhook_secret == "old-s3cret"
    assert "old-s3cret" not in repr(settings)


@pytest.mark.parametrize("value", ["abc", "1.5", "0", "-3"])
def test_app_id_must_be_a_positive_integer(env: dict[str, str], value: str) -> None:
    env["GITHUB_APP_ID"] = value
    with pytest.raises(SettingsError, match="GITHUB_APP_ID"):
        Settings.from_env(env)


def test_app_id_required(env: dict[str, str]) -> None:
    del env["GITHUB_APP_ID"]
    with pytest.raises(SettingsError, match="GITHUB_APP_ID is not set"):
        Settings.from_env(env)


def test_private_key_with_literal_backslash_n(env: dict[str, str]) -> None:
    env["GITHUB_PRIVATE_KEY"] = env["GITHUB_PRIVATE_KEY"].strip().replace("\n", "\\n")
    settings = Settings.from_env(env)
    assert settings.private_key.startswith("-----BEGIN")
    assert "\\n" not in settings.private_key and "\n" in settings.private_key


def test_private_key_from_path(env: dict[str, str], tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(env.pop("GITHUB_PRIVATE_KEY"))
    env["GITHUB_PRIVATE_KEY_PATH"] = str(key_file)
    assert "PRIVATE KEY" in Settings.from_env(env).private_key


def test_private_key_path_unreadable(env: dict[str, str], tmp_path: Path) -> None:
    del env["GITHUB_PRIVATE_KEY"]
    env["GITHUB_PRIVATE_KEY_PATH"] = str(tmp_path / "missing.pem")
    with pytest.raises(SettingsError, match=r"GITHUB_PRIVATE_KEY_PATH .* cannot be read"):
        Settings.from_env(env)


def test_private_key_required_and_exclusive(env: dict[str, str], tmp_path: Path) -> None:
    key = env.pop("GITHUB_PRIVATE_KEY")
    with pytest.raises(SettingsError, match="no App private key"):
        Settings.from_env(env)
    (tmp_path / "k.pem").write_text(key)
    env.update(GITHUB_PRIVATE_KEY=key, GITHUB_PRIVATE_KEY_PATH=str(tmp_path / "k.pem"))
    with pytest.raises(SettingsError, match="keep only one"):
        Settings.from_env(env)


def test_private_key_must_load(env: dict[str, str]) -> None:
    env["GITHUB_PRIVATE_KEY"] = (
        "-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----"
    )
    with pytest.raises(SettingsError, match="GITHUB_PRIVATE_KEY is not a PEM private key") as info:
        Settings.from_env(env)
    assert "\n" not in str(info.value)


def test_private_key_must_be_rsa(env: dict[str, str]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    env["GITHUB_PRIVATE_KEY"] = pem
    with pytest.raises(SettingsError, match="not an RSA key"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("url", "rest", "graphql"),
    [
        ("https://api.github.com", "https://api.github.com", "https://api.github.com/graphql"),
        (
            "https://ghe.example.com/api/v3/",
            "https://ghe.example.com/api/v3",
            "https://ghe.example.com/api/graphql",
        ),
        ("http://127.0.0.1:9999", "http://127.0.0.1:9999", "http://127.0.0.1:9999/graphql"),
    ],
)
def test_api_url(env: dict[str, str], url: str, rest: str, graphql: str) -> None:
    env["GITHUB_API_URL"] = url
    settings = Settings.from_env(env)
    assert settings.api_url == rest
    assert settings.graphql_url == graphql


@pytest.mark.parametrize("url", ["ghe.example.com", "ftp://x/api", "https://x/api?x=1"])
def test_api_url_invalid(env: dict[str, str], url: str) -> None:
    env["GITHUB_API_URL"] = url
    with pytest.raises(SettingsError, match="GITHUB_API_URL"):
        Settings.from_env(env)


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_port_invalid(env: dict[str, str], port: str) -> None:
    env["PORT"] = port
    with pytest.raises(SettingsError, match="PORT"):
        Settings.from_env(env)


def test_port_and_sentry(env: dict[str, str]) -> None:
    env.update(PORT="5000", SENTRY_DSN="https://key@sentry.example/1")
    settings = Settings.from_env(env)
    assert settings.port == 5000
    assert settings.sentry_dsn == "https://key@sentry.example/1"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/bot.db", Path("var/bot.db")),
        ("sqlite:////srv/data/bot.db", Path("/srv/data/bot.db")),
    ],
)
def test_database_url(url: str, path: Path) -> None:
    assert database_path(url) == path


@pytest.mark.parametrize(
    "url", ["postgres://u:secret@db.example:5432/app", "postgresql://127.0.0.1/test?sslmode=off"]
)
def test_database_url_postgres(env: dict[str, str], url: str) -> None:
    env["DATABASE_URL"] = url
    settings = Settings.from_env(env)
    assert settings.database_url == url
    assert "secret" not in repr(settings)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://x/y",
        "postgresql:///db",
        "sqlite://",
        "sqlite:///",
        "sqlite:///:memory:",
        "sqlite:///dir/",
    ],
)
def test_database_url_invalid(env: dict[str, str], url: str) -> None:
    env["DATABASE_URL"] = url
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        Settings.from_env(env)


def test_knobs(env: dict[str, str]) -> None:
    env.update(
        HARDENING_WORKER_CONCURRENCY="8",
        HARDENING_GITHUB_CONCURRENCY="2",
        HARDENING_MAX_ATTEMPTS="3",
        HARDENING_BACKOFF_BASE_SECONDS="0.5",
        HARDENING_SHUTDOWN_GRACE_SECONDS="5",
        LOG_LEVEL="debug",
    )
    settings = Settings.from_env(env)
    assert (settings.worker_concurrency, settings.max_attempts) == (8, 3)
    assert settings.github_concurrency == 2
    assert Settings.from_env({**env, "HARDENING_GITHUB_CONCURRENCY": ""}).github_concurrency == 1
    assert (settings.backoff_base, settings.shutdown_grace) == (0.5, 5.0)
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HARDENING_WORKER_CONCURRENCY", "0"),
        ("HARDENING_GITHUB_CONCURRENCY", "0"),
        ("HARDENING_GITHUB_CONCURRENCY", "65"),
        ("HARDENING_BACKOFF_BASE_SECONDS", "-1"),
        ("HARDENING_BACKOFF_BASE_SECONDS", "nan"),
        ("HARDENING_SHUTDOWN_GRACE_SECONDS", "soon"),
        ("HARDENING_BACKOFF_BASE_SECONDS", "0"),  # retries that never wait
        ("HARDENING_GITHUB_TIMEOUT_SECONDS", "0"),  # aiohttp: no timeout at all
        ("LOG_LEVEL", "chatty"),
    ],
)
def test_knobs_invalid(env: dict[str, str], name: str, value: str) -> None:
    env[name] = value
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


def test_backoff_max_not_below_base(env: dict[str, str]) -> None:
    env.update(HARDENING_BACKOFF_BASE_SECONDS="10", HARDENING_BACKOFF_MAX_SECONDS="5")
    with pytest.raises(SettingsError, match="HARDENING_BACKOFF_MAX_SECONDS"):
        Settings.from_env(env)
