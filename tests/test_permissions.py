"""bot.permissions against the sandbox: roles from ``role_name``, lead users and lead teams, and
failed lookups that are errors, never a silent "not allowed"."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import no_wait

from bot.github import GitHubApp
from bot.permissions import (
    PermissionLookupError,
    collaborator_role,
    is_lead,
    is_team_member,
    lookup_caller,
    split_team,
)
from bot.scope import Scope
from sandbox import Sandbox
from sandbox.model import Role

PERMISSION_PATH = r"/repos/octo/repo/collaborators/[^/]+/permission"
MEMBERSHIP_PATH = r"/orgs/octo/teams/[^/]+/memberships/[^/]+"
# What GitHub answers when the App lacks a permission (not a rate limit: no retry helps).
FORBIDDEN = {
    "message": "Resource not accessible by integration",
    "documentation_url": "https://docs.github.com/rest",
    "status": "403",
}


@pytest.fixture
async def github(settings: Any) -> AsyncIterator[GitHubApp]:
    """The App's client, retrying 5xx as in production but without waiting between tries."""
    client = GitHubApp(settings, sleep=no_wait)
    yield client
    await client.close()


def _gets(sandbox: Sandbox, fragment: str) -> list[Any]:
    return [c for c in sandbox.calls if c.method == "GET" and fragment in c.path]


@pytest.mark.parametrize("role", ["read", "triage", "write", "maintain", "admin"])
async def test_role_is_read_from_role_name(
    sandbox: Sandbox, repo: str, scope: Scope, role: Role
) -> None:
    # The legacy field says "write" for maintain and "read" for triage; role_name decides.
    sandbox.set_permission(repo, "dana", role)
    assert await collaborator_role(scope, "dana") == role


async def test_not_a_collaborator_is_no_role(sandbox: Sandbox, repo: str, scope: Scope) -> None:
    sandbox.add_user("stranger")
    assert await collaborator_role(scope, "stranger") is None
    assert await collaborator_role(scope, "nobody-at-all") is None  # no such user


@pytest.mark.parametrize("status", [500, 502, 503, 403])
async def test_failed_role_lookup_is_an_error_and_logged(
    sandbox: Sandbox, repo: str, scope: Scope, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    sandbox.set_permission(repo, "dana", "admin")
    body = FORBIDDEN if status == 403 else None
    sandbox.inject("GET", PERMISSION_PATH, status=status, times=None, body=body)
    with (
        caplog.at_level(logging.ERROR, logger="bot.permissions"),
        pytest.raises(PermissionLookupError) as raised,
    ):
        await collaborator_role(scope, "dana")
    assert str(status) in raised.value.reason
    errors = [r for r in caplog.records if r.name == "bot.permissions"]
    assert errors and errors[0].levelno == logging.ERROR and errors[0].exc_info


async def test_timeout_is_an_error(
    sandbox: Sandbox, repo: str, make_settings: Any, sandbox_server: Any, scope: Scope
) -> None:
    from conftest import INSTALLATION_ID

    settings = make_settings(
        api_url=str(sandbox_server.make_url("")).rstrip("/"), github_timeout=0.1
    )
    app = GitHubApp(settings, sleep=no_wait)
    try:
        gh = await app.installation_api(INSTALLATION_ID)
        sandbox.inject("GET", PERMISSION_PATH, status=None, delay=0.3, times=None)
        with pytest.raises(PermissionLookupError) as raised:
            await collaborator_role(dataclasses.replace(scope, gh=gh), "dana")
        assert "in time" in raised.value.reason or "Timeout" in raised.value.reason
    finally:
        await app.close()


async def test_team_membership_members_maintainers_and_absent(
    sandbox: Sandbox, repo: str, gh: Any
) -> None:
    sandbox.add_team("octo", "leads", members=["erin"], maintainers=["frank"])
    assert await is_team_member(gh, "octo", "leads", "erin")
    assert await is_team_member(gh, "octo", "leads", "frank")
    assert not await is_team_member(gh, "octo", "leads", "gail")  # 404: not a member
    assert not await is_team_member(gh, "octo", "nosuchteam", "erin")


async def test_team_membership_is_cached_per_client(
    sandbox: Sandbox, repo: str, gh: Any, settings: Any
) -> None:
    from conftest import INSTALLATION_ID

    sandbox.add_team("octo", "leads", members=["erin"])
    for _ in range(3):
        assert await is_lead(gh, "erin", ["@octo/leads"])
        assert not await is_lead(gh, "gail", ["octo/leads"])
    assert len(_gets(sandbox, "/memberships/erin")) == 1
    assert len(_gets(sandbox, "/memberships/gail")) == 1
    other = GitHubApp(settings, sleep=no_wait)  # another process, or another installation
    try:
        assert await is_lead(await other.installation_api(INSTALLATION_ID), "erin", ["@octo/leads"])
    finally:
        await other.close()
    assert len(_gets(sandbox, "/memberships/erin")) == 2


async def test_failed_team_lookup_is_an_error_and_not_cached(
    sandbox: Sandbox, repo: str, gh: Any
) -> None:
    sandbox.add_team("octo", "leads", members=["erin"])
    sandbox.inject("GET", MEMBERSHIP_PATH, status=403, times=1, body=FORBIDDEN)
    with pytest.raises(PermissionLookupError):
        await is_lead(gh, "erin", ["@octo/leads"])
    assert await is_lead(gh, "erin", ["@octo/leads"])  # the error was not remembered


async def test_named_lead_needs_no_lookup(sandbox: Sandbox, repo: str, gh: Any) -> None:
    sandbox.inject("GET", MEMBERSHIP_PATH, status=503, times=None)
    # A lead named in the config is decided before any team is asked (case-insensitively).
    assert await is_lead(gh, "Carol", ["@octo/leads", "carol"])
    assert not _gets(sandbox, "/memberships/")
    assert not await is_lead(gh, "carol", [])


async def test_lookup_caller_asks_only_what_is_needed(
    sandbox: Sandbox, repo: str, scope: Scope
) -> None:
    sandbox.set_permission(repo, "dana", "maintain")
    sandbox.add_team("octo", "leads", members=["dana"])
    caller = await lookup_caller(scope, "dana", ["@octo/leads"])
    assert (caller.role, caller.is_lead) == ("maintain", True)
    sandbox.reset_calls()
    caller = await lookup_caller(scope, "dana", ["@octo/leads"], need_role=False)
    assert (caller.role, caller.is_lead) == (None, True)
    assert not _gets(sandbox, "/permission")


@pytest.mark.parametrize(
    ("text", "team"),
    [
        ("@acme/reliability-leads", ("acme", "reliability-leads")),
        ("acme/sre", ("acme", "sre")),
        ("carol", None),
        ("@carol", None),
        ("@acme/", None),
    ],
)
def test_split_team(text: str, team: tuple[str, str] | None) -> None:
    assert split_team(text) == team
