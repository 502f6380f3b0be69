"""The web shell (docs/operations.md#http) and the processing path from a stored delivery to the handlers."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import types
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from conftest import INSTALLATION_ID, WEBHOOK_SECRET, Deliver, Drain, make_deliver, make_drain
from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

import bot.handlers
import bot.web
from bot.context import ConfigCache, Context
from bot.github import GitHubApp
from bot.metrics import Metrics
from bot.replay import replay
from bot.settings import Settings
from bot.web import (
    INBOX,
    MAX_BODY_BYTES,
    METRICS,
    create_app,
    sign,
    verify_signature,
)
from bot.writes import upsert_comment
from rules.markers import comment_marker as marker
from sandbox import Sandbox

ISSUE_PAYLOAD = {
    "action": "opened",
    "issue": {"number": 1, "body": "x"},
    "repository": {"full_name": "octo/repo"},
    "installation": {"id": INSTALLATION_ID},
}


@pytest.fixture
def handlers(monkeypatch: pytest.MonkeyPatch) -> Router:
    """A router for this test only, installed as the bot's handler router."""
    router = Router()
    monkeypatch.setattr(bot.handlers, "router", router)
    return router


@pytest.fixture
async def idle_client(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> TestClient[web.Request, web.Application]:
    """The app with workers stopped: deliveries stay in the inbox for inspection."""
    return await aiohttp_client(create_app(make_settings(), start_workers=False))


async def test_only_the_serving_process_freezes_its_startup_heap(
    aiohttp_client: Callable[..., Any],
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(bot.web.gc, "collect", lambda: calls.append("collect"))
    monkeypatch.setattr(bot.web.gc, "freeze", lambda: calls.append("freeze"))
    await aiohttp_client(create_app(make_settings(), start_workers=False))
    assert calls == []
    client = await aiohttp_client(
        create_app(make_settings(), start_workers=False, freeze_heap=True)
    )
    assert calls == ["collect", "freeze"]
    assert (await client.get("/healthz")).status == 200  # started, inbox open, then frozen


# --- authentication and validation --------------------------------------------------------------


async def test_signed_delivery_is_stored_before_the_202(
    idle_client: TestClient[web.Request, web.Application],
) -> None:
    deliver = make_deliver(idle_client)
    response = await deliver("issues", ISSUE_PAYLOAD, delivery_id="d-1")
    assert response.status == 202
    assert (await response.json())["status"] == "queued"
    stored = await idle_client.app[INBOX].get("d-1")
    assert stored is not None
    assert (stored.event, stored.action, stored.subject) == ("issues", "opened", "octo/repo#1")
    assert stored.installation_id == INSTALLATION_ID and stored.repository == "octo/repo"
    assert stored.data() == ISSUE_PAYLOAD


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no signature at all
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "sha256=nothex"},
        {"X-Hub-Signature-256": sign("another-secret", b"{}")},
        {"X-Hub-Signature-256": "md5=abc"},
    ],
)
async def test_bad_or_missing_signature_is_401(
    idle_client: TestClient[web.Request, web.Application], headers: dict[str, str]
) -> None:
    deliver = make_deliver(idle_client)
    response = await deliver("issues", ISSUE_PAYLOAD, secret=None, headers=headers)
    assert response.status == 401
    assert (await idle_client.app[INBOX].stats()).pending == 0


async def test_the_401_log_line_names_the_delivery(
    idle_client: TestClient[web.Request, web.Application], caplog: pytest.LogCaptureFixture
) -> None:
    deliver = make_deliver(idle_client)
    with caplog.at_level("WARNING", logger="bot.web"):
        response = await deliver(
            "issues", ISSUE_PAYLOAD, secret="wrong", delivery_id="72d3162e-cc78-11e3"
        )
    assert response.status == 401
    [line] = [r for r in caplog.records if "rejected" in r.getMessage()]
    assert line.delivery == "72d3162e-cc78-11e3"  # type: ignore[attr-defined]


async def test_sha1_signature_alone_is_not_accepted(
    idle_client: TestClient[web.Request, web.Application],
) -> None:
    import hashlib
    import hmac

    body = json.dumps(ISSUE_PAYLOAD).encode()
    sha1 = "sha1=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha1).hexdigest()
    deliver = make_deliver(idle_client)
    response = await deliver("issues", body, secret=None, headers={"X-Hub-Signature": sha1})
    assert response.status == 401


async def test_signature_checked_over_the_exact_bytes(
    idle_client: TestClient[web.Request, web.Application],
) -> None:
    body = json.dumps(ISSUE_PAYLOAD).encode()
    signature = sign(WEBHOOK_SECRET, body)
    deliver = make_deliver(idle_client)
    tampered = body.replace(b"opened", b"closed")
    response = await deliver(
        "issues", tampered, secret=None, headers={"X-Hub-Signature-256": signature}
    )
    assert response.status == 401


def test_verify_signature() -> None:
    assert verify_signature("s", b"x", sign("s", b"x"))
    assert not verify_signature("s", b"x", None)
    assert not verify_signature("", b"x", sign("", b"x"))  # no secret: nothing is valid
    assert not verify_signature("s", b"x", sign("s", b"x").upper())
    assert not verify_signature("s", b"x", "sha256=\u00e9")


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
async def test_malformed_body_is_400(
    idle_client: TestClient[web.Request, web.Application], body: bytes
) -> None:
    response = await make_deliver(idle_client)("issues", body)
    assert response.status == 400


@pytest.mark.parametrize("missing", ["X-GitHub-Event", "X-GitHub-Delivery"])
async def test_missing_headers_are_400(
    idle_client: TestClient[web.Request, web.Application], missing: str
) -> None:
    response = await make_deliver(idle_client)("issues", ISSUE_PAYLOAD, headers={missing: ""})
    assert response.status == 400


async def test_body_over_25_mib_is_413(
    idle_client: TestClient[web.Request, web.Application],
) -> None:
    body = b'{"pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    response = await make_deliver(idle_client)("issues", body)
    assert response.status == 413


async def test_body_over_25_mib_streamed_without_length_is_413(
    idle_client: TestClient[web.Request, web.Application],
) -> None:
    async def chunks() -> Any:
        for _ in range(26):
            yield b"x" * (1024 * 1024)

    response = await idle_client.post(
        "/webhook",
        data=chunks(),
        headers={"X-GitHub-Event": "issues", "X-GitHub-Delivery": "big"},
    )
    assert response.status == 413


async def test_body_of_exactly_25_mib_is_accepted(
    idle_client: TestClient[web.Request, web.Application],
) -> None:
    prefix, suffix = b'{"pad": "', b'"}'
    body = prefix + b"x" * (MAX_BODY_BYTES - len(prefix) - len(suffix)) + suffix
    assert len(body) == MAX_BODY_BYTES
    response = await make_deliver(idle_client)("push", body)
    assert response.status == 202


async def test_ping_is_200_and_not_stored(
    idle_client: TestClient[web.Request, web.Application],
) -> None:
    response = await make_deliver(idle_client)("ping", {"zen": "Keep it logically awesome."})
    assert response.status == 200
    assert (await response.json())["zen"] == "Keep it logically awesome."
    assert (await idle_client.app[INBOX].stats()).pending == 0


async def test_other_events_are_stored_with_2xx(
    idle_client: TestClient[web.Request, web.Application],
) -> None:
    response = await make_deliver(idle_client)("star", {"action": "created"})
    assert response.status == 202


# --- duplicates -------------------------------------------------------------------------------


async def test_duplicate_delivery_id_is_200_and_processed_once(
    bot_client: TestClient[web.Request, web.Application],
    deliver: Deliver,
    drain: Drain,
    handlers: Router,
    repo: str,
) -> None:
    seen: list[str] = []

    @handlers.register("push")
    async def on_push(event: Event, gh: GitHubAPI, ctx: Context) -> None:
        seen.append(event.delivery_id)

    payload = {
        "ref": "refs/heads/main",
        "repository": {"full_name": "octo/repo"},
        "installation": {"id": INSTALLATION_ID},
    }
    assert (await deliver("push", payload, delivery_id="dup")).status == 202
    await drain()
    again = await deliver("push", payload, delivery_id="dup")
    assert again.status == 200
    assert (await again.json())["status"] == "duplicate"
    await drain()
    assert seen == ["dup"]


async def test_concurrent_duplicates_processed_once(
    bot_client: TestClient[web.Request, web.Application],
    deliver: Deliver,
    drain: Drain,
    handlers: Router,
    repo: str,
) -> None:
    seen: list[str] = []

    @handlers.register("push")
    async def on_push(event: Event, gh: GitHubAPI, ctx: Context) -> None:
        seen.append(event.delivery_id)

    payload = {
        "ref": "refs/heads/main",
        "repository": {"full_name": "octo/repo"},
        "installation": {"id": INSTALLATION_ID},
    }
    responses = await asyncio.gather(
        *(deliver("push", payload, delivery_id="same") for _ in range(12))
    )
    assert sorted(r.status for r in responses) == [200] * 11 + [202]
    await drain()
    assert seen == ["same"]


# --- processing ---------------------------------------------------------------------------------


async def test_delivery_reaches_handlers_with_installation_client_and_context(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, handlers: Router
) -> None:
    contexts: list[Context] = []

    @handlers.register("issues", action="opened")
    async def on_opened(event: Event, gh: GitHubAPI, ctx: Context) -> None:
        contexts.append(ctx)
        number = event.data["issue"]["number"]
        await upsert_comment(
            gh, "octo", "repo", number, marker("hello"), "hi", bot_login=ctx.bot_login
        )

    issue = sandbox.open_issue(repo, title="incident", body="x")
    payload = sandbox.issue_event(repo, issue.number, "opened")
    assert (await deliver("issues", payload, delivery_id="p-1")).status == 202
    await drain()
    (ctx,) = contexts
    assert ctx.bot_login == "hardening-bot[bot]"
    assert ctx.delivery_id == "p-1"
    assert ctx.log.extra["subject"] == f"octo/repo#{issue.number}"  # type: ignore[index]
    assert ctx.now().tzinfo is not None
    (comment,) = sandbox.comments(repo, issue.number)
    assert comment.user.login == "hardening-bot[bot]"


async def test_unhandled_events_cost_no_github_call(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, handlers: Router
) -> None:
    issue = sandbox.open_issue(repo, title="t")
    sandbox.reset_calls()
    assert (await deliver("issues", sandbox.issue_event(repo, issue.number, "opened"))).status
    await drain()
    assert sandbox.calls == []


async def test_failures_retried_then_parked_visible_in_healthz_and_metrics(
    sandbox: Sandbox,
    repo: str,
    bot_client: TestClient[web.Request, web.Application],
    deliver: Deliver,
    drain: Drain,
    handlers: Router,
) -> None:
    attempts: list[int] = []

    @handlers.register("issues")
    async def always_fails(event: Event, gh: GitHubAPI, ctx: Context) -> None:
        attempts.append(1)
        raise RuntimeError("handler is broken")

    issue = sandbox.open_issue(repo, title="t")
    await deliver("issues", sandbox.issue_event(repo, issue.number, "opened"))
    await drain()
    assert len(attempts) == 3  # max_attempts in the test settings
    health = await (await bot_client.get("/healthz")).json()
    assert health["inbox"]["failed"] == 1 and health["inbox"]["pending"] == 0
    text = await (await bot_client.get("/metrics")).text()
    assert 'hardening_deliveries_total{event="issues",outcome="failed"} 1' in text
    assert 'hardening_deliveries_total{event="issues",outcome="retry"} 2' in text
    assert "hardening_inbox_failed 1" in text
    (parked,) = await bot_client.app[INBOX].failed()
    assert parked.last_error == "RuntimeError: handler is broken"


async def test_github_outage_during_processing_is_retried(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, handlers: Router, bot_app: Any
) -> None:
    @handlers.register("issues", action="opened")
    async def comment(event: Event, gh: GitHubAPI, ctx: Context) -> None:
        number = event.data["issue"]["number"]
        await upsert_comment(gh, "octo", "repo", number, marker("m"), "x", bot_login=ctx.bot_login)

    issue = sandbox.open_issue(repo, title="t")
    # The POST fails twice: not resent by the client, so the delivery retries as a whole.
    sandbox.inject("POST", r"/comments$", status=502, times=2)
    await deliver("issues", sandbox.issue_event(repo, issue.number, "opened"))
    await drain()
    assert len(sandbox.comments(repo, issue.number)) == 1
    metrics = bot_app[METRICS]
    assert metrics.deliveries.get(event="issues", outcome="retry") == 2
    assert metrics.github_calls.get(method="POST", status="502") == 2


# --- health and metrics -------------------------------------------------------------------------


async def test_healthz_shape(idle_client: TestClient[web.Request, web.Application]) -> None:
    await make_deliver(idle_client)("push", {"ref": "x"})
    response = await idle_client.get("/healthz")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "ok"
    assert set(body["inbox"]) >= {"pending", "failed", "oldest_pending_seconds"}
    assert body["inbox"]["pending"] == 1


async def test_metrics_text(idle_client: TestClient[web.Request, web.Application]) -> None:
    await make_deliver(idle_client)("push", {"ref": "x"})
    await make_deliver(idle_client)("push", {"ref": "x"}, secret="wrong")
    response = await idle_client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    for name in (
        "# TYPE hardening_deliveries_total counter",
        'hardening_deliveries_total{event="push",outcome="stored"} 1',
        'hardening_deliveries_total{event="unverified",outcome="rejected"} 1',
        "# TYPE hardening_delivery_processing_seconds histogram",
        "# TYPE hardening_github_calls_total counter",
        "# TYPE hardening_github_rate_limit_remaining gauge",
        "hardening_inbox_pending 1",
        "hardening_inbox_failed 0",
    ):
        assert name in text


def test_metrics_rendering() -> None:
    metrics = Metrics()
    metrics.processing_seconds.observe(0.02, event="issues")
    metrics.processing_seconds.observe(100.0, event="issues")
    metrics.shadow_would_fail.inc(repo='o/"r"', failure_class="slow-recovery")
    metrics.rate_limit_remaining.set(4999, installation="1")
    text = metrics.render()
    assert 'hardening_delivery_processing_seconds_bucket{event="issues",le="0.025"} 1' in text
    assert 'hardening_delivery_processing_seconds_bucket{event="issues",le="+Inf"} 2' in text
    assert 'hardening_delivery_processing_seconds_count{event="issues"} 2' in text
    assert 'hardening_delivery_processing_seconds_sum{event="issues"} 100.02' in text
    assert 'repo="o/\\"r\\""' in text
    assert 'hardening_github_rate_limit_remaining{installation="1"} 4999' in text
    same = metrics.counter("hardening_shadow_would_fail_total", "x", ("repo", "failure_class"))
    assert same is metrics.shadow_would_fail
    with pytest.raises(ValueError):
        metrics.gauge("hardening_shadow_would_fail_total", "x")
    with pytest.raises(ValueError):
        metrics.deliveries.inc(event="x")  # missing label
    with pytest.raises(ValueError):
        metrics.deliveries.inc(-1, event="x", outcome="y")


# --- factory, Sentry, logs ---------------------------------------------------------------------


def test_factory_has_no_side_effects_until_started(
    make_settings: Callable[..., Settings], tmp_path: Any
) -> None:
    settings = make_settings(database_path=tmp_path / "never" / "bot.db")
    app = create_app(settings)
    assert isinstance(app, web.Application)
    assert not (tmp_path / "never").exists()


def test_sentry_initialised_only_with_a_dsn(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []
    fake = types.SimpleNamespace(init=lambda **kwargs: calls.append(kwargs))
    monkeypatch.setitem(sys.modules, "sentry_sdk", fake)
    monkeypatch.setitem(
        sys.modules,
        "sentry_sdk.integrations.aiohttp",
        types.SimpleNamespace(AioHttpIntegration=lambda: "aiohttp"),
    )
    create_app(make_settings())
    assert calls == []
    create_app(make_settings(sentry_dsn="https://k@sentry.example/1"))
    (call,) = calls
    assert call["dsn"] == "https://k@sentry.example/1"
    assert call["send_default_pii"] is False
    assert callable(call["before_send"])


# --- configuration through the context ---------------------------------------------------------


@pytest.fixture
def fake_rules_config(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, str | None]]]:
    """Stands in for rules.config.load_config, recording the layers it is given."""
    seen: list[list[tuple[str, str | None]]] = []

    def load_config(layers: list[tuple[str, str | None]]) -> Any:
        seen.append(list(layers))
        return types.SimpleNamespace(config={"layers": layers}, errors=())

    module = types.ModuleType("rules.config")
    module.load_config = load_config  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "rules.config", module)
    return seen


async def test_config_layers_org_then_repo(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings, fake_rules_config: list[Any]
) -> None:
    sandbox.add_repo("octo/.github", installation_id=INSTALLATION_ID)
    sandbox.put_file("octo/.github", "hardening.yml", "mode: shadow\n")
    sandbox.put_file(repo, ".github/hardening.yml", "mode: enforce\n")
    ctx = _context(settings)
    result = await ctx.config(gh, "octo", "repo")
    assert result.errors == ()
    assert fake_rules_config == [
        [
            ("octo/.github/hardening.yml", "mode: shadow\n"),
            (".github/hardening.yml", "mode: enforce\n"),
        ]
    ]
    # cached briefly: no second fetch
    sandbox.reset_calls()
    assert await ctx.config(gh, "Octo", "Repo") is result
    assert sandbox.calls == []


async def test_config_absent_files_and_ref(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings, fake_rules_config: list[Any]
) -> None:
    sha = sandbox.add_commit(repo)
    sandbox.put_file(repo, ".github/hardening.yml", "mode: warn\n", ref=sha)
    ctx = _context(settings)
    await ctx.config(gh, "octo", "repo")
    await ctx.config(gh, "octo", "repo", ref=sha)
    assert fake_rules_config == [
        [("octo/.github/hardening.yml", None), (".github/hardening.yml", None)],
        [("octo/.github/hardening.yml", None), (".github/hardening.yml", "mode: warn\n")],
    ]
    refs = [c.query.get("ref") for c in sandbox.calls if "contents" in c.path]
    assert sha in refs


async def test_the_next_delivery_reads_a_changed_file_at_once(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings, fake_rules_config: list[Any]
) -> None:
    configs = ConfigCache()  # shared by deliveries, as in the app
    sandbox.put_file(repo, ".github/hardening.yml", "mode: warn\n")
    first = await _context(settings, configs).config(gh, "octo", "repo")
    sandbox.put_file(repo, ".github/hardening.yml", "mode: enforce\n")
    changed = await _context(settings, configs).config(gh, "octo", "repo")
    assert changed is not first
    assert fake_rules_config[-1][1] == (".github/hardening.yml", "mode: enforce\n")
    # An unchanged file is a conditional re-read (304) and its parse is reused.
    sandbox.reset_calls()
    again = await _context(settings, configs).config(gh, "octo", "repo")
    assert again is changed and len(fake_rules_config) == 2
    statuses = sorted(c.status for c in sandbox.calls if "/contents/" in c.path)
    assert statuses == [304, 404], statuses  # the org file is absent


def _context(settings: Settings, configs: ConfigCache | None = None) -> Context:
    from bot.context import bound_log

    return Context(
        settings=settings,
        metrics=Metrics(),
        log=bound_log("test"),
        bot_login="hardening-bot[bot]",
        configs=configs or ConfigCache(),
    )


# --- replay -------------------------------------------------------------------------------------


async def test_replay_dry_run_prints_writes_and_makes_none(
    sandbox: Sandbox, repo: str, settings: Settings, handlers: Router
) -> None:
    @handlers.register("issues", action="opened")
    async def on_opened(event: Event, gh: GitHubAPI, ctx: Context) -> None:
        number = event.data["issue"]["number"]
        await upsert_comment(gh, "octo", "repo", number, marker("r"), "hi", bot_login=ctx.bot_login)

    issue = sandbox.open_issue(repo, title="t")
    body = json.dumps(sandbox.issue_event(repo, issue.number, "opened")).encode()
    out = io.StringIO()
    github = GitHubApp(settings, dry_run=True)
    try:
        code = await replay(settings, "issues", body, "r-1", dry_run=True, github=github, out=out)
    finally:
        await github.close()
    assert code == 0
    assert sandbox.writes() == [c for c in sandbox.writes() if c.path.endswith("access_tokens")]
    assert sandbox.comments(repo, issue.number) == []
    text = out.getvalue()
    assert "1 write(s) not sent" in text
    assert f"POST /repos/octo/repo/issues/{issue.number}/comments" in text

    real = io.StringIO()
    assert await replay(settings, "issues", body, "r-2", out=real) == 0
    assert len(sandbox.comments(repo, issue.number)) == 1


async def test_replay_dry_run_says_why_would_be_issues_show_as_number_zero(
    sandbox: Sandbox, repo: str, settings: Settings, handlers: Router
) -> None:
    @handlers.register("issues", action="opened")
    async def on_opened(event: Event, gh: GitHubAPI, ctx: Context) -> None:
        created = await gh.post("/repos/octo/repo/issues", data={"title": "item"})
        number = event.data["issue"]["number"]
        await gh.post(
            f"/repos/octo/repo/issues/{number}/comments", data={"body": f"- #{created['number']}"}
        )

    issue = sandbox.open_issue(repo, title="t")
    body = json.dumps(sandbox.issue_event(repo, issue.number, "opened")).encode()
    out = io.StringIO()
    github = GitHubApp(settings, dry_run=True)
    try:
        assert (
            await replay(settings, "issues", body, "r-3", dry_run=True, github=github, out=out) == 0
        )
    finally:
        await github.close()
    text = out.getvalue()
    assert "2 write(s) not sent" in text and "- #0" in text
    assert "issues it would create have no number yet: later writes show them as #0" in text


async def test_replay_reports_failure(settings: Settings, handlers: Router, repo: str) -> None:
    @handlers.register("push")
    async def boom(event: Event, gh: GitHubAPI, ctx: Context) -> None:
        raise RuntimeError("nope")

    out = io.StringIO()
    github = GitHubApp(settings)
    body = json.dumps({"ref": "x", "installation": {"id": INSTALLATION_ID}}).encode()
    try:
        code = await replay(settings, "push", body, str(uuid.uuid4()), github=github, out=out)
    finally:
        await github.close()
    assert code == 1 and "RuntimeError: nope" in out.getvalue()


async def test_replay_of_an_event_nothing_handles_says_so(
    sandbox: Sandbox, settings: Settings
) -> None:
    out = io.StringIO()
    body = json.dumps({"action": "created", "starred_at": None}).encode()
    assert await replay(settings, "star", body, "r-star", out=out) == 0
    text = out.getvalue()
    assert text.startswith("nothing handles star.created: replaying it would do nothing")
    assert "issues.opened" in text and "issue_comment.created" in text
    assert sandbox.calls == []  # not even a token was asked for


async def test_drain_helper_reports_a_stuck_inbox(
    aiohttp_client: Callable[..., Any], make_settings: Callable[..., Settings]
) -> None:
    client = await aiohttp_client(create_app(make_settings(), start_workers=False))
    await make_deliver(client)("push", {"ref": "x"})
    with pytest.raises(TimeoutError, match="did not drain"):
        await make_drain(client.app)(within=0.05)
