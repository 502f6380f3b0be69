"""Demo step 1: an incident's findings become hardening items and one tracking comment.

From docs/hardening-loop.md: "From incident finding to control design". The incident has three findings of known types
and one of an unknown type; each known one becomes a hardening issue with its labels and the
template filled from the rules, the unknown one is reported back. Redelivering the event changes
nothing; adding a finding by editing the incident adds exactly one item and edits the comment.

Leaves ``world.state["incident"]`` (the incident's number) and ``world.state["items"]`` (failure
class -> item number) for the later steps.
"""

from __future__ import annotations

from typing import Any

from rules.item_template import parse_item

INCIDENT_BODY = """\
### Severity

sev-2

### Summary

The payments queue backed up for 50 minutes; 3% of card payments were retried late.

### Timeline and evidence packet

- 09:12 consumer lag starts climbing (dashboard: https://grafana.example.com/d/queue)
- 09:41 first customer report; on-call paged by hand
- 10:02 rollback of the consumer finished

### Findings

- missed detection: no alert fired on consumer lag for 29 minutes
- slow recovery: rolling back the consumer took 21 minutes
- repeated regression: the same batching bug as incident #3 last quarter
- bad luck: the deploy coincided with the monthly billing run
"""
ADDED_FINDING = "- late decision: nobody owned the call to roll back for 15 minutes\n"
EXPECTED = {
    # failure class: (proposed control, verification style, priority raised by sev-2)
    "missed-detection": ("alert rule + routing update", "synthetic alert replay", "P0"),
    "slow-recovery": ("rollback rehearsal gate", "timed rollback run", "P0"),
    "repeated-regression": ("test harness + policy check", "regression suite trend", "P0"),
    "late-decision": ("checkpoint SLA + commander script", "drill timing audit", "P1"),
}


def _items(world: Any, incident: int) -> list[dict[str, Any]]:
    """The incident's hardening issues, as the bot's marker ties them to it."""
    found = []
    for issue in world.sandbox.issues(world.repo):
        parsed = parse_item(issue["body"] or "")
        if parsed.marker is not None and parsed.marker.incident == incident:
            found.append(issue)
    return found


def _by_class(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for issue in items:
        item = parse_item(issue["body"]).item
        if item is not None and item.failure_class:
            out.setdefault(item.failure_class, issue)
    return out


def _tracking(world: Any, incident: int) -> list[dict[str, Any]]:
    return [
        c
        for c in world.sandbox.comments(world.repo, incident)
        if "hardening-bot:tracking" in (c["body"] or "")
    ]


def _writes(world: Any) -> list[str]:
    return [
        f"{c.method} {c.path}" for c in world.sandbox.writes() if "/access_tokens" not in c.path
    ]


def _check_item(world: Any, incident: int, failure_class: str, issue: dict[str, Any]) -> None:
    control, style, priority = EXPECTED[failure_class]
    item = parse_item(issue["body"]).item
    labels = {label["name"] for label in issue["labels"]}
    wanted = {"hardening", f"failure-class:{failure_class}", f"priority:{priority}"}
    world.check(
        item is not None
        and item.incident == incident
        and item.proposed_control == control
        and item.verification_style == style
        and item.priority == priority
        and item.status == "open"
        and item.due is not None
        and item.adoption_check is not None
        and item.adoption_check > item.due,
        f"#{issue['number']} {failure_class}: {control}, verified by {style}, {priority}, "
        f"due {item.due if item else '?'}, adoption check {item.adoption_check if item else '?'}",
    )
    world.check(labels == wanted, f"#{issue['number']} labels {sorted(labels)}")


async def run(world: Any) -> None:
    sandbox, repo = world.sandbox, world.repo
    issue = sandbox.open_issue(
        repo,
        title="Payments queue backlog",
        body=INCIDENT_BODY,
        labels=("incident", "sev-2"),
        user="erin",
    )
    number = int(issue["number"])
    world.state["incident"] = number
    world.say(f"erin opens incident #{number} (sev-2) with 3 known findings and 1 unknown.")
    opened = sandbox.issue_event(repo, number, "opened", sender="erin")
    await world.deliver("issues", opened, delivery_id="demo-incident-opened")
    await world.settle()

    listed = _items(world, number)
    items = _by_class(listed)
    world.check(len(listed) == 3, f"exactly 3 hardening items were opened ({len(listed)})")
    for failure_class in ("missed-detection", "slow-recovery", "repeated-regression"):
        if failure_class in items:
            _check_item(world, number, failure_class, items[failure_class])
        else:
            world.check(False, f"an item for {failure_class}")
    world.state["items"] = {fc: int(i["number"]) for fc, i in items.items()}

    styled = {label["name"]: label["color"] for label in sandbox.labels(repo)}
    world.check(
        styled.get("hardening") == "0e8a16" and styled.get("priority:P0") == "fbca04",
        "missing labels were created with the configured colours",
    )
    comments = _tracking(world, number)
    body = comments[0]["body"] if comments else ""
    world.check(len(comments) == 1, "one tracking comment on the incident")
    world.check(
        all(f"#{n} · " in body for n in world.state["items"].values()),
        "the tracking comment lists every item as a checklist line",
    )
    world.check(
        "`bad luck`" in body and "`missed detection`" in body,
        "the unknown finding type is reported with the allowed types",
    )
    world.check("- [x] 0–24h" in body, "the evidence packet window is met by the Timeline section")

    writes_before = len(_writes(world))
    status = await world.deliver("issues", opened, delivery_id="demo-incident-opened")
    await world.deliver("issues", opened)  # the same event under a new delivery id
    await world.settle()
    world.check(
        status == 200 and len(_writes(world)) == writes_before and len(_items(world, number)) == 3,
        "redelivering the event (same id: 200; new id: processed) writes nothing",
    )

    world.say("erin edits the incident to add a late-decision finding.")
    sandbox.update_issue(repo, number, body=INCIDENT_BODY + ADDED_FINDING, user="erin")
    edited = sandbox.issue_event(
        repo, number, "edited", sender="erin", changes={"body": {"from": INCIDENT_BODY}}
    )
    start = len(_writes(world))
    await world.deliver("issues", edited)
    await world.settle()
    made = _writes(world)[start:]
    listed = _items(world, number)
    items = _by_class(listed)
    world.check(len(listed) == 4, f"exactly one more item ({len(listed)} in all)")
    if "late-decision" in items:
        _check_item(world, number, "late-decision", items["late-decision"])
        world.state["items"]["late-decision"] = int(items["late-decision"]["number"])
    after = _tracking(world, number)
    world.check(
        len(after) == 1 and bool(comments) and after[0]["id"] == comments[0]["id"],
        "the tracking comment was edited in place",
    )
    ledgers = [
        f"/issues/{i['number']}" for i in sandbox.issues(repo) if i["title"] == "Hardening ledger"
    ]
    ledger_edits = [w for w in made if any(w.endswith(path) for path in ledgers)]
    labels = [w for w in made if w.endswith("/labels")]
    others = sorted(w.split(" ")[0] for w in made if w not in labels and w not in ledger_edits)
    world.check(
        others == ["PATCH", "POST"] and len(labels) == 2 and len(ledger_edits) == 1,
        "the edit wrote one item, one comment edit, the new class's two labels and one edit "
        "of the Hardening ledger, nothing else",
    )
