"""bot.handlers.commands through the real endpoint against the sandbox: the authorization table
row by row, lookups that fail, bots and quotes ignored, redeliveries, verify and retire."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import OWNED_ITEM, Deliver, Drain, World, changes, item_of

from bot.github import GitHubApp
from bot.web import create_app
from rules.item_template import render_item
from sandbox import Sandbox
from sandbox.model import Role

BOT = "hardening-bot[bot]"
CONFIG = ".github/hardening.yml"
PERMISSION_PATH = r"/collaborators/[^/]+/permission"
MEMBERSHIP_PATH = r"/orgs/octo/teams/[^/]+/memberships/"
FORBIDDEN = {"message": "Resource not accessible by integration", "status": "403"}

# Enough evidence for the QA gate (scorecard 4/5, rubric 9/10), as a verifier would collect it.
EVIDENCE = [
    "/harden evidence https://ci.example.com/run/1 implementation unit and replay suites green",
    "/harden evidence https://ops.example.com/drill/7 behavioral synthetic alert replay paged "
    "on-call in 40s",
    "/harden evidence https://ops.example.com/rollback/3 rollback took 4m30s",
    "/harden evidence https://grafana.example.com/d/lag monitoring lag alert firing in staging",
    "/harden evidence https://github.com/octo/repo/blob/main/runbooks/queue.md runbook",
]

ROLES: list[Role] = ["read", "triage", "write", "maintain", "admin"]


@pytest.fixture
async def bot_client(aiohttp_client: Any, settings: Any, quick_github: GitHubApp) -> TestClient:
    """The bot, with GitHub retries that do not wait (the sandbox answers at once)."""
    return await aiohttp_client(create_app(settings, github=quick_github))


@pytest.fixture
def people(sandbox: Sandbox, repo: str) -> str:
    """One person per role, a lead by name (lena) and a lead team (@octo/reliability-leads)."""
    for role in ROLES:
        sandbox.set_permission(repo, f"{role}er", role)
    sandbox.add_user("outsider")
    # bob, the verifier owner of OWNED_ITEM, holds write access as a verifier must.
    sandbox.set_permission(repo, "bob", "write")
    sandbox.add_team("octo", "reliability-leads", members=["tess"])
    sandbox.put_file(repo, CONFIG, 'leads: [lena, "@octo/reliability-leads"]\n')
    return repo


def open_item(sandbox: Sandbox, repo: str, **changes: Any) -> int:
    item = dataclasses.replace(OWNED_ITEM, **changes)
    body = f"Context written by a person.\n\n{render_item(item)}\nMore notes below.\n"
    issue = sandbox.open_issue(
        repo,
        title="Alert on queue lag",
        body=body,
        labels=("hardening", "failure-class:missed-detection"),
        user=BOT,
    )
    return int(issue["number"])


async def say(world: World, number: int, body: str, user: str) -> dict[str, Any]:
    """``user`` comments ``body`` on issue ``number``; the bot gets the webhook and works."""
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    comment = sandbox.add_comment(repo, number, body, user=user)
    response = await deliver(
        "issue_comment", sandbox.issue_comment_event(repo, number, comment["id"])
    )
    assert response.status == 202
    await drain()
    return dict(comment)


def reactions(sandbox: Sandbox, comment: dict[str, Any]) -> list[str]:
    return [r["content"] for r in sandbox.reactions(comment["id"]) if r["user"]["login"] == BOT]


def replies(sandbox: Sandbox, repo: str, number: int, comment: dict[str, Any]) -> list[str]:
    mark = f"<!-- hardening-bot:reply comment={comment['id']} -->"
    return [c["body"] for c in sandbox.comments(repo, number) if mark in c["body"]]


def bot_comments(sandbox: Sandbox, repo: str, number: int) -> list[dict[str, Any]]:
    return [c for c in sandbox.comments(repo, number) if c["user"]["login"] == BOT]


# --- the authorization table ------------------------------------------------------------------

# command line -> (who may, the change it makes when allowed)
COMMANDS: dict[str, tuple[str, Any]] = {
    "/harden owner @zed": ("write", lambda i: i.owner == "zed"),
    "/harden verifier @yan": ("write", lambda i: i.verifier == "yan"),
    "/harden due 2027-01-31": ("write", lambda i: i.due == date(2027, 1, 31)),
    "/harden evidence https://ci.example.com/run/9 test": (
        "write",
        lambda i: [e.url for e in i.evidence] == ["https://ci.example.com/run/9"],
    ),
    "/harden ack": ("owner", None),
    "/harden retire duplicates the canary gate": ("lead", None),
    "/harden verify": ("verifier", None),
    "/harden status": ("anyone", None),
    "/harden help": ("anyone", None),
}
WRITE_ROLES = {"write", "maintain", "admin"}


@pytest.mark.parametrize("line", list(COMMANDS))
@pytest.mark.parametrize("role", [*ROLES, None])
async def test_authorization_table_by_role(
    sandbox: Sandbox,
    people: str,
    deliver: Deliver,
    drain: Drain,
    role: str | None,
    line: str,
    world: World,
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    before = item_of(sandbox, repo, n)
    who, effect = COMMANDS[line]
    allowed = who == "anyone" or (who == "write" and role in WRITE_ROLES)
    user = f"{role}er" if role else "outsider"
    comment = await say(world, n, line, user)
    after = item_of(sandbox, repo, n)
    assert reactions(sandbox, comment) == ["eyes", "+1" if allowed else "-1"]
    answers = replies(sandbox, repo, n, comment)
    if allowed:
        if effect is not None:
            assert effect(after) and not answers
        else:
            assert after == before and len(answers) == 1  # status and help answer
    else:
        assert after == before
        [answer] = answers
        assert "Refused:" in answer and "Usage: `/harden " in answer
        assert f"@{user}" in answer
    assert sandbox.issue(repo, n)["state"] == "open"


async def test_a_lead_by_name_retires_an_item_visibly(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    comment = await say(
        world,
        n,
        "/harden retire duplicates the canary gate from #57",
        "lena",
    )
    assert reactions(sandbox, comment) == ["eyes", "+1"]
    issue = sandbox.issue(repo, n)
    assert issue["state"] == "closed" and issue["state_reason"] == "not_planned"
    item = item_of(sandbox, repo, n)
    assert item.status == "retired"
    assert item.retired_rationale == "duplicates the canary gate from #57"
    assert "Context written by a person." in issue["body"] and "More notes below." in issue["body"]
    [note] = [
        c
        for c in bot_comments(sandbox, repo, n)
        if "<!-- hardening-bot:retirement -->" in c["body"]
    ]
    assert "duplicates the canary gate from #57" in note["body"] and "@lena" in note["body"]
    assert comment["html_url"] in note["body"]
    # The bot's own close comes back as a webhook and changes nothing.
    sandbox.reset_calls()
    for event, payload in list(sandbox.emitted):
        await deliver(event, payload)
    await drain()
    assert changes(sandbox) == []
    assert sandbox.issue(repo, n)["state"] == "closed"


async def test_a_lead_through_a_team_retires(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    # tess is no collaborator at all: membership of the lead team is what counts.
    comment = await say(world, n, "/harden retire superseded", "tess")
    assert reactions(sandbox, comment) == ["eyes", "+1"]
    assert item_of(sandbox, repo, n).status == "retired"


@pytest.mark.parametrize(
    ("team_role", "direct_role", "allowed"),
    [
        ("write", None, True),  # write only through a team: allowed
        ("maintain", "read", True),  # the team's grant is higher than the direct one
        ("triage", None, False),  # triage is not write, whatever grants it
        ("read", "write", True),  # a lower team grant does not lower a direct one
    ],
)
async def test_team_granted_access_counts_like_direct_access(
    sandbox: Sandbox,
    people: str,
    deliver: Deliver,
    drain: Drain,
    team_role: Role,
    direct_role: Role | None,
    allowed: bool,
    world: World,
) -> None:
    repo = people
    sandbox.add_team("octo", "payments", members=["pat"])
    sandbox.grant_team(repo, "octo", "payments", team_role)
    if direct_role:
        sandbox.set_permission(repo, "pat", direct_role)
    n = open_item(sandbox, repo)
    comment = await say(world, n, "/harden owner @zed", "pat")
    assert reactions(sandbox, comment) == ["eyes", "+1" if allowed else "-1"]
    assert (item_of(sandbox, repo, n).owner == "zed") is allowed


async def test_a_lead_may_verify_but_not_their_own_item(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    comment = await say(world, n, "/harden verify", "lena")
    # Allowed, but the QA gate does not pass: a -1 and the list of what fails.
    [answer] = replies(sandbox, repo, n, comment)
    assert "QA gate does not pass" in answer and "Refused" not in answer
    mine = open_item(sandbox, repo, owner="lena", verifier="bob")
    comment = await say(world, mine, "/harden verify", "lena")
    [answer] = replies(sandbox, repo, mine, comment)
    assert "Refused:" in answer and "execution owner" in answer
    assert reactions(sandbox, comment) == ["eyes", "-1"]


async def test_the_execution_owner_adds_evidence_and_acks_but_never_verifies(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    sandbox.set_permission(repo, "carol", "admin")  # even an admin owner
    n = open_item(sandbox, repo)
    comment = await say(
        world,
        n,
        "/harden evidence https://ci.example.com/run/1 implementation\n/harden ack",
        "carol",
    )
    assert reactions(sandbox, comment) == ["eyes", "+1"]
    item = item_of(sandbox, repo, n)
    assert item.acknowledged_by == ("carol",) and item.status == "in_progress"
    assert [e.kind for e in item.evidence] == ["implementation"]
    comment = await say(world, n, "/harden verify", "carol")
    assert reactions(sandbox, comment) == ["eyes", "-1"]
    [answer] = replies(sandbox, repo, n, comment)
    assert "cannot verify their own item" in answer
    assert item_of(sandbox, repo, n).status == "in_progress"


async def test_the_owner_without_a_role_may_add_evidence(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)  # carol is no collaborator
    comment = await say(world, n, "/harden evidence https://ci.example.com/run/2", "carol")
    assert reactions(sandbox, comment) == ["eyes", "+1"]
    assert [e.url for e in item_of(sandbox, repo, n).evidence] == ["https://ci.example.com/run/2"]


async def test_the_verifier_must_differ_from_the_owner(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    comment = await say(world, n, "/harden verifier @carol", "writeer")
    [answer] = replies(sandbox, repo, n, comment)
    assert "@carol is the execution owner" in answer and "Usage: `/harden verifier" in answer
    comment = await say(world, n, "/harden owner @Bob", "writeer")
    [answer] = replies(sandbox, repo, n, comment)
    assert "is the verifier owner" in answer
    assert (item_of(sandbox, repo, n).owner, item_of(sandbox, repo, n).verifier) == ("carol", "bob")


# --- lookups that fail ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body"), [(503, None), (502, None), (403, FORBIDDEN)])
async def test_a_failed_permission_lookup_is_answered_as_an_error(
    sandbox: Sandbox,
    people: str,
    deliver: Deliver,
    drain: Drain,
    status: int,
    body: Any,
    world: World,
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    before = sandbox.issue(repo, n)["body"]
    sandbox.inject("GET", PERMISSION_PATH, status=status, times=None, body=body)
    comment = await say(world, n, "/harden owner @zed", "adminer")
    assert reactions(sandbox, comment) == ["eyes", "-1"]
    [answer] = replies(sandbox, repo, n, comment)
    assert "Could not check your permission" in answer and str(status) in answer
    assert "Refused" not in answer and "try again" in answer.lower()
    assert sandbox.issue(repo, n)["body"] == before


async def test_a_failed_team_lookup_is_answered_as_an_error(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    sandbox.inject("GET", MEMBERSHIP_PATH, status=503, times=None)
    comment = await say(world, n, "/harden retire superseded", "tess")
    [answer] = replies(sandbox, repo, n, comment)
    assert "Could not check your permission" in answer
    assert item_of(sandbox, repo, n).status == "open"
    # The verifier never waits on a team lookup.
    comment = await say(world, n, "/harden verify", "bob")
    [answer] = replies(sandbox, repo, n, comment)
    assert "Could not check" not in answer and "QA gate does not pass" in answer


# --- what is ignored --------------------------------------------------------------------------


@pytest.mark.parametrize("author", [BOT, "other-ci[bot]", "renovate"])
async def test_comments_by_bots_are_ignored(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, author: str, world: World
) -> None:
    repo = people
    sandbox.add_user(author, type="Bot")
    sandbox.set_permission(repo, author, "admin")
    n = open_item(sandbox, repo)
    sandbox.reset_calls()
    comment = await say(world, n, "/harden owner @zed\n/harden help", author)
    assert changes(sandbox) == [] and reactions(sandbox, comment) == []
    assert item_of(sandbox, repo, n).owner == "carol"


async def test_commands_in_code_blocks_and_quotes_are_ignored(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    sandbox.reset_calls()
    body = (
        "To set the owner, write:\n```\n/harden owner @zed\n```\n"
        "> /harden due 2030-01-01\n\n<!-- /harden retire no -->\n    ~~~\n/harden ack\n~~~\n"
    )
    comment = await say(world, n, body, "adminer")
    assert changes(sandbox) == [] and reactions(sandbox, comment) == []


async def test_an_edited_comment_does_not_run_again(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    comment = sandbox.add_comment(repo, n, "thanks", user="adminer")
    sandbox.edit_comment(repo, comment["id"], "/harden owner @zed", user="adminer")
    sandbox.reset_calls()
    await deliver("issue_comment", sandbox.issue_comment_event(repo, n, comment["id"], "edited"))
    await drain()
    assert changes(sandbox) == [] and item_of(sandbox, repo, n).owner == "carol"


async def test_other_issues_only_answer_help(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    issue = sandbox.open_issue(repo, title="Typo in README", body="teh", labels=("bug",))
    n = issue["number"]
    sandbox.reset_calls()
    comment = await say(world, n, "/harden owner @zed", "adminer")
    assert changes(sandbox) == [] and reactions(sandbox, comment) == []
    comment = await say(world, n, "/harden help", "outsider")
    [answer] = replies(sandbox, repo, n, comment)
    assert "/harden verify" in answer and "/harden retire RATIONALE" in answer
    assert reactions(sandbox, comment) == ["eyes", "+1"]


async def test_a_malformed_command_gets_reason_and_usage(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    comment = await say(
        world,
        n,
        "/harden due next friday\n/harden verfy\n/harden owner @zed",
        "adminer",
    )
    [answer] = replies(sandbox, repo, n, comment)
    assert "is not a date written YYYY-MM-DD" in answer
    assert "Usage: `/harden due YYYY-MM-DD`" in answer
    assert "did you mean `/harden verify`" in answer
    assert reactions(sandbox, comment) == ["eyes", "-1"]
    assert item_of(sandbox, repo, n).owner == "zed"  # the good line still ran


async def test_a_later_due_date_moves_the_adoption_check_after_it(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo, adoption_check=date(2026, 12, 8))
    comment = await say(world, n, "/harden due 2026-12-20", "writeer")
    assert reactions(sandbox, comment) == ["eyes", "+1"]
    item = item_of(sandbox, repo, n)
    assert (item.due, item.adoption_check) == (date(2026, 12, 20), date(2026, 12, 23))
    [answer] = replies(sandbox, repo, n, comment)
    assert "moved from 2026-12-08 to 2026-12-23, 3 days after the new due date" in answer


async def test_a_due_or_revisit_date_beyond_five_years_is_refused_and_nothing_fails(
    sandbox: Sandbox, people: str, world: World
) -> None:
    from bot.web import INBOX

    repo = people
    n = open_item(sandbox, repo, adoption_check=date(2026, 12, 15))
    before = item_of(sandbox, repo, n)
    comment = await say(world, n, "/harden due 9999-12-30", "writeer")
    [answer] = replies(sandbox, repo, n, comment)
    assert "more than 5 years ahead" in answer and "Usage: `/harden due YYYY-MM-DD`" in answer
    assert reactions(sandbox, comment) == ["eyes", "-1"]
    defer = "/harden defer 9999-12-31 vendor first; risk if delayed: silent outage"
    comment = await say(world, n, defer, "writeer")
    [answer] = replies(sandbox, repo, n, comment)
    assert "more than 5 years ahead" in answer
    assert item_of(sandbox, repo, n) == before
    assert (await world.app[INBOX].stats()).failed == 0


# --- redelivery -------------------------------------------------------------------------------


async def test_a_redelivered_comment_changes_nothing_twice(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    comment = sandbox.add_comment(
        repo,
        n,
        "/harden evidence https://ci.example.com/run/5 test\n/harden owner @carol\n/harden ack",
        user="writeer",
    )
    payload = sandbox.issue_comment_event(repo, n, comment["id"])
    assert (await deliver("issue_comment", payload, delivery_id="d-1")).status == 202
    await drain()
    [first] = replies(sandbox, repo, n, comment)  # ack is the owner's: refused
    sandbox.reset_calls()
    # The same delivery again: the inbox knows it.
    assert (await deliver("issue_comment", payload, delivery_id="d-1")).status == 200
    await drain()
    assert changes(sandbox) == []
    # A new delivery of the same comment (a manual redelivery): nothing applies twice, and the
    # reply is edited in place (here: left as it is), never posted again.
    assert (await deliver("issue_comment", payload, delivery_id="d-2")).status == 202
    await drain()
    assert [e.url for e in item_of(sandbox, repo, n).evidence] == ["https://ci.example.com/run/5"]
    assert replies(sandbox, repo, n, comment) == [first]
    assert [c.method for c in changes(sandbox)] == ["POST", "POST"]  # the two reactions (200)
    assert reactions(sandbox, comment) == ["eyes", "-1"]


async def test_evidence_is_never_listed_twice(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    await say(world, n, "/harden evidence https://x.example.com/r/1", "writeer")
    comment = await say(
        world,
        n,
        "/harden evidence https://x.example.com/r/1/ rollback took 90s",
        "writeer",
    )
    assert reactions(sandbox, comment) == ["eyes", "+1"]
    [evidence] = item_of(sandbox, repo, n).evidence
    assert (evidence.kind, evidence.duration_seconds) == ("rollback", 90)


# --- verify, status and the bundles -----------------------------------------------------------


async def test_status_shows_scores_and_what_is_missing(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    comment = await say(world, n, "/harden status", "outsider")
    [answer] = replies(sandbox, repo, n, comment)
    assert "Scorecard 1/5" in answer and "Rubric" in answer and "Adoption" in answer
    assert "root-cause class now test-covered" in answer
    assert "at least one evidence link" in answer and "/harden evidence URL" in answer
    assert "`/harden verify`" in answer


async def test_verify_fails_then_passes_closes_and_posts_the_bundles(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident = sandbox.open_issue(
        repo,
        title="Queue outage",
        body="The consumer stalled for an hour and nobody was paged.\n\n## Findings\n"
        "- missed detection: no alert on queue lag\n",
        labels=("incident",),
    )
    m = incident["number"]
    n = open_item(sandbox, repo, incident=m)
    comment = await say(world, n, "/harden verify", "bob")
    assert reactions(sandbox, comment) == ["eyes", "-1"]
    [answer] = replies(sandbox, repo, n, comment)
    assert "implementation evidence" in answer and "/harden evidence URL implementation" in answer
    assert item_of(sandbox, repo, n).status == "in_progress"

    await say(world, n, "\n".join(EVIDENCE), "writeer")
    await say(world, n, "/harden ack", "carol")
    sandbox.reset_calls()
    comment = await say(world, n, "/harden verify", "bob")
    assert reactions(sandbox, comment) == ["eyes", "+1"]
    assert replies(sandbox, repo, n, comment) == []
    issue = sandbox.issue(repo, n)
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    item = item_of(sandbox, repo, n)
    assert item.status == "verified" and item.verified_by == "bob"
    assert item.verified_link == comment["html_url"] and item.verified_at is not None
    [bundle] = [
        c for c in bot_comments(sandbox, repo, n) if "<!-- hardening-bot:bundle -->" in c["body"]
    ]
    assert f"#{m} Queue outage" in bundle["body"]
    assert "https://ci.example.com/run/1" in bundle["body"]
    # It was the incident's only item: the incident's bundle, with its summary.
    [incident_bundle] = [
        c
        for c in bot_comments(sandbox, repo, m)
        if "<!-- hardening-bot:incident-bundle -->" in c["body"]
    ]
    assert "The consumer stalled for an hour" in incident_bundle["body"]
    # Verifying again (or a redelivery) changes nothing and posts nothing new.
    sandbox.reset_calls()
    again = await say(world, n, "/harden verify", "bob")
    assert reactions(sandbox, again) == ["eyes", "+1"]
    reacted = f"/repos/octo/repo/issues/comments/{again['id']}/reactions"
    assert [c.path for c in changes(sandbox)] == [reacted, reacted]


async def test_the_incident_bundle_waits_for_every_item(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    incident = sandbox.open_issue(repo, title="Queue outage", body="Lag.", labels=("incident",))
    m = incident["number"]
    first = open_item(sandbox, repo, incident=m)
    second = open_item(sandbox, repo, incident=m)
    await say(world, first, "/harden retire superseded", "lena")
    assert not [c for c in bot_comments(sandbox, repo, m) if "incident-bundle" in c["body"]]
    await say(world, second, "/harden retire superseded too", "lena")
    [bundle] = [c for c in bot_comments(sandbox, repo, m) if "incident-bundle" in c["body"]]
    assert f"#{first}" in bundle["body"] and f"#{second}" in bundle["body"]


# --- odd places -------------------------------------------------------------------------------


async def test_a_hardening_issue_without_the_template_says_what_is_missing(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    issue = sandbox.open_issue(repo, title="Later", body="to do", labels=("hardening",))
    n = issue["number"]
    comment = await say(world, n, "/harden owner @zed", "adminer")
    [answer] = replies(sandbox, repo, n, comment)
    assert "no `### Hardening Item` block" in answer
    assert reactions(sandbox, comment) == ["eyes", "-1"]
    assert sandbox.issue(repo, n)["body"] == "to do"


async def test_comments_on_pull_requests_are_ignored(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    pull = sandbox.open_pull(repo, title="Fix", body="Hardens #1", labels=("hardening",))
    sandbox.reset_calls()
    comment = await say(world, pull["number"], "/harden help", "adminer")
    assert changes(sandbox) == [] and reactions(sandbox, comment) == []


async def test_an_invalid_config_is_reported_once_and_commands_still_run(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    sandbox.put_file(repo, CONFIG, "leads: [lena\nmode: sometimes\n")
    n = open_item(sandbox, repo)
    for line in ("/harden owner @zed", "/harden due 2027-02-01"):
        comment = await say(world, n, line, "writeer")
        assert reactions(sandbox, comment) == ["eyes", "+1"]
    [report] = [
        c
        for c in bot_comments(sandbox, repo, n)
        if "<!-- hardening-bot:config-errors -->" in c["body"]
    ]
    assert ".github/hardening.yml" in report["body"]
    item = item_of(sandbox, repo, n)
    assert (item.owner, item.due) == ("zed", date(2027, 2, 1))


async def test_retiring_a_held_item_resolves_its_gate_comment(
    sandbox: Sandbox, people: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = people
    n = open_item(sandbox, repo)
    sandbox.update_issue(repo, n, user="dave", state="closed")
    await deliver("issues", sandbox.issue_event(repo, n, "closed", sender="dave"))
    await drain()
    [held] = [c for c in bot_comments(sandbox, repo, n) if "closure-gate -->" in c["body"]]
    assert "Reopened" in held["body"]
    await say(world, n, "/harden evidence https://x.example.com/r/1\n", "writeer")
    await say(world, n, "/harden retire superseded by #9", "lena")
    [resolved] = [c for c in bot_comments(sandbox, repo, n) if "closure-gate -->" in c["body"]]
    assert resolved["id"] == held["id"]
    assert "Resolved: retired by @lena" in resolved["body"] and "Missing" not in resolved["body"]
    assert sandbox.issue(repo, n)["state"] == "closed"
