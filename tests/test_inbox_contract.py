"""One behaviour, two backends: the inbox's promises, run against SQLite and PostgreSQL alike.

Everything here goes through ``bot.inbox.api`` only (open_database, store, the workers, stats,
failed, requeue, the shared state), so a backend that passes it can stand in for the other.
Backend-specific mechanics (the SQLite writer thread, procrastinate's jobs) have their own tests.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from conftest import until

from bot.inbox import Database, Delivery, PermanentError, open_database
from bot.settings import Settings


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> Settings:
    overrides: dict[str, Any] = {"queue_poll_interval": 0.05, "queue_heartbeat": 0.5}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    return make_settings(**overrides)


@pytest.fixture
async def database(backend_settings: Settings) -> AsyncIterator[Database]:
    db = open_database(backend_settings)
    await db.open()
    yield db
    await db.close()


class Recorder:
    """A processor that records what it ran, failing as told."""

    def __init__(self) -> None:
        self.runs: list[tuple[str, int]] = []
        self.fail: dict[str, int] = {}  # delivery id -> attempts that fail
        self.permanent: set[str] = set()

    async def __call__(self, delivery: Delivery) -> None:
        self.runs.append((delivery.delivery_id, delivery.attempts))
        await asyncio.sleep(0)
        if delivery.delivery_id in self.permanent:
            raise PermanentError("gone for good")
        if self.fail.get(delivery.delivery_id, 0) >= delivery.attempts:
            raise RuntimeError(f"attempt {delivery.attempts} broke")

    def done(self, delivery_id: str) -> int:
        return sum(1 for d, _ in self.runs if d == delivery_id)


async def put(db: Database, delivery_id: str, subject: str = "o/r#1") -> bool:
    return await db.inbox.store(
        delivery_id,
        "issues",
        b'{"action": "opened"}',
        subject=subject,
        action="opened",
        installation_id=7,
        repository="o/r",
    )


async def settled(db: Database) -> bool:
    stats = await db.inbox.stats()
    return stats.pending == 0


async def test_a_delivery_id_is_stored_once(database: Database) -> None:
    assert await put(database, "d1") is True
    assert await put(database, "d1") is False
    stored = await database.inbox.get("d1")
    assert stored is not None
    assert (stored.status, stored.attempts, stored.subject) == ("pending", 0, "o/r#1")
    assert stored.data() == {"action": "opened"}
    assert (stored.event, stored.action, stored.installation_id) == ("issues", "opened", 7)
    assert (await database.inbox.stats()).pending == 1
    assert await database.inbox.holds(["d1", "d2"]) == {"d1"}
    assert await database.inbox.get("d2") is None


async def test_concurrent_duplicates_store_once(database: Database) -> None:
    results = await asyncio.gather(*(put(database, "same") for _ in range(12)))
    assert results.count(True) == 1
    assert (await database.inbox.stats()).pending == 1


async def test_every_delivery_runs_once_in_subject_order(database: Database) -> None:
    recorder = Recorder()
    for i in range(5):
        for subject in ("A", "B", "C"):
            assert await put(database, f"{subject}{i}", subject)
    workers = database.workers(recorder)
    workers.start()
    try:
        await until(lambda: settled(database), within=20)
    finally:
        await workers.stop(1.0)
    by_subject: dict[str, list[str]] = defaultdict(list)
    for delivery_id, _ in recorder.runs:
        by_subject[delivery_id[0]].append(delivery_id)
    assert by_subject == {s: [f"{s}{i}" for i in range(5)] for s in "ABC"}
    done = await database.inbox.get("B4")
    assert done is not None and done.status == "done"


async def test_a_retry_keeps_its_place_in_the_subject(database: Database) -> None:
    recorder = Recorder()
    recorder.fail["a1"] = 2  # attempts 1 and 2 fail, the third succeeds
    await put(database, "a1", "A")
    await put(database, "a2", "A")
    workers = database.workers(recorder)
    workers.start()
    try:
        await until(lambda: settled(database), within=20)
    finally:
        await workers.stop(1.0)
    assert recorder.runs == [("a1", 1), ("a1", 2), ("a1", 3), ("a2", 1)]
    a1 = await database.inbox.get("a1")
    assert a1 is not None and a1.status == "done" and a1.attempts == 3
    assert a1.last_error == "RuntimeError: attempt 2 broke"


async def test_out_of_attempts_is_parked_then_requeued(database: Database) -> None:
    recorder = Recorder()
    recorder.fail["bad"] = 3  # max_attempts is 3
    recorder.permanent.add("gone")
    await put(database, "bad", "A")
    await put(database, "after", "A")
    await put(database, "gone", "B")
    workers = database.workers(recorder)
    workers.start()
    try:
        await until(lambda: settled(database), within=20)
        assert recorder.done("bad") == 3 and recorder.done("gone") == 1
        assert recorder.done("after") == 1  # a parked delivery frees its subject
        stats = await database.inbox.stats()
        assert (stats.pending, stats.failed) == (0, 2)
        parked = {d.delivery_id: d for d in await database.inbox.failed()}
        assert set(parked) == {"bad", "gone"}
        assert parked["bad"].status == "failed"
        assert parked["bad"].last_error == "RuntimeError: attempt 3 broke"
        assert parked["gone"].last_error == "PermanentError: gone for good"

        recorder.fail.clear()
        recorder.permanent.clear()
        assert await database.inbox.requeue_failed("bad") == 1
        if hasattr(workers, "notify"):
            workers.notify()
        await until(lambda: settled(database), within=20)
        assert recorder.runs[-1] == ("bad", 1)  # a fresh set of attempts
        assert [d.delivery_id for d in await database.inbox.failed()] == ["gone"]
        assert await database.inbox.requeue_failed() == 1
    finally:
        await workers.stop(1.0)


async def test_shared_state_is_kept(database: Database, backend_settings: Settings) -> None:
    assert await database.state.get("catch-up") is None
    await database.state.put("catch-up", {"recovered": 2, "at": 12.5})
    assert await database.state.bump("generation") == 1
    assert await database.state.bump("generation") == 2
    await database.close()
    again = open_database(backend_settings)
    await again.open()
    try:
        assert await again.state.get("catch-up") == {"at": 12.5, "recovered": 2}
        assert await again.state.get("generation") == 2
    finally:
        await again.close()


async def test_the_webhook_acknowledges_once_stored(
    backend_settings: Settings, aiohttp_client: Callable[..., Any]
) -> None:
    from conftest import make_deliver

    from bot.web import INBOX, create_app

    client = await aiohttp_client(create_app(backend_settings, start_workers=False))
    deliver = make_deliver(client)
    payload = {"action": "opened", "issue": {"number": 3}, "repository": {"full_name": "o/r"}}
    first = await deliver("issues", payload, delivery_id="guid-1")
    assert first.status == 202
    # Stored before the answer: visible at once, and a second delivery of it changes nothing.
    stored = await client.server.app[INBOX].get("guid-1")
    assert stored is not None and stored.status == "pending"
    again = await asyncio.gather(
        *(deliver("issues", payload, delivery_id="guid-1") for _ in range(3))
    )
    assert [r.status for r in again] == [200, 200, 200]
    assert (await client.server.app[INBOX].stats()).pending == 1
    health = await client.get("/healthz")
    assert (await health.json())["inbox"]["pending"] == 1
