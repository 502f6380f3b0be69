"""Operators' commands on the delivery inbox, safe to run beside the server.

``python -m bot failed [--limit N]``               list the deliveries parked as failed
``python -m bot requeue DELIVERY_ID... | --all``   give parked deliveries a fresh set of attempts

Both read only ``DATABASE_URL``: no GitHub credentials are needed. A requeued delivery is
picked up by the running server's workers within seconds (or at the next start).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from bot.inbox.sqlite import parked, parked_count, requeue_parked
from bot.settings import DEFAULT_DATABASE_URL, SettingsError, database_path, process_env


class _Refused(Exception):
    """A one-line reason to exit 2."""


def _inbox(env: Mapping[str, str] | None) -> Path:
    """The inbox file ``DATABASE_URL`` names; it must exist (a typo must not look clean)."""
    try:
        path = database_path(
            (process_env() if env is None else env).get("DATABASE_URL", DEFAULT_DATABASE_URL)
        )
    except SettingsError as exc:
        raise _Refused(str(exc)) from exc
    if not path.exists():
        raise _Refused(f"no inbox at {path} (check DATABASE_URL)")
    return path


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
        path = _inbox(env)
        try:
            deliveries = parked(path, args.limit)
            total = parked_count(path) if len(deliveries) == args.limit else len(deliveries)
        except sqlite3.Error as exc:
            raise _Refused(f"cannot read the inbox at {path}: {exc}") from exc
    except _Refused as exc:
        return _refused(exc)
    if not deliveries:
        print(f"no parked deliveries in {path}", file=out)
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
    missed: list[str] = []
    try:
        path = _inbox(env)
        try:
            if ids is None:
                count = requeue_parked(path, None)
            else:
                # One id at a time, so the operator learns which ones were not requeued.
                count = 0
                for delivery_id in ids:
                    if requeue_parked(path, [delivery_id]):
                        count += 1
                    else:
                        missed.append(delivery_id)
        except sqlite3.Error as exc:
            raise _Refused(f"cannot update the inbox at {path}: {exc}") from exc
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
