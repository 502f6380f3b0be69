"""A burst of pull requests against a slow GitHub: time from delivery to check run, and what
each kind of pull request event costs in GitHub requests.

200 ``pull_request.opened`` deliveries across 20 repositories, each repository on an
installation of its own with one hardening item that every pull request links, are sent at
once to a real ``python -m bot`` (the real handlers, the SQLite inbox) talking to the GitHub
sandbox, which answers every request after 100-300 ms, as api.github.com does from far away.
The bot paces its requests per installation (``HARDENING_GITHUB_CONCURRENCY``, one at a time by
default, as GitHub asks). Then every pull request is pushed to (``synchronize``) and its
description edited (``edited``), each wave sent at once, the same ``synchronize`` delivered
again, and one more pull request opened per repository once everything is warm (the first wave
is each repository's first: configuration, items and tokens read cold, ten at once). Printed: the time from each opened delivery's acknowledgement to its
``hardening/controls`` check run (p50, p90, p99, max), how long the burst took, and for each
wave the GitHub requests per event, all and those counted against the rate limit (a ``304`` is
free), split into the pull request's own delivery and the Hardening ledger update it asks for.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
import random
import re
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
ALERT = {
    "filename": "alerts/queue-lag.yml",
    "status": "added",
    "additions": 1,
    "deletions": 0,
    "patch": "@@ -0,0 +1 @@\n+alert: QueueLag",
}
NEW_TEST = {
    "filename": "tests/test_consumer.py",
    "status": "modified",
    "additions": 2,
    "deletions": 0,
    "patch": "@@ -1,1 +1,3 @@\n def test_existing():\n+def test_alert_fires_on_lag():\n+    assert alert_for(lag=31)",
}


# The Hardening ledger's requests (bot.ledger): listing the App's issues and the items, its own
# issue, and the organisation's .github repository.
_LEDGER = re.compile(r"/repos/[^/]+/([^/]+)/issues$|/repos/[^/]+/\.github$")


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def run_burst() -> bool:
    """Run the burst; False if a pull request never got its check run."""
    from sandbox import Sandbox, generate_app_key

    # The bot is stopped with requests in flight at the end; their reset is not news.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)

    from rules.item_template import render_item
    from rules.model import HardeningItem

    private, public = generate_app_key()
    sb = Sandbox(app_id=1, public_key_pem=public)
    repos: list[tuple[str, int]] = []  # (repo, its item)
    item = HardeningItem(
        failure_class="missed-detection",
        proposed_control="alert rule + routing update",
        priority="P1",
        owner="carol",
        verifier="bob",
    )
    for i in range(REPOSITORIES):
        account = f"team{i:02d}"
        sb.add_installation(account, id=5000 + i)
        repo = f"{account}/service"
        sb.add_repo(repo, installation_id=5000 + i)
        issue = sb.open_issue(
            repo,
            title="Alert on queue lag",
            body=render_item(item),
            labels=("hardening", "failure-class:missed-detection"),
            user=sb.world.bot.login,
        )
        repos.append((repo, int(issue["number"])))
    pulls: list[tuple[str, int, str]] = []  # (repo, number, head sha)

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
        waves: list[tuple[str, list[Any], int]] = []
        try:
            await _healthy(url, process)
            # Opened once the bot is up, as pull requests are.
            for repo, number in repos:
                for k in range(PULLS_PER_REPOSITORY):
                    pull = sb.open_pull(
                        repo,
                        title=f"Queue lag {k}",
                        body=f"Alert on queue lag. Hardens #{number}",
                        labels=("failure-class:missed-detection",),
                        files=[SOURCE, NEW_TEST],
                        user="dave",
                    )
                    pulls.append((repo, int(pull["number"]), str(pull["head"]["sha"])))
            sb.reset_calls()
            acked: dict[str, float] = {}
            started = time.perf_counter()
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:

                async def send(
                    payload: dict[str, Any], sha: str | None = None, delivery: str | None = None
                ) -> None:
                    body = json.dumps(payload).encode()
                    headers = {
                        "Content-Type": "application/json",
                        "X-GitHub-Event": "pull_request",
                        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                        "X-Hub-Signature-256": "sha256="
                        + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
                    }
                    async with session.post(url + "/webhook", data=body, headers=headers) as r:
                        await r.read()
                        if r.status == 202 and sha is not None:
                            acked[sha] = time.perf_counter()

                # As GitHub sends them: the repositories' events interleaved.
                order = list(pulls)
                random.Random(7).shuffle(order)
                await asyncio.gather(
                    *(send(sb.pull_request_event(r, n, "opened"), sha) for r, n, sha in order)
                )
                deadline = time.perf_counter() + 600
                while len(checked) < len(pulls) and time.perf_counter() < deadline:
                    if process.poll() is not None:
                        break
                    await asyncio.sleep(0.1)
                elapsed = time.perf_counter() - started
                await _drained(session, url, process)
                waves.append(("opened", _take(sb), len(pulls)))

                # Steady state: every pull request pushed to, then its description edited.
                for r, n, _sha in order:
                    sb.push_pull(r, n, files=[SOURCE, NEW_TEST, ALERT])
                synchronize = {
                    (r, n): sb.pull_request_event(r, n, "synchronize") for r, n, _sha in order
                }
                await asyncio.gather(
                    *(send(p, delivery=f"sync-{r}-{n}") for (r, n), p in synchronize.items())
                )
                await _drained(session, url, process)
                waves.append(("synchronize", _take(sb), len(pulls)))
                # GitHub redelivering the same event (a new delivery id): nothing changes.
                await asyncio.gather(*(send(p) for p in synchronize.values()))
                await _drained(session, url, process)
                waves.append(("synchronize, delivered again", _take(sb), len(pulls)))
                edits = []
                for r, n, _sha in order:
                    before = str(sb.pull(r, n)["body"])
                    sb.update_issue(r, n, user="dave", body=before + "\n\nWith a runbook.")
                    edits.append(
                        sb.pull_request_event(r, n, "edited", changes={"body": {"from": before}})
                    )
                await asyncio.gather(*(send(p) for p in edits))
                await _drained(session, url, process)
                waves.append(("edited", _take(sb), len(pulls)))
                # One more pull request per repository, once everything is warm.
                late = []
                for repo, number in repos:
                    pull = sb.open_pull(
                        repo,
                        title="Queue lag, later",
                        body=f"Alert on queue lag. Hardens #{number}",
                        labels=("failure-class:missed-detection",),
                        files=[SOURCE, NEW_TEST],
                        user="dave",
                    )
                    late.append(sb.pull_request_event(repo, int(pull["number"]), "opened"))
                await asyncio.gather(*(send(p) for p in late))
                await _drained(session, url, process)
                waves.append(("opened, once warm", _take(sb), len(late)))
        finally:
            process.terminate()
            process.wait(30)
            await runner.cleanup()
    waits = [checked[sha] - acked[sha] for _r, _n, sha in pulls if sha in checked and sha in acked]
    print(
        f"pull request burst: {len(pulls)} pull_request.opened across {REPOSITORIES} repositories "
        f"({REPOSITORIES} installations, each pull request linking its repository's item), "
        f"GitHub answering in {LATENCY[0] * 1000:.0f}-{LATENCY[1] * 1000:.0f} ms, one request "
        "at a time per installation"
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
        "  GitHub requests per pull request event (all / counted against the rate limit; "
        "installation tokens included):"
    )
    print(f"    {'event':34} {'its delivery':>14} {'ledger update':>15} {'in all':>13}")
    ledgers = {
        (repo.lower(), str(issue["number"]))
        for repo, _ in repos
        for issue in sb.issues(repo)
        if issue["title"] == "Hardening ledger"
    }
    for name, calls, events in waves:
        ledger = [c for c in calls if _is_ledger(c.path, ledgers)]
        own = [c for c in calls if not _is_ledger(c.path, ledgers)]
        cells = [_per(part, events) for part in (own, ledger, calls)]
        print(f"    pull_request.{name:21} {cells[0]:>14} {cells[1]:>15} {cells[2]:>13}")
    return ok


def _take(sb: Any) -> list[Any]:
    """The calls since the last wave (faults injected by the sandbox left out)."""
    calls = [c for c in sb.calls if not c.injected]
    sb.reset_calls()
    return calls


def _per(calls: list[Any], events: int) -> str:
    limited = sum(1 for c in calls if c.status != 304)
    return f"{len(calls) / events:.1f} / {limited / events:.1f}"


def _is_ledger(path: str, ledgers: set[tuple[str, str]]) -> bool:
    if _LEDGER.search(path):
        return True
    parts = path.split("/")
    # /repos/{owner}/{repo}/issues/{number}[/...]: the ledger issue itself
    return (
        len(parts) > 5
        and parts[4] == "issues"
        and (f"{parts[2]}/{parts[3]}".lower(), parts[5]) in ledgers
    )


async def _drained(session: aiohttp.ClientSession, url: str, process: Any) -> None:
    """Until the bot's inbox holds nothing unfinished (the ledger deliveries included)."""
    deadline = time.perf_counter() + 600
    quiet = 0
    while time.perf_counter() < deadline and process.poll() is None:
        async with session.get(url + "/healthz") as response:
            pending = (await response.json()).get("inbox", {}).get("pending", 1)
        quiet = quiet + 1 if pending == 0 else 0
        if quiet >= 3:
            return
        await asyncio.sleep(0.2)


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
