"""A PostgreSQL deployment stays small and answers its health checks fast, however long it runs,
and its periodic jobs do not wait behind a backlog of deliveries.

Each test runs the real app on a schema of its own, deliveries sent through the real endpoint.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import make_deliver, make_drain, spawn, until

from bot.inbox.api import Delivery
from bot.inbox.postgres import STATS_SQL, PostgresDatabase
from bot.settings import Settings
from bot.web import CATCH_UP, DATABASE, INBOX, create_app
from sandbox import Sandbox

DAY = 86400.0
Client = Callable[..., Awaitable[TestClient[Any, Any]]]


def ping_like(n: int) -> dict[str, Any]:
    """A delivery the bot stores and processes without a GitHub call (no installation), each
    of a repository of its own (so none waits for another's lock)."""
    return {"action": "created", "repository": {"full_name": f"octo/r{n}"}}


@pytest.fixture
def pg_settings(make_settings: Callable[..., Settings], postgres_url: str) -> Settings:
    return make_settings(database_url=postgres_url, queue_poll_interval=0.05, queue_heartbeat=0.5)


@pytest.fixture
async def pg_database(pg_settings: Settings) -> AsyncIterator[PostgresDatabase]:
    """The bot's PostgreSQL database opened on the test's schema, without the app."""
    database = PostgresDatabase(pg_settings.database_url or "", settings=pg_settings)
    await database.open()
    yield database
    await database.close()


async def test_finished_deliveries_are_purged_with_their_jobs_and_events(
    pg_settings: Settings, aiohttp_client: Client
) -> None:
    async def done(delivery: Delivery) -> None:
        pass

    client = await aiohttp_client(create_app(pg_settings, process=done))
    app = client.app
    deliver = make_deliver(client)
    for n in range(3):
        response = await deliver("star", ping_like(n), delivery_id=f"d-{n}")
        assert response.status == 202
    await make_drain(app)()
    sql = app[DATABASE].sql
    # Two finished 15 days ago; the third yesterday, within the 14 days kept.
    await sql.execute(
        (
            "UPDATE hardening_deliveries SET received_at = received_at - :age "
            "WHERE delivery_id IN ('d-0', 'd-1')",
            {"age": 15 * DAY},
        ),
        (
            "UPDATE hardening_deliveries SET received_at = received_at - :age "
            "WHERE delivery_id = 'd-2'",
            {"age": DAY},
        ),
        (
            "UPDATE procrastinate_events SET at = at - interval '15 days' WHERE job_id IN "
            "(SELECT job_id FROM hardening_deliveries WHERE delivery_id IN ('d-0', 'd-1'))",
            {},
        ),
    )
    old_jobs = [
        row[0]
        for row in await sql.fetch(
            "SELECT job_id FROM hardening_deliveries WHERE delivery_id IN ('d-0', 'd-1')"
        )
    ]
    assert len(old_jobs) == 2
    events = await sql.fetch(
        "SELECT count(*) FROM procrastinate_events WHERE job_id = ANY(:ids)", {"ids": old_jobs}
    )
    assert events[0][0] >= 4

    # The hourly purge, as a worker of any replica runs it.
    task = app[DATABASE].app.tasks["hardening.periodic.purge"]
    await task.defer_async(requested_at=time.time())

    async def purged() -> bool:
        rows = await sql.fetch("SELECT delivery_id FROM hardening_deliveries ORDER BY 1")
        return [r[0] for r in rows] == ["d-2"]

    await until(purged, within=10)
    left = await sql.fetch(
        "SELECT (SELECT count(*) FROM procrastinate_jobs WHERE id = ANY(:ids)), "
        "(SELECT count(*) FROM procrastinate_events WHERE job_id = ANY(:ids))",
        {"ids": old_jobs},
    )
    assert left[0] == (0, 0)
    kept = await app[INBOX].get("d-2")
    assert kept is not None and kept.status == "done"
    # A purged id is forgotten, as on SQLite: a redelivery of it 15 days later is new.
    assert await app[INBOX].holds(["d-0", "d-1", "d-2"]) == {"d-2"}


async def test_old_periodic_jobs_are_purged_too(pg_database: PostgresDatabase) -> None:
    database = pg_database
    ran: list[str] = []

    async def job() -> None:
        ran.append("tick")

    database.every("tick", 60, job)
    sql = database.sql
    await sql.execute(
        (
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status) "
            "SELECT 'periodic', 'hardening.periodic.tick', 'succeeded' "
            "FROM generate_series(1, 3)",
            {},
        ),
    )
    await sql.execute(
        (
            "INSERT INTO procrastinate_events (job_id, type, at) "
            "SELECT id, 'succeeded', now() - CASE WHEN id = (SELECT max(id) FROM "
            "procrastinate_jobs) THEN interval '1 day' ELSE interval '15 days' END "
            "FROM procrastinate_jobs",
            {},
        ),
    )
    assert await database.inbox.purge_periodic(14 * DAY) == 2
    rows = await sql.fetch("SELECT count(*) FROM procrastinate_jobs")
    assert rows[0][0] == 1


async def test_health_counts_read_no_finished_job(pg_database: PostgresDatabase) -> None:
    database = pg_database
    # A long-running deployment: thousands of finished deliveries, two waiting.
    await database.sql.execute(
        (
            "INSERT INTO procrastinate_jobs (queue_name, task_name, status) "
            "SELECT 'deliveries', 'hardening.deliver', "
            "CASE WHEN n <= 2 THEN 'todo' ELSE 'succeeded' END::procrastinate_job_status "
            "FROM generate_series(1, 20000) AS n",
            {},
        ),
        (
            "INSERT INTO hardening_deliveries (delivery_id, event, subject, payload, "
            "job_id, received_at) SELECT 'd-' || id, 'star', 'x', '\\x7b7d', id, 0 "
            "FROM procrastinate_jobs",
            {},
        ),
    )
    await database.sql.execute(("ANALYZE procrastinate_jobs", {}))
    await database.sql.execute(("ANALYZE hardening_deliveries", {}))
    plan = "\n".join(
        row[0]
        for row in await database.sql.fetch("EXPLAIN " + STATS_SQL, {"task": "hardening.deliver"})
    )
    assert "Seq Scan" not in plan, plan
    stats = await database.inbox.stats()
    assert stats.pending == 2


async def test_catch_up_at_start_runs_ahead_of_a_backlog(
    make_settings: Callable[..., Settings],
    postgres_url: str,
    sandbox: Sandbox,
    repo: str,
    aiohttp_client: Client,
) -> None:
    settings = make_settings(
        database_url=postgres_url,
        api_url=sandbox.api_url,
        queue_poll_interval=0.05,
        queue_heartbeat=0.5,
        worker_concurrency=2,
        catch_up_interval=900.0,
    )
    # A backlog stored while no worker ran (the previous replica was stopping).
    idle = await aiohttp_client(create_app(settings, start_workers=False))
    deliver = make_deliver(idle)
    for n in range(30):
        assert (await deliver("star", ping_like(n))).status == 202
    await idle.close()
    # And one GitHub could not send while nothing ran, of a subject with nothing waiting.
    issue = sandbox.open_issue(repo, title="x", body="y")
    missed = sandbox.issue_event(repo, issue["number"], "opened")
    sandbox.world.record_delivery("issues", missed, guid="missed", status_code=502)
    processed: list[str] = []

    async def slow(delivery: Delivery) -> None:
        await asyncio.sleep(0.1)  # GitHub's latency, a few calls per delivery
        processed.append(delivery.delivery_id)

    client = await aiohttp_client(create_app(settings, process=slow))
    app = client.app

    async def caught_up() -> bool:
        return await app[CATCH_UP].last() is not None

    await until(caught_up, within=10)
    stats = await app[INBOX].stats()
    # 30 deliveries on 2 workers take 1.5 s; the catch-up went first.
    assert stats.pending >= 20, stats

    async def recovered() -> bool:
        return "missed" in processed

    await until(recovered, within=10)
    # What the catch-up took in went ahead of the backlog too.
    assert len(processed) <= 10, processed


async def test_procrastinate_admin_cli_reaches_the_bot_database(
    pg_settings: Settings, tmp_path: Path, reap: None
) -> None:
    database = PostgresDatabase(pg_settings.database_url or "", settings=pg_settings)
    await database.open()
    await database.close()
    procrastinate_cli = Path(sys.executable).parent / "procrastinate"
    env = {**os.environ, "DATABASE_URL": pg_settings.database_url or ""}
    cli = await spawn(
        str(procrastinate_cli),
        "--app=bot.inbox.admin.app",
        "healthchecks",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(cli.communicate(), timeout=60)
    assert cli.returncode == 0, err.decode()
    assert "DB connection: OK" in out.decode()
    assert "Found procrastinate_jobs table: OK" in out.decode()


async def test_a_late_delivery_does_not_pass_an_older_one_of_its_subject(
    pg_database: PostgresDatabase,
) -> None:
    database = pg_database
    inbox = database.inbox
    assert await inbox.store("waiting", "issues", b"{}", subject="octo/repo#1")
    assert await inbox.store("late-same", "issues", b"{}", subject="octo/repo#1", late=True)
    assert await inbox.store("late-other", "issues", b"{}", subject="octo/repo#2", late=True)
    rows = await database.sql.fetch(
        "SELECT d.delivery_id, j.priority FROM hardening_deliveries AS d "
        "JOIN procrastinate_jobs AS j ON j.id = d.job_id ORDER BY d.seq"
    )
    priorities = dict(rows)
    assert priorities["late-same"] == priorities["waiting"]
    assert priorities["late-other"] > priorities["waiting"]
