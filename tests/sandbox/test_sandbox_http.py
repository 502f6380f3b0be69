"""HTTP behaviour shared by every route: rate limits, ETags, pagination, recording, faults, and
the loud 501 for anything the sandbox does not implement."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import Clock
from gidgethub.aiohttp import GitHubAPI
from test_sandbox_support import HEAD, INSTALLATION, REPO, Api, seeded

from sandbox import Sandbox

# --- rate limits ------------------------------------------------------------------------------


async def test_rate_limit_headers_count_down(api: Api, clock: Clock) -> None:
    _, first, _ = await api.get(f"/repos/{REPO}")
    _, second, _ = await api.get(f"/repos/{REPO}/issues")
    assert first["x-ratelimit-limit"] == "5000"
    assert first["x-ratelimit-resource"] == "core"
    assert int(first["x-ratelimit-reset"]) == int(clock.now + 3600)
    assert int(second["x-ratelimit-remaining"]) == int(first["x-ratelimit-remaining"]) - 1
    assert int(second["x-ratelimit-used"]) == int(first["x-ratelimit-used"]) + 1


async def test_search_has_its_own_bucket(api: Api) -> None:
    _, headers, _ = await api.get("/search/issues", params={"q": f"repo:{REPO}"})
    assert headers["x-ratelimit-resource"] == "search"
    assert headers["x-ratelimit-limit"] == "30"


async def test_an_empty_bucket_answers_403_until_reset(api: Api, sb: Sandbox, clock: Clock) -> None:
    sb.set_rate_limit(INSTALLATION, remaining=0, reset_in=120)
    status, headers, body = await api.get(f"/repos/{REPO}")
    assert status == 403
    assert body["message"].startswith(f"API rate limit exceeded for installation ID {INSTALLATION}")
    assert headers["x-ratelimit-remaining"] == "0"
    assert int(headers["x-ratelimit-reset"]) == int(clock.now + 120)
    clock.advance(121)
    assert (await api.get(f"/repos/{REPO}"))[0] == 200


# --- conditional requests ---------------------------------------------------------------------


async def test_etag_304_does_not_count_against_the_limit(api: Api, sb: Sandbox) -> None:
    status, headers, _ = await api.get(f"/repos/{REPO}/issues")
    etag, remaining = headers["ETag"], int(headers["x-ratelimit-remaining"])
    assert status == 200 and etag.startswith('W/"')
    status, again, body = await api.get(f"/repos/{REPO}/issues", headers={"If-None-Match": etag})
    assert (status, body) == (304, None)
    assert int(again["x-ratelimit-remaining"]) == remaining
    assert again["ETag"] == etag
    sb.open_issue(REPO, title="new")
    status, changed, _ = await api.get(f"/repos/{REPO}/issues", headers={"If-None-Match": etag})
    assert status == 200
    assert changed["ETag"] != etag


# --- pagination -------------------------------------------------------------------------------


async def test_link_header_pagination(api: Api, sb: Sandbox) -> None:
    for n in range(5):
        sb.open_issue(REPO, title=f"issue {n}")
    status, headers, page1 = await api.get(
        f"/repos/{REPO}/issues", params={"per_page": "2", "sort": "created", "direction": "asc"}
    )
    assert status == 200 and [i["title"] for i in page1] == ["issue 0", "issue 1"]
    links = dict(
        (part.split("; ")[1][5:-1], part.split("; ")[0][1:-1])
        for part in headers["Link"].split(", ")
    )
    assert set(links) == {"next", "last"}
    assert "page=2" in links["next"] and "page=3" in links["last"]
    assert "direction=asc" in links["next"]
    _, headers3, page3 = await api.get(links["last"].split(str(api.client.make_url("")))[-1])
    assert [i["title"] for i in page3] == ["issue 4"]
    assert 'rel="prev"' in headers3["Link"] and 'rel="first"' in headers3["Link"]


async def test_single_page_has_no_link_header(api: Api) -> None:
    _, headers, _ = await api.get(f"/repos/{REPO}/issues")
    assert "Link" not in headers


async def test_per_page_is_capped_at_100_and_files_at_3000(api: Api, sb: Sandbox) -> None:
    files = [
        {"filename": f"src/f{n}.py", "status": "modified", "additions": 1, "deletions": 0}
        for n in range(3500)
    ]
    sb.open_pull(REPO, title="huge", head_sha=HEAD, files=files)
    _, headers, first = await api.get(f"/repos/{REPO}/pulls/1/files", params={"per_page": "500"})
    assert len(first) == 100
    assert "page=30" in headers["Link"].split(", ")[-1]
    _, _, last = await api.get(
        f"/repos/{REPO}/pulls/1/files", params={"per_page": "100", "page": "30"}
    )
    _, _, beyond = await api.get(
        f"/repos/{REPO}/pulls/1/files", params={"per_page": "100", "page": "31"}
    )
    assert last[-1]["filename"] == "src/f2999.py"
    assert beyond == []


async def test_gidgethub_getiter_follows_links(
    aiohttp_server: Callable[..., Awaitable[TestServer]], app_keys: tuple[str, str]
) -> None:
    sb = seeded(app_keys[1])
    for n in range(7):
        sb.open_issue(REPO, title=f"issue {n}")
    server = await aiohttp_server(sb.app)
    async with aiohttp.ClientSession() as session:
        gh = GitHubAPI(
            session,
            "test",
            oauth_token=sb.installation_token(INSTALLATION),
            base_url=str(server.make_url("")).rstrip("/"),
        )
        titles = [i["title"] async for i in gh.getiter(f"/repos/{REPO}/issues?per_page=3")]
    assert len(titles) == 7
    assert len([c for c in sb.calls if c.operation == "issues/list-for-repo"]) == 3


# --- recording and unknown routes -------------------------------------------------------------


async def test_calls_are_recorded_with_body_status_and_operation(api: Api, sb: Sandbox) -> None:
    await api.get(f"/repos/{REPO}/issues", params={"state": "all"})
    await api.post(f"/repos/{REPO}/issues", {"title": "t", "labels": ["hardening"]})
    get, post = sb.calls
    assert (get.method, get.path, get.query, get.status) == (
        "GET",
        f"/repos/{REPO}/issues",
        {"state": "all"},
        200,
    )
    assert get.operation == "issues/list-for-repo"
    assert post.json == {"title": "t", "labels": ["hardening"]}
    assert post.response["number"] == 1
    assert post.headers["authorization"].startswith("token ghs_")
    assert sb.writes() == [post]
    sb.reset_calls()
    assert sb.calls == [] and sb.unknown_calls == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/repos/{REPO}/pulls"),
        ("PUT", f"/repos/{REPO}/issues/1/labels"),
        ("POST", "/graphql"),
    ],
)
async def test_unknown_routes_fail_loudly(api: Api, sb: Sandbox, method: str, path: str) -> None:
    status, _, body = await api.call(method, path, {"query": "{}"} if method != "GET" else None)
    assert status == 501
    assert f"no route for {method} {path}" in body["message"]
    assert "GET /repos/{owner}/{repo}/issues" in body["message"]
    assert [(c.method, c.path) for c in sb.unknown_calls] == [(method, path)]
    assert sb.calls[-1].status == 501


async def test_malformed_json_is_400(client: TestClient, sb: Sandbox) -> None:
    response = await client.post(
        f"/repos/{REPO}/issues",
        data=b"{not json",
        headers={"Authorization": f"token {sb.installation_token(INSTALLATION)}"},
    )
    assert response.status == 400
    assert (await response.json())["message"] == "Problems parsing JSON"


# --- faults -----------------------------------------------------------------------------------


async def test_injected_503_fires_once_then_github_recovers(api: Api, sb: Sandbox) -> None:
    sb.inject("GET", r"/issues$")
    status, _, body = await api.get(f"/repos/{REPO}/issues")
    assert (status, body["message"]) == (503, "Service Unavailable")
    assert sb.calls[-1].injected
    assert (await api.get(f"/repos/{REPO}/issues"))[0] == 200


async def test_injected_429_with_retry_after(api: Api, sb: Sandbox) -> None:
    sb.inject("POST", r"/comments$", status=429, headers={"Retry-After": "7"})
    sb.open_issue(REPO, title="x")
    status, headers, body = await api.post(f"/repos/{REPO}/issues/1/comments", {"body": "hi"})
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert "secondary rate limit" in body["message"]
    assert sb.comments(REPO, 1) == []


async def test_injected_403_secondary_limit_repeats_until_spent(api: Api, sb: Sandbox) -> None:
    sb.inject("*", r"^/repos/octo/service$", status=403, times=2)
    assert [(await api.get(f"/repos/{REPO}"))[0] for _ in range(3)] == [403, 403, 200]


async def test_injected_fault_with_custom_body_and_method_filter(api: Api, sb: Sandbox) -> None:
    sb.inject("POST", r"/issues$", status=502, body="<html>Bad gateway</html>", times=None)
    assert (await api.get(f"/repos/{REPO}/issues"))[0] == 200
    response = await api.client.post(f"/repos/{REPO}/issues", json={"title": "x"})
    assert response.status == 502
    assert await response.text() == "<html>Bad gateway</html>"
    again = await api.client.post(f"/repos/{REPO}/issues", json={"title": "x"})
    assert again.status == 502
    assert sb.issues(REPO) == []


async def test_slow_answer_then_normal_response(api: Api, sb: Sandbox) -> None:
    sb.inject("GET", r"/issues$", status=None, delay=0.2)
    started = time.monotonic()
    status, _, _ = await api.get(f"/repos/{REPO}/issues")
    assert status == 200
    assert time.monotonic() - started >= 0.2


async def test_slow_answer_can_be_abandoned_by_a_client_timeout(api: Api, sb: Sandbox) -> None:
    sb.inject("GET", r"/issues$", status=None, delay=5)
    with pytest.raises(asyncio.TimeoutError):
        await api.client.get(
            f"/repos/{REPO}/issues",
            headers=api.headers(),
            timeout=aiohttp.ClientTimeout(total=0.1),
        )
