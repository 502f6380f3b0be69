"""Deliveries missed while down take effect once, on either backend, within a catch-up of start.

The sandbox's delivery log records what GitHub tried to send while the bot was down (failed
attempts); the bot starts, reads the log and takes in what it does not hold.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import procrastinate.periodic
import pytest
from aiohttp import web
from conftest import until
from test_handlers_incidents import INCIDENT, items_of, tracking

from bot.catchup import STATE_KEY
from bot.inbox.postgres import PostgresDatabase, _served
from bot.settings import Settings
from bot.web import CATCH_UP, DATABASE, INBOX, create_app
from sandbox import Sandbox
from sandbox.record import Record

QUARTER = 900.0
LateTick = Callable[[Any], Awaitable[None]]


def pin_periodic_clock(monkeypatch: pytest.MonkeyPatch, past_tick: float) -> None:
    """Run procrastinate's periodic deferrer on a clock ``past_tick`` seconds after a
    quarter-hour tick (advancing with the real one), whatever the time of day it really is."""
    now = time.time()
    shift = now % QUARTER - past_tick
    monkeypatch.setattr(
        procrastinate.periodic, "time", SimpleNamespace(time=lambda: time.time() - shift)
    )


def missed_incident(sandbox: Sandbox, repo: str) -> tuple[Record, dict[str, Any]]:
    """An incident opened while the bot was down: GitHub's delivery ``missed-open`` of its
    ``opened`` event failed (502). Returns the issue and that event."""
    issue = sandbox.open_issue(repo, title="Outage", body=INCIDENT, labels=("incident",))
    opened = sandbox.issue_event(repo, issue["number"], "opened")
    sandbox.world.record_delivery("issues", opened, guid="missed-open", status_code=502)
    return issue, opened


async def caught_up(app: web.Application) -> None:
    """Wait until the app's catch-up has run once."""

    async def ran() -> bool:
        return await app[CATCH_UP].last() is not None

    await until(ran, within=20)


@pytest.fixture(params=["sqlite", "postgresql"])
def catch_up(
    request: pytest.FixtureRequest,
    settings: Settings,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Settings, LateTick]:
    """The settings of a bot that catches up at start, and ``late_tick(app)``: on PostgreSQL,
    the tick before the start deferred late (as by a worker that starts within ten minutes of a
    tick nobody deferred, every process being down then), after the start's catch-up ran, and
    waited for. The next tick is 14 minutes away, so no other catch-up runs during the test."""
    overrides: dict[str, Any] = {
        "api_url": settings.api_url,
        "catch_up_interval": QUARTER,
        "queue_poll_interval": 0.05,
        "queue_heartbeat": 0.5,
    }

    async def nothing_late(app: Any) -> None:
        pass

    if request.param == "sqlite":
        return make_settings(**overrides), nothing_late
    overrides["database_url"] = request.getfixturevalue("postgres_url")
    pin_periodic_clock(monkeypatch, past_tick=60.0)
    released = asyncio.Event()
    deferrer = procrastinate.periodic.PeriodicDeferrer.worker

    async def held_deferrer(self: Any) -> None:
        await released.wait()
        await deferrer(self)

    monkeypatch.setattr(procrastinate.periodic.PeriodicDeferrer, "worker", held_deferrer)

    async def late_tick(app: Any) -> None:
        released.set()
        sql = app[DATABASE].sql

        async def served() -> bool:
            deferred = await sql.fetch(
                "SELECT count(*) FROM procrastinate_periodic_defers WHERE periodic_id = :id",
                {"id": "catch-up"},
            )
            waiting = await sql.fetch(
                "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = 'periodic' "
                "AND status IN ('todo', 'doing')"
            )
            return deferred[0][0] == 1 and waiting[0][0] == 0

        await until(served, within=20)

    return make_settings(**overrides), late_tick


async def test_failed_deliveries_are_taken_in_once(
    sandbox: Sandbox,
    repo: str,
    catch_up: tuple[Settings, LateTick],
    aiohttp_client: Callable[..., Any],
) -> None:
    catch_up_settings, late_tick = catch_up
    world = sandbox.world
    # While the bot was down: an incident opened (GitHub got a 502), and an edit that failed and
    # was then redelivered by hand with success (received: nothing to recover).
    issue, opened = missed_incident(sandbox, repo)
    world.record_delivery("issues", opened, guid="missed-open", status_code=504, redelivery=True)
    edited = sandbox.issue_event(repo, issue["number"], "edited")
    world.record_delivery("issues", edited, guid="got-later", status_code=502)
    world.record_delivery("issues", edited, guid="got-later", status_code=202, redelivery=True)
    world.record_delivery("ping", {"zen": "hi"}, guid="a-ping", status_code=200)

    client = await aiohttp_client(create_app(catch_up_settings))
    app = client.server.app

    await caught_up(app)
    await late_tick(app)
    last = await app[CATCH_UP].last()
    assert last is not None and last["error"] is None
    assert last["recovered"] == ["missed-open"] and last["recovered_count"] == 1
    # Failed and not held: the one it had to take in (the other was redelivered with success).
    assert last["failed"] == 1

    async def processed() -> bool:
        stats = await app[INBOX].stats()
        return stats.pending == 0 and await app[INBOX].holds(["missed-open"]) == {"missed-open"}

    await until(processed, within=20)
    assert len(items_of(sandbox, repo)) == 3
    assert len(tracking(sandbox, repo, issue["number"])) == 1
    stored = await app[INBOX].get("missed-open")
    assert stored is not None and stored.status == "done" and stored.event == "issues"

    health = await (await client.get("/healthz")).json()
    assert health["catch_up"]["recovered_count"] == 1
    metrics = await (await client.get("/metrics")).text()
    assert "hardening_catch_up_recovered_total 1" in metrics

    # Again: all held now, and the walk stops where the last one did (with its overlap).
    sandbox.reset_calls()
    again = await app[CATCH_UP].run()
    assert again.recovered == [] and again.error is None
    reads = [c for c in sandbox.calls if c.path.startswith("/app/hook/deliveries/")]
    assert reads == []
    assert (await app[DATABASE].state.get(STATE_KEY))["recovered_count"] == 0
    await asyncio.sleep(0)


async def test_a_period_runs_once_however_its_run_was_asked_for(
    make_settings: Callable[..., Settings], postgres_url: str
) -> None:
    """A start's run serves a tick deferred late (every process was down at the tick); a
    later tick runs."""
    database = PostgresDatabase(postgres_url, settings=make_settings(database_url=postgres_url))
    runs: list[float] = []

    async def job() -> None:
        runs.append(time.time())

    database.every("probe", QUARTER, job, at_start=True)
    run = database.app.tasks["hardening.periodic.probe"].func
    await database.open()
    try:
        started = time.time()
        await run(requested_at=started)  # the start's
        assert len(runs) == 1
        await run(timestamp=int(started - 60))  # the tick before the start, deferred late
        await run(requested_at=started - 1)  # another replica's start, before the run began
        assert len(runs) == 1
        await run(timestamp=int(time.time()) + 1)  # the next tick
        assert len(runs) == 2
    finally:
        await database.close()


async def test_a_start_right_after_a_catch_up_keeps_what_it_recovered(
    sandbox: Sandbox,
    repo: str,
    make_settings: Callable[..., Settings],
    postgres_url: str,
    aiohttp_client: Callable[..., Any],
) -> None:
    """Two replicas restarted a moment apart: one catch-up, whose recovery stays shown."""
    settings = make_settings(
        api_url=sandbox.api_url,
        database_url=postgres_url,
        catch_up_interval=QUARTER,
        queue_poll_interval=0.05,
        queue_heartbeat=0.5,
    )
    issue, _ = missed_incident(sandbox, repo)

    # The second replica's process began before the first one's catch-up finished.
    starting = create_app(settings)
    first = await aiohttp_client(create_app(settings))

    await caught_up(first.server.app)
    second = await aiohttp_client(starting)
    await asyncio.sleep(1.0)  # the second start's run, had it been deferred, is done by now

    def log_reads() -> int:
        return [c.path for c in sandbox.calls].count("/app/hook/deliveries")

    assert log_reads() == 1
    health = await (await second.get("/healthz")).json()
    assert health["catch_up"]["recovered"] == ["missed-open"]
    assert health["catch_up"]["failed"] == 1

    # Every replica down, a delivery missed meanwhile, then one starts: it catches up.
    await first.close()
    await second.close()
    edited = sandbox.issue_event(repo, issue["number"], "edited")
    sandbox.world.record_delivery("issues", edited, guid="missed-edit", status_code=502)
    third = await aiohttp_client(create_app(settings))

    async def caught_up_again() -> bool:
        last = await third.server.app[CATCH_UP].last()
        return last is not None and last["recovered"] == ["missed-edit"]

    await until(caught_up_again, within=20)


async def test_a_run_that_finds_nothing_keeps_the_last_recovery(
    sandbox: Sandbox, repo: str, make_settings: Callable[..., Settings], aiohttp_client: Any
) -> None:
    settings = make_settings(api_url=sandbox.api_url, catch_up_interval=QUARTER)
    missed_incident(sandbox, repo)
    client = await aiohttp_client(create_app(settings))
    app = client.server.app

    await caught_up(app)
    first = await app[CATCH_UP].last()
    assert first is not None and first["recovered"] == ["missed-open"]
    # The next period's run: the failed delivery is still in GitHub's log, and held.
    await app[CATCH_UP].run()
    health = await (await client.get("/healthz")).json()
    report = health["catch_up"]
    assert report["failed"] == 0 and report["recovered"] == []
    assert report["last_recovery"] == {
        "at": first["at"],
        "recovered": ["missed-open"],
        "recovered_count": 1,
    }


@pytest.mark.parametrize(
    ("last", "tick", "requested_at", "served"),
    [
        ({"started_at": 100.0, "tick": None}, None, 99.5, True),  # a start after ours
        ({"started_at": 100.0, "tick": 90}, None, 99.5, True),  # a late tick after our start
        ({"started_at": 100.0, "tick": None}, None, 100.5, False),  # a start before ours
        ({"started_at": 100.0, "tick": None}, 90, None, True),  # a tick deferred late
        ({"started_at": 100.0, "tick": None}, 101, None, False),  # the next tick
        ({"started_at": 100.5, "tick": 99}, 100, None, False),  # an earlier tick run late
        ({"started_at": 100.5, "tick": 100}, 100, None, True),  # the same tick again
        ({"started_at": 100.0, "tick": None}, None, None, False),  # asked for by nothing known
        ({}, 90, None, False),
    ],
)
def test_which_run_serves_a_period(
    last: dict[str, Any], tick: int | None, requested_at: float | None, served: bool
) -> None:
    assert _served(last, tick, requested_at) is served
