"""The durable delivery inbox: a webhook is stored here before GitHub gets its 202.

GitHub does not redeliver a webhook on its own, so a delivery that was acknowledged and then lost
in a crash is lost for good. The inbox makes "acknowledged" mean "on disk": one SQLite row per
delivery id, processed later by the workers, and kept (as ``done`` or ``failed``) so a second
delivery of the same id is recognised and not processed twice.

Why these choices:

- WAL journal, so the readers (``/healthz``, claims) never block the writer and a commit appends
  to one file instead of rewriting pages.
- ``synchronous=FULL`` for stores: the commit is fsynced before the 202 goes out, so a 202
  survives power loss and a kernel crash, not only a killed process (``NORMAL`` would only
  protect against the latter, and GitHub would never tell us what we lost). The cost is one
  fsync per commit, which group commit below spreads over every request waiting at that moment;
  measured on the bench it is under a tenth of the throughput.
- One dedicated thread owns the connection (``sqlite3`` objects are bound to their thread) and
  runs every statement, so blocking I/O never stalls the event loop and statements never race.
- Group commit: writes are queued; whenever the thread is free it takes everything queued and
  commits it in one transaction (one fsync). If one write fails, the batch is replayed one write
  per transaction, so a bad row never fails its neighbours. Under load, latency stays flat
  instead of queueing fsyncs.
- Only a commit that stores new deliveries is fsynced. Bookkeeping (claims, done, retries) is
  committed with ``synchronous=NORMAL``: after a power cut it can roll back to an earlier state,
  which only means a delivery runs again, and its writes are idempotent. The WAL is append-only,
  so the next fsynced commit makes the earlier bookkeeping durable too.
- Checkpoints (copying the WAL back into the database file) run on a second connection in their
  own thread, so the fsyncs of the database file never sit in front of an acknowledgement.

Ordering: ``claim`` only hands out the oldest unfinished delivery of each subject
(``bot.subjects``), and none while another delivery of that subject is being processed. A delivery
waiting for its retry therefore holds back the later ones of its subject: strict order within a
subject is worth more than the latency of one incident's later events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

log = logging.getLogger("bot.inbox")

Status = Literal["pending", "processing", "done", "failed"]
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id     TEXT    NOT NULL UNIQUE,
    event           TEXT    NOT NULL,
    action          TEXT,
    installation_id INTEGER,
    repository      TEXT,
    subject         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL    NOT NULL,
    last_error      TEXT,
    received_at     REAL    NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    updated_at      REAL    NOT NULL
);
-- Partial indexes stay small however many finished rows are kept.
CREATE INDEX IF NOT EXISTS deliveries_open_by_subject
    ON deliveries (subject, seq) WHERE status IN ('pending', 'processing');
CREATE INDEX IF NOT EXISTS deliveries_pending
    ON deliveries (seq) WHERE status = 'pending';
-- Only deliveries that failed an attempt can be due in the future, so only they are indexed by
-- time: a fresh delivery costs no entry here (every index is paid for on each store and claim).
CREATE INDEX IF NOT EXISTS deliveries_retrying
    ON deliveries (next_attempt_at) WHERE status = 'pending' AND attempts > 0;
CREATE INDEX IF NOT EXISTS deliveries_failed
    ON deliveries (seq) WHERE status = 'failed';
-- At most a worker pool's worth of entries: answers "is this subject in flight?" without
-- walking the subject's whole backlog (each claim asks it of every head it considers).
CREATE INDEX IF NOT EXISTS deliveries_processing
    ON deliveries (subject) WHERE status = 'processing';
-- Bodies live apart: SQLite rewrites a whole row on UPDATE, so a status change next to a 25 KiB
-- body would copy the body into the WAL (and the checkpoint) again at every claim and finish.
CREATE TABLE IF NOT EXISTS payloads (
    seq  INTEGER PRIMARY KEY,
    body BLOB    NOT NULL
);
"""
_SCHEMA_VERSION = 1

_COLUMNS = (
    "d.seq, d.delivery_id, d.event, d.action, p.body, d.installation_id, d.repository, "
    "d.subject, d.status, d.attempts, d.next_attempt_at, d.last_error, d.received_at"
)
_WITH_BODY = "JOIN payloads AS p ON p.seq = d.seq"

# A subject's head: its oldest unfinished delivery, and only while nothing of it is in flight.
# Two probes, each a short index search: "an older open one?" stops at the first entry below
# ``d.seq``, "one in flight?" looks in the tiny index of processing rows. (As one condition,
# ``e.seq < d.seq OR e.status = 'processing'``, it walked every open delivery of the subject and
# read each row for its status: with a backlog, most of a claim's cost.)
_HEAD = """
d.status = 'pending'
AND NOT EXISTS (
    SELECT 1 FROM deliveries AS e INDEXED BY deliveries_open_by_subject
    WHERE e.subject = d.subject AND e.status IN ('pending', 'processing') AND e.seq < d.seq)
AND NOT EXISTS (
    SELECT 1 FROM deliveries AS e INDEXED BY deliveries_processing
    WHERE e.subject = d.subject AND e.status = 'processing')
"""

# Walks pending deliveries oldest first and stops at ``limit`` claimable heads, so a claim costs
# about as much with a thousand deliveries queued as with ten. (INDEXED BY: left alone, the
# planner may scan the whole table, which keeps every finished delivery for two weeks.)
_CLAIM = f"""
SELECT {_COLUMNS} FROM deliveries AS d INDEXED BY deliveries_pending {_WITH_BODY}
WHERE {_HEAD} AND d.next_attempt_at <= :now
ORDER BY d.seq
LIMIT :limit
"""

# The earliest retry still in the future. Heads already due were just claimed (or wait for a
# free worker, who will look again), and a fresh delivery is due when it arrives, so only
# retries need looking at.
_NEXT_DUE = f"""
SELECT d.next_attempt_at FROM deliveries AS d INDEXED BY deliveries_retrying
WHERE {_HEAD} AND d.attempts > 0 AND d.next_attempt_at > :now
ORDER BY d.next_attempt_at
LIMIT 1
"""

_PURGE_CHUNK = 500

# Bounds the time one batch holds the thread (and so the ack latency of the requests behind it).
_MAX_BATCH = 512


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
        """The decoded JSON payload."""
        return json.loads(self.payload)


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


_Op = Callable[[sqlite3.Connection], Any]

# Checkpoint once the WAL has grown by about this many pages (SQLite's own default is 1000).
_CHECKPOINT_PAGES = 1000


class Inbox:
    """Durable, ordered delivery inbox on one SQLite file.

    Use ``await inbox.open()`` before anything else and ``await inbox.close()`` at the end.
    ``clock`` returns epoch seconds; tests pass a fake one to drive retries without sleeping.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] = time.time,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        linger: float = 0.002,
        store_linger: float = 0.002,
        store_batch: int = 32,
    ) -> None:
        self.path = Path(path)
        # How long bookkeeping-only writes wait to share a transaction.
        self.linger = linger
        # Group commit of stores (PostgreSQL's commit_delay, in effect): a store waits at most
        # ``store_linger`` for others to share its fsync, and not at all once ``store_batch``
        # are waiting. Under load this cuts the commits per delivery (CPU ~330 -> ~300 us per
        # delivery in `make bench`, 0.37x -> 0.40x of the bare server) for at most 2 ms
        # on an acknowledgement.
        self.store_linger = store_linger
        self.store_batch = store_batch
        self._durable_queued = 0
        self._lingering: asyncio.Future[None] | None = None
        self._lingering_for_stores = False
        self.clock = clock
        self._synchronous = synchronous
        self._sync_mode = synchronous  # what the connection is set to now (database thread)
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._queue: list[tuple[_Op, bool, asyncio.Future[Any]]] = []
        self._done_batch: _DoneBatch | None = None  # queued completions still open to more
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpoint_running = False
        self._wal_pages = 0
        self._queued_pages = 0
        self.checkpoints = 0  # completed background checkpoints, for tests and curiosity
        self._flusher: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[], None]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self, *, max_attempts: int | None = None) -> Recovery:
        """Open (creating if needed) the database and recover from a previous crash.

        Deliveries left ``processing`` were interrupted mid-way; their effects are idempotent
        (bot.writes), so they go back to ``pending`` and run again. One that was interrupted on
        its last allowed attempt is parked as failed instead, so a delivery that kills the
        process cannot crash-loop it forever.
        """
        if self._executor is not None:
            raise RuntimeError("inbox already open")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox")
        self._checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-ckpt")
        await self._run(self._connect)
        await asyncio.get_running_loop().run_in_executor(
            self._checkpointer, self._connect_checkpointer
        )
        return await self._run(lambda: self._recover(max_attempts))

    async def close(self) -> None:
        """Finish queued writes, then close the database."""
        if self._executor is None:
            return
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)
        if self._checkpointer is not None:
            checkpointer, self._checkpointer = self._checkpointer, None
            await asyncio.get_running_loop().run_in_executor(
                checkpointer, self._close_checkpointer
            )
            checkpointer.shutdown(wait=True)
        await self._run(self._disconnect)
        self._executor.shutdown(wait=True)
        self._executor = None

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (on the loop) whenever a new delivery has been stored."""
        self._listeners.append(callback)

    # -- writes (group-committed) ------------------------------------------------------------

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
    ) -> bool:
        """Store a delivery durably. True if it is new, False if this id was stored before."""
        now = self.clock()
        op = _Store(
            (delivery_id, event, action, installation_id, repository, subject, now, now, now),
            payload,
        )
        # A page per 4 KiB of payload, plus the row's index entries.
        pages = len(payload) // 4096 + 3
        new = bool(await self._submit(op, durable=True, pages=pages))
        if new:
            for listener in self._listeners:
                listener()
        return new

    async def mark_done(self, delivery_id: str) -> bool:
        """Record a successful processing. False if the delivery was not being processed."""
        return bool(await self.mark_done_soon(delivery_id))

    def mark_done_soon(self, delivery_id: str) -> asyncio.Future[bool]:
        """Queue ``mark_done`` without waiting for it.

        Writes are applied in the order they are queued, so a claim queued after this one
        already sees the delivery done (its subject free). The workers use this to hand the
        slot on without a round trip; if the process dies before the commit, the delivery
        reruns, which its idempotent writes make harmless.

        Completions queued before the next commit share one write (two statements however many
        there are): a completion may land earlier than queued, never later.
        """
        batch = self._done_batch
        if batch is None:
            batch = self._done_batch = _DoneBatch()
            self._submit(batch).add_done_callback(batch.resolve)
        batch.now = self.clock()
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        batch.ids.append(delivery_id)
        batch.futures.append(future)
        return future

    async def schedule_retry(self, delivery_id: str, error: str, next_attempt_at: float) -> bool:
        """Put a failed attempt back to pending, not to be claimed before ``next_attempt_at``."""
        return await self._transition(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, last_error = ?, "
            "updated_at = ? WHERE delivery_id = ? AND status = 'processing'",
            (next_attempt_at, error, self.clock(), delivery_id),
        )

    async def park_failed(self, delivery_id: str, error: str) -> bool:
        """Keep a delivery that ran out of attempts, with its last error, out of the queue."""
        now = self.clock()
        return await self._transition(
            "UPDATE deliveries SET status = 'failed', last_error = ?, finished_at = ?, "
            "updated_at = ? WHERE delivery_id = ? AND status = 'processing'",
            (error, now, now, delivery_id),
        )

    async def release(self, delivery_id: str) -> bool:
        """Hand back an attempt we interrupted ourselves (shutdown): pending, not counted."""
        now = self.clock()
        return await self._transition(
            "UPDATE deliveries SET status = 'pending', attempts = MAX(attempts - 1, 0), "
            "next_attempt_at = ?, updated_at = ? WHERE delivery_id = ? AND status = 'processing'",
            (now, now, delivery_id),
        )

    async def requeue_failed(self, delivery_id: str | None = None) -> int:
        """Give parked deliveries (one, or all) a fresh set of attempts. Returns how many."""
        now = self.clock()
        where = "status = 'failed'" + (" AND delivery_id = ?" if delivery_id else "")
        params: tuple[Any, ...] = (now, now) + ((delivery_id,) if delivery_id else ())

        def op(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                f"finished_at = NULL, updated_at = ? WHERE {where}",
                params,
            ).rowcount

        count = int(await self._submit(op))
        if count:
            for listener in self._listeners:
                listener()
        return count

    async def purge_done(self, older_than: float) -> int:
        """Delete deliveries finished more than ``older_than`` seconds ago. Failed ones stay.

        A purged id is no longer recognised as a duplicate; by then GitHub's own redelivery
        window has long passed, and handlers are idempotent anyway.
        """
        cutoff = self.clock() - older_than

        def op(conn: sqlite3.Connection) -> int:
            # Oldest first and a chunk at a time: deliveries are stored in time order, so the
            # old ones sit at the start of the table and each chunk is a short walk, and no
            # single transaction holds the thread (and the acknowledgements) for long.
            seqs = [
                seq
                for (seq,) in conn.execute(
                    "SELECT seq FROM deliveries WHERE status = 'done' AND finished_at < ? "
                    "ORDER BY seq LIMIT ?",
                    (cutoff, _PURGE_CHUNK),
                )
            ]
            marks = ",".join("?" * len(seqs))
            conn.execute(f"DELETE FROM payloads WHERE seq IN ({marks})", seqs)
            return conn.execute(f"DELETE FROM deliveries WHERE seq IN ({marks})", seqs).rowcount

        purged = 0
        while True:
            count = int(await self._submit(op))
            purged += count
            if count < _PURGE_CHUNK:
                return purged

    # -- reads and claims --------------------------------------------------------------------

    async def claim(self, limit: int) -> list[Delivery]:
        """Mark up to ``limit`` due deliveries as processing and return them, oldest first.

        Never two of the same subject, and never one whose subject is already in flight.
        """
        claimed, _ = await self.poll(limit)
        return claimed

    async def poll(self, limit: int) -> tuple[list[Delivery], float | None]:
        """``claim(limit)`` and ``next_due()`` together, as one step of the next group commit.

        Riding along with the writes (the completions that freed the workers, usually) costs no
        extra transaction and no extra trip to the database thread.
        """
        now = self.clock()
        result: tuple[list[Delivery], float | None] = await self._submit(
            lambda conn: self._poll(conn, now, limit), pages=max(limit, 1)
        )
        return result

    async def get(self, delivery_id: str) -> Delivery | None:
        def read() -> Delivery | None:
            row = self._connection.execute(
                f"SELECT {_COLUMNS} FROM deliveries AS d {_WITH_BODY} WHERE d.delivery_id = ?",
                (delivery_id,),
            ).fetchone()
            return _delivery(row) if row else None

        return await self._run(read)

    async def stats(self) -> InboxStats:
        now = self.clock()

        def read() -> InboxStats:
            conn = self._connection
            # Each count is answered from its partial index alone (no row is read), and the
            # oldest open delivery is the one with the lowest seq: deliveries are stored in
            # arrival order. A /healthz poll thus stays cheap with a backlog of thousands.
            counts: dict[str, int] = {}
            firsts: list[int] = []
            for status in ("pending", "processing"):
                count, first = conn.execute(
                    f"SELECT COUNT(*), MIN(seq) FROM deliveries WHERE status = '{status}'"
                ).fetchone()
                counts[status] = count
                if first is not None:
                    firsts.append(first)
            oldest: float | None = None
            if firsts:
                (oldest,) = conn.execute(
                    "SELECT received_at FROM deliveries WHERE seq = ?", (min(firsts),)
                ).fetchone()
            (failed,) = conn.execute(
                "SELECT COUNT(*) FROM deliveries WHERE status = 'failed'"
            ).fetchone()
            return InboxStats(
                pending=counts["pending"] + counts["processing"],
                processing=counts["processing"],
                failed=failed,
                oldest_pending_seconds=max(0.0, now - oldest) if oldest is not None else 0.0,
            )

        return await self._run(read)

    async def next_due(self) -> float | None:
        """When the next retry falls due (a subject head waiting for its backoff), or None.

        Deliveries queued behind a busy subject do not count: they become claimable when that
        subject finishes, not at a time. Heads already due are claimable now.
        """
        now = self.clock()
        return await self._run(lambda: self._next_due(now))

    async def failed(self, limit: int = 100) -> list[Delivery]:
        """Parked deliveries, oldest first, for operators and tests."""

        def read() -> list[Delivery]:
            rows = self._connection.execute(
                f"SELECT {_COLUMNS} FROM deliveries AS d {_WITH_BODY} WHERE d.status = 'failed' "
                "ORDER BY d.seq LIMIT ?",
                (limit,),
            ).fetchall()
            return [_delivery(r) for r in rows]

        return await self._run(read)

    # -- the database thread -----------------------------------------------------------------

    @property
    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("inbox is not open")
        return self._conn

    def _connect(self) -> None:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a group commit is exactly
        # one transaction.
        conn = connect_wal(self.path)
        conn.execute(f"PRAGMA synchronous={self._synchronous}")
        self._sync_mode = self._synchronous
        # Checkpoints run on their own connection and thread (see _wrote), not inside a commit.
        conn.execute("PRAGMA wal_autocheckpoint=0")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version not in (0, _SCHEMA_VERSION):
            conn.close()
            raise RuntimeError(
                f"{self.path}: inbox schema version {version} is newer than this release "
                f"understands ({_SCHEMA_VERSION})"
            )
        conn.executescript(_SCHEMA)
        conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _recover(self, max_attempts: int | None) -> Recovery:
        conn = self._connection
        now = self.clock()
        conn.execute("BEGIN IMMEDIATE")
        try:
            parked = 0
            if max_attempts is not None:
                parked = conn.execute(
                    "UPDATE deliveries SET status = 'failed', finished_at = ?, updated_at = ?, "
                    "last_error = 'interrupted during its last attempt ' || attempts || "
                    "' (the process stopped while processing it)' "
                    "WHERE status = 'processing' AND attempts >= ?",
                    (now, now, max_attempts),
                ).rowcount
            resumed = conn.execute(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ? "
                "WHERE status = 'processing'",
                (now, now),
            ).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return Recovery(resumed=resumed, parked=parked)

    def _poll(
        self, conn: sqlite3.Connection, now: float, limit: int
    ) -> tuple[list[Delivery], float | None]:
        claimed = self._claim(conn, now, limit) if limit > 0 else []
        if limit > 0 and len(claimed) == limit:
            return claimed, now  # there may be more right away; no need to look further
        return claimed, self._next_due(now)

    def _next_due(self, now: float) -> float | None:
        row = self._connection.execute(_NEXT_DUE, {"now": now}).fetchone()
        return row[0] if row else None

    def _claim(self, conn: sqlite3.Connection, now: float, limit: int) -> list[Delivery]:
        rows = conn.execute(_CLAIM, {"now": now, "limit": limit}).fetchall()
        if not rows:
            return []
        conn.executemany(
            "UPDATE deliveries SET status = 'processing', attempts = attempts + 1, "
            "started_at = ?, updated_at = ? WHERE seq = ?",
            [(now, now, row[0]) for row in rows],
        )
        claimed = []
        for row in rows:
            row = list(row)
            row[8] = "processing"
            row[9] += 1
            claimed.append(_delivery(tuple(row)))
        return claimed

    def _apply(self, ops: list[_Op], durable: bool) -> list[Any]:
        conn = self._connection
        try:
            with self._transaction(durable=durable):
                return _run_ops(conn, ops)
        except Exception as exc:
            if len(ops) == 1:
                return [exc]
        # One write failed and took its batch down with it. Rare, so rather than pay for a
        # savepoint around every write, run them again one transaction each: the bad one fails
        # alone and the others land.
        results: list[Any] = []
        for op in ops:
            try:
                with self._transaction(durable=durable):
                    results.append(op(conn))
            except Exception as exc:
                results.append(exc)
        return results

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool) -> Iterator[None]:
        conn = self._connection
        # The setting is only changed when the kind of commit changes: under load, runs of
        # bookkeeping-only commits (the workers') then cost no extra statement each.
        wanted = self._synchronous if durable else "NORMAL"
        if wanted != self._sync_mode:
            conn.execute(f"PRAGMA synchronous={wanted}")
            self._sync_mode = wanted
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _connect_checkpointer(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=5000")
        self._checkpoint_conn = conn

    def _checkpoint(self) -> None:
        if self._checkpoint_conn is None:
            return
        # PASSIVE: copy what no reader still needs, never wait for or block the writer.
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1

    def _close_checkpointer(self) -> None:
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
            self._checkpoint_conn = None

    def _wrote(self, pages: int) -> None:
        """Count WAL growth; start a background checkpoint when it is due and none runs."""
        self._wal_pages += pages
        if (
            self._wal_pages < _CHECKPOINT_PAGES
            or self._checkpoint_running
            or self._checkpointer is None
        ):
            return
        self._wal_pages = 0
        self._checkpoint_running = True
        future = asyncio.get_running_loop().run_in_executor(self._checkpointer, self._checkpoint)
        future.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, future: asyncio.Future[None]) -> None:
        self._checkpoint_running = False
        if not future.cancelled() and future.exception() is not None:
            log.warning("inbox checkpoint failed", exc_info=future.exception())

    # -- plumbing ----------------------------------------------------------------------------

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError("inbox is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _transition(self, sql: str, params: tuple[Any, ...]) -> bool:
        return bool(await self._submit(lambda conn: conn.execute(sql, params).rowcount == 1))

    def _submit(self, op: _Op, *, durable: bool = False, pages: int = 2) -> asyncio.Future[Any]:
        """Queue a write for the next group commit. ``durable`` ones are fsynced before their
        future resolves; ``pages`` estimates the WAL growth, to pace checkpoints."""
        if self._executor is None:
            raise RuntimeError("inbox is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((op, durable, future))
        self._queued_pages += pages
        if durable:
            self._durable_queued += 1
            lingering = self._lingering is not None and not self._lingering.done()
            if lingering and (
                not self._lingering_for_stores or self._durable_queued >= self.store_batch
            ):
                assert self._lingering is not None
                self._lingering.set_result(None)  # a full batch, or a 202 behind bookkeeping
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return future

    async def _linger(self, seconds: float, *, for_stores: bool) -> None:
        loop = asyncio.get_running_loop()
        self._lingering = loop.create_future()
        self._lingering_for_stores = for_stores
        timer = loop.call_later(seconds, _resolve, self._lingering)
        try:
            await self._lingering
        finally:
            timer.cancel()
            self._lingering = None
            self._lingering_for_stores = False

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            # Stores go at once, with whatever queued up during the previous commit: the
            # thread commits while the loop answers the requests the last batch released.
            if self._durable_queued:
                # Acknowledgements wait for this commit: gather a few more, briefly.
                if self.store_linger > 0 and self._durable_queued < self.store_batch:
                    await self._linger(self.store_linger, for_stores=True)
            elif self.linger > 0:
                # Only bookkeeping is waiting (claims, completions): nobody's acknowledgement
                # depends on it, so gather a little more of it into one transaction.
                await self._linger(self.linger, for_stores=False)
            batch = self._queue[:_MAX_BATCH]
            del self._queue[:_MAX_BATCH]
            self._done_batch = None  # sealed: the thread reads it from now on
            pages, self._queued_pages = self._queued_pages, 0
            taken = sum(1 for _, d, _ in batch if d)
            self._durable_queued -= taken
            durable = taken > 0
            assert self._executor is not None
            try:
                results = await loop.run_in_executor(
                    self._executor, self._apply, [op for op, _, _ in batch], durable
                )
            except Exception as exc:  # the commit itself failed: nothing of this batch is stored
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self._wrote(pages)
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():  # the caller gave up waiting; the write happened regardless
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)


class _Store:
    """A store, as data: consecutive ones in a batch are inserted together (see _store_many)."""

    __slots__ = ("payload", "row")

    def __init__(self, row: tuple[Any, ...], payload: bytes) -> None:
        self.row = row  # delivery_id first, then the other _INSERT columns
        self.payload = payload

    def __call__(self, conn: sqlite3.Connection) -> bool:
        return _store_many(conn, [self])[0]


class _DoneBatch:
    """Completions queued together: one op, one ``UPDATE``, a future per delivery."""

    __slots__ = ("futures", "ids", "now")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.futures: list[asyncio.Future[bool]] = []
        self.now = 0.0

    def __call__(self, conn: sqlite3.Connection) -> set[str]:
        marks = ",".join("?" * len(self.ids))
        where = f"WHERE delivery_id IN ({marks}) AND status = 'processing'"
        rows = conn.execute(f"SELECT delivery_id FROM deliveries {where}", self.ids)
        done = {row[0] for row in rows}
        if done:
            conn.execute(
                f"UPDATE deliveries SET status = 'done', finished_at = ?, updated_at = ? {where}",
                [self.now, self.now, *self.ids],
            )
        return done

    def resolve(self, result: asyncio.Future[set[str]]) -> None:
        if result.cancelled() or result.exception() is not None:
            error = result.exception() if not result.cancelled() else asyncio.CancelledError()
            for future in self.futures:
                if not future.done():
                    future.set_exception(error)  # type: ignore[arg-type]
            return
        done = result.result()
        for delivery_id, future in zip(self.ids, self.futures, strict=True):
            if not future.done():
                future.set_result(delivery_id in done)


_INSERT_COLUMNS = (
    "delivery_id, event, action, installation_id, repository, subject, next_attempt_at, "
    "received_at, updated_at"
)


def connect_wal(path: Path) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode that issues no implicit transactions and waits up to
    5 s for a lock another connection holds (the inbox's writer, a schedules job, an operator's
    sqlite3 shell)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        conn.close()
        raise RuntimeError(f"{path}: cannot use WAL journal mode (got {mode})")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def _run_ops(conn: sqlite3.Connection, ops: list[_Op]) -> list[Any]:
    """Run a batch's writes in order, each run of consecutive stores as one insert."""
    results: list[Any] = []
    i = 0
    while i < len(ops):
        if isinstance(ops[i], _Store):
            j = i
            while j < len(ops) and isinstance(ops[j], _Store):
                j += 1
            results.extend(_store_many(conn, ops[i:j]))  # type: ignore[arg-type]
            i = j
        else:
            results.append(ops[i](conn))
            i += 1
    return results


def _store_many(conn: sqlite3.Connection, stores: list[_Store]) -> list[bool]:
    """Insert the new ones among ``stores`` with one statement per table.

    Statement count, not row count, is what costs here: each statement makes this thread take
    the GIL back from the busy event loop. A delivery id already stored, or repeated earlier in
    the batch, is not new; anything else that breaks a constraint fails the whole statement,
    and the batch falls back to one transaction per write.
    """
    ids = [s.row[0] for s in stores]
    marks = ",".join("?" * len(ids))
    seen = {
        row[0]
        for row in conn.execute(
            f"SELECT delivery_id FROM deliveries WHERE delivery_id IN ({marks})", ids
        )
    }
    new: list[_Store] = []
    results = []
    for store in stores:
        fresh = store.row[0] not in seen
        seen.add(store.row[0])
        results.append(fresh)
        if fresh:
            new.append(store)
    if not new:
        return results
    width = _INSERT_COLUMNS.count(",") + 1
    rows = ",".join(["(" + ",".join("?" * width) + ")"] * len(new))
    cursor = conn.execute(
        f"INSERT INTO deliveries ({_INSERT_COLUMNS}) VALUES {rows}",
        [value for store in new for value in store.row],
    )
    # One statement, one writer, nothing deleted in between: the new rows took the seqs just
    # below the last one, in order.
    last = cursor.lastrowid
    assert last is not None
    first = last - len(new) + 1
    conn.execute(
        "INSERT INTO payloads (seq, body) VALUES " + ",".join(["(?, ?)"] * len(new)),
        [value for k, store in enumerate(new) for value in (first + k, store.payload)],
    )
    return results


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _delivery(row: tuple[Any, ...]) -> Delivery:
    return Delivery(
        seq=row[0],
        delivery_id=row[1],
        event=row[2],
        action=row[3],
        payload=bytes(row[4]),
        installation_id=row[5],
        repository=row[6],
        subject=row[7],
        status=row[8],
        attempts=row[9],
        next_attempt_at=row[10],
        last_error=row[11],
        received_at=row[12],
    )
