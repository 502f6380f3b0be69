"""A real ``python -m bot`` process killed with SIGKILL mid-stream loses and repeats nothing.

The server runs as a subprocess on a temporary database and a free port, talking to the GitHub
sandbox served by this test. Its only handler (installed from outside the production code in
place of the real ones, then ``bot`` is run as ``__main__`` exactly as ``python -m bot`` does)
writes one marker comment per delivery through ``bot.writes``, so the sandbox shows how often
each delivery took effect.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import APP_ID, WEBHOOK_SECRET, spawn

from bot.web import sign
from sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.usefixtures("reap"), pytest.mark.real_clock]

BOOT = textwrap.dedent(
    """
    import asyncio, os, runpy, sys

    from gidgethub.routing import Router

    import bot.handlers
    from bot.writes import upsert_comment
    from rules.markers import comment_marker as marker

    async def record(event, gh, ctx):
        await asyncio.sleep(float(os.environ["TEST_HANDLER_DELAY"]))
        owner, repo = event.data["repository"]["full_name"].split("/")
        await upsert_comment(
            gh, owner, repo, event.data["issue"]["number"],
            marker("delivery " + event.delivery_id), "processed " + event.delivery_id,
            bot_login=ctx.bot_login,
        )

    # Only this handler: the test is about delivery, not about what the real handlers do.
    bot.handlers.router = Router()
    bot.handlers.router.add(record, "issues")
    sys.argv = ["bot"]
    runpy.run_module("bot", run_name="__main__", alter_sys=True)
    """
)


class Server:
    """One ``python -m bot`` process with the recording handler."""

    def __init__(self, env: dict[str, str], log: Path, boot: str = BOOT) -> None:
        self.env = env
        self.log = log
        self.boot = boot
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            # Beside its log, not in the checkout: a developer's .env there is not the test's.
            self.process = await spawn(
                sys.executable,
                "-c",
                self.boot,
                env={**self.env, "PYTHONPATH": str(ROOT)},
                cwd=self.log.parent,
                stdout=out,
                stderr=out,
            )
        async with aiohttp.ClientSession() as session:
            for _ in range(400):
                if self.process.returncode is not None:
                    raise AssertionError(f"server exited: {self.log.read_text()[-2000:]}")
                try:
                    async with session.get(self.url + "/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.025)
        raise AssertionError(f"server did not start: {self.log.read_text()[-2000:]}")

    async def health(self) -> dict[str, Any]:
        async with aiohttp.ClientSession() as session, session.get(self.url + "/healthz") as r:
            return dict(await r.json())

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def wait(self, within: float) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), within)


@pytest.fixture
async def world(sandbox: Sandbox, repo: str) -> list[int]:
    return [sandbox.open_issue(repo, title=f"incident {i}", body="x").number for i in range(8)]


@pytest.fixture
def server_env(
    sandbox: Sandbox, app_keys: tuple[str, str], tmp_path: Path, unused_tcp_port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HARDENING_"))}
    env.update(
        GITHUB_APP_ID=str(APP_ID),
        GITHUB_PRIVATE_KEY=app_keys[0].replace("\n", "\\n"),
        GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
        GITHUB_API_URL=sandbox.api_url,
        PORT=str(unused_tcp_port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'state' / 'bot.db'}",
        HARDENING_WORKER_CONCURRENCY="4",
        HARDENING_BACKOFF_BASE_SECONDS="0.05",
        HARDENING_BACKOFF_MAX_SECONDS="0.2",
        HARDENING_SHUTDOWN_GRACE_SECONDS="5",
        LOG_LEVEL="WARNING",
        TEST_HANDLER_DELAY="0.05",
        PYTHONUNBUFFERED="1",
    )
    env.pop("SENTRY_DSN", None)
    return env


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def post(
    session: aiohttp.ClientSession, url: str, delivery_id: str, payload: dict[str, Any]
) -> int | None:
    """POST one signed delivery; its status, or None if the connection died first."""
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery_id,
        "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
    }
    try:
        async with session.post(url + "/webhook", data=body, headers=headers) as response:
            return response.status
    except (aiohttp.ClientError, ConnectionError):
        return None


async def test_sigkill_mid_stream_then_restart_processes_every_202_exactly_once(
    sandbox: Sandbox,
    repo: str,
    world: list[int],
    server_env: dict[str, str],
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    deliveries = [
        (str(uuid.uuid4()), sandbox.issue_event(repo, world[i % len(world)], "edited"))
        for i in range(80)
    ]
    acked: dict[str, int] = {}
    server = Server(server_env, tmp_path / "server.log")
    await server.start()

    # Send in waves of 8 concurrent requests; pull the plug as soon as 32 were acknowledged,
    # while the workers (4 at 50 ms a delivery) are far behind.
    sent = 0
    while len(acked) < 32:
        wave = deliveries[sent : sent + 8]
        statuses = await asyncio.gather(*(post(session, server.url, d, p) for d, p in wave))
        acked.update({d: s for (d, _), s in zip(wave, statuses, strict=True) if s is not None})
        sent += len(wave)
    killer = asyncio.create_task(_kill_soon(server))
    wave = deliveries[sent : sent + 8]  # in flight while the process dies
    statuses = await asyncio.gather(*(post(session, server.url, d, p) for d, p in wave))
    acked.update({d: s for (d, _), s in zip(wave, statuses, strict=True) if s is not None})
    sent += len(wave)
    await killer
    assert await server.wait(10) == -signal.SIGKILL
    assert set(acked.values()) == {202}

    unfinished = _unfinished(Path(server_env["DATABASE_URL"].removeprefix("sqlite:///")))
    assert unfinished > 0, "the kill should land while deliveries are still queued"

    # Restart on the same database. GitHub's "Redeliver" resends what got no answer; the rest of
    # the stream follows.
    restarted = Server(server_env, tmp_path / "server.log")
    await restarted.start()
    for delivery_id, payload in deliveries:
        if delivery_id not in acked:
            status = await post(session, restarted.url, delivery_id, payload)
            assert status in (200, 202)  # 200: stored before the kill, its ack was lost
            acked[delivery_id] = status
    for delivery_id, payload in deliveries[:10]:  # plain duplicates change nothing
        assert await post(session, restarted.url, delivery_id, payload) == 200

    for _ in range(600):
        health = await restarted.health()
        if health["inbox"]["pending"] == 0:
            break
        await asyncio.sleep(0.05)
    assert health["inbox"] == {**health["inbox"], "pending": 0, "failed": 0}

    # Graceful stop: SIGTERM drains and exits cleanly.
    restarted.signal(signal.SIGTERM)
    assert await restarted.wait(15) == 0

    posts: dict[str, int] = {}
    for call in sandbox.calls:
        if call.method == "POST" and call.path.endswith("/comments") and call.status == 201:
            delivery_id = call.json["body"].rsplit(" ", 1)[-1]
            posts[delivery_id] = posts.get(delivery_id, 0) + 1
    assert set(posts) == {d for d, _ in deliveries}
    assert set(posts.values()) == {1}, "a delivery took effect twice"
    for number in world:
        bodies = [c.body for c in sandbox.comments(repo, number)]
        assert len(bodies) == len(set(bodies))


async def test_sigterm_lets_in_flight_finish_and_keeps_the_rest(
    sandbox: Sandbox,
    repo: str,
    world: list[int],
    server_env: dict[str, str],
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    server_env.update(TEST_HANDLER_DELAY="0.3", HARDENING_WORKER_CONCURRENCY="2")
    server = Server(server_env, tmp_path / "server.log")
    await server.start()
    ids = []
    for i in range(6):  # one subject: strictly one after another
        delivery_id = f"term-{i}"
        payload = sandbox.issue_event(repo, world[0], "edited")
        assert await post(session, server.url, delivery_id, payload) == 202
        ids.append(delivery_id)
    await asyncio.sleep(0.1)  # the first is in flight
    server.signal(signal.SIGTERM)
    assert await server.wait(10) == 0

    database = Path(server_env["DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(database) as conn:
        states = dict(conn.execute("SELECT delivery_id, status FROM deliveries"))
    assert states["term-0"] == "done"  # finished within the grace period
    assert "processing" not in states.values()
    assert list(states.values()).count("pending") >= 4

    restarted = Server(server_env, tmp_path / "server.log")
    await restarted.start()
    for _ in range(200):
        if (await restarted.health())["inbox"]["pending"] == 0:
            break
        await asyncio.sleep(0.05)
    restarted.signal(signal.SIGTERM)
    assert await restarted.wait(15) == 0
    bodies = [c.body for c in sandbox.comments(repo, world[0])]
    assert sorted(b.rsplit(" ", 1)[-1] for b in bodies) == ids


async def test_refuses_to_start_without_webhook_secret(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    del server_env["GITHUB_WEBHOOK_SECRET"]
    process = await spawn(
        sys.executable,
        "-m",
        "bot",
        env={**server_env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and "GITHUB_WEBHOOK_SECRET" in lines[0]


async def _kill_soon(server: Server) -> None:
    await asyncio.sleep(0.005)
    server.signal(signal.SIGKILL)


def _unfinished(database: Path) -> int:
    with sqlite3.connect(database) as conn:
        (count,) = conn.execute(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'processing')"
        ).fetchone()
    return int(count)
