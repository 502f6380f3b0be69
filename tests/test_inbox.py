"""The durable inbox: store once, claim in subject order, retry, park, recover after a crash."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from conftest import Clock, claim, mark_done, next_due

from bot.inbox.sqlite import Inbox, _DoneBatch


async def put(inbox: Inbox, delivery_id: str, subject: str = "o/r#1") -> bool:
    return await inbox.store(
        delivery_id, "issues", b'{"action": "opened"}', subject=subject, action="opened"
    )


async def test_store_is_idempotent_by_delivery_id(inbox: Inbox) -> None:
    assert await put(inbox, "d1") is True
    assert await put(inbox, "d1") is False
    assert (await inbox.stats()).pending == 1
    stored = await inbox.get("d1")
    assert stored is not None
    assert stored.status == "pending" and stored.attempts == 0
    assert stored.data() == {"action": "opened"}
    assert stored.action == "opened" and stored.subject == "o/r#1"


async def test_concurrent_duplicates_in_one_batch(inbox: Inbox) -> None:
    results = await asyncio.gather(*(put(inbox, "same") for _ in range(20)))
    assert results.count(True) == 1
    assert (await inbox.stats()).pending == 1


async def test_many_concurrent_stores_all_land(inbox: Inbox) -> None:
    results = await asyncio.gather(*(put(inbox, f"d{i}", f"o/r#{i % 7}") for i in range(300)))
    assert all(results)
    assert (await inbox.stats()).pending == 300


async def test_wal_and_synchronous(inbox: Inbox, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "inbox.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


async def test_listener_called_for_new_deliveries_only(inbox: Inbox) -> None:
    calls: list[int] = []
    inbox.add_listener(lambda: calls.append(1))
    await put(inbox, "a")
    await put(inbox, "a")
    assert calls == [1]


async def test_claim_one_per_subject_oldest_first(inbox: Inbox) -> None:
    for delivery_id, subject in [("a1", "A"), ("b1", "B"), ("a2", "A"), ("c1", "C"), ("b2", "B")]:
        await put(inbox, delivery_id, subject)
    claimed = await claim(inbox, 10)
    assert [d.delivery_id for d in claimed] == ["a1", "b1", "c1"]
    assert all(d.status == "processing" and d.attempts == 1 for d in claimed)
    # subjects A and B are in flight: nothing more to claim
    assert await claim(inbox, 10) == []
    await mark_done(inbox, "a1")
    assert [d.delivery_id for d in await claim(inbox, 10)] == ["a2"]
    await mark_done(inbox, "b1")
    assert [d.delivery_id for d in await claim(inbox, 10)] == ["b2"]


async def test_claim_respects_limit(inbox: Inbox) -> None:
    for i in range(5):
        await put(inbox, f"d{i}", f"s{i}")
    assert [d.delivery_id for d in await claim(inbox, 2)] == ["d0", "d1"]
    assert await claim(inbox, 0) == []


async def test_retry_holds_back_later_deliveries_of_its_subject(inbox: Inbox, clock: Clock) -> None:
    await put(inbox, "a1", "A")
    await put(inbox, "a2", "A")
    await put(inbox, "b1", "B")
    assert [d.delivery_id for d in await claim(inbox, 10)] == ["a1", "b1"]
    assert await inbox.schedule_retry("a1", "GitHubBroken: 502", clock.now + 30)
    await mark_done(inbox, "b1")
    # a1 waits for its retry; a2 must not overtake it
    assert await claim(inbox, 10) == []
    assert await next_due(inbox) == clock.now + 30
    clock.now += 30
    again = await claim(inbox, 10)
    assert [(d.delivery_id, d.attempts, d.last_error) for d in again] == [
        ("a1", 2, "GitHubBroken: 502")
    ]
    await mark_done(inbox, "a1")
    assert [d.delivery_id for d in await claim(inbox, 10)] == ["a2"]


async def test_parked_delivery_unblocks_its_subject(inbox: Inbox) -> None:
    await put(inbox, "a1", "A")
    await put(inbox, "a2", "A")
    await claim(inbox, 10)
    assert await inbox.park_failed("a1", "ValueError: bad")
    stats = await inbox.stats()
    assert (stats.pending, stats.failed) == (1, 1)
    assert [d.delivery_id for d in await claim(inbox, 10)] == ["a2"]
    failed = await inbox.failed()
    assert [(d.delivery_id, d.status, d.last_error) for d in failed] == [
        ("a1", "failed", "ValueError: bad")
    ]


async def test_transitions_only_from_processing(inbox: Inbox) -> None:
    await put(inbox, "a")
    assert await mark_done(inbox, "a") is False  # not claimed
    await claim(inbox, 1)
    assert await mark_done(inbox, "a") is True
    assert await mark_done(inbox, "a") is False
    assert await inbox.park_failed("a", "x") is False
    assert await inbox.release("a") is False


async def test_release_does_not_count_the_attempt(inbox: Inbox) -> None:
    await put(inbox, "a")
    await claim(inbox, 1)
    assert await inbox.release("a")
    (again,) = await claim(inbox, 1)
    assert again.attempts == 1


async def test_requeue_failed(inbox: Inbox) -> None:
    await put(inbox, "a")
    await claim(inbox, 1)
    await inbox.park_failed("a", "boom")
    assert await inbox.requeue_failed() == 1
    (again,) = await claim(inbox, 1)
    assert again.attempts == 1
    assert await inbox.requeue_failed("nope") == 0


async def test_stats(inbox: Inbox, clock: Clock) -> None:
    empty = await inbox.stats()
    assert empty.as_dict() == {
        "pending": 0,
        "processing": 0,
        "failed": 0,
        "oldest_pending_seconds": 0,
    }
    await put(inbox, "a", "A")
    clock.now += 5
    await put(inbox, "b", "B")
    await claim(inbox, 1)
    clock.now += 2.5
    stats = await inbox.stats()
    assert (stats.pending, stats.processing, stats.failed) == (2, 1, 0)
    assert stats.oldest_pending_seconds == 7.5


async def test_purge_done_keeps_failed_and_pending(inbox: Inbox, clock: Clock) -> None:
    for name in ("done", "failed", "pending"):
        await put(inbox, name, name)
    await claim(inbox, 2)
    await mark_done(inbox, "done")
    await inbox.park_failed("failed", "x")
    clock.now += 100
    assert await inbox.purge_done(older_than=50) == 1
    assert await inbox.get("done") is None
    assert await inbox.get("failed") is not None
    assert await inbox.get("pending") is not None


async def test_crash_recovery_resets_processing(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "crash.db"
    first = Inbox(path, clock=clock)
    await first.open(max_attempts=3)
    await put(first, "a", "A")
    await put(first, "b", "B")
    await put(first, "c", "C")
    await claim(first, 2)
    await mark_done(first, "b")
    # Simulate a crash: the connection goes away without any cleanup of 'processing' rows.
    await first.close()

    second = Inbox(path, clock=clock)
    recovery = await second.open(max_attempts=3)
    assert (recovery.resumed, recovery.parked) == (1, 0)
    assert (await second.get("a")).status == "pending"  # type: ignore[union-attr]
    assert (await second.get("b")).status == "done"  # type: ignore[union-attr]
    assert [d.delivery_id for d in await claim(second, 10)] == ["a", "c"]
    await second.close()


async def test_crash_on_last_attempt_parks(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "poison.db"
    box = Inbox(path, clock=clock)
    await box.open(max_attempts=2)
    await put(box, "poison")
    for _ in range(2):
        await claim(box, 1)
        await box.close()
        box = Inbox(path, clock=clock)
        recovery = await box.open(max_attempts=2)
    assert (recovery.resumed, recovery.parked) == (0, 1)
    parked = await box.get("poison")
    assert parked is not None and parked.status == "failed"
    assert "interrupted" in (parked.last_error or "")
    await box.close()


async def test_bad_row_does_not_fail_its_batch(inbox: Inbox) -> None:
    good = put(inbox, "good")
    bad = inbox.store("bad", None, b"{}", subject="s")  # type: ignore[arg-type]
    results = await asyncio.gather(good, bad, return_exceptions=True)
    assert results[0] is True
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert (await inbox.stats()).pending == 1


async def test_not_open(tmp_path: Path) -> None:
    box = Inbox(tmp_path / "x.db")
    with pytest.raises(RuntimeError, match="not open"):
        await box.stats()
    await box.open()
    with pytest.raises(RuntimeError, match="already open"):
        await box.open()
    await box.close()
    await box.close()  # idempotent


async def test_creates_parent_directory(tmp_path: Path) -> None:
    box = Inbox(tmp_path / "var" / "deep" / "bot.db")
    await box.open()
    assert await put(box, "x")
    await box.close()
    assert (tmp_path / "var" / "deep" / "bot.db").exists()


async def test_poll_claims_and_reports_the_next_retry(inbox: Inbox, clock: Clock) -> None:
    await put(inbox, "a", "A")
    await put(inbox, "b", "B")
    claimed, due = await inbox.poll(1)
    assert [d.delivery_id for d in claimed] == ["a"] and due == clock.now  # maybe more now
    claimed, due = await inbox.poll(5)
    assert [d.delivery_id for d in claimed] == ["b"] and due is None
    await inbox.schedule_retry("b", "x", clock.now + 9)
    assert await inbox.poll(5) == ([], clock.now + 9)


async def test_done_queued_without_waiting_frees_the_subject_for_the_next_claim(
    inbox: Inbox,
) -> None:
    await put(inbox, "a1", "A")
    await put(inbox, "a2", "A")
    (first,) = await claim(inbox, 5)
    done = inbox.mark_done_soon(first.delivery_id)
    claimed = await claim(inbox, 5)  # queued behind the done: sees subject A free
    assert await done is True
    assert [d.delivery_id for d in claimed] == ["a2"]


async def test_payloads_survive_status_changes(inbox: Inbox) -> None:
    body = b'{"big": "' + b"x" * 50_000 + b'"}'
    await inbox.store("big", "issues", body, subject="s")
    (claimed,) = await claim(inbox, 1)
    assert claimed.payload == body
    await mark_done(inbox, "big")
    stored = await inbox.get("big")
    assert stored is not None and stored.payload == body and stored.status == "done"


async def test_checkpoints_run_in_the_background(inbox: Inbox, tmp_path: Path) -> None:
    body = b'{"pad": "' + b"x" * 40_000 + b'"}'  # ~10 pages each
    for i in range(150):
        await inbox.store(f"d{i}", "issues", body, subject=f"s{i}")
    for _ in range(200):
        if inbox.checkpoints:
            break
        await asyncio.sleep(0.01)
    assert inbox.checkpoints >= 1


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    box = Inbox(path)
    with pytest.raises(RuntimeError, match="schema version 99"):
        await box.open()
    await box.close()


async def test_purge_done_in_chunks(
    inbox: Inbox, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.inbox

    monkeypatch.setattr(bot.inbox.sqlite, "_PURGE_CHUNK", 2)
    for i in range(5):
        await put(inbox, f"d{i}", f"s{i}")
    await claim(inbox, 5)
    for i in range(5):
        await mark_done(inbox, f"d{i}")
    clock.now += 10
    assert await inbox.purge_done(older_than=5) == 5
    assert (await inbox.stats()).pending == 0
    assert await inbox.get("d4") is None


async def test_one_batch_of_mixed_new_and_known_ids_keeps_each_body_with_its_id(
    inbox: Inbox,
) -> None:
    await put(inbox, "known")
    ids = ["a", "known", "b", "a", "c"]
    results = await asyncio.gather(
        *(inbox.store(i, "issues", f'{{"id": "{i}"}}'.encode(), subject=i) for i in ids)
    )
    assert results == [True, False, True, False, True]
    for delivery_id in ("a", "b", "c"):
        stored = await inbox.get(delivery_id)
        assert stored is not None and stored.data() == {"id": delivery_id}


async def test_stores_arriving_together_share_one_commit(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits: list[int] = []
    apply = inbox._apply

    def counting(ops: list, durable: bool) -> list:
        if durable:
            commits.append(len(ops))
        return apply(ops, durable)

    monkeypatch.setattr(inbox, "_apply", counting)

    # Stores that arrive within the linger, one event-loop turn apart, as a burst would.
    async def staggered(i: int) -> bool:
        await asyncio.sleep(0)
        return await put(inbox, f"s{i}", f"o/r#{i}")

    assert all(await asyncio.gather(*(staggered(i) for i in range(10))))
    assert commits == [10]


async def test_a_full_batch_does_not_wait_for_the_linger(tmp_path: Path, clock: Clock) -> None:
    inbox = Inbox(tmp_path / "inbox.db", clock=clock, store_linger=30.0, store_batch=5)
    await inbox.open()
    try:
        # With a 30 s linger, only a full batch can make these return within the timeout.
        results = await asyncio.wait_for(
            asyncio.gather(*(put(inbox, f"f{i}", f"o/r#{i}") for i in range(5))), timeout=5
        )
        assert all(results)
    finally:
        await inbox.close()


async def test_reads_do_not_wait_behind_a_lingering_commit(tmp_path: Path, clock: Clock) -> None:
    inbox = Inbox(tmp_path / "inbox.db", clock=clock)
    await inbox.open()
    try:
        await put(inbox, "before")
        inbox.store_linger, inbox.store_batch = 30.0, 50
        lingering = asyncio.ensure_future(put(inbox, "lingering"))
        await asyncio.sleep(0.05)
        # The writer holds "lingering" for company; /healthz and lookups answer meanwhile,
        # from what is committed.
        stats = await asyncio.wait_for(inbox.stats(), timeout=5)
        assert stats.pending == 1
        assert await asyncio.wait_for(inbox.get("lingering"), timeout=5) is None
        assert not lingering.done()
    finally:
        await inbox.close()  # finishes the queued store before closing
    assert lingering.done() and lingering.result() is True
    reopened = Inbox(tmp_path / "inbox.db", clock=clock)
    await reopened.open()
    try:
        assert (await reopened.stats()).pending == 2
    finally:
        await reopened.close()


async def test_completions_queued_while_a_batch_commits_land_in_the_next(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        await put(inbox, f"d{i}", f"o/r#{i}")
    claimed = await claim(inbox, 3)
    entered, release = threading.Event(), threading.Event()
    sizes: list[int] = []
    apply = inbox._apply

    def gated(ops: list, durable: bool) -> list:
        for op in ops:
            if isinstance(op, _DoneBatch):
                sizes.append(len(op.ids))
                if not entered.is_set():
                    entered.set()
                    release.wait(5)  # hold the writer inside the first batch
        return apply(ops, durable)

    monkeypatch.setattr(inbox, "_apply", gated)
    first = inbox.mark_done_soon(claimed[0].delivery_id)
    assert await asyncio.to_thread(entered.wait, 5)
    # The first batch is being written: these must not join it, but start the next one.
    rest = [inbox.mark_done_soon(d.delivery_id) for d in claimed[1:]]
    release.set()
    assert await first is True
    assert await asyncio.gather(*rest) == [True, True]
    assert sizes == [1, 2]
    assert (await inbox.stats()).pending == 0


async def test_writes_are_refused_once_closing_and_none_is_left_hanging(
    tmp_path: Path, clock: Clock
) -> None:
    inbox = Inbox(tmp_path / "inbox.db", clock=clock)
    await inbox.open()
    await put(inbox, "d1")
    (claimed,) = await claim(inbox, 1)
    closing = asyncio.ensure_future(inbox.close())
    await asyncio.sleep(0)  # close() has begun: the writer is told to stop
    with pytest.raises(RuntimeError, match="closing"):
        inbox.mark_done_soon(claimed.delivery_id)
    with pytest.raises(RuntimeError, match="closing"):
        await put(inbox, "d2")
    await closing
    # The refused completion left nothing behind that a later one would join and wait on.
    await inbox.open()
    try:
        (again,) = await claim(inbox, 1)
        assert await asyncio.wait_for(inbox.mark_done_soon(again.delivery_id), timeout=5)
    finally:
        await inbox.close()
