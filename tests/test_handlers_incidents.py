"""bot.handlers.incidents through the real webhook endpoint against the sandbox: an incident's
findings become hardening issues exactly once under every delivery pattern, and its tracking
comment stays current in place."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import gidgethub
import pytest
from conftest import Deliver, Drain, World, ledger_call, world_of

from bot import item_issues as items_module
from bot.context import Context, bound_log
from bot.item_issues import sync_incident
from bot.metrics import Metrics
from bot.scope import Scope
from bot.web import create_app
from rules.item_template import parse_item
from sandbox import Sandbox

# The bot's clock: a fixed instant that moves with real time, so the dates the bot plans are
# known and retries still wait. (The sandbox keeps real time: it checks the App's JWT with it.)
BASE = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TODAY = BASE.date()
BOT = "hardening-bot[bot]"
CREATE = ("POST", "/repos/octo/repo/issues")

FINDINGS = """\
- missed detection: pager did not fire for checkout 5xx
- Slow_Recovery: rollback took 35 minutes
- repeated-regression: same cache bug as last quarter
- cosmic rays: a bit flipped in the load balancer
"""
INCIDENT = f"""\
### Summary

Checkout was down for 40 minutes.

### Findings

{FINDINGS}"""

HUMAN_ITEM = """\
### Hardening Item

- Incident reference: #1
- Failure class: late-decision
- Proposed control: incident commander checklist
- Priority band: P2
- Execution owner: @carol
- Verifier owner: @dave
- Due date: 2026-04-01
- Evidence link(s): _No response_
- Adoption check date: 2026-04-15
- Status: open
"""


@pytest.fixture
def clock() -> Callable[[], float]:
    start = time.time()

    def now() -> float:
        return BASE.timestamp() + (time.time() - start)

    return now


@pytest.fixture
async def bot_client(aiohttp_client: Any, settings: Any, clock: Callable[[], float]) -> Any:
    return await aiohttp_client(create_app(settings, clock=clock))


# --- helpers ----------------------------------------------------------------------------------


def names(issue: dict[str, Any]) -> set[str]:
    return {label["name"] for label in issue["labels"]}


def items_of(sandbox: Sandbox, repo: str) -> list[dict[str, Any]]:
    return [i for i in sandbox.issues(repo) if "hardening" in names(i)]


def tracking(sandbox: Sandbox, repo: str, number: int) -> list[dict[str, Any]]:
    return [c for c in sandbox.comments(repo, number) if "hardening-bot:tracking" in c["body"]]


def by_class(sandbox: Sandbox, repo: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for issue in items_of(sandbox, repo):
        item = parse_item(issue["body"]).item
        assert item is not None and item.failure_class is not None
        out[item.failure_class] = issue
    return out


def writes(sandbox: Sandbox) -> list[tuple[str, str]]:
    """Writes to the repository (minting an installation token is not one), leaving out the
    Hardening ledger's, which follow in a delivery of their own (tests/test_handlers_loop.py)."""
    return [
        (c.method, c.path)
        for c in sandbox.writes()
        if "/access_tokens" not in c.path and not ledger_call(sandbox, c)
    ]


async def open_incident(
    world: World, body: str = INCIDENT, labels: tuple[str, ...] = ("incident",)
) -> int:
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    issue = sandbox.open_issue(repo, title="Checkout outage", body=body, labels=labels)
    response = await deliver("issues", sandbox.issue_event(repo, issue["number"], "opened"))
    assert response.status == 202
    await drain()
    return int(issue["number"])


async def edit(
    sandbox: Sandbox, repo: str, deliver: Deliver, number: int, body: str, sender: str = "alice"
) -> dict[str, Any]:
    before = sandbox.issue(repo, number)["body"]
    sandbox.update_issue(repo, number, body=body, user="alice")
    payload = sandbox.issue_event(
        repo, number, "edited", sender=sender, changes={"body": {"from": before}}
    )
    await deliver("issues", payload)
    return payload


# --- creation ---------------------------------------------------------------------------------


async def test_three_findings_and_an_unknown_become_three_items_and_one_comment(
    sandbox: Sandbox, repo: str, world: World
):
    number = await open_incident(world)

    items = by_class(sandbox, repo)
    assert sorted(items) == ["missed-detection", "repeated-regression", "slow-recovery"]
    assert len(items_of(sandbox, repo)) == 3

    missed = items["missed-detection"]
    assert missed["title"] == f"Harden: pager did not fire for checkout 5xx (from #{number})"
    assert names(missed) == {"hardening", "failure-class:missed-detection", "priority:P1"}
    assert names(items["slow-recovery"]) == {
        "hardening",
        "failure-class:slow-recovery",
        "priority:P0",
    }
    parsed = parse_item(missed["body"])
    assert parsed.problems == ()
    assert parsed.marker is not None and parsed.marker.incident == number
    item = parsed.item
    assert item is not None
    assert item.incident == number
    assert item.proposed_control == "alert rule + routing update"
    assert item.verification_style == "synthetic alert replay"
    assert item.priority == "P1"
    assert item.due == TODAY + timedelta(days=5)
    assert item.adoption_check == TODAY + timedelta(days=11)
    assert item.status == "open"
    assert item.owner is None and item.verifier is None
    markers = [parse_item(i["body"]).marker for i in items_of(sandbox, repo)]
    keys = {m.finding_key for m in markers if m is not None}
    assert None not in markers
    assert len(keys) == 3

    labels = {label["name"]: label for label in sandbox.labels(repo)}
    assert labels["hardening"]["color"] == "0e8a16"
    assert labels["failure-class:slow-recovery"]["color"] == "5319e7"
    assert labels["priority:P0"]["description"].startswith("Priority band")

    [comment] = tracking(sandbox, repo, number)
    body = comment["body"]
    for issue in items_of(sandbox, repo):
        assert f"- [ ] #{issue['number']} · " in body
    assert "`cosmic rays`: a bit flipped in the load balancer" in body
    assert "`missed detection`, `late decision`, `slow recovery`, `repeated regression`" in body
    opened = datetime.fromisoformat(sandbox.issue(repo, number)["created_at"])
    by = (opened + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M UTC")
    assert f"- [ ] 0–24h: incident timeline + evidence packet, by {by}" in body
    assert "**overdue**" not in body


async def test_the_repository_labels_are_listed_once_for_all_new_items(
    sandbox: Sandbox, repo: str, world: World
):
    await open_incident(world)
    assert len(items_of(sandbox, repo)) == 3  # five distinct labels among them
    listed = ("GET", "/repos/octo/repo/labels")
    listings = [c for c in sandbox.calls if (c.method, c.path) == listed]
    # Once for the items; the Hardening ledger, in a delivery of its own, lists them once more
    # when it creates its own label.
    assert len(listings) == 2
    assert any(c.json and c.json.get("name") == "hardening-ledger" for c in sandbox.writes())


async def test_redeliveries_and_concurrent_copies_change_nothing(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain
):
    issue = sandbox.open_issue(repo, title="Outage", body=INCIDENT, labels=("incident",))
    payload = sandbox.issue_event(repo, issue["number"], "opened")
    await deliver("issues", payload, delivery_id="first")
    await drain()
    created = writes(sandbox)
    assert created.count(CREATE) == 3
    sandbox.reset_calls()

    for _ in range(3):
        response = await deliver("issues", payload, delivery_id="first")
        assert response.status == 200
    responses = await asyncio.gather(*(deliver("issues", payload) for _ in range(5)))
    assert [r.status for r in responses] == [202] * 5
    await drain()

    assert writes(sandbox) == []
    assert len(items_of(sandbox, repo)) == 3
    assert len(tracking(sandbox, repo, issue["number"])) == 1


async def test_concurrent_syncs_in_one_process_create_each_item_once(
    sandbox, repo, gh, settings, clock
):
    issue = sandbox.open_issue(repo, title="Outage", body=INCIDENT, labels=("incident",))
    ctx = Context(
        settings=settings, metrics=Metrics(), log=bound_log("test"), bot_login=BOT, clock=clock
    )
    results = await asyncio.gather(
        *(sync_incident(Scope(gh, ctx, "octo", "repo"), dict(issue)) for _ in range(4))
    )
    assert sorted(len(r.created) for r in results) == [0, 0, 0, 3]
    assert len(items_of(sandbox, repo)) == 3
    assert len(tracking(sandbox, repo, issue["number"])) == 1
    assert not items_module._LOCKS.get(asyncio.get_running_loop())  # no lock outlives its users


async def test_adding_a_finding_creates_exactly_one_item_and_edits_the_comment(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    [before] = tracking(sandbox, repo, number)
    sandbox.reset_calls()

    await edit(sandbox, repo, deliver, number, INCIDENT + "- missed detection: no SLO alert\n")
    await drain()

    assert writes(sandbox) == [
        CREATE,
        ("PATCH", f"/repos/octo/repo/issues/comments/{before['id']}"),
    ]
    assert len(items_of(sandbox, repo)) == 4
    new = items_of(sandbox, repo)[-1]
    assert new["title"] == f"Harden: no SLO alert (from #{number})"
    assert names(new) == {"hardening", "failure-class:missed-detection", "priority:P1"}
    [after] = tracking(sandbox, repo, number)
    assert after["id"] == before["id"]
    assert f"#{new['number']} · missed-detection" in after["body"]


async def test_an_edit_that_changes_nothing_writes_nothing(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    sandbox.reset_calls()

    payload = await edit(sandbox, repo, deliver, number, INCIDENT)
    await drain()
    await deliver("issues", payload)  # the same edit again, under a new delivery id
    await drain()

    assert writes(sandbox) == []
    assert sandbox.unknown_calls == []


async def test_a_failure_between_the_items_and_the_comment_creates_no_duplicate(
    sandbox: Sandbox, repo: str, world: World
):
    sandbox.inject("POST", r"^/repos/octo/repo/issues/\d+/comments$", status=500, times=1)
    number = await open_incident(world)

    posts = [c for c in sandbox.calls if c.method == "POST" and not ledger_call(sandbox, c)]
    assert [c.path for c in posts].count("/repos/octo/repo/issues") == 3
    assert [c.status for c in posts if c.path.endswith("/comments")] == [500, 201]
    assert len(items_of(sandbox, repo)) == 3
    [comment] = tracking(sandbox, repo, number)
    for issue in items_of(sandbox, repo):
        assert f"#{issue['number']} · " in comment["body"]


async def test_a_failure_while_creating_items_resumes_where_it_stopped(
    sandbox: Sandbox, repo: str, monkeypatch, world: World
):
    # The first item is created; the second creation fails; the retry creates only the rest.
    # (A 502 leaves it unknown whether the issue was made: it is looked for, briefly here.)
    monkeypatch.setattr(
        items_module, "SETTLE", items_module.Settle(limit=0.2, grace=0.1, poll=0.05)
    )
    fault = sandbox.inject("POST", r"^/repos/octo/repo/issues$", status=None, times=1)
    original = fault.matches
    seen: list[str] = []

    def second_only(method: str, path: str) -> bool:
        if original(method, path):
            seen.append(path)
            return len(seen) == 2
        return False

    fault.matches = second_only  # type: ignore[method-assign]  # this fault picks its request
    fault.status = 502
    number = await open_incident(world)

    creations = [
        c.status
        for c in sandbox.calls
        if (c.method, c.path) == CREATE and not ledger_call(sandbox, c)
    ]
    assert creations == [201, 502, 201, 201]
    assert len(items_of(sandbox, repo)) == 3
    assert len({parse_item(i["body"]).marker for i in items_of(sandbox, repo)}) == 3
    assert len(tracking(sandbox, repo, number)) == 1


async def test_a_timed_out_creation_that_lands_late_is_not_created_again(
    sandbox, repo, make_settings, aiohttp_client, clock
):
    # GitHub answers the first POST /issues after 1.5 s, past the client's 0.5 s timeout, and
    # creates the issue all the same; the delivery must not create that finding's item twice.
    # (Served by sandbox.serve(), which, like GitHub, finishes a request whose client left.)
    async with sandbox.serve() as api_url:
        settings = make_settings(api_url=api_url, github_timeout=0.5)
        client = await aiohttp_client(create_app(settings, clock=clock))
        sandbox.inject("POST", r"^/repos/octo/repo/issues$", status=None, delay=1.5)
        started = time.monotonic()
        number = await open_incident(world_of(client, sandbox, repo))
        # Whatever the bot did, the slow creation has landed before anything is counted.
        await asyncio.sleep(max(0.0, started + 1.8 - time.monotonic()))

    items = items_of(sandbox, repo)
    assert len(items) == 3
    assert len({parse_item(i["body"]).marker.finding_key for i in items}) == 3
    posts = [c.path for c in sandbox.calls if c.method == "POST" and not ledger_call(sandbox, c)]
    assert posts.count(CREATE[1]) == 3
    [comment] = tracking(sandbox, repo, number)
    for issue in items:
        assert f"#{issue['number']} · " in comment["body"]


async def test_an_unknown_outcome_is_looked_for_within_bounds(sandbox, repo, gh, settings):
    # A 502 whose issue was never created: the create path re-lists for the finding's item
    # until GitHub's request limit has passed (clock and sleep injected), then gives up, so the
    # delivery's retry creates it.
    now = [1000.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    ctx = Context(
        settings=settings,
        metrics=Metrics(),
        log=bound_log("test"),
        bot_login=BOT,
        clock=lambda: now[0],
        sleep=sleep,
    )
    issue = sandbox.open_issue(repo, title="Outage", body=INCIDENT, labels=("incident",))
    sandbox.inject("POST", r"^/repos/octo/repo/issues$", status=502)
    with pytest.raises(gidgethub.GitHubBroken):
        await sync_incident(Scope(gh, ctx, "octo", "repo"), dict(issue))
    assert sum(waits) == items_module.SETTLE.limit and len(waits) <= items_module.SETTLE.max_polls
    assert items_of(sandbox, repo) == []

    result = await sync_incident(Scope(gh, ctx, "octo", "repo"), dict(issue))
    assert len(result.created) == 3 and len(items_of(sandbox, repo)) == 3


async def test_a_connection_never_made_is_not_waited_for(sandbox, repo, gh, settings, monkeypatch):
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def refused(*args, **kwargs):
        raise aiohttp.ClientConnectorError(None, OSError(111, "refused"))

    ctx = Context(
        settings=settings, metrics=Metrics(), log=bound_log("test"), bot_login=BOT, sleep=sleep
    )
    issue = sandbox.open_issue(repo, title="Outage", body=INCIDENT, labels=("incident",))
    monkeypatch.setattr(items_module, "_create_item", refused)
    with pytest.raises(aiohttp.ClientConnectorError):
        await sync_incident(Scope(gh, ctx, "octo", "repo"), dict(issue))
    assert waits == []


# --- which issues count -----------------------------------------------------------------------


async def test_an_issue_without_the_incident_label_is_ignored(
    sandbox: Sandbox, repo: str, world: World
):
    await open_incident(world, labels=("bug",))
    assert writes(sandbox) == []
    assert items_of(sandbox, repo) == []


async def test_incident_label_added_later_in_any_case(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world, labels=())
    assert writes(sandbox) == []

    sandbox.add_labels(repo, number, ["Incident"])
    await deliver("issues", sandbox.issue_event(repo, number, "labeled", label="Incident"))
    await drain()

    assert len(items_of(sandbox, repo)) == 3
    assert len(tracking(sandbox, repo, number)) == 1


async def test_severity_raises_the_priority_band_and_shortens_the_due_date(
    sandbox: Sandbox, repo: str, world: World
):
    await open_incident(world, labels=("incident", "SEV-1"))
    items = by_class(sandbox, repo)
    missed = parse_item(items["missed-detection"]["body"]).item
    assert missed is not None and missed.priority == "P0"
    assert missed.due == TODAY + timedelta(days=3)
    assert "priority:P0" in names(items["missed-detection"])
    assert "priority:P0" in names(items["repeated-regression"])


async def test_severity_field_in_the_body(sandbox: Sandbox, repo: str, world: World):
    body = "Severity: sev-2\n\n" + INCIDENT
    await open_incident(world, body=body)
    assert "priority:P0" in names(by_class(sandbox, repo)["repeated-regression"])


# --- the tracking comment stays current -------------------------------------------------------


async def test_a_person_s_hardening_issue_joins_the_backlog(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    # A maintainer fills in the item form: the App adopts the issue (writes its record).
    sandbox.set_permission(repo, "carol", "write")
    human = sandbox.open_issue(
        repo,
        title="Harden: commander checklist",
        body=HUMAN_ITEM.replace("#1", f"#{number}"),
        labels=("hardening",),
        user="carol",
    )
    sandbox.reset_calls()
    await deliver("issues", sandbox.issue_event(repo, human["number"], "opened", sender="carol"))
    await drain()

    [comment] = tracking(sandbox, repo, number)
    done = writes(sandbox)
    assert done[0] == ("PATCH", f"/repos/octo/repo/issues/{human['number']}")
    assert done[-1] == ("PATCH", f"/repos/octo/repo/issues/comments/{comment['id']}")
    assert "<!-- hardening-bot:record " in sandbox.issue(repo, human["number"])["body"]
    line = f"- [ ] #{human['number']} · late-decision · P2 · owner @carol · due 2026-04-01 · open"
    assert line in comment["body"]
    assert "4 hardening items" in comment["body"]

    # The incident edited again: the person's item is not a finding's item, nothing is created.
    sandbox.reset_calls()
    await edit(sandbox, repo, deliver, number, INCIDENT)
    await drain()
    assert writes(sandbox) == []


async def test_an_item_edit_re_renders_the_comment_once(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    missed = by_class(sandbox, repo)["missed-detection"]
    [comment] = tracking(sandbox, repo, number)
    sandbox.reset_calls()

    # A maintainer edits a plain field by hand: taken. The item, from before the App kept
    # records, gets its record once (the body's last line), then the tracking comment follows.
    sandbox.set_permission(repo, "alice", "write")
    body = missed["body"].replace("- Execution owner:", "- Execution owner: @alice")
    payload = await edit(sandbox, repo, deliver, missed["number"], body)
    await drain()
    assert writes(sandbox) == [
        ("PATCH", f"/repos/octo/repo/issues/{missed['number']}"),
        ("PATCH", f"/repos/octo/repo/issues/comments/{comment['id']}"),
    ]
    edited = sandbox.issue(repo, missed["number"])["body"]
    assert "- Execution owner: @alice" in edited and "<!-- hardening-bot:record " in edited
    assert (
        f"#{missed['number']} · missed-detection · P1 · owner @alice"
        in (tracking(sandbox, repo, number)[0]["body"])
    )

    sandbox.reset_calls()
    await deliver("issues", payload)
    # The App's own edit that changed nothing comes back as a webhook too.
    bot_edit = sandbox.issue_event(repo, missed["number"], "edited", sender=BOT)
    await deliver("issues", bot_edit)
    await deliver(
        "issues",
        sandbox.issue_event(repo, missed["number"], "labeled", sender=BOT, label="priority:P1"),
    )
    await drain()
    assert writes(sandbox) == []


async def test_closing_and_verifying_an_item_ticks_it(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    slow = by_class(sandbox, repo)["slow-recovery"]
    body = slow["body"].replace("- Status: open", "- Status: verified")
    sandbox.update_issue(repo, slow["number"], body=body, state="closed")
    await deliver("issues", sandbox.issue_event(repo, slow["number"], "closed"))
    await drain()
    comment = tracking(sandbox, repo, number)[0]["body"]
    assert f"- [x] #{slow['number']} · slow-recovery · P0" in comment
    assert "3 hardening items, 1 verified or retired." in comment
    # A verified item is the 24-72h window's control and regression test.
    assert "- [x] 24–72h" in comment


async def test_a_reworded_finding_gets_a_new_item_and_the_old_one_is_listed(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    old = by_class(sandbox, repo)["slow-recovery"]
    sandbox.reset_calls()

    reworded = INCIDENT.replace("rollback took 35 minutes", "rollback needed a manual step")
    await edit(sandbox, repo, deliver, number, reworded)
    await drain()

    assert [w[0] for w in writes(sandbox)] == ["POST", "PATCH"]
    assert len(items_of(sandbox, repo)) == 4
    assert sandbox.issue(repo, old["number"])["state"] == "open"
    comment = tracking(sandbox, repo, number)[0]["body"]
    orphans = comment.split("#### Orphaned items", 1)[1].split("####", 1)[0]
    assert f"- #{old['number']} {old['title']}" in orphans
    assert f"- [ ] #{old['number']}" not in comment


async def test_a_removed_finding_keeps_its_item_and_lists_it(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    regression = by_class(sandbox, repo)["repeated-regression"]
    sandbox.reset_calls()

    removed = INCIDENT.replace("- repeated-regression: same cache bug as last quarter\n", "")
    await edit(sandbox, repo, deliver, number, removed)
    await drain()

    assert [w[0] for w in writes(sandbox)] == ["PATCH"]
    assert sandbox.issue(repo, regression["number"])["state"] == "open"
    comment = tracking(sandbox, repo, number)[0]["body"]
    assert "#### Orphaned items" in comment
    assert "2 hardening items" in comment

    # Putting the finding back makes the same item its item again: nothing is created.
    sandbox.reset_calls()
    await edit(sandbox, repo, deliver, number, INCIDENT)
    await drain()
    assert [w[0] for w in writes(sandbox)] == ["PATCH"]
    assert "#### Orphaned items" not in tracking(sandbox, repo, number)[0]["body"]


async def test_an_item_that_lost_its_label_is_not_created_again(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    missed = by_class(sandbox, repo)["missed-detection"]
    sandbox.update_issue(repo, missed["number"], labels=["failure-class:missed-detection"])
    await deliver(
        "issues",
        sandbox.issue_event(repo, missed["number"], "unlabeled", label="hardening"),
    )
    await drain()
    sandbox.reset_calls()

    await edit(sandbox, repo, deliver, number, INCIDENT)
    await drain()
    assert not [w for w in writes(sandbox) if w == CREATE]
    # The incident, its three items and the Hardening ledger.
    assert len(sandbox.issues(repo)) == 5


async def test_an_invalid_configuration_is_reported_and_creates_nothing(
    sandbox: Sandbox, repo: str, world: World
):
    sandbox.put_file(repo, ".github/hardening.yml", "mode: loud\n")
    number = await open_incident(world)

    assert items_of(sandbox, repo) == []
    [comment] = tracking(sandbox, repo, number)
    assert "#### Configuration problems" in comment["body"]
    assert ".github/hardening.yml:1: mode:" in comment["body"]
    assert "Findings still waiting for their item:" in comment["body"]


async def test_an_incident_without_findings_is_told_how_to_add_them(
    sandbox: Sandbox, repo: str, world: World
):
    number = await open_incident(world, body="Database failover.")
    [comment] = tracking(sandbox, repo, number)
    assert "No hardening items yet" in comment["body"]
    assert items_of(sandbox, repo) == []


def test_base_is_a_weekday_noon() -> None:
    # The dates above assume the clock starts far from midnight.
    assert BASE.hour == 12 and isinstance(TODAY, date)


async def test_an_item_naming_a_missing_incident_is_no_error(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, bot_app
):
    from bot.web import INBOX

    body = HUMAN_ITEM.replace("#1", "#999")
    sandbox.set_permission(repo, "alice", "write")
    human = sandbox.open_issue(repo, title="Harden: x", body=body, labels=("hardening",))
    await deliver("issues", sandbox.issue_event(repo, human["number"], "opened"))
    await drain()
    # Adopted (its record and labels written), and nothing is written about #999.
    assert all("/999" not in path for _, path in writes(sandbox))
    assert "<!-- hardening-bot:record " in sandbox.issue(repo, human["number"])["body"]
    assert (await bot_app[INBOX].stats()).failed == 0


async def test_a_deleted_item_is_listed_as_waiting_and_recreated_on_the_next_edit(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, world: World
):
    number = await open_incident(world)
    late = by_class(sandbox, repo)["slow-recovery"]
    payload = sandbox.issue_event(repo, late["number"], "deleted")
    sandbox.world.repo(repo).issues.pop(late["number"])
    await deliver("issues", payload)
    await drain()
    comment = tracking(sandbox, repo, number)[0]["body"]
    assert "Findings still waiting for their item:" in comment
    assert "- [ ] `Slow_Recovery`: rollback took 35 minutes" in comment

    await edit(sandbox, repo, deliver, number, INCIDENT)
    await drain()
    assert sorted(by_class(sandbox, repo)) == [
        "missed-detection",
        "repeated-regression",
        "slow-recovery",
    ]
    assert "waiting" not in tracking(sandbox, repo, number)[0]["body"]


# --- who makes an incident ----------------------------------------------------------------------


async def test_an_outsiders_incident_is_answered_once_and_acted_on_by_no_one(
    sandbox: Sandbox, repo: str, world: World
):
    sandbox.add_user("mallory")
    many = "### Findings\n" + "".join(f"- missed detection: thing {i}\n" for i in range(60))
    # The shipped incident form adds the label whoever fills it in.
    issue = sandbox.open_issue(
        repo, title="Outage", body=many, labels=("incident",), user="mallory"
    )
    n = int(issue["number"])
    await world.send("issues", sandbox.issue_event(repo, n, "opened", sender="mallory"))
    assert items_of(sandbox, repo) == []
    assert tracking(sandbox, repo, n) == []
    [note] = [c for c in sandbox.comments(repo, n) if c["user"]["login"] == BOT]
    assert "hardening-bot:incident-access" in note["body"] and "@mallory" in note["body"]
    assert "triage access or more" in note["body"]
    # An edit, a redelivery and a close say nothing twice and hold nothing.
    sandbox.reset_calls()
    await world.send("issues", sandbox.issue_event(repo, n, "opened", sender="mallory"))
    sandbox.update_issue(repo, n, user="mallory", state="closed")
    await world.send("issues", sandbox.issue_event(repo, n, "closed", sender="mallory"))
    assert writes(sandbox) == []
    assert sandbox.issue(repo, n)["state"] == "closed"


async def test_a_triager_re_applying_the_label_makes_it_an_incident(
    sandbox: Sandbox, repo: str, world: World
):
    sandbox.add_user("mallory")
    sandbox.set_permission(repo, "tara", "triage")
    issue = sandbox.open_issue(
        repo, title="Outage", body=INCIDENT, labels=("incident",), user="mallory"
    )
    n = int(issue["number"])
    await world.send("issues", sandbox.issue_event(repo, n, "opened", sender="mallory"))
    assert items_of(sandbox, repo) == []
    sandbox.update_issue(repo, n, user="tara", labels=[])
    sandbox.add_labels(repo, n, ["incident"], user="tara")
    await world.send(
        "issues", sandbox.issue_event(repo, n, "labeled", sender="tara", label="incident")
    )
    assert len(items_of(sandbox, repo)) == 3
    [note] = [c for c in sandbox.comments(repo, n) if "hardening-bot:incident-access" in c["body"]]
    assert "@tara" in note["body"] and "made this issue an incident" in note["body"]
    # Her later edit of a vouched-for incident is acted on: the labeller stays on its timeline.
    await edit(
        sandbox, repo, world.deliver, n, INCIDENT + "- late decision: paged too late\n", "mallory"
    )
    await world.drain()
    assert len(items_of(sandbox, repo)) == 4
