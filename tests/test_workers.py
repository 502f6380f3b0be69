"""The worker pool: concurrent across subjects, ordered within one, retried, parked, drained."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from conftest import Clock, until

from bot.inbox import Delivery, Inbox, PermanentError
from bot.inbox.workers import WorkerPool
from bot.metrics import Metrics


async def put(inbox: Inbox, delivery_id: str, subject: str) -> None:
    assert await inbox.store(delivery_id, "issues", b"{}", subject=subject, action="opened")


async def drained(inbox: Inbox, pool: WorkerPool) -> bool:
    return (await inbox.stats()).pending == 0 and not pool.in_flight


async def test_ordered_within_subject_concurrent_across(inbox: Inbox) -> None:
    running: dict[str, int] = {}
    order: dict[str, list[str]] = {}
    peak = 0

    async def process(delivery: Delivery) -> None:
        nonlocal peak
        subject = delivery.subject
        assert running.get(subject, 0) == 0, "two deliveries of one subject in flight"
        running[subject] = 1
        peak = max(peak, sum(running.values()))
        await asyncio.sleep(0.003)
        order.setdefault(subject, []).append(delivery.delivery_id)
        running[subject] = 0

    pool = WorkerPool(inbox, process, concurrency=4)
    pool.start()
    expected: dict[str, list[str]] = {}
    for i in range(40):
        subject = f"o/r#{i % 5}"
        await put(inbox, f"d{i:02}", subject)
        expected.setdefault(subject, []).append(f"d{i:02}")
    await until(lambda: drained(inbox, pool))
    await pool.stop()
    assert order == expected
    assert peak > 1, "different subjects should be processed concurrently"
    assert peak <= 4


async def test_retry_with_backoff_then_success(inbox: Inbox, clock: Clock) -> None:
    attempts: list[int] = []

    async def process(delivery: Delivery) -> None:
        attempts.append(delivery.attempts)
        if delivery.attempts < 3:
            raise RuntimeError(f"GitHub down ({delivery.attempts})")

    metrics = Metrics()
    pool = WorkerPool(
        inbox,
        process,
        max_attempts=3,
        backoff_base=10.0,
        backoff_max=15.0,
        random=lambda: 0.5,
        metrics=metrics,
    )
    pool.start()
    await put(inbox, "d1", "s")
    await until(lambda: _status(inbox, "d1", "pending", attempts=1))
    stored = await inbox.get("d1")
    assert stored is not None
    assert stored.next_attempt_at == clock.now + 5.0  # 0.5 * min(15, 10 * 2**0)
    assert stored.last_error == "RuntimeError: GitHub down (1)"

    clock.now += 5.0
    pool.notify()
    await until(lambda: _status(inbox, "d1", "pending", attempts=2))
    stored = await inbox.get("d1")
    assert stored is not None and stored.next_attempt_at == clock.now + 7.5  # capped at 15

    clock.now += 7.5
    pool.notify()
    await until(lambda: _status(inbox, "d1", "done", attempts=3))
    await pool.stop()
    assert attempts == [1, 2, 3]
    assert metrics.deliveries.get(event="issues", outcome="retry") == 2
    assert metrics.deliveries.get(event="issues", outcome="done") == 1
    assert metrics.processing_seconds.count(event="issues") == 3


async def test_parked_after_max_attempts_never_dropped(
    inbox: Inbox, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    async def process(delivery: Delivery) -> None:
        raise ValueError("handler bug")

    metrics = Metrics()
    pool = WorkerPool(inbox, process, max_attempts=2, random=lambda: 0.0, metrics=metrics)
    caplog.set_level(logging.WARNING, logger="bot.workers")
    pool.start()
    await put(inbox, "d1", "s")
    await put(inbox, "d2", "s")
    await until(lambda: _status(inbox, "d1", "failed", attempts=2))
    # the next delivery of the subject is not held back by a parked one
    await until(lambda: _status(inbox, "d2", "failed", attempts=2))
    await pool.stop()
    stats = await inbox.stats()
    assert (stats.pending, stats.failed) == (0, 2)
    assert metrics.deliveries.get(event="issues", outcome="failed") == 2
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and errors[0].delivery == "d1"  # type: ignore[attr-defined]
    assert "parked" in errors[0].getMessage() and "handler bug" in errors[0].getMessage()
    assert errors[0].exc_info is not None


async def test_permanent_error_parks_at_once(inbox: Inbox) -> None:
    async def process(delivery: Delivery) -> None:
        raise PermanentError("payload can never be processed")

    pool = WorkerPool(inbox, process, max_attempts=5)
    pool.start()
    await put(inbox, "d1", "s")
    await until(lambda: _status(inbox, "d1", "failed", attempts=1))
    await pool.stop()


def test_backoff_is_full_jitter() -> None:
    values = iter([0.0, 0.999, 0.5, 1.0])
    pool = WorkerPool.__new__(WorkerPool)
    pool.random = lambda: next(values)
    pool.backoff_base, pool.backoff_max = 2.0, 60.0
    assert pool.backoff(1) == 0.0
    assert pool.backoff(3) == pytest.approx(0.999 * 8.0)
    assert pool.backoff(10) == 30.0  # 0.5 * min(60, 1024)
    assert pool.backoff(2) == 4.0


async def test_graceful_stop_finishes_quick_and_hands_back_slow(inbox: Inbox) -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def process(delivery: Delivery) -> None:
        if delivery.delivery_id == "slow":
            await release.wait()  # never set: outlives the grace period
        else:
            await asyncio.sleep(0.05)
        finished.append(delivery.delivery_id)

    pool = WorkerPool(inbox, process, concurrency=4)
    pool.start()
    await put(inbox, "quick", "a")
    await put(inbox, "slow", "b")
    await until(lambda: _async(len(pool.in_flight) == 2))
    interrupted = await pool.stop(grace=0.3)
    assert interrupted == ["slow"]
    assert finished == ["quick"]
    quick, slow = await inbox.get("quick"), await inbox.get("slow")
    assert quick is not None and quick.status == "done"
    assert slow is not None and slow.status == "pending"
    assert slow.attempts == 0  # our interruption is not the delivery's failure


async def test_stop_stops_claiming(inbox: Inbox) -> None:
    seen: list[str] = []

    async def process(delivery: Delivery) -> None:
        seen.append(delivery.delivery_id)

    pool = WorkerPool(inbox, process)
    pool.start()
    await pool.stop()
    await put(inbox, "late", "s")
    await asyncio.sleep(0.05)
    assert seen == []
    assert (await inbox.stats()).pending == 1


async def test_new_delivery_wakes_the_pool(inbox: Inbox) -> None:
    done = asyncio.Event()

    async def process(delivery: Delivery) -> None:
        done.set()

    # A long poll interval proves the wake-up comes from the store, not from polling.
    pool = WorkerPool(inbox, process, poll_interval=60.0)
    pool.start()
    await asyncio.sleep(0.01)
    await put(inbox, "d", "s")
    await asyncio.wait_for(done.wait(), 2.0)
    await pool.stop()


def test_invalid_configuration(tmp_path: Path) -> None:
    async def process(delivery: Delivery) -> None:
        return None

    with pytest.raises(ValueError):
        WorkerPool(Inbox(tmp_path / "x.db"), process, concurrency=0)


async def _status(inbox: Inbox, delivery_id: str, status: str, *, attempts: int) -> bool:
    found = await inbox.get(delivery_id)
    return found is not None and found.status == status and found.attempts == attempts


async def _async(value: bool) -> bool:
    return value
