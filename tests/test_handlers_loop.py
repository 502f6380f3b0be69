"""The loop over time through the real endpoint against the sandbox: the Hardening ledger after
each kind of change, deferrals, residual risk, recurrence, break-glass overrides, the sprint
summary, and one ledger under concurrent deliveries."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import BOT, OWNED_ITEM, Deliver, Drain, World, item_of, open_app_item, world_of

from bot.github import GitHubApp
from bot.web import create_app
from rules.ledger import LABEL, MARKER, TITLE
from sandbox import Sandbox
from sandbox.record import Record

CONFIG = ".github/hardening.yml"
NOW = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
FINDINGS = """### Findings
- missed detection: pager did not fire for checkout 5xx
- slow recovery: rollback took 35 minutes
- late decision: nobody declared the incident for 20 minutes
"""
RISK = """Registering what we accept for now.

### Residual Risk
- Risk statement: the pager vendor may drop alerts during maintenance
- Why not fully solved yet: the second vendor starts in January
- Temporary control in place: manual status check at each handover
- Trigger for re-prioritization: any alert lost
- Owner: @carol
- Target resolution date: 2027-01-31
"""
SOURCE = {
    "filename": "src/queue/consumer.py",
    "status": "modified",
    "additions": 1,
    "deletions": 0,
    "patch": "@@ -10,2 +10,3 @@ def consume():\n     msg = q.get()\n+    log.warn('lag')\n",
}


@pytest.fixture
async def bot_client(aiohttp_client: Any, settings: Any, quick_github: GitHubApp) -> TestClient:
    return await aiohttp_client(create_app(settings, github=quick_github, clock=NOW.timestamp))


@pytest.fixture
def people(sandbox: Sandbox, repo: str) -> str:
    for login in ("carol", "dave", "erin"):
        sandbox.set_permission(repo, login, "write")
    sandbox.set_permission(repo, "rita", "read")
    sandbox.put_file(repo, CONFIG, "leads: [lena]\nmode: enforce\n")
    return repo


async def open_incident(world: World, title: str) -> int:
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    issue = sandbox.open_issue(repo, title=title, body=FINDINGS, labels=("incident",), user="carol")
    await deliver("issues", sandbox.issue_event(repo, issue["number"], "opened"))
    await drain()
    return int(issue["number"])


async def say(world: World, number: int, body: str, user: str) -> dict[str, Any]:
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    comment = sandbox.add_comment(repo, number, body, user=user)
    await deliver("issue_comment", sandbox.issue_comment_event(repo, number, comment["id"]))
    await drain()
    return dict(comment)


def ledgers(sandbox: Sandbox, repo: str) -> list[dict[str, Any]]:
    return [i for i in sandbox.issues(repo) if i["title"] == TITLE and "pull_request" not in i]


def ledger_body(sandbox: Sandbox, repo: str) -> str:
    (ledger,) = ledgers(sandbox, repo)
    assert ledger["user"]["login"] == BOT
    assert [label["name"] for label in ledger["labels"]] == [LABEL]
    return str(ledger["body"])


def section(body: str, title: str) -> str:
    start = body.index(f"## {title}")
    end = body.find("\n## ", start + 1)
    return body[start : end if end != -1 else None]


def items_of(sandbox: Sandbox, repo: str, incident: int) -> list[int]:
    return sorted(
        i["number"]
        for i in sandbox.issues(repo)
        if "hardening" in {label["name"] for label in i["labels"]}
        and f"incident={incident}" in (i["body"] or "")
    )


def replies(sandbox: Sandbox, repo: str, number: int, comment: dict[str, Any]) -> list[str]:
    return [
        c["body"]
        for c in sandbox.comments(repo, number)
        if c["user"]["login"] == BOT and str(comment["id"]) in c["body"].splitlines()[0]
    ]


def reactions(sandbox: Sandbox, comment: dict[str, Any]) -> list[str]:
    return [r["content"] for r in sandbox.reactions(comment["id"]) if r["user"]["login"] == BOT]


# --- the ledger ----------------------------------------------------------------------------------


async def test_first_incident_creates_one_ledger_with_its_items(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident = await open_incident(world, "Checkout down")
    numbers = items_of(sandbox, repo, incident)
    assert len(numbers) == 3
    body = ledger_body(sandbox, repo)
    assert body.startswith(MARKER)
    assert "Edits to this issue are overwritten at the next update" in body
    bands = section(body, "Open items by priority band")
    for number in numbers:
        assert f"| #{number} |" in bands
    # Nothing changed: the next update writes nothing.
    sandbox.reset_calls()
    await deliver("issues", sandbox.issue_event(repo, incident, "edited"))
    await drain()
    assert not [
        c
        for c in sandbox.writes()
        if c.path.endswith(f"/issues/{ledgers(sandbox, repo)[0]['number']}")
    ]


async def test_ledger_stays_one_issue_under_concurrent_deliveries(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain
) -> None:
    repo = people
    issues = [
        sandbox.open_issue(
            repo, title=f"Outage {n}", body=FINDINGS, labels=("incident",), user="carol"
        )
        for n in range(4)
    ]
    await asyncio.gather(
        *(deliver("issues", sandbox.issue_event(repo, i["number"], "opened")) for i in issues)
    )
    await drain()
    assert len(ledgers(sandbox, repo)) == 1
    body = ledger_body(sandbox, repo)
    for issue in issues:
        for number in items_of(sandbox, repo, issue["number"]):
            assert f"| #{number} |" in body


async def test_a_person_edit_of_the_ledger_is_overwritten_and_its_facts_kept(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident = await open_incident(world, "Checkout down")
    await say(world, incident, RISK, "carol")
    (ledger,) = ledgers(sandbox, repo)
    event = sandbox.edit_issue(repo, ledger["number"], user="dave", body="all fine here")
    await deliver("issues", event)
    await drain()
    body = ledger_body(sandbox, repo)
    assert "all fine here" not in body
    assert "| R1 (#" in section(body, "Residual risk register")


# --- deferral ----------------------------------------------------------------------------------


async def test_deferral_moves_an_item_into_the_debt_ledger(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident = await open_incident(world, "Checkout down")
    first = items_of(sandbox, repo, incident)[0]
    line = "/harden defer 2027-01-15 waiting for the pager vendor; risk if delayed: a silent outage"
    comment = await say(world, first, line, "dave")
    assert reactions(sandbox, comment) == ["eyes", "+1"]
    deferral = item_of(sandbox, repo, first).deferral
    assert deferral is not None and deferral.revisit == date(2027, 1, 15) and deferral.by == "dave"
    debt = section(ledger_body(sandbox, repo), "Reliability debt ledger")
    assert (
        f"| #{first} (deferred by @\u200bdave) | waiting for the pager vendor | a silent outage "
        "| 2027-01-15 |" in debt
    )


@pytest.mark.parametrize(
    ("line", "user", "expected"),
    [
        (
            "/harden defer waiting; risk if delayed: outage",
            "dave",
            "a revisit date (YYYY-MM-DD, first)",
        ),
        ("/harden defer 2027-01-15 waiting", "dave", "the risk if delayed"),
        (
            "/harden defer 2026-12-01 waiting; risk if delayed: outage",
            "dave",
            "is not in the future",
        ),
        ("/harden defer 2027-01-15 waiting; risk if delayed: outage", "rita", "or a lead"),
    ],
)
async def test_deferral_refusals_name_what_is_missing(
    sandbox: Sandbox,
    people: str,
    deliver: Deliver,
    drain: Drain,
    line: str,
    user: str,
    expected: str,
    world: World,
) -> None:
    repo = people
    incident = await open_incident(world, "Checkout down")
    first = items_of(sandbox, repo, incident)[0]
    comment = await say(world, first, line, user)
    assert reactions(sandbox, comment) == ["eyes", "-1"]
    (reply,) = replies(sandbox, repo, first, comment)
    assert expected in reply
    assert item_of(sandbox, repo, first).deferral is None
    assert "| none | | | |" in section(ledger_body(sandbox, repo), "Reliability debt ledger")


# --- residual risk -----------------------------------------------------------------------------


async def test_residual_risk_is_registered_listed_and_resolved(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident = await open_incident(world, "Checkout down")
    comment = await say(world, incident, RISK, "carol")
    (reply,) = replies(sandbox, repo, incident, comment)
    assert "Registered as residual risk **R1**" in reply
    assert reactions(sandbox, comment) == ["+1"]
    register = section(ledger_body(sandbox, repo), "Residual risk register")
    assert (
        f"| R1 (#{incident}) | the pager vendor may drop alerts during maintenance | the second "
        "vendor starts in January | manual status check at each handover | any alert lost | "
        "@\u200bcarol | 2027-01-31 |" in register
    )
    # The same comment delivered again registers nothing twice.
    await deliver("issue_comment", sandbox.issue_comment_event(repo, incident, comment["id"]))
    await drain()
    assert "R2" not in ledger_body(sandbox, repo)
    resolve = await say(world, incident, "/harden risk resolve 1", "dave")
    assert "R1 is resolved" in replies(sandbox, repo, incident, resolve)[0]
    register = section(ledger_body(sandbox, repo), "Residual risk register")
    assert "| none |" in register and "Resolved: R1 by @\u200bdave on 2026-12-10" in register


@pytest.mark.parametrize(
    ("edit", "user", "expected"),
    [
        (
            lambda text: text.replace("- Trigger for re-prioritization: any alert lost\n", ""),
            "carol",
            "missing `Trigger for re-prioritization`",
        ),
        (
            lambda text: text.replace("2027-01-31", "TBD").replace(
                "- Trigger for re-prioritization: any alert lost\n", ""
            ),
            "carol",
            "missing `Trigger for re-prioritization`, `Target resolution date`",
        ),
        (lambda text: text, "rita", "registering a residual risk is for"),
    ],
)
async def test_residual_risk_refusals(
    sandbox: Sandbox,
    people: str,
    deliver: Deliver,
    drain: Drain,
    edit: Any,
    user: str,
    expected: str,
    world: World,
) -> None:
    repo = people
    incident = await open_incident(world, "Checkout down")
    comment = await say(world, incident, edit(RISK), user)
    (reply,) = replies(sandbox, repo, incident, comment)
    assert expected in reply
    assert "| none |" in section(ledger_body(sandbox, repo), "Residual risk register")


async def test_resolving_an_unknown_entry_is_refused(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident = await open_incident(world, "Checkout down")
    comment = await say(world, incident, "/harden risk resolve 7", "dave")
    assert "R7 is not in the register" in replies(sandbox, repo, incident, comment)[0]
    item = items_of(sandbox, repo, incident)[0]
    comment = await say(world, item, "/harden risk resolve 7", "rita")
    assert reactions(sandbox, comment) == ["eyes", "-1"]


# --- recurrence ----------------------------------------------------------------------------------


async def test_same_failure_class_again_marks_the_verified_item_a_recurrence(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    earlier = open_app_item(
        sandbox,
        repo,
        dataclasses.replace(
            OWNED_ITEM,
            incident=99,
            status="verified",
            verified_by="bob",
            verified_at=datetime(2026, 11, 1, tzinfo=UTC),
        ),
        labels=("hardening", "failure-class:missed-detection"),
    )
    incident = await open_incident(world, "Checkout down again")
    later = next(
        n
        for n in items_of(sandbox, repo, incident)
        if item_of(sandbox, repo, n).failure_class == "missed-detection"
    )
    labels = {label["name"] for label in sandbox.issue(repo, earlier)["labels"]}
    assert "recurrence" in labels
    notes = [c["body"] for c in sandbox.comments(repo, earlier) if c["user"]["login"] == BOT]
    assert len([n for n in notes if "The control did not hold" in n]) == 1
    assert any(f"Recurrence of #{earlier}" in c["body"] for c in sandbox.comments(repo, later))
    body = ledger_body(sandbox, repo)
    assert f"#{earlier} (`missed-detection`, verified) recurred as #{later}" in section(
        body, "Recurrences"
    )
    assert f"#{earlier}" in section(body, "Retire candidates")


async def test_one_incident_is_one_recurrence_however_many_findings_repeat_it(
    sandbox: Sandbox, people: str, world: World
) -> None:
    repo = people
    verified = dataclasses.replace(
        OWNED_ITEM,
        incident=99,
        status="verified",
        verified_by="bob",
        verified_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    earlier = open_app_item(
        sandbox, repo, verified, labels=("hardening", "failure-class:missed-detection")
    )
    body = "### Findings\n- missed detection: a\n- missed detection: b\n- missed detection: c\n"
    issue = sandbox.open_issue(repo, title="Outage", body=body, labels=("incident",), user="carol")
    incident = int(issue["number"])
    await world.send("issues", sandbox.issue_event(repo, incident, "opened", sender="carol"))
    later = items_of(sandbox, repo, incident)
    assert len(later) == 3
    [note] = [
        c["body"]
        for c in sandbox.comments(repo, earlier)
        if c["user"]["login"] == BOT and "The control did not hold" in c["body"]
    ]
    assert "3 findings of `missed-detection`" in note
    assert "items " + ", ".join(f"#{n}" for n in later) in note
    assert all(
        any(f"Recurrence of #{earlier}" in c["body"] for c in sandbox.comments(repo, n))
        for n in later
    )
    # A finding added later joins the same comment; the ledger lists one recurrence.
    more = body + "- missed detection: d\n"
    sandbox.update_issue(repo, incident, body=more, user="carol")
    payload = sandbox.issue_event(
        repo, incident, "edited", sender="carol", changes={"body": {"from": body}}
    )
    await world.send("issues", payload)
    later = items_of(sandbox, repo, incident)
    [note] = [
        c["body"]
        for c in sandbox.comments(repo, earlier)
        if c["user"]["login"] == BOT and "The control did not hold" in c["body"]
    ]
    assert "4 findings" in note and f"#{later[-1]}" in note
    recurrences = section(ledger_body(sandbox, repo), "Recurrences")
    assert recurrences.count(f"- #{earlier} ") == 1
    assert ", ".join(f"#{n}" for n in later) in recurrences
    assert "(1 recurrence(s))" in section(ledger_body(sandbox, repo), "Retire candidates")


# --- break-glass ---------------------------------------------------------------------------------


async def open_hotfix(world: World) -> Record:
    """dave's pull request of a source change labelled missed-detection, without a regression
    test, delivered: enforce mode fails its hardening/controls run."""
    sandbox, repo = world.sandbox, world.repo
    pull = sandbox.open_pull(
        repo,
        title="Hotfix",
        body="",
        files=[SOURCE],
        labels=("failure-class:missed-detection",),
        user="dave",
    )
    await world.send("pull_request", sandbox.pull_request_event(repo, pull["number"], "opened"))
    return pull


async def test_lead_override_passes_enforce_for_that_head_only(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    pull = await open_hotfix(world)
    sha = pull["head"]["sha"]

    def controls(head: str) -> dict[str, Any]:
        return [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/controls"][-1]

    assert controls(sha)["conclusion"] == "failure"
    refused = await say(world, pull["number"], "/harden override sev-1 fix", "dave")
    assert "is for a lead" in replies(sandbox, repo, pull["number"], refused)[0]
    assert controls(sha)["conclusion"] == "failure"
    await say(
        world,
        pull["number"],
        "/harden override sev-1 checkout fix for 6h",
        "lena",
    )
    run = controls(sha)
    assert run["conclusion"] == "success"
    assert run["output"]["title"] == "Overridden by lena until 2026-12-10 15:00 UTC"
    assert "sev-1 checkout fix" in run["output"]["summary"]
    # A re-evaluation of the same head keeps the override.
    await deliver(
        "pull_request",
        sandbox.pull_request_event(repo, pull["number"], "edited", changes={"body": {"from": "x"}}),
    )
    await drain()
    assert controls(sha)["conclusion"] == "success"
    overrides = section(ledger_body(sandbox, repo), "Break-glass overrides")
    assert f"#{pull['number']} at `{sha[:12]}` by @\u200blena" in overrides
    # A new push ends it.
    pushed = sandbox.push_pull(repo, pull["number"], files=[SOURCE])
    await deliver("pull_request", sandbox.pull_request_event(repo, pull["number"], "synchronize"))
    await drain()
    assert controls(pushed["head"]["sha"])["conclusion"] == "failure"
    controls_section = section(ledger_body(sandbox, repo), "Controls by rollout mode")
    assert "| `regression-test` | enforce | 1 | 1 | enforced |" in controls_section


async def test_an_override_never_passes_a_head_pushed_after_it_was_written(
    sandbox: Sandbox, people: str, world: World
) -> None:
    repo = people
    pull = await open_hotfix(world)
    number = int(pull["number"])
    comment = sandbox.add_comment(repo, number, "/harden override sev-1 fix", user="lena")
    pushed = sandbox.push_pull(repo, number, files=[SOURCE])  # dave pushes meanwhile
    await world.send("issue_comment", sandbox.issue_comment_event(repo, number, comment["id"]))
    await world.send("pull_request", sandbox.pull_request_event(repo, number, "synchronize"))
    for head in (pull["head"]["sha"], pushed["head"]["sha"]):
        runs = [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/controls"]
        assert runs[-1]["conclusion"] == "failure"
    [answer] = replies(sandbox, repo, number, comment)
    assert "moved" in answer and pushed["head"]["sha"][:12] in answer
    assert (
        "override" not in section(ledger_body(sandbox, repo), "Break-glass overrides").lower()[30:]
    )
    # Said again once the new head was judged, it is the head the lead saw.
    await say(world, number, "/harden override sev-1 fix", "lena")
    runs = [
        r
        for r in sandbox.check_runs(repo, pushed["head"]["sha"])
        if r["name"] == "hardening/controls"
    ]
    assert runs[-1]["conclusion"] == "success"


async def test_an_override_of_one_pull_request_passes_no_other_with_the_same_head(
    sandbox: Sandbox, people: str, world: World
) -> None:
    repo = people
    sha = "ab" * 20
    labels = ("failure-class:missed-detection",)
    first = sandbox.open_pull(repo, title="to release", body="", files=[SOURCE], head_sha=sha,
                              head="hot", base="release", labels=labels, user="dave")  # fmt: skip
    await world.send("pull_request", sandbox.pull_request_event(repo, first["number"], "opened"))
    await say(world, first["number"], "/harden override release hotfix", "lena")
    second = sandbox.open_pull(repo, title="to main", body="", files=[SOURCE], head_sha=sha,
                               head="hot", base="main", labels=labels, user="dave")  # fmt: skip
    await world.send("pull_request", sandbox.pull_request_event(repo, second["number"], "opened"))
    # A commit has one hardening/controls run, whichever pull request it heads: the second
    # pull request's verdict is written there, and says why no override applies to it.
    run = [r for r in sandbox.check_runs(repo, sha) if r["name"] == "hardening/controls"][-1]
    assert run["conclusion"] == "failure"
    summary = run["output"]["summary"]
    assert f"on pull request #{first['number']} only" in summary


# --- the sprint summary and the incident close gate ------------------------------------------


def open_incident_with_items(sandbox: Sandbox, repo: str, *items: Any) -> tuple[int, list[int]]:
    incident = sandbox.open_issue(
        repo,
        title="Queue lag outage",
        body="Lag went unnoticed.",
        labels=("incident",),
        user="carol",
    )["number"]
    numbers = [
        open_app_item(
            sandbox,
            repo,
            dataclasses.replace(item, incident=incident),
            labels=("hardening", "failure-class:missed-detection"),
        )
        for item in items
    ]
    return int(incident), numbers


async def test_sprint_summary_once_every_item_is_verified_or_deferred(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    from rules.model import Deferral
    from rules.summary import SUMMARY_MARKER

    verified = dataclasses.replace(
        OWNED_ITEM, status="verified", verified_by="bob", acknowledged_by=("carol",)
    )
    deferred = dataclasses.replace(
        OWNED_ITEM, deferral=Deferral(date(2027, 1, 15), "vendor first", "silent outage", "dave")
    )
    incident, (done, later) = open_incident_with_items(sandbox, repo, verified, OWNED_ITEM)
    await deliver("issues", sandbox.issue_event(repo, done, "edited"))
    await drain()
    assert not [c for c in sandbox.comments(repo, incident) if SUMMARY_MARKER in c["body"]]
    await say(
        world,
        later,
        "/harden defer 2027-01-15 vendor first; risk if delayed: silent outage",
        "dave",
    )
    await say(world, incident, RISK, "carol")
    await deliver("issues", sandbox.issue_event(repo, later, "edited"))
    await drain()
    (summary,) = [
        c["body"] for c in sandbox.comments(repo, incident) if SUMMARY_MARKER in c["body"]
    ]
    assert f"| #{done} | verified | @carol | @bob |" in summary
    assert (
        f"- #{later}: revisit 2027-01-15; why: vendor first; risk if delayed: silent outage"
        in summary
    )
    assert "- R1 @carol, target 2027-01-31: the pager vendor may drop alerts" in summary
    assert "- [ ] one automation control merged" in summary
    assert item_of(sandbox, repo, later).deferral == deferred.deferral


async def test_incident_closes_only_with_its_work_done_deferred_or_registered(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident, (first, second) = open_incident_with_items(sandbox, repo, OWNED_ITEM, OWNED_ITEM)
    sandbox.update_issue(repo, incident, user="carol", state="closed")
    await deliver("issues", sandbox.issue_event(repo, incident, "closed", sender="carol"))
    await drain()
    assert sandbox.issue(repo, incident)["state"] == "open"
    gate = [c["body"] for c in sandbox.comments(repo, incident) if c["user"]["login"] == BOT][-1]
    for number in (first, second):
        assert f"#{number} done, deferred or registered as residual risk" in gate
    assert "one automation control merged" in gate
    await say(world, incident, RISK, "carol")
    sandbox.update_issue(repo, incident, user="carol", state="closed")
    await deliver("issues", sandbox.issue_event(repo, incident, "closed", sender="carol"))
    await drain()
    assert sandbox.issue(repo, incident)["state"] == "closed"


async def test_owner_command_refreshes_the_controls_check_that_names_the_owner(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    item = open_app_item(
        sandbox,
        repo,
        dataclasses.replace(OWNED_ITEM),
        labels=("hardening", "failure-class:missed-detection"),
    )
    pull = sandbox.open_pull(
        repo, title="Lag alert", body=f"Hardens #{item}", files=[SOURCE], user="dave"
    )
    await deliver("pull_request", sandbox.pull_request_event(repo, pull["number"], "opened"))
    await drain()

    def summary() -> str:
        runs = [
            r
            for r in sandbox.check_runs(repo, pull["head"]["sha"])
            if r["name"] == "hardening/controls"
        ]
        return str(runs[-1]["output"]["summary"])

    assert "**Owner:** @carol" in summary()
    await say(world, item, "/harden owner @erin", "dave")
    assert "**Owner:** @erin" in summary()


async def test_organisation_ledger_in_the_dot_github_repository(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    from conftest import INSTALLATION_ID

    from rules.ledger import ORG_TITLE

    repo = people
    first = await open_incident(world, "Checkout down")
    assert not [i for i in sandbox.issues(repo) if i["title"] == ORG_TITLE]
    sandbox.add_repo("octo/.github", installation_id=INSTALLATION_ID)
    await open_incident(world, "Checkout down again")
    (org,) = [i for i in sandbox.issues("octo/.github") if i["title"] == ORG_TITLE]
    (ledger,) = ledgers(sandbox, repo)
    assert org["user"]["login"] == BOT
    assert f"| octo/repo#{ledger['number']} | 6 | 0 | 0 | 0 |" in org["body"]
    await say(world, first, RISK, "carol")
    (org,) = [i for i in sandbox.issues("octo/.github") if i["title"] == ORG_TITLE]
    assert f"| octo/repo#{ledger['number']} | 6 | 0 | 0 | 1 |" in org["body"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/harden override for 12h", "a reason is required"),
        ("/harden override hotfix for 99h", "an override lasts 1 to 72 hours, not 99"),
    ],
)
async def test_malformed_overrides_are_refused(
    sandbox: Sandbox, people: str, line: str, expected: str, world: World
) -> None:
    repo = people
    pull = await open_hotfix(world)
    comment = await say(world, pull["number"], line, "lena")
    assert expected in replies(sandbox, repo, pull["number"], comment)[0]
    runs = [
        r
        for r in sandbox.check_runs(repo, pull["head"]["sha"])
        if r["name"] == "hardening/controls"
    ]
    assert runs[-1]["conclusion"] == "failure"


async def test_resolving_on_an_incident_needs_write_access(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident = await open_incident(world, "Checkout down")
    await say(world, incident, RISK, "carol")
    comment = await say(world, incident, "/harden risk resolve 1", "rita")
    assert "or a lead" in replies(sandbox, repo, incident, comment)[0]
    assert reactions(sandbox, comment) == ["-1"]
    assert "| R1 (#" in section(ledger_body(sandbox, repo), "Residual risk register")


async def test_sprint_day_14_publishes_the_summary_without_waiting_for_the_items(
    sandbox: Sandbox, people: str, aiohttp_client: Any, settings: Any, quick_github: GitHubApp
) -> None:
    import time

    from bot.web import INBOX
    from rules.summary import SUMMARY_MARKER

    repo = people
    later = time.time() + 15 * 86400  # the items were opened today, by the sandbox's clock
    client = await aiohttp_client(create_app(settings, github=quick_github, clock=lambda: later))
    world = world_of(client, sandbox, repo)
    incident, _ = open_incident_with_items(sandbox, repo, OWNED_ITEM, OWNED_ITEM)
    # A change elsewhere in the repository updates the ledger, which finds the sprint ended.
    other = sandbox.open_issue(repo, title="Other", body="", labels=("incident",), user="carol")
    # A target date after the bot's "later", whatever today is.
    target = (datetime.fromtimestamp(later, UTC).date() + timedelta(days=30)).isoformat()
    risk = RISK.replace("2027-01-31", target)
    for _ in range(2):
        comment = sandbox.add_comment(repo, other["number"], risk, user="carol")
        await world.send(
            "issue_comment", sandbox.issue_comment_event(repo, other["number"], comment["id"])
        )
    (summary,) = [
        c["body"] for c in sandbox.comments(repo, incident) if SUMMARY_MARKER in c["body"]
    ]
    assert "Sprint day 14 of 14" in summary
    assert "- [ ] ownership confirmations recorded: no `/harden ack` yet on" in summary
    # One summary delivery a day, however many ledger updates ask for it.
    day = datetime.fromtimestamp(later, UTC).date().isoformat()
    held = await client.server.app[INBOX].holds([f"summary.{repo}#{incident}.{day}"])
    assert held == {f"summary.{repo}#{incident}.{day}"}


@pytest.mark.parametrize(("old_component", "recurs"), [("search", False), ("checkout", True)])
async def test_a_recurrence_needs_the_same_component(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, old_component: str, recurs: bool
) -> None:
    repo = people
    sandbox.put_file(
        repo,
        CONFIG,
        "leads: [lena]\ncomponents:\n  checkout: [services/checkout/**]\n  search: [services/search/**]\n",
    )
    old = sandbox.open_issue(
        repo, title="Earlier", body="", labels=("incident", f"component:{old_component}")
    )
    earlier = open_app_item(
        sandbox,
        repo,
        dataclasses.replace(
            OWNED_ITEM, incident=old["number"], status="verified", verified_by="bob"
        ),
        labels=("hardening", "failure-class:missed-detection"),
    )
    issue = sandbox.open_issue(
        repo,
        title="Checkout down",
        body=FINDINGS,
        labels=("incident", "component:checkout"),
        user="carol",
    )
    await deliver("issues", sandbox.issue_event(repo, issue["number"], "opened"))
    await drain()
    labels = {label["name"] for label in sandbox.issue(repo, earlier)["labels"]}
    assert ("recurrence" in labels) is recurs
    assert ("None." in section(ledger_body(sandbox, repo), "Recurrences")) is not recurs


async def test_a_typed_deferral_is_put_back_and_never_counts(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain
) -> None:
    repo = people
    _, (item,) = open_incident_with_items(
        sandbox, repo, dataclasses.replace(OWNED_ITEM, due=date(2026, 12, 1))
    )
    body = sandbox.issue(repo, item)["body"]
    typed = body.replace(
        "- Status: open",
        "- Status: open\n- Deferred until: 2027-03-01 by @dave: later; risk if delayed: none",
    )
    await deliver("issues", sandbox.edit_issue(repo, item, body=typed, user="dave"))
    await drain()
    assert item_of(sandbox, repo, item).deferral is None
    assert "Deferred until" not in sandbox.issue(repo, item)["body"]
    ledger = ledger_body(sandbox, repo)
    assert "| none | | | |" in section(ledger, "Reliability debt ledger")
    assert f"#{item}: due 2026-12-01" in section(ledger, "Overdue")
