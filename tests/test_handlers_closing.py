"""bot.handlers.closing through the real endpoint against the sandbox: premature closes are
undone with one comment, loops end, and the bot's own closes and reopens are left alone."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import BOT, Deliver, Drain, World, changes, open_app_item

from bot.github import GitHubApp
from bot.web import create_app
from rules.item_template import render_item
from rules.model import Deferral, Evidence, HardeningItem
from sandbox import Sandbox

BARE = HardeningItem(
    incident=None,
    failure_class="missed-detection",
    proposed_control="alert rule + routing update",
    priority="P1",
)
READY = dataclasses.replace(
    BARE,
    owner="carol",
    verifier="bob",
    due=date(2026, 12, 1),
    evidence=(Evidence("https://ci.example.com/run/1", "implementation"),),
    status="retired",
    retired_rationale="duplicates the canary gate",
)


@pytest.fixture
async def bot_client(aiohttp_client: Any, settings: Any, quick_github: GitHubApp) -> TestClient:
    """The bot, with GitHub retries that do not wait (the sandbox answers at once)."""
    return await aiohttp_client(create_app(settings, github=quick_github))


def open_item(sandbox: Sandbox, repo: str, item: HardeningItem = BARE, **changes: Any) -> int:
    """An item the App keeps: its gate facts in the App's record."""
    return open_app_item(sandbox, repo, dataclasses.replace(item, **changes))


async def close(world: World, number: int, user: str = "dave") -> None:
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    sandbox.update_issue(repo, number, user=user, state="closed")
    response = await deliver("issues", sandbox.issue_event(repo, number, "closed", sender=user))
    assert response.status == 202
    await drain()


def gate_comments(sandbox: Sandbox, repo: str, number: int, name: str = "closure-gate") -> list:
    return [
        c for c in sandbox.comments(repo, number) if f"<!-- hardening-bot:{name} -->" in c["body"]
    ]


async def replay_emitted(sandbox: Sandbox, deliver: Deliver, drain: Drain, start: int = 0) -> int:
    """Deliver the webhooks the bot's own writes caused, as GitHub would; returns how many."""
    emitted = sandbox.emitted[start:]
    for event, payload in emitted:
        await deliver(event, payload)
    await drain()
    return len(emitted)


async def test_closing_a_bare_item_reopens_it_naming_each_missing_thing(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    n = open_item(sandbox, repo)
    await close(world, n)
    issue = sandbox.issue(repo, n)
    assert issue["state"] == "open" and issue["state_reason"] == "reopened"
    [comment] = gate_comments(sandbox, repo, n)
    body = comment["body"]
    assert comment["user"]["login"] == BOT
    for what, command in [
        ("an execution owner", "/harden owner @user"),
        ("a verifier owner", "/harden verifier @user"),
        ("a due date", "/harden due YYYY-MM-DD"),
        ("at least one evidence link", "/harden evidence URL"),
        ("status `verified`", "/harden verify"),
    ]:
        assert what in body and command in body
    assert "@dave closed this issue" in body and "/harden retire RATIONALE" in body
    assert "Closed once" in body


async def test_a_close_loop_ends_with_one_comment_and_a_count(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    n = open_item(sandbox, repo)
    for _ in range(3):
        await close(world, n)
        assert sandbox.issue(repo, n)["state"] == "open"
    [comment] = gate_comments(sandbox, repo, n)
    assert "Closed 3 times before it was ready" in comment["body"]
    # The bot's own reopen comes back as a webhook: it changes nothing.
    sandbox.reset_calls()
    assert await replay_emitted(sandbox, deliver, drain) > 0
    assert changes(sandbox) == []
    # So does the bot's own close, were it to happen.
    sandbox.update_issue(repo, n, user=BOT, state="closed")
    sandbox.reset_calls()
    await deliver("issues", sandbox.issue_event(repo, n, "closed", sender=BOT))
    await drain()
    assert changes(sandbox) == []
    assert sandbox.issue(repo, n)["state"] == "closed"


async def test_a_redelivered_close_counts_once(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain
) -> None:
    n = open_item(sandbox, repo)
    sandbox.update_issue(repo, n, user="dave", state="closed")
    payload = sandbox.issue_event(repo, n, "closed", sender="dave")
    await deliver("issues", payload)
    await drain()
    sandbox.reset_calls()
    assert (await deliver("issues", payload)).status == 202  # new delivery id, same close
    await drain()
    assert changes(sandbox) == []
    [comment] = gate_comments(sandbox, repo, n)
    assert "Closed once" in comment["body"]


async def test_a_close_that_fails_midway_is_finished_by_the_retry(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    n = open_item(sandbox, repo)
    # The reopen fails past the client's retries; the worker retries the delivery.
    sandbox.inject("PATCH", rf"/repos/octo/repo/issues/{n}$", status=502, times=4)
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "open"
    [comment] = gate_comments(sandbox, repo, n)
    assert "Closed once" in comment["body"]


async def test_a_ready_item_stays_closed(sandbox: Sandbox, repo: str, world: World) -> None:
    n = open_item(sandbox, repo, READY)
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "closed"
    assert gate_comments(sandbox, repo, n) == []


async def test_a_hand_written_verified_status_does_not_pass_the_gate(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    # The execution owner types `verified` and a signoff into the body, then closes.
    n = open_item(sandbox, repo, READY, status="open", retired_rationale=None)
    forged = dataclasses.replace(
        READY, status="verified", retired_rationale=None, verified_by="bob"
    )
    body = sandbox.issue(repo, n)["body"].replace(
        render_item(dataclasses.replace(READY, status="open", retired_rationale=None)),
        render_item(forged),
    )
    sandbox.update_issue(repo, n, user="carol", body=body)
    await close(world, n, user="carol")
    assert sandbox.issue(repo, n)["state"] == "open"
    [comment] = gate_comments(sandbox, repo, n)
    assert "/harden verify" in comment["body"] and "status is `open`" in comment["body"]


async def test_a_hand_typed_retirement_does_not_pass_the_gate(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    # A write user types `retired` and a rationale instead of asking a lead to /harden retire.
    n = open_item(sandbox, repo, READY, status="open", retired_rationale=None)
    sandbox.set_permission(repo, "dave", "write")
    body = sandbox.issue(repo, n)["body"].replace("- Status: open", "- Status: retired")
    body = body.replace(
        "- Adoption check date:", "- Retirement rationale: not needed\n- Adoption check date:"
    )
    sandbox.update_issue(repo, n, user="dave", body=body)
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "open"
    [comment] = gate_comments(sandbox, repo, n)
    assert "/harden retire RATIONALE" in comment["body"]


async def test_other_issues_are_left_alone(sandbox: Sandbox, repo: str, world: World) -> None:
    plain = sandbox.open_issue(repo, title="Typo", body="- Execution owner:", labels=("bug",))
    no_template = sandbox.open_issue(repo, title="Later", body="to do", labels=("hardening",))
    for issue in (plain, no_template):
        sandbox.reset_calls()
        await close(world, issue["number"])
        assert changes(sandbox) == []
        assert sandbox.issue(repo, issue["number"])["state"] == "closed"


# --- incidents ---------------------------------------------------------------------------------


async def open_incident(world: World, body: str = "We lost the queue for an hour.") -> int:
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    incident = sandbox.open_issue(repo, title="Queue outage", body=body, labels=("incident",))
    n = int(incident["number"])
    await deliver("issues", sandbox.issue_event(repo, n, "opened"))
    await drain()
    return n


async def test_closing_an_incident_without_items_reopens_it(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    n = await open_incident(world)
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "open"
    [comment] = gate_comments(sandbox, repo, n, "incident-close-gate")
    assert "at least one hardening item" in comment["body"]
    assert "Findings" in comment["body"]
    # Closing again edits the same comment; the bot's reopen writes nothing.
    await close(world, n)
    [comment] = gate_comments(sandbox, repo, n, "incident-close-gate")
    assert "Closed 2 times" in comment["body"]
    start = len(sandbox.emitted)
    sandbox.reset_calls()
    await close(world, n)
    writes = [(c.method, c.path) for c in changes(sandbox)]
    assert writes == [
        ("PATCH", f"/repos/octo/repo/issues/comments/{comment['id']}"),
        ("PATCH", f"/repos/octo/repo/issues/{n}"),
    ]
    sandbox.reset_calls()
    await replay_emitted(sandbox, deliver, drain, start)
    assert changes(sandbox) == []


async def test_closing_an_incident_with_unowned_items_names_each(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    n = await open_incident(world)
    owned = open_item(
        sandbox, repo, incident=n, owner="carol", verifier="bob", due=date(2026, 12, 1)
    )
    bare = open_item(sandbox, repo, incident=n)
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "open"
    [comment] = gate_comments(sandbox, repo, n, "incident-close-gate")
    body = comment["body"]
    assert f"an execution owner on #{bare}" in body
    assert f"a verifier owner on #{bare}" in body
    assert f"a due date on #{bare}" in body
    assert f"#{owned}" not in body


# The open work is deferred: the sprint checklist is not met, and that is accounted for
# (tests/test_handlers_loop.py covers an incident held for it).
DEFERRED = Deferral(date(2027, 1, 15), "vendor first", "a silent outage", "dave")


async def test_closing_an_incident_whose_items_are_owned_holds(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    n = await open_incident(world)
    open_item(
        sandbox,
        repo,
        incident=n,
        owner="carol",
        verifier="bob",
        due=date(2026, 12, 1),
        deferral=DEFERRED,
    )
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "closed"
    assert gate_comments(sandbox, repo, n, "incident-close-gate") == []


async def test_an_item_retired_without_owners_does_not_hold_its_incident(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    n = await open_incident(world)
    open_item(
        sandbox,
        repo,
        incident=n,
        owner="carol",
        verifier="bob",
        due=date(2026, 12, 1),
        deferral=DEFERRED,
    )
    open_item(sandbox, repo, incident=n, status="retired", retired_rationale="superseded by #9")
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "closed"
    assert gate_comments(sandbox, repo, n, "incident-close-gate") == []


async def test_an_incident_closed_without_its_label_is_judged_when_the_label_comes_back(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    n = await open_incident(world, "### Findings\n- missed detection: pager stayed quiet\n")
    sandbox.update_issue(repo, n, user="dave", labels=[])
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "closed"  # not an incident while unlabelled
    sandbox.add_labels(repo, n, ["incident"], user="dave")
    await world.send(
        "issues", sandbox.issue_event(repo, n, "labeled", sender="dave", label="incident")
    )
    assert sandbox.issue(repo, n)["state"] == "open"
    [comment] = gate_comments(sandbox, repo, n, "incident-close-gate")
    assert "@dave closed this issue" in comment["body"]
    # Another label coming back, or the incident label on an open incident, judges nothing.
    sandbox.reset_calls()
    await world.send(
        "issues", sandbox.issue_event(repo, n, "labeled", sender="dave", label="incident")
    )
    assert changes(sandbox) == []


async def test_an_incident_with_the_hardening_label_is_judged_as_an_incident(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    n = await open_incident(world, "### Findings\n- missed detection: pager stayed quiet\n")
    sandbox.add_labels(repo, n, ["hardening"], user="dave")
    await close(world, n)
    assert sandbox.issue(repo, n)["state"] == "open"
    assert len(gate_comments(sandbox, repo, n, "incident-close-gate")) == 1
