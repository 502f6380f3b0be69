"""Idempotent writes against the sandbox: a second run of any helper writes nothing."""

from __future__ import annotations

import gidgethub
import pytest

from bot.github import GitHubAPI
from bot.writes import (
    add_labels,
    ensure_label,
    issue_coordinates,
    remove_label,
    repo_labels,
    same_text,
    update_issue,
    upsert_comment,
)
from rules.markers import comment_marker as marker
from rules.markers import with_marker
from sandbox import Sandbox

BOT = "hardening-bot[bot]"
TRACKING = marker("tracking")


def test_marker_format() -> None:
    assert TRACKING == "<!-- hardening-bot:tracking -->"
    assert marker("item incident=12") == "<!-- hardening-bot:item incident=12 -->"
    for bad in ("", "a-->b", "x>y", "a--b"):
        with pytest.raises(ValueError):
            marker(bad)
    assert with_marker("hi", TRACKING) == f"{TRACKING}\nhi"
    assert with_marker(f"{TRACKING}\nhi", TRACKING) == f"{TRACKING}\nhi"
    # A marker anywhere but the first line is not the App's: it is added in its place.
    assert with_marker(f"hi {TRACKING}", TRACKING) == f"{TRACKING}\nhi {TRACKING}"


def test_same_text_ignores_crlf_and_trailing_space() -> None:
    assert same_text("a\r\nb  \n", "a\nb")
    assert not same_text("a", "b")
    assert same_text(None, "")


async def test_upsert_comment_creates_then_skips_then_edits(
    sandbox: Sandbox, repo: str, gh: GitHubAPI
) -> None:
    issue = sandbox.open_issue(repo, title="incident", body="x")
    first = await upsert_comment(gh, "octo", "repo", issue.number, TRACKING, "- [ ] #2")
    assert first.action == "created" and first.wrote
    sandbox.reset_calls()

    again = await upsert_comment(gh, "octo", "repo", issue.number, TRACKING, "- [ ] #2\r\n")
    assert again.action == "unchanged" and not again.wrote
    assert sandbox.writes() == []

    edited = await upsert_comment(gh, "octo", "repo", issue.number, TRACKING, "- [x] #2")
    assert edited.action == "updated"
    assert [(c.method, c.json) for c in sandbox.writes()] == [
        ("PATCH", {"body": f"{TRACKING}\n- [x] #2"})
    ]
    comments = sandbox.comments(repo, issue.number)
    assert len(comments) == 1 and comments[0].user.login == BOT


async def test_upsert_comment_ignores_a_person_quoting_the_marker(
    sandbox: Sandbox, repo: str, gh: GitHubAPI
) -> None:
    issue = sandbox.open_issue(repo, title="incident", body="x")
    sandbox.add_comment(repo, issue.number, f"copied {TRACKING}", user="alice")
    result = await upsert_comment(
        gh, "octo", "repo", issue.number, TRACKING, "bot text", bot_login=BOT
    )
    assert result.action == "created"
    assert sandbox.comments(repo, issue.number)[0].body == f"copied {TRACKING}"


async def test_upsert_comment_finds_its_comment_on_a_later_page(
    sandbox: Sandbox, repo: str, gh: GitHubAPI
) -> None:
    issue = sandbox.open_issue(repo, title="busy incident", body="x")
    for i in range(105):
        sandbox.add_comment(repo, issue.number, f"chatter {i}")
    await upsert_comment(gh, "octo", "repo", issue.number, TRACKING, "v1", bot_login=BOT)
    result = await upsert_comment(gh, "octo", "repo", issue.number, TRACKING, "v2", bot_login=BOT)
    assert result.action == "updated"
    bot_comments = [c for c in sandbox.comments(repo, issue.number) if c.user.login == BOT]
    assert len(bot_comments) == 1 and bot_comments[0].body.endswith("v2")
    pages = [c.query.get("page") for c in sandbox.calls if c.path.endswith("/comments")]
    assert "2" in pages


async def test_update_issue_patches_only_what_changed(
    sandbox: Sandbox, repo: str, gh: GitHubAPI
) -> None:
    issue = sandbox.open_issue(repo, title="T", body="B", labels=("hardening",))
    sandbox.reset_calls()
    same = await update_issue(
        gh, issue, title="T", body="B\r\n", labels=["Hardening"], state="open"
    )
    assert same.action == "unchanged" and sandbox.writes() == []

    changed = await update_issue(gh, issue, title="T2", body="B")
    assert changed.action == "updated" and changed.changed == ("title",)
    assert [(c.method, c.json) for c in sandbox.writes()] == [("PATCH", {"title": "T2"})]
    assert sandbox.issue(repo, issue.number).title == "T2"


async def test_update_issue_state_and_reason(sandbox: Sandbox, repo: str, gh: GitHubAPI) -> None:
    issue = sandbox.open_issue(repo, title="T", body="B")
    result = await update_issue(gh, issue, state="closed", state_reason="completed")
    assert result.changed == ("state", "state_reason")
    closed = sandbox.issue(repo, issue.number)
    assert closed.state == "closed"
    sandbox.reset_calls()
    assert (await update_issue(gh, closed, state="closed", state_reason="completed")).action == (
        "unchanged"
    )
    assert sandbox.writes() == []


async def test_ensure_label(sandbox: Sandbox, repo: str, gh: GitHubAPI) -> None:
    created = await ensure_label(gh, "octo", "repo", "failure-class:slow-recovery", "#d73a4a", "x")
    assert created.action == "created"
    sandbox.reset_calls()
    again = await ensure_label(gh, "octo", "repo", "Failure-Class:Slow-Recovery", "000000")
    assert again.action == "unchanged" and sandbox.writes() == []
    names = [label.name for label in sandbox.labels(repo)]
    assert names.count("failure-class:slow-recovery") == 1


async def test_ensure_label_shares_one_listing(sandbox: Sandbox, repo: str, gh: GitHubAPI) -> None:
    sandbox.reset_calls()
    existing = await repo_labels(gh, "octo", "repo")
    for name in ("hardening", "priority:P1", "HARDENING"):
        await ensure_label(gh, "octo", "repo", name, "ededed", existing=existing)
    assert [c.method for c in sandbox.calls if c.path.endswith("/labels")] == [
        "GET",
        "POST",
        "POST",
    ]
    assert {"hardening", "priority:p1"} <= set(existing)


async def test_ensure_label_tolerates_a_concurrent_creation(
    sandbox: Sandbox, repo: str, gh: GitHubAPI
) -> None:
    sandbox.inject(
        "POST",
        r"/labels$",
        status=422,
        body={
            "message": "Validation Failed",
            "errors": [{"resource": "Label", "code": "already_exists", "field": "name"}],
        },
    )
    result = await ensure_label(gh, "octo", "repo", "hardening", "ffffff")
    assert result.action == "unchanged"


async def test_ensure_label_other_validation_errors_raise(
    sandbox: Sandbox, repo: str, gh: GitHubAPI
) -> None:
    with pytest.raises(gidgethub.BadRequest):
        await ensure_label(gh, "octo", "repo", "bad", "not-a-colour")


async def test_add_labels_skips_present(sandbox: Sandbox, repo: str, gh: GitHubAPI) -> None:
    issue = sandbox.open_issue(repo, title="T", labels=("hardening",))
    sandbox.reset_calls()
    assert (await add_labels(gh, issue, ["HARDENING"])).action == "unchanged"
    assert sandbox.writes() == []
    result = await add_labels(gh, issue, ["hardening", "priority:P1", "priority:P1"])
    assert result.changed == ("priority:P1",)
    assert [c.json for c in sandbox.writes()] == [{"labels": ["priority:P1"]}]
    names = {label.name for label in sandbox.issue(repo, issue.number).labels}
    assert names == {"hardening", "priority:P1"}


async def test_remove_label(sandbox: Sandbox, repo: str, gh: GitHubAPI) -> None:
    issue = sandbox.open_issue(repo, title="T", labels=("priority:P1", "hardening"))
    sandbox.reset_calls()
    assert (await remove_label(gh, issue, "priority:P2")).action == "absent"
    assert sandbox.writes() == []
    removed = await remove_label(gh, issue, "priority:P1")
    assert removed.action == "removed" and removed.wrote
    assert [label.name for label in sandbox.issue(repo, issue.number).labels] == ["hardening"]
    # The issue object is stale now; the label is already gone on GitHub: a 404, tolerated.
    assert (await remove_label(gh, issue, "priority:P1")).action == "absent"


async def test_remove_label_other_errors_raise(sandbox: Sandbox, repo: str, gh: GitHubAPI) -> None:
    issue = sandbox.open_issue(repo, title="T", labels=("hardening",))
    sandbox.inject("DELETE", r"/labels/", status=403, body={"message": "Must have admin rights"})
    with pytest.raises(gidgethub.BadRequest):
        await remove_label(gh, issue, "hardening")


def test_issue_coordinates() -> None:
    assert issue_coordinates({"url": "https://ghe.example.com/api/v3/repos/o/r/issues/7"}) == (
        "o",
        "r",
        7,
    )
    assert issue_coordinates({"url": "https://api.github.com/repos/o/r/pulls/3"}) == ("o", "r", 3)
    assert issue_coordinates(
        {"number": 4, "repository_url": "https://api.github.com/repos/o/r"}
    ) == ("o", "r", 4)
    with pytest.raises(ValueError):
        issue_coordinates({"number": 4})
