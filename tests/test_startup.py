"""Start-up checks: every problem is one line naming the variable to fix, and exit status 2."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from conftest import spawn, until

from bot.settings import Settings, SettingsError
from bot.startup import StartupError, bind, redact, serve, verify_app
from sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent


async def test_the_app_is_verified_with_one_get_app(sandbox: Sandbox, settings: Settings) -> None:
    app = await verify_app(settings)
    assert app is not None and app["slug"] == "hardening-bot"
    assert [(c.method, c.path) for c in sandbox.calls] == [("GET", "/app")]


@pytest.fixture(scope="module")
def other_key() -> str:
    from sandbox import generate_app_key

    return generate_app_key()[0]


async def test_a_wrong_id_or_key_names_both(
    sandbox: Sandbox, settings: Settings, other_key: str
) -> None:
    with pytest.raises(StartupError, match=r"^GITHUB_APP_ID 7 and the private key"):
        await verify_app(replace(settings, app_id=7))
    other = replace(settings, private_key=other_key)
    other = replace(other, private_key_source="GITHUB_PRIVATE_KEY_PATH")
    with pytest.raises(StartupError, match=r"\(GITHUB_PRIVATE_KEY_PATH\) were refused .*401"):
        await verify_app(other)


async def test_an_unreachable_or_wrong_api_url_names_it(
    sandbox: Sandbox, settings: Settings
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(
        StartupError, match=r"^GITHUB_API_URL http://127.0.0.1:\d+ cannot be reached"
    ):
        await verify_app(replace(settings, api_url=f"http://127.0.0.1:{port}"))
    sandbox.inject("GET", r"^/app$", status=404)  # not a REST base: GitHub's 404
    with pytest.raises(StartupError, match=r"^GITHUB_API_URL .* answered GET /app with 404"):
        await verify_app(settings)


async def test_a_github_outage_does_not_stop_the_start(
    sandbox: Sandbox, settings: Settings
) -> None:
    sandbox.inject("GET", r"^/app$", status=502)
    assert await verify_app(settings) is None


def test_a_busy_port_names_port() -> None:
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(StartupError, match=rf"^PORT {port} is already in use on 127.0.0.1"):
            bind("127.0.0.1", port)
    finally:
        taken.close()


@pytest.mark.parametrize("host", ["203.0.113.7", "no-such-host.invalid"])
def test_a_host_that_cannot_be_bound_names_host(host: str) -> None:
    with pytest.raises(StartupError, match=rf"^HOST '{host}' "):
        bind(host, 0)


def test_settings_refuse_what_is_certainly_wrong(other_key: str) -> None:
    env = {"GITHUB_APP_ID": "1", "GITHUB_WEBHOOK_SECRET": "s", "GITHUB_PRIVATE_KEY": other_key}
    assert Settings.from_env(env).host == "0.0.0.0"
    assert Settings.from_env({**env, "HOST": "127.0.0.1"}).host == "127.0.0.1"
    with pytest.raises(SettingsError, match=r"^HOST 'http://x' is not an address"):
        Settings.from_env({**env, "HOST": "http://x"})
    with pytest.raises(SettingsError, match=r"^SENTRY_DSN is not a Sentry DSN"):
        Settings.from_env({**env, "SENTRY_DSN": "not-a-dsn"})
    dsn = "https://abc@o1.ingest.sentry.io/42"
    assert Settings.from_env({**env, "SENTRY_DSN": dsn}).sentry_dsn == dsn


async def test_an_unwritable_database_names_database_url(
    sandbox: Sandbox, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    broken = replace(
        settings, database_path=tmp_path / "a-file" / "bot.db", port=0, host="127.0.0.1"
    )
    with pytest.raises(StartupError, match=r"^DATABASE_URL: the database at .*a-file/bot.db"):
        await serve(broken, freeze_heap=False)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://hb:s3cret@127.0.0.1:1/bot", "postgresql://hb:***@127.0.0.1:1/bot"),
        (
            "postgresql://hb@127.0.0.1:1/bot?sslmode=disable&password=s3cret",
            "postgresql://hb@127.0.0.1:1/bot?sslmode=disable&password=***",
        ),
    ],
)
async def test_an_unreachable_postgresql_names_database_url_without_its_password(
    sandbox: Sandbox, settings: Settings, url: str, shown: str
) -> None:
    broken = replace(settings, database_url=url, port=0, host="127.0.0.1")
    with pytest.raises(StartupError) as refused:
        await serve(broken, freeze_heap=False)
    message = str(refused.value)
    assert message.startswith(f"DATABASE_URL: the database at {shown}")
    assert "s3cret" not in message and "\n" not in message


async def test_a_password_given_as_a_parameter_is_shown_nowhere(
    sandbox: Sandbox,
    repo: str,
    settings: Settings,
    postgres_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Where the URL is shown: the "serving" line and ``python -m bot check``."""
    from bot.doctor import check

    caplog.set_level(logging.INFO, logger="bot")
    with_password = replace(
        settings, database_url=postgres_url + "&password=hunter2", host="127.0.0.1", port=0
    )
    stop = asyncio.Event()
    server = asyncio.create_task(serve(with_password, stop=stop, freeze_heap=False))

    async def serving() -> bool:
        assert not server.done(), server
        return any(r.getMessage() == "serving" for r in caplog.records)

    try:
        await until(serving, within=10)
    finally:
        stop.set()
    assert await server == 0
    [line] = [r for r in caplog.records if r.getMessage() == "serving"]
    shown = line.__dict__["database"]
    assert "hunter2" not in shown and shown.endswith("&password=***")
    out = io.StringIO()
    await check(with_password, ("octo", "repo"), out=out)
    assert "password=***" in out.getvalue() and "hunter2" not in out.getvalue()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_serve_answers_and_stops_cleanly(
    sandbox: Sandbox, settings: Settings, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "postgresql":
        settings = replace(settings, database_url=request.getfixturevalue("postgres_url"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = asyncio.Event()
    server = asyncio.create_task(
        serve(replace(settings, host="127.0.0.1", port=port), stop=stop, freeze_heap=False)
    )
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(500):
                try:
                    async with client.get(f"http://127.0.0.1:{port}/healthz") as answer:
                        assert answer.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    assert not server.done(), server
                    await asyncio.sleep(0.01)
    finally:
        stop.set()
    assert await server == 0


def test_the_process_reports_one_line_and_exits_2(tmp_path: Path, other_key: str) -> None:
    """No traceback reaches the operator: here a bad SENTRY_DSN, through ``python -m bot``."""
    env = {
        "GITHUB_APP_ID": "1",
        "GITHUB_WEBHOOK_SECRET": "s",
        "GITHUB_PRIVATE_KEY": other_key,
        "SENTRY_DSN": "https://sentry.example.com",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("hardening-bot: SENTRY_DSN is not a Sentry DSN")


def test_redact_hides_a_password() -> None:
    assert redact("postgresql://bot:s3cret@db:5432/bot") == "postgresql://bot:***@db:5432/bot"
    assert redact("postgresql://bot:p@ss:w@db/bot") == "postgresql://bot:***@db/bot"
    assert redact("postgres://db/bot?Password=x&user=u") == "postgres://db/bot?Password=***&user=u"
    assert redact("postgresql://db/bot?sslpassword=x") == "postgresql://db/bot?sslpassword=***"
    assert redact("var/bot.db") == "var/bot.db"


async def test_a_second_process_on_one_sqlite_file_is_refused(
    sandbox: Sandbox, settings: Settings, tmp_path: Path, app_keys: tuple[str, str], reap: None
) -> None:
    first = replace(settings, host="127.0.0.1", port=0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    stop = asyncio.Event()
    server = asyncio.create_task(serve(first, stop=stop, freeze_heap=False))
    try:
        for _ in range(500):
            if settings.database_path.exists() or server.done():
                break
            await asyncio.sleep(0.01)
        assert not server.done(), server
        second = await spawn(
            sys.executable,
            "-m",
            "bot",
            cwd=tmp_path,
            env={
                "PYTHONPATH": str(ROOT),
                "GITHUB_APP_ID": str(settings.app_id),
                "GITHUB_PRIVATE_KEY": app_keys[0],
                "GITHUB_WEBHOOK_SECRET": "s",
                "GITHUB_API_URL": settings.api_url,
                "DATABASE_URL": f"sqlite:///{settings.database_path}",
                "HOST": "127.0.0.1",
                "PORT": str(free_port),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err = await asyncio.wait_for(second.communicate(), timeout=30)
    finally:
        stop.set()
    assert await server == 0
    assert second.returncode == 2
    [line] = err.decode().splitlines()
    assert line.startswith(
        f"hardening-bot: DATABASE_URL: {settings.database_path} is already served by another"
    )
