"""bot.handlers.pulls through the real endpoint against the sandbox: the two PR check runs,
rollout modes, configuration errors, re-runs and the item lifecycle a linked PR drives."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from conftest import BOT, OWNED_ITEM, Deliver, Drain, World, handler_api, item_of

from bot.facts import linked_pulls, refresh_scorecards
from bot.handlers import pulls
from bot.scope import Scope
from rules.item_template import render_item
from sandbox import Sandbox

CONTROLS = "hardening/controls"
SCORECARD = "hardening/scorecard"
CONFIG = ".github/hardening.yml"
MISSED = ("failure-class:missed-detection",)  # the label that puts a pull request in scope

SOURCE = {
    "filename": "src/queue/consumer.py",
    "status": "modified",
    "additions": 2,
    "deletions": 0,
    "patch": (
        "@@ -10,2 +10,4 @@ def consume():\n     msg = q.get()\n"
        "+    if lag > 30:\n+        log.warn('lag')\n     handle(msg)"
    ),
}
NEW_TEST = {
    "filename": "tests/test_consumer.py",
    "status": "modified",
    "additions": 3,
    "deletions": 0,
    "patch": (
        "@@ -1,3 +1,6 @@\n def test_existing():\n     assert consume()\n \n"
        "+def test_alert_fires_on_queue_lag():\n+    assert alert_for(lag=31)\n+"
    ),
}
EDITED_TEST = {
    "filename": "tests/test_consumer.py",
    "status": "modified",
    "additions": 1,
    "deletions": 1,
    "patch": (
        "@@ -1,2 +1,2 @@\n def test_existing():\n-    assert consume()\n+    assert consume(lag=31)"
    ),
}
ALERT = {
    "filename": "alerts/queue-lag.yml",
    "status": "added",
    "additions": 3,
    "deletions": 0,
    "patch": "@@ -0,0 +1,3 @@\n+alert: QueueLag\n+expr: lag > 30\n+for: 5m",
}


def open_item(sandbox: Sandbox, repo: str, **changes: Any) -> int:
    item = dataclasses.replace(OWNED_ITEM, **changes)
    issue = sandbox.open_issue(
        repo,
        title="Alert on queue lag",
        body=render_item(item),
        labels=("hardening", f"failure-class:{item.failure_class}"),
        user=BOT,
    )
    return int(issue["number"])


def runs(sandbox: Sandbox, repo: str, sha: str, name: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.check_runs(repo, sha) if r["name"] == name]


def latest(sandbox: Sandbox, repo: str, sha: str, name: str) -> dict[str, Any]:
    found = runs(sandbox, repo, sha, name)
    assert found, f"no {name} run on {sha}"
    return found[-1]


def check_writes(sandbox: Sandbox) -> list[Any]:
    return [c for c in sandbox.writes() if "/check-runs" in c.path]


@pytest.fixture
def enforce(sandbox: Sandbox, repo: str) -> str:
    sandbox.put_file(repo, CONFIG, "mode: enforce\n")
    return repo


async def open_and_check(
    world: World, *, files: list, body: str = "", labels: tuple[str, ...] = (), user: str = "dave"
) -> dict[str, Any]:
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    pull = sandbox.open_pull(
        repo, title="Queue lag", body=body, files=files, labels=labels, user=user
    )
    response = await deliver(
        "pull_request", sandbox.pull_request_event(repo, pull["number"], "opened")
    )
    assert response.status == 202
    await drain()
    return pull


async def pull_event(world: World, number: int, action: str, **details: Any) -> None:
    """GitHub's ``pull_request`` webhook for ``action``, delivered and processed."""
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    await deliver("pull_request", sandbox.pull_request_event(repo, number, action, **details))
    await drain()


# --- hardening/controls ----------------------------------------------------------------------


async def test_enforce_source_only_fails_naming_test_and_control(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    run = latest(sandbox, repo, pull["head"]["sha"], CONTROLS)
    assert run["status"] == "completed" and run["conclusion"] == "failure"
    summary = run["output"]["summary"]
    assert "Regression test" in summary and "def test_" in summary  # an example test name
    assert "`alerts/**`" in summary  # the control paths
    assert "Missing regression test and control change" in run["output"]["title"]
    assert run["external_id"] == f"pull:{pull['number']}"
    created = [c.json for c in check_writes(sandbox) if c.json.get("name") == CONTROLS]
    assert [a["identifier"] for a in created[0]["actions"]] == ["recheck"]
    # Label-only scope: the scorecard explains how to link an item.
    card = latest(sandbox, repo, pull["head"]["sha"], SCORECARD)
    assert card["conclusion"] == "neutral" and "Hardens #N" in card["output"]["summary"]


async def test_new_test_and_alert_rule_pass_on_the_new_head(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    first = pull["head"]["sha"]
    pushed = sandbox.push_pull(repo, pull["number"], files=[SOURCE, NEW_TEST, ALERT])
    await pull_event(world, pull["number"], "synchronize")
    run = latest(sandbox, repo, pushed["head"]["sha"], CONTROLS)
    assert run["conclusion"] == "success"
    summary = run["output"]["summary"]
    assert "`test_alert_fires_on_queue_lag` in tests/test_consumer.py:4" in summary
    assert "alerts/queue-lag.yml:1" in summary
    paths = {a["path"] for a in run["annotations"]}
    assert paths == {"tests/test_consumer.py", "alerts/queue-lag.yml"}
    assert latest(sandbox, repo, first, CONTROLS)["conclusion"] == "failure"  # old head untouched


async def test_a_delivery_older_than_the_head_judges_the_head_it_reads(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain
) -> None:
    """The handler judges the payload's pull request without reading it again; when the file
    list GitHub returns is of a newer head (pushed to since the delivery was sent), that head
    is judged and the older commit gets no verdict of a diff it does not have."""
    repo = enforce
    pull = sandbox.open_pull(repo, title="Queue lag", files=[SOURCE], labels=MISSED, user="dave")
    opened = sandbox.pull_request_event(repo, pull["number"], "opened")
    pushed = sandbox.push_pull(repo, pull["number"], files=[SOURCE, NEW_TEST, ALERT])
    sandbox.reset_calls()
    await deliver("pull_request", opened)
    await drain()
    assert runs(sandbox, repo, pull["head"]["sha"], CONTROLS) == []
    assert latest(sandbox, repo, pushed["head"]["sha"], CONTROLS)["conclusion"] == "success"
    reads = [c.path for c in sandbox.calls if c.path.endswith(f"/pulls/{pull['number']}")]
    assert len(reads) == 1, "read once, only because the head moved"


async def test_a_current_delivery_does_not_read_its_pull_request_again(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    assert latest(sandbox, enforce, pull["head"]["sha"], CONTROLS)["conclusion"] == "failure"
    assert not [c for c in sandbox.calls if c.path.endswith(f"/pulls/{pull['number']}")]


async def test_edited_assertion_and_alert_rule_still_fail_for_lack_of_a_new_test(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE, EDITED_TEST, ALERT], labels=MISSED)
    run = latest(sandbox, repo, pull["head"]["sha"], CONTROLS)
    assert run["conclusion"] == "failure"
    assert run["output"]["title"].startswith("Missing regression test ·")
    assert "`test_existing` in tests/test_consumer.py:2" in run["output"]["summary"]
    edited = [a for a in run["annotations"] if a["path"] == "tests/test_consumer.py"]
    assert edited and edited[0]["annotation_level"] == "failure"


async def test_hardens_link_is_judged_by_the_items_class(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    number = open_item(sandbox, repo, failure_class="slow-recovery")
    # An alert rule is no control for slow recovery: its control paths are rollback/deploy.
    pull = await open_and_check(
        world,
        files=[SOURCE, NEW_TEST, ALERT],
        body=f"Fixes the lag.\n\nhardens: #{number}",
    )
    run = latest(sandbox, repo, pull["head"]["sha"], CONTROLS)
    assert run["conclusion"] == "failure"
    assert "**slow-recovery** (`Hardens #" in run["output"]["summary"]
    assert "`rollback/**`" in run["output"]["summary"]
    assert "@carol (execution owner of #" in run["output"]["summary"]


# --- rollout modes ---------------------------------------------------------------------------


async def test_shadow_posts_nothing_and_counts_the_would_be_failure(
    sandbox: Sandbox, repo: str, bot_app: Any, world: World
) -> None:
    from bot.web import METRICS

    sandbox.put_file(repo, CONFIG, "mode: shadow\n")
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    assert runs(sandbox, repo, pull["head"]["sha"], CONTROLS) == []
    counter = bot_app[METRICS].shadow_would_fail
    assert counter.get(repo=repo, failure_class="missed-detection") == 1


async def test_warn_is_neutral_and_names_the_author(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED, user="dave")
    run = latest(sandbox, repo, pull["head"]["sha"], CONTROLS)
    assert run["conclusion"] == "neutral"
    assert "(owner @dave)" in run["output"]["title"]
    assert "@dave (author of this pull request)" in run["output"]["summary"]


async def test_modes_per_control_combine_to_the_worst_posted(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    sandbox.put_file(
        repo,
        CONFIG,
        "mode: warn\ncontrols:\n  control-change: enforce\n  regression-test: shadow\n",
    )
    pull = await open_and_check(world, files=[SOURCE, ALERT], labels=MISSED)
    run = latest(sandbox, repo, pull["head"]["sha"], CONTROLS)
    assert run["conclusion"] == "success"
    assert "| Regression test | shadow | not reported (shadow mode) |" in run["output"]["summary"]


# --- configuration ---------------------------------------------------------------------------


async def test_yaml_error_on_line_3_fails_both_checks_naming_file_and_line(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    sandbox.put_file(repo, CONFIG, "mode: warn\nleads: []\ncontrols: : enforce\n")
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    for name in (CONTROLS, SCORECARD):
        run = latest(sandbox, repo, pull["head"]["sha"], name)
        assert run["conclusion"] == "failure"
        assert run["output"]["title"] == "Invalid configuration: .github/hardening.yml line 3"
        assert ".github/hardening.yml line 3: not valid YAML" in run["output"]["summary"]
        assert [(a["path"], a["start_line"]) for a in run["annotations"]] == [(CONFIG, 3)]


async def test_a_config_pushed_just_before_a_pull_request_judges_it(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    first = await open_and_check(world, files=[SOURCE], labels=MISSED)
    assert latest(sandbox, repo, first["head"]["sha"], CONTROLS)["conclusion"] == "failure"
    # Broken config pushed to the default branch; a pull request opened right after.
    sandbox.put_file(repo, CONFIG, "mode: warn\ncontrols:\n  regression-test: [enforce\n")
    second = await open_and_check(world, files=[SOURCE], labels=MISSED)
    run = latest(sandbox, repo, second["head"]["sha"], CONTROLS)
    assert run["output"]["title"] == "Invalid configuration: .github/hardening.yml line 3"
    assert "then press **Re-check** or push to this pull request" in run["output"]["summary"]
    # Fixed: the next run (here a push to the pull request) uses the fix at once.
    sandbox.put_file(repo, CONFIG, "mode: warn\n")
    sandbox.push_pull(repo, second["number"], files=[SOURCE])
    await pull_event(world, second["number"], "synchronize")
    head = sandbox.pull(repo, second["number"])["head"]["sha"]
    assert latest(sandbox, repo, head, CONTROLS)["conclusion"] == "neutral"


async def test_pull_editing_the_config_is_validated_and_judged_by_the_base(
    sandbox: Sandbox, repo: str, world: World
) -> None:
    # Base: warn. The pull request proposes enforce; it is still judged in warn mode.
    sandbox.put_file(repo, CONFIG, "mode: warn\n")
    pull = sandbox.open_pull(
        repo,
        title="Enforce",
        body="",
        files=[
            SOURCE,
            {
                "filename": CONFIG,
                "status": "modified",
                "additions": 1,
                "deletions": 1,
                "patch": "@@ -1 +1 @@\n-mode: warn\n+mode: enforce",
            },
        ],
        labels=("failure-class:missed-detection",),
    )
    sandbox.put_file(repo, CONFIG, "mode: enforce\n", ref=pull["head"]["sha"])
    await pull_event(world, pull["number"], "opened")
    run = latest(sandbox, repo, pull["head"]["sha"], CONTROLS)
    assert run["conclusion"] == "neutral"
    summary = run["output"]["summary"]
    assert "### This pull request changes `.github/hardening.yml`" in summary
    assert "mode: warn → enforce" in summary

    # A broken proposal fails the check and is annotated on its own line.
    pushed = sandbox.push_pull(repo, pull["number"])
    sandbox.put_file(repo, CONFIG, "mode: enforce\nleads: 5\n", ref=pushed["head"]["sha"])
    await pull_event(world, pull["number"], "synchronize")
    run = latest(sandbox, repo, pushed["head"]["sha"], CONTROLS)
    assert run["conclusion"] == "failure"
    assert run["output"]["title"].startswith("Invalid .github/hardening.yml proposed")
    assert ".github/hardening.yml line 2 `leads`: expected a list" in run["output"]["summary"]
    assert [
        (a["path"], a["start_line"])
        for a in run["annotations"]
        if a["annotation_level"] == "failure"
    ] == [(CONFIG, 2)]


# --- re-runs ---------------------------------------------------------------------------------


async def test_check_run_rerun_without_the_pull_creates_a_fresh_completed_run(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    sha = pull["head"]["sha"]
    first = latest(sandbox, repo, sha, CONTROLS)
    payload = sandbox.check_run_event(repo, first["id"], "rerequested")
    assert payload["check_run"]["pull_requests"] == []
    await deliver("check_run", payload)
    await drain()
    found = runs(sandbox, repo, sha, CONTROLS)
    assert len(found) == 2
    assert found[-1]["id"] != first["id"]
    assert found[-1]["status"] == "completed" and found[-1]["conclusion"] == "failure"
    assert len(runs(sandbox, repo, sha, SCORECARD)) == 1  # only the re-requested run is new


async def test_check_suite_rerun_without_pulls_recreates_both(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, bot_app: Any, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    sha = pull["head"]["sha"]
    payload = sandbox.check_suite_event(repo, sha, "rerequested")
    payload["check_suite"]["pull_requests"] = []  # as for a fork
    await deliver("check_suite", payload, delivery_id="suite-rerun-1")
    await drain()
    assert len(runs(sandbox, repo, sha, CONTROLS)) == 2
    assert len(runs(sandbox, repo, sha, SCORECARD)) == 2
    assert all(r["status"] == "completed" for r in sandbox.check_runs(repo, sha))
    # The worker retrying that same delivery (after a crash) finds its runs: nothing new.
    sandbox.reset_calls()
    await handle(bot_app, "check_suite", payload, delivery_id="suite-rerun-1")
    assert check_writes(sandbox) == []
    assert len(sandbox.check_runs(repo, sha)) == 4


async def test_rerun_payload_with_its_pull_requests(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    sha = pull["head"]["sha"]
    card = latest(sandbox, repo, sha, SCORECARD)
    payload = sandbox.check_run_event(repo, card["id"], "rerequested", pull_requests=True)
    assert [p["number"] for p in payload["check_run"]["pull_requests"]] == [pull["number"]]
    await deliver("check_run", payload)
    await drain()
    assert len(runs(sandbox, repo, sha, SCORECARD)) == 2
    assert len(runs(sandbox, repo, sha, CONTROLS)) == 1


async def test_rerun_on_an_outdated_commit_completes_as_outdated(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    old = pull["head"]["sha"]
    first = latest(sandbox, repo, old, CONTROLS)
    sandbox.push_pull(repo, pull["number"], files=[SOURCE, NEW_TEST, ALERT])
    await deliver("check_run", sandbox.check_run_event(repo, first["id"], "rerequested"))
    await drain()
    rerun = latest(sandbox, repo, old, CONTROLS)
    assert rerun["id"] != first["id"]
    assert rerun["conclusion"] == "neutral" and rerun["output"]["title"] == "Outdated commit"


async def test_recheck_button(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    sha = pull["head"]["sha"]
    first = latest(sandbox, repo, sha, CONTROLS)
    await deliver(
        "check_run",
        sandbox.check_run_event(repo, first["id"], "requested_action", requested_action="recheck"),
    )
    await drain()
    assert len(runs(sandbox, repo, sha, CONTROLS)) == 2


# --- large pull requests ---------------------------------------------------------------------


async def test_3000_files_are_paginated_and_annotations_batched(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    files = [
        {
            "filename": f"tests/test_m{i}.py",
            "status": "added",
            "additions": 1,
            "patch": f"@@ -0,0 +1 @@\n+def test_case_{i}():",
        }
        for i in range(60)
    ]
    files += [dict(ALERT, filename=f"alerts/rule{i}.yml") for i in range(60)]
    files += [dict(SOURCE, filename=f"src/mod{i}.py") for i in range(3000 - len(files))]
    files += [dict(SOURCE, filename=f"src/beyond{i}.py") for i in range(20)]  # past the cap
    pull = await open_and_check(world, files=files, labels=MISSED)
    run = latest(sandbox, repo, pull["head"]["sha"], CONTROLS)
    assert run["status"] == "completed" and run["conclusion"] == "success"
    assert len(run["annotations"]) == 120
    assert "at most 3,000 files" in run["output"]["summary"]
    calls = [c for c in sandbox.calls if c.path.endswith(f"/pulls/{pull['number']}/files")]
    assert len(calls) >= 30  # read page by page
    writes = [c for c in check_writes(sandbox) if c.method in ("POST", "PATCH")]
    controls = [c for c in writes if (c.json or {}).get("name", CONTROLS) == CONTROLS]
    batches = [
        len((c.json.get("output") or {}).get("annotations") or [])
        for c in controls
        if c.json and (c.json.get("output") or {}).get("annotations")
    ]
    assert max(batches) <= 50 and sum(batches) == 120


async def test_missing_patches_are_said(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    big_test = {
        "filename": "tests/test_huge.py",
        "status": "modified",
        "additions": 9000,
        "deletions": 10,
    }
    pull = await open_and_check(world, files=[SOURCE, big_test, ALERT], labels=MISSED)
    run = latest(sandbox, repo, pull["head"]["sha"], CONTROLS)
    assert run["conclusion"] == "failure"
    assert "GitHub sent no diff for 1 file(s)" in run["output"]["summary"]
    assert "tests/test_huge.py" in run["output"]["summary"]


# --- scorecard and lifecycle -----------------------------------------------------------------


async def test_scorecard_shows_every_row_and_the_item_moves_to_in_progress(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    number = open_item(sandbox, repo)
    pull = await open_and_check(world, files=[SOURCE, NEW_TEST, ALERT], body=f"Hardens #{number}")
    assert item_of(sandbox, repo, number).status == "in_progress"
    card = latest(sandbox, repo, pull["head"]["sha"], SCORECARD)
    summary = card["output"]["summary"]
    assert card["conclusion"] == "neutral"
    assert card["output"]["title"].startswith(f"#{number}: Scorecard ")
    for total in ("Scorecard ", "/5", "Rubric ", "/10", "Adoption "):
        assert total in summary
    scorecard = summary.split("### Reliability scorecard")[1].split("###")[0]
    # A header row, then one row per line of the hardening loop's table.
    assert len([line for line in scorecard.splitlines() if line.startswith("| ")]) == 1 + 5
    rubric = summary.split("### Quality rubric")[1].split("###")[0]
    assert len([line for line in rubric.splitlines() if line.startswith("| ")]) == 1 + 5
    assert "### Adoption score" in summary
    assert "in_progress" in summary


async def test_refresh_scorecards_edits_the_run_in_place(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, bot_app: Any, world: World
) -> None:
    repo = enforce
    number = open_item(sandbox, repo)
    pull = await open_and_check(world, files=[SOURCE, NEW_TEST, ALERT], body=f"Hardens #{number}")
    sha = pull["head"]["sha"]
    before = latest(sandbox, repo, sha, SCORECARD)
    # A command acknowledges the runbook; the commands handler then refreshes the scorecards.
    await record_ack(bot_app, repo, number, "carol")
    await refresh(bot_app, sandbox, repo, number)
    after = runs(sandbox, repo, sha, SCORECARD)
    assert len(after) == 1 and after[0]["id"] == before["id"]
    assert after[0]["output"]["summary"] != before["output"]["summary"]
    sandbox.reset_calls()
    await refresh(bot_app, sandbox, repo, number)
    assert check_writes(sandbox) == []


async def record_ack(bot_app: Any, repo: str, number: int, login: str) -> None:
    """Record ``login``'s acknowledgement as ``/harden ack`` does: in the App's record."""
    from bot.item_issues import get_item, save_item

    gh, ctx = await handler_api(bot_app)
    owner, name = repo.split("/")
    loaded = await get_item(Scope(gh, ctx, owner, name), number)
    assert loaded is not None and loaded.item is not None
    acked = dataclasses.replace(loaded.item, acknowledged_by=(login,))
    await save_item(Scope(gh, ctx, owner, name), loaded, acked)


async def refresh(bot_app: Any, sandbox: Sandbox, repo: str, number: int) -> None:
    """Call bot.facts.refresh_scorecards as another handler would."""
    from bot.facts import refresh_scorecards

    gh, ctx = await handler_api(bot_app)
    owner, name = repo.split("/")
    await refresh_scorecards(Scope(gh, ctx, owner, name), number)


async def test_merged_pull_records_evidence_once(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    number = open_item(sandbox, repo)
    pull = await open_and_check(world, files=[SOURCE, NEW_TEST, ALERT], body=f"Hardens #{number}")
    sandbox.merge_pull(repo, pull["number"])
    closed = sandbox.pull_request_event(repo, pull["number"], "closed")
    await deliver("pull_request", closed)
    await drain()
    item = item_of(sandbox, repo, number)
    kinds = [e.kind for e in item.evidence]
    assert kinds == ["implementation", "test"]
    assert item.evidence[0].url == pull["html_url"]
    assert "tests/test_consumer.py#L4" in item.evidence[1].url
    card = latest(sandbox, repo, pull["head"]["sha"], SCORECARD)
    assert "merged; its controls check found new regression test" in card["output"]["summary"]
    # Delivered again (a redelivery with a new id): nothing is recorded twice.
    sandbox.reset_calls()
    await deliver("pull_request", closed)
    await drain()
    assert [e.kind for e in item_of(sandbox, repo, number).evidence] == kinds
    assert [c for c in sandbox.writes() if "/issues/" in c.path] == []


async def test_merged_pull_without_controls_records_nothing(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    number = open_item(sandbox, repo)
    pull = await open_and_check(world, files=[SOURCE], body=f"Hardens #{number}")
    sandbox.merge_pull(repo, pull["number"])
    await pull_event(world, pull["number"], "closed")
    assert item_of(sandbox, repo, number).evidence == ()


async def test_hardens_written_into_a_merged_pull_request_afterwards_links_nothing(
    world: World,
) -> None:
    """A merged pull request links the items its description named when it was merged: one
    edited afterwards to say ``Hardens #N`` does not become evidence for item N."""
    sandbox, repo = world.sandbox, world.repo
    number = open_item(sandbox, repo)
    sandbox.add_user("mallory")
    real = await open_and_check(world, files=[SOURCE, NEW_TEST], body=f"Hardens #{number}")
    sandbox.merge_pull(repo, real["number"])
    await pull_event(world, real["number"], "closed")
    forged = sandbox.open_pull(
        repo, title="typo", body="unrelated", files=[SOURCE, NEW_TEST, ALERT], user="mallory"
    )
    await pull_event(world, forged["number"], "opened")
    sandbox.merge_pull(repo, forged["number"])
    await pull_event(world, forged["number"], "closed")
    sandbox.update_issue(repo, forged["number"], user="mallory", body=f"Hardens #{number}")
    await pull_event(world, forged["number"], "edited", changes={"body": {"from": "unrelated"}})
    found = await linked_pulls(await world.scope(), number)
    assert [p["number"] for p in found] == [real["number"]]
    # Edited away after the merge, the real one still counts: its links are the merge's.
    sandbox.update_issue(repo, real["number"], body=f"Hardens #{number}, thanks")
    found = await linked_pulls(await world.scope(), number)
    assert [p["number"] for p in found] == [real["number"]]


# --- scope and idempotency -------------------------------------------------------------------


async def test_out_of_scope_gets_nothing_and_leaving_scope_completes_runs(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    plain = await open_and_check(world, files=[SOURCE])
    assert sandbox.check_runs(repo, plain["head"]["sha"]) == []

    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    sha = pull["head"]["sha"]
    sandbox.update_issue(repo, pull["number"], labels=[])
    await deliver(
        "pull_request",
        sandbox.pull_request_event(
            repo, pull["number"], "unlabeled", label="failure-class:missed-detection"
        ),
    )
    await drain()
    for name in (CONTROLS, SCORECARD):
        run = latest(sandbox, repo, sha, name)
        assert run["conclusion"] == "neutral" and run["output"]["title"] == "No longer in scope"


async def test_an_unrelated_label_costs_no_github_call(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    pull = await open_and_check(world, files=[SOURCE], labels=MISSED)
    sandbox.add_labels(repo, pull["number"], ["bug"])
    sandbox.reset_calls()
    await deliver(
        "pull_request", sandbox.pull_request_event(repo, pull["number"], "labeled", label="bug")
    )
    await drain()
    assert [c for c in sandbox.calls if "/pulls/" in c.path or "/check-runs" in c.path] == []


async def test_no_op_re_evaluation_makes_no_writes(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    number = open_item(sandbox, repo)
    pull = await open_and_check(
        world,
        files=[SOURCE, EDITED_TEST, ALERT],
        body=f"Hardens #{number}",
        labels=MISSED,
    )
    sandbox.reset_calls()
    await pull_event(world, pull["number"], "reopened")
    assert sandbox.writes() == []


async def test_a_run_left_in_progress_is_completed_not_duplicated(
    sandbox: Sandbox, enforce: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = enforce
    files = [
        {
            "filename": f"tests/test_m{i}.py",
            "status": "added",
            "additions": 1,
            "patch": f"@@ -0,0 +1 @@\n+def test_case_{i}():",
        }
        for i in range(70)
    ]
    pull = sandbox.open_pull(repo, title="Big", body="", files=[*files, ALERT], labels=MISSED)
    # The first annotation batch lands, then GitHub fails every later update of the run until
    # the delivery is given up.
    sandbox.inject("PATCH", r"/check-runs/\d+$", status=422, times=None)
    await pull_event(world, pull["number"], "opened")
    sha = pull["head"]["sha"]
    left = runs(sandbox, repo, sha, CONTROLS)
    assert len(left) == 1 and left[0]["status"] == "in_progress"
    assert len(left[0]["annotations"]) == 50
    sandbox.faults.clear()
    await pull_event(world, pull["number"], "synchronize")
    done = runs(sandbox, repo, sha, CONTROLS)
    assert len(done) == 1 and done[0]["status"] == "completed"
    assert done[0]["conclusion"] == "success" and len(done[0]["annotations"]) == 71


# --- helpers that run the bot's code directly, as a worker would ------------------------------


async def handle(bot_app: Any, event: str, payload: dict, *, delivery_id: str) -> None:
    """Process one delivery again, as the worker does after a crash mid-processing."""
    from gidgethub.sansio import Event

    from bot import handlers

    gh, ctx = await handler_api(bot_app, delivery_id)
    await handlers.dispatch(Event(payload, event=event, delivery_id=delivery_id), gh, ctx)


async def test_the_scorecard_is_computed_from_the_items_as_they_are_when_it_is_written(
    sandbox: Sandbox, repo: str, monkeypatch: pytest.MonkeyPatch, world: World
) -> None:
    number = open_item(sandbox, repo, owner=None, verifier=None)
    pull = await open_and_check(world, files=[SOURCE], body=f"Hardens #{number}")
    sha = pull["head"]["sha"]
    before = latest(sandbox, repo, sha, SCORECARD)["output"]["summary"]
    start_work = pulls._start_work

    async def item_changes_meanwhile(scope: Scope, *args: Any, **kwargs: Any) -> Any:
        # Another delivery (an item command) lands while this evaluation is under way: it
        # edits the item and refreshes the scorecard itself.
        loaded = await start_work(scope, *args, **kwargs)
        changed = dataclasses.replace(item_of(sandbox, repo, number), owner="carol", verifier="bob")
        sandbox.update_issue(repo, number, body=render_item(changed))
        await refresh_scorecards(scope, number)
        return loaded  # what this evaluation read before the change

    monkeypatch.setattr(pulls, "_start_work", item_changes_meanwhile)
    await pull_event(world, pull["number"], "ready_for_review")
    after = latest(sandbox, repo, sha, SCORECARD)["output"]["summary"]
    assert after != before  # the item's change shows ...
    monkeypatch.setattr(pulls, "_start_work", start_work)
    writes = len(scorecard_writes(sandbox, repo, sha))
    await pull_event(world, pull["number"], "ready_for_review")
    # ... and it is what a fresh evaluation says: it finds nothing to write.
    assert len(scorecard_writes(sandbox, repo, sha)) == writes
    assert latest(sandbox, repo, sha, SCORECARD)["output"]["summary"] == after


def scorecard_writes(sandbox: Sandbox, repo: str, sha: str) -> list[Any]:
    paths = {f"/repos/{repo}/check-runs/{r['id']}" for r in runs(sandbox, repo, sha, SCORECARD)}
    return [
        c
        for c in check_writes(sandbox)
        if c.path in paths or (c.json or {}).get("name") == SCORECARD
    ]
