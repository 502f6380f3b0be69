"""Forging a gate, tried as an attacker would: through the real webhook endpoint, against the
sandbox, with the roles GitHub would give each person. Every attempt must end with the item open
and not verified, and say why (docs/commands.md, "Who may change what")."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from conftest import (
    BOT,
    OWNED_ITEM,
    WEBHOOK_SECRET,
    Deliver,
    Drain,
    World,
    handler_api,
    item_of,
    open_app_item,
    world_of,
)

from bot.github import GitHubApp
from bot.item_issues import get_item
from bot.records import key_from_secret
from bot.scope import Scope
from bot.settings import Settings
from bot.web import create_app
from rules.item_template import parse_item, render_item
from rules.model import Evidence
from rules.record import subject_of, unseal
from sandbox import Sandbox
from sandbox.model import Role

READY = dataclasses.replace(
    OWNED_ITEM,
    evidence=(Evidence("https://ci.example.com/run/1", "implementation"),),
)
SELF_MADE = """\
### Hardening Item
- Incident reference: #1
- Failure class: missed-detection
- Proposed control: alert rule + routing update
- Priority band: P1
- Execution owner: @mallory-friend
- Verifier owner: @mallory
- Due date: 2026-12-01
- Evidence link(s):
  - https://ci.example.com/1 (implementation: green)
  - https://ops.example.com/2 (behavioral: drill paged in 40s)
  - https://ops.example.com/3 (rollback, timed 4m: rehearsed)
  - https://grafana.example.com/4 (monitoring: p95 42m -> 18m)
  - https://github.com/octo/repo/blob/main/runbooks/x.md (runbook)
  - https://ci.example.com/5 (test)
- Adoption check date: 2026-12-15
- Status: verified
- Runbook acknowledged by: @mallory-friend
- Verified by: @mallory
"""


@pytest.fixture
async def bot_client(aiohttp_client: Any, settings: Any, quick_github: GitHubApp) -> TestClient:
    return await aiohttp_client(create_app(settings, github=quick_github))


@pytest.fixture
def roles(sandbox: Sandbox, repo: str) -> str:
    """carol executes (write), bob verifies (write), dave writes, rita reads, lena leads."""
    who: tuple[tuple[str, Role], ...] = (
        ("carol", "write"),
        ("bob", "write"),
        ("dave", "write"),
        ("rita", "read"),
    )
    for login, role in who:
        sandbox.set_permission(repo, login, role)
    sandbox.add_user("mallory")
    sandbox.put_file(repo, ".github/hardening.yml", "leads: [lena]\n")
    return repo


async def say(world: World, n: int, body: str, user: str):
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    comment = sandbox.add_comment(repo, n, body, user=user)
    assert (
        await deliver("issue_comment", sandbox.issue_comment_event(repo, n, comment["id"]))
    ).status == 202
    await drain()
    return comment


async def edit(world: World, n: int, body: str, user: str):
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    payload = sandbox.edit_issue(repo, n, body=body, user=user)
    assert (await deliver("issues", payload)).status == 202
    await drain()


async def close(world: World, n: int, user: str) -> None:
    sandbox, repo, deliver, drain = world.sandbox, world.repo, world.deliver, world.drain
    sandbox.update_issue(repo, n, user=user, state="closed")
    assert (await deliver("issues", sandbox.issue_event(repo, n, "closed", sender=user))).status
    await drain()


def bot_comments(sandbox: Sandbox, repo: str, n: int, name: str) -> list[str]:
    mark = f"<!-- hardening-bot:{name}"
    return [
        c["body"]
        for c in sandbox.comments(repo, n)
        if c["user"]["login"] == BOT and c["body"].startswith(mark)
    ]


def reply_to(sandbox: Sandbox, repo: str, n: int, comment: dict[str, Any]) -> str:
    [body] = bot_comments(sandbox, repo, n, f"reply comment={comment['id']} ")
    return body


# --- an outsider's self-made item ---------------------------------------------------------------


async def test_an_outsiders_self_made_verified_item_is_no_item(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    # The shipped item form adds the hardening label whoever fills it in.
    issue = sandbox.open_issue(
        repo, title="Harden: pager", body=SELF_MADE, labels=("hardening",), user="mallory"
    )
    n = int(issue["number"])
    await deliver("issues", sandbox.issue_event(repo, n, "opened", sender="mallory"))
    await drain()
    [hint] = bot_comments(sandbox, repo, n, "adoption")
    assert "/harden adopt" in hint and "@mallory" in hint
    assert sandbox.issue(repo, n)["body"] == SELF_MADE  # nothing else happened

    comment = await say(world, n, "/harden verify", "mallory")
    assert "not a hardening item yet" in reply_to(sandbox, repo, n, comment)
    assert sandbox.issue(repo, n)["state"] == "open"
    assert bot_comments(sandbox, repo, n, "bundle") == []
    # A redelivered open says nothing twice.
    await deliver("issues", sandbox.issue_event(repo, n, "opened", sender="mallory"))
    await drain()
    assert len(bot_comments(sandbox, repo, n, "adoption")) == 1


async def test_the_api_drops_an_outsiders_labels_and_adoption_takes_no_typed_gate_fact(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    # Through the API an outsider cannot even set the label (GitHub drops it silently).
    api = sandbox.open_issue(repo, title="x", body=SELF_MADE, labels=("hardening",), via="api")
    assert sandbox.issue(repo, api["number"])["labels"] == []

    issue = sandbox.open_issue(
        repo, title="Harden: pager", body=SELF_MADE, labels=("hardening",), user="mallory"
    )
    n = int(issue["number"])
    await deliver("issues", sandbox.issue_event(repo, n, "opened", sender="mallory"))
    await drain()
    refused = await say(world, n, "/harden adopt", "rita")
    assert "write access or more, or a lead" in reply_to(sandbox, repo, n, refused)
    adopted = await say(world, n, "/harden adopt", "dave")
    assert "hardening item now" in reply_to(sandbox, repo, n, adopted)
    item = item_of(sandbox, repo, n)
    assert item.status == "open" and item.evidence == () and item.verified_by is None
    assert item.acknowledged_by == () and item.owner == "mallory-friend"
    [note] = bot_comments(sandbox, repo, n, "adoption")
    assert "Adopted by @dave" in note
    # And mallory, named verifier but without write access, still cannot verify it.
    verify = await say(world, n, "/harden verify", "mallory")
    answer = reply_to(sandbox, repo, n, verify)
    assert "@mallory is the verifier owner but is not a collaborator" in answer
    assert sandbox.issue(repo, n)["state"] == "open"


async def test_a_maintainers_issue_form_is_adopted_at_once(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain
) -> None:
    repo = roles
    body = SELF_MADE.replace("@mallory-friend", "@carol").replace("@mallory", "@bob")
    issue = sandbox.open_issue(repo, title="Harden: pager", body=body, labels=("hardening",),
                               user="dave")  # fmt: skip
    n = int(issue["number"])
    await deliver("issues", sandbox.issue_event(repo, n, "opened", sender="dave"))
    await drain()
    item = item_of(sandbox, repo, n)
    # The evidence dave typed is his to record; the status and signoff he typed are not.
    assert item.status == "in_progress" and len(item.evidence) == 6
    assert item.verified_by is None and item.acknowledged_by == ()
    assert bot_comments(sandbox, repo, n, "adoption") == []


# --- a hand-typed `verified` or `retired` ---------------------------------------------------------


async def test_the_execution_owner_types_verified_and_closes(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, READY)
    body = sandbox.issue(repo, n)["body"].replace("- Status: in_progress", "- Status: verified")
    body = body.replace("- Status: open", "- Status: verified")
    body = body.replace("- Adoption check date:", "- Verified by: @bob\n- Adoption check date:")
    await edit(world, n, body, "carol")
    await close(world, n, "carol")

    issue = sandbox.issue(repo, n)
    assert issue["state"] == "open"
    assert item_of(sandbox, repo, n).status != "verified"
    assert "Verified by" not in issue["body"]
    [undone] = bot_comments(sandbox, repo, n, "hand-edit")
    assert "**Status** changes only through `/harden verify`" in undone
    [gate] = bot_comments(sandbox, repo, n, "closure-gate")
    assert "/harden verify" in gate


async def test_a_writer_types_retired_with_a_rationale(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, READY)
    body = sandbox.issue(repo, n)["body"].replace("- Status: open", "- Status: retired")
    body += "\n- Retirement rationale: not worth it\n"
    # Written inside the block, so the template reads it.
    body = body.replace(
        "- Adoption check date:", "- Retirement rationale: not worth it\n- Adoption check date:"
    )
    await edit(world, n, body, "dave")
    await close(world, n, "dave")
    assert sandbox.issue(repo, n)["state"] == "open"
    assert item_of(sandbox, repo, n).status == "open"
    [undone] = bot_comments(sandbox, repo, n, "hand-edit")
    assert "`/harden retire RATIONALE` (by a lead)" in undone


async def test_removing_or_replacing_the_record_restores_it(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, READY)
    other = open_app_item(
        sandbox, repo, dataclasses.replace(READY, status="retired", retired_rationale="dup")
    )
    original = sandbox.issue(repo, n)["body"]
    # dave pastes the retired item's (validly signed) record over this one's and types retired.
    stolen = sandbox.issue(repo, other)["body"].rstrip("\n").rsplit("\n", 1)[1]
    forged = original.rstrip("\n").rsplit("\n", 1)[0] + "\n" + stolen + "\n"
    forged = forged.replace("- Status: open", "- Status: retired")
    await edit(world, n, forged, "dave")
    assert parse_item(sandbox.issue(repo, n)["body"]).item == parse_item(original).item
    assert "<!-- hardening-bot:record " in sandbox.issue(repo, n)["body"]

    # The record line deleted altogether and status typed on an item the App never read (it
    # holds no copy): put back from the previous body GitHub sends with the edit.
    third = open_app_item(sandbox, repo, READY)
    body = sandbox.issue(repo, third)["body"]
    bare = body.rstrip("\n").rsplit("\n", 1)[0].replace("- Status: open", "- Status: verified")
    await edit(world, third, bare, "dave")
    await close(world, third, "dave")
    assert sandbox.issue(repo, third)["state"] == "open"
    assert item_of(sandbox, repo, third).status == "open"
    assert "<!-- hardening-bot:record " in sandbox.issue(repo, third)["body"]


async def test_an_adopted_item_blanked_by_its_author_is_still_an_item(
    sandbox: Sandbox, roles: str, world: World
) -> None:
    """Deleting the template does not make an item a plain issue: the App's record says it is
    one, so the template comes back and the close is judged."""
    repo = roles
    issue = sandbox.open_issue(
        repo, title="Harden: pager", body=render_item(READY), labels=("hardening",), user="mallory"
    )
    n = int(issue["number"])
    await say(world, n, "/harden adopt", "dave")
    await edit(world, n, "never mind", "mallory")  # no role: but her own issue
    item = item_of(sandbox, repo, n)
    assert item.owner == "carol" and item.status == "open"
    assert "never mind" in sandbox.issue(repo, n)["body"]
    [undone] = bot_comments(sandbox, repo, n, "hand-edit")
    assert "removed the Hardening Item template" in undone
    await close(world, n, "mallory")
    assert sandbox.issue(repo, n)["state"] == "open"
    [gate] = bot_comments(sandbox, repo, n, "closure-gate")
    assert "@mallory closed this issue" in gate


async def test_an_app_item_blanked_by_a_writer_keeps_its_template_and_its_gate(
    sandbox: Sandbox, roles: str, world: World
) -> None:
    repo = roles
    n = open_app_item(
        sandbox, repo, READY, before="<!-- hardening-bot:item incident=4 finding=ab -->\n"
    )
    marker = parse_item(sandbox.issue(repo, n)["body"]).marker
    await edit(world, n, "done, see chat", "dave")
    body = sandbox.issue(repo, n)["body"]
    assert "done, see chat" in body and "<!-- hardening-bot:record " in body
    assert item_of(sandbox, repo, n) == parse_item(render_item(READY)).item
    assert marker is not None and parse_item(body).marker == marker  # still its finding's item
    [undone] = bot_comments(sandbox, repo, n, "hand-edit")
    assert "`/harden retire RATIONALE`" in undone
    await close(world, n, "dave")
    assert sandbox.issue(repo, n)["state"] == "open"
    [gate] = bot_comments(sandbox, repo, n, "closure-gate")
    assert "/harden verify" in gate


async def test_an_item_blanked_while_no_edit_was_delivered_is_still_judged(
    sandbox: Sandbox, roles: str, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, READY)
    sandbox.edit_issue(repo, n, body="done", user="dave")  # its delivery never arrives
    await close(world, n, "dave")
    assert sandbox.issue(repo, n)["state"] == "open"
    assert len(bot_comments(sandbox, repo, n, "closure-gate")) == 1


async def test_the_apps_writes_bind_the_record_to_the_repository_id(
    sandbox: Sandbox, roles: str, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, READY)
    body = sandbox.issue(repo, n)["body"]
    await edit(world, n, body.replace("alert rule", "alert rules"), "dave")
    repository = sandbox.world.repo(repo).id
    key = key_from_secret(WEBHOOK_SECRET)
    # Read as the repository will be named after a rename: the id keeps it the issue's record.
    renamed = subject_of("octo", "renamed", n)
    reading = unseal(sandbox.issue(repo, n)["body"], key, renamed, repository)
    assert reading.record is not None and reading.record.repository == repository
    assert unseal(sandbox.issue(repo, n)["body"], key, renamed).record is None


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_record_removed_while_the_app_was_down_is_put_back_after_a_restart(
    request: pytest.FixtureRequest,
    sandbox: Sandbox,
    roles: str,
    settings: Settings,
    make_settings: Any,
    aiohttp_client: Any,
    backend: str,
) -> None:
    """The App's last known copy outlives the process: a fresh App on the same database (a
    restart, or another replica) puts back a record removed while no process was looking."""
    repo = roles
    overrides: dict[str, Any] = {"api_url": settings.api_url}
    if backend == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    shared = make_settings(**overrides)
    n = open_app_item(sandbox, repo, READY)

    async def started() -> tuple[Any, World]:
        client = await aiohttp_client(create_app(shared))
        return client, world_of(client, sandbox, repo)

    first, world = await started()
    # dave (write) edits a plain field: taken, and the App writes the item, so it holds a copy.
    body = sandbox.issue(repo, n)["body"]
    await edit(world, n, body.replace("alert rule", "alert rules"), "dave")
    assert "alert rules" in sandbox.issue(repo, n)["body"]
    await first.close()

    # While no process runs (its delivery never arrives): the record line removed, the gate
    # fields typed.
    body = sandbox.issue(repo, n)["body"]
    forged = body.rstrip("\n").rsplit("\n", 1)[0].replace("- Status: open", "- Status: verified")
    forged = forged.replace("- Adoption check date:", "- Verified by: @bob\n- Adoption check date:")
    sandbox.edit_issue(repo, n, body=forged, user="dave")
    assert item_of(sandbox, repo, n).status == "verified"

    # A fresh App on the same database; dave edits again, so the previous body holds no record.
    second, world = await started()
    await edit(world, n, forged + "\n", "dave")
    assert item_of(sandbox, repo, n).status == "open"
    assert "<!-- hardening-bot:record " in sandbox.issue(repo, n)["body"]
    await close(world, n, "dave")
    await world.drain()
    assert sandbox.issue(repo, n)["state"] == "open"
    await second.close()


async def test_plain_fields_are_taken_from_writers_and_put_back_for_others(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    issue = sandbox.open_issue(
        repo, title="Harden: pager", body=render_item(READY), labels=("hardening",), user="mallory"
    )
    n = int(issue["number"])
    await say(world, n, "/harden adopt", "dave")
    # The author (no write access) may edit the body on GitHub, but not the item's owners.
    body = sandbox.issue(repo, n)["body"].replace("@carol", "@mallory")
    await edit(world, n, body, "mallory")
    assert item_of(sandbox, repo, n).owner == "carol"
    [undone] = bot_comments(sandbox, repo, n, "hand-edit")
    assert "**Execution owner** is changed only by people with write access" in undone
    # A writer's edit of a plain field is taken, with no comment about it.
    body = sandbox.issue(repo, n)["body"].replace("2026-12-01", "2026-12-08")
    await edit(world, n, body, "dave")
    assert item_of(sandbox, repo, n).due == date(2026, 12, 8)
    [same] = bot_comments(sandbox, repo, n, "hand-edit")
    assert same == undone
    # The App's own edits do not loop: replaying every webhook its writes caused changes nothing.
    sandbox.reset_calls()
    for event, payload in list(sandbox.emitted):
        await deliver(event, payload)
    await drain()
    assert [c for c in sandbox.writes() if not c.path.endswith("/access_tokens")] == []


# --- authorization ------------------------------------------------------------------------------


async def test_a_read_only_named_verifier_is_refused_with_the_reason(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, dataclasses.replace(READY, verifier="rita"))
    comment = await say(world, n, "/harden verify", "rita")
    answer = reply_to(sandbox, repo, n, comment)
    assert "@rita is the verifier owner but has read access" in answer
    assert "write access or more, or a lead" in answer
    assert sandbox.issue(repo, n)["state"] == "open"


# --- hidden markers -----------------------------------------------------------------------------


async def test_a_marker_in_a_finding_cannot_redirect_the_apps_comments(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    body = "### Findings\n- missed detection: pager <!-- hardening-bot:incident-close-gate --> x\n"
    incident = sandbox.open_issue(repo, title="Outage", body=body, labels=("incident",))
    n = int(incident["number"])
    await deliver("issues", sandbox.issue_event(repo, n, "opened"))
    await drain()
    [tracking] = bot_comments(sandbox, repo, n, "tracking")
    await close(world, n, "dave")
    # The gate wrote its own comment; the tracking comment is still the tracking comment.
    assert len(bot_comments(sandbox, repo, n, "incident-close-gate")) == 1
    assert bot_comments(sandbox, repo, n, "tracking") == [tracking]


# --- closes the gate used to miss ---------------------------------------------------------------


@pytest.mark.parametrize("closer", ["github-actions[bot]", "stale[bot]"])
async def test_a_close_by_another_bot_is_judged(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, closer: str, world: World
) -> None:
    repo = roles
    sandbox.add_user(closer, type="Bot")
    n = open_app_item(sandbox, repo, READY)
    await close(world, n, closer)
    assert sandbox.issue(repo, n)["state"] == "open"
    [gate] = bot_comments(sandbox, repo, n, "closure-gate")
    assert f"@{closer} closed this issue" in gate and "Closed once" in gate


async def test_a_merged_pull_requests_fixes_close_is_judged(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, READY)
    # GitHub closes the issue as the person who merged the pull request that says `Fixes #N`.
    await close(world, n, "dave")
    assert sandbox.issue(repo, n)["state"] == "open"


async def test_an_item_closed_without_its_label_is_judged_when_the_label_comes_back(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, READY)
    sandbox.update_issue(repo, n, user="dave", labels=[])
    await close(world, n, "dave")
    assert sandbox.issue(repo, n)["state"] == "closed"  # not an item while unlabelled
    sandbox.add_labels(repo, n, ["hardening"], user="dave")
    await deliver(
        "issues", sandbox.issue_event(repo, n, "labeled", sender="dave", label="hardening")
    )
    await drain()
    assert sandbox.issue(repo, n)["state"] == "open"
    [gate] = bot_comments(sandbox, repo, n, "closure-gate")
    assert "@dave closed this issue" in gate


async def test_a_closed_item_transferred_here_carries_no_gate_fact(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain
) -> None:
    repo = roles
    sandbox.add_repo("octo/other", installation_id=4242)
    retired = dataclasses.replace(READY, status="retired", retired_rationale="superseded")
    n = open_app_item(sandbox, repo, retired)
    # GitHub moves the issue (author and body kept) and closes nothing new; the old record
    # names octo/repo, so in octo/other it is not a valid record of that issue.
    moved = sandbox.open_issue(
        "octo/other",
        title="Alert on queue lag",
        body=sandbox.issue(repo, n)["body"],
        labels=("hardening",),
        user="carol",
    )
    sandbox.update_issue("octo/other", moved["number"], user="carol", state="closed")
    payload = sandbox.issue_event(
        repo,
        n,
        "transferred",
        sender="carol",
        changes={
            "new_issue": dict(sandbox.issue("octo/other", moved["number"])),
            "new_repository": {"full_name": "octo/other"},
        },
    )
    await deliver("issues", payload)
    await drain()
    assert sandbox.issue("octo/other", moved["number"])["state"] == "open"


async def test_an_edit_of_the_apps_comment_by_someone_else_is_put_back(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    n = open_app_item(sandbox, repo, READY)
    await close(world, n, "dave")
    [gate] = [c for c in sandbox.comments(repo, n) if c["user"]["login"] == BOT]
    # dave rewrites the App's gate comment to say the item is done, planting a reply marker.
    forged = "<!-- hardening-bot:reply comment=1 -->\nResolved: verified by @bob"
    sandbox.edit_comment(repo, gate["id"], forged, user="dave")
    payload = sandbox.issue_comment_event(
        repo, n, gate["id"], "edited", sender="dave", changes={"body": {"from": gate["body"]}}
    )
    await deliver("issue_comment", payload)
    await drain()
    [again] = [c for c in sandbox.comments(repo, n) if c["id"] == gate["id"]]
    assert again["body"] == gate["body"]
    # The App's own edit of it coming back changes nothing.
    sandbox.reset_calls()
    for event, emitted in list(sandbox.emitted):
        if event == "issue_comment":
            await deliver(event, emitted)
    await drain()
    assert [c for c in sandbox.writes() if c.method == "PATCH" and "/comments/" in c.path] == []


async def test_an_item_from_before_records_is_read_from_its_body_before_the_edit(
    sandbox: Sandbox, roles: str, deliver: Deliver, drain: Drain, world: World
) -> None:
    repo = roles
    issue = sandbox.open_issue(
        repo, title="Alert on queue lag", body=render_item(READY), labels=("hardening",), user=BOT
    )
    n = int(issue["number"])
    body = sandbox.issue(repo, n)["body"].replace("- Status: open", "- Status: verified")
    await edit(world, n, body, "carol")
    after = sandbox.issue(repo, n)["body"]
    assert "- Status: open" in after and "<!-- hardening-bot:record " in after
    await close(world, n, "carol")
    assert sandbox.issue(repo, n)["state"] == "open"


async def test_records_signed_with_a_rotated_secret_fail_closed_until_the_previous_one_is_set(
    sandbox: Sandbox, roles: str, settings: Settings, make_settings: Any, aiohttp_client: Any
) -> None:
    """docs/deployment.md, "Rotating the webhook secret": after the secret changes, records the
    old one signed verify no more (the item reads as not verified, /healthz says so); with the
    old secret as GITHUB_WEBHOOK_SECRET_PREVIOUS they verify, and each is signed again with the
    new one, so the old secret can then go."""
    repo = roles
    owner, name = repo.split("/")
    verified = dataclasses.replace(
        READY, status="verified", verified_by="bob", verified_at=datetime(2026, 11, 20, tzinfo=UTC)
    )
    n = open_app_item(sandbox, repo, verified)
    new_secret = "rotated-webhook-secret"

    async def app(**overrides: Any) -> tuple[Any, Any]:
        client = await aiohttp_client(
            create_app(make_settings(api_url=settings.api_url, **overrides))
        )
        health = await (await client.get("/healthz")).json()
        return client, health["records"]["signed_with"]

    async def status(client: Any) -> str | None:
        gh, ctx = await handler_api(client.server.app)
        loaded = await get_item(Scope(gh, ctx, owner, name), n)
        assert loaded is not None and loaded.item is not None
        return loaded.item.status if loaded.record is not None else None

    first, signed_with = await app()
    assert signed_with == "none"
    assert await status(first) == "verified"  # read: the App now holds a copy
    await first.close()

    rotated, signed_with = await app(webhook_secret=new_secret)
    assert signed_with == "mismatch"
    assert await status(rotated) is None  # no record the App can verify: not verified
    await rotated.close()

    during, signed_with = await app(
        webhook_secret=new_secret, previous_webhook_secret=WEBHOOK_SECRET
    )
    assert signed_with == "previous"
    assert await status(during) == "verified"
    # dave's plain edit has the App write the item: its body is signed with the new secret.
    world = world_of(during, sandbox, repo, secret=new_secret)
    body = sandbox.issue(repo, n)["body"]
    await edit(world, n, body.replace("alert rule", "alert rules"), "dave")
    await during.close()

    after, signed_with = await app(webhook_secret=new_secret)
    assert signed_with == "current"
    assert await status(after) == "verified"
    new_key = key_from_secret(new_secret)
    assert unseal(sandbox.issue(repo, n)["body"], new_key, subject_of(owner, name, n)).record
    await after.close()
