"""Webhooks: payload builders for tests, and the deliveries GitHub sends when the bot writes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from conftest import Clock
from test_sandbox_support import APP_ID, HEAD, INSTALLATION, REPO, Api, app_jwt

from sandbox import Sandbox


class Sink:
    def __init__(self, status: int | None = 202, fail: bool = False) -> None:
        self.received: list[tuple[str, dict[str, Any], str | None]] = []
        self.status = status
        self.fail = fail

    async def __call__(
        self, event: str, payload: dict[str, Any], delivery_id: str | None = None
    ) -> int | None:
        self.received.append((event, payload, delivery_id))
        if self.fail:
            raise RuntimeError("bot is down")
        return self.status


# --- the bot's writes announced back ----------------------------------------------------------


async def test_writes_are_announced_to_the_sink_as_the_bot(api: Api, sb: Sandbox) -> None:
    sink = Sink()
    sb.webhook_sink = sink
    await api.post(f"/repos/{REPO}/issues", {"title": "item", "labels": ["hardening"]})
    await api.post(f"/repos/{REPO}/issues/1/comments", {"body": "tracking"})
    await api.patch(f"/repos/{REPO}/issues/1", {"state": "closed"})
    await sb.settle_webhooks()
    assert [(e, p["action"]) for e, p, _ in sink.received] == [
        ("issues", "opened"),
        ("issues", "labeled"),
        ("issue_comment", "created"),
        ("issues", "closed"),
    ]
    for _, payload, delivery_id in sink.received:
        assert payload["sender"] == sb.issue(REPO, 1)["user"]
        assert payload["installation"]["id"] == INSTALLATION
        assert delivery_id
    assert sink.received[1][1]["label"]["name"] == "hardening"
    assert sink.received[3][1]["issue"]["state"] == "closed"
    # the opened payload is a snapshot: it does not show the later close
    assert sink.received[0][1]["issue"]["state"] == "open"


async def test_pull_request_changes_are_pull_request_events(api: Api, sb: Sandbox) -> None:
    sb.open_pull(REPO, title="fix", head_sha=HEAD)
    await api.post(f"/repos/{REPO}/issues/1/labels", ["failure-class:slow-recovery"])
    await api.post(f"/repos/{REPO}/issues/1/comments", {"body": "check failed"})
    kinds = [(event, p["action"]) for event, p in sb.emitted]
    assert kinds == [("pull_request", "labeled"), ("issue_comment", "created")]
    assert "pull_request" in sb.emitted[1][1]["issue"]


async def test_edits_carry_changes_and_no_op_writes_announce_nothing(api: Api, sb: Sandbox) -> None:
    sb.open_issue(REPO, title="t", body="old", labels=["a"])
    await api.patch(f"/repos/{REPO}/issues/1", {"body": "new"})
    await api.patch(f"/repos/{REPO}/issues/1", {"body": "new", "labels": ["a"]})
    await api.post(f"/repos/{REPO}/issues/1/labels", {"labels": ["a"]})
    assert [(e, p["action"]) for e, p in sb.emitted] == [("issues", "edited")]
    assert sb.emitted[0][1]["changes"] == {"body": {"from": "old"}}


async def test_check_runs_are_announced(api: Api, sb: Sandbox) -> None:
    sb.open_pull(REPO, title="fix", head_sha=HEAD)
    _, _, run = await api.post(
        f"/repos/{REPO}/check-runs",
        {"name": "hardening/controls", "head_sha": HEAD, "status": "in_progress"},
    )
    await api.patch(f"/repos/{REPO}/check-runs/{run['id']}", {"conclusion": "success"})
    assert [(e, p["action"]) for e, p in sb.emitted] == [
        ("check_run", "created"),
        ("check_run", "completed"),
    ]
    assert sb.emitted[1][1]["check_run"]["conclusion"] == "success"


async def test_without_a_sink_nothing_is_delivered(api: Api, sb: Sandbox) -> None:
    await api.post(f"/repos/{REPO}/issues", {"title": "item"})
    await sb.settle_webhooks()
    assert len(sb.emitted) == 1
    assert sb.deliveries() == []


async def test_deliveries_are_logged_and_can_be_redelivered(
    client: TestClient, api: Api, sb: Sandbox, app_keys: tuple[str, str], clock: Clock
) -> None:
    sink = Sink(status=202)
    sb.webhook_sink = sink
    await api.post(f"/repos/{REPO}/issues", {"title": "item"})
    await sb.settle_webhooks()
    auth = {"Authorization": f"Bearer {app_jwt(app_keys[0], now=clock.now)}"}
    response = await client.get("/app/hook/deliveries", headers=auth)
    (delivery,) = await response.json()
    assert (delivery["event"], delivery["action"], delivery["status_code"]) == (
        "issues",
        "opened",
        202,
    )
    assert delivery["guid"] == sink.received[0][2]
    response = await client.post(f"/app/hook/deliveries/{delivery['id']}/attempts", headers=auth)
    assert response.status == 202
    await sb.settle_webhooks()
    assert sink.received[1][2] == sink.received[0][2]  # same delivery id, as GitHub redelivers
    assert [d["redelivery"] for d in sb.deliveries()] == [False, True]
    missing = await client.post("/app/hook/deliveries/1/attempts", headers=auth)
    assert missing.status == 404


async def test_a_failing_sink_is_a_failed_delivery(api: Api, sb: Sandbox) -> None:
    sink = Sink(fail=True)
    sb.webhook_sink = sink
    await api.post(f"/repos/{REPO}/issues", {"title": "item"})
    await sb.settle_webhooks()
    (delivery,) = sb.deliveries()
    assert delivery["status_code"] == 502
    assert delivery["status"] != "OK"
    assert isinstance(sb.emitter.errors[0], RuntimeError)


async def test_sink_without_delivery_id_parameter(api: Api, sb: Sandbox) -> None:
    seen: list[str] = []

    async def plain(event: str, payload: dict[str, Any]) -> None:
        seen.append(event)

    sb.webhook_sink = plain
    await api.post(f"/repos/{REPO}/issues", {"title": "item"})
    await sb.settle_webhooks()
    assert seen == ["issues"]


async def test_delivery_log_pages_with_a_cursor(
    client: TestClient, sb: Sandbox, app_keys: tuple[str, str], clock: Clock
) -> None:
    sb.open_issue(REPO, title="t")
    for _ in range(3):
        sb.record_delivery("issues", sb.issue_event(REPO, 1, "opened"))
    auth = {"Authorization": f"Bearer {app_jwt(app_keys[0], now=clock.now)}"}
    first = await client.get("/app/hook/deliveries?per_page=2", headers=auth)
    assert len(await first.json()) == 2
    next_url = first.headers["Link"].split(";")[0].strip("<>")
    second = await client.get(next_url.split(str(client.make_url("")))[-1], headers=auth)
    assert len(await second.json()) == 1


# --- builders ---------------------------------------------------------------------------------


def test_issue_event_reflects_current_state(sb: Sandbox) -> None:
    sb.open_issue(REPO, title="incident", labels=["incident"])
    sb.update_issue(REPO, 1, state="closed", user="alice")
    payload = sb.issue_event(REPO, 1, "closed", sender="alice")
    assert payload["action"] == "closed"
    assert payload["issue"]["state"] == "closed"
    assert payload["issue"]["closed_by"]["login"] == "alice"
    assert payload["sender"]["login"] == "alice"
    assert payload["installation"] == {"id": INSTALLATION, "node_id": payload.installation.node_id}
    assert payload["repository"]["owner"]["login"] == "octo"
    labeled = sb.issue_event(REPO, 1, "labeled", label="incident")
    assert labeled["label"]["name"] == "incident"


def test_issue_comment_event_defaults_sender_to_author(sb: Sandbox) -> None:
    sb.open_issue(REPO, title="item")
    comment = sb.add_comment(REPO, 1, "/harden verify", user="bob")
    payload = sb.issue_comment_event(REPO, 1, comment.id)
    assert payload.sender.login == "bob"
    assert payload.comment.body == "/harden verify"
    assert payload.comment.author_association == "COLLABORATOR"


def test_pull_request_synchronize_has_before_and_after(sb: Sandbox) -> None:
    sb.open_pull(REPO, title="fix", head_sha=HEAD, user="alice")
    sb.push_pull(REPO, 1, head_sha="b" * 40, files=[{"filename": "tests/test_a.py"}])
    payload = sb.pull_request_event(REPO, 1, "synchronize")
    assert (payload["before"], payload["after"]) == (HEAD, "b" * 40)
    assert payload["pull_request"]["head"]["sha"] == "b" * 40
    assert payload["sender"]["login"] == "alice"
    merged = sb.merge_pull(REPO, 1)
    assert merged["merged"] is True and merged["merge_commit_sha"]
    closed = sb.pull_request_event(REPO, 1, "closed")
    assert closed["pull_request"]["merged"] is True


def test_returned_json_reads_as_attributes_and_edits_in_place(sb: Sandbox) -> None:
    issue = sb.open_issue(REPO, title="t", labels=["incident"])
    assert issue.number == issue["number"] == 1
    assert issue.labels[0].name == "incident"
    payload = sb.issue_event(REPO, 1, "opened")
    payload["issue"]["title"] = "edited by the test"
    assert payload.issue.title == "edited by the test"
    with pytest.raises(AttributeError):
        _ = issue.no_such_field


def test_payload_urls_follow_api_url(sb: Sandbox) -> None:
    sb.open_issue(REPO, title="t")
    assert sb.issue_event(REPO, 1, "opened")["issue"]["url"].startswith("https://api.github.com/")
    sb.api_url = "http://127.0.0.1:9999"
    assert sb.issue_event(REPO, 1, "opened")["issue"]["url"] == (
        f"http://127.0.0.1:9999/repos/{REPO}/issues/1"
    )


async def test_serve_on_loopback(sb: Sandbox) -> None:
    sb.open_issue(REPO, title="t")
    async with sb.serve() as base:
        assert base.startswith("http://127.0.0.1:")
        assert sb.api_url == base
        async with aiohttp.ClientSession() as session:
            token = sb.installation_token(INSTALLATION)
            async with session.get(
                f"{base}/repos/{REPO}/issues/1", headers={"Authorization": f"token {token}"}
            ) as response:
                assert response.status == 200
                assert (await response.json())["url"] == f"{base}/repos/{REPO}/issues/1"
    assert sb.api_url == "https://api.github.com"


def test_sandbox_generates_a_key_when_given_none() -> None:
    sb = Sandbox(app_id=APP_ID)
    assert sb.private_key_pem and "PRIVATE KEY" in sb.private_key_pem
