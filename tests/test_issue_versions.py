"""bot.issue_versions: an issue unchanged since the App read it is not asked for again; an
``issues`` webhook, the App's own write or the maximum age sends the next read to GitHub, in
every process sharing the database (both backends); the process that wrote keeps GitHub's
answer as its copy."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from conftest import INSTALLATION_ID, Clock

from bot.github import GitHubApp
from bot.inbox import Database
from bot.issue_versions import IssueVersions, issue_of
from bot.settings import Settings
from sandbox import Sandbox


@pytest.fixture
async def replicas(
    database: Database, settings: Settings, clock: Clock
) -> AsyncIterator[list[GitHubApp]]:
    """Two processes' GitHub clients on one database."""
    apps = []
    for _ in range(2):
        app = GitHubApp(settings)
        app.versions = IssueVersions(database.sql, clock=clock, max_age=3600.0)
        await app.versions.setup()
        apps.append(app)
    yield apps
    for app in apps:
        await app.close()


def test_which_paths_are_an_issue() -> None:
    assert issue_of("https://api.github.com/repos/o/r/issues/12") == ("o", "r", 12, True)
    assert issue_of("https://ghe.example/api/v3/repos/o/r/issues/3/labels") == ("o", "r", 3, False)
    assert issue_of("https://api.github.com/repos/o/r/issues/12?x=1") == ("o", "r", 12, False)
    assert issue_of("https://api.github.com/repos/o/r/issues/comments/5") is None
    assert issue_of("https://api.github.com/repos/o/r/issues?state=all") is None
    assert issue_of("https://api.github.com/repos/o/r/pulls/12") is None


async def test_an_unchanged_issue_is_read_once_and_a_change_is_read_everywhere(
    sandbox: Sandbox, repo: str, replicas: list[GitHubApp], clock: Clock
) -> None:
    one, other = [await app.installation_api(INSTALLATION_ID) for app in replicas]
    number = int(sandbox.open_issue(repo, title="t", body="first")["number"])
    path = f"/repos/{repo}/issues/{number}"

    def reads() -> int:
        return sum(1 for c in sandbox.calls if c.method == "GET" and c.path == path)

    sandbox.reset_calls()
    assert (await one.getitem(path))["body"] == "first"
    assert (await one.getitem(path))["body"] == "first"
    assert reads() == 1, "the second read is answered from the copy"

    # A person edits it: GitHub's webhook says so, and every process asks again.
    sandbox.update_issue(repo, number, body="second")
    await replicas[1].versions.delivery(  # type: ignore[union-attr]
        "issues",
        {"issue": {"number": number}, "repository": {"full_name": repo}},
    )
    assert (await one.getitem(path))["body"] == "second"
    assert reads() == 2

    # The App's own write, in another process: the first asks again too.
    await other.patch(path, data={"body": "third"})
    assert (await one.getitem(path))["body"] == "third"
    assert reads() == 3
    assert (await one.getitem(path))["body"] == "third"
    assert reads() == 3

    # The App's own write in this process: what GitHub answered is the copy, and the webhook
    # that write causes moves nothing here; the same webhook taken in by another process does.
    await one.patch(path, data={"body": "own"})
    assert (await one.getitem(path))["body"] == "own"
    assert reads() == 3
    own_edit = {
        "issue": {"number": number},
        "repository": {"full_name": repo},
        "sender": {"login": "hardening-bot[bot]"},
    }
    mine = replicas[0].versions
    assert mine is not None
    theirs = IssueVersions(mine.sql, clock=clock)  # a process that made no write
    await mine.delivery("issues", own_edit, "hardening-bot[bot]")
    assert (await one.getitem(path))["body"] == "own"
    assert reads() == 3
    await theirs.delivery("issues", own_edit, "hardening-bot[bot]")
    assert (await one.getitem(path))["body"] == "own"
    assert reads() == 4

    # An edit no webhook told of is seen once the copy is older than the maximum age.
    sandbox.update_issue(repo, number, body="fourth")
    assert (await one.getitem(path))["body"] == "own"
    clock.advance(3600)
    assert (await one.getitem(path))["body"] == "fourth"
    assert reads() == 5


async def test_without_a_maximum_age_every_read_asks(
    sandbox: Sandbox, repo: str, database: Database, settings: Settings
) -> None:
    app = GitHubApp(settings)
    app.versions = IssueVersions(database.sql, max_age=0)
    try:
        gh = await app.installation_api(INSTALLATION_ID)
        number = int(sandbox.open_issue(repo, title="t", body="b")["number"])
        sandbox.reset_calls()
        for _ in range(2):
            await gh.getitem(f"/repos/{repo}/issues/{number}")
        assert [c.status for c in sandbox.calls] == [200, 304]
    finally:
        await app.close()
