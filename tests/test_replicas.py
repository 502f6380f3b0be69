"""Replicas: real ``python -m bot`` processes sharing one PostgreSQL database.

Every delivery is sent to two replicas at once (a load balancer retrying, a redelivery racing
the original), one replica is SIGKILLed mid-stream, and the sandbox shows each delivery took
effect exactly once and, per issue, in the order sent. The recording handler is the one of
tests/test_crash_recovery.py: one marker comment per delivery.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest
from conftest import APP_ID, INSTALLATION_ID, WEBHOOK_SECRET
from test_crash_recovery import BOOT, Server, post

from sandbox import Sandbox

pytestmark = [pytest.mark.usefixtures("reap"), pytest.mark.real_clock]

# The same handler; the scheduler's tick replaced by one that posts a comment, so the sandbox
# counts the ticks however many replicas run.
TICKING_BOOT = BOOT.replace(
    "# Only this handler:",
    textwrap.dedent(
        """
        import bot.schedules

        async def tick(self):
            gh = await self.github.installation_api(int(os.environ["TEST_INSTALLATION"]))
            owner, repo = os.environ["TEST_REPO"].split("/")
            await gh.post(f"/repos/{owner}/{repo}/issues/1/comments", data={"body": "tick"})
            return []

        bot.schedules.Scheduler.tick = tick
        """
    )
    + "# Only this handler:",
)
assert TICKING_BOOT != BOOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def replica_env(sandbox: Sandbox, app_keys: tuple[str, str], postgres_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HARDENING_"))}
    env.update(
        GITHUB_APP_ID=str(APP_ID),
        GITHUB_PRIVATE_KEY=app_keys[0].replace("\n", "\\n"),
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
        GITHUB_API_URL=sandbox.api_url,
        HOST="127.0.0.1",
        DATABASE_URL=postgres_url,
        HARDENING_WORKER_CONCURRENCY="3",
        HARDENING_BACKOFF_BASE_SECONDS="0.05",
        HARDENING_BACKOFF_MAX_SECONDS="0.2",
        HARDENING_SHUTDOWN_GRACE_SECONDS="5",
        HARDENING_QUEUE_POLL_SECONDS="0.1",
        HARDENING_QUEUE_HEARTBEAT_SECONDS="0.5",
        HARDENING_SCHEDULER_INTERVAL_SECONDS="0",
        LOG_LEVEL="WARNING",
        TEST_HANDLER_DELAY="0.03",
        PYTHONUNBUFFERED="1",
    )
    env.pop("SENTRY_DSN", None)
    return env


def replica(env: dict[str, str], log: Path, **extra: str) -> Server:
    return Server({**env, "PORT": str(free_port()), **extra}, log)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def settled(server: Server, within: float = 60.0) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        health = await server.health()
        if health["inbox"]["pending"] == 0 or loop.time() > deadline:
            return health
        await asyncio.sleep(0.05)


async def test_two_replicas_fed_twice_one_killed_take_effect_once_in_order(
    sandbox: Sandbox,
    repo: str,
    replica_env: dict[str, str],
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    issues = [sandbox.open_issue(repo, title=f"incident {i}", body="x").number for i in range(5)]
    numbers = [(str(uuid.uuid4()), issues[i % len(issues)]) for i in range(60)]
    deliveries = [(d, n, sandbox.issue_event(repo, n, "edited")) for d, n in numbers]
    first = replica(replica_env, tmp_path / "a.log")
    second = replica(replica_env, tmp_path / "b.log")
    await asyncio.gather(first.start(), second.start())

    answers: dict[str, list[int | None]] = {}
    for k, (delivery_id, _number, payload) in enumerate(deliveries):
        if k == 25:
            first.signal(signal.SIGKILL)  # mid-stream, with work claimed and queued
        # Both replicas at once; one stores it, the other sees it stored.
        answers[delivery_id] = list(
            await asyncio.gather(
                post(session, first.url, delivery_id, payload),
                post(session, second.url, delivery_id, payload),
            )
        )
    assert await first.wait(10) == -signal.SIGKILL
    for delivery_id, statuses in answers.items():
        alive = [s for s in statuses if s is not None]
        assert sorted(alive) in ([200, 202], [202]), (delivery_id, statuses)

    health = await settled(second)
    assert health["inbox"] == {**health["inbox"], "pending": 0, "failed": 0}
    second.signal(signal.SIGTERM)
    assert await second.wait(15) == 0

    posts: dict[str, int] = {}
    for call in sandbox.calls:
        if call.method == "POST" and call.path.endswith("/comments") and call.status == 201:
            delivery_id = call.json["body"].rsplit(" ", 1)[-1]
            posts[delivery_id] = posts.get(delivery_id, 0) + 1
    assert set(posts) == {d for d, _, _ in deliveries}
    assert set(posts.values()) == {1}, "a delivery took effect twice"
    for number in issues:
        done = [c.body.rsplit(" ", 1)[-1] for c in sandbox.comments(repo, number)]
        sent = [d for d, n, _ in deliveries if n == number]
        assert done == sent, f"issue #{number}: processed out of order"


async def test_a_periodic_job_runs_once_per_period_across_replicas(
    sandbox: Sandbox, repo: str, replica_env: dict[str, str], tmp_path: Path, postgres_url: str
) -> None:
    sandbox.open_issue(repo, title="ticks", body="x")
    env = {
        **replica_env,
        "HARDENING_SCHEDULER_INTERVAL_SECONDS": "1",
        "TEST_INSTALLATION": str(INSTALLATION_ID),
        "TEST_REPO": repo,
    }
    servers = [
        Server({**env, "PORT": str(free_port())}, tmp_path / f"{i}.log", TICKING_BOOT)
        for i in range(2)
    ]
    await asyncio.gather(*(s.start() for s in servers))
    await asyncio.sleep(4.5)
    for server in servers:
        server.signal(signal.SIGTERM)
    for server in servers:
        assert await server.wait(15) == 0

    ticks = [
        c
        for c in sandbox.calls
        if c.method == "POST" and c.path.endswith("/comments") and c.json.get("body") == "tick"
    ]
    with psycopg.connect(postgres_url) as conn:
        (periods,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM procrastinate_jobs "
            "WHERE task_name = 'hardening.periodic.scheduler' AND status = 'succeeded'"
        ).fetchone()
        (duplicates,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM (SELECT defer_timestamp FROM procrastinate_periodic_defers "
            "WHERE task_name = 'hardening.periodic.scheduler' "
            "GROUP BY defer_timestamp HAVING count(*) > 1) AS d"
        ).fetchone()
    assert periods >= 2, "the tick should have run in several periods"
    assert duplicates == 0
    assert len(ticks) == periods, "a period's tick ran more than once"
