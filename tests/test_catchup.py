"""Deliveries missed while down take effect once, on either backend, within a catch-up of start.

The sandbox's delivery log records what GitHub tried to send while the bot was down (failed
attempts); the bot starts, reads the log and takes in what it does not hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from conftest import until
from test_handlers_incidents import INCIDENT, items_of, tracking

from bot.catchup import STATE_KEY
from bot.settings import Settings
from bot.web import CATCH_UP, DATABASE, INBOX, create_app


@pytest.fixture(params=["sqlite", "postgresql"])
def catch_up_settings(
    request: pytest.FixtureRequest, settings: Settings, make_settings: Callable[..., Settings]
) -> Settings:
    overrides: dict[str, Any] = {
        "api_url": settings.api_url,
        "catch_up_interval": 900.0,
        "queue_poll_interval": 0.05,
        "queue_heartbeat": 0.5,
    }
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    return make_settings(**overrides)


async def test_failed_deliveries_are_taken_in_once(
    sandbox: Any,
    repo: str,
    catch_up_settings: Settings,
    aiohttp_client: Callable[..., Any],
) -> None:
    world = sandbox.world
    # While the bot was down: an incident opened (GitHub got a 502), and an edit that failed and
    # was then redelivered by hand with success (received: nothing to recover).
    issue = sandbox.open_issue(repo, title="Outage", body=INCIDENT, labels=("incident",))
    opened = sandbox.issue_event(repo, issue["number"], "opened")
    world.record_delivery("issues", opened, guid="missed-open", status_code=502)
    world.record_delivery("issues", opened, guid="missed-open", status_code=504, redelivery=True)
    edited = sandbox.issue_event(repo, issue["number"], "edited")
    world.record_delivery("issues", edited, guid="got-later", status_code=502)
    world.record_delivery("issues", edited, guid="got-later", status_code=202, redelivery=True)
    world.record_delivery("ping", {"zen": "hi"}, guid="a-ping", status_code=200)

    client = await aiohttp_client(create_app(catch_up_settings))
    app = client.server.app

    async def recovered() -> bool:
        last = await app[CATCH_UP].last()
        return last is not None

    await until(recovered, within=20)
    last = await app[CATCH_UP].last()
    assert last is not None and last["error"] is None
    assert last["recovered"] == ["missed-open"] and last["recovered_count"] == 1
    assert last["failed"] == 2

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
