"""The sandbox answers in GitHub's published shapes — checked with GitHub's schemas, not ours.

Every implemented REST operation is called through githubkit, a maintained client generated from
GitHub's REST description (``githubkit-schemas-2022-11-28``). githubkit picks the response model
for each operation; the answer must validate against it strictly (no type coercion). Error
bodies are checked against GitHub's ``basic-error`` / ``validation-error`` models, and every
webhook payload the sandbox builds or emits against githubkit's webhook models.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

# githubkit (the ``test`` extra) carries GitHub's published schemas; without it this proof must
# fail, not skip, or a check that cannot fail would pass.
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, Response
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestFailed
from githubkit_schemas.v2022_11_28 import models
from pydantic import TypeAdapter, ValidationError
from test_sandbox_support import APP_ID, HEAD, INSTALLATION, REPO, seeded

from sandbox import Sandbox
from sandbox.routes import ENDPOINTS

OWNER, NAME = REPO.split("/")
VERSION = "2022-11-28"

# Fields GitHub's description requires but real deliveries are known to omit (octokit's captured
# payloads: labels before archiving existed, installation objects without ``app_slug``, re-run
# payloads whose ``app`` lacks ``permissions``/``events``). Only a *missing* one of these is
# forgiven; a wrong type or any other missing field still fails.
KNOWN_DRIFT = {"archived_at", "archived_by", "app_slug", "permissions", "events"}


def strictly(model: Any, content: bytes) -> None:
    """Validate JSON bytes against a githubkit model without lax coercion."""
    TypeAdapter(model).validate_json(content, strict=True)


def check_response(response: Response[Any, Any]) -> None:
    # githubkit's own parsing (what a githubkit user would get) ...
    assert response.parsed_data is not None or response.content in (b"", b"null")
    # ... and the same model, strictly. githubkit keeps the operation's model on the response.
    model = getattr(response, "_data_model", None)
    assert model is not None, "githubkit no longer exposes Response._data_model; update the test"
    strictly(model, response.content)


def check_webhook(event: str, payload: dict[str, Any]) -> None:
    name = "Webhook" + "".join(
        part.capitalize() for part in f"{event}_{payload['action']}".split("_")
    )
    model = getattr(models, name)
    try:
        TypeAdapter(model).validate_json(json.dumps(payload), strict=True)
    except ValidationError as exc:
        real = [
            e
            for e in exc.errors()
            if not (e["type"] == "missing" and str(e["loc"][-1]) in KNOWN_DRIFT)
        ]
        if real:
            raise AssertionError(f"{name}: {real[:5]}") from exc


@pytest.fixture
def sb(app_keys: tuple[str, str]) -> Sandbox:
    sandbox = seeded(app_keys[1])
    sandbox.set_permission(REPO, "alice", "maintain")
    sandbox.protect_branch(REPO, "main", contexts=["hardening/controls"], strict=True)
    sandbox.open_issue(
        REPO,
        title="DB outage",
        body="## Findings\n- late decision: x",
        labels=["incident", "sev-2"],
    )
    sandbox.add_comment(REPO, 1, "I was paged late", user="bob")
    sandbox.open_pull(
        REPO,
        title="Alert on replica lag",
        body="Hardens #1",
        head_sha=HEAD,
        labels=["failure-class:missed-detection"],
        files=[
            {
                "filename": "tests/test_lag.py",
                "status": "added",
                "additions": 12,
                "deletions": 0,
                "patch": "@@ -0,0 +1 @@\n+def test_lag(): ...",
            },
            {
                "filename": "alerts/lag.yml",
                "status": "renamed",
                "additions": 1,
                "deletions": 1,
                "previous_filename": "alerts/old.yml",
            },
        ],
    )
    return sandbox


class Clients:
    def __init__(self, sb: Sandbox, base: str, private_pem: str) -> None:
        options: dict[str, Any] = {
            "base_url": base,
            # githubkit caches installation tokens process-wide by default; each test's sandbox
            # issues its own, so each client gets its own cache.
            "cache_strategy": MemCacheStrategy(),
            "http_cache": False,
            "auto_retry": False,
            "trust_env": False,
        }
        self.sb = sb
        # The REST namespaces only hold weak references to their clients: keep these alive.
        self.app_client = GitHub(AppAuthStrategy(APP_ID, private_pem), **options)
        self.inst_client = GitHub(
            AppInstallationAuthStrategy(APP_ID, private_pem, INSTALLATION), **options
        )
        # No credentials at all: the manifest conversion is authorised by its code alone.
        self.anon_client = GitHub(**options)
        self.app = self.app_client.rest(VERSION)
        self.anon = self.anon_client.rest(VERSION)
        self.inst = self.inst_client.rest(VERSION)


@pytest.fixture
async def gh(
    sb: Sandbox,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    app_keys: tuple[str, str],
) -> Clients:
    server = await aiohttp_server(sb.app)
    sb.api_url = str(server.make_url("")).rstrip("/")
    return Clients(sb, sb.api_url, app_keys[0])


Op = Callable[[Clients], Awaitable[Response[Any, Any]]]


def _comment_id(c: Clients) -> int:
    return c.sb.comments(REPO, 1)[0]["id"]


def _check_run_id(c: Clients) -> int:
    return c.sb.add_check_run(REPO, head_sha=HEAD, name="hardening/controls")["id"]


def _delivery_id(c: Clients) -> int:
    return c.sb.record_delivery("issues", c.sb.issue_event(REPO, 1, "opened"))["id"]


OPERATIONS: dict[str, Op] = {
    "apps/get-authenticated": lambda c: c.app.apps.async_get_authenticated(),
    "apps/list-installations": lambda c: c.app.apps.async_list_installations(),
    "apps/get-repo-installation": lambda c: c.app.apps.async_get_repo_installation(OWNER, NAME),
    "apps/create-installation-access-token": (
        lambda c: c.app.apps.async_create_installation_access_token(
            INSTALLATION, repositories=[NAME], permissions={"issues": "write"}
        )
    ),
    "apps/list-webhook-deliveries": lambda c: (
        _delivery_id(c),
        c.app.apps.async_list_webhook_deliveries(),
    )[1],
    "apps/create-from-manifest": lambda c: c.anon.apps.async_create_from_manifest(
        c.sb.registrations.register(
            {
                "url": "https://bot.example.com",
                "hook_attributes": {"url": "https://bot.example.com/webhook"},
                "default_permissions": {"issues": "write"},
                "default_events": ["issues"],
            }
        )
    ),
    "apps/get-webhook-config-for-app": lambda c: c.app.apps.async_get_webhook_config_for_app(),
    "apps/redeliver-webhook-delivery": (
        lambda c: c.app.apps.async_redeliver_webhook_delivery(_delivery_id(c))
    ),
    "apps/get-webhook-delivery": (lambda c: c.app.apps.async_get_webhook_delivery(_delivery_id(c))),
    "apps/list-repos-accessible-to-installation": (
        lambda c: c.inst.apps.async_list_repos_accessible_to_installation()
    ),
    "issues/list-for-repo": lambda c: c.inst.issues.async_list_for_repo(OWNER, NAME, state="all"),
    "issues/create": lambda c: c.inst.issues.async_create(
        OWNER,
        NAME,
        title="Hardening: alert on lag",
        body="Incident reference: #1",
        labels=["hardening"],
        assignees=["alice"],
    ),
    "issues/get": lambda c: c.inst.issues.async_get(OWNER, NAME, 1),
    "issues/update": lambda c: c.inst.issues.async_update(
        OWNER, NAME, 1, state="closed", state_reason="not_planned"
    ),
    "issues/list-comments": lambda c: c.inst.issues.async_list_comments(OWNER, NAME, 1),
    "issues/create-comment": (
        lambda c: c.inst.issues.async_create_comment(OWNER, NAME, 2, body="<!-- marker -->")
    ),
    "issues/get-comment": (lambda c: c.inst.issues.async_get_comment(OWNER, NAME, _comment_id(c))),
    "issues/update-comment": (
        lambda c: c.inst.issues.async_update_comment(OWNER, NAME, _comment_id(c), body="edited")
    ),
    "issues/delete-comment": (
        lambda c: c.inst.issues.async_delete_comment(OWNER, NAME, _comment_id(c))
    ),
    "issues/add-labels": (
        lambda c: c.inst.issues.async_add_labels(OWNER, NAME, 1, labels=["triaged"])
    ),
    "issues/remove-label": lambda c: c.inst.issues.async_remove_label(OWNER, NAME, 1, "sev-2"),
    "issues/list-labels-for-repo": lambda c: c.inst.issues.async_list_labels_for_repo(OWNER, NAME),
    "issues/create-label": lambda c: c.inst.issues.async_create_label(
        OWNER, NAME, name="priority:P1", color="b60205", description="Priority band P1"
    ),
    "issues/list-events-for-timeline": (
        lambda c: c.inst.issues.async_list_events_for_timeline(OWNER, NAME, 1)
    ),
    "reactions/create-for-issue-comment": (
        lambda c: c.inst.reactions.async_create_for_issue_comment(
            OWNER, NAME, _comment_id(c), content="eyes"
        )
    ),
    "pulls/get": lambda c: c.inst.pulls.async_get(OWNER, NAME, 2),
    "pulls/list-files": lambda c: c.inst.pulls.async_list_files(OWNER, NAME, 2),
    "checks/create": lambda c: c.inst.checks.async_create(
        OWNER,
        NAME,
        name="hardening/controls",
        head_sha=HEAD,
        status="completed",
        conclusion="neutral",
        details_url="https://example.com/run",
        output={
            "title": "Missing a regression test",
            "summary": "Add a test under tests/",
            "annotations": [
                {
                    "path": "alerts/lag.yml",
                    "start_line": 1,
                    "end_line": 1,
                    "annotation_level": "warning",
                    "message": "no test",
                }
            ],
        },
    ),
    "checks/update": lambda c: c.inst.checks.async_update(
        OWNER,
        NAME,
        _check_run_id(c),
        status="completed",
        conclusion="success",
        output={"title": "ok", "summary": "all good"},
    ),
    "checks/list-for-ref": lambda c: (
        _check_run_id(c),
        c.inst.checks.async_list_for_ref(OWNER, NAME, HEAD, check_name="hardening/controls"),
    )[1],
    "repos/get-collaborator-permission-level": (
        lambda c: c.inst.repos.async_get_collaborator_permission_level(OWNER, NAME, "alice")
    ),
    "teams/get-membership-for-user-in-org": (
        lambda c: c.inst.teams.async_get_membership_for_user_in_org(
            "octo", "reliability-leads", "carol"
        )
    ),
    "repos/get-content": (
        lambda c: c.inst.repos.async_get_content(OWNER, NAME, ".github/hardening.yml", ref="main")
    ),
    "repos/get": lambda c: c.inst.repos.async_get(OWNER, NAME),
    "search/issues-and-pull-requests": lambda c: c.inst.search.async_issues_and_pull_requests(
        q=f'repo:{REPO} is:issue label:incident in:body "late decision"'
    ),
    "repos/get-status-checks-protection": (
        lambda c: c.inst.repos.async_get_status_checks_protection(OWNER, NAME, "main")
    ),
}

EXPECTED_STATUS = {
    "apps/create-from-manifest": 201,
    "apps/create-installation-access-token": 201,
    "apps/redeliver-webhook-delivery": 202,
    "issues/create": 201,
    "issues/create-comment": 201,
    "issues/create-label": 201,
    "issues/delete-comment": 204,
    "reactions/create-for-issue-comment": 201,
    "checks/create": 201,
}


def test_every_implemented_operation_is_validated() -> None:
    assert {e.operation for e in ENDPOINTS} == set(OPERATIONS)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_answer_matches_githubs_schema(gh: Clients, operation: str) -> None:
    response = await OPERATIONS[operation](gh)
    assert response.status_code == EXPECTED_STATUS.get(operation, 200)
    if response.status_code != 204:
        check_response(response)
    assert gh.sb.unknown_calls == []
    assert [c.operation for c in gh.sb.calls][-1] == operation


async def test_directory_listing_matches_schema(gh: Clients) -> None:
    gh.sb.put_file(REPO, ".github/workflows/ci.yml", "on: push\n")
    response = await gh.inst.repos.async_get_content(OWNER, NAME, ".github")
    check_response(response)
    assert sorted(e["name"] for e in response.json()) == ["hardening.yml", "workflows"]


@pytest.mark.parametrize(
    ("call", "status", "model"),
    [
        (lambda c: c.inst.issues.async_get(OWNER, NAME, 99), 404, models.BasicError),
        (
            lambda c: c.inst.issues.async_create_label(OWNER, NAME, name="incident"),
            422,
            models.ValidationError,
        ),
        (
            lambda c: c.inst.issues.async_remove_label(OWNER, NAME, 1, "nope"),
            404,
            models.BasicError,
        ),
        (
            lambda c: c.inst.repos.async_get_collaborator_permission_level(OWNER, NAME, "mallory"),
            404,
            models.BasicError,
        ),
        (
            lambda c: c.inst.search.async_issues_and_pull_requests(q="repo:nobody/nothing"),
            422,
            models.ValidationError,
        ),
    ],
)
async def test_error_bodies_match_githubs_schema(
    gh: Clients, call: Op, status: int, model: Any
) -> None:
    with pytest.raises(RequestFailed) as info:
        await call(gh)
    assert info.value.response.status_code == status
    strictly(model, info.value.response.content)


# --- webhooks ---------------------------------------------------------------------------------


def _built(sb: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    """One payload per event/action the bot subscribes to, from the builders."""
    out: list[tuple[str, dict[str, Any]]] = []
    comment = sb.comments(REPO, 1)[0]["id"]
    run = sb.add_check_run(
        REPO,
        head_sha=HEAD,
        name="hardening/controls",
        conclusion="success",
        output={"title": "ok", "summary": "ok"},
    )["id"]
    out.append(("issues", sb.issue_event(REPO, 1, "opened")))
    out.append(("issues", sb.issue_event(REPO, 1, "labeled", label="incident")))
    out.append(("issues", sb.issue_event(REPO, 1, "unlabeled", label="sev-2")))
    sb.update_issue(REPO, 1, body="new body")
    out.append(("issues", sb.issue_event(REPO, 1, "edited", changes={"body": {"from": "old"}})))
    sb.update_issue(REPO, 1, state="closed")
    out.append(("issues", sb.issue_event(REPO, 1, "closed", sender="alice")))
    sb.update_issue(REPO, 1, state="open")
    out.append(("issues", sb.issue_event(REPO, 1, "reopened")))
    out.append(("issue_comment", sb.issue_comment_event(REPO, 1, comment)))
    out.append(
        (
            "issue_comment",
            sb.issue_comment_event(
                REPO, 1, comment, "edited", changes={"body": {"from": "before"}}
            ),
        )
    )
    out.append(("issue_comment", sb.issue_comment_event(REPO, 1, comment, "deleted")))
    pr_comment = sb.add_comment(REPO, 2, "/harden status")["id"]
    out.append(("issue_comment", sb.issue_comment_event(REPO, 2, pr_comment)))
    out.append(("pull_request", sb.pull_request_event(REPO, 2, "opened")))
    out.append(
        (
            "pull_request",
            sb.pull_request_event(REPO, 2, "labeled", label="failure-class:missed-detection"),
        )
    )
    out.append(
        ("pull_request", sb.pull_request_event(REPO, 2, "edited", changes={"body": {"from": ""}}))
    )
    sb.push_pull(REPO, 2, head_sha="b" * 40)
    out.append(("pull_request", sb.pull_request_event(REPO, 2, "synchronize")))
    out.append(("check_run", sb.check_run_event(REPO, run, "created")))
    out.append(("check_run", sb.check_run_event(REPO, run, "completed")))
    out.append(("check_run", sb.check_run_event(REPO, run)))
    out.append(
        ("check_run", sb.check_run_event(REPO, run, "requested_action", requested_action="recheck"))
    )
    out.append(("check_suite", sb.check_suite_event(REPO, HEAD)))
    out.append(("check_suite", sb.check_suite_event(REPO, "b" * 40, "requested")))
    sb.merge_pull(REPO, 2)
    out.append(("pull_request", sb.pull_request_event(REPO, 2, "closed")))
    out.append(("check_suite", sb.check_suite_event(REPO, HEAD, "completed")))
    return out


def test_built_payloads_match_githubs_webhook_models(sb: Sandbox) -> None:
    payloads = _built(sb)
    assert len(payloads) == 22
    for event, payload in payloads:
        check_webhook(event, payload)
        assert payload["installation"]["id"] == INSTALLATION
        assert set(payload["installation"]) == {"id", "node_id"}
        assert payload["repository"]["full_name"] == REPO
        assert payload["organization"]["login"] == "octo"


async def test_emitted_payloads_match_githubs_webhook_models(gh: Clients) -> None:
    for operation in (
        "issues/create",
        "issues/update",
        "issues/create-comment",
        "issues/add-labels",
        "issues/remove-label",
        "checks/create",
        "checks/update",
    ):
        await OPERATIONS[operation](gh)
    await gh.inst.issues.async_update(OWNER, NAME, 1, state="open", title="DB outage (v2)")
    await gh.inst.issues.async_add_labels(OWNER, NAME, 2, labels=["needs-test"])
    comment = gh.sb.comments(REPO, 2)[0]["id"]
    await gh.inst.issues.async_update_comment(OWNER, NAME, comment, body="changed")
    await gh.inst.issues.async_delete_comment(OWNER, NAME, comment)
    emitted = gh.sb.emitted
    kinds = {(event, payload["action"]) for event, payload in emitted}
    assert kinds >= {
        ("issues", "opened"),
        ("issues", "closed"),
        ("issues", "reopened"),
        ("issues", "edited"),
        ("issues", "labeled"),
        ("issues", "unlabeled"),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issue_comment", "deleted"),
        ("check_run", "created"),
        ("check_run", "completed"),
        ("pull_request", "labeled"),
    }
    for event, payload in emitted:
        check_webhook(event, payload)
        assert payload["sender"]["login"] == "hardening-bot[bot]"
        assert payload["sender"]["type"] == "Bot"
