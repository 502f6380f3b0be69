"""Operators' commands on the delivery inbox, safe to run beside the server.

``python -m bot failed [--limit N]``               list the deliveries parked as failed
``python -m bot requeue DELIVERY_ID... | --all``   give parked deliveries a fresh set of attempts

Both read only ``DATABASE_URL`` (SQLite or PostgreSQL): no GitHub credentials are needed. A
requeued delivery is picked up by the running servers' workers within seconds (or at the next
start).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bot.inbox import Delivery, is_postgres_url
from bot.inbox.sqlite import parked, parked_count, requeue_parked
from bot.settings import (
    DEFAULT_DATABASE_URL,
    Settings,
    SettingsError,
    database_path,
    process_env,
    redact,
)

T = TypeVar("T")


class _Refused(Exception):
    """A one-line reason to exit 2."""


class _Sqlite:
    """Parked deliveries in the SQLite file, read and requeued from beside the server (without
    opening an Inbox, whose crash recovery would take the server's in-flight deliveries)."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise _Refused(f"no inbox at {path} (check DATABASE_URL)")
        self.where = str(path)
        self.path = path

    def parked(self, limit: int) -> tuple[list[Delivery], int]:
        try:
            deliveries = parked(self.path, limit)
            total = parked_count(self.path) if len(deliveries) == limit else len(deliveries)
        except sqlite3.Error as exc:
            raise _Refused(f"cannot read the inbox at {self.path}: {exc}") from exc
        return deliveries, total

    def requeue(self, ids: list[str] | None) -> tuple[int, list[str]]:
        try:
            if ids is None:
                return requeue_parked(self.path, None), []
            # One id at a time, so the operator learns which ones were not requeued.
            missed = [i for i in ids if not requeue_parked(self.path, [i])]
        except sqlite3.Error as exc:
            raise _Refused(f"cannot update the inbox at {self.path}: {exc}") from exc
        return len(ids) - len(missed), missed


class _Postgres:
    """Parked deliveries in PostgreSQL, through the backend the servers use (its ``open`` only
    connects and creates what is missing: nothing of a running server's is taken back)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact(url)

    def _run(self, work: Callable[[Any], Awaitable[T]]) -> T:
        import psycopg

        from bot.inbox.postgres import PostgresDatabase

        async def run() -> T:
            # One plain connection first: a wrong address fails now, not after the pool's
            # ten seconds of retries.
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, connect_timeout=5)
            except psycopg.Error as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc
                raise _Refused(f"cannot reach the database at {self.where}: {reason}") from exc
            await conn.close()
            # The backend takes its tuning from Settings; these commands need no App identity.
            settings = Settings(webhook_secret="", app_id=1, private_key="", database_url=self.url)
            db = PostgresDatabase(self.url, settings=settings)
            try:
                await db.open()
            except Exception as exc:
                raise _Refused(f"cannot reach the database at {self.where}: {exc}") from exc
            try:
                return await work(db.inbox)
            finally:
                await db.close()

        return asyncio.run(run())

    def parked(self, limit: int) -> tuple[list[Delivery], int]:
        async def read(inbox: Any) -> tuple[list[Delivery], int]:
            return await inbox.failed(limit), (await inbox.stats()).failed

        return self._run(read)

    def requeue(self, ids: list[str] | None) -> tuple[int, list[str]]:
        async def write(inbox: Any) -> tuple[int, list[str]]:
            if ids is None:
                return await inbox.requeue_failed(None), []
            missed = [i for i in ids if not await inbox.requeue_failed(i)]
            return len(ids) - len(missed), missed

        return self._run(write)


def _store(env: Mapping[str, str] | None) -> _Sqlite | _Postgres:
    """The inbox ``DATABASE_URL`` names; a SQLite file must exist (a typo must not look clean)."""
    url = (process_env() if env is None else env).get("DATABASE_URL", "").strip()
    url = url or DEFAULT_DATABASE_URL
    if is_postgres_url(url):
        return _Postgres(url)
    try:
        return _Sqlite(database_path(url))
    except SettingsError as exc:
        raise _Refused(str(exc)) from exc


def _refused(exc: Exception) -> int:
    print(f"hardening-bot: {exc}", file=sys.stderr)
    return 2


def failed(
    argv: list[str], *, env: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    """``python -m bot failed``: one line per parked delivery, oldest first."""
    parser = argparse.ArgumentParser(
        prog="python -m bot failed", description="List the deliveries parked as failed."
    )
    parser.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    args = parser.parse_args(argv)
    if args.limit < 1:
        parser.error("--limit must be at least 1")
    out = out or sys.stdout
    try:
        store = _store(env)
        deliveries, total = store.parked(args.limit)
    except _Refused as exc:
        return _refused(exc)
    if not deliveries:
        print(f"no parked deliveries in {store.where}", file=out)
        return 0
    for d in deliveries:
        received = datetime.fromtimestamp(d.received_at, UTC).isoformat(timespec="seconds")
        event = f"{d.event}.{d.action}" if d.action else d.event
        fields = [d.delivery_id, event, d.repository or "-", d.subject]
        fields += [f"attempts={d.attempts}", f"received={received}", d.last_error or ""]
        print("\t".join(fields), file=out)
    shown = len(deliveries)
    count = f"{total} parked" if shown == total else f"{total} parked, the oldest {shown} shown"
    print(f"{count}; requeue with: python -m bot requeue ID... | --all", file=out)
    return 0


def requeue(
    argv: list[str], *, env: Mapping[str, str] | None = None, out: TextIO | None = None
) -> int:
    """``python -m bot requeue``: 0 when every named delivery was requeued, 1 otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m bot requeue",
        description="Give deliveries parked as failed a fresh set of attempts.",
    )
    parser.add_argument("delivery_ids", nargs="*", metavar="DELIVERY_ID")
    parser.add_argument("--all", action="store_true", help="every parked delivery")
    args = parser.parse_args(argv)
    if args.all == bool(args.delivery_ids):
        parser.error("name the deliveries to requeue, or pass --all (not both)")
    out = out or sys.stdout
    ids = None if args.all else list(dict.fromkeys(args.delivery_ids))
    try:
        count, missed = _store(env).requeue(ids)
    except _Refused as exc:
        return _refused(exc)
    print(f"requeued {count} parked deliveries", file=out)
    if missed:
        print(
            f"hardening-bot: not parked as failed (unknown, pending or done), not requeued: "
            f"{', '.join(missed)}; see python -m bot failed",
            file=sys.stderr,
        )
        return 1
    return 0
