"""The loop over time: the Hardening ledger, a deferral, a residual risk and a recurrence.

From docs/hardening-loop.md: "Reliability debt ledger", "Residual risk register format" and the anti-pattern "Recovery
declared 'done' with no hardening backlog" (the same failure class striking again). A second
incident has a finding of the class the earlier steps verified; one of its items is deferred
with a revisit date and the risk if delayed, and a residual risk is registered on it. The
repository keeps exactly one ``Hardening ledger`` issue showing each in its section; a deferral
without a date and a residual risk without a trigger are refused with the missing parts named.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rules.item_template import parse_item

BOT = "hardening-bot[bot]"
OWNER, LEAD = "erin", "carol"

INCIDENT_BODY = """\
### Severity

sev-2

### Summary

Card payments queued for 20 minutes again; the lag alert stayed silent during a deploy.

### Findings

- missed detection: the lag alert was muted by the deploy window
- slow recovery: the consumer restart took 18 minutes
- late decision: nobody declared the incident for 12 minutes
"""


def _risk(target: str, *, trigger: bool = True) -> str:
    lines = [
        "### Residual Risk",
        "- Risk statement: deploy windows can still mute paging alerts",
        "- Why not fully solved yet: the alert router rewrite ships next quarter",
        "- Temporary control in place: the deploy checklist un-mutes paging by hand",
        *(["- Trigger for re-prioritization: any page lost during a deploy"] if trigger else []),
        f"- Owner: @{LEAD}",
        f"- Target resolution date: {target}",
    ]
    return "\n".join(lines) + "\n"


def _ledgers(world: Any) -> list[dict[str, Any]]:
    return [
        i
        for i in world.sandbox.issues(world.repo)
        if i["title"] == "Hardening ledger" and "pull_request" not in i
    ]


def _section(body: str, title: str) -> str:
    start = body.find(f"## {title}")
    if start == -1:
        return ""
    end = body.find("\n## ", start + 1)
    return body[start : end if end != -1 else None]


def _replies(world: Any, number: int, comment: dict[str, Any]) -> str:
    return "\n".join(
        c["body"]
        for c in world.sandbox.comments(world.repo, number)
        if c["user"]["login"] == BOT and str(comment["id"]) in (c["body"] or "").split("\n")[0]
    )


async def _say(world: Any, number: int, body: str, user: str) -> dict[str, Any]:
    comment = world.sandbox.add_comment(world.repo, number, body, user=user)
    await world.deliver(
        "issue_comment", world.sandbox.issue_comment_event(world.repo, number, comment["id"])
    )
    await world.settle()
    return dict(comment)


async def run(world: Any) -> None:
    sandbox, repo = world.sandbox, world.repo
    today = datetime.now(UTC).date()
    earlier = {
        int(i["number"])
        for i in sandbox.issues(repo)
        if (item := parse_item(i["body"] or "").item) is not None
        and item.status == "verified"
        and item.failure_class == "missed-detection"
    }

    world.say(f"{OWNER} opens a second incident whose findings repeat a failure class.")
    incident = int(
        sandbox.open_issue(
            repo,
            title="Card payments queued during a deploy",
            body=INCIDENT_BODY,
            labels=("incident", "sev-2"),
            user=OWNER,
        )["number"]
    )
    await world.deliver("issues", sandbox.issue_event(repo, incident, "opened", sender=OWNER))
    await world.settle()
    items = {
        (parse_item(i["body"] or "").item or None).failure_class: int(i["number"])  # type: ignore[union-attr]
        for i in sandbox.issues(repo)
        if (marker := parse_item(i["body"] or "").marker) is not None
        and marker.incident == incident
    }
    world.check(len(items) == 3, f"incident #{incident} has its three items ({items})")

    # 1. Recurrence: the verified missed-detection item of the earlier steps did not hold.
    if earlier:
        (old,) = sorted(earlier)[:1]
        labels = {label["name"] for label in sandbox.issue(repo, old)["labels"]}
        notes = [
            c
            for c in sandbox.comments(repo, old)
            if c["user"]["login"] == BOT and "The control did not hold" in c["body"]
        ]
        world.check(
            "recurrence" in labels and len(notes) == 1,
            f"#{old}, verified earlier, gets the `recurrence` label and one comment: "
            "the control did not hold",
        )
    else:
        world.say("(no verified missed-detection item from the earlier steps: no recurrence)")

    # 2. A deferral without a date is refused; one with a date goes into the debt ledger.
    deferred = items.get("late-decision", next(iter(items.values()), 0))
    bad = await _say(
        world, deferred, "/harden defer after the reorg; risk if delayed: slow escalations", OWNER
    )
    world.check(
        "a revisit date (YYYY-MM-DD, first)" in _replies(world, deferred, bad),
        "a deferral without a revisit date is refused, naming the missing date",
    )
    revisit = (today + timedelta(days=30)).isoformat()
    await _say(
        world,
        deferred,
        f"/harden defer {revisit} the escalation map moves with the reorg; "
        "risk if delayed: slow escalations at night",
        OWNER,
    )

    # 3. A residual risk without a trigger is refused; a complete one is registered.
    target = (today + timedelta(days=60)).isoformat()
    bad = await _say(world, incident, _risk(target, trigger=False), LEAD)
    world.check(
        "`Trigger for re-prioritization`" in _replies(world, incident, bad),
        "a residual risk without a trigger is refused, naming the field",
    )
    good = await _say(world, incident, _risk(target), LEAD)
    world.check(
        "Registered as residual risk **R" in _replies(world, incident, good),
        "a complete residual risk is registered and numbered",
    )

    # 4. One ledger shows it all.
    ledgers = _ledgers(world)
    world.check(len(ledgers) == 1, f"exactly one Hardening ledger issue ({len(ledgers)})")
    body = str(ledgers[0]["body"]) if ledgers else ""
    world.check(
        all(f"| #{n} |" in _section(body, "Open items by priority band") for n in items.values()),
        "the ledger lists the new incident's items by priority band",
    )
    world.check(
        f"#{deferred} " in _section(body, "Reliability debt ledger") and revisit in body,
        f"the deferral of #{deferred} is in the reliability debt ledger, revisit {revisit}",
    )
    world.check(
        "deploy windows can still mute paging alerts" in _section(body, "Residual risk register"),
        "the residual risk is in the register with its trigger, owner and target date",
    )
    if earlier:
        world.check(
            "recurred as" in _section(body, "Recurrences"),
            "the recurrence is listed in the ledger",
        )
    world.say(f"Hardening ledger #{ledgers[0]['number'] if ledgers else '?'}, first lines:")
    for line in body.splitlines()[1:12]:
        world.say(f"    {line}")
