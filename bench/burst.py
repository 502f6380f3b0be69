"""A burst of pull requests against a slow GitHub: time from delivery to check run.

200 ``pull_request.opened`` deliveries across 20 repositories, each repository on an
installation of its own, are sent at once to a real ``python -m bot`` (the real handlers, the
SQLite inbox) talking to the GitHub sandbox, which answers every request after 100-300 ms, as
api.github.com does from far away. The bot paces its requests per installation
(``HARDENING_GITHUB_CONCURRENCY``, one at a time by default, as GitHub asks). Printed: the time
from each delivery's acknowledgement to its ``hardening/controls`` check run (p50, p90, p99,
max), how long the whole burst took, and the GitHub requests per pull request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

SECRET = "bench-webhook-secret"
REPOSITORIES = 20
PULLS_PER_REPOSITORY = 10
LATENCY = (0.1, 0.3)
SOURCE = {
    "filename": "src/queue/consumer.py",
    "status": "modified",
    "additions": 2,
    "deletions": 0,
    "patch": "@@ -10,2 +10,4 @@\n     msg = q.get()\n+    if lag > 30:\n+        log.warn('lag')",
}
NEW_TEST = {
    "filename": "tests/test_consumer.py",
    "status": "modified",
    "additions": 2,
    "deletions": 0,
    "patch": "@@ -1,1 +1,3 @@\n def test_existing():\n+def test_alert_fires_on_lag():\n+    assert alert_for(lag=31)",
}


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def run_burst() -> bool:
    """Run the burst; False if a pull request never got its check run."""
    from sandbox import Sandbox, generate_app_key

    # The bot is stopped with requests in flight at the end; their reset is not news.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

    private, public = generate_app_key()
    sb = Sandbox(app_id=1, public_key_pem=public)
    pulls: list[tuple[str, int, str]] = []  # (repo, number, head sha)
    for i in range(REPOSITORIES):
        account = f"team{i:02d}"
        sb.add_installation(account, id=5000 + i)
        repo = f"{account}/service"
        sb.add_repo(repo, installation_id=5000 + i)
        for k in range(PULLS_PER_REPOSITORY):
            pull = sb.open_pull(
                repo,
                title=f"Queue lag {k}",
                labels=("failure-class:missed-detection",),
                files=[SOURCE, NEW_TEST],
                user="dave",
            )
            pulls.append((repo, int(pull["number"]), str(pull["head"]["sha"])))

    checked: dict[str, float] = {}

    @web.middleware
    async def slow(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        await asyncio.sleep(random.uniform(*LATENCY))
        body = await request.read() if request.method == "POST" else b""
        try:
            response = await handler(request)
        except ConnectionResetError:  # the bot was stopped mid-request at the end
            raise web.HTTPServiceUnavailable() from None
        if request.path.endswith("/check-runs") and response.status == 201 and body:
            sent = json.loads(body)
            if sent.get("name") == "hardening/controls":
                checked.setdefault(str(sent.get("head_sha")), time.perf_counter())
        return response

    app = sb.make_app()
    app.middlewares.append(slow)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sb.api_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    port = _free_port()
    ok = True
    with tempfile.TemporaryDirectory(prefix="hardening-burst-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HARDENING_"))}
        env.update(
            GITHUB_APP_ID="1",
            GITHUB_PRIVATE_KEY=private,
            GITHUB_WEBHOOK_SECRET=SECRET,
            GITHUB_API_URL=sb.api_url,
            HOST="127.0.0.1",
            PORT=str(port),
            DATABASE_URL=f"sqlite:///{Path(tmp) / 'burst.db'}",
            HARDENING_WORKER_CONCURRENCY="20",
            HARDENING_CATCH_UP_INTERVAL_SECONDS="0",
            HARDENING_SCHEDULER_INTERVAL_SECONDS="0",
            LOG_LEVEL="WARNING",
        )
        env.pop("SENTRY_DSN", None)
        process = subprocess.Popen(  # noqa: ASYNC220 (started once, before the clock runs)
            [sys.executable, "-m", "bot"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            await _healthy(url, process)
            sb.reset_calls()
            acked: dict[str, float] = {}
            started = time.perf_counter()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:

                async def send(repo: str, number: int, sha: str) -> None:
                    body = json.dumps(sb.pull_request_event(repo, number, "opened")).encode()
                    headers = {
                        "Content-Type": "application/json",
                        "X-GitHub-Event": "pull_request",
                        "X-GitHub-Delivery": str(uuid.uuid4()),
                        "X-Hub-Signature-256": "sha256="
                        + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
                    }
                    async with session.post(url + "/webhook", data=body, headers=headers) as r:
                        await r.read()
                        if r.status == 202:
                            acked[sha] = time.perf_counter()

                # As GitHub sends them: the repositories' events interleaved.
                order = list(pulls)
                random.Random(7).shuffle(order)
                await asyncio.gather(*(send(*p) for p in order))
            deadline = time.perf_counter() + 600
            while len(checked) < len(pulls) and time.perf_counter() < deadline:
                if process.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(30)
            await runner.cleanup()
    waits = [checked[sha] - acked[sha] for _r, _n, sha in pulls if sha in checked and sha in acked]
    calls = [c for c in sb.calls if not c.injected]
    limited = sum(1 for c in calls if c.status != 304)
    print(
        f"pull request burst: {len(pulls)} pull_request.opened across {REPOSITORIES} repositories "
        f"({REPOSITORIES} installations), GitHub answering in {LATENCY[0] * 1000:.0f}-"
        f"{LATENCY[1] * 1000:.0f} ms, one request at a time per installation"
    )
    if len(waits) < len(pulls):
        ok = False
        print(f"  only {len(waits)} of {len(pulls)} got their check run: LOST")
    if waits:
        print(
            f"  delivery -> hardening/controls: p50 {_percentile(waits, 50):.2f} s   "
            f"p90 {_percentile(waits, 90):.2f} s   p99 {_percentile(waits, 99):.2f} s   "
            f"max {max(waits):.2f} s; all done in {elapsed:.1f} s"
        )
    print(
        f"  GitHub requests per pull request: {len(calls) / len(pulls):.1f} "
        f"({limited / len(pulls):.1f} counted against the rate limit; tokens included)"
    )
    return ok


async def _healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(1200):
            if process.poll() is not None:
                raise SystemExit(f"bot exited with {process.returncode} during the burst")
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise SystemExit("bot did not start for the burst")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> Any:
    return asyncio.run(run_burst())


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
