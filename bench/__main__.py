"""``python -m bench``: what the bot costs a deployment, against a bare baseline.

**Intake.** Servers run as real processes on loopback, one after the other, and receive the same
signed deliveries from the same client at the same concurrency:

- **bare**: aiohttp, reads the body, verifies the HMAC-SHA256 signature, answers 202. The floor
  any webhook receiver in Python pays.
- **sqlite** / **postgres**: ``bot.web.create_app`` as served in production (signature,
  validation, subject key, durable insert into the inbox before the 202, JSON log line) on each
  backend, with the workers running a no-op processing, so claims and completions compete with
  the inserts as they would in production. PostgreSQL is the server at
  ``HARDENING_TEST_POSTGRES_URL`` (default ``postgresql://127.0.0.1:5432/test``), on a schema of
  its own; without one that row is skipped.

Printed per server: acknowledgement latency (p50 / p99 / max), throughput, server CPU time per
delivery (including the workers catching up) and resident memory; then whether every delivery
was stored exactly once.

**Pull request burst.** 200 ``pull_request.opened`` deliveries across 20 repositories (20
installations) sent at once to ``python -m bot`` with the real handlers, against the GitHub
sandbox answering every request after 100-300 ms, under the bot's per-installation pacing: the
time from each delivery to its ``hardening/controls`` check run, and the GitHub requests per
pull request.

Exit status 1 only when a delivery was lost or duplicated, or the SQLite p99 acknowledgement is
25 ms or more. The throughput ratio to the bare server is printed, not judged: on two cores
shared with the load generator it measures the client as much as the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp

SECRET = "bench-webhook-secret"
TARGET_P99_MS = 25.0
POSTGRES_DEFAULT = "postgresql://127.0.0.1:5432/test"


# --- servers (run in child processes) -----------------------------------------------------------


def serve_bare(port: int) -> None:
    from aiohttp import web

    key = SECRET.encode()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        given = request.headers.get("X-Hub-Signature-256", "")
        if not hmac.compare_digest(expected.encode(), given.encode()):
            return web.Response(status=401)
        return web.Response(status=202)

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application(client_max_size=25 * 1024 * 1024 + 1)
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", health)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def serve_bot(port: int) -> None:
    from aiohttp import web

    from bot.inbox import Delivery
    from bot.logs import configure_logging
    from bot.settings import Settings
    from bot.web import create_app

    async def no_op(delivery: Delivery) -> None:
        return None

    settings = Settings.from_env(os.environ)
    configure_logging(settings.log_level)
    app = create_app(settings, process=no_op, freeze_heap=True)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    latencies_ms: list[float]
    seconds: float
    statuses: dict[int, int]
    server_cpu_seconds: float = 0.0
    rss_mib: float = 0.0

    @property
    def cpu_per_delivery_us(self) -> float:
        return self.server_cpu_seconds / len(self.latencies_ms) * 1e6

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index]

    def line(self) -> str:
        return (
            f"{self.name:>8}: {len(self.latencies_ms)} deliveries in {self.seconds:.2f}s = "
            f"{self.throughput:7.0f}/s   p50 {self.percentile(50):6.2f} ms   "
            f"p99 {self.percentile(99):6.2f} ms   max {max(self.latencies_ms):6.2f} ms   "
            f"server CPU {self.cpu_per_delivery_us:4.0f} us/delivery   "
            f"RSS {self.rss_mib:5.1f} MiB   statuses {dict(sorted(self.statuses.items()))}"
        )


def payload(number: int, size: int) -> dict[str, object]:
    """An ``issues.edited`` delivery shaped like GitHub's, padded to about ``size`` bytes.

    Shaped, not just sized: user and repository objects full of API URLs and node ids, like the
    real thing, so that it parses and compresses as GitHub's payloads do (about 4x with zlib).
    """
    rng = random.Random(number)
    api = "https://api.github.com"

    def user(login: str, uid: int) -> dict[str, object]:
        base = f"{api}/users/{login}"
        return {
            "login": login,
            "id": uid,
            "node_id": _node_id(rng),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
            "url": base,
            "html_url": f"https://github.com/{login}",
            **{f"{k}_url": f"{base}/{k}" for k in ("followers", "subscriptions", "repos")},
            "type": "User",
            "site_admin": False,
        }

    repo_url = f"{api}/repos/octo/shop"
    repository = {
        "id": 7001,
        "node_id": _node_id(rng),
        "name": "shop",
        "full_name": "octo/shop",
        "private": False,
        "owner": user("octo", 9),
        "url": repo_url,
        **{
            f"{k}_url": f"{repo_url}/{k}{{/{k[:-1] or k}}}"
            for k in (
                "forks",
                "keys",
                "collaborators",
                "teams",
                "hooks",
                "issue_events",
                "events",
                "assignees",
                "branches",
                "tags",
                "blobs",
                "git_tags",
                "git_refs",
                "trees",
                "statuses",
                "languages",
                "stargazers",
                "contributors",
                "subscribers",
                "subscription",
                "commits",
                "git_commits",
                "comments",
                "issue_comment",
                "contents",
                "compare",
                "merges",
                "archive",
                "downloads",
                "issues",
                "pulls",
                "milestones",
                "notifications",
                "labels",
                "releases",
                "deployments",
            )
        },
        "created_at": "2024-03-01T09:00:00Z",
        "default_branch": "main",
    }
    author = user(rng.choice(["alice", "bob", "carol", "dave"]), rng.randrange(10, 99999))
    issue_url = f"{repo_url}/issues/{number}"
    findings: list[str] = []
    kinds = ["missed detection", "late decision", "slow recovery", "repeated regression"]
    body: dict[str, object] = {
        "action": "edited",
        "issue": {
            "url": issue_url,
            "repository_url": repo_url,
            "labels_url": f"{issue_url}/labels{{/name}}",
            "comments_url": f"{issue_url}/comments",
            "html_url": f"https://github.com/octo/shop/issues/{number}",
            "id": rng.randrange(10**9, 10**10),
            "node_id": _node_id(rng),
            "number": number,
            "title": f"Incident {number}: checkout latency",
            "user": author,
            "labels": [{"id": rng.randrange(10**6), "name": n} for n in ("incident", "sev-2")],
            "state": "open",
            "created_at": "2026-11-20T08:14:03Z",
            "updated_at": "2026-11-27T10:02:51Z",
            "body": "",
        },
        "changes": {"body": {"from": ""}},
        "repository": repository,
        "sender": author,
        "installation": {"id": 99, "node_id": _node_id(rng)},
    }
    while len(json.dumps(body)) + sum(len(f) + 2 for f in findings) < size:
        findings.append(
            f"- {rng.choice(kinds)}: {rng.choice(['pager', 'alert', 'rollback', 'canary'])} "
            f"{rng.randrange(1000, 9999)} took {rng.randrange(2, 90)} min ({_node_id(rng)[:8]})"
        )
    body["issue"]["body"] = "## Findings\n" + "\n".join(findings)  # type: ignore[index]
    return body


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _node_id(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(24))


def signed_requests(count: int, size: int) -> list[tuple[bytes, dict[str, str]]]:
    requests = []
    for i in range(count):
        body = json.dumps(payload(1 + i % 100, size)).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/bench",
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
        }
        requests.append((body, headers))
    return requests


async def load(
    name: str, url: str, requests: list[tuple[bytes, dict[str, str]]], concurrency: int
) -> Result:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            for body, headers in queue:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status] = statuses.get(response.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return Result(name, latencies, seconds, statuses)


async def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(400):
            if process.poll() is not None:
                raise SystemExit(f"server exited with {process.returncode}")
            try:
                async with session.get(url + "/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.025)
    raise SystemExit("server did not start")


async def wait_drained(url: str, within: float = 60.0) -> float:
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - started < within:
            async with session.get(url + "/healthz") as response:
                if (await response.json())["inbox"]["pending"] == 0:
                    return time.perf_counter() - started
            await asyncio.sleep(0.02)
    raise SystemExit("the bot's workers did not drain the inbox")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bench", f"serve-{kind}", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def run_one(
    kind: str, env: dict[str, str], deliveries: int, concurrency: int, size: int
) -> tuple[Result, float | None]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = spawn(kind, port, env)
    try:
        await wait_healthy(url, process)
        name = kind if kind == "bare" else env["BENCH_BACKEND"]
        await load(name, url + "/webhook", signed_requests(200, size), concurrency)  # warm-up
        if kind == "bot":
            await wait_drained(url)
        requests = signed_requests(deliveries, size)
        cpu_before = cpu_seconds(process.pid)
        result = await load(name, url + "/webhook", requests, concurrency)
        drain = await wait_drained(url) if kind == "bot" else None
        # Includes the workers catching up, so the bot's figure covers everything a delivery costs.
        result.server_cpu_seconds = cpu_seconds(process.pid) - cpu_before
        result.rss_mib = rss_mib(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    return result, drain


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """Resident memory of a process in MiB, from /proc (0 where there is no /proc)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stored(env: dict[str, str]) -> int:
    """How many deliveries the bot's database holds (0 before it was created)."""
    try:
        return _stored(env["DATABASE_URL"])
    except Exception:
        return 0


def _stored(url: str) -> int:
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute("SELECT count(*) FROM deliveries").fetchone()[0])
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM hardening_deliveries").fetchone()
        return int(row[0]) if row else 0


def postgres_schema() -> tuple[str, str] | None:
    """(server URL, schema) of a fresh schema on the test PostgreSQL server, or None."""
    try:
        import psycopg

        server = os.environ.get("HARDENING_TEST_POSTGRES_URL") or POSTGRES_DEFAULT
        schema = f"hb_bench_{os.getpid()}"
        with psycopg.connect(server, connect_timeout=3, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        return server, schema
    except Exception as exc:
        print(f"postgres: skipped ({str(exc).strip().splitlines()[0] if str(exc) else exc})")
        return None


def drop_schema(server: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


async def bench(deliveries: int, concurrency: int, size: int, rounds: int, burst: bool) -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="hardening-bench-") as tmp:
        env = dict(os.environ)
        env.update(
            GITHUB_APP_ID="1",
            GITHUB_PRIVATE_KEY=private_key(),
            GITHUB_WEBHOOK_SECRET=SECRET,
            GITHUB_API_URL="http://127.0.0.1:9",  # never called: processing is a no-op
            LOG_LEVEL="INFO",
            HARDENING_CATCH_UP_INTERVAL_SECONDS="0",
            HARDENING_SCHEDULER_INTERVAL_SECONDS="0",
        )
        env.pop("SENTRY_DSN", None)
        print(
            f"intake: {deliveries} signed deliveries of ~{size} bytes, concurrency {concurrency}, "
            f"{rounds} round(s), loopback, {os.cpu_count()} CPU(s), "
            f"load average {os.getloadavg()[0]:.2f} before the run"
        )
        backends: list[tuple[str, dict[str, str]]] = [
            ("sqlite", {"DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.db'}"})
        ]
        pg = postgres_schema()
        if pg is not None:
            url = f"{pg[0]}{'&' if '?' in pg[0] else '?'}options=-csearch_path%3D{pg[1]}"
            backends.append(("postgres", {"DATABASE_URL": url}))
        results: dict[str, list[Result]] = {"bare": []}
        try:
            for _ in range(rounds):
                bare, _ = await run_one("bare", env, deliveries, concurrency, size)
                print(bare.line())
                results["bare"].append(bare)
                for name, extra in backends:
                    benv = {**env, **extra, "BENCH_BACKEND": name}
                    before = stored(benv)
                    bot, drained = await run_one("bot", benv, deliveries, concurrency, size)
                    held = stored(benv) - before
                    sent = deliveries + 200  # with the warm-up
                    acked = bot.statuses.get(202, 0)
                    exact = held == sent and acked == deliveries
                    ok = ok and exact
                    print(
                        bot.line() + f"   drained {drained:.2f}s after the last ack; "
                        f"stored {held} of {sent}: "
                        + ("exactly once" if exact else "LOST OR DUPLICATED")
                    )
                    results.setdefault(name, []).append(bot)
        finally:
            if pg is not None:
                drop_schema(*pg)

    bare_tp = statistics.median(r.throughput for r in results["bare"])
    bare_cpu = statistics.median(r.cpu_per_delivery_us for r in results["bare"])
    for name in [n for n in results if n != "bare"]:
        runs = results[name]
        tp = statistics.median(r.throughput for r in runs)
        p99 = statistics.median(r.percentile(99) for r in runs)
        cpu = statistics.median(r.cpu_per_delivery_us for r in runs)
        verdict = ""
        if name == "sqlite":
            verdict = f" (must stay under {TARGET_P99_MS:.0f} ms: " + (
                "OK)" if p99 < TARGET_P99_MS else "MISSED)"
            )
            ok = ok and p99 < TARGET_P99_MS
        print(
            f"{name}: throughput {tp / bare_tp:.2f}x the bare server's, server CPU "
            f"{cpu / bare_cpu:.1f}x ({cpu:.0f} vs {bare_cpu:.0f} us/delivery), p99 {p99:.2f} ms"
            + verdict
        )
    if burst:
        from bench.burst import run_burst

        ok = (await run_burst()) and ok
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    for kind in ("bare", "bot"):
        server = sub.add_parser(f"serve-{kind}", help=f"internal: run the {kind} server")
        server.add_argument("--port", type=int, required=True)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--payload-bytes", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--no-burst", action="store_true", help="skip the pull request burst against the sandbox"
    )
    args = parser.parse_args(argv)
    if args.command == "serve-bare":
        serve_bare(args.port)
        return 0
    if args.command == "serve-bot":
        serve_bot(args.port)
        return 0
    return asyncio.run(
        bench(args.deliveries, args.concurrency, args.payload_bytes, args.rounds, not args.no_burst)
    )


if __name__ == "__main__":
    sys.exit(main())
