"""The PostgreSQL backend: any number of ``python -m bot`` processes share one database.

The queue is procrastinate (docs/deployment.md says why it, and not pgqueuer or saq). What it
gives us, and what we add:

- A delivery is one row of ``hardening_deliveries`` (its id unique, its payload, its subject)
  and one procrastinate job naming it, inserted in the same transaction before the 202: the
  acknowledgement means both are committed. Two replicas storing the same delivery id at once
  meet on the unique index; the second finds it stored and answers ``200``.
- Per-subject order is procrastinate's ``lock``: the job's lock is the delivery's subject, and
  procrastinate runs the jobs sharing a lock one at a time in the order they were deferred,
  across every worker of every replica. A job waiting for its retry holds back the later ones
  of its subject, as in the SQLite inbox.
- Retries: our strategy (``DeliveryRetry``) gives the same exponential backoff with full jitter
  as ``bot.inbox.workers``; after the last attempt, or on ``PermanentError``, the job ends ``failed``
  and the delivery is parked, its last error kept in our row.
- A replica that dies (SIGKILL, a lost machine) stops sending its heartbeat; every replica looks
  for jobs left ``doing`` by a worker without a recent heartbeat and hands them back (procrastinate's
  stalled-job API), so its deliveries run again elsewhere. Their writes are idempotent.
- Jobs that must run once per period across replicas (the scheduler's tick, the catch-up of
  missed deliveries) are procrastinate periodic tasks: each period's run is deferred once,
  whichever replica defers it first, and their lock keeps two from overlapping.

Every table lives in the connection's ``search_path`` (the ``public`` schema unless the URL sets
``options=-csearch_path=...``). The first process to start creates what is missing, under an
advisory lock so replicas starting together do not race.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import socket
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import procrastinate
import psycopg
import psycopg_pool
from procrastinate import exceptions as pexc
from procrastinate import job_context as pjob
from procrastinate import retry as pretry
from psycopg.rows import tuple_row

from bot.context import bound_log
from bot.inbox.api import (
    Delivery,
    InboxStats,
    Periodic,
    PermanentError,
    Processor,
    RecordCopies,
    Recovery,
    SharedState,
    Status,
    error_text,
)
from bot.inbox.workers import KEEP_DONE_SECONDS
from bot.metrics import Metrics

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger("bot.inbox")

DELIVER_TASK = "hardening.deliver"
DELIVERY_QUEUE = "deliveries"
PERIODIC_QUEUE = "periodic"
# Periodic jobs (the catch-up of missed deliveries, the scheduler's tick, the purge) go ahead of
# every waiting delivery: a backlog of deliveries must not hold back the catch-up that finds
# the ones GitHub could not send. procrastinate fetches the highest priority first.
PERIODIC_PRIORITY = 100
# A delivery the catch-up took in goes ahead of the deliveries waiting (bot.catchup).
LATE_PRIORITY = 10
# Finished deliveries (and their jobs and events) are kept as long as on SQLite, then deleted
# by a periodic job, hourly, in batches of this many rows.
PURGE_EVERY = 3600.0
PURGE_BATCH = 5000
# Schema creation by the first replica to start: any constant both sides agree on.
_SETUP_LOCK = 0x4861726430  # "Hard0"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hardening_deliveries (
    seq             BIGSERIAL PRIMARY KEY,
    delivery_id     TEXT             NOT NULL UNIQUE,
    event           TEXT             NOT NULL,
    action          TEXT,
    installation_id BIGINT,
    repository      TEXT,
    subject         TEXT             NOT NULL,
    payload         BYTEA            NOT NULL,
    job_id          BIGINT,
    last_error      TEXT,
    received_at     DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS hardening_deliveries_job ON hardening_deliveries (job_id);
CREATE INDEX IF NOT EXISTS hardening_deliveries_received ON hardening_deliveries (received_at);
-- /healthz and /metrics count unfinished jobs only: finished ones, however many, are not read.
CREATE INDEX IF NOT EXISTS hardening_jobs_unfinished ON procrastinate_jobs (task_name)
    WHERE status <> 'succeeded';
"""

# procrastinate job status -> ours
_STATUS: dict[str | None, Status] = {
    "todo": "pending",
    "doing": "processing",
    "succeeded": "done",
    "failed": "failed",
    "cancelled": "failed",
    "aborted": "failed",
    None: "done",  # the job was purged after it finished
}
_FAILED = ("failed", "cancelled", "aborted")

_SELECT = """
SELECT d.seq, d.delivery_id, d.event, d.action, d.payload, d.installation_id, d.repository,
       d.subject, j.status::text, j.attempts, extract(epoch FROM j.scheduled_at), d.last_error,
       d.received_at
FROM hardening_deliveries AS d LEFT JOIN procrastinate_jobs AS j ON j.id = d.job_id
"""


# The inbox's counts for /healthz and /metrics: unfinished jobs only, read through the partial
# index ``hardening_jobs_unfinished``, so their cost does not grow with the history kept.
STATS_SQL = (
    "SELECT count(*) FILTER (WHERE j.status IN ('todo', 'doing')), "
    "count(*) FILTER (WHERE j.status = 'doing'), "
    "count(*) FILTER (WHERE j.status IN ('failed', 'cancelled', 'aborted')), "
    "min(d.received_at) FILTER (WHERE j.status IN ('todo', 'doing')) "
    "FROM procrastinate_jobs AS j JOIN hardening_deliveries AS d ON d.job_id = j.id "
    "WHERE j.task_name = :task AND j.status <> 'succeeded'"
)


def _param_style(sql: str) -> str:
    """``:name`` (both dialects' statements) to psycopg's ``%(name)s``."""
    return re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql.replace("%", "%%"))


class PostgresSql:
    """``bot.inbox.api.Sql`` on the pool."""

    dialect = "postgresql"

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool) -> None:
        self.pool = pool

    async def fetch(
        self, sql: str, params: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        async with self.pool.connection() as conn, conn.cursor(row_factory=tuple_row) as cur:
            await cur.execute(_param_style(sql), dict(params or {}))
            return await cur.fetchall()

    async def execute(self, *statements: tuple[str, Mapping[str, Any]]) -> list[int]:
        counts = []
        async with self.pool.connection() as conn, conn.transaction():
            for sql, params in statements:
                cur = await conn.execute(_param_style(sql), dict(params))
                counts.append(cur.rowcount)
        return counts

    async def setup(self, script: str) -> None:
        # Replicas starting together would race on CREATE ... IF NOT EXISTS (it is not atomic
        # in PostgreSQL): one at a time.
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            await conn.execute(script)


class DeliveryRetry(pretry.BaseRetryStrategy):
    """Full-jitter exponential backoff (as ``bot.inbox.workers.WorkerPool.backoff``), ``max_attempts``
    attempts in all, none after a ``PermanentError``. A job cut short by our own shutdown is
    handed back at once."""

    def __init__(self, max_attempts: int, base: float, ceiling: float) -> None:
        self.max_attempts = max_attempts
        self.base = base
        self.ceiling = ceiling

    def retries(self, exception: BaseException, attempt: int) -> bool:
        if isinstance(exception, (asyncio.CancelledError, pexc.JobAborted)):
            return True
        return not isinstance(exception, PermanentError) and attempt < self.max_attempts

    def delay(self, attempt: int) -> float:
        return random.random() * min(self.ceiling, self.base * 2 ** (attempt - 1))

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> pretry.RetryDecision | None:
        attempt = job.attempts + 1
        if not self.retries(exception, attempt):
            return None
        if isinstance(exception, (asyncio.CancelledError, pexc.JobAborted)):
            return pretry.RetryDecision(retry_in={"seconds": 0})
        # Typed as whole seconds, read by timedelta(**retry_in), which takes a fraction as well.
        return pretry.RetryDecision(retry_in={"seconds": self.delay(attempt)})  # type: ignore[call-overload]


class PostgresDatabase:
    """``bot.inbox.api.Database`` on PostgreSQL."""

    dialect = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        settings: Settings,
        clock: Any = time.time,
        poll_interval: float | None = None,
        heartbeat: float | None = None,
    ) -> None:
        self.url = url
        self.settings = settings
        self.clock = clock
        # Tuning for tests and small deployments; defaults suit a production replica.
        self.poll_interval = poll_interval or settings.queue_poll_interval
        self.heartbeat = heartbeat or settings.queue_heartbeat
        # A worker silent for this long is taken for dead and its jobs handed back.
        self.stalled_after = self.heartbeat * 3
        self.pool = psycopg_pool.AsyncConnectionPool(
            url,
            open=False,
            min_size=1,
            max_size=settings.worker_concurrency + 6,
            # No check on every checkout (a round trip per acknowledgement): a connection the
            # server dropped fails its one request, and the pool replaces it.
            name="hardening",
        )
        # procrastinate logs every job's start and end at INFO; our workers log what matters
        # (failures, retries, slow deliveries) with the delivery's fields.
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
        self.connector = procrastinate.PsycopgConnector()
        self.app = procrastinate.App(connector=self.connector)
        self.sql = PostgresSql(self.pool)
        self.state = SharedState(self.sql, clock)
        self.records = RecordCopies(self.sql, clock)
        self.inbox = PostgresInbox(self)
        self.retry = DeliveryRetry(
            settings.max_attempts, settings.backoff_base, settings.backoff_max
        )
        self._process: Processor | None = None
        self._metrics = Metrics()
        self._in_flight: set[str] = set()
        self._periodic: list[tuple[str, Periodic, bool]] = []
        self._listeners: list[Any] = []

        @self.app.task(name=DELIVER_TASK, queue=DELIVERY_QUEUE, pass_context=True, retry=self.retry)
        async def deliver(context: pjob.JobContext, delivery_id: str) -> None:
            await self._run(context, delivery_id)

        self.deliver = deliver
        # Housekeeping, once an hour across replicas: finished deliveries older than the
        # retention go, with their jobs and events.
        self.every("purge", PURGE_EVERY, self.purge)

    async def purge(self) -> None:
        deliveries = await self.inbox.purge_done(KEEP_DONE_SECONDS)
        periodic = await self.inbox.purge_periodic(KEEP_DONE_SECONDS)
        if deliveries or periodic:
            log.info(
                "purged %d finished deliveries and %d finished periodic jobs", deliveries, periodic
            )

    # -- lifecycle ---------------------------------------------------------------------------

    async def open(self) -> Recovery:
        await self.pool.open(wait=True, timeout=10.0)
        await self.app.open_async(pool=self.pool)
        try:
            await self._setup()
        except BaseException:
            await self.close()
            raise
        # Nothing to recover here: a dead replica's jobs are found by their stale heartbeat
        # (``_sweep``), whichever replica looks first.
        return Recovery(resumed=0, parked=0)

    async def _setup(self) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            cur = await conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL")
            row = await cur.fetchone()
            if not (row and row[0]):
                await conn.execute(self.app.schema_manager.get_schema())
            await conn.execute(_SCHEMA)
        await self.state.setup()
        await self.records.setup()

    async def close(self) -> None:
        if self.pool.closed:
            return
        with contextlib.suppress(Exception):
            await self.app.close_async()
        await self.pool.close()

    # -- workers -----------------------------------------------------------------------------

    def workers(self, process: Processor, *, metrics: Any = None) -> PostgresWorkers:
        self._process = process
        if metrics is not None:
            self._metrics = metrics
        return PostgresWorkers(self)

    def every(
        self,
        name: str,
        seconds: float,
        job: Periodic,
        *,
        at_start: bool = False,
        start_job: Periodic | None = None,
    ) -> None:
        task_name = f"hardening.periodic.{name}"
        state_key = f"periodic:{name}"

        async def run(timestamp: int | None = None, requested_at: float | None = None) -> None:
            # A period's run is asked for by its tick (``timestamp``, procrastinate's wall
            # clock) or by a process's start (``requested_at``). A worker that starts within
            # ten minutes of a tick nobody deferred (every process was down then) defers that
            # tick late, beside the run its start asked for. A run that started after this one
            # was asked for serves it, unless it was an earlier tick's run, late: skip then.
            last = await self.state.get(state_key)
            if isinstance(last, dict) and _served(last, timestamp, requested_at):
                log.info("periodic job %s: served by the run started at %s", name, last)
                return
            await self.state.put(state_key, {"started_at": time.time(), "tick": timestamp})
            if requested_at is not None and start_job is not None:
                await start_job()
            else:
                await job()

        task = self.app.task(
            name=task_name,
            queue=PERIODIC_QUEUE,
            lock=task_name,
            queueing_lock=task_name,
            priority=PERIODIC_PRIORITY,
            pass_context=False,
        )(run)
        self.app.periodic(cron=cron_every(seconds), periodic_id=name)(task)
        self._periodic.append((task_name, job, at_start))

    def start_periodic(self) -> None:
        """Defer the at-start runs now; the workers defer each period's run."""
        # Taken before any worker can start a run, so a tick's run this start's worker
        # defers counts as serving the start's (``run`` above).
        asked = time.time()
        for task_name, _job, at_start in self._periodic:
            if at_start:
                asyncio.get_running_loop().create_task(self._defer_now(task_name, asked))

    async def _defer_now(self, task_name: str, asked: float) -> None:
        task = self.app.tasks[task_name]
        try:
            await task.configure(queueing_lock=task_name).defer_async(requested_at=asked)
        except pexc.AlreadyEnqueued:
            pass  # another replica's start already asked for it
        except Exception:
            log.exception("could not defer %s at start", task_name)

    async def _run(self, context: pjob.JobContext, delivery_id: str) -> None:
        """One attempt of one delivery, inside procrastinate's worker."""
        job = context.job
        attempt = job.attempts + 1
        delivery = await self.inbox.get(delivery_id, attempt=attempt)
        if delivery is None:
            log.warning("job %s names delivery %s, which is gone", job.id, delivery_id)
            return
        if self._process is None:
            raise RuntimeError("no processor: the workers were never created")
        dlog = bound_log("bot.workers", **delivery.log_fields(), attempt=attempt)
        started = time.monotonic()
        self._in_flight.add(delivery_id)
        try:
            await self._process(delivery)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = error_text(exc)
            elapsed = time.monotonic() - started
            self._metrics.processing_seconds.observe(elapsed, event=delivery.event)
            await self.inbox.record_error(delivery_id, error)
            if self.retry.retries(exc, attempt):
                self._metrics.deliveries.inc(event=delivery.event, outcome="retry")
                dlog.warning("delivery attempt %d failed, retrying: %s", attempt, error)
            else:
                self._metrics.deliveries.inc(event=delivery.event, outcome="failed")
                dlog.error(
                    "delivery failed after %d attempt(s) and is parked: %s",
                    attempt,
                    error,
                    exc_info=exc,
                )
            raise
        finally:
            self._in_flight.discard(delivery_id)
        elapsed = time.monotonic() - started
        self._metrics.processing_seconds.observe(elapsed, event=delivery.event)
        self._metrics.deliveries.inc(event=delivery.event, outcome="done")
        level = logging.INFO if attempt > 1 else logging.DEBUG
        dlog.log(level, "delivery processed", extra={"duration_ms": round(elapsed * 1000, 1)})

    async def sweep_stalled(self) -> int:
        """Hand back the jobs of workers whose heartbeat stopped; how many."""
        manager = self.app.job_manager
        stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self.stalled_after)
        count = 0
        for job in stalled:
            try:
                await manager.retry_job(job)
            except Exception as exc:  # another replica handed it back first
                log.debug("stalled job %s not retried: %s", job.id, exc)
                continue
            count += 1
        if count:
            log.warning("handed back %d deliveries of a worker that stopped answering", count)
        await manager.prune_stalled_workers(self.stalled_after)
        return count


class PostgresInbox:
    """``bot.inbox.api.DeliveryInbox`` on PostgreSQL."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.clock = db.clock

    def add_listener(self, callback: Any) -> None:
        """Wake-ups are procrastinate's LISTEN/NOTIFY; nothing to call in-process."""

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
        async with self.db.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "INSERT INTO hardening_deliveries (delivery_id, event, action, installation_id, "
                "repository, subject, payload, received_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (delivery_id) DO NOTHING RETURNING seq",
                (
                    delivery_id,
                    event,
                    action,
                    installation_id,
                    repository,
                    subject,
                    payload,
                    self.clock(),
                ),
            )
            row = await cur.fetchone()
            if row is None:
                return False
            priority = 0
            if late and not await self._waiting(conn, subject):
                # Missed while every process was down, so older than the backlog: ahead of
                # it. Not when its subject has a delivery waiting, which is older still and
                # must run first (a higher priority passes the earlier jobs of its lock).
                priority = LATE_PRIORITY
            await self._defer(conn, row[0], delivery_id, subject, priority)
        return True

    async def _waiting(self, conn: psycopg.AsyncConnection[Any], subject: str) -> bool:
        cur = await conn.execute(
            "SELECT 1 FROM procrastinate_jobs WHERE lock = %s AND status IN ('todo', 'doing') "
            "LIMIT 1",
            (subject,),
        )
        return await cur.fetchone() is not None

    async def _defer(
        self,
        conn: psycopg.AsyncConnection[Any],
        seq: int,
        delivery_id: str,
        subject: str,
        priority: int = 0,
    ) -> None:
        job_id = await self.db.deliver.configure(
            lock=subject, connection=conn, priority=priority
        ).defer_async(delivery_id=delivery_id)
        await conn.execute(
            "UPDATE hardening_deliveries SET job_id = %s WHERE seq = %s", (job_id, seq)
        )

    async def holds(self, delivery_ids: list[str]) -> set[str]:
        if not delivery_ids:
            return set()
        rows = await self.db.sql.fetch(
            "SELECT delivery_id FROM hardening_deliveries WHERE delivery_id = ANY(:ids)",
            {"ids": list(delivery_ids)},
        )
        return {row[0] for row in rows}

    async def get(self, delivery_id: str, *, attempt: int | None = None) -> Delivery | None:
        rows = await self.db.sql.fetch(_SELECT + " WHERE d.delivery_id = :id", {"id": delivery_id})
        if not rows:
            return None
        delivery = _delivery(rows[0])
        if attempt is not None:  # as the SQLite inbox counts: this attempt included
            delivery = _replace(delivery, attempts=attempt, status="processing")
        return delivery

    async def record_error(self, delivery_id: str, error: str) -> None:
        """Keep ``error`` (``error_text``, bounded already) as the delivery's last error."""
        await self.db.sql.execute(
            (
                "UPDATE hardening_deliveries SET last_error = :error WHERE delivery_id = :id",
                {"error": error, "id": delivery_id},
            )
        )

    async def stats(self) -> InboxStats:
        rows = await self.db.sql.fetch(STATS_SQL, {"task": DELIVER_TASK})
        pending, processing, failed, oldest = rows[0]
        age = max(0.0, self.clock() - oldest) if oldest is not None else 0.0
        return InboxStats(
            pending=int(pending),
            processing=int(processing),
            failed=int(failed),
            oldest_pending_seconds=age,
        )

    async def failed(self, limit: int = 100) -> list[Delivery]:
        rows = await self.db.sql.fetch(
            _SELECT + " WHERE j.status IN ('failed', 'cancelled', 'aborted') "
            "ORDER BY d.seq LIMIT :limit",
            {"limit": limit},
        )
        return [_delivery(r) for r in rows]

    async def requeue_failed(self, delivery_id: str | None = None) -> int:
        """Parked deliveries (one, or all) get a new job, and so a fresh set of attempts."""
        where = "j.status IN ('failed', 'cancelled', 'aborted')"
        params: tuple[Any, ...] = ()
        if delivery_id is not None:
            where += " AND d.delivery_id = %s"
            params = (delivery_id,)
        async with self.db.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                "SELECT d.seq, d.delivery_id, d.subject FROM hardening_deliveries AS d "
                f"JOIN procrastinate_jobs AS j ON j.id = d.job_id WHERE {where} "
                "ORDER BY d.seq FOR UPDATE OF d",
                params,
            )
            rows = await cur.fetchall()
            for seq, did, subject in rows:
                await self._defer(conn, seq, did, subject)
        return len(rows)

    async def purge_done(self, older_than: float) -> int:
        """Forget deliveries finished more than ``older_than`` seconds ago, their jobs and the
        jobs' events (deleted with them); how many deliveries. In batches, each its own
        transaction, so a first purge of a large backlog holds no long lock."""
        cutoff = self.clock() - older_than
        return await self._in_batches(
            "WITH gone AS (DELETE FROM hardening_deliveries WHERE seq IN ("
            " SELECT d.seq FROM hardening_deliveries AS d"
            " LEFT JOIN procrastinate_jobs AS j ON j.id = d.job_id"
            " WHERE d.received_at < %s AND (j.id IS NULL OR j.status = 'succeeded')"
            " ORDER BY d.received_at LIMIT %s) RETURNING job_id), "
            "jobs AS (DELETE FROM procrastinate_jobs WHERE id IN (SELECT job_id FROM gone)) "
            "SELECT count(*) FROM gone",
            cutoff,
        )

    async def purge_periodic(self, older_than: float) -> int:
        """Forget the periodic jobs (catch-ups, scheduler ticks, purges) that finished more
        than ``older_than`` seconds ago, with their events; how many.

        procrastinate's builtin ``remove_old_jobs`` does the same for any queue, but it orders
        every job's events to find each one's latest before filtering: a scan of the whole
        history each time. This reads the periodic queue only."""
        return await self._in_batches(
            "WITH gone AS (DELETE FROM procrastinate_jobs WHERE id IN ("
            " SELECT j.id FROM procrastinate_jobs AS j"
            " WHERE j.queue_name = %s AND j.status NOT IN ('todo', 'doing')"
            " AND NOT EXISTS (SELECT 1 FROM procrastinate_events AS e"
            "  WHERE e.job_id = j.id AND e.at >= now() - make_interval(secs => %s))"
            " LIMIT %s) RETURNING id) "
            "SELECT count(*) FROM gone",
            PERIODIC_QUEUE,
            older_than,
        )

    async def _in_batches(self, statement: str, *params: Any) -> int:
        """Run ``statement`` (it deletes at most ``PURGE_BATCH`` rows, its last parameter, and
        selects how many) until a batch comes back short, each batch in a transaction of its
        own; how many rows in all."""
        purged = 0
        while True:
            async with self.db.pool.connection() as conn, conn.transaction():
                cur = await conn.execute(statement, (*params, PURGE_BATCH))
                row = await cur.fetchone()
            count = int(row[0]) if row else 0
            purged += count
            if count < PURGE_BATCH:
                return purged


class PostgresWorkers:
    """procrastinate's worker, in this process, plus the sweep for dead replicas' jobs."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self._worker: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def in_flight(self) -> frozenset[str]:
        return frozenset(self.db._in_flight)

    def notify(self) -> None:
        """New deliveries wake the workers by NOTIFY; nothing to do in-process."""

    def start(self) -> None:
        if self._worker is not None:
            return
        db = self.db
        loop = asyncio.get_running_loop()
        self._worker = loop.create_task(
            db.app.run_worker_async(
                name=f"{socket.gethostname()}-{id(self):x}",
                concurrency=db.settings.worker_concurrency,
                install_signal_handlers=False,
                fetch_job_polling_interval=db.poll_interval,
                update_heartbeat_interval=db.heartbeat,
                stalled_worker_timeout=db.stalled_after,
                shutdown_graceful_timeout=db.settings.shutdown_grace,
            ),
            name="procrastinate-worker",
        )
        self._sweeper = loop.create_task(self._sweep(), name="stalled-sweeper")

    async def _sweep(self) -> None:
        while True:
            try:
                await self.db.sweep_stalled()
            except Exception:
                log.exception("looking for stalled deliveries failed")
            await asyncio.sleep(self.db.heartbeat)

    async def stop(self, grace: float = 20.0) -> list[str]:
        """Stop fetching; in-flight deliveries get ``shutdown_grace`` s, then go back to
        ``todo`` (the retry strategy hands an aborted attempt back at once)."""
        for task in (self._sweeper, self._worker):
            if task is not None and not task.done():
                task.cancel()
        for task in (self._sweeper, self._worker):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._worker = self._sweeper = None
        interrupted = sorted(self.db._in_flight)  # cancelled after the grace, handed back
        self.db._in_flight.clear()
        return interrupted


def _served(last: dict[str, Any], tick: int | None, requested_at: float | None) -> bool:
    """Whether the last run of a periodic job (``started_at``, and its ``tick`` or none when a
    start asked for it) serves a run asked for by ``tick`` or at ``requested_at``."""
    started = last.get("started_at")
    if not isinstance(started, int | float):
        return False
    if requested_at is not None:
        return started >= requested_at
    if tick is None:
        return False
    served_tick = last.get("tick")
    return started >= tick and (not isinstance(served_tick, int) or served_tick >= tick)


def cron_every(seconds: float) -> str:
    """A cron line for "every ``seconds``" (procrastinate reads a sixth field as seconds)."""
    whole = max(1, round(seconds))
    if whole < 60:
        return f"*/{whole} * * * * *"
    minutes = max(1, round(whole / 60))
    if minutes < 60:
        return f"*/{minutes} * * * *"
    return f"0 */{max(1, round(minutes / 60))} * * *"


def _delivery(row: tuple[Any, ...]) -> Delivery:
    status = _STATUS.get(row[8], "failed")
    attempts = int(row[9] or 0)
    return Delivery(
        seq=int(row[0]),
        delivery_id=row[1],
        event=row[2],
        action=row[3],
        payload=bytes(row[4]),
        installation_id=row[5],
        repository=row[6],
        subject=row[7],
        status=status,
        attempts=attempts,
        next_attempt_at=float(row[10]) if row[10] is not None else float(row[12]),
        last_error=row[11],
        received_at=float(row[12]),
    )


def _replace(delivery: Delivery, **changes: Any) -> Delivery:
    import dataclasses

    return dataclasses.replace(delivery, **changes)
