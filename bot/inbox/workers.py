"""The SQLite backend's worker pool: processes stored deliveries, concurrently across subjects, in
order within one. (The PostgreSQL backend runs deliveries in procrastinate's workers instead,
``bot.inbox.postgres``.)

Ordering comes from the inbox (``Inbox.poll`` never hands out two deliveries of one subject);
the pool adds concurrency, retries and shutdown:

- A failed attempt is retried with exponential backoff and full jitter (a uniform delay in
  ``[0, min(max, base * 2**(attempt-1)))``), so many deliveries failing on one GitHub outage do
  not come back in lockstep. After the last attempt the delivery is parked as ``failed`` with its
  error: logged at ERROR (and so sent to Sentry), counted in ``/metrics``, visible in
  ``/healthz``, and kept in the inbox to be requeued. Nothing is dropped.
- On shutdown the pool stops claiming, gives in-flight deliveries ``grace`` seconds, then cancels
  the rest and hands them back as pending; their writes are idempotent, so running them again
  after the restart completes them without doing anything twice.

``process(delivery)`` is injected; web.py supplies the real one (event -> handlers).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random as _random
import time
from collections.abc import Callable
from typing import Protocol

from bot.context import bound_log
from bot.inbox.api import Delivery, PermanentError, Processor, error_text
from bot.metrics import Metrics, event_label

# The name operators filter the logs by; it predates the module's home in the inbox package.
log = logging.getLogger("bot.workers")

# Done deliveries are kept this long so GitHub redeliveries are recognised as duplicates.
KEEP_DONE_SECONDS = 14 * 24 * 3600.0
_PURGE_EVERY = 3600.0


class Claims(Protocol):
    """What the pool asks of the inbox it runs (``bot.inbox.sqlite.Inbox``): claims, the outcome
    of each attempt, and a wake-up when a delivery is stored."""

    clock: Callable[[], float]

    def add_listener(self, callback: Callable[[], None]) -> None: ...

    async def poll(self, limit: int) -> tuple[list[Delivery], float | None]: ...

    def mark_done_soon(self, delivery_id: str) -> asyncio.Future[bool]: ...

    async def schedule_retry(
        self, delivery_id: str, error: str, next_attempt_at: float
    ) -> bool: ...

    async def park_failed(self, delivery_id: str, error: str) -> bool: ...

    async def release(self, delivery_id: str) -> bool: ...

    async def purge_done(self, older_than: float) -> int: ...


class WorkerPool:
    """Runs ``process`` over the inbox. ``clock`` and ``random`` are injectable for tests.

    The pool never sleeps a fixed time: it waits for a wake-up (a new delivery, a finished one)
    or until the next retry falls due by ``clock``, so tests drive it with a fake clock and
    ``notify()``.
    """

    def __init__(
        self,
        inbox: Claims,
        process: Processor,
        *,
        concurrency: int = 4,
        max_attempts: int = 8,
        backoff_base: float = 2.0,
        backoff_max: float = 600.0,
        metrics: Metrics | None = None,
        clock: Callable[[], float] | None = None,
        random: Callable[[], float] = _random.random,
        poll_interval: float = 5.0,
    ) -> None:
        if concurrency < 1 or max_attempts < 1:
            raise ValueError("concurrency and max_attempts must be at least 1")
        self.inbox = inbox
        self.process = process
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.metrics = metrics if metrics is not None else Metrics()
        self.clock = clock if clock is not None else inbox.clock
        self.random = random
        self.poll_interval = poll_interval
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # Set by notify(); checked before sleeping, so a wake-up that comes while the loop is
        # busy claiming is not lost. A bare future + call_later is what asyncio.wait_for would
        # build, minus the task per sleep, which matters at thousands of deliveries a second.
        self._woken = False
        self._waiter: asyncio.Future[None] | None = None
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._last_purge = 0.0
        self._purge: asyncio.Task[int] | None = None
        inbox.add_listener(self.notify)

    # -- control -----------------------------------------------------------------------------

    def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="workers")

    def notify(self) -> None:
        """Look for claimable deliveries now (a delivery was stored, or the clock moved)."""
        self._woken = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    @property
    def in_flight(self) -> frozenset[str]:
        """Delivery ids being processed right now."""
        return frozenset(self._tasks)

    def backoff(self, attempt: int) -> float:
        """Delay before retrying after failed attempt number ``attempt`` (1-based)."""
        return self.random() * min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))

    async def stop(self, grace: float = 20.0) -> list[str]:
        """Stop claiming; wait up to ``grace`` s for in-flight work; hand back the rest.

        Returns the ids that were interrupted and left pending.
        """
        self._stopping = True
        self.notify()
        if self._runner is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        if self._purge is not None and not self._purge.done():
            self._purge.cancel()  # housekeeping; the next start picks it up again
            with contextlib.suppress(asyncio.CancelledError):
                await self._purge
        tasks = dict(self._tasks)
        if not tasks:
            return []
        _done, unfinished = await asyncio.wait(tasks.values(), timeout=grace)
        interrupted = [d for d, t in tasks.items() if t in unfinished]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        for delivery_id in interrupted:
            await self.inbox.release(delivery_id)
        if interrupted:
            log.warning(
                "shutdown: %d deliveries did not finish within %.0fs and stay pending",
                len(interrupted),
                grace,
                extra={"deliveries": interrupted},
            )
        return interrupted

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._woken = False
            try:
                timeout = await self._claim_and_spawn()
                self._maybe_purge()
            except Exception:
                # The database being briefly unavailable must not kill the pool for good.
                log.exception("worker loop failed; retrying")
                timeout = 1.0
            if self._stopping:
                break
            if timeout > 0 and not self._woken:
                self._waiter = loop.create_future()
                timer = loop.call_later(timeout, self.notify)
                try:
                    await self._waiter
                finally:
                    timer.cancel()
                    self._waiter = None

    async def _claim_and_spawn(self) -> float:
        """Start what can start; return how long to wait before looking again."""
        free = self.concurrency - len(self._tasks)
        claimed, due = await self.inbox.poll(free)
        for delivery in claimed:
            task = asyncio.get_running_loop().create_task(
                self._handle(delivery), name=f"delivery-{delivery.delivery_id}"
            )
            self._tasks[delivery.delivery_id] = task
            task.add_done_callback(functools.partial(self._task_done, delivery.delivery_id))
        if len(self._tasks) >= self.concurrency or due is None:
            return self.poll_interval  # a finishing task or a new delivery wakes us
        # Heads of busy subjects are not in ``due``, so a due time already past means a retry
        # fell due since the claim: look again almost at once.
        return min(max(due - self.clock(), 0.001), self.poll_interval)

    def _task_done(self, delivery_id: str, _task: asyncio.Task[None]) -> None:
        self._finished(delivery_id)

    def _finished(self, delivery_id: str) -> None:
        self._tasks.pop(delivery_id, None)
        self.notify()

    def _maybe_purge(self) -> None:
        now = self.clock()
        if now - self._last_purge < _PURGE_EVERY:
            return
        self._last_purge = now
        if self._purge is None or self._purge.done():
            self._purge = asyncio.get_running_loop().create_task(
                self.inbox.purge_done(KEEP_DONE_SECONDS)
            )
            self._purge.add_done_callback(_log_purge)

    # -- one delivery ------------------------------------------------------------------------

    async def _handle(self, delivery: Delivery) -> None:
        dlog = bound_log("bot.workers", **delivery.log_fields(), attempt=delivery.attempts)
        started = time.monotonic()
        try:
            await self.process(delivery)
        except asyncio.CancelledError:
            raise  # shutdown: stop() hands the delivery back
        except Exception as exc:
            try:
                await self._failed(delivery, exc, dlog, time.monotonic() - started)
            except Exception:
                # Left 'processing': it is retried after the next start, never lost.
                dlog.exception("could not record the failed attempt")
            return
        elapsed = time.monotonic() - started
        label = event_label(delivery.event)  # the event header is not signed: bounded values
        self.metrics.processing_seconds.observe(elapsed, event=label)
        self.metrics.deliveries.inc(event=label, outcome="done")
        # Not awaited: the next claim is queued behind it and sees the subject free, and the
        # slot is handed on without waiting for a commit.
        done = self.inbox.mark_done_soon(delivery.delivery_id)
        done.add_done_callback(lambda f: _log_if_failed(f, dlog))
        # Receipt is already logged at INFO by the web shell and failures at WARNING/ERROR; a
        # plain first-time success is the common case and stays at DEBUG to halve log volume.
        level = logging.INFO if delivery.attempts > 1 else logging.DEBUG
        dlog.log(level, "delivery processed", extra={"duration_ms": round(elapsed * 1000, 1)})

    async def _failed(
        self, delivery: Delivery, exc: Exception, dlog: logging.LoggerAdapter, elapsed: float
    ) -> None:
        label = event_label(delivery.event)
        self.metrics.processing_seconds.observe(elapsed, event=label)
        error = error_text(exc)
        if isinstance(exc, PermanentError) or delivery.attempts >= self.max_attempts:
            await self.inbox.park_failed(delivery.delivery_id, error)
            self.metrics.deliveries.inc(event=label, outcome="failed")
            dlog.error(
                "delivery failed after %d attempt(s) and is parked: %s",
                delivery.attempts,
                error,
                exc_info=exc,
            )
            return
        delay = self.backoff(delivery.attempts)
        await self.inbox.schedule_retry(delivery.delivery_id, error, self.clock() + delay)
        self.metrics.deliveries.inc(event=label, outcome="retry")
        dlog.warning(
            "delivery attempt %d failed, retrying in %.1fs: %s",
            delivery.attempts,
            delay,
            error,
            exc_info=exc,
            extra={"retry_in": round(delay, 3)},
        )


def _log_if_failed(future: asyncio.Future[bool], dlog: logging.LoggerAdapter) -> None:
    if not future.cancelled() and future.exception() is not None:
        # Its effects are applied; left 'processing', it reruns (harmlessly) at next start.
        dlog.error("could not record delivery as done", exc_info=future.exception())


def _log_purge(task: asyncio.Task[int]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("purging finished deliveries failed", exc_info=exc)
    elif task.result():
        log.info("purged %d finished deliveries", task.result())
