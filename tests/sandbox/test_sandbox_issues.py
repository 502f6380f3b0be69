"""Issues, comments, labels, timeline and reactions behave as on GitHub."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from conftest import Clock
from test_sandbox_support import HEAD, INSTALLATION, REPO, Api

from sandbox import Sandbox
from sandbox.render import iso

ISSUES = f"/repos/{REPO}/issues"


async def numbers(api: Api, **params: str) -> list[int]:
    status, _, body = await api.get(ISSUES, params=params)
    assert status == 200, body
    return [i["number"] for i in body]


# --- listing ----------------------------------------------------------------------------------


async def test_list_filters_like_github(api: Api, sb: Sandbox, clock: Clock) -> None:
    sb.open_issue(REPO, title="one", labels=["incident", "sev-1"], user="alice")
    clock.advance(60)
    sb.open_issue(REPO, title="two", labels=["incident"], user="bob")
    clock.advance(60)
    sb.open_issue(REPO, title="three", labels=["Hardening"], user="alice")
    sb.update_issue(REPO, 2, state="closed")
    sb.open_pull(REPO, title="four", head_sha=HEAD, user="carol")

    assert await numbers(api) == [4, 3, 1]
    assert await numbers(api, state="closed") == [2]
    assert await numbers(api, state="all", direction="asc") == [1, 2, 3, 4]
    assert await numbers(api, labels="incident,SEV-1") == [1]
    assert await numbers(api, state="all", labels="incident") == [2, 1]
    assert await numbers(api, labels="hardening") == [3]
    assert await numbers(api, creator="alice") == [3, 1]
    assert await numbers(api, state="all", since=str(iso(clock.now))) == [4, 3, 2]
    sb.add_comment(REPO, 1, "a")
    sb.add_comment(REPO, 1, "b")
    assert (await numbers(api, sort="comments"))[0] == 1


async def test_pull_requests_appear_in_the_issue_list(api: Api, sb: Sandbox) -> None:
    sb.open_pull(REPO, title="pr", head_sha=HEAD)
    _, _, body = await api.get(ISSUES)
    assert body[0]["pull_request"]["url"].endswith(f"/repos/{REPO}/pulls/1")
    _, _, issue = await api.get(f"{ISSUES}/1")
    assert "pull_request" in issue


@pytest.mark.parametrize("params", [{"state": "opened"}, {"sort": "size"}, {"since": "yesterday"}])
async def test_invalid_list_parameters_are_422(api: Api, params: dict[str, str]) -> None:
    status, _, body = await api.get(ISSUES, params=params)
    assert status == 422
    assert body["message"] == "Validation Failed"


# --- create and update ------------------------------------------------------------------------


async def test_create_is_attributed_to_the_app(api: Api, sb: Sandbox) -> None:
    status, _, issue = await api.post(
        ISSUES,
        {"title": "Hardening: alert", "body": "x", "labels": ["hardening"], "assignees": ["alice"]},
    )
    assert status == 201
    assert issue["user"]["login"] == "hardening-bot[bot]"
    assert issue["user"]["type"] == "Bot"
    assert issue["performed_via_github_app"]["slug"] == "hardening-bot"
    assert issue["author_association"] == "NONE"
    assert [lb["name"] for lb in issue["labels"]] == ["hardening"]
    assert issue["assignee"]["login"] == "alice"
    assert issue["html_url"] == f"https://github.com/{REPO}/issues/1"
    assert [lb["name"] for lb in sb.labels(REPO)] == ["hardening"]


async def test_create_without_title_is_422(api: Api) -> None:
    status, _, body = await api.post(ISSUES, {"body": "no title"})
    assert status == 422
    assert body["errors"] == [{"resource": "Issue", "field": "title", "code": "missing_field"}]


async def test_close_and_reopen_set_github_fields(api: Api, sb: Sandbox, clock: Clock) -> None:
    sb.open_issue(REPO, title="t")
    clock.advance(10)
    status, _, closed = await api.patch(f"{ISSUES}/1", {"state": "closed"})
    assert status == 200
    assert closed["state"] == "closed"
    assert closed["state_reason"] == "completed"
    assert closed["closed_at"] == iso(clock.now)
    assert closed["closed_by"]["login"] == "hardening-bot[bot]"
    _, _, reopened = await api.patch(f"{ISSUES}/1", {"state": "open"})
    assert (reopened["state"], reopened["state_reason"]) == ("open", "reopened")
    assert reopened["closed_at"] is None and reopened["closed_by"] is None
    _, _, not_planned = await api.patch(
        f"{ISSUES}/1", {"state": "closed", "state_reason": "not_planned"}
    )
    assert not_planned["state_reason"] == "not_planned"


async def test_update_edits_title_body_labels_and_assignees(api: Api, sb: Sandbox) -> None:
    sb.open_issue(REPO, title="t", body="b", labels=["a", "b"])
    status, _, issue = await api.patch(
        f"{ISSUES}/1",
        {"title": "T", "body": "B", "labels": ["b", {"name": "c"}], "assignees": ["bob"]},
    )
    assert status == 200
    assert (issue["title"], issue["body"]) == ("T", "B")
    assert [lb["name"] for lb in issue["labels"]] == ["b", "c"]
    assert [u["login"] for u in issue["assignees"]] == ["bob"]


@pytest.mark.parametrize("body", [{"state": "done"}, {"state_reason": "fixed"}, {"title": ""}])
async def test_invalid_updates_are_422(api: Api, sb: Sandbox, body: dict) -> None:
    sb.open_issue(REPO, title="t")
    assert (await api.patch(f"{ISSUES}/1", body))[0] == 422


async def test_missing_issue_is_404(api: Api) -> None:
    status, _, body = await api.get(f"{ISSUES}/7")
    assert (status, body["message"]) == (404, "Not Found")


# --- comments and reactions -------------------------------------------------------------------


async def test_comment_lifecycle(api: Api, sb: Sandbox, clock: Clock) -> None:
    sb.open_issue(REPO, title="t")
    sb.add_comment(REPO, 1, "human", user="alice")
    clock.advance(30)
    status, _, mine = await api.post(f"{ISSUES}/1/comments", {"body": "<!-- tracking -->"})
    assert status == 201
    assert mine["user"]["login"] == "hardening-bot[bot]"
    assert mine["html_url"].endswith(f"/issues/1#issuecomment-{mine['id']}")
    _, _, listed = await api.get(f"{ISSUES}/1/comments")
    assert [c["body"] for c in listed] == ["human", "<!-- tracking -->"]
    _, _, recent = await api.get(f"{ISSUES}/1/comments", params={"since": iso(clock.now)})
    assert [c["id"] for c in recent] == [mine["id"]]
    status, _, edited = await api.patch(f"{ISSUES}/comments/{mine['id']}", {"body": "v2"})
    assert (status, edited["body"]) == (200, "v2")
    assert sb.issue(REPO, 1)["comments"] == 2
    status, _, body = await api.delete(f"{ISSUES}/comments/{mine['id']}")
    assert (status, body) == (204, None)
    assert (await api.patch(f"{ISSUES}/comments/{mine['id']}", {"body": "v3"}))[0] == 404
    assert [c["body"] for c in sb.comments(REPO, 1)] == ["human"]


async def test_comment_without_body_is_422(api: Api, sb: Sandbox) -> None:
    sb.open_issue(REPO, title="t")
    assert (await api.post(f"{ISSUES}/1/comments", {}))[0] == 422


async def test_comment_of_another_repository_is_404(api: Api, sb: Sandbox) -> None:
    sb.add_repo("octo/other", installation_id=INSTALLATION)
    sb.open_issue("octo/other", title="t")
    comment = sb.add_comment("octo/other", 1, "x")
    assert (await api.patch(f"{ISSUES}/comments/{comment['id']}", {"body": "y"}))[0] == 404


async def test_reaction_is_201_when_new_and_200_when_already_there(api: Api, sb: Sandbox) -> None:
    sb.open_issue(REPO, title="t")
    comment = sb.add_comment(REPO, 1, "/harden ack")
    path = f"{ISSUES}/comments/{comment['id']}/reactions"
    status, _, first = await api.post(path, {"content": "+1"})
    assert status == 201
    status, _, again = await api.post(path, {"content": "+1"})
    assert (status, again["id"]) == (200, first["id"])
    assert (await api.post(path, {"content": "party"}))[0] == 422
    assert [r["content"] for r in sb.reactions(comment["id"])] == ["+1"]
    assert sb.comments(REPO, 1)[0]["reactions"]["+1"] == 1


# --- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"labels": ["failure-class:missed-detection", "priority:P1"]},
        ["failure-class:missed-detection", "priority:P1"],
        {"labels": [{"name": "failure-class:missed-detection"}, {"name": "priority:P1"}]},
    ],
)
async def test_add_labels_accepts_every_body_form(api: Api, sb: Sandbox, body: object) -> None:
    sb.open_issue(REPO, title="t", labels=["hardening"])
    status, _, labels = await api.post(f"{ISSUES}/1/labels", body)
    assert status == 200
    assert [lb["name"] for lb in labels] == [
        "hardening",
        "failure-class:missed-detection",
        "priority:P1",
    ]


@pytest.mark.parametrize("body", [{"labels": []}, {}, {"labels": [1]}])
async def test_add_labels_rejects_empty_or_bad_bodies(api: Api, sb: Sandbox, body: object) -> None:
    sb.open_issue(REPO, title="t")
    assert (await api.post(f"{ISSUES}/1/labels", body))[0] == 422


async def test_remove_label_is_404_when_absent(api: Api, sb: Sandbox) -> None:
    sb.open_issue(REPO, title="t", labels=["failure-class:slow/recovery", "keep"])
    path = f"{ISSUES}/1/labels/"
    status, _, rest = await api.delete(path + quote("failure-class:slow/recovery", safe=""))
    assert (status, [lb["name"] for lb in rest]) == (200, ["keep"])
    status, _, body = await api.delete(path + "missing")
    assert (status, body["message"]) == (404, "Label does not exist")


async def test_create_label_conflict_is_422_already_exists(api: Api, sb: Sandbox) -> None:
    status, _, label = await api.post(
        f"/repos/{REPO}/labels", {"name": "incident", "color": "#D93F0B", "description": "x"}
    )
    assert (status, label["color"]) == (201, "d93f0b")
    status, _, body = await api.post(f"/repos/{REPO}/labels", {"name": "Incident"})
    assert status == 422
    assert body["errors"] == [{"resource": "Label", "code": "already_exists", "field": "name"}]
    assert (await api.post(f"/repos/{REPO}/labels", {"name": "x", "color": "red"}))[0] == 422
    _, _, listed = await api.get(f"/repos/{REPO}/labels")
    assert [lb["name"] for lb in listed] == ["incident"]


# --- timeline ---------------------------------------------------------------------------------


async def test_timeline_records_state_labels_comments_and_cross_references(
    api: Api, sb: Sandbox, clock: Clock
) -> None:
    sb.open_issue(REPO, title="incident", labels=["incident"], user="alice")
    clock.advance(1)
    await api.patch(f"{ISSUES}/1", {"state": "closed"})
    clock.advance(1)
    sb.update_issue(REPO, 1, state="open", user="carol")
    clock.advance(1)
    sb.add_comment(REPO, 1, "why?", user="bob")
    clock.advance(1)
    await api.post(ISSUES, {"title": "item", "body": "- Incident reference: #1"})
    status, _, events = await api.get(f"{ISSUES}/1/timeline")
    assert status == 200
    seen = [(e["event"], e["actor"]["login"]) for e in events]
    assert seen == [
        ("labeled", "alice"),
        ("closed", "hardening-bot[bot]"),
        ("reopened", "carol"),
        ("commented", "bob"),
        ("cross-referenced", "hardening-bot[bot]"),
    ]
    assert events[0]["label"] == {"name": "incident", "color": "ededed"}
    assert events[1]["state_reason"] == "completed"
    assert events[1]["performed_via_github_app"]["slug"] == "hardening-bot"
    assert events[4]["source"]["issue"]["number"] == 2
    assert events[4]["source"]["issue"]["repository"]["full_name"] == REPO


async def test_cross_reference_is_recorded_once(api: Api, sb: Sandbox) -> None:
    sb.open_issue(REPO, title="incident")
    sb.open_issue(REPO, title="item", body="#1")
    sb.add_comment(REPO, 2, "again #1 and octo/service#1")
    refs = [e for e in sb.timeline(REPO, 1) if e["event"] == "cross-referenced"]
    assert len(refs) == 1


# --- authorship: who opened, who edited, with which role ---------------------------------------


def test_an_issue_form_labels_whoever_fills_it_in_but_the_api_drops_an_outsiders(
    sb: Sandbox,
) -> None:
    form = sb.open_issue(REPO, title="form", labels=["hardening"], user="mallory")
    assert [label["name"] for label in form["labels"]] == ["hardening"]
    api = sb.open_issue(REPO, title="api", labels=["hardening"], user="bob", via="api")
    assert api["labels"] == [] and api["user"]["login"] == "bob"  # triage is not push access
    kept = sb.open_issue(REPO, title="api", labels=["hardening"], user="alice", via="api")
    assert [label["name"] for label in kept["labels"]] == ["hardening"]
    assert sb.role_of(REPO, "alice") == "maintain" and sb.role_of(REPO, "mallory") is None


def test_an_edit_payload_names_the_editor_and_what_was_there_before(sb: Sandbox) -> None:
    issue = sb.open_issue(REPO, title="t", body="before", user="mallory")
    payload = sb.edit_issue(REPO, issue["number"], body="by the author", user="mallory")
    assert payload["action"] == "edited" and payload["sender"]["login"] == "mallory"
    assert payload["changes"] == {"body": {"from": "before"}}
    assert payload["issue"]["body"] == "by the author"
    # A maintainer may edit anyone's issue; a triager (or anyone else) may not.
    by_alice = sb.edit_issue(REPO, issue["number"], body="by alice", user="alice")
    assert by_alice["changes"]["body"]["from"] == "by the author"
    for login in ("bob", "eve"):
        with pytest.raises(PermissionError):
            sb.edit_issue(REPO, issue["number"], body="no", user=login)
    assert sb.issue(REPO, issue["number"])["body"] == "by alice"


def test_who_closed_an_issue_is_kept(sb: Sandbox) -> None:
    issue = sb.open_issue(REPO, title="t", user="mallory")
    sb.add_user("stale[bot]", type="Bot")
    sb.update_issue(REPO, issue["number"], user="stale[bot]", state="closed")
    closed = sb.issue(REPO, issue["number"])
    assert closed["closed_by"]["login"] == "stale[bot]" and closed["closed_by"]["type"] == "Bot"
