"""GitHub's budget: in steady state a delivery reads no configuration, and a push that changes
one is seen by the next delivery; a pull request event costs at most four requests. Prints the
requests each event kind costs (``-s`` to see).
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import uuid
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from conftest import (
    INSTALLATION_ID,
    OWNED_ITEM,
    WEBHOOK_SECRET,
    MakeWorld,
    World,
    open_app_item,
    until,
)
from test_handlers_pulls import ALERT, MISSED, NEW_TEST, SOURCE, open_item

from bot import handlers
from bot.context import changes_config
from bot.settings import Settings
from bot.startup import serve
from bot.web import sign
from sandbox import Call, Sandbox

CONFIG = ".github/hardening.yml"


def push(repo: str, *changed: str, **flags: Any) -> dict[str, Any]:
    owner, name = repo.split("/")
    return {
        "ref": "refs/heads/main",
        "before": "a" * 40,
        "after": "b" * 40,
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": [{"id": "b" * 40, "added": [], "modified": list(changed), "removed": []}],
        "repository": {"full_name": repo, "name": name, "owner": {"login": owner}},
        "installation": {"id": INSTALLATION_ID},
        **flags,
    }


def test_which_pushes_change_a_configuration() -> None:
    assert changes_config("push", push("o/r", CONFIG))
    assert not changes_config("push", push("o/r", "src/app.py", "hardening.yml"))
    assert changes_config("push", push("o/.github", "hardening.yml"))
    assert changes_config("push", push("o/r", "src/app.py", forced=True))
    assert changes_config("push", push("o/r", deleted=True))
    assert changes_config("push", {**push("o/r"), "commits": [{"id": "x"}] * 20})
    assert not changes_config("issues", push("o/r", CONFIG))
    assert changes_config("installation_repositories", {"action": "added"})


def costs(sandbox: Sandbox) -> tuple[int, int]:
    """(requests, those counted against the rate limit: a 304 is free)."""
    calls = [c for c in sandbox.calls if not c.injected]
    return len(calls), sum(1 for c in calls if c.status != 304)


async def test_steady_state_reads_no_configuration_and_a_push_ends_it(
    sandbox: Sandbox,
    repo: str,
    make_world: MakeWorld,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = await make_world(config_max_age=86400.0, issue_max_age=3600.0)
    deliver, drain = world.deliver, world.drain
    sandbox.put_file(repo, CONFIG, "mode: warn\n")
    item = open_item(sandbox, repo)
    report: dict[str, list[tuple[int, int]]] = {}

    async def pull_request(action: str, number: int) -> None:
        sandbox.reset_calls()
        await deliver("pull_request", sandbox.pull_request_event(repo, number, action))
        await drain()
        report.setdefault(f"pull_request.{action}", []).append(costs(sandbox))

    def config_reads() -> list[Call]:
        return [c for c in sandbox.calls if "/contents/" in c.path]

    for i in range(4):
        pull = sandbox.open_pull(
            repo,
            title=f"q{i}",
            body=f"Hardens #{item}",
            files=[SOURCE, NEW_TEST],
            labels=MISSED,
            user="dave",
        )
        await pull_request("opened", pull["number"])
        if i == 0:
            assert config_reads(), "the first delivery reads the configuration"
        else:
            assert config_reads() == [], "a steady state reads no configuration"
        sandbox.push_pull(repo, pull["number"], files=[SOURCE, NEW_TEST, ALERT])
        await pull_request("synchronize", pull["number"])
        assert config_reads() == []
    last = pull["number"]

    # A push that does not touch the configuration changes nothing.
    sandbox.reset_calls()
    response = await deliver("push", push(repo, "src/app.py"))
    assert response.status == 202
    await drain()
    report.setdefault("push", []).append(costs(sandbox))
    await pull_request("edited", last)
    assert config_reads() == []

    # One that does is seen by the very next delivery: enforce mode fails what warn let pass.
    sandbox.put_file(repo, CONFIG, "mode: enforce\ncontrols: {control-change: enforce}\n")
    sandbox.push_pull(repo, last, files=[SOURCE, NEW_TEST])
    assert (await deliver("push", push(repo, CONFIG))).status == 202
    await pull_request("synchronize", last)
    assert config_reads(), "the pushed configuration is read"
    head = sandbox.pull(repo, last)["head"]["sha"]
    controls = [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/controls"]
    assert controls[-1]["conclusion"] == "failure"

    with capsys.disabled():
        print("\nGitHub requests per event (all / counted against the rate limit):")
        for kind, seen in sorted(report.items()):
            total = sum(a for a, _ in seen) / len(seen)
            limited = sum(b for _, b in seen) / len(seen)
            print(f"  {kind:28} {total:5.1f} / {limited:4.1f}   ({len(seen)} deliveries)")


# --- a pull request event in steady state ------------------------------------------------------

PULL_REQUEST_BUDGET = 4  # GitHub requests per pull request event, configuration already held


class PerDelivery:
    """The sandbox's calls attributed to the delivery whose handlers made them."""

    def __init__(self, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sandbox = sandbox
        self.spans: list[tuple[str, int, int]] = []
        original = handlers.dispatch

        async def dispatch(event: Any, gh: Any, ctx: Any) -> None:
            start = len(sandbox.calls)
            try:
                await original(event, gh, ctx)
            finally:
                action = event.data.get("action")
                kind = f"{event.event}.{action}" if action else event.event
                self.spans.append((kind, start, len(sandbox.calls)))

        monkeypatch.setattr(handlers, "dispatch", dispatch)

    def reset(self) -> None:
        self.sandbox.reset_calls()
        self.spans.clear()

    def calls(self, kind: str) -> list[Call]:
        """The calls of the deliveries of ``kind`` since the last reset (tokens and the
        App's own lookups made before dispatch are charged to the first)."""
        found = []
        for seen, start, end in self.spans:
            if seen == kind:
                found.extend(self.sandbox.calls[start:end])
        return [c for c in found if not c.injected]


def shown(calls: list[Call]) -> str:
    return "\n".join(f"  {c.status} {c.method} {c.path} {c.query or ''}" for c in calls)


async def test_a_pull_request_event_costs_at_most_four_requests(
    sandbox: Sandbox,
    repo: str,
    make_world: MakeWorld,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A typical pull request (three linked items, a few files) in steady state: each of its
    events reads the file list (one page of 100 files; a larger pull request needs a request
    per further page) and writes what changed of the two check runs, four requests at most.
    The items, the configuration, the other pull requests linking the items and the App's own
    check runs are not read again. The ledger delivery that follows is printed beside it."""
    world = await make_world(config_max_age=86400.0, issue_max_age=3600.0)
    deliver, drain = world.deliver, world.drain
    per = PerDelivery(sandbox, monkeypatch)
    sandbox.put_file(repo, CONFIG, "mode: warn\n")
    items = [open_item(sandbox, repo) for _ in range(3)]
    body = "Alert on lag. " + " ".join(f"Hardens #{n}" for n in items)
    # An earlier pull request links the first item: its scorecard shows both.
    earlier = sandbox.open_pull(
        repo, title="first", body=f"Hardens #{items[0]}", files=[SOURCE, ALERT], user="dave"
    )
    await deliver("pull_request", sandbox.pull_request_event(repo, earlier["number"], "opened"))
    pull = sandbox.open_pull(
        repo, title="q", body=body, files=[SOURCE, NEW_TEST], labels=MISSED, user="dave"
    )
    number = int(pull["number"])
    await deliver("pull_request", sandbox.pull_request_event(repo, number, "opened"))
    await drain()  # warmed up: configuration read, items in progress, caches filled
    report: dict[str, tuple[int, int]] = {}
    measured: dict[str, list[Call]] = {}
    ledgers: dict[str, list[Call]] = {}

    def cost(calls: list[Call]) -> tuple[int, int]:
        return len(calls), sum(1 for c in calls if c.status != 304)

    async def measure(label: str, event: str, payload: dict[str, Any], **extra: Any) -> None:
        per.reset()
        await deliver(event, payload, **extra)
        await drain()
        calls = per.calls(f"{event}.{payload.get('action')}")
        measured[f"{event}.{label}"] = calls
        report[f"{event}.{label}"] = cost(calls)
        ledger = per.calls("hardening_ledger.update")
        ledgers[label] = ledger
        assert not [c for c in ledger if "creator" in c.query], "the ledger is known by number"
        assert not [c for c in ledger if c.path.endswith("/.github")], "no total changed"
        if ledger:
            report[f"  then its ledger update ({label})"] = cost(ledger)

    def runs_now() -> list[dict[str, Any]]:
        return sandbox.check_runs(repo)

    another = sandbox.open_pull(
        repo, title="r", body=body, files=[SOURCE, NEW_TEST], labels=MISSED, user="dave"
    )
    await measure(
        "opened", "pull_request", sandbox.pull_request_event(repo, another["number"], "opened")
    )
    sandbox.push_pull(repo, number, files=[SOURCE, NEW_TEST, ALERT])
    sync = sandbox.pull_request_event(repo, number, "synchronize")
    await measure("synchronize", "pull_request", sync, delivery_id="sync-1")
    before = runs_now()
    # The same event delivered again changes nothing.
    await measure("synchronize (redelivered)", "pull_request", sync, delivery_id="sync-2")
    assert runs_now() == before
    assert [
        c for c in measured["pull_request.synchronize (redelivered)"] if c.method != "GET"
    ] == []
    assert ledgers["synchronize (redelivered)"] == [], "the ledger holds that verdict already"

    sandbox.update_issue(repo, number, user="dave", body=body + "\n\nWith a runbook note.")
    edited = sandbox.pull_request_event(repo, number, "edited", changes={"body": {"from": body}})
    await measure("edited", "pull_request", edited)
    sandbox.update_issue(repo, number, user="dave", state="closed")
    await deliver("pull_request", sandbox.pull_request_event(repo, number, "closed"))
    sandbox.update_issue(repo, number, user="dave", state="open")
    await measure("reopened", "pull_request", sandbox.pull_request_event(repo, number, "reopened"))
    head = sandbox.pull(repo, number)["head"]["sha"]
    controls = [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/controls"]
    count = len(sandbox.check_runs(repo, head))
    await measure(
        "rerequested",
        "check_run",
        sandbox.check_run_event(repo, controls[-1]["id"], "rerequested"),
    )
    assert len(sandbox.check_runs(repo, head)) == count + 1, "a re-run is one new run"
    await measure("rerequested", "check_suite", sandbox.check_suite_event(repo, head))
    assert len(sandbox.check_runs(repo, head)) == count + 3, "a suite re-run: one new run each"

    # What the checks show did not lose anything: both runs, the three items scored.
    scorecard = [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/scorecard"]
    summary = scorecard[-1]["output"]["summary"]
    assert all(f"#{n}" in summary for n in items), summary
    assert f"#{earlier['number']}" in summary, "the earlier linked pull request is shown"

    # A person renames an item: its webhook marks it changed, and the next event reads it.
    sandbox.update_issue(repo, items[1], user="carol", title="Page on queue lag")
    edit = sandbox.issue_event(repo, items[1], "edited", changes={"title": {"from": "Alert"}})
    assert (await deliver("issues", edit)).status == 202
    await drain()
    per.reset()
    await deliver("pull_request", sandbox.pull_request_event(repo, number, "reopened"))
    await drain()
    reads = [
        c for c in per.calls("pull_request.reopened") if c.path.endswith(f"/issues/{items[1]}")
    ]
    assert [c.status for c in reads] == [200], "read once, and only the changed item"
    card = [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/scorecard"]
    assert f"#{items[1]} Page on queue lag" in card[-1]["output"]["summary"]

    with capsys.disabled():
        print("\nGitHub requests per pull request event, steady state (all / rate-limited):")
        for kind, (total, limited) in report.items():
            print(f"  {kind:44} {total:3d} / {limited:3d}")
    over = {kind: calls for kind, calls in measured.items() if len(calls) > PULL_REQUEST_BUDGET}
    assert not over, "\n".join(f"{kind}: {len(c)}\n{shown(c)}" for kind, c in over.items())


# --- nothing amplifies -----------------------------------------------------------------------


def scorecards(sandbox: Sandbox, repo: str, pull: dict[str, Any]) -> list[dict[str, Any]]:
    runs = sandbox.check_runs(repo, pull["head"]["sha"])
    return [r for r in runs if r["name"] == "hardening/scorecard"]


async def test_a_pull_request_linking_many_items_costs_requests_linear_in_them(
    world: World,
) -> None:
    """Items each linked by many open pull requests, each linking every item: the next pull
    request's ``opened`` moves the items to in progress and refreshes the other scorecards.
    Each item is read a bounded number of times, each other pull request read and its scorecard
    written once: requests grow with items + pull requests, not items x pull requests x items
    (20 items and 30 such pull requests once cost 12,865 requests for one event)."""
    sandbox, repo = world.sandbox, world.repo
    sandbox.add_user("mallory")  # no role: anyone can open these
    size = 5
    items = [open_app_item(sandbox, repo, OWNED_ITEM) for _ in range(size)]
    body = " ".join(f"Hardens #{n}" for n in items)
    others = [
        sandbox.open_pull(
            repo, title=f"p{k}", body=body, files=[SOURCE], user="mallory", head=f"h{k}"
        )
        for k in range(size)
    ]
    pull = sandbox.open_pull(repo, title="last", body=body, files=[SOURCE], user="mallory")
    start = len(sandbox.calls)
    await world.send("pull_request", sandbox.pull_request_event(repo, pull["number"], "opened"))
    calls = [c for c in sandbox.calls[start:] if not c.injected]
    item_reads = [c for c in calls if c.method == "GET" and "/issues/" in c.path]
    # Per item: a read, its write and labels, one search, a read after the change and one
    # under the scorecard's lock; per other pull request: a read, its files, its scorecard.
    bound = 20 + 8 * size + 4 * size
    assert len(calls) <= bound, f"{len(calls)} requests:\n{shown(calls)}"
    assert len(item_reads) <= 3 * size, shown(item_reads)
    for other in others:
        assert len(scorecards(sandbox, repo, other)) == 1, "each other scorecard written once"
        summary = scorecards(sandbox, repo, other)[0]["output"]["summary"]
        rows = [line for line in summary.splitlines() if line.startswith("| #")]
        assert len(rows) == size and all("| in_progress |" in row for row in rows), summary
    assert all(sandbox.issue(repo, n)["body"].count("in_progress") for n in items)


async def test_scorecards_refreshed_by_one_event_are_bounded_and_the_rest_reported(
    world: World,
) -> None:
    """One event refreshes at most ``limits.linked_pulls_per_item`` other scorecards; the
    pull request's own scorecard names the ones left as they were."""
    sandbox, repo = world.sandbox, world.repo
    sandbox.put_file(repo, CONFIG, "limits:\n  linked_pulls_per_item: 3\n")
    first, second = (open_app_item(sandbox, repo, OWNED_ITEM) for _ in range(2))
    others = [
        sandbox.open_pull(
            repo, title=f"p{k}", body=f"Hardens #{n}", files=[SOURCE], user="dave", head=f"h{k}"
        )["number"]
        for k, n in enumerate((first,) * 3 + (second,) * 3)
    ]
    pull = sandbox.open_pull(
        repo, title="both", body=f"Hardens #{first} Hardens #{second}", files=[SOURCE]
    )
    await world.send("pull_request", sandbox.pull_request_event(repo, pull["number"], "opened"))
    written = [n for n in others if scorecards(sandbox, repo, sandbox.pull(repo, n))]
    # Each item reads 3 pull requests (this one and the two newest others): 4 others found.
    assert len(written) == 3
    [own] = scorecards(sandbox, repo, pull)
    summary = own["output"]["summary"]
    assert "keep their earlier scorecard" in summary, summary
    named = {
        int(n) for n in re.findall(r"#(\d+)", summary.split("earlier scorecard")[1].split("\n")[0])
    }
    assert len(named) == 1 and named <= set(others) - set(written), summary


@pytest.mark.parametrize("event", ["installation_repositories", "installation"])
async def test_installing_on_the_org_config_repository_is_seen_at_once(
    event: str,
    sandbox: Sandbox,
    repo: str,
    make_world: MakeWorld,
) -> None:
    world = await make_world(config_max_age=86400.0)
    deliver, drain = world.deliver, world.drain
    item = open_item(sandbox, repo)
    pull = sandbox.open_pull(
        repo, title="q", body=f"Hardens #{item}", files=[SOURCE, NEW_TEST], labels=MISSED
    )
    await deliver("pull_request", sandbox.pull_request_event(repo, pull["number"], "opened"))
    await drain()  # the organisation's .github is not readable yet: its absence is cached

    # The admin installs the App on the organisation's .github repository, which enforces.
    owner = repo.split("/")[0]
    sandbox.add_repo(f"{owner}/.github", installation_id=INSTALLATION_ID)
    sandbox.put_file(
        f"{owner}/.github", "hardening.yml", "mode: enforce\ncontrols: {control-change: enforce}\n"
    )
    added = {"full_name": f"{owner}/.github", "name": ".github", "private": False}
    payload: dict[str, Any] = {
        "action": "added",
        "installation": {"id": INSTALLATION_ID, "account": {"login": owner}},
        "repositories_added": [added],
        "repositories_removed": [],
    }
    if event == "installation":
        payload = {**payload, "action": "created", "repositories": [added]}
    assert (await deliver(event, payload)).status == 202
    sandbox.push_pull(repo, pull["number"], files=[SOURCE, NEW_TEST])
    await deliver("pull_request", sandbox.pull_request_event(repo, pull["number"], "synchronize"))
    await drain()
    head = sandbox.pull(repo, pull["number"])["head"]["sha"]
    controls = [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/controls"]
    assert controls[-1]["conclusion"] == "failure"


async def test_an_app_not_subscribed_to_push_reads_configuration_on_every_delivery(
    sandbox: Sandbox,
    repo: str,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Registered before the App subscribed to ``push``: no push ever says a configuration
    changed, so keeping one would keep it stale for a day. The start says so, once."""
    sandbox.world.app_events.remove("push")
    sandbox.put_file(repo, CONFIG, "mode: warn\n")
    item = open_item(sandbox, repo)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    live = replace(settings, host="127.0.0.1", port=port, config_max_age=86400.0)
    stop = asyncio.Event()
    server = asyncio.create_task(serve(live, stop=stop, freeze_heap=False))
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(500):
                try:
                    async with client.get(url + "/healthz"):
                        break
                except aiohttp.ClientConnectionError:
                    assert not server.done(), server
                    await asyncio.sleep(0.01)

            async def send(number: int, action: str) -> None:
                body = json.dumps(sandbox.pull_request_event(repo, number, action)).encode()
                headers = {
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": str(uuid.uuid4()),
                    "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
                    "Content-Type": "application/json",
                }
                async with client.post(url + "/webhook", data=body, headers=headers) as answer:
                    assert answer.status == 202

                async def idle() -> bool:
                    async with client.get(url + "/healthz") as answer:
                        health = await answer.json()
                    inbox, workers = health["inbox"], health["workers"]
                    return inbox["pending"] == 0 and workers["in_flight"] == 0

                await until(idle, within=10)

            pull = sandbox.open_pull(
                repo, title="q", body=f"Hardens #{item}", files=[SOURCE, NEW_TEST], labels=MISSED
            )
            await send(pull["number"], "opened")
            # Changed on GitHub; without push, the App is never told.
            sandbox.put_file(repo, CONFIG, "mode: enforce\ncontrols: {control-change: enforce}\n")
            sandbox.push_pull(repo, pull["number"], files=[SOURCE, NEW_TEST])
            await send(pull["number"], "synchronize")
    finally:
        stop.set()
    assert await server == 0
    head = sandbox.pull(repo, pull["number"])["head"]["sha"]
    controls = [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/controls"]
    assert controls[-1]["conclusion"] == "failure"
    warnings = [r for r in caplog.records if "push" in r.getMessage() and r.levelname == "WARNING"]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
