"""Shared fixtures: the GitHub sandbox, the bot wired to it, and helpers to feed it webhooks.

The usual handler test reads like what happens in production::

    async def test_tracking_comment(sandbox, repo, deliver, drain):
        issue = sandbox.open_issue(repo, title="DB outage", body="...", labels=("incident",))
        response = await deliver("issues", sandbox.issue_event(repo, issue.number, "opened"))
        assert response.status == 202
        await drain()                      # the workers processed everything stored
        assert [c.method for c in sandbox.writes()] == ["POST"]

Fixtures (all function-scoped unless noted):

``app_keys`` (session)  the App's ``(private_pem, public_pem)``, generated once per run.
``make_settings``      ``make_settings(**overrides) -> Settings`` with test defaults: a temp
                       SQLite file, fast retries (max 3 attempts, backoff <= 50 ms), 1 s grace.
``sandbox``            the ``sandbox.Sandbox`` (GitHub's REST API stand-in), served on a
                       loopback port; inspect ``sandbox.calls`` / ``sandbox.writes()``, inject
                       faults with ``sandbox.inject(...)``.
``repo``               ``"octo/repo"``, seeded in the sandbox with installation ``INSTALLATION_ID``
                       (account ``octo``); payload builders add the ``installation`` object.
``settings``           ``make_settings()`` pointed at the sandbox.
``github``             a ``GitHubApp`` (the bot's client) pointed at the sandbox.
``quick_github``       the same, but its retries do not wait (``sleep=no_wait``): the sandbox
                       answers at once, so a test of retried failures need not sleep.
``gh``                 ``await github.installation_api(INSTALLATION_ID)``: the client a handler
                       gets for ``repo`` (depends on ``repo``).
``scope``              ``bot.scope.Scope`` of ``repo`` over ``gh``, its context's trust ``trust``.
``bot_client``         an aiohttp ``TestClient`` for ``create_app(settings)`` with workers running.
``bot_app``            that client's ``web.Application`` (``bot_app[INBOX]``, ``[WORKERS]``...).
``deliver``            ``await deliver(event, payload, *, delivery_id=None, secret=None,
                       headers=None)`` signs the JSON body like GitHub and POSTs it to /webhook;
                       returns the response (202 stored, 200 duplicate...).
``drain``              ``await drain()`` returns once no delivery is pending or processing (and
                       raises if that takes more than 10 s, showing the inbox state).
``world``              a typed ``World``: ``sandbox``, ``repo``, ``deliver``, ``drain`` and the
                       bot's ``app`` together; ``await world.send(event, payload)`` delivers
                       and drains, ``await world.scope()`` is the ``Scope`` a handler gets.
``make_world``         ``await make_world(**overrides)``: the same for a bot whose settings differ
                       from ``settings`` by ``overrides`` (use instead of ``world``);
                       ``world_of(client, sandbox)`` wraps a bot a test serves itself.
``clock``              a settable :class:`Clock` (epoch seconds) for code that takes a clock.
``inbox``              an opened ``bot.inbox.Inbox`` on a temp file, timed by ``clock``.
``database``           an opened ``bot.inbox.Database``, once per backend (SQLite, PostgreSQL on
                       a schema of its own from ``postgres_url``, skipped without a server).

Helpers for handler tests: ``OWNED_ITEM`` (an item with owners and a due date), ``item_of``
(the item an issue holds now), ``changes`` (the writes the bot made on GitHub) and
``await handler_api(bot_app)`` (the ``(gh, ctx)`` a worker hands a handler). For inbox tests:
``claim``, ``next_due`` and ``mark_done`` step an ``Inbox`` the way the workers do.

For the sandbox's own tests (``test_sandbox_*.py``, helpers in ``test_sandbox_support.py``):

``sb``                 a seeded ``Sandbox`` (two installations, people, a team, a config file)
                       timed by ``clock``, not served; ``client``: an aiohttp ``TestClient`` for
                       it; ``api``: requests with an installation token for ``octo/service``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import settings as hypothesis_settings

from bot.context import Context, bound_log
from bot.github import GitHubAPI, GitHubApp
from bot.inbox import Database, Delivery, Inbox, open_database
from bot.metrics import Metrics
from bot.records import Trust, key_from_secret
from bot.scope import Scope
from bot.settings import Settings
from bot.web import (
    GITHUB,
    INBOX,
    LINKS,
    METRICS,
    RECORDS,
    SETTINGS,
    WORKERS,
    create_app,
    sign,
)
from rules.item_template import parse_item
from rules.model import HardeningItem

if TYPE_CHECKING:
    from test_sandbox_support import Api

    from sandbox import Sandbox

# Property tests: a quick pass while developing, a thorough one in CI (which sets CI=true).
# No deadline: a slow shared machine must not turn a correct example into a failure.
hypothesis_settings.register_profile("quick", max_examples=50, deadline=None)
hypothesis_settings.register_profile("thorough", max_examples=500, deadline=None)
hypothesis_settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE")
    or ("thorough" if os.environ.get("CI", "").lower() == "true" else "quick")
)

WEBHOOK_SECRET = "test-webhook-secret"
APP_ID = 1
INSTALLATION_ID = 4242
OWNER = "octo"
REPO = "octo/repo"

BOT = "hardening-bot[bot]"

Deliver = Callable[..., Awaitable[ClientResponse]]
Drain = Callable[..., Awaitable[None]]

# The record key the bot derives from WEBHOOK_SECRET.
RECORD_KEY = key_from_secret(WEBHOOK_SECRET)

OWNED_ITEM = HardeningItem(
    failure_class="missed-detection",
    proposed_control="alert rule + routing update",
    priority="P1",
    owner="carol",
    verifier="bob",
    due=date(2026, 12, 1),
)


async def until(condition: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll ``condition`` until it holds; TimeoutError after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await condition():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.002)


async def claim(inbox: Inbox, limit: int) -> list[Delivery]:
    """What the workers' ``poll`` claims: up to ``limit`` deliveries, one per free subject."""
    claimed, _ = await inbox.poll(limit)
    return claimed


async def next_due(inbox: Inbox) -> float | None:
    """When the inbox says the next retry falls due, claiming nothing."""
    _, due = await inbox.poll(0)
    return due


async def mark_done(inbox: Inbox, delivery_id: str) -> bool:
    """Record a delivery processed and wait for the commit; False if it was not claimed."""
    return await inbox.mark_done_soon(delivery_id)


class Clock:
    """A settable clock (epoch seconds)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def pytest_configure(config: pytest.Config) -> None:
    """Temporary files (every test's SQLite database) go to a RAM file system when the machine
    has one: there a commit's fsync is free, on a disk it costs milliseconds, about a fifth of
    the handler tests' time. Nothing a test writes needs to outlive the machine. An explicit
    ``--basetemp`` or ``PYTEST_DEBUG_TEMPROOT`` wins."""
    ram = Path("/dev/shm")
    if (
        config.option.basetemp is None
        and "PYTEST_DEBUG_TEMPROOT" not in os.environ
        and ram.is_dir()
        and os.access(ram, os.W_OK)
    ):
        os.environ["PYTEST_DEBUG_TEMPROOT"] = str(ram)


# Variables an operator sets for the bot. A developer's shell may hold them (and a ``.env`` in
# the checkout, which the bot reads from its working directory as operators expect); no test may
# see them, so each test builds the settings and environments it means.
_OPERATOR_VARIABLES = ("GITHUB_", "HARDENING_", "DATABASE_URL", "SENTRY_DSN", "PORT", "HOST")


@pytest.fixture(scope="session", autouse=True)
def _away_from_the_developer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test runs in an empty working directory (no ``.env``, no ``var/``) and without
    the bot's variables from the environment it was started in."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(_OPERATOR_VARIABLES) and name != "HARDENING_TEST_POSTGRES_URL":
                patch.delenv(name)
        patch.chdir(tmp_path_factory.mktemp("cwd"))
        yield


@pytest.fixture(autouse=True)
def _a_fresh_process() -> None:
    """What the App remembers in memory of the repositories it saw starts empty, as in a new
    process: which issue is each ledger."""
    from bot import ledger

    ledger.forget()


_CHILDREN: list[asyncio.subprocess.Process] = []


async def spawn(*command: str, **options: Any) -> asyncio.subprocess.Process:
    """``asyncio.create_subprocess_exec``, and the process is killed at the end of the test if
    it still runs (a module that spawns uses the ``reap`` fixture), whatever failed."""
    process = await asyncio.create_subprocess_exec(*command, **options)
    _CHILDREN.append(process)
    return process


@pytest.fixture
async def reap() -> AsyncIterator[None]:
    """Kill what ``spawn`` started and still runs, once the test is over."""
    yield
    while _CHILDREN:
        process = _CHILDREN.pop()
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


@pytest.fixture
def trust() -> Trust:
    """What reading items needs in tests that call bot.item_issues directly: the record key, the
    App's login (items the App opened need no record yet) and copies of this test's own."""
    return Trust(RECORD_KEY, BOT)


@pytest.fixture(scope="session")
def app_keys() -> tuple[str, str]:
    """The App's key pair, ``(private_pem, public_pem)``; RSA generation is slow, so once."""
    from sandbox import generate_app_key

    return generate_app_key()


@pytest.fixture
def make_settings(tmp_path: Path, app_keys: tuple[str, str]) -> Callable[..., Settings]:
    """Build ``Settings`` for tests; keyword arguments override any field."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "webhook_secret": WEBHOOK_SECRET,
            "app_id": APP_ID,
            "private_key": app_keys[0],
            "api_url": "http://127.0.0.1:9",  # discard port: a test that forgot the sandbox fails
            "database_path": tmp_path / "bot.db",
            "worker_concurrency": 4,
            "max_attempts": 3,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "shutdown_grace": 1.0,
            "github_timeout": 5.0,
            # Off unless a test is about it: it would add GitHub calls at every app's start.
            "catch_up_interval": 0.0,
            "discover_interval": 0.0,
            # Tests edit configurations in the sandbox without sending the push GitHub would.
            "config_max_age": 0.0,
            # Likewise issues, edited in the sandbox without the webhook GitHub would send.
            "issue_max_age": 0.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def bare_sandbox(app_keys: tuple[str, str]) -> Sandbox:
    """The ``Sandbox`` object, not yet served (use ``sandbox`` in tests)."""
    from sandbox import Sandbox

    return Sandbox(app_id=APP_ID, public_key_pem=app_keys[1])


@pytest.fixture
async def sandbox_server(
    aiohttp_server: Callable[..., Awaitable[TestServer]], bare_sandbox: Sandbox
) -> TestServer:
    """The sandbox's aiohttp app, listening on a loopback port."""
    server = await aiohttp_server(bare_sandbox.app)
    # URLs inside the payloads it builds then point at itself, as GitHub's point at GitHub.
    bare_sandbox.api_url = str(server.make_url("")).rstrip("/")
    return server


@pytest.fixture
def sandbox(bare_sandbox: Sandbox, sandbox_server: TestServer) -> Sandbox:
    """The GitHub sandbox the bot under test talks to, already listening."""
    return bare_sandbox


@pytest.fixture
def repo(sandbox: Sandbox) -> str:
    """A repository the App is installed on: ``octo/repo``, installation ``INSTALLATION_ID``.
    alice, the sandbox's default person, triages it: her incidents are incidents."""
    sandbox.add_installation(OWNER, id=INSTALLATION_ID)
    sandbox.add_repo(REPO, installation_id=INSTALLATION_ID)
    sandbox.set_permission(REPO, "alice", "triage")
    return REPO


@pytest.fixture
def settings(make_settings: Callable[..., Settings], sandbox_server: TestServer) -> Settings:
    return make_settings(api_url=str(sandbox_server.make_url("")).rstrip("/"))


@pytest.fixture
async def github(settings: Settings) -> AsyncIterator[GitHubApp]:
    client = GitHubApp(settings)
    yield client
    await client.close()


async def no_wait(seconds: float) -> None:
    """A ``sleep`` for ``GitHubApp`` that only yields to the event loop."""
    await asyncio.sleep(0)


@pytest.fixture
async def quick_github(settings: Settings) -> AsyncIterator[GitHubApp]:
    client = GitHubApp(settings, sleep=no_wait)
    yield client
    await client.close()


@pytest.fixture
async def gh(github: GitHubApp, repo: str) -> GitHubAPI:
    return await github.installation_api(INSTALLATION_ID)


@pytest.fixture
def scope(gh: GitHubAPI, settings: Settings, trust: Trust) -> Scope:
    """``octo/repo`` as the shell's helpers take it: the client ``gh`` and a context whose
    trust is ``trust`` (the same record key, login and copies)."""
    ctx = Context(
        settings=settings,
        metrics=Metrics(),
        log=bound_log("test"),
        bot_login=BOT,
        records=trust.copies,
    )
    return Scope(gh, ctx, OWNER, REPO.partition("/")[2])


@pytest.fixture
async def bot_client(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    settings: Settings,
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def bot_app(bot_client: TestClient[web.Request, web.Application]) -> web.Application:
    return bot_client.app


@pytest.fixture
def deliver(bot_client: TestClient[web.Request, web.Application]) -> Deliver:
    return make_deliver(bot_client)


@pytest.fixture
def drain(bot_app: web.Application) -> Drain:
    return make_drain(bot_app)


@dataclass(frozen=True)
class World:
    """What a handler test works with: the GitHub sandbox, the repository the App is installed
    on there, and the bot serving it through its real endpoint (``app``), fed by ``deliver``
    and waited for by ``drain``."""

    sandbox: Sandbox
    repo: str
    deliver: Deliver
    drain: Drain
    app: web.Application

    async def send(self, event: str, payload: dict[str, Any], **options: Any) -> ClientResponse:
        """Deliver a webhook, then wait until the workers processed everything stored."""
        response = await self.deliver(event, payload, **options)
        await self.drain()
        return response

    async def scope(self, delivery_id: str | None = None) -> Scope:
        """The ``Scope`` a worker hands down for a delivery to ``repo``."""
        gh, ctx = await handler_api(self.app, delivery_id)
        owner, name = self.repo.split("/")
        return Scope(gh, ctx, owner, name)


@pytest.fixture
def world(
    sandbox: Sandbox, repo: str, deliver: Deliver, drain: Drain, bot_app: web.Application
) -> World:
    return World(sandbox, repo, deliver, drain, bot_app)


def world_of(
    client: TestClient[web.Request, web.Application],
    sandbox: Sandbox,
    repo: str = REPO,
    *,
    secret: str = WEBHOOK_SECRET,
) -> World:
    """The ``World`` of a bot a test serves itself (``client``), its webhooks signed with
    ``secret``."""
    return World(sandbox, repo, make_deliver(client, secret), make_drain(client.app), client.app)


MakeWorld = Callable[..., Awaitable[World]]


@pytest.fixture
def make_world(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    sandbox: Sandbox,
    repo: str,
    settings: Settings,
) -> MakeWorld:
    """``await make_world(**overrides)``: a ``World`` whose bot runs with ``settings`` but for
    ``overrides`` (say the caches' maximum ages a test measures), beside no other bot."""

    async def make(**overrides: Any) -> World:
        client = await aiohttp_client(create_app(replace(settings, **overrides)))
        return world_of(client, sandbox, repo)

    return make


def make_deliver(
    client: TestClient[web.Request, web.Application], secret: str = WEBHOOK_SECRET
) -> Deliver:
    """A ``deliver(event, payload, ...)`` coroutine function bound to one test client."""

    async def deliver(
        event: str,
        payload: dict[str, Any] | bytes,
        *,
        delivery_id: str | None = None,
        secret: str | None = secret,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/test",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        }
        if secret is not None:
            sent["X-Hub-Signature-256"] = sign(secret, body)
        sent.update(headers or {})
        response = await client.post("/webhook", data=body, headers=sent)
        await response.read()
        return response

    return deliver


def make_drain(app: web.Application) -> Drain:
    """A ``drain()`` coroutine function: wait until the app's inbox has nothing unfinished."""

    async def drain(within: float = 10.0) -> None:
        inbox, pool = app[INBOX], app[WORKERS]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            stats = await inbox.stats()
            if stats.pending == 0 and not pool.in_flight:
                return
            if loop.time() > deadline:
                raise TimeoutError(f"inbox did not drain in {within}s: {stats}")
            pool.notify()
            await asyncio.sleep(0.005)

    return drain


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def inbox(tmp_path: Path, clock: Clock) -> AsyncIterator[Inbox]:
    box = Inbox(tmp_path / "inbox.db", clock=clock)
    await box.open(max_attempts=3)
    yield box
    await box.close()


# --- PostgreSQL ------------------------------------------------------------------------------

POSTGRES_DEFAULT = "postgresql://127.0.0.1:5432/test"


def postgres_server() -> str:
    """The PostgreSQL server tests use (``HARDENING_TEST_POSTGRES_URL``). Without one the test is
    skipped, except under CI (``CI=true``), where a missing server fails the run."""
    import psycopg

    url = os.environ.get("HARDENING_TEST_POSTGRES_URL") or POSTGRES_DEFAULT
    try:
        psycopg.connect(url, connect_timeout=3, autocommit=True).close()
    except psycopg.Error as exc:
        reason = f"no PostgreSQL at {url} ({str(exc).strip().splitlines()[0]})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI needs one (see README, Development)", pytrace=False)
        pytest.skip(reason)
    return url


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` (libpq's ``options`` parameter)."""
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A DATABASE_URL on a schema of its own, dropped afterwards: parallel runs and tests
    never see each other's tables."""
    import psycopg

    server = postgres_server()
    schema = f"hb_test_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(server, schema)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
async def database(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings]
) -> AsyncIterator[Database]:
    """An opened ``bot.inbox.Database`` of each backend in turn (the test runs twice), on the
    test's own SQLite file or PostgreSQL schema."""
    overrides: dict[str, Any] = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("postgres_url")
    db = open_database(make_settings(**overrides))
    await db.open()
    yield db
    await db.close()


# --- handler tests -----------------------------------------------------------------------------


def item_of(sandbox: Sandbox, repo: str, number: int) -> HardeningItem:
    """The hardening item issue ``number`` holds now."""
    parsed = parse_item(sandbox.issue(repo, number)["body"])
    assert parsed.item is not None
    return parsed.item


def open_app_item(
    sandbox: Sandbox,
    repo: str,
    item: HardeningItem,
    *,
    title: str = "Alert on queue lag",
    labels: tuple[str, ...] = ("hardening",),
    before: str = "",
    after: str = "",
) -> int:
    """An item as the App keeps it: opened by the App, its gate facts in the App's signed
    record (as commands would have written them), rendered into the body."""
    from bot.records import sealed
    from rules.item_template import render_item
    from rules.record import recorded, subject_of

    body = before + render_item(item) + after
    issue = sandbox.open_issue(repo, title=title, body=body, labels=labels, user=BOT)
    number = int(issue["number"])
    owner, name = repo.split("/")
    record = recorded(None, subject_of(owner, name, number), item)
    assert RECORD_KEY is not None
    sandbox.update_issue(repo, number, user=BOT, body=sealed(body, record, RECORD_KEY))
    return number


def ledger_call(sandbox: Sandbox, call: Any) -> bool:
    """Whether a sandbox call creates, labels or edits the Hardening ledger, which follows every
    change in a delivery of its own (tests/test_handlers_loop.py tests it)."""
    body = call.json if isinstance(call.json, dict) else {}
    if body.get("title") == "Hardening ledger" or body.get("name") == "hardening-ledger":
        return True
    ledgers = {
        f"/repos/{name}/issues/{issue['number']}"
        for name in ("octo/repo",)
        for issue in sandbox.issues(name)
        if issue["title"] == "Hardening ledger"
    }
    return call.path in ledgers


def changes(sandbox: Sandbox) -> list[Any]:
    """The writes the bot made on GitHub (minting a token changes nothing)."""
    return [c for c in sandbox.writes() if not c.path.endswith("/access_tokens")]


async def handler_api(
    bot_app: web.Application, delivery_id: str | None = None
) -> tuple[GitHubAPI, Context]:
    """The ``(gh, ctx)`` a worker hands a handler for a delivery to ``octo/repo``."""
    github = bot_app[GITHUB]
    gh = await github.installation_api(INSTALLATION_ID)
    ctx = Context(
        settings=bot_app[SETTINGS],
        metrics=bot_app[METRICS],
        log=bound_log("test"),
        bot_login=await github.bot_login(),
        records=bot_app[RECORDS],
        links=bot_app[LINKS],
        delivery_id=delivery_id,
    )
    return gh, ctx


# --- the sandbox's own tests ------------------------------------------------------------------


@pytest.fixture
def sb(app_keys: tuple[str, str], clock: Clock) -> Sandbox:
    from test_sandbox_support import seeded

    return seeded(app_keys[1], clock)


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]], sb: Sandbox
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(sb.app)


@pytest.fixture
def api(client: TestClient[web.Request, web.Application], sb: Sandbox) -> Api:
    from test_sandbox_support import INSTALLATION, Api

    return Api(client, sb.installation_token(INSTALLATION))
