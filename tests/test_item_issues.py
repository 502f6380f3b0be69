"""bot.item_issues against the sandbox: reading, listing and saving hardening items, and re-rendering
an incident's tracking comment."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from bot.item_issues import get_item, list_items, refresh_incident_tracking, save_item
from rules.config import default_config, load_config
from rules.item_template import render_item
from rules.model import HardeningItem, ItemMarker
from sandbox import Sandbox

CONFIG = default_config()

BOT = "hardening-bot[bot]"
ITEM = HardeningItem(
    incident=1,
    failure_class="missed-detection",
    proposed_control="alert rule + routing update",
    priority="P1",
    due=date(2026, 12, 1),
)
HUMAN_TEXT = "Context a person wrote.\n\n"
FOOTER = "\n\nMore notes below the template.\n"


def open_item(
    sandbox: Sandbox,
    repo: str,
    item: HardeningItem = ITEM,
    *,
    marker: ItemMarker | None = None,
    labels: tuple[str, ...] = ("hardening", "failure-class:missed-detection", "priority:P1"),
) -> dict[str, Any]:
    body = HUMAN_TEXT + render_item(item, marker) + FOOTER
    return sandbox.open_issue(repo, title="Harden: x", body=body, labels=labels, user=BOT)


def writes(sandbox: Sandbox) -> list[tuple[str, str]]:
    return [(c.method, c.path) for c in sandbox.writes() if "/access_tokens" not in c.path]


# --- get_item ---------------------------------------------------------------------------------


async def test_get_item_reads_the_template(sandbox, repo, scope):
    issue = open_item(sandbox, repo, marker=ItemMarker(1, "abc"))
    loaded = await get_item(scope, issue["number"])
    assert loaded is not None
    assert loaded.number == issue["number"]
    assert loaded.item == ITEM
    assert loaded.marker == ItemMarker(1, "abc")
    assert loaded.incident == 1
    assert loaded.issue["title"] == "Harden: x"


async def test_get_item_needs_the_label_and_a_template(sandbox, repo, scope):
    unlabelled = open_item(sandbox, repo, labels=("bug",))
    no_template = sandbox.open_issue(repo, title="t", body="just words", labels=("hardening",))
    pull = sandbox.open_pull(repo, title="p", body=render_item(ITEM), labels=("hardening",))
    for number in (unlabelled["number"], no_template["number"], pull["number"]):
        assert await get_item(scope, number) is None


async def test_get_item_follows_the_configured_label(sandbox, repo, scope):
    config = load_config([(".github/hardening.yml", "labels: {hardening: Reliability}\n")]).config
    issue = open_item(sandbox, repo, labels=("reliability",))
    assert await get_item(scope, issue["number"]) is None
    assert await get_item(scope, issue["number"], config=config) is not None


async def test_the_marker_alone_keeps_an_item(sandbox, repo, scope):
    body = "<!-- hardening-bot:item incident=1 finding=abc -->\nThe template was deleted."
    issue = sandbox.open_issue(repo, title="t", body=body, labels=("hardening",), user=BOT)
    loaded = await get_item(scope, issue["number"])
    assert loaded is not None and loaded.item is None and loaded.incident == 1


# --- list_items -------------------------------------------------------------------------------


async def test_list_items_pages_through_open_and_closed_items(sandbox, repo, scope):
    numbers = [open_item(sandbox, repo)["number"] for _ in range(105)]
    sandbox.update_issue(repo, numbers[3], state="closed")
    sandbox.open_issue(repo, title="bug", body="", labels=("bug",))
    sandbox.open_pull(repo, title="p", body=render_item(ITEM), labels=("hardening",))

    listed = await list_items(scope, CONFIG)
    assert [one.number for one in listed] == numbers
    pages = [c for c in sandbox.calls if c.method == "GET" and c.path.endswith("/issues")]
    assert len(pages) == 2
    assert pages[0].query["labels"] == "hardening" and pages[0].query["state"] == "all"


async def test_list_items_of_an_incident_by_marker_then_reference(sandbox, repo, scope):
    marked = open_item(sandbox, repo, marker=ItemMarker(1, "k1"))
    by_reference = open_item(sandbox, repo)  # Incident reference: #1, no marker
    elsewhere = open_item(sandbox, repo, dataclasses.replace(ITEM, incident=2))
    # The marker wins over a reference a person changed.
    moved = open_item(
        sandbox, repo, dataclasses.replace(ITEM, incident=2), marker=ItemMarker(1, "k2")
    )

    listed = await list_items(scope, CONFIG, incident=1)
    assert [one.number for one in listed] == [
        marked["number"],
        by_reference["number"],
        moved["number"],
    ]
    assert [one.number for one in await list_items(scope, None, incident=2)] == [
        elsewhere["number"]
    ]


# --- save_item --------------------------------------------------------------------------------


async def test_save_item_rewrites_the_block_in_place_and_keeps_human_text(sandbox, repo, scope):
    issue = open_item(sandbox, repo, marker=ItemMarker(1, "k"))
    loaded = await get_item(scope, issue["number"])
    sandbox.reset_calls()

    wrote = await save_item(scope, loaded, dataclasses.replace(ITEM, owner="alice"))

    assert wrote is True
    assert writes(sandbox) == [("PATCH", f"/repos/octo/repo/issues/{issue['number']}")]
    body = sandbox.issue(repo, issue["number"])["body"]
    assert body.startswith(HUMAN_TEXT)
    # The App's signed record follows the person's text, as the body's last line.
    text, record = body.rstrip("\n").rsplit("\n", 1)
    assert text.rstrip().endswith(FOOTER.strip()) and record.startswith(
        "<!-- hardening-bot:record "
    )
    assert "- Execution owner: @alice" in body
    assert body.count("hardening-bot:item incident=1 finding=k") == 1
    again = await get_item(scope, issue["number"])
    assert again is not None and again.item == dataclasses.replace(ITEM, owner="alice")


async def test_saving_an_unchanged_item_writes_nothing(sandbox, repo, scope):
    issue = open_item(sandbox, repo)
    loaded = await get_item(scope, issue["number"])
    assert loaded is not None and loaded.source == "upgrade"
    # An item the App opened before records gets its record once, at its first save...
    assert await save_item(scope, loaded, ITEM) is True
    again = await get_item(scope, issue["number"])
    assert again is not None and again.source == "record" and again.item == ITEM
    sandbox.reset_calls()
    # ... and from then on an unchanged item writes nothing.
    assert await save_item(scope, again, ITEM) is False
    assert writes(sandbox) == []


async def test_save_item_keeps_the_priority_and_failure_class_labels_in_step(sandbox, repo, scope):
    issue = open_item(sandbox, repo, labels=("hardening", "priority:P1", "ops"))
    loaded = await get_item(scope, issue["number"])
    sandbox.reset_calls()

    changed = dataclasses.replace(ITEM, priority="P0")
    assert await save_item(scope, loaded, changed) is True

    labels = {label["name"] for label in sandbox.issue(repo, issue["number"])["labels"]}
    assert labels == {"hardening", "priority:P0", "failure-class:missed-detection", "ops"}
    made = {label["name"]: label for label in sandbox.labels(repo)}
    assert made["priority:P0"]["color"] == "fbca04"
    assert made["failure-class:missed-detection"]["color"] == "5319e7"

    sandbox.reset_calls()
    fresh = await get_item(scope, issue["number"])
    assert await save_item(scope, fresh, changed) is False
    assert writes(sandbox) == []


# --- refresh_incident_tracking ----------------------------------------------------------------


async def test_refresh_writes_the_comment_once_and_then_nothing(sandbox, repo, scope):
    incident = sandbox.open_issue(
        repo, title="Outage", body="### Findings\n- cosmic rays: x\n", labels=("incident",)
    )
    item = open_item(sandbox, repo, dataclasses.replace(ITEM, incident=incident["number"]))
    sandbox.reset_calls()

    await refresh_incident_tracking(scope, incident["number"])
    [comment] = sandbox.comments(repo, incident["number"])
    assert f"- [ ] #{item['number']} · missed-detection · P1" in comment["body"]
    assert "`cosmic rays`" in comment["body"]
    assert writes(sandbox) == [("POST", f"/repos/octo/repo/issues/{incident['number']}/comments")]

    sandbox.reset_calls()
    await refresh_incident_tracking(scope, incident["number"])
    assert writes(sandbox) == []


async def test_refresh_creates_no_item_and_lists_findings_still_waiting(sandbox, repo, scope):
    incident = sandbox.open_issue(
        repo, title="Outage", body="### Findings\n- late decision: slow\n", labels=("incident",)
    )
    await refresh_incident_tracking(scope, incident["number"])
    assert [i["number"] for i in sandbox.issues(repo)] == [incident["number"]]
    [comment] = sandbox.comments(repo, incident["number"])
    assert "Findings still waiting for their item:\n- [ ] `late decision`: slow" in comment["body"]


async def test_refresh_leaves_an_issue_that_is_not_an_incident_alone(sandbox, repo, scope):
    issue = sandbox.open_issue(repo, title="bug", body="### Findings\n- late decision: x\n")
    sandbox.reset_calls()
    await refresh_incident_tracking(scope, issue["number"])
    assert writes(sandbox) == []


async def test_refresh_of_a_missing_issue_or_a_pull_request_does_nothing(sandbox, repo, scope):
    pull = sandbox.open_pull(repo, title="p", body="", labels=("incident",))
    sandbox.reset_calls()
    await refresh_incident_tracking(scope, 999)
    await refresh_incident_tracking(scope, pull["number"])
    assert writes(sandbox) == []


async def test_an_unknown_failure_class_gets_no_label(sandbox, repo, scope):
    issue = open_item(sandbox, repo, labels=("hardening", "priority:P1"))
    loaded = await get_item(scope, issue["number"])
    sandbox.reset_calls()
    odd = dataclasses.replace(ITEM, failure_class="cosmic-rays")
    assert await save_item(scope, loaded, odd) is True
    labels = {label["name"] for label in sandbox.issue(repo, issue["number"])["labels"]}
    assert labels == {"hardening", "priority:P1"}
    assert [w[0] for w in writes(sandbox)] == ["PATCH"]


async def test_a_repository_rename_keeps_every_gate_fact() -> None:
    """Records are bound to the repository's immutable id: after a rename (the issue's URL names
    the new repository) the record written under the old name still holds."""
    import dataclasses
    from datetime import UTC, datetime

    from bot.item_issues import load
    from bot.records import Trust, key_from_secret, sealed
    from rules.model import Evidence
    from rules.record import recorded, subject_of

    key = key_from_secret("s")
    assert key is not None
    item = dataclasses.replace(
        ITEM,
        status="verified",
        verified_by="bob",
        verified_at=datetime(2026, 11, 1, tzinfo=UTC),
        evidence=(Evidence("https://ci/1", "implementation"),),
    )
    record = recorded(None, subject_of("octo", "repo", 7), item, repository=42)
    issue = {
        "number": 7,
        "url": "https://api.github.com/repos/octo/repo-renamed/issues/7",
        "body": sealed(render_item(item), record, key),
        "labels": [{"name": "hardening"}],
        "user": {"login": BOT},
    }
    loaded = await load(issue, trust=Trust(key, BOT, repository=42))
    assert loaded is not None and loaded.source == "record"
    assert loaded.item is not None and loaded.item.status == "verified"
    assert loaded.item.evidence == item.evidence
    # Another repository's id does not adopt it.
    other = await load(issue, trust=Trust(key, BOT, repository=43))
    assert other is not None and other.source == "broken" and other.item is not None
    assert other.item.status == "open"
