"""Deliveries whose payload has no ``installation`` object (a saved or hand-made delivery, an
older capture): the bot finds the repository's installation with ``apps/get-repo-installation``
instead of calling installation routes with the App's JWT, and a repository the App is not
installed on is skipped rather than retried into a parked failure."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import gidgethub
from conftest import ledger_call

from bot.web import INBOX, _is_permanent
from sandbox import Sandbox


def _without_installation(payload: dict[str, Any]) -> dict[str, Any]:
    payload = dict(payload)
    payload.pop("installation", None)
    return payload


async def test_installation_is_looked_up_from_the_repository(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any, bot_app: Any
) -> None:
    issue = sandbox.open_issue(
        repo,
        title="DB outage",
        body="### Findings\n\n- missed detection: no page\n",
        labels=["incident"],
    )
    payload = _without_installation(sandbox.issue_event(repo, issue.number, "opened"))
    assert (await deliver("issues", payload)).status == 202
    await drain()

    assert any(c.path == f"/repos/{repo}/installation" for c in sandbox.calls)
    assert not any(c.status in (401, 403) for c in sandbox.calls)
    created = [
        c
        for c in sandbox.writes()
        if c.method == "POST" and c.path.endswith("/issues") and not ledger_call(sandbox, c)
    ]
    assert len(created) == 1
    assert (await bot_app[INBOX].stats()).failed == 0


async def test_a_repository_without_the_app_is_skipped(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any, bot_app: Any
) -> None:
    issue = sandbox.open_issue(
        repo, title="x", body="### Findings\n\n- missed detection: y\n", labels=["incident"]
    )
    payload = _without_installation(sandbox.issue_event(repo, issue.number, "opened"))
    # the same event, as if from a repository the App was never installed on
    payload["repository"] = {
        **payload["repository"],
        "name": "elsewhere",
        "full_name": "stranger/elsewhere",
        "owner": {**payload["repository"]["owner"], "login": "stranger"},
    }
    assert (await deliver("issues", payload)).status == 202
    await drain()
    lookups = [c for c in sandbox.calls if c.path == "/repos/stranger/elsewhere/installation"]
    assert [c.status for c in lookups] == [404]
    assert sandbox.writes() == [] or all(c.path.startswith("/app/") for c in sandbox.writes())
    assert (await bot_app[INBOX].stats()).failed == 0


def test_permission_refusals_are_permanent_but_rate_limits_are_not() -> None:
    refused = gidgethub.BadRequest(HTTPStatus.FORBIDDEN, "Resource not accessible by integration")
    limited = gidgethub.BadRequest(HTTPStatus.FORBIDDEN, "You have exceeded a secondary rate limit")
    assert _is_permanent(refused)
    assert not _is_permanent(limited)
    assert _is_permanent(gidgethub.BadRequest(HTTPStatus.UNPROCESSABLE_ENTITY, "x"))
    assert not _is_permanent(gidgethub.BadRequest(HTTPStatus.NOT_FOUND, "x"))


async def test_a_delivery_naming_no_installation_and_no_repository_parks_at_once(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any, bot_app: Any
) -> None:
    issue = sandbox.open_issue(repo, title="x", body="y", labels=["incident"])
    payload = _without_installation(sandbox.issue_event(repo, issue.number, "opened"))
    del payload["repository"]
    assert (await deliver("issues", payload, delivery_id="orphan")).status == 202
    await drain()
    parked = await bot_app[INBOX].get("orphan")
    assert parked is not None and parked.status == "failed"
    assert parked.attempts == 1  # no retry: none could succeed
    assert parked.last_error is not None and "names no installation" in parked.last_error
    assert sandbox.writes() == []
