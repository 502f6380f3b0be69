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
- One dedicated writer thread owns the writing connection (``sqlite3`` objects are bound to
  their thread) and runs every write, so blocking I/O never stalls the event loop and writes
  never race. Reads (``/healthz``, operators' lookups) use a second connection on a second
  thread: WAL lets them run beside a commit instead of queueing behind it.
- Group commit: writes are queued; whenever the writer is free it takes everything queued and
  commits it in one transaction (one fsync), then starts on what queued up meanwhile without a
  round trip through the event loop. If one write fails, the batch is replayed one write per
  transaction, so a bad row never fails its neighbours. Under load, latency stays flat instead
  of queueing fsyncs.
- Only a commit that stores new deliveries is fsynced. Bookkeeping (claims, done, retries) is
  committed with ``synchronous=NORMAL``: after a power cut it can roll back to an earlier state,
  which only means a delivery runs again, and its writes are idempotent. The WAL is append-only,
  so the next fsynced commit makes the earlier bookkeeping durable too.
- Checkpoints (copying the WAL back into the database file) run on the reading connection, so
  the fsyncs of the database file never sit in front of an acknowledgement.

Ordering: ``poll`` only hands out the oldest unfinished delivery of each subject
(``bot.subjects``), and none while another delivery of that subject is being processed. A delivery
waiting for its retry therefore holds back the later ones of its subject: strict order within a
subject is worth more than the latency of one incident's later events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from bot.inbox import queries as Q
from bot.inbox.api import (
    Delivery,
    InboxStats,
    Periodic,
    Processor,
    RecordCopies,
    Recovery,
    SharedState,
)
from bot.inbox.workers import WorkerPool

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("bot.inbox")
T = TypeVar("T")


_PURGE_CHUNK = 500

# Bounds the time one batch holds the thread (and so the ack latency of the requests behind it).
_MAX_BATCH = 512


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
        # Group commit of stores (PostgreSQL's commit_delay, in effect): a store that finds the
        # writer idle waits at most ``store_linger`` for others to share its fsync, and not at
        # all once ``store_batch`` are waiting; stores that queued during a commit go next
        # without waiting (they have waited already). Under load this cuts the commits per
        # delivery for at most 2 ms on an acknowledgement.
        self.store_linger = store_linger
        self.store_batch = store_batch
        self.clock = clock
        self._synchronous = synchronous
        self._sync_mode = synchronous  # what the connection is set to now (writer thread)
        self._loop: asyncio.AbstractEventLoop | None = None
        # The writer thread and what it shares with the loop, all under ``_cond``: the queue,
        # how many stores are in it, what the thread is waiting for, and whether to stop.
        self._writer: threading.Thread | None = None
        self._cond = threading.Condition()
        self._pending: list[_Queued] = []
        self._pending_stores = 0
        self._waiting: Literal["idle", "stores", "bookkeeping"] | None = None
        self._committing = False  # the writer holds a batch whose results are not handed back
        self._closing = False
        self._conn: sqlite3.Connection | None = None  # the writer thread's
        self._done_batch: _DoneBatch | None = None  # queued completions still open to more
        # Reads and checkpoints: a second connection on its own thread.
        self._reader: ThreadPoolExecutor | None = None
        self._reader_conn: sqlite3.Connection | None = None
        self._checkpoint_running = False
        self._wal_pages = 0
        self.checkpoints = 0  # completed background checkpoints, for tests and curiosity
        self._listeners: list[Callable[[], None]] = []

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self, *, max_attempts: int | None = None) -> Recovery:
        """Open (creating if needed) the database and recover from a previous crash.

        Deliveries left ``processing`` were interrupted mid-way; their effects are idempotent
        (bot.writes), so they go back to ``pending`` and run again. One that was interrupted on
        its last allowed attempt is parked as failed instead, so a delivery that kills the
        process cannot crash-loop it forever.
        """
        if self._writer is not None:
            raise RuntimeError("inbox already open")
        loop = self._loop = asyncio.get_running_loop()
        self._closing = False
        self._writer = threading.Thread(target=self._write_loop, name="inbox", daemon=True)
        self._writer.start()
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-read")
        try:
            await self._call(self._connect)
            await loop.run_in_executor(self._reader, self._connect_reader)
            return await self._call(lambda: self._recover(max_attempts))
        except BaseException:
            await self._stop_threads()
            raise

    async def close(self) -> None:
        """Finish queued writes, then close the database."""
        if self._writer is None:
            return
        await self._stop_threads()  # the writer finishes what is queued, then disconnects

    async def _stop_threads(self) -> None:
        loop = asyncio.get_running_loop()
        writer, reader = self._writer, self._reader
        with self._cond:
            self._closing = True
            self._cond.notify()
        if writer is not None:
            await loop.run_in_executor(None, writer.join)
        with self._cond:
            leftovers, self._pending, self._pending_stores = self._pending, [], 0
        for item in leftovers:  # only if the writer died: it drains the queue before it stops
            if not item.future.done():
                item.future.set_exception(RuntimeError("inbox closed before this write ran"))
        if reader is not None:
            await loop.run_in_executor(reader, self._close_reader)
            reader.shutdown(wait=True)
        self._writer = self._reader = None

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
        late: bool = False,
    ) -> bool:
        """Store a delivery durably. True if it is new, False if this id was stored before.
        ``late`` changes nothing here: one process's workers reach it soon enough."""
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

    def mark_done_soon(self, delivery_id: str) -> asyncio.Future[bool]:
        """Record a successful processing, without waiting for the commit; resolves to False if the
        delivery was not being processed.

        Writes are applied in the order they are queued, so a claim queued after this one
        already sees the delivery done (its subject free). The workers use this to hand the
        slot on without a round trip; if the process dies before the commit, the delivery
        reruns, which its idempotent writes make harmless.

        Completions queued before the next commit share one write (two statements however many
        there are): a completion may land earlier than queued, never later.
        """
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        with self._cond:  # the writer seals a batch under this lock when it takes it
            batch = self._done_batch
            if batch is None or batch.sealed:
                batch = _DoneBatch()
                # Queued first (re-entrant lock; the writer cannot take it before we let go),
                # published after: if the inbox refuses it, no later completion joins it.
                self._submit(batch).add_done_callback(batch.resolve)
                self._done_batch = batch
            batch.now = self.clock()
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
        ids = [delivery_id] if delivery_id else None
        count = int(await self._submit(lambda conn: _requeue(conn, ids, now)))
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

    async def poll(self, limit: int) -> tuple[list[Delivery], float | None]:
        """Claim up to ``limit`` due deliveries (never two of one subject, never one whose
        subject is in flight; oldest first), and say when the next retry falls due (a subject
        head waiting for its backoff; deliveries queued behind a busy subject do not count), as
        one step of the next group commit.

        Riding along with the writes (the completions that freed the workers, usually) costs no
        extra transaction and no extra trip to the database thread.
        """
        now = self.clock()
        result: tuple[list[Delivery], float | None] = await self._submit(
            lambda conn: self._poll(conn, now, limit), pages=max(limit, 1)
        )
        return result

    async def get(self, delivery_id: str) -> Delivery | None:
        def read(conn: sqlite3.Connection) -> Delivery | None:
            row = conn.execute(
                f"SELECT {Q.COLUMNS} FROM deliveries AS d {Q.WITH_BODY} WHERE d.delivery_id = ?",
                (delivery_id,),
            ).fetchone()
            return _delivery(row) if row else None

        return await self._read(read)

    async def stats(self) -> InboxStats:
        now = self.clock()

        def read(conn: sqlite3.Connection) -> InboxStats:
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

        return await self._read(read)

    async def failed(self, limit: int = 100) -> list[Delivery]:
        """Parked deliveries, oldest first, for operators and tests."""
        return await self._read(lambda conn: _parked(conn, limit))

    async def holds(self, delivery_ids: list[str]) -> set[str]:
        """Which of ``delivery_ids`` are stored, in any state."""
        if not delivery_ids:
            return set()

        def read(conn: sqlite3.Connection) -> set[str]:
            marks = ",".join("?" * len(delivery_ids))
            rows = conn.execute(
                f"SELECT delivery_id FROM deliveries WHERE delivery_id IN ({marks})", delivery_ids
            )
            return {row[0] for row in rows}

        return await self._read(read)

    # -- the other tables in this file: one writer per database ------------------------------

    async def fetch(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """Rows of one query, on the reading connection (``bot.inbox.api.Sql``)."""
        return await self._read(lambda conn: conn.execute(sql, params or {}).fetchall())

    async def execute(self, *statements: tuple[str, Mapping[str, Any]]) -> list[int]:
        """Statements in one transaction of the writer thread; their row counts. The schedules
        and the shared state write through here, so the file has one writer."""

        def op(conn: sqlite3.Connection) -> list[int]:
            return [conn.execute(sql, params).rowcount for sql, params in statements]

        return list(await self._submit(op))

    async def setup(self, script: str) -> None:
        """Run DDL (``CREATE ... IF NOT EXISTS``) on the writer, outside any transaction."""
        await self._call(lambda: self._connection.executescript(script))

    dialect = "sqlite"

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
        if version not in (0, Q.SCHEMA_VERSION):
            conn.close()
            raise RuntimeError(
                f"{self.path}: inbox schema version {version} is newer than this release "
                f"understands ({Q.SCHEMA_VERSION})"
            )
        problems = [" ".join(str(row[0]).split()) for row in conn.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            # Said now, at start, rather than by the first read that meets the damage.
            conn.close()
            raise RuntimeError(
                f"{self.path}: the inbox fails SQLite's integrity check "
                f"({'; '.join(problems)}); restore it from a backup or move it aside"
            )
        conn.executescript(Q.SCHEMA)
        conn.execute(f"PRAGMA user_version={Q.SCHEMA_VERSION}")
        self._conn = conn

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
        return claimed, _next_due(conn, now)

    def _claim(self, conn: sqlite3.Connection, now: float, limit: int) -> list[Delivery]:
        rows = conn.execute(Q.CLAIM, {"now": now, "limit": limit}).fetchall()
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

    def _connect_reader(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA busy_timeout=5000")
        self._reader_conn = conn

    def _checkpoint(self) -> None:
        if self._reader_conn is None:
            return
        # PASSIVE: copy what no reader still needs, never wait for or block the writer.
        self._reader_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1

    def _close_reader(self) -> None:
        if self._reader_conn is not None:
            self._reader_conn.close()
            self._reader_conn = None

    def _wrote(self, pages: int) -> None:
        """Count WAL growth; start a background checkpoint when it is due and none runs."""
        self._wal_pages += pages
        if self._wal_pages < _CHECKPOINT_PAGES or self._checkpoint_running or self._reader is None:
            return
        self._wal_pages = 0
        self._checkpoint_running = True
        future = asyncio.get_running_loop().run_in_executor(self._reader, self._checkpoint)
        future.add_done_callback(self._checkpoint_done)

    def _checkpoint_done(self, future: asyncio.Future[None]) -> None:
        self._checkpoint_running = False
        if not future.cancelled() and future.exception() is not None:
            log.warning("inbox checkpoint failed", exc_info=future.exception())

    # -- plumbing: the loop queues, the writer thread commits ---------------------------------

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader is None or self._reader_conn is None:
            raise RuntimeError("inbox is not open")
        return await asyncio.get_running_loop().run_in_executor(
            self._reader, _snapshot, fn, self._reader_conn
        )

    def _call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``fn`` on the writer thread, alone and outside any transaction, in queue order."""
        return self._submit(lambda _conn: fn(), pages=0, alone=True)

    async def _transition(self, sql: str, params: tuple[Any, ...]) -> bool:
        return bool(await self._submit(lambda conn: conn.execute(sql, params).rowcount == 1))

    def _submit(
        self, op: _Op, *, durable: bool = False, pages: int = 2, alone: bool = False
    ) -> asyncio.Future[Any]:
        """Queue a write for the next group commit. ``durable`` ones are fsynced before their
        future resolves; ``pages`` estimates the WAL growth, to pace checkpoints."""
        if self._writer is None or self._loop is None:
            raise RuntimeError("inbox is not open")
        future: asyncio.Future[Any] = self._loop.create_future()
        with self._cond:
            if self._closing:
                raise RuntimeError("inbox is closing")
            self._pending.append(_Queued(op, durable, future, pages, alone, self._committing))
            if durable:
                self._pending_stores += 1
            waiting = self._waiting
            # Wake the writer only when this changes what it waits for: a wake-up per store
            # would have it fight the loop for the interpreter lock at every request.
            if waiting == "idle" or (
                durable
                and (
                    waiting == "bookkeeping"  # a 202 waits behind bookkeeping: go now
                    or (waiting == "stores" and self._pending_stores >= self.store_batch)
                )
            ):
                self._cond.notify()
        return future

    def _write_loop(self) -> None:
        """The writer thread: take what is queued, commit it as one transaction, hand the
        results back to the loop, and go again at once if more queued up meanwhile."""
        cond = self._cond
        try:
            while True:
                with cond:
                    while not self._pending:
                        if self._closing:
                            return
                        self._waiting = "idle"
                        cond.wait()
                    self._waiting = None
                    if not self._pending[0].during_commit:
                        # A write after a quiet spell waits briefly for company. Writes that
                        # queued up during a commit have waited already: they go at once.
                        self._gather()
                    batch = self._take()
                    self._committing = True
                self._execute(batch)
        finally:
            with cond:
                # Normally after close(); if an op killed the thread, refuse further writes
                # rather than queue them for nobody (close() fails what is left).
                self._closing = True
                self._committing = False
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _gather(self) -> None:
        """Linger (under ``_cond``) for more writes to share the next transaction."""
        if self._pending[0].alone:
            return
        if self._pending_stores:
            # Acknowledgements wait for this commit: a few more, briefly.
            kind: Literal["stores", "bookkeeping"] = "stores"
            seconds = self.store_linger
        else:
            # Only bookkeeping (claims, completions): nobody's 202 depends on it.
            kind, seconds = "bookkeeping", self.linger
        if seconds <= 0:
            return
        deadline = time.monotonic() + seconds
        self._waiting = kind
        try:
            while not self._closing:
                if self._pending_stores >= (self.store_batch if kind == "stores" else 1):
                    return
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)
        finally:
            self._waiting = None

    def _take(self) -> list[_Queued]:
        """The next batch (under ``_cond``): queued writes up to the next ``alone`` call, or
        that call by itself."""
        pending = self._pending
        if pending[0].alone:
            count = 1
        else:
            count = 0
            for item in pending[:_MAX_BATCH]:
                if item.alone:
                    break
                count += 1
        batch = pending[:count]
        del pending[:count]
        for item in batch:
            if item.durable:
                self._pending_stores -= 1
            if isinstance(item.op, _DoneBatch):
                item.op.sealed = True  # later completions start a new one
        return batch

    def _execute(self, batch: list[_Queued]) -> None:
        results: list[Any]
        if batch[0].alone:
            try:
                results = [batch[0].op(self._conn)]  # type: ignore[arg-type]
            except Exception as exc:
                results = [exc]
        else:
            durable = any(item.durable for item in batch)
            try:
                results = self._apply([item.op for item in batch], durable)
            except Exception as exc:  # the commit itself failed: nothing of this batch is stored
                results = [exc] * len(batch)
        assert self._loop is not None
        with self._cond:
            # Before the results go back: whatever their callers queue next finds no commit
            # running, and lingers for company as a write after a quiet spell should.
            self._committing = False
        try:
            self._loop.call_soon_threadsafe(self._deliver, batch, results)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            log.warning("inbox: %d results had no event loop to go back to", len(batch))

    def _deliver(self, batch: list[_Queued], results: list[Any]) -> None:
        """On the loop: resolve a batch's futures, then pace the checkpoints."""
        pages = 0
        for item, result in zip(batch, results, strict=True):
            pages += item.pages
            future = item.future
            if future.done():  # the caller gave up waiting; the write happened regardless
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
        if pages:
            self._wrote(pages)


class SqliteDatabase:
    """The embedded backend: one SQLite file, one process. The inbox's writer thread writes
    everything in the file (deliveries, schedules, shared state); periodic jobs run in this
    process."""

    dialect = "sqlite"

    def __init__(
        self, path: str | Path, *, settings: Settings, clock: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.inbox = Inbox(path, clock=clock)
        self.sql = self.inbox
        self.state = SharedState(self.inbox, clock)
        self.records = RecordCopies(self.inbox, clock)
        self._periodic: list[tuple[str, float, Periodic, Periodic | None]] = []
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self) -> Recovery:
        recovery = await self.inbox.open(max_attempts=self.settings.max_attempts)
        await self.state.setup()
        await self.records.setup()
        return recovery

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.inbox.close()

    def workers(self, process: Processor, *, metrics: Any = None) -> WorkerPool:
        s = self.settings
        return WorkerPool(
            self.inbox,
            process,
            concurrency=s.worker_concurrency,
            max_attempts=s.max_attempts,
            backoff_base=s.backoff_base,
            backoff_max=s.backoff_max,
            metrics=metrics,
            clock=self.clock,
        )

    def every(
        self,
        name: str,
        seconds: float,
        job: Periodic,
        *,
        at_start: bool = False,
        start_job: Periodic | None = None,
    ) -> None:
        self._periodic.append((name, seconds, job, (start_job or job) if at_start else None))

    def start_periodic(self) -> None:
        loop = asyncio.get_running_loop()
        for name, seconds, job, first in self._periodic:
            self._tasks.append(loop.create_task(_every(name, seconds, job, first), name=name))


async def _every(name: str, seconds: float, job: Periodic, first: Periodic | None) -> None:
    """``first`` runs at start (none: the first run is a period after start), then ``job``."""
    if first is None:
        await asyncio.sleep(seconds)
    while True:
        try:
            await (first or job)()
        except Exception:
            log.exception("periodic job %s failed; next run in %.0fs", name, seconds)
        first = None
        await asyncio.sleep(seconds)


class _Queued:
    """One queued operation and the future its caller awaits."""

    __slots__ = ("alone", "durable", "during_commit", "future", "op", "pages")

    def __init__(
        self,
        op: _Op,
        durable: bool,
        future: asyncio.Future[Any],
        pages: int,
        alone: bool,
        during_commit: bool,
    ) -> None:
        self.op = op
        self.durable = durable
        self.future = future
        self.pages = pages
        self.alone = alone
        self.during_commit = during_commit  # queued while the writer was committing


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

    __slots__ = ("futures", "ids", "now", "sealed")

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.futures: list[asyncio.Future[bool]] = []
        self.now = 0.0
        self.sealed = False  # taken by the writer: no more completions join it

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


def _snapshot(fn: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
    """``fn``'s statements in one read transaction: counts taken together agree with each
    other even while the writer commits between them."""
    conn.execute("BEGIN")
    try:
        return fn(conn)
    finally:
        conn.execute("COMMIT")


def _requeue(conn: sqlite3.Connection, delivery_ids: list[str] | None, now: float) -> int:
    """Parked deliveries (those named, or all) back to pending with a fresh set of attempts."""
    where = "status = 'failed'"
    params: list[Any] = [now, now]
    if delivery_ids is not None:
        where += f" AND delivery_id IN ({','.join('?' * len(delivery_ids))})"
        params += delivery_ids
    return int(
        conn.execute(
            "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?, "
            f"finished_at = NULL, updated_at = ? WHERE {where}",
            params,
        ).rowcount
    )


def requeue_parked(
    path: Path, delivery_ids: list[str] | None, *, clock: Callable[[], float] = time.time
) -> int:
    """``requeue_failed`` from another process, beside a running server (operators' command).

    One short write transaction on the database file; SQLite's lock keeps it from interleaving
    with the server's commits. It does not ``open`` an Inbox: that would run crash recovery and
    hand the running server's in-flight deliveries back to pending. The server's workers find
    the requeued deliveries at their next look (at most ``poll_interval``, 5 s, when idle).
    """
    conn = connect_wal(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            count = _requeue(conn, delivery_ids, clock())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return count
    finally:
        conn.close()


def parked(path: Path, limit: int = 100) -> list[Delivery]:
    """Parked deliveries, oldest first, read from another process (operators' command)."""
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        return _parked(conn, limit)
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []  # a database the server has not initialised yet
        raise
    finally:
        conn.close()


def parked_count(path: Path) -> int:
    """How many deliveries are parked, read from another process (operators' command)."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA busy_timeout=5000")
        row = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'failed'").fetchone()
        return int(row[0])
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise
    finally:
        conn.close()


def _parked(conn: sqlite3.Connection, limit: int) -> list[Delivery]:
    rows = conn.execute(
        f"SELECT {Q.COLUMNS} FROM deliveries AS d {Q.WITH_BODY} WHERE d.status = 'failed' "
        "ORDER BY d.seq LIMIT ?",
        (limit,),
    ).fetchall()
    return [_delivery(r) for r in rows]


def _next_due(conn: sqlite3.Connection, now: float) -> float | None:
    row = conn.execute(Q.NEXT_DUE, {"now": now}).fetchone()
    return row[0] if row else None


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
