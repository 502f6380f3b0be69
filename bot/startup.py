"""``python -m bot``: check everything that can be checked before serving, then serve.

A wrong App id or key, an unusable database, a busy port or an address that cannot be bound
would otherwise show up as a traceback, or hours later as the first failed delivery. Each is
found here, in this order, and reported as one line naming the variable to fix (exit status 2):

1. the settings (``bot.settings``: every variable, the Sentry DSN included);
2. ``HOST``/``PORT``: the listening socket is bound before anything else starts;
3. ``GITHUB_APP_ID`` and the private key: one ``GET /app`` with the App's JWT; a refusal (4xx)
   stops the start, while a GitHub outage (5xx, timeout) is only logged, because the workers
   retry and a platform would otherwise restart the process in a loop;
4. ``DATABASE_URL``: the inbox and schedules are opened by the application's start-up.

Then the server runs until SIGTERM or SIGINT, after which the workers drain (see
``bot.web.create_app``).
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import logging
import signal
import socket
import sys
from dataclasses import replace
from typing import IO, Any

import aiohttp
from aiohttp import web
from gidgethub.apps import get_jwt

from bot.settings import Settings, SettingsError, from_process_env, redact

log = logging.getLogger("bot")

EXIT_STARTUP = 2
USER_AGENT = "hardening-bot"


class StartupError(Exception):
    """A problem that stops the start; ``str(error)`` is one line naming what to fix."""


def main(argv: list[str]) -> int:
    """``python -m bot``: 0 after a clean stop, 2 when the process could not start."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Serve GitHub webhooks on HOST:PORT until SIGTERM. Subcommands: "
        "setup, check, replay, run-job, failed, requeue, demo (each with --help).",
    )
    parser.parse_args(argv)
    try:
        settings = from_process_env()
    except SettingsError as exc:
        return refuse(str(exc))
    from bot.logs import configure_logging

    configure_logging(settings.log_level)
    try:
        return asyncio.run(serve(settings))
    except StartupError as exc:
        return refuse(str(exc))


def refuse(message: str) -> int:
    print(f"hardening-bot: {message}", file=sys.stderr)
    return EXIT_STARTUP


async def serve(
    settings: Settings, *, stop: asyncio.Event | None = None, freeze_heap: bool = True
) -> int:
    """Check, start, serve until ``stop`` is set (by SIGTERM/SIGINT), drain, return 0.

    ``freeze_heap``: see ``bot.web.freeze_heap``; off only for a test serving in its own process.
    """
    sock = bind(settings.host, settings.port)
    try:
        lock = None if settings.database_url else hold_sqlite(settings)
    except BaseException:
        sock.close()
        raise
    try:
        return await _serve(settings, sock, stop, freeze_heap)
    finally:
        if lock is not None:
            lock.close()


def hold_sqlite(settings: Settings) -> IO[bytes] | None:
    """An exclusive lock beside the SQLite file, held while this process serves: a second
    ``python -m bot`` on the same file would share its inbox without the coordination
    replicas get from PostgreSQL (two workers on one delivery, two schedulers)."""
    path = settings.database_path
    if not path.parent.is_dir():
        return None  # nothing served it yet; the inbox reports an unusable path itself
    try:
        handle = open(path.with_name(path.name + ".lock"), "ab")  # noqa: SIM115
    except OSError:
        return None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise StartupError(
            f"DATABASE_URL: {path} is already served by another python -m bot process; "
            "one process per SQLite file (use a PostgreSQL DATABASE_URL for replicas)"
        ) from None
    return handle


async def _serve(
    settings: Settings, sock: socket.socket, stop: asyncio.Event | None, freeze_heap: bool
) -> int:
    from bot.web import create_app

    try:
        app_info = await verify_app(settings)
        settings = without_push(settings, app_info)
        if settings.database_url:
            await reach_postgres(settings)
        # Requests finish in milliseconds; the grace period is for the workers, in cleanup.
        runner = web.AppRunner(
            create_app(settings, freeze_heap=freeze_heap), access_log=None, shutdown_timeout=5.0
        )
        try:
            await runner.setup()
        except Exception as exc:
            await runner.cleanup()
            raise StartupError(database_problem(settings, exc)) from exc
    except BaseException:
        sock.close()
        raise
    site = web.SockSite(runner, sock)
    await site.start()
    log.info(
        "serving",
        extra={
            "host": settings.host,
            "port": sock.getsockname()[1],
            "app": app_info.get("slug") if app_info else None,
            "api_url": settings.api_url,
            "database": redact(settings.database_url)
            if settings.database_url
            else str(settings.database_path),
            "workers": settings.worker_concurrency,
        },
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        log.info("stopping: draining in-flight deliveries")
        await runner.cleanup()
    return 0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a ``StartupError`` naming HOST or PORT."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise StartupError(
            f"HOST {host!r} is not an address this machine can bind ({exc.strerror}): "
            "use 0.0.0.0 (every interface), 127.0.0.1 (loopback only) or one of its addresses"
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise StartupError(_bind_problem(host, port, exc)) from None
    return sock


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    if exc.errno == errno.EADDRINUSE:
        return (
            f"PORT {port} is already in use on {host} ({reason}): stop the other server "
            "or set PORT to a free port"
        )
    if exc.errno == errno.EACCES:
        return f"PORT {port} needs privileges this process lacks ({reason}): set PORT above 1023"
    return (
        f"HOST {host!r} cannot be bound on port {port} ({reason}): use 0.0.0.0 or an address "
        "of this machine"
    )


async def verify_app(
    settings: Settings, *, session: aiohttp.ClientSession | None = None
) -> dict[str, Any] | None:
    """``GET /app`` with the App's JWT: the App GitHub knows for this id and key.

    ``None`` when GitHub could not answer (5xx, timeout): the start goes on with a warning.
    """
    headers = {
        "Accept": "application/vnd.github+json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Api-Version": "2022-11-28",
        "Authorization": "Bearer "
        + get_jwt(app_id=str(settings.app_id), private_key=settings.private_key),
    }
    url = settings.api_url + "/app"
    own = session is None
    session = session or aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.github_timeout)
    )
    try:
        async with session.get(url, headers=headers) as response:
            status = response.status
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = None
    except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
        raise StartupError(
            f"GITHUB_API_URL {settings.api_url} cannot be reached ({exc.__class__.__name__}: "
            f"{_first_line(exc)}): check the address, or unset it for github.com"
        ) from None
    except (TimeoutError, aiohttp.ClientError) as exc:
        log.warning(
            "could not check the App's credentials at start; continuing",
            extra={"api_url": settings.api_url, "error": f"{type(exc).__name__}: {exc}"},
        )
        return None
    finally:
        if own:
            await session.close()
    message = body.get("message") if isinstance(body, dict) else None
    if status == 200 and isinstance(body, dict) and body.get("slug"):
        return body
    if status >= 500:
        log.warning(
            "GitHub could not confirm the App's credentials at start; continuing",
            extra={"api_url": settings.api_url, "status": status},
        )
        return None
    if status in (401, 403):
        raise StartupError(
            f"GITHUB_APP_ID {settings.app_id} and the private key "
            f"({settings.private_key_source}) were refused by GitHub ({status} {message or 'no message'}): "
            "set the id and a private key of the same App (its settings page shows both)"
        )
    raise StartupError(
        f"GITHUB_API_URL {settings.api_url} answered GET /app with {status}"
        f"{' ' + message if message else ''}: it must be the REST API base "
        "(https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server)"
    )


def without_push(settings: Settings, app_info: dict[str, Any] | None) -> Settings:
    """The settings to serve with, given what ``GET /app`` said. An App not subscribed to
    ``push`` (registered with an earlier app.yml) is never told that a configuration changed:
    keeping one until a push would keep it stale for ``HARDENING_CONFIG_MAX_AGE_SECONDS``, so
    every delivery reads them (a conditional request: an unchanged file costs no rate limit)."""
    events = app_info.get("events") if app_info else None
    if not isinstance(events, list) or "push" in events or settings.config_max_age <= 0:
        return settings
    log.warning(
        "the App is not subscribed to push: configurations are read on every delivery; "
        "tick push under Permissions & events in the App's settings (README, Upgrading)",
        extra={"events": events},
    )
    return replace(settings, config_max_age=0.0)


async def reach_postgres(settings: Settings) -> None:
    """One plain connection, so a wrong address is reported now rather than after the
    connection pool's ten seconds of retries."""
    import psycopg

    assert settings.database_url is not None
    try:
        conn = await psycopg.AsyncConnection.connect(settings.database_url, connect_timeout=10)
    except psycopg.Error as exc:
        raise StartupError(database_problem(settings, exc)) from None
    await conn.close()


def database_problem(settings: Settings, exc: BaseException) -> str:
    """One line for a database that could not be opened at start."""
    if settings.database_url:
        where = redact(settings.database_url)
        fix = "check DATABASE_URL's host, port, user, password and database"
    else:
        where = str(settings.database_path)
        fix = "point DATABASE_URL at a writable location"
    return (
        f"DATABASE_URL: the database at {where} could not be opened "
        f"({type(exc).__name__}: {_first_line(exc)}): {fix}"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
