"""Hostile input through the real webhook endpoint against the sandbox, tried as an attacker
would (docs/hostile-input.md): text that would stall, poison or amplify the bot."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from bot.web import INBOX
from rules.item_template import parse_item
from rules.linked_pulls import hardens_numbers
from sandbox import Sandbox

FINDINGS = """\
### Findings

- missed detection: pager did not fire for checkout 5xx
"""


def hardening_issues(sandbox: Sandbox, repo: str) -> list[dict[str, Any]]:
    return [i for i in sandbox.issues(repo) if "hardening" in {lb["name"] for lb in i["labels"]}]


async def failed(bot_app: Any) -> int:
    return (await bot_app[INBOX].stats()).failed


async def test_a_5000_digit_marker_gets_a_2xx_and_other_incidents_keep_working(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any, bot_app: Any
):
    huge = "9" * 5_000
    body = (
        f"<!-- hardening-bot:item incident={huge} finding=x -->\n"
        "### Hardening Item\n"
        f"- Incident reference: #{huge}\n"
        "- Failure class: missed-detection\n"
        "- Status: open\n"
    )
    hostile = sandbox.open_issue(repo, title="x", body=body, labels=("hardening",))
    for action in ("opened", "edited"):
        response = await deliver("issues", sandbox.issue_event(repo, hostile["number"], action))
        assert response.status == 202
    await drain()

    incident = sandbox.open_issue(repo, title="Outage", body=FINDINGS, labels=("incident",))
    response = await deliver("issues", sandbox.issue_event(repo, incident["number"], "opened"))
    assert response.status == 202
    await drain()

    made = [i for i in hardening_issues(sandbox, repo) if i["number"] != hostile["number"]]
    assert len(made) == 1
    item = parse_item(made[0]["body"]).item
    assert item is not None and item.incident == incident["number"]
    assert await failed(bot_app) == 0


async def test_a_payload_whose_subject_cannot_be_derived_is_still_stored(
    sandbox: Sandbox, repo: str, deliver: Any, bot_app: Any, monkeypatch: pytest.MonkeyPatch
):
    import bot.web

    def broken(event: str, payload: dict[str, Any]) -> str:
        raise ValueError("unreadable")

    monkeypatch.setattr(bot.web, "subject_for", broken)
    issue = sandbox.open_issue(repo, title="x", body="y")
    response = await deliver(
        "issues", sandbox.issue_event(repo, issue["number"], "opened"), delivery_id="d-1"
    )
    assert response.status == 202
    stored = await bot_app[INBOX].get("d-1")
    assert stored is not None and stored.subject == repo


async def test_a_65000_tab_pull_request_body_is_read_in_linear_time(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any
):
    body = "Hardens #1" + "\t" * 65_000
    started = time.process_time()
    assert hardens_numbers(body) == (1,)
    # Quadratic reading took ~7 s of CPU here; linear takes milliseconds.
    assert time.process_time() - started < 1.0

    pull = sandbox.open_pull(repo, title="fix", body=body)
    ping = await asyncio.gather(
        deliver("pull_request", sandbox.pull_request_event(repo, pull["number"], "opened")),
        deliver("ping", {"zen": "Keep it logically awesome.", "hook_id": 1}),
    )
    assert [r.status for r in ping] == [202, 200]
    await drain()


def requests_since(sandbox: Sandbox, start: int) -> list[Any]:
    """GitHub requests the bot made since ``start`` (minting a token is not one)."""
    return [c for c in sandbox.calls[start:] if not c.path.endswith("/access_tokens")]


async def test_2000_hardens_references_cost_at_most_60_requests_and_the_rest_is_reported(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any
):
    incident = sandbox.open_issue(repo, title="Outage", body=FINDINGS, labels=("incident",))
    await deliver("issues", sandbox.issue_event(repo, incident["number"], "opened"))
    await drain()
    (item,) = hardening_issues(sandbox, repo)
    refs = ", ".join(f"#{n}" for n in range(item["number"], item["number"] + 2_000))
    pull = sandbox.open_pull(repo, title="alerts", body=f"Hardens {refs}")
    start = len(sandbox.calls)
    response = await deliver(
        "pull_request", sandbox.pull_request_event(repo, pull["number"], "opened")
    )
    assert response.status == 202
    await drain()
    assert len(requests_since(sandbox, start)) <= 60
    item_reads = {
        c.path
        for c in requests_since(sandbox, start)
        if c.method == "GET" and re.fullmatch(r"/repos/octo/repo/issues/\d+", c.path)
    }
    # The incident (for the tracking comment) and the first 20 references, nothing beyond.
    assert len(item_reads) <= 21
    assert f"/repos/octo/repo/issues/{item['number'] + 20}" not in item_reads
    (scorecard,) = [r for r in sandbox.check_runs(repo) if r["name"] == "hardening/scorecard"]
    summary = scorecard["output"]["summary"]
    assert "Only the first 20 `Hardens #N` references are read" in summary
    assert "1980 more were not read" in summary


async def test_300_findings_open_at_most_50_issues_and_the_rest_is_reported(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any
):
    body = "### Findings\n\n" + "".join(
        f"- missed detection: pager {n} did not fire\n" for n in range(300)
    )
    incident = sandbox.open_issue(repo, title="Outage", body=body, labels=("incident",))
    response = await deliver("issues", sandbox.issue_event(repo, incident["number"], "opened"))
    assert response.status == 202
    await drain(within=60)
    assert len(hardening_issues(sandbox, repo)) == 50
    (tracking,) = [
        c
        for c in sandbox.comments(repo, incident["number"])
        if "hardening-bot:tracking" in c["body"]
    ]
    assert "#### Findings beyond the limit" in tracking["body"]
    assert "250 more have no item" in tracking["body"]
    assert "pager 50 did not fire" in tracking["body"]
    assert "… and 230 more" in tracking["body"]
    # Another delivery of the same incident creates nothing more.
    await deliver("issues", sandbox.issue_event(repo, incident["number"], "edited"))
    await drain(within=60)
    assert len(hardening_issues(sandbox, repo)) == 50


def written_texts(sandbox: Sandbox, start: int = 0) -> list[str]:
    """Every title, body and check run text the bot sent to GitHub since ``start``."""
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    for call in sandbox.calls[start:]:
        if call.method != "GET" and not call.path.endswith("/access_tokens"):
            walk(call.json)
    return texts


async def test_a_team_mention_in_a_finding_mentions_no_one(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any
):
    body = "### Findings\n\n- missed detection: pager skipped @acme/everyone and @carol\n"
    incident = sandbox.open_issue(repo, title="Outage for @acme/everyone", body=body,
                                  labels=("incident",))  # fmt: skip
    await deliver("issues", sandbox.issue_event(repo, incident["number"], "opened"))
    await drain()
    (item,) = hardening_issues(sandbox, repo)
    assert "acme/everyone" in item["title"] and "acme/everyone" in item["body"]
    texts = written_texts(sandbox)
    assert any("acme/everyone" in t for t in texts)
    assert [t for t in texts if re.search(r"(?<![A-Za-z0-9_])@(acme|carol)\b", t)] == []


async def test_mentions_in_commands_are_copied_inert(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any
):
    sandbox.set_permission(repo, "alice", "write")
    incident = sandbox.open_issue(repo, title="Outage", body=FINDINGS, labels=("incident",))
    await deliver("issues", sandbox.issue_event(repo, incident["number"], "opened"))
    await drain()
    (item,) = hardening_issues(sandbox, repo)
    start = len(sandbox.calls)
    comment = sandbox.add_comment(
        repo,
        item["number"],
        "/harden evidence https://ci.example.com/run/1 implementation paged @acme/everyone\n"
        "/harden owner @acme/everyone @bob\n"
        "/harden evidence https://x.example.com/a)](https://evil.example/) test\n",
        user="alice",
    )
    await deliver("issue_comment", sandbox.issue_comment_event(repo, item["number"], comment["id"]))
    await drain()
    texts = written_texts(sandbox, start)
    assert any("paged @\u200bacme/everyone" in t for t in texts)  # the note was recorded
    assert [t for t in texts if re.search(r"(?<![A-Za-z0-9_])@acme\b", t)] == []
    assert any("would break out of a Markdown link" in t for t in texts)
    assert "evil.example" not in sandbox.issue(repo, item["number"])["body"]


async def test_a_deleted_command_comment_finishes_its_delivery_without_holding_the_queue(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any, bot_app: Any
):
    incident = sandbox.open_issue(repo, title="Outage", body=FINDINGS, labels=("incident",))
    await deliver("issues", sandbox.issue_event(repo, incident["number"], "opened"))
    await drain()
    (item,) = hardening_issues(sandbox, repo)
    comment = sandbox.add_comment(repo, item["number"], "/harden status", user="alice")
    payload = sandbox.issue_comment_event(repo, item["number"], comment["id"])
    sandbox.delete_comment(repo, comment["id"], user="alice")

    await deliver("issue_comment", payload, delivery_id="deleted-command")
    later = sandbox.add_comment(repo, item["number"], "/harden status", user="alice")
    await deliver(
        "issue_comment",
        sandbox.issue_comment_event(repo, item["number"], later["id"]),
        delivery_id="next-command",
    )
    await drain()

    gone = await bot_app[INBOX].get("deleted-command")
    assert gone is not None and gone.status == "done" and gone.attempts == 1
    assert (await bot_app[INBOX].get("next-command")).status == "done"
    assert await failed(bot_app) == 0
    # The later command in the same queue was answered.
    replies = [c for c in sandbox.comments(repo, item["number"]) if c["id"] > later["id"]]
    assert len(replies) == 1


async def test_a_404_for_something_else_still_retries(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any, bot_app: Any
):
    incident = sandbox.open_issue(repo, title="Outage", body=FINDINGS, labels=("incident",))
    await deliver("issues", sandbox.issue_event(repo, incident["number"], "opened"))
    await drain()
    (item,) = hardening_issues(sandbox, repo)
    comment = sandbox.add_comment(repo, item["number"], "/harden status", user="alice")
    sandbox.inject("POST", r"/reactions$", status=404, times=1)
    await deliver(
        "issue_comment",
        sandbox.issue_comment_event(repo, item["number"], comment["id"]),
        delivery_id="transient",
    )
    await drain()
    stored = await bot_app[INBOX].get("transient")
    assert stored is not None and stored.status == "done" and stored.attempts == 2


# -- intake ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"zen": 1' + b"0" * 5_000 + b"}",  # an int json.loads refuses, a float to orjson
        b'{"a": NaN}',
        b'{"a": Infinity}',
        b'{"a": "\\ud800"}',
        b"\xef\xbb\xbf{}",
        b'{"a": 1e400}',
        b'{"a": "caf\xc3\xa9"}',
        b'{"a": "\xff"}',
    ],
)
async def test_intake_and_workers_decode_the_same_documents(
    body: bytes, deliver: Any, drain: Any, bot_app: Any
):
    from bot.payloads import loads

    response = await deliver("meta", body, delivery_id="doc")
    stored = await bot_app[INBOX].get("doc")
    if response.status == 400:
        assert stored is None
        return
    assert response.status == 202 and stored is not None
    await drain()
    assert stored.data() == loads(body)
    assert (await bot_app[INBOX].get("doc")).status == "done"


async def test_an_unsigned_event_header_cannot_grow_the_metric_labels(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any, bot_app: Any
):
    from bot.web import METRICS

    payload = {"zen": "Design for failure.", "hook_id": 1}
    for n in range(50):
        await deliver(f"made-up-{n}", payload)
        await deliver(f"made-up-{n}", b"not json")
    await drain()
    text = bot_app[METRICS].render()
    assert "made-up" not in text
    assert 'event="other"' in text


async def test_request_bodies_held_at_once_are_bounded(deliver: Any, bot_app: Any):
    from bot.web import BODY_BUDGET

    budget = bot_app[BODY_BUDGET]
    payload = {"zen": "x" * 1_000, "hook_id": 1}
    # Other requests' bodies are being read and fill the budget but for 500 bytes.
    others = budget.limit - 500
    assert budget.take(others)
    try:
        refused = await deliver("ping", payload)
        assert refused.status == 503 and refused.headers["Retry-After"] == "1"
        assert budget.used == others  # a refused request holds nothing
    finally:
        budget.give(others)
    accepted = await deliver("ping", payload)
    assert accepted.status == 200
    assert budget.used == 0  # each request gives back what it held


async def test_an_inbox_that_fails_the_integrity_check_is_reported_at_start(tmp_path: Any):
    from bot.inbox import Inbox

    path = tmp_path / "inbox.db"
    box = Inbox(path)
    await box.open()
    for n in range(300):
        await box.store(f"d{n}", "issues", b'{"x": "' + b"y" * 2_000 + b'"}', subject=f"s{n}")
    await box.close()
    data = bytearray(path.read_bytes())
    for offset in range(4096 * 3, len(data), 4096 * 7):  # damage some pages, keep the header
        data[offset + 100 : offset + 400] = bytes(range(256)) + bytes(44)
    path.write_bytes(bytes(data))

    damaged = Inbox(path)
    with pytest.raises(RuntimeError, match="fails SQLite's integrity check"):
        await damaged.open()


async def test_an_item_linked_from_more_pull_requests_than_the_limit_says_so(
    sandbox: Sandbox, repo: str, deliver: Any, drain: Any
):
    sandbox.put_file(repo, ".github/hardening.yml", "limits: {linked_pulls_per_item: 2}\n")
    incident = sandbox.open_issue(repo, title="Outage", body=FINDINGS, labels=("incident",))
    await deliver("issues", sandbox.issue_event(repo, incident["number"], "opened"))
    await drain()
    (item,) = hardening_issues(sandbox, repo)
    pulls = [
        sandbox.open_pull(
            repo,
            title=f"alerts {n}",
            body=f"Hardens #{item['number']}",
            head=f"feature-{n}",
            head_sha=f"{n:040x}",
        )
        for n in range(1, 5)
    ]
    start = len(sandbox.calls)
    await deliver("pull_request", sandbox.pull_request_event(repo, pulls[-1]["number"], "opened"))
    await drain()
    pull_reads = {
        c.path
        for c in requests_since(sandbox, start)
        if re.fullmatch(r"/repos/octo/repo/pulls/\d+", c.path)
    }
    assert len(pull_reads) <= 3  # its own, and two linked ones
    (scorecard,) = [
        r
        for r in sandbox.check_runs(repo, pulls[-1]["head"]["sha"])
        if r["name"] == "hardening/scorecard"
    ]
    assert "More pull requests link this item than the 2 read" in scorecard["output"]["summary"]
