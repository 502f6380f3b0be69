"""What every inbox backend offers: the records it hands out and the operations on them.

Two backends implement it, chosen by ``DATABASE_URL`` (``bot.inbox.open_database``):

- ``bot.inbox.sqlite``: an embedded SQLite file, one process; the workers of ``bot.inbox.workers``
  claim from it.
- ``bot.inbox.postgres``: PostgreSQL, any number of processes; the queue under it is
  procrastinate, whose workers run the deliveries (see docs/deployment.md for why).

The web shell, the operators' commands and the behavioural tests (tests/test_inbox_contract.py,
run against both) see only this module's names.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot import payloads
from bot.dialects import per_dialect

Status = Literal["pending", "processing", "done", "failed"]


@dataclass(frozen=True)
class Delivery:
    """One stored webhook delivery, as the workers see it."""

    seq: int
    delivery_id: str
    event: str
    action: str | None
    payload: bytes
    installation_id: int | None
    repository: str | None
    subject: str
    status: Status
    attempts: int
    next_attempt_at: float
    last_error: str | None
    received_at: float

    def data(self) -> Any:
        """The decoded JSON payload, decoded as intake decoded it (bot.payloads)."""
        return payloads.loads(self.payload)

    def log_fields(self) -> dict[str, Any]:
        """What each log line about this delivery carries (``bot.context.bound_log``)."""
        return {
            "delivery": self.delivery_id,
            "event": self.event,
            "action": self.action,
            "repository": self.repository,
            "subject": self.subject,
        }


@dataclass(frozen=True)
class InboxStats:
    """What ``/healthz`` reports. ``pending`` counts every unfinished delivery, including
    the ``processing`` ones."""

    pending: int
    processing: int
    failed: int
    oldest_pending_seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "pending": self.pending,
            "processing": self.processing,
            "failed": self.failed,
            "oldest_pending_seconds": round(self.oldest_pending_seconds, 3),
        }


@dataclass(frozen=True)
class Recovery:
    """What ``open`` found left over from the previous process."""

    resumed: int  # interrupted deliveries put back to pending
    parked: int  # interrupted on their last allowed attempt, parked as failed


Processor = Callable[[Delivery], Awaitable[None]]


class PermanentError(Exception):
    """Raised by processing that can never succeed: the delivery is parked without retrying."""


_MAX_ERROR_CHARS = 2000


def error_text(exc: BaseException) -> str:
    """One line for a delivery's ``last_error``, on either backend: the type and message,
    bounded."""
    text = f"{type(exc).__name__}: {exc}".strip().replace("\n", " ")
    return text[:_MAX_ERROR_CHARS]


class DeliveryInbox(Protocol):
    """The durable inbox: ``store`` before the 202, and what ``/healthz`` and operators read."""

    async def store(
        self,
        delivery_id: str,
        event: str,
        payload: bytes,
        *,
        subject: str,
        action: str | None = None,
        installation_id: int | None = None,
        repository: str | None = None,
        late: bool = False,
    ) -> bool:
        """Store durably; True if new, False if this delivery id was stored before. ``late``: a
        delivery GitHub failed to send, taken in by the catch-up; a backend may run it ahead
        of waiting deliveries of other subjects (it is older than they are)."""
        ...

    async def holds(self, delivery_ids: list[str]) -> set[str]:
        """Which of ``delivery_ids`` are stored (in any state)."""
        ...

    async def get(self, delivery_id: str) -> Delivery | None: ...

    async def stats(self) -> InboxStats: ...

    async def failed(self, limit: int = 100) -> list[Delivery]: ...

    async def requeue_failed(self, delivery_id: str | None = None) -> int: ...


class Workers(Protocol):
    """Runs the stored deliveries: per-subject order, retries with backoff, parking."""

    @property
    def in_flight(self) -> frozenset[str]: ...

    def start(self) -> None: ...

    async def stop(self, grace: float = 20.0) -> list[str]: ...

    def notify(self) -> None:
        """Look for stored deliveries now rather than at the next poll."""
        ...


class Sql(Protocol):
    """Plain statements on the backend's database, for the tables beside the deliveries (the
    schedules, the shared state). Statements use ``:name`` parameters in both dialects."""

    dialect: str  # "sqlite" or "postgresql"

    async def fetch(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]: ...

    async def execute(self, *statements: tuple[str, Mapping[str, Any]]) -> list[int]:
        """Run the statements in one transaction; their row counts."""
        ...

    async def setup(self, script: str) -> None:
        """Run idempotent DDL (``CREATE ... IF NOT EXISTS``)."""
        ...


_STATE_SCHEMA = per_dialect("""
CREATE TABLE IF NOT EXISTS shared_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at {real} NOT NULL
);
""")

_PUT_STATE = """
INSERT INTO shared_state (key, value, updated_at) VALUES (:key, :value, :now)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
"""


class SharedState:
    """Small JSON documents every process on the database sees: the last catch-up of missed
    deliveries, the configuration generation. Last write wins."""

    def __init__(self, sql: Sql, clock: Callable[[], float]) -> None:
        self.sql = sql
        self.clock = clock

    async def setup(self) -> None:
        await self.sql.setup(_STATE_SCHEMA[self.sql.dialect])

    async def get(self, key: str) -> Any:
        rows = await self.sql.fetch("SELECT value FROM shared_state WHERE key = :key", {"key": key})
        return json.loads(rows[0][0]) if rows else None

    async def put(self, key: str, value: Any) -> None:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"))
        await self.sql.execute((_PUT_STATE, {"key": key, "value": text, "now": self.clock()}))

    async def bump(self, key: str) -> int:
        """Add one to the integer at ``key`` (0 when absent), atomically; the new value."""
        await self.sql.execute(
            (
                "INSERT INTO shared_state (key, value, updated_at) VALUES (:key, '1', :now) "
                "ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(shared_state.value AS "
                "INTEGER) + 1 AS TEXT), updated_at = excluded.updated_at",
                {"key": key, "now": self.clock()},
            )
        )
        return int(await self.get(key))


_COPIES_SCHEMA = per_dialect("""
CREATE TABLE IF NOT EXISTS record_copies (
    subject    TEXT PRIMARY KEY,
    serial     {bigint} NOT NULL,
    line       TEXT NOT NULL,
    updated_at {real} NOT NULL
);
""")

# A copy replaces the one held only when its serial is not lower: two processes writing the
# same record keep the newest, whichever commits last.
_KEEP_COPY = """
INSERT INTO record_copies (subject, serial, line, updated_at)
VALUES (:subject, :serial, :line, :now)
ON CONFLICT (subject) DO UPDATE SET
    serial = excluded.serial, line = excluded.line, updated_at = excluded.updated_at
WHERE excluded.serial >= record_copies.serial
"""


class RecordCopies:
    """The App's last known copy of each signed record (bot.records), by subject (an issue),
    as the signed line it wrote: every process on the database reads the newest, and a restart
    keeps them. The lines are checked against the record key on every read, like a body's."""

    BATCH = 200  # subjects per query (SQLite allows 32,766 parameters; this is plenty)

    def __init__(self, sql: Sql, clock: Callable[[], float]) -> None:
        self.sql = sql
        self.clock = clock

    async def setup(self) -> None:
        await self.sql.setup(_COPIES_SCHEMA[self.sql.dialect])

    async def lines(self, subjects: Sequence[str]) -> dict[str, str]:
        """The held line of each of ``subjects`` that has one."""
        wanted = list(dict.fromkeys(subjects))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), self.BATCH):
            batch = wanted[start : start + self.BATCH]
            params = {f"s{i}": name for i, name in enumerate(batch)}
            names = ", ".join(f":{key}" for key in params)
            rows = await self.sql.fetch(
                f"SELECT subject, line FROM record_copies WHERE subject IN ({names})", params
            )
            found.update({str(subject): str(line) for subject, line in rows})
        return found

    async def newest(self) -> tuple[str, str] | None:
        """The subject and line of the copy written last, if any."""
        rows = await self.sql.fetch(
            "SELECT subject, line FROM record_copies ORDER BY updated_at DESC LIMIT 1"
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    async def keep(self, subject: str, serial: int, line: str) -> None:
        """Hold ``line`` as the copy of ``subject`` unless a higher serial is held."""
        await self.sql.execute(
            (
                _KEEP_COPY,
                {"subject": subject, "serial": serial, "line": line, "now": self.clock()},
            )
        )


Periodic = Callable[[], Awaitable[Any]]


class Database(Protocol):
    """One backend: the inbox, the statements for the other tables, the workers, and jobs that
    run once per period however many processes share the database."""

    dialect: str
    state: SharedState
    records: RecordCopies

    # Read-only, so each backend may hold its own implementation of the interface.
    @property
    def inbox(self) -> DeliveryInbox: ...

    @property
    def sql(self) -> Sql: ...

    async def open(self) -> Recovery:
        """Connect, create what is missing, recover what a previous process left unfinished."""
        ...

    async def close(self) -> None: ...

    def workers(self, process: Processor, *, metrics: Any = None) -> Workers:
        """The workers running ``process`` over the stored deliveries (not yet started)."""
        ...

    def every(
        self,
        name: str,
        seconds: float,
        job: Periodic,
        *,
        at_start: bool = False,
        start_job: Periodic | None = None,
    ) -> None:
        """Run ``job`` every ``seconds`` (and once at start, ``start_job`` then if given), by
        one process at a time; runs once ``start_periodic`` was called."""
        ...

    def start_periodic(self) -> None:
        """Start the jobs registered with ``every``."""
        ...
