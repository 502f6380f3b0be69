"""Closing gates and /harden commands: a premature close undone, commands authorized, verify.

From docs/hardening-loop.md: "close items only with proof artifact links", the "Hardening QA gate" (implementation,
behavioral and ownership evidence; the verifier signs off, never the execution owner), the
"Completion evidence bundle" and the "Control sunset protocol". Each command is a comment the
sandbox delivers as ``issue_comment``; the bot's own closes and reopens loop back as webhooks.

Uses ``world.state["items"]`` and ``world.state["incident"]`` from the earlier steps when they
are there, and opens an incident and its items itself otherwise.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rules.item_template import parse_item, render_item
from rules.model import HardeningItem

BOT = "hardening-bot[bot]"
OWNER, VERIFIER, LEAD, READER = "erin", "victor", "carol", "rita"

EVIDENCE = (
    "/harden evidence https://ci.example.com/payments/run/812 implementation "
    "alert rule unit tests and replay suite green\n"
    "/harden evidence https://ops.example.com/drills/44 behavioral synthetic lag replay paged "
    "on-call in 40s\n"
    "/harden evidence https://ops.example.com/rollbacks/19 rollback took 4m30s\n"
    "/harden evidence https://grafana.example.com/d/queue-lag monitoring alert firing in "
    "staging, p95 detection 29m -> 1m\n"
    "/harden evidence https://github.com/acme/payments/blob/main/runbooks/queue-lag.md runbook "
    "page the commander at 10 minutes"
)


def _item(world: Any, number: int) -> HardeningItem | None:
    return parse_item(world.sandbox.issue(world.repo, number)["body"] or "").item


def _bot_comments(world: Any, number: int, mark: str) -> list[dict[str, Any]]:
    return [
        c
        for c in world.sandbox.comments(world.repo, number)
        if c["user"]["login"] == BOT and mark in (c["body"] or "")
    ]


def _reactions(world: Any, comment: dict[str, Any]) -> list[str]:
    return [
        r["content"] for r in world.sandbox.reactions(comment["id"]) if r["user"]["login"] == BOT
    ]


def _reply(world: Any, number: int, comment: dict[str, Any]) -> str:
    found = _bot_comments(world, number, f"hardening-bot:reply comment={comment['id']} ")
    return found[0]["body"] if found else ""


async def _comment(world: Any, number: int, body: str, user: str) -> dict[str, Any]:
    comment = world.sandbox.add_comment(world.repo, number, body, user=user)
    payload = world.sandbox.issue_comment_event(world.repo, number, comment["id"])
    await world.deliver("issue_comment", payload)
    await world.settle()
    return dict(comment)


async def _close(world: Any, number: int, user: str) -> None:
    world.sandbox.update_issue(world.repo, number, user=user, state="closed")
    await world.deliver(
        "issues", world.sandbox.issue_event(world.repo, number, "closed", sender=user)
    )
    await world.settle()


def _setup(world: Any) -> tuple[int, int, list[int]]:
    """(incident, the item to verify, the incident's other items), from state or made here."""
    items: dict[str, int] = dict(world.state.get("items") or {})
    incident = world.state.get("incident")
    if incident is not None and items:
        chosen = items.get("missed-detection") or next(iter(items.values()))
        return int(incident), int(chosen), [n for n in items.values() if n != chosen]
    sandbox, repo = world.sandbox, world.repo
    issue = sandbox.open_issue(
        repo,
        title="Payments queue backlog",
        labels=("incident",),
        body="The payments queue backed up for 50 minutes.\n",
        user=OWNER,
    )
    incident = int(issue["number"])
    made = []
    for failure_class, control in (
        ("missed-detection", "alert rule + routing update"),
        ("slow-recovery", "rollback rehearsal gate"),
    ):
        item = HardeningItem(
            incident=incident, failure_class=failure_class, proposed_control=control, priority="P1"
        )
        made.append(
            int(
                sandbox.open_issue(
                    repo,
                    title=f"Harden {failure_class}",
                    body=render_item(item),
                    labels=("hardening", f"failure-class:{failure_class}"),
                    user=BOT,  # as the bot opens them from the incident's findings
                )["number"]
            )
        )
    world.say(f"No earlier step: opened incident #{incident} with items #{made[0]}, #{made[1]}.")
    return incident, made[0], made[1:]


async def run(world: Any) -> None:
    sandbox, repo = world.sandbox, world.repo
    incident, number, others = _setup(world)
    before = _item(world, number) or HardeningItem()

    # 1. A premature close is undone, once, with what is missing and the command for each.
    missing = [
        (label, command)
        for label, command, absent in (
            ("execution owner", "/harden owner @user", not before.owner),
            ("verifier owner", "/harden verifier @user", not before.verifier),
            ("evidence link", "/harden evidence URL", not before.evidence),
            ("status `verified`", "/harden verify", True),
        )
        if absent
    ]
    world.say(f"{OWNER} closes item #{number} before it is verified, twice.")
    await _close(world, number, OWNER)
    await _close(world, number, OWNER)
    issue = sandbox.issue(repo, number)
    gate = _bot_comments(world, number, "hardening-bot:closure-gate -->")
    body = gate[0]["body"] if gate else ""
    world.check(issue["state"] == "open", f"#{number} was reopened ({issue['state']})")
    world.check(
        len(gate) == 1 and "Closed 2 times" in body,
        "one gate comment, edited in place with the count of closes it held",
    )
    world.check(
        all(label in body and command in body for label, command in missing),
        "the comment names "
        + ", ".join(label for label, _ in missing)
        + " and the command for each",
    )

    # 2. A read-only collaborator may not assign owners.
    world.say(f"{READER} (read access) tries `/harden owner @{READER}`.")
    comment = await _comment(world, number, f"/harden owner @{READER}", READER)
    reply = _reply(world, number, comment)
    world.check(
        _reactions(world, comment) == ["eyes", "-1"]
        and "Refused:" in reply
        and "write, maintain or admin" in reply
        and "Usage: `/harden owner" in reply,
        "refused with 👎, the reason and the usage line",
    )
    world.check((_item(world, number) or before).owner == before.owner, "the owner is unchanged")

    # 3. Someone with write access sets the owners and the due date.
    due = (date.today() + timedelta(days=10)).isoformat()
    comment = await _comment(
        world,
        number,
        f"/harden owner @{OWNER}\n/harden verifier @{VERIFIER}\n/harden due {due}",
        OWNER,
    )
    item = _item(world, number)
    world.check(
        _reactions(world, comment) == ["eyes", "+1"]
        and item is not None
        and (item.owner, item.verifier, str(item.due)) == (OWNER, VERIFIER, due),
        f"{OWNER} (write) set owner @{OWNER}, verifier @{VERIFIER}, due {due}: 👍",
    )

    # 4. The execution owner cannot verify their own item.
    comment = await _comment(world, number, "/harden verify", OWNER)
    world.check(
        _reactions(world, comment) == ["eyes", "-1"]
        and "cannot verify their own item" in _reply(world, number, comment)
        and sandbox.issue(repo, number)["state"] == "open",
        f"@{OWNER}'s own `/harden verify` is refused",
    )

    # 4b. Nor can they forge it: typing `verified` into the body and closing changes nothing.
    world.say(
        f"{OWNER} edits the body of #{number} to say `Status: verified` and `Verified by: "
        f"@{VERIFIER}`, then closes it."
    )
    typed = sandbox.issue(repo, number)["body"]
    forged = typed.replace("- Status: open", "- Status: verified").replace(
        "- Status: in_progress", "- Status: verified"
    )
    forged = forged.replace(
        "- Adoption check date:", f"- Verified by: @{VERIFIER}\n- Adoption check date:"
    )
    await world.deliver("issues", sandbox.edit_issue(repo, number, body=forged, user=OWNER))
    await world.settle()
    await _close(world, number, OWNER)
    item = _item(world, number)
    undone = _bot_comments(world, number, "hardening-bot:hand-edit -->")
    world.check(
        item is not None
        and item.status != "verified"
        and item.verified_by is None
        and sandbox.issue(repo, number)["state"] == "open",
        f"the forgery is refused: #{number} is open and not verified (the gates read the App's "
        "signed record, not the body)",
    )
    world.check(
        len(undone) == 1 and "`/harden verify`" in undone[0]["body"],
        "the typed status was put back, with one comment naming `/harden verify`",
    )

    # 5. The owner brings the evidence and acknowledges the runbook update.
    world.say(
        f"{OWNER} adds implementation, behavioral, rollback (timed), monitoring and "
        "runbook evidence, then `/harden ack`."
    )
    comment = await _comment(world, number, EVIDENCE + "\n/harden ack", OWNER)
    item = _item(world, number)
    kinds = {e.kind for e in item.evidence} if item else set()
    world.check(
        _reactions(world, comment) == ["eyes", "+1"]
        and {"implementation", "behavioral", "rollback", "monitoring", "runbook"} <= kinds
        and item is not None
        and OWNER in item.acknowledged_by,
        f"evidence recorded ({len(item.evidence) if item else 0} links) and the acknowledgement",
    )

    # 6. The verifier's /harden verify passes the QA gate: verified, closed, bundle posted.
    world.say(f"{VERIFIER}, the verifier owner, comments `/harden verify`.")
    comment = await _comment(world, number, "/harden verify", VERIFIER)
    issue = sandbox.issue(repo, number)
    item = _item(world, number)
    bundle = _bot_comments(world, number, "hardening-bot:bundle -->")
    world.check(_reactions(world, comment) == ["eyes", "+1"], "verify acknowledged with 👍")
    world.check(
        item is not None
        and item.status == "verified"
        and item.verified_by == VERIFIER
        and item.verified_link == comment["html_url"],
        f"#{number} is verified by @{VERIFIER}, linked to the comment",
    )
    world.check(
        issue["state"] == "closed" and issue["state_reason"] == "completed",
        f"#{number} was closed as completed, and stayed closed (the bot's own close is not gated)",
    )
    world.check(
        len(bundle) == 1
        and "Completion evidence bundle" in bundle[0]["body"]
        and f"#{incident}" in bundle[0]["body"],
        "the completion evidence bundle is posted on the item",
    )

    # 7. The incident cannot close while its other items have no owners.
    world.say(f"{OWNER} closes incident #{incident} while items {others} have no owners.")
    await _close(world, incident, OWNER)
    issue = sandbox.issue(repo, incident)
    gate = _bot_comments(world, incident, "hardening-bot:incident-close-gate -->")
    body = gate[0]["body"] if gate else ""
    world.check(
        issue["state"] == "open" and len(gate) == 1,
        f"incident #{incident} was reopened with one comment",
    )
    world.check(
        all(f"an execution owner on #{n}" in body for n in others),
        "the comment names each unowned item and `/harden owner @user`",
    )

    # 8. A lead (through the lead team) retires the rest: the incident's bundle appears.
    world.say(f"{LEAD}, a lead through @acme/reliability-leads, retires the other items.")
    for other in others:
        await _comment(
            world, other, f"/harden retire superseded by the queue-lag control of #{number}", LEAD
        )
    retired = [(_item(world, n) or HardeningItem()).status for n in others]
    notes = [len(_bot_comments(world, n, "hardening-bot:retirement -->")) for n in others]
    world.check(
        all(s == "retired" for s in retired)
        and all(k == 1 for k in notes)
        and all(sandbox.issue(repo, n)["state_reason"] == "not_planned" for n in others),
        "each retired with its rationale in the template, closed as not planned, "
        "with a retirement note",
    )
    bundles = _bot_comments(world, incident, "hardening-bot:incident-bundle -->")
    world.check(
        len(bundles) == 1 and f"#{number}" in bundles[0]["body"],
        f"incident #{incident} got its completion evidence bundle",
    )
