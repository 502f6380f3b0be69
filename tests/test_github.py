"""The GitHub App client against the sandbox: tokens, ETags, retries, rate limits, GHES, dry run.

No test really sleeps: the client's ``sleep`` is a fake that advances a fake clock.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import cachetools
import gidgethub
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from conftest import INSTALLATION_ID
from multidict import CIMultiDict

from bot.github import API_VERSION, GitHubApp, RetryPolicy, parse_timestamp
from bot.metrics import Metrics
from bot.settings import Settings
from sandbox import Sandbox


class FakeTime:
    """A clock and a sleep that advances it; ``sleeps`` records every wait."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def client(settings: Settings, fake: FakeTime) -> AsyncIterator[GitHubApp]:
    app = GitHubApp(settings, clock=fake, sleep=fake.sleep, random=lambda: 0.5)
    yield app
    await app.close()


def issue_path(number: int) -> str:
    return f"/repos/octo/repo/issues/{number}"


def tokens_minted(sandbox: Sandbox) -> list[Any]:
    """The installation tokens the App asked GitHub for."""
    return [c for c in sandbox.calls if c.method == "POST" and c.path.endswith("/access_tokens")]


async def test_installation_token_cached_until_five_minutes_before_expiry(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    first = await client.installation_api(INSTALLATION_ID)
    token = first.oauth_token
    await client.installation_api(INSTALLATION_ID)
    minted = tokens_minted(sandbox)
    assert len(minted) == 1 and minted[0].status == 201
    expires_at = parse_timestamp(minted[0].response["expires_at"])

    fake.now = expires_at - 301  # still more than five minutes left
    assert (await client.installation_api(INSTALLATION_ID)).oauth_token == token
    assert len(tokens_minted(sandbox)) == 1

    fake.now = expires_at - 299  # inside the margin: refresh before GitHub expires it
    refreshed = await client.installation_api(INSTALLATION_ID)
    assert len(tokens_minted(sandbox)) == 2
    assert refreshed is first  # same client: rate-limit state and ETag cache survive
    assert refreshed.oauth_token != token
    issue = sandbox.open_issue(repo, title="T")
    assert (await refreshed.getitem(issue_path(issue.number)))["title"] == "T"


async def test_concurrent_first_use_mints_one_token(
    sandbox: Sandbox, repo: str, client: GitHubApp
) -> None:
    await asyncio.gather(*(client.installation_api(INSTALLATION_ID) for _ in range(10)))
    assert len(tokens_minted(sandbox)) == 1


async def test_unauthorized_drops_the_cached_token(
    sandbox: Sandbox, repo: str, client: GitHubApp
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    sandbox.inject("GET", r"/issues/1$", status=401, body={"message": "Bad credentials"})
    with pytest.raises(gidgethub.BadRequest):
        await gh.getitem(issue_path(1))
    await client.installation_api(INSTALLATION_ID)
    assert len(tokens_minted(sandbox)) == 2


async def test_app_jwt_and_bot_login(sandbox: Sandbox, client: GitHubApp) -> None:
    assert await client.bot_login() == "hardening-bot[bot]"
    assert await client.bot_login() == "hardening-bot[bot]"
    app_calls = [c for c in sandbox.calls if c.path == "/app"]
    assert len(app_calls) == 1
    assert app_calls[0].headers["authorization"].lower().startswith("bearer ")


async def test_api_version_header_on_every_request(
    sandbox: Sandbox, repo: str, client: GitHubApp
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    await gh.getitem(issue_path(issue.number))
    await gh.post(issue_path(issue.number) + "/comments", data={"body": "hi"})
    assert sandbox.calls
    assert all(c.headers.get("x-github-api-version") == API_VERSION for c in sandbox.calls)
    assert all(c.headers.get("user-agent") == "hardening-bot" for c in sandbox.calls)


async def test_etag_cache_makes_rereads_free(
    sandbox: Sandbox, repo: str, client: GitHubApp
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    first = await gh.getitem(issue_path(issue.number))
    second = await gh.getitem(issue_path(issue.number))
    assert first == second
    statuses = [c.status for c in sandbox.calls if c.path == issue_path(issue.number)]
    assert statuses == [200, 304]
    assert client.metrics.github_calls.get(method="GET", status="304") == 1
    # A change is seen: the ETag no longer matches.
    sandbox.update_issue(repo, issue.number, title="T2")
    assert (await gh.getitem(issue_path(issue.number)))["title"] == "T2"


async def test_etag_caches_are_per_installation(
    sandbox: Sandbox, repo: str, client: GitHubApp
) -> None:
    sandbox.add_installation("other", id=77)
    sandbox.add_repo("other/repo", installation_id=77)
    a = await client.installation_api(INSTALLATION_ID)
    b = await client.installation_api(77)
    assert a._cache is not b._cache


async def test_get_retried_on_5xx_with_backoff(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    sandbox.inject("GET", rf"/issues/{issue.number}$", status=502, times=2)
    assert (await gh.getitem(issue_path(issue.number)))["title"] == "T"
    # full jitter with random()=0.5: 0.5 * 1, 0.5 * 2
    assert fake.sleeps == [0.5, 1.0]
    assert client.metrics.github_calls.get(method="GET", status="502") == 2


async def test_5xx_gives_up_after_the_retries(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    sandbox.inject("GET", r"/issues/1$", status=503, times=None)
    with pytest.raises(gidgethub.GitHubBroken):
        await gh.getitem(issue_path(1))
    assert len(fake.sleeps) == RetryPolicy().retries


async def test_post_not_resent_after_a_5xx(sandbox: Sandbox, repo: str, client: GitHubApp) -> None:
    # A 502 on a POST may have created the comment; the delivery's retry (idempotent writes)
    # is the safe place to try again, not a blind resend.
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    sandbox.inject("POST", r"/comments$", status=502)
    with pytest.raises(gidgethub.GitHubBroken):
        await gh.post(issue_path(issue.number) + "/comments", data={"body": "x"})
    assert len([c for c in sandbox.calls if c.method == "POST" and "comments" in c.path]) == 1


async def test_timeout_retried(
    sandbox: Sandbox, repo: str, make_settings: Callable[..., Settings], fake: FakeTime
) -> None:
    settings = make_settings(api_url=sandbox.api_url, github_timeout=0.2)
    client = GitHubApp(settings, clock=fake, sleep=fake.sleep, random=lambda: 0.5)
    try:
        gh = await client.installation_api(INSTALLATION_ID)
        issue = sandbox.open_issue(repo, title="slow")
        sandbox.inject("GET", rf"/issues/{issue.number}$", status=None, delay=1.0)
        assert (await gh.getitem(issue_path(issue.number)))["title"] == "slow"
        assert client.metrics.github_calls.get(method="GET", status="error") == 1
        assert fake.sleeps == [0.5]
    finally:
        await client.close()


async def test_connection_errors_retried_then_raised(
    make_settings: Callable[..., Settings], unused_tcp_port: int, fake: FakeTime
) -> None:
    settings = make_settings(api_url=f"http://127.0.0.1:{unused_tcp_port}")
    client = GitHubApp(settings, clock=fake, sleep=fake.sleep, random=lambda: 1.0)
    try:
        with pytest.raises(aiohttp.ClientConnectorError):
            await client.app_api().getitem("/app")
        assert fake.sleeps == [1.0, 2.0, 4.0]
        assert client.metrics.github_calls.get(method="GET", status="error") == 4
    finally:
        await client.close()


async def test_primary_rate_limit_waits_until_reset(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    sandbox.clock = fake
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    sandbox.set_rate_limit(INSTALLATION_ID, remaining=1, reset_in=120)
    await gh.getitem(issue_path(issue.number))  # uses the last request of the window
    assert client.metrics.rate_limit_remaining.get(installation=str(INSTALLATION_ID)) == 0
    await gh.getitem(issue_path(issue.number) + "/comments")
    assert len(fake.sleeps) == 1 and 119 <= fake.sleeps[0] <= 122
    assert [c.status for c in sandbox.calls if c.method == "GET"][-2:] == [200, 200]


async def test_primary_rate_limit_403_waits_and_retries(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    sandbox.clock = fake
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    # Exhausted by someone else (another process): we learn it from the 403.
    sandbox.set_rate_limit(INSTALLATION_ID, remaining=0, reset_in=30)
    assert (await gh.getitem(issue_path(issue.number)))["title"] == "T"
    assert len(fake.sleeps) == 1 and 29 <= fake.sleeps[0] <= 32


async def test_secondary_rate_limit_honours_retry_after(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    sandbox.inject("POST", r"/comments$", status=403, headers={"Retry-After": "17"})
    await gh.post(issue_path(issue.number) + "/comments", data={"body": "x"})
    assert fake.sleeps == [17.0]
    assert len(sandbox.comments(repo, issue.number)) == 1


async def test_secondary_rate_limit_without_retry_after_waits_a_minute_doubling(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    sandbox.inject("GET", rf"/issues/{issue.number}$", status=429, times=2)
    await gh.getitem(issue_path(issue.number))
    assert fake.sleeps == [60.0, 120.0]


async def test_secondary_403_message_without_headers(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    issue = sandbox.open_issue(repo, title="T")
    sandbox.inject("GET", rf"/issues/{issue.number}$", status=403)  # GitHub's secondary text
    await gh.getitem(issue_path(issue.number))
    assert fake.sleeps == [60.0]


async def test_permission_403_is_an_error_not_a_wait(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    sandbox.inject(
        "GET", r"/issues/1$", status=403, body={"message": "Resource not accessible by integration"}
    )
    with pytest.raises(gidgethub.BadRequest) as info:
        await gh.getitem(issue_path(1))
    assert info.value.status_code == 403
    assert fake.sleeps == []


async def test_rate_limit_retries_are_bounded(
    sandbox: Sandbox, repo: str, client: GitHubApp, fake: FakeTime
) -> None:
    gh = await client.installation_api(INSTALLATION_ID)
    sandbox.inject("GET", r"/issues/1$", status=429, times=None, headers={"Retry-After": "5"})
    with pytest.raises(gidgethub.BadRequest):
        await gh.getitem(issue_path(1))
    assert fake.sleeps == [5.0] * RetryPolicy().rate_limit_retries


async def test_dry_run_sends_reads_and_records_writes(
    sandbox: Sandbox, repo: str, settings: Settings, fake: FakeTime
) -> None:
    client = GitHubApp(settings, dry_run=True, clock=fake, sleep=fake.sleep)
    try:
        gh = await client.installation_api(INSTALLATION_ID)
        issue = sandbox.open_issue(repo, title="T")
        sandbox.reset_calls()
        assert (await gh.getitem(issue_path(issue.number)))["title"] == "T"
        created = await gh.post(issue_path(issue.number) + "/comments", data={"body": "x"})
        assert created["dry_run"] is True and created["body"] == "x"
        await gh.patch(issue_path(issue.number), data={"state": "closed"})
        await gh.delete(issue_path(issue.number) + "/labels/x")
        assert sandbox.writes() == []
        assert [str(c) for c in client.recorded] == [
            f'POST {issue_path(issue.number)}/comments {{"body": "x"}}',
            f'PATCH {issue_path(issue.number)} {{"state": "closed"}}',
            f"DELETE {issue_path(issue.number)}/labels/x",
        ]
    finally:
        await client.close()


# --- GitHub Enterprise Server: REST under /api/v3, GraphQL at /api/graphql ---------------------


@pytest.fixture
async def ghes(aiohttp_server: Callable[..., Any], sandbox: Sandbox) -> AsyncIterator[TestServer]:
    """The sandbox mounted as GHES mounts its API, plus a recording GraphQL endpoint."""
    graphql_calls: list[dict[str, Any]] = []

    async def graphql(request: web.Request) -> web.Response:
        body = await request.json()
        graphql_calls.append({"headers": CIMultiDict(request.headers), "json": body})
        return web.json_response({"data": {"viewer": {"login": "hardening-bot[bot]"}}})

    outer = web.Application()
    outer.router.add_post("/api/graphql", graphql)
    outer.add_subapp("/api/v3/", sandbox.make_app())
    server = await aiohttp_server(outer)
    server.graphql_calls = graphql_calls
    yield server


async def test_ghes_rest_and_graphql_urls(
    ghes: TestServer, sandbox: Sandbox, repo: str, make_settings: Callable[..., Settings]
) -> None:
    base = str(ghes.make_url("/api/v3/"))
    settings = make_settings(api_url=base.rstrip("/"))
    assert settings.graphql_url == str(ghes.make_url("/api/graphql"))
    client = GitHubApp(settings)
    try:
        gh = await client.installation_api(INSTALLATION_ID)
        issue = sandbox.open_issue(repo, title="on GHES")
        assert (await gh.getitem(f"/repos/octo/repo/issues/{issue.number}"))["title"] == "on GHES"
        paths = [c.path for c in sandbox.calls]
        assert paths[0] == f"/api/v3/app/installations/{INSTALLATION_ID}/access_tokens"
        assert paths[-1] == f"/api/v3/repos/octo/repo/issues/{issue.number}"

        data = await gh.graphql("query { viewer { login } }")
        assert data == {"viewer": {"login": "hardening-bot[bot]"}}
        (call,) = ghes.graphql_calls  # type: ignore[attr-defined]
        assert call["headers"]["X-GitHub-Api-Version"] == API_VERSION
        assert call["headers"]["Authorization"] == f"token {gh.oauth_token}"
    finally:
        await client.close()


def test_parse_timestamp() -> None:
    assert parse_timestamp("2016-07-11T22:14:10Z") == 1468275250.0
    with pytest.raises(ValueError):
        parse_timestamp("2016-07-11T22:14:10")


def test_calls_counted_in_the_shared_registry(settings: Settings) -> None:
    metrics = Metrics()
    assert GitHubApp(settings, metrics=metrics).metrics is metrics


@pytest.mark.parametrize("allowed", [1, 3])
async def test_one_installations_requests_are_gated(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch, allowed: int
) -> None:
    in_flight, peak, paths = 0, 0, []

    async def exchange(
        self: Any, method: str, url: str, headers: Any, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        nonlocal in_flight, peak
        if url.endswith("/access_tokens"):
            token = b'{"token": "ghs_t", "expires_at": "2099-01-01T00:00:00Z"}'
            return 201, {"content-type": "application/json"}, token
        in_flight += 1
        peak = max(peak, in_flight)
        paths.append(url)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return 200, {"content-type": "application/json"}, b"{}"

    monkeypatch.setattr(gidgethub.aiohttp.GitHubAPI, "_request", exchange)
    client = GitHubApp(make_settings(github_concurrency=allowed))
    try:
        gh = await client.installation_api(INSTALLATION_ID)
        other = await client.installation_api(INSTALLATION_ID + 1)
        await asyncio.gather(*(gh.getitem(f"/repos/o/r/issues/{n}") for n in range(1, 5)))
        assert (len(paths), peak) == (4, allowed)
        # Each installation has its own gate: another one's requests do not queue behind.
        paths.clear()
        peak = 0
        await asyncio.gather(
            gh.getitem("/repos/o/r/issues/9"), other.getitem("/repos/p/q/issues/9")
        )
        assert (len(paths), peak) == (2, 2)
    finally:
        await client.close()


async def test_a_rate_limited_answer_pauses_the_installations_other_requests(
    sandbox: Sandbox, repo: str, make_settings: Callable[..., Settings], fake: FakeTime
) -> None:
    released = asyncio.Event()
    slept = [asyncio.Event(), asyncio.Event()]

    async def sleep(seconds: float) -> None:
        fake.sleeps.append(seconds)
        if len(fake.sleeps) <= len(slept):
            slept[len(fake.sleeps) - 1].set()
        if len(fake.sleeps) == 1:
            await released.wait()  # the limited request sits out its Retry-After here
        fake.now += seconds

    settings = make_settings(api_url=sandbox.api_url, github_concurrency=2)
    client = GitHubApp(settings, clock=fake, sleep=sleep, random=lambda: 0.5)
    try:
        gh = await client.installation_api(INSTALLATION_ID)
        limited, other = sandbox.open_issue(repo, title="A"), sandbox.open_issue(repo, title="B")
        sandbox.inject(
            "GET", rf"/issues/{limited.number}$", status=429, headers={"Retry-After": "17"}
        )
        first = asyncio.ensure_future(gh.getitem(issue_path(limited.number)))
        await asyncio.wait_for(slept[0].wait(), timeout=5)
        second = asyncio.ensure_future(gh.getitem(issue_path(other.number)))
        await asyncio.wait_for(slept[1].wait(), timeout=5)
        # A free slot, yet the other request waits out the same pause before it is sent.
        assert fake.sleeps == [17.0, 17.0]
        released.set()
        assert (await first)["title"] == "A" and (await second)["title"] == "B"
    finally:
        await client.close()


async def test_a_rebuilt_client_takes_turns_through_the_same_gate(
    sandbox: Sandbox, repo: str, client: GitHubApp
) -> None:
    sandbox.add_installation("other", id=INSTALLATION_ID + 1)
    client._apis = cachetools.LRUCache(maxsize=1)  # as with 1024 other installations active
    before = await client.installation_api(INSTALLATION_ID)
    await client.installation_api(INSTALLATION_ID + 1)  # evicts the first client
    after = await client.installation_api(INSTALLATION_ID)
    assert after is not before
    assert after._gate is before._gate  # one installation, one queue, whichever client sends
