"""Pull request checks: hardening/controls and hardening/scorecard on a PR that hardens an item.

From docs/hardening-loop.md: "one automation control + one regression test", checked under the repository's rollout
modes, and the item's scorecard, rubric and adoption score shown on the pull request.

Uses ``world.state["items"]`` from the incident step (failure class -> item issue number) and
opens an item itself when that is absent. Leaves ``world.state["pull"]`` for later steps.
"""

from __future__ import annotations

from typing import Any

from rules.item_template import parse_item, render_item
from rules.model import HardeningItem

CONTROLS = "hardening/controls"
SCORECARD = "hardening/scorecard"
CONFIG = ".github/hardening.yml"

# A control file per failure class, under its default control paths.
_CONTROL_FILES = {
    "missed-detection": (
        "alerts/queue-lag.yml",
        ["alert: QueueLagHigh", "expr: lag > 30", "for: 5m", "route: payments-oncall"],
    ),
    "late-decision": ("runbooks/queue-lag.md", ["# Queue lag", "Page the commander at 10m."]),
    "slow-recovery": ("rollback/queue-consumer.sh", ["#!/bin/sh", "kubectl rollout undo"]),
    "repeated-regression": ("policy/queue.rego", ["package queue", "deny[msg] { lag > 30 }"]),
}
_SOURCE = {
    "filename": "src/queue/consumer.py",
    "status": "modified",
    "additions": 2,
    "deletions": 0,
    "patch": (
        "@@ -10,2 +10,4 @@ def consume(msg):\n     started = now()\n"
        "+    if lag(msg) > 30:\n+        metrics.incr('queue.lag.high')\n     handle(msg)"
    ),
}
_TEST = {
    "filename": "tests/test_consumer.py",
    "status": "modified",
    "additions": 3,
    "deletions": 0,
    "patch": (
        "@@ -1,3 +1,6 @@\n def test_consumes():\n     assert consume(msg())\n \n"
        "+def test_alert_fires_on_queue_lag():\n+    assert alert_for(lag=31).firing\n+"
    ),
}


def _control_file(failure_class: str) -> dict[str, Any]:
    path, lines = _CONTROL_FILES.get(failure_class, _CONTROL_FILES["missed-detection"])
    body = "".join(f"\n+{line}" for line in lines)
    return {
        "filename": path,
        "status": "added",
        "additions": len(lines),
        "deletions": 0,
        "patch": f"@@ -0,0 +1,{len(lines)} @@{body}",
    }


def _runs(world: Any, sha: str, name: str) -> list[dict[str, Any]]:
    return [r for r in world.sandbox.check_runs(world.repo, sha) if r["name"] == name]


def _latest(world: Any, sha: str, name: str) -> dict[str, Any] | None:
    found = _runs(world, sha, name)
    return found[-1] if found else None


def _item(world: Any) -> tuple[int, str]:
    """The item the pull request hardens: the incident step's, else a new one."""
    items: dict[str, int] = world.state.get("items") or {}
    for failure_class in ("missed-detection", *items):
        if failure_class in items:
            return int(items[failure_class]), failure_class
    item = HardeningItem(
        failure_class="missed-detection",
        proposed_control="alert rule + routing update",
        priority="P1",
        owner="erin",
        verifier="victor",
    )
    issue = world.sandbox.open_issue(
        world.repo,
        title="Harden: alert on queue lag",
        body=render_item(item),
        labels=("hardening", "failure-class:missed-detection"),
    )
    world.say(f"No item from the incident step: opened hardening item #{issue['number']}.")
    return int(issue["number"]), "missed-detection"


async def run(world: Any) -> None:
    sandbox, repo = world.sandbox, world.repo
    number, failure_class = _item(world)
    config = sandbox.world.snapshot(sandbox.world.repo(repo), None) or {}
    if CONFIG not in config:
        sandbox.put_file(repo, CONFIG, "mode: enforce\n")
        world.say("Configured `.github/hardening.yml` with `mode: enforce`.")
    body = f"Adds queue lag detection.\n\nHardens #{number}"

    # 1. Source only: no regression test, no control.
    pull = sandbox.open_pull(
        repo, title="Detect queue lag", body=body, user="erin", head="queue-lag", files=[_SOURCE]
    )
    world.say(f'Opened PR #{pull["number"]} ("Hardens #{number}") touching only source.')
    await world.deliver("pull_request", sandbox.pull_request_event(repo, pull["number"], "opened"))
    await world.settle()
    first = _latest(world, pull["head"]["sha"], CONTROLS)
    world.check(
        first is not None and first["conclusion"] in ("failure", "neutral"),
        f"{CONTROLS} is {first and first['conclusion']} on a source-only PR "
        f"(failure in enforce mode, neutral in warn): {first and first['output']['title']}",
    )
    summary = (first or {}).get("output", {}).get("summary", "")
    world.check(
        "Regression test" in summary and "def test_" in summary and "control paths" in summary,
        "the summary names the missing regression test (with an example) and control",
    )
    item = parse_item(sandbox.issue(repo, number)["body"]).item
    world.check(
        item is not None and item.status == "in_progress",
        f"item #{number} moved to in_progress when its PR opened",
    )

    # 2. Push a new test function and an alert rule: passes on the new head.
    pushed = sandbox.push_pull(
        repo, pull["number"], files=[_SOURCE, _TEST, _control_file(failure_class)]
    )
    head = pushed["head"]["sha"]
    world.say(
        f"Pushed {head[:7]}: a new test function and a control under the "
        f"{failure_class} control paths."
    )
    await world.deliver(
        "pull_request", sandbox.pull_request_event(repo, pull["number"], "synchronize")
    )
    await world.settle()
    passed = _latest(world, head, CONTROLS)
    world.check(
        passed is not None and passed["conclusion"] == "success",
        f"{CONTROLS} passes on the new head: {passed and passed['output']['title']}",
    )

    card = _latest(world, head, SCORECARD)
    card_summary = (card or {}).get("output", {}).get("summary", "")
    world.check(
        card is not None
        and "Scorecard " in card_summary
        and "Rubric " in card_summary
        and "Adoption " in card_summary
        and "in_progress" in card_summary,
        f"{SCORECARD} shows item #{number}: {card and card['output']['title']}",
    )

    # 3. Re-run from the UI: a fresh completed run on the same commit.
    assert passed is not None
    before = len(_runs(world, head, CONTROLS))
    await world.deliver("check_run", sandbox.check_run_event(repo, passed["id"], "rerequested"))
    await world.settle()
    after = _runs(world, head, CONTROLS)
    world.check(
        len(after) == before + 1
        and after[-1]["status"] == "completed"
        and after[-1]["id"] != passed["id"],
        f"re-run created a fresh completed run ({after[-1]['conclusion']})",
    )

    world.state["pull"] = {
        "number": pull["number"],
        "head_sha": head,
        "item": number,
        "url": pull["html_url"],
    }

    # 4. Merge: the item records the PR as implementation evidence, and the test.
    sandbox.merge_pull(repo, pull["number"])
    await world.deliver("pull_request", sandbox.pull_request_event(repo, pull["number"], "closed"))
    await world.settle()
    item = parse_item(sandbox.issue(repo, number)["body"]).item
    kinds = (
        [e.kind for e in item.evidence if pull["html_url"] in e.url or e.kind == "test"]
        if item
        else []
    )
    world.check(
        "implementation" in kinds and "test" in kinds,
        f"merging PR #{pull['number']} recorded implementation and test evidence on item #{number}",
    )
    world.state["pull"]["merged"] = True
