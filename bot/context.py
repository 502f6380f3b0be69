"""What a handler gets besides the event and the GitHub client (ARCHITECTURE.md, handler contract).

``Context`` carries the settings, the clock and a way to sleep, the App's own login, the
metrics, a logger bound to the delivery, and ``config()``: the repository's
``.github/hardening.yml`` merged over the organisation's (CONTRACT §6), validated by
``rules.config``, read from GitHub on every delivery.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import cachetools
import gidgethub
from gidgethub.abc import GitHubAPI

from bot.metrics import Metrics
from bot.settings import Settings

if TYPE_CHECKING:  # rules.config is written alongside; import it only when used
    from rules.config import ConfigResult

REPO_CONFIG_PATH = ".github/hardening.yml"
ORG_CONFIG_REPO = ".github"
ORG_CONFIG_PATH = "hardening.yml"


class BoundLog(logging.LoggerAdapter):  # type: ignore[type-arg]
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


class ConfigCache:
    """Parsed configurations, shared by every delivery; the files themselves are read again for
    every delivery.

    The App does not subscribe to ``push``, so nothing would tell a cache of results that
    ``.github/hardening.yml`` changed: a pull request opened right after a push to the default
    branch would be judged by the old file. So ``get`` always fetches the files, through the
    installation client whose ETag cache turns the re-read of an unchanged file into a ``304``
    (which GitHub does not count against the rate limit). What is kept is the parse, keyed by
    the texts themselves, so a changed file can never hit a stale entry. ``Context.config``
    memoises results within one delivery.
    """

    def __init__(self, *, maxsize: int = 256) -> None:
        # Parsing is pure in the texts, so identical texts share one parse across repositories.
        self._parsed: cachetools.LRUCache[tuple[tuple[str, str | None], ...], ConfigResult] = (
            cachetools.LRUCache(maxsize=maxsize)
        )

    async def get(
        self, gh: GitHubAPI, owner: str, repo: str, ref: str | None = None
    ) -> ConfigResult:
        from rules.config import load_config

        org_text = await fetch_text(gh, owner, ORG_CONFIG_REPO, ORG_CONFIG_PATH)
        repo_text = await fetch_text(gh, owner, repo, REPO_CONFIG_PATH, ref=ref)
        layers = (
            (f"{owner}/{ORG_CONFIG_REPO}/{ORG_CONFIG_PATH}", org_text),
            (REPO_CONFIG_PATH, repo_text),
        )
        result = self._parsed.get(layers)
        if result is None:
            result = load_config(list(layers))
            self._parsed[layers] = result
        return result


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
    delivery_id: str | None = None
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
