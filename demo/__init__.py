"""``python -m bot demo``: the whole hardening loop, end to end, against the GitHub sandbox.

Incident → hardening items → PR checks → closing gate → ``/harden verify`` and the completion
evidence bundle, each step driven through the bot's real HTTP endpoint: deliveries are signed
like GitHub's and POSTed to ``/webhook`` on a loopback port, stored in a real SQLite inbox and
processed by the workers, which call the sandbox over HTTP. The webhooks the bot's own writes
cause are sent back to it, as GitHub would, so the demo also shows that the bot does not react
to itself. Exit status 0 only if every check of every step held.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import aiohttp
from aiohttp import web

if TYPE_CHECKING:
    from sandbox import Sandbox
    from sandbox.model import Role

STEPS = ("incident_steps", "pull_steps", "gate_steps", "loop_steps", "review_steps")
OWNER = "acme"
REPO = f"{OWNER}/payments"
INSTALLATION_ID = 7001
APP_ID = 101
SECRET = "demo-webhook-secret"

# Who is who in the demo repository (docs/hardening-loop.md: one execution owner and one verifier owner).
PEOPLE: dict[str, Role] = {
    "erin": "write",  # the engineer who opens the incident and the PR; execution owner
    "victor": "write",  # the verifier owner
    "carol": "maintain",  # a reliability lead
    "rita": "read",  # a read-only collaborator
}


@dataclass
class DemoWorld:
    """What a step gets; see demo/README.md. Like the tests' ``World`` (tests/conftest.py):
    the sandbox, the repository, a way to deliver and one to wait for the bot to settle."""

    sandbox: Sandbox
    repo: str
    deliver: Callable[..., Any]
    settle: Callable[[], Any]
    out: TextIO = sys.stdout
    # The bot's settings (API URL, App id and key), for a step that builds its own GitHub client.
    settings: Any = None
    state: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    passed: int = 0

    def say(self, text: str) -> None:
        print(f"  {text}", file=self.out, flush=True)

    def check(self, condition: bool, text: str) -> bool:
        if condition:
            self.passed += 1
            print(f"  ok    {text}", file=self.out, flush=True)
        else:
            self.failures.append(text)
            print(f"  FAIL  {text}", file=self.out, flush=True)
        return bool(condition)


def main(*args: str) -> int:
    """Run every step; 0 only if all checks held."""
    quiet = "--verbose" not in args
    logging.basicConfig(level=logging.CRITICAL if quiet else logging.INFO)
    return asyncio.run(_run(sys.stdout))


async def _run(out: TextIO) -> int:
    from bot.settings import Settings
    from bot.web import INBOX, WORKERS, create_app, sign
    from sandbox import Sandbox, generate_app_key

    private_pem, public_pem = generate_app_key()
    sandbox = Sandbox(app_id=APP_ID, public_key_pem=public_pem)
    sandbox.add_installation(OWNER, id=INSTALLATION_ID)
    sandbox.add_repo(REPO, installation_id=INSTALLATION_ID)
    for login, role in PEOPLE.items():
        sandbox.add_user(login)
        sandbox.set_permission(REPO, login, role)
    sandbox.add_team(OWNER, "reliability-leads", members=["carol"])
    sandbox.put_file(
        REPO,
        ".github/hardening.yml",
        "mode: warn\ncontrols:\n  regression-test: enforce\nleads: ['@acme/reliability-leads']\n",
    )

    with tempfile.TemporaryDirectory(prefix="hardening-demo-") as tmp:
        async with sandbox.serve() as api_url:
            settings = Settings(
                webhook_secret=SECRET,
                app_id=APP_ID,
                private_key=private_pem,
                api_url=api_url,
                database_path=Path(tmp) / "demo.db",
                backoff_base=0.05,
                backoff_max=0.5,
                shutdown_grace=2.0,
            )
            app = create_app(settings)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            url = f"http://127.0.0.1:{port}/webhook"
            print(f"Hardening Bot demo: bot on {url}, GitHub sandbox on {api_url}", file=out)
            print(f"Repository {REPO}; config: warn mode, regression tests enforced.\n", file=out)

            async with aiohttp.ClientSession() as session:

                async def deliver(
                    event: str, payload: dict[str, Any], *, delivery_id: str | None = None
                ) -> int:
                    body = json.dumps(payload).encode()
                    headers = {
                        "Content-Type": "application/json",
                        "X-GitHub-Event": event,
                        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
                        "X-Hub-Signature-256": sign(SECRET, body),
                        "User-Agent": "GitHub-Hookshot/demo",
                    }
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        return response.status

                async def sink(event: str, payload: dict[str, Any], **kw: Any) -> None:
                    await deliver(event, payload, delivery_id=kw.get("delivery_id"))

                sandbox.webhook_sink = sink

                async def settle(within: float = 30.0) -> None:
                    inbox, pool = app[INBOX], app[WORKERS]
                    deadline = time.monotonic() + within
                    quiet_rounds = 0
                    while quiet_rounds < 3:
                        await sandbox.settle_webhooks()
                        stats = await inbox.stats()
                        if stats.pending == 0 and not pool.in_flight:
                            quiet_rounds += 1
                        else:
                            quiet_rounds = 0
                        if time.monotonic() > deadline:
                            raise TimeoutError(f"deliveries did not settle: {stats}")
                        pool.notify()
                        await asyncio.sleep(0.02)

                world = DemoWorld(
                    sandbox=sandbox,
                    repo=REPO,
                    deliver=deliver,
                    settle=settle,
                    out=out,
                    settings=settings,
                )
                world.state["people"] = dict(PEOPLE)
                try:
                    for name in STEPS:
                        try:
                            module = importlib.import_module(f"demo.{name}")
                            title = (module.__doc__ or name).strip().splitlines()[0]
                            print(f"\n== {title}", file=out)
                            await module.run(world)
                        except Exception:  # a crashed step is a failed step, and the demo goes on
                            world.failures.append(f"{name} crashed")
                            traceback.print_exc(file=out)
                    stats = await app[INBOX].stats()
                    print("\n== Inbox and GitHub calls", file=out)
                    world.check(stats.failed == 0, f"no delivery parked as failed ({stats.failed})")
                    world.check(
                        not sandbox.unknown_calls,
                        f"every GitHub call was a known REST operation "
                        f"({len(sandbox.calls)} calls, {len(sandbox.writes())} writes)",
                    )
                finally:
                    sandbox.webhook_sink = None
                    await runner.cleanup()

    print(f"\n{world.passed} passed, {len(world.failures)} failed", file=out)
    for failure in world.failures:
        print(f"  - {failure}", file=out)
    return 0 if not world.failures else 1
