"""The README's Quick start, walked against the stand-in (``python -m sandbox``): register with
``setup``, start the bot from the ``.env`` it wrote, install the App, open a first incident —
and see what the README says one should see."""

from __future__ import annotations

import asyncio
import html
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from bot.settings import Settings, process_env
from bot.setup import SetupFlow, load_manifest
from bot.web import create_app
from sandbox import Sandbox
from sandbox.site import Site

ROOT = Path(__file__).resolve().parent.parent
Serve = Callable[..., Awaitable[TestServer]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_register_run_install_and_open_a_first_incident(
    tmp_path: Path, aiohttp_server: Serve
) -> None:
    standin = Sandbox()
    site = Site(standin)
    standin.webhook_sink = site.deliver
    github = await aiohttp_server(standin.make_app(site.routes()))
    standin.api_url = standin.web_url = str(github.make_url("")).rstrip("/")
    bot_port = free_port()
    public = f"http://127.0.0.1:{bot_port}"

    # 1. Register the App.
    flow = SetupFlow(
        manifest=load_manifest(ROOT / "app.yml"),
        api_url=standin.api_url,
        env_path=tmp_path / ".env",
        public_url=public,
    )
    flow.begin()
    setup_server = await aiohttp_server(flow.app())
    async with aiohttp.ClientSession() as browser:
        page = await (await browser.get(setup_server.make_url("/"))).text()
        action = html.unescape(re.search(r'<form action="([^"]+)"', page)[1])  # type: ignore[index]
        manifest = html.unescape(re.search(r'name="manifest" value="([^"]*)"', page)[1])  # type: ignore[index]
        # the browser follows GitHub's redirect back to the setup page's callback
        registered = await browser.post(action, data={"manifest": manifest})
        assert registered.status == 200
        assert "install the App on your repositories" in await registered.text()
    await flow.close()
    install_url = flow.registered.result()["install_url"]  # type: ignore[union-attr]
    assert install_url == f"{standin.web_url}/apps/hardening-bot/installations/new"

    # 2. Run it, from the .env setup wrote.
    settings = Settings.from_env(
        process_env({"DATABASE_URL": "sqlite:///unused"}, tmp_path / ".env")
    )
    settings = replace(settings, database_path=tmp_path / "bot.db", port=bot_port)
    bot = await aiohttp_server(create_app(settings), port=bot_port)
    try:
        async with aiohttp.ClientSession() as browser:
            # 3. Install the App on a repository.
            installed = await browser.get(install_url)
            assert installed.status == 200 and str(installed.url).endswith(
                "/monalisa/service/issues"
            )
            # 4. Open a first incident.
            opened = await browser.post(
                installed.url,
                data={
                    "title": "Pager silent during the replica lag",
                    "body": "### Findings\n- missed detection: the pager did not fire\n",
                    "labels": "incident",
                },
            )
            assert opened.status == 200
            for _ in range(1000):
                if len(standin.world.repo("monalisa/service").issues) >= 2:
                    break
                await asyncio.sleep(0.01)
        repo = standin.world.repo("monalisa/service")
        item = repo.issues[2]
        assert item.title == "Harden: the pager did not fire (from #1)"
        assert {label.name for label in item.labels} >= {
            "hardening",
            "failure-class:missed-detection",
            "priority:P1",
        }
        await _until_tracked(standin)
        assert [e for e, _ in standin.emitter.emitted][:1] == ["issues"]
        statuses = {d.event: d.status_code for d in standin.world.deliveries}
        assert statuses["installation"] == 202 and statuses["issues"] in (200, 202)
    finally:
        await standin.settle_webhooks()
        await site.close()
        await bot.close()


async def _until_tracked(standin: Any) -> None:
    """The incident gets its tracking comment (one comment from the App)."""
    for _ in range(1000):
        comments = [
            c
            for c in standin.world.comments.values()
            if c.issue_number == 1 and c.user.login == "hardening-bot[bot]"
        ]
        if comments:
            assert len(comments) == 1 and "#2" in comments[0].body
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no tracking comment on the incident")
