"""The GitHub App client: authentication, caching, retries and rate limits, on gidgethub.

What every handler gets for free through ``GitHubApp.installation_api``:

- App JWT (gidgethub.apps) for ``/app`` calls, and installation tokens cached per installation
  until five minutes before their ``expires_at``, so a delivery never starts with a token about
  to expire and a burst of deliveries does not mint a token each.
- Conditional requests: gidgethub's ``cache=`` holds ETags per installation, so re-reading an
  unchanged object is a 304, which GitHub does not count against the rate limit.
- Retries with full-jitter exponential backoff for 5xx, timeouts and connection errors. A request
  that may have changed something (a POST that reached GitHub) is not resent blindly: the
  delivery is retried as a whole instead, and the idempotent writes (bot.writes) find what the
  first try already did.
- Primary rate limit: when the last response said no requests remain, the next one waits until
  ``x-ratelimit-reset``. Secondary rate limit (403/429): honour ``Retry-After``, else wait at
  least a minute, doubling. All waits go through an injectable ``sleep``.
- ``X-GitHub-Api-Version`` on every request, REST and GraphQL; GraphQL at the endpoint that
  belongs to ``GITHUB_API_URL`` (``/api/graphql`` on GitHub Enterprise Server).
- Metrics: calls by method and status, rate-limit remaining by installation.

A dry-run ``GitHubApp`` (``replay --dry-run``) sends reads but records writes instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import json
import logging
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import cachetools
import gidgethub
import gidgethub.aiohttp

from bot.issue_versions import IssueVersions, issue_of
from bot.metrics import Metrics
from bot.settings import Settings

API_VERSION = "2022-11-28"
USER_AGENT = "hardening-bot"
# Refresh an installation token this long before GitHub expires it, so no delivery starts with
# a token that dies halfway through.
TOKEN_REFRESH_MARGIN = 5 * 60

log = logging.getLogger("bot.github")

_SAFE_TO_RESEND = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries. Defaults suit production; tests inject ``sleep``/``clock``."""

    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.time
    random: Callable[[], float] = _random.random
    # Transport retries (5xx, timeouts, connection errors), after the first attempt.
    retries: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    # Rate-limit waits per request before giving up and letting the delivery retry later.
    rate_limit_retries: int = 5
    secondary_min_wait: float = 60.0
    secondary_max_wait: float = 15 * 60.0
    # Primary windows reset within the hour; anything longer is clock skew, not a reason to
    # hold a worker for a day.
    primary_max_wait: float = 3600.0 + 60.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempt-1)))."""
        return self.random() * min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))


@dataclass(frozen=True)
class RecordedCall:
    """A write that a dry run did not send."""

    method: str
    url: str
    path: str
    body: Any

    def __str__(self) -> str:
        shown = "" if self.body is None else " " + json.dumps(self.body, sort_keys=True)
        return f"{self.method} {self.path}{shown}"


@dataclass
class _Token:
    token: str
    expires_at: float

    @property
    def refresh_at(self) -> float:
        return self.expires_at - TOKEN_REFRESH_MARGIN


class InstallationGate:
    """What one installation's requests share, whichever client object sends them.

    GitHub asks integrations to send an installation's requests one at a time (concurrent ones
    trip the secondary rate limits) and to send nothing while rate-limited (carrying on can get
    the integration banned). So ``turn()`` lets ``concurrency`` requests through at once, and
    none before a pause that a rate-limited answer set has passed.
    """

    def __init__(self, concurrency: int, policy: RetryPolicy) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._policy = policy
        self.paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, self._policy.clock() + seconds)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._slots:
            # Checked with the slot held: a pause set while we queued still applies. Waiting
            # here holds up only requests that would have had to wait for the pause anyway.
            while (wait := self.paused_until - self._policy.clock()) > 0:
                await self._policy.sleep(wait)
            yield


class GitHubAPI(gidgethub.aiohttp.GitHubAPI):
    """gidgethub's aiohttp client with retries, rate-limit waits, metrics and a dry-run mode.

    ``installation`` labels metrics ("app" for JWT calls). ``recorder`` (a list) turns the
    instance into a dry run: writes are appended there and answered locally.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        requester: str = USER_AGENT,
        *,
        base_url: str,
        graphql_url: str,
        policy: RetryPolicy | None = None,
        metrics: Metrics | None = None,
        installation: str = "app",
        recorder: list[RecordedCall] | None = None,
        on_unauthorized: Callable[[], None] | None = None,
        gate: InstallationGate | None = None,
        versions: IssueVersions | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(session, requester, base_url=base_url, **kwargs)
        # Issues unchanged since read are answered from the ETag cache (bot.issue_versions).
        self.versions = versions if versions is not None and versions.enabled else None
        self.graphql_url = graphql_url
        self.policy = policy or RetryPolicy()
        self.metrics = metrics
        self.installation = installation
        self.recorder = recorder
        self._on_unauthorized = on_unauthorized
        # Only the exchange itself takes a turn, not the backoff sleeps around it.
        self._gate = gate

    async def sleep(self, seconds: float) -> None:
        await self.policy.sleep(seconds)

    async def graphql(self, query: str, *, endpoint: str | None = None, **variables: Any) -> Any:
        """gidgethub's GraphQL call, defaulting to this server's endpoint instead of github.com."""
        return await super().graphql(query, endpoint=endpoint or self.graphql_url, **variables)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        headers = {**headers, "x-github-api-version": API_VERSION}
        if self.recorder is not None and self._is_write(method, url, body):
            return self._record(method, url, body)
        issue = issue_of(url) if self.versions is not None else None
        if self.versions is None or issue is None:
            return await self._send(method, url, headers, body)
        owner, repo, number, whole = issue
        if method != "GET":
            response = await self._send(method, url, headers, body)
            if response[0] < 400:
                at = url.split("?")[0].split(f"/issues/{number}")[0] + f"/issues/{number}"
                self.versions.forget(at)
                version = await self.versions.changed(owner, repo, number, mine=True)
                if whole and method == "PATCH" and response[0] == 200 and self._cache is not None:
                    # GitHub answers an edit with the issue as it now is: the App's copy, so
                    # its next read of the issue asks nothing (others see the version move).
                    with contextlib.suppress(ValueError):
                        self._cache[at] = (None, None, json.loads(response[2]), None)
                        self.versions.read(at, version)
            return response
        if not whole:
            return await self._send(method, url, headers, body)
        version = await self.versions.version(owner, repo, number)
        held = self._cache is not None and url in self._cache
        if held and self.versions.unchanged(url, version):
            # gidgethub holds the copy: answer as GitHub would, unasked.
            if self.rate_limit is not None:
                self.rate_limit.remaining += 1  # gidgethub counted the request that is not sent
            self._count(method, "cached")
            return 304, {}, b""
        response = await self._send(method, url, headers, body)
        if response[0] in (200, 304):
            self.versions.read(url, version)
        return response

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One request to GitHub, retried as the class docstring says."""
        attempt = 0
        while True:
            attempt += 1
            try:
                async with self._gate.turn() if self._gate else contextlib.nullcontext():
                    status, response_headers, data = await super()._request(
                        method, url, headers, body
                    )
            except (aiohttp.ClientError, TimeoutError) as exc:
                self._count(method, "error")
                if attempt > self.policy.retries or not self._may_resend(method, url, body, exc):
                    raise
                delay = self.policy.backoff(attempt)
                log.warning(
                    "GitHub %s %s failed (%s: %s); retry %d in %.2fs",
                    method,
                    _path(url),
                    type(exc).__name__,
                    exc,
                    attempt,
                    delay,
                )
                await self.sleep(delay)
                continue
            self._count(method, status)
            self._observe_rate_limit(response_headers)
            if status == 401 and self._on_unauthorized is not None:
                # A revoked or rotated token: drop it so the delivery's retry mints a new one.
                self._on_unauthorized()
            if (
                status >= 500
                and attempt <= self.policy.retries
                and self._may_resend(method, url, body, None)
            ):
                delay = self.policy.backoff(attempt)
                log.warning(
                    "GitHub %s %s answered %d; retry %d in %.2fs",
                    method,
                    _path(url),
                    status,
                    attempt,
                    delay,
                )
                await self.sleep(delay)
                continue
            return status, response_headers, data

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        # gidgethub decrements ``remaining`` before this hook, so below zero means the request
        # about to go out has no quota left in this window.
        limit = self.rate_limit
        if limit is None or limit.remaining >= 0:
            return
        wait = limit.reset_datetime.timestamp() - self.policy.clock() + 1
        if wait > 0:
            wait = min(wait, self.policy.primary_max_wait)
            if self._gate is not None:
                self._gate.pause(wait)
            log.warning(
                "GitHub rate limit exhausted for %s; waiting %.0fs until it resets",
                self.installation,
                wait,
            )
            await self.sleep(wait)
        # The next response tells the new quota; until then assume the window has reset.
        self.rate_limit = None

    async def handle_rate_limit_error(
        self,
        *,
        method: str,
        url: str,
        exception: gidgethub.HTTPException,
        attempt: int,
    ) -> bool:
        wait = self._rate_limit_wait(exception, attempt)
        if wait is None or attempt > self.policy.rate_limit_retries:
            return False
        if self._gate is not None:
            self._gate.pause(wait)  # the installation's other requests wait too
        log.warning(
            "GitHub %s %s rate limited (%d); retry %d in %.0fs",
            method,
            _path(url),
            int(exception.status_code),
            attempt,
            wait,
        )
        await self.sleep(wait)
        # Whatever quota we believed in was wrong; let the retry's response say.
        self.rate_limit = None
        return True

    # -- helpers -----------------------------------------------------------------------------

    def _rate_limit_wait(self, exc: gidgethub.HTTPException, attempt: int) -> float | None:
        status = int(exc.status_code)
        if status not in (403, 429):
            return None
        headers = exc.headers or {}
        retry_after = _retry_after(headers.get("retry-after"), self.policy.clock())
        if retry_after is not None:
            return retry_after
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            try:
                reset = float(headers["x-ratelimit-reset"])
            except ValueError:
                reset = self.policy.clock() + self.policy.secondary_min_wait
            return min(max(1.0, reset - self.policy.clock() + 1), self.policy.primary_max_wait)
        message = str(exc).lower()
        # A plain 403 is a permission error and must surface as one, not be retried.
        if status == 429 or "secondary rate limit" in message or "abuse" in message:
            return min(
                self.policy.secondary_min_wait * 2 ** (attempt - 1),
                self.policy.secondary_max_wait,
            )
        return None

    def _may_resend(self, method: str, url: str, body: bytes, exc: BaseException | None) -> bool:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return True  # never reached GitHub, so nothing can have happened
        if method in _SAFE_TO_RESEND:
            return True
        path = _path(url)
        if path.endswith("/access_tokens"):
            return True  # a second token is harmless
        return url == self.graphql_url and not _is_mutation(body)

    def _is_write(self, method: str, url: str, body: bytes) -> bool:
        if method in ("GET", "HEAD", "OPTIONS"):
            return False
        if _path(url).endswith("/access_tokens"):
            return False  # a dry run still needs a token to read with
        return not (url == self.graphql_url and not _is_mutation(body))

    def _record(self, method: str, url: str, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        sent: Any = json.loads(body) if body else None
        assert self.recorder is not None
        self.recorder.append(RecordedCall(method, url, _path(url, self.base_url), sent))
        if method == "DELETE":
            return 204, {}, b""
        if url == self.graphql_url:
            echo_graphql = {"data": {"dryRun": True}}
            return 200, {"content-type": "application/json"}, json.dumps(echo_graphql).encode()
        echo = dict(sent) if isinstance(sent, dict) else {"data": sent}
        echo.setdefault("id", 0)
        echo.setdefault("number", 0)
        echo["dry_run"] = True
        return (
            201 if method == "POST" else 200,
            {"content-type": "application/json; charset=utf-8"},
            json.dumps(echo).encode(),
        )

    def _count(self, method: str, status: int | str) -> None:
        if self.metrics is not None:
            self.metrics.github_calls.inc(method=method, status=str(status))

    def _observe_rate_limit(self, headers: Mapping[str, str]) -> None:
        remaining = headers.get("x-ratelimit-remaining")
        if self.metrics is not None and remaining is not None:
            with contextlib.suppress(ValueError):
                self.metrics.rate_limit_remaining.set(
                    float(remaining), installation=self.installation
                )


@functools.lru_cache(maxsize=4)
def signing_key(pem: str) -> Any:
    """The App's private key, parsed once per process. Parsing a PEM checks the RSA key, 15 to
    40 ms of CPU, which every JWT paid when the PEM text was handed to the signer."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(pem.encode(), password=None)


class GitHubApp:
    """The App's identity: a JWT client and one cached client per installation.

    ``clock`` (epoch seconds) decides token freshness; ``sleep`` and ``random`` drive backoff.
    With ``dry_run=True`` installation clients record their writes in ``recorded``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        metrics: Metrics | None = None,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = _random.random,
        dry_run: bool = False,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else Metrics()
        self.policy = RetryPolicy(sleep=sleep, clock=clock, random=random)
        self.clock = clock
        self.dry_run = dry_run
        self.recorded: list[RecordedCall] = []
        self._session = session
        self._owns_session = session is None
        self._app_api: GitHubAPI | None = None
        self._tokens: cachetools.TLRUCache[int, _Token] = cachetools.TLRUCache(
            maxsize=4096, ttu=lambda _key, token, _now: token.refresh_at, timer=clock
        )
        # One client per installation, so its rate-limit state and ETag cache outlive one
        # delivery. ETag caches are per installation because GitHub varies responses by token.
        self._apis: cachetools.LRUCache[int, GitHubAPI] = cachetools.LRUCache(maxsize=1024)
        self._locks: dict[int, asyncio.Lock] = {}
        # Kept apart from the clients: a client the LRU evicts mid-request and its replacement
        # still take turns through one gate.
        self._gates: dict[int, InstallationGate] = {}
        self._bot_login: str | None = None
        # Which installation serves a repository, for the rare payload without `installation`.
        self._repo_installations: cachetools.TTLCache[str, int | None] = cachetools.TTLCache(
            maxsize=1024, ttl=600
        )
        # Set by the server once its database is open (bot.web): issue versions every replica
        # shares, so an unchanged issue is not read again.
        self.versions: IssueVersions | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.settings.github_timeout)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._owns_session:
            await self._session.close()
        self._session = None

    def app_api(self) -> GitHubAPI:
        """A client authenticated as the App itself (JWT), for ``/app`` endpoints."""
        if self._app_api is None:
            self._app_api = GitHubAPI(
                self.session,
                base_url=self.settings.api_url,
                graphql_url=self.settings.graphql_url,
                policy=self.policy,
                metrics=self.metrics,
                installation="app",
                app_id=str(self.settings.app_id),
                private_key=signing_key(self.settings.private_key),
                cache=cachetools.LRUCache(maxsize=64),
            )
        return self._app_api

    async def installation_api(self, installation_id: int) -> GitHubAPI:
        """A client authenticated as one installation, with a token valid for 5+ minutes."""
        token = await self.installation_token(installation_id)
        api = self._apis.get(installation_id)
        if api is None:
            api = GitHubAPI(
                self.session,
                base_url=self.settings.api_url,
                graphql_url=self.settings.graphql_url,
                policy=self.policy,
                metrics=self.metrics,
                installation=str(installation_id),
                recorder=self.recorded if self.dry_run else None,
                on_unauthorized=lambda: self.forget_token(installation_id),
                gate=self._gate(installation_id),
                versions=self.versions,
                oauth_token=token,
                cache=cachetools.LRUCache(maxsize=512),
            )
            self._apis[installation_id] = api
        # Requests already under way keep the token they were built with; both are valid.
        api.oauth_token = token
        return api

    async def installation_token(self, installation_id: int) -> str:
        cached = self._tokens.get(installation_id)
        if cached is not None:
            return cached.token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(installation_id)
            if cached is not None:
                return cached.token
            data = await self.app_api().post(
                "/app/installations/{installation_id}/access_tokens",
                {"installation_id": installation_id},
                data=b"",
            )
            token = _Token(str(data["token"]), parse_timestamp(str(data["expires_at"])))
            self._tokens[installation_id] = token
            return token.token

    def _gate(self, installation_id: int) -> InstallationGate:
        gate = self._gates.get(installation_id)
        if gate is None:
            gate = InstallationGate(self.settings.github_concurrency, self.policy)
            self._gates[installation_id] = gate
        return gate

    def forget_token(self, installation_id: int) -> None:
        self._tokens.pop(installation_id, None)

    async def repo_installation_id(self, owner: str, repo: str) -> int | None:
        """The installation of the App on ``owner/repo`` (``apps/get-repo-installation``, JWT),
        or None where the App is not installed (404)."""
        key = f"{owner}/{repo}".lower()
        if key in self._repo_installations:
            return self._repo_installations[key]
        try:
            data = await self.app_api().getitem(
                "/repos/{owner}/{repo}/installation", {"owner": owner, "repo": repo}
            )
        except gidgethub.BadRequest as exc:
            if exc.status_code != 404:
                raise
            found: int | None = None
        else:
            found = int(data["id"])
        self._repo_installations[key] = found
        return found

    @property
    def known_bot_login(self) -> str | None:
        """The App's login if it was read already (None before the first delivery)."""
        return self._bot_login

    async def bot_login(self) -> str:
        """The App's own login (``<slug>[bot]``), used to recognise its comments."""
        if self._bot_login is None:
            app = await self.app_api().getitem("/app")
            self._bot_login = f"{app['slug']}[bot]"
        return self._bot_login


def parse_timestamp(value: str) -> float:
    """Epoch seconds of a GitHub ISO-8601 timestamp such as ``2016-07-11T22:14:10Z``."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return parsed.timestamp()


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        return max(1.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(1.0, when.timestamp() - now)


def _path(url: str, base_url: str | None = None) -> str:
    """The path of ``url`` relative to the API root, for logs and dry-run output."""
    path = urlsplit(url).path
    query = urlsplit(url).query
    if base_url:
        prefix = urlsplit(base_url).path.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
    return path + (f"?{query}" if query else "")


def _is_mutation(body: bytes) -> bool:
    try:
        query = json.loads(body).get("query", "")
    except (ValueError, AttributeError):
        return True  # cannot tell: treat as a write, the safe side for both callers
    return str(query).lstrip().startswith("mutation")
