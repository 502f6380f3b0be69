"""Which issues changed since the App last read them, so an unchanged one is not asked again.

A pull request event reads each hardening item it links, and reads them again under the
scorecard's lock: with ETags each is a ``304``, free against the rate limit but still a request
to GitHub. Yet every change to an issue sends an ``issues`` webhook. So each issue has a version
in the database every replica shares (table ``issue_versions``): it moves when an ``issues``
delivery is taken in (before its ``202``, ``bot.web``; or by the catch-up, ``bot.catchup``), and
when the App itself writes to the issue (``bot.github``, which keeps what GitHub
answered an edit with as its copy; the webhook of the App's own write then moves nothing). The GitHub client answers a
read of an issue from its ETag cache, without asking, while the version it read at is still the
current one and that copy is younger than ``max_age`` (``HARDENING_ISSUE_MAX_AGE_SECONDS``, the
safety net for a change no webhook told of, such as a label renamed); otherwise it asks, as a
conditional request.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import cachetools

# The issue a REST path is about: ``/repos/{owner}/{repo}/issues/{number}`` and what is under it.
_ISSUE_PATH = re.compile(r"/repos/([^/]+)/([^/]+)/issues/(\d+)(/.*)?$")


def issue_of(url: str) -> tuple[str, str, int, bool] | None:
    """``(owner, repo, number, whole)`` of the issue ``url`` reads or writes; ``whole``: the
    issue object itself rather than something under it (labels, comments...)."""
    parts = urlsplit(url)
    found = _ISSUE_PATH.search(parts.path)
    if found is None:
        return None
    owner, repo, number, rest = found.groups()
    return owner, repo, int(number), not rest and not parts.query


_SCHEMA = """
CREATE TABLE IF NOT EXISTS issue_versions (
    repository TEXT NOT NULL,
    number     INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    PRIMARY KEY (repository, number)
);
"""
# One statement, so that marking an issue changed at intake costs the acknowledgement little.
_MOVE = (
    "INSERT INTO issue_versions (repository, number, version) VALUES (:repository, :number, 1) "
    "ON CONFLICT (repository, number) DO UPDATE SET version = issue_versions.version + 1"
)


class IssueVersions:
    """The versions of issues, in the database (``sql``: its statements, ``bot.inbox.api.Sql``).
    ``setup`` creates the table."""

    def __init__(
        self, sql: Any, *, clock: Callable[[], float] = time.time, max_age: float = 3600.0
    ) -> None:
        self.sql = sql
        self.clock = clock
        self.max_age = max_age
        # The URL of an issue read -> (the version it was read at, when).
        self._read: cachetools.LRUCache[str, tuple[int, float]] = cachetools.LRUCache(4096)
        # Issue key -> writes this process made whose webhook has not come back yet.
        self._mine: cachetools.TTLCache[str, int] = cachetools.TTLCache(4096, ttl=600)

    @property
    def enabled(self) -> bool:
        return self.max_age > 0

    async def setup(self) -> None:
        await self.sql.setup(_SCHEMA)

    @staticmethod
    def _key(owner: str, repo: str, number: int) -> str:
        return f"{owner}/{repo}#{number}".lower()

    @staticmethod
    def _row(owner: str, repo: str, number: int) -> dict[str, Any]:
        return {"repository": f"{owner}/{repo}".lower(), "number": number}

    async def changed(self, owner: str, repo: str, number: int, *, mine: bool = False) -> int:
        """The issue changed: every process reads it from GitHub again. ``mine``: this process
        wrote it (and keeps what GitHub answered); then the new version is returned (else 0,
        unread)."""
        await self.sql.execute((_MOVE, self._row(owner, repo, number)))
        if not mine:
            return 0
        key = self._key(owner, repo, number)
        self._mine[key] = self._mine.get(key, 0) + 1
        return await self.version(owner, repo, number)

    async def version(self, owner: str, repo: str, number: int) -> int:
        rows = await self.sql.fetch(
            "SELECT version FROM issue_versions WHERE repository = :repository "
            "AND number = :number",
            self._row(owner, repo, number),
        )
        return int(rows[0][0]) if rows else 0

    def unchanged(self, url: str, version: int) -> bool:
        """Whether the copy of ``url`` read earlier is still the issue at ``version``."""
        seen = self._read.get(url)
        return seen is not None and seen[0] == version and self.clock() - seen[1] < self.max_age

    def read(self, url: str, version: int) -> None:
        """``url`` was read from GitHub (the version was taken before asking)."""
        self._read[url] = (version, self.clock())

    def forget(self, url: str) -> None:
        self._read.pop(url, None)

    async def delivery(
        self, event: str, payload: Mapping[str, Any], bot_login: str | None = None
    ) -> None:
        """An ``issues`` delivery says its issue changed; one that a write of this very
        process caused (sent by ``bot_login``) does not, since that write moved the version
        already. (A write of another process, ``replay`` or ``run-job`` included, does.)"""
        if event != "issues":
            return
        issue = payload.get("issue")
        repository = payload.get("repository")
        if not isinstance(issue, Mapping) or not isinstance(repository, Mapping):
            return
        number = issue.get("number")
        full_name = repository.get("full_name")
        if not (isinstance(number, int) and isinstance(full_name, str) and "/" in full_name):
            return
        owner, repo = full_name.split("/", 1)
        key = self._key(owner, repo, number)
        sender = payload.get("sender")
        login = sender.get("login") if isinstance(sender, Mapping) else None
        own = (
            bot_login is not None and isinstance(login, str) and login.lower() == bot_login.lower()
        )
        if own and self._mine.get(key, 0) > 0:
            self._mine[key] -= 1
            return
        await self.changed(owner, repo, number)
