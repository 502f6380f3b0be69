"""What a handler gets besides the event and the GitHub client (ARCHITECTURE.md, handler contract).

``Context`` carries the settings, the clock and a way to sleep, the App's own login, the
metrics, a logger bound to the delivery, and ``config()``: the repository's
``.github/hardening.yml`` merged over the organisation's (docs/rules.md), validated by
``rules.config``, kept until a push changes it (``ConfigCache``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import cachetools
import gidgethub
from gidgethub.abc import GitHubAPI

from bot.copies import Copies
from bot.metrics import Metrics
from bot.settings import Settings

if TYPE_CHECKING:  # rules.config is written alongside; import it only when used
    from bot.pull_links import PullLinks
    from bot.run_records import RunRecords
    from rules.config import ConfigResult

REPO_CONFIG_PATH = ".github/hardening.yml"
ORG_CONFIG_REPO = ".github"
ORG_CONFIG_PATH = "hardening.yml"


class BoundLog(logging.LoggerAdapter[logging.Logger]):
    """A logger that adds fixed fields (delivery id, event, subject...) to every record.

    Unlike the stock adapter, fields passed per call with ``extra=`` are merged, not dropped.
    """

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        kwargs["extra"] = {**(self.extra or {}), **(kwargs.get("extra") or {})}
        return msg, kwargs

    def bind(self, **fields: Any) -> BoundLog:
        return BoundLog(self.logger, {**(self.extra or {}), **fields})


def bound_log(name: str, **fields: Any) -> BoundLog:
    return BoundLog(logging.getLogger(name), fields)


CONFIG_GENERATION = "config-generation"
# Without a push telling us otherwise, a cached configuration is read again after this long (an
# App registered before it subscribed to push, an organisation .github repository the App is
# not installed on).
CONFIG_MAX_AGE_SECONDS = 24 * 3600.0


class ConfigCache:
    """Configurations shared by every delivery.

    Without ``state`` (``replay``, ``run-job``, tests that build one): the files are fetched for
    every delivery, through the installation client whose ETag cache makes an unchanged file a
    ``304``; only the parse is kept, keyed by the texts themselves.

    With ``state`` (the server, ``bot.web``): the App subscribes to ``push``, and a push that
    touches ``.github/hardening.yml`` (or ``hardening.yml`` in the organisation's ``.github``
    repository) bumps a generation kept in the database (``invalidate``), at intake, before the
    push is acknowledged. Each read compares the generation (one small database read) and drops
    every cached text when it moved, so all replicas agree; otherwise the texts are kept, and a
    steady state reads no configuration from GitHub at all. A text is still re-read after
    ``CONFIG_MAX_AGE_SECONDS``. ``Context.config`` memoises results within one delivery.
    """

    def __init__(
        self,
        *,
        maxsize: int = 256,
        state: Any = None,
        clock: Callable[[], float] = time.time,
        max_age: float = CONFIG_MAX_AGE_SECONDS,
    ) -> None:
        # Parsing is pure in the texts, so identical texts share one parse across repositories.
        self._parsed: cachetools.LRUCache[tuple[tuple[str, str | None], ...], ConfigResult] = (
            cachetools.LRUCache(maxsize=maxsize)
        )
        self.state = state
        self.clock = clock
        self.max_age = max_age
        # (owner, repo, path, ref) lower-cased -> (text or None for absent, when read)
        self._texts: cachetools.LRUCache[tuple[str, str, str, str], tuple[str | None, float]] = (
            cachetools.LRUCache(maxsize=maxsize * 2)
        )
        self._generation: Any = None

    async def invalidate(self) -> None:
        """A configuration changed: every process reads them again."""
        self._texts.clear()
        if self.state is not None:
            self._generation = await self.state.bump(CONFIG_GENERATION)

    async def get(
        self, gh: GitHubAPI, owner: str, repo: str, ref: str | None = None
    ) -> ConfigResult:
        from rules.config import load_config

        if self.state is not None:
            generation = await self.state.get(CONFIG_GENERATION)
            if generation != self._generation:
                self._texts.clear()
                self._generation = generation
        org_text = await self._text(gh, owner, ORG_CONFIG_REPO, ORG_CONFIG_PATH, None)
        repo_text = await self._text(gh, owner, repo, REPO_CONFIG_PATH, ref)
        layers = (
            (f"{owner}/{ORG_CONFIG_REPO}/{ORG_CONFIG_PATH}", org_text),
            (REPO_CONFIG_PATH, repo_text),
        )
        result = self._parsed.get(layers)
        if result is None:
            result = load_config(list(layers))
            self._parsed[layers] = result
        return result

    async def _text(
        self, gh: GitHubAPI, owner: str, repo: str, path: str, ref: str | None
    ) -> str | None:
        if self.state is None or self.max_age <= 0:
            return await fetch_text(gh, owner, repo, path, ref=ref)
        key = (owner.lower(), repo.lower(), path, (ref or "").lower())
        now = self.clock()
        cached = self._texts.get(key)
        if cached is not None and now - cached[1] < self.max_age:
            return cached[0]
        text = await fetch_text(gh, owner, repo, path, ref=ref)
        self._texts[key] = (text, now)
        return text


# Installing the App on a repository (or removing it) changes what it can read: the
# organisation's ``.github`` among them, whose absence is cached like any text.
_INSTALLATION_EVENTS = frozenset({"installation", "installation_repositories"})


def changes_config(event: str, payload: Mapping[str, Any]) -> bool:
    """Whether a delivery may have changed a configuration the bot reads: an ``installation``
    or ``installation_repositories`` event (the App may now read, or no longer read, the
    organisation's ``.github``), or a ``push`` that touches ``.github/hardening.yml``, or
    ``hardening.yml`` of the organisation's ``.github`` repository, or whose changes GitHub did
    not list in full (a forced push, a created or deleted branch, more commits than the payload
    carries)."""
    if event in _INSTALLATION_EVENTS:
        return True
    if event != "push":
        return False
    repository = payload.get("repository")
    name = repository.get("name") if isinstance(repository, Mapping) else None
    watched = {REPO_CONFIG_PATH}
    if isinstance(name, str) and name.lower() == ORG_CONFIG_REPO:
        watched.add(ORG_CONFIG_PATH)
    if payload.get("forced") or payload.get("created") or payload.get("deleted"):
        return True
    commits = payload.get("commits")
    if not isinstance(commits, list) or len(commits) >= 20:
        return True  # GitHub lists at most 20 commits in a push payload
    for commit in commits:
        if not isinstance(commit, Mapping):
            return True
        for kind in ("added", "modified", "removed"):
            paths = commit.get(kind)
            if not isinstance(paths, list):
                return True
            if any(isinstance(p, str) and p in watched for p in paths):
                return True
    return False


async def fetch_text(
    gh: GitHubAPI, owner: str, repo: str, path: str, *, ref: str | None = None
) -> str | None:
    """A file's text from the contents API, or None when the file (or repository) is absent."""
    try:
        data = await gh.getitem(
            "/repos/{owner}/{repo}/contents/{+path}{?ref}",
            {"owner": owner, "repo": repo, "path": path, "ref": ref},
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) == 404:
            return None
        raise
    if not isinstance(data, dict) or data.get("type", "file") != "file":
        return None  # a directory or a submodule where a file was expected
    content = data.get("content") or ""
    if data.get("encoding", "base64") == "base64":
        return base64.b64decode(content).decode("utf-8", errors="replace")
    return str(content)


@dataclass
class LedgerRequests:
    """The Hardening ledger updates one delivery asked for (bot.ledger): by repository, the
    facts to apply. The worker turns them into one ledger delivery per repository."""

    repos: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    # Incidents whose sprint summary is due by the calendar (sprint day 14): each becomes a
    # delivery of the incident's own subject, at most one a day.
    summaries: set[tuple[str, str, int]] = field(default_factory=set)

    def add(self, owner: str, repo: str, fact: dict[str, Any] | None = None) -> None:
        facts = self.repos.setdefault((owner, repo), [])
        if fact is not None:
            facts.append(fact)

    def add_summary(self, owner: str, repo: str, incident: int) -> None:
        self.summaries.add((owner, repo, incident))


@dataclass(frozen=True)
class Context:
    """Per-delivery context handed to every handler with the event and the GitHub client."""

    settings: Settings
    metrics: Metrics
    log: BoundLog
    bot_login: str
    clock: Callable[[], float] = time.time
    # How a handler waits (for a write whose outcome is unknown to show up); injectable.
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    configs: ConfigCache = field(default_factory=ConfigCache)
    # The App's last known record copies (bot.records): the database's in the server; without
    # one (replay, run-job), this context's own memory.
    records: Copies = field(default_factory=Copies, compare=False)
    delivery_id: str | None = None
    # The App's record of the check runs it wrote (bot.run_records.RunRecords), where a database
    # holds one; without it every check run write lists the commit's runs first.
    runs: RunRecords | None = None
    # The pull requests linking each item, as their own deliveries judged them
    # (bot.pull_links); without it a scorecard searches for them.
    links: PullLinks | None = None
    # Filled by handlers, read by the worker once the delivery is done.
    ledger: LedgerRequests = field(default_factory=LedgerRequests, compare=False)
    # The configurations read during this delivery, so its handlers agree and read each once.
    _read: dict[tuple[str, str, str | None], ConfigResult] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def now(self) -> datetime:
        """The current time, timezone-aware UTC, from the injected clock."""
        return datetime.fromtimestamp(self.clock(), UTC)

    async def config(
        self, gh: GitHubAPI, owner: str, repo: str, ref: str | None = None
    ) -> ConfigResult:
        """The merged, validated configuration of ``owner/repo`` at ``ref`` (None: default
        branch), as ``rules.config.ConfigResult(config, errors)``: read from GitHub once per
        delivery, so a change pushed just before the delivery is seen."""
        key = (owner.lower(), repo.lower(), ref)
        result = self._read.get(key)
        if result is None:
            result = await self.configs.get(gh, owner, repo, ref)
            self._read[key] = result
        return result
