"""The App's own record of the check runs it wrote, in the database every replica shares.

Per repository, commit and run name: what the runs' markers say, their status and how many
annotations landed (``bot.checks`` writes the runs). With it a pull request event lists nothing
before writing: a commit the record holds nothing for has none of the App's runs (the record is
claimed before the first run is created), and a record left mid-write (a crash, another
replica) is read back from GitHub's ``list-for-ref`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.dialects import per_dialect
from rules import markers

_RECORD_SCHEMA = per_dialect("""
CREATE TABLE IF NOT EXISTS check_run_records (
    repository TEXT NOT NULL,
    head_sha   TEXT NOT NULL,
    name       TEXT NOT NULL,
    runs       TEXT NOT NULL,
    writing    INTEGER NOT NULL,
    updated_at {real} NOT NULL,
    PRIMARY KEY (repository, head_sha, name)
);
""")
_KEY = "repository = :repository AND head_sha = :sha AND name = :name"


@dataclass(frozen=True)
class Recorded:
    """What the record holds for one commit and name: the App's runs, newest first, and
    whether a write was under way (then GitHub's list is the truth)."""

    runs: list[dict[str, Any]]
    writing: bool


# How long the record of a commit is kept after the App last wrote to it.
KEEP_SECONDS = 90 * 24 * 3600.0


class RunRecords:
    """The check runs the App wrote, per repository, commit and name (``sql``: the database's
    statements, ``bot.inbox.api.Sql``). A write claims the record first (``claim``) and saves
    what GitHub answered after (``save``), so a record still claimed was interrupted."""

    def __init__(self, sql: Any, clock: Callable[[], float], *, keep: float = KEEP_SECONDS) -> None:
        self.sql = sql
        self.clock = clock
        self.keep = keep
        # When the record began (kept in the table, the first process's start), moved on as
        # old records are dropped: a pull request opened before then may have runs the record
        # does not hold, so its commits are listed.
        self.since = "9999"
        self._since_read = float("-inf")
        self._pruned = float("-inf")

    async def setup(self) -> None:
        """Create the table, note when the record began, and drop what is past ``keep``."""
        await self.sql.setup(_RECORD_SCHEMA[self.sql.dialect])
        began = _iso(datetime.fromtimestamp(self.clock(), UTC))
        await self.sql.execute(
            (
                "INSERT INTO check_run_records (repository, head_sha, name, runs, writing, "
                "updated_at) VALUES ('', '', 'since', :began, 0, :now) "
                "ON CONFLICT (repository, head_sha, name) DO NOTHING",
                {"began": began, "now": self.clock()},
            )
        )
        await self.prune()

    async def prune(self) -> None:
        """Drop the records of commits the App last wrote to more than ``keep`` ago. The
        record's beginning moves to that moment first, so a pull request opened before it has
        its commits listed rather than taken for runless."""
        cutoff = self.clock() - self.keep
        await self.sql.execute(
            (
                "UPDATE check_run_records SET runs = :cutoff WHERE repository = '' "
                "AND name = 'since' AND runs < :cutoff",
                {"cutoff": _iso(datetime.fromtimestamp(cutoff, UTC))},
            ),
            (
                "DELETE FROM check_run_records WHERE repository <> '' AND updated_at < :cutoff",
                {"cutoff": cutoff},
            ),
        )
        self._pruned = self.clock()
        await self._read_since()

    async def _read_since(self) -> None:
        rows = await self.sql.fetch(
            "SELECT runs FROM check_run_records WHERE repository = '' AND name = 'since'"
        )
        self.since = str(rows[0][0]) if rows else self.since
        self._since_read = self.clock()

    async def covers(self, opened_at: str | None) -> bool:
        """Whether every run of the App on a pull request opened at ``opened_at`` (GitHub's
        ``created_at``) is in the record. Another process may have dropped old records: the
        beginning is read again hourly, and the records pruned daily."""
        if self.clock() - self._since_read >= 3600:
            if self.clock() - self._pruned >= 86400:
                await self.prune()
            else:
                await self._read_since()
        return bool(opened_at) and str(opened_at) >= self.since

    @staticmethod
    def _key(owner: str, repo: str, sha: str, name: str) -> dict[str, Any]:
        return {"repository": f"{owner}/{repo}".lower(), "sha": sha, "name": name}

    async def get(self, owner: str, repo: str, sha: str, name: str) -> Recorded | None:
        rows = await self.sql.fetch(
            f"SELECT runs, writing FROM check_run_records WHERE {_KEY}",
            self._key(owner, repo, sha, name),
        )
        if not rows:
            return None
        try:
            runs = [dict(r) for r in json.loads(rows[0][0]) if isinstance(r, dict)]
        except (ValueError, TypeError):
            return Recorded([], writing=True)  # unreadable: list from GitHub
        return Recorded(runs, writing=bool(rows[0][1]))

    async def claim(self, owner: str, repo: str, sha: str, name: str, *, new: bool) -> bool:
        """Mark a write under way. ``new``: the record did not exist, and only one writer
        creates it. False when another writer got there first."""
        key = {**self._key(owner, repo, sha, name), "now": self.clock()}
        if new:
            sql = (
                "INSERT INTO check_run_records (repository, head_sha, name, runs, writing, "
                "updated_at) VALUES (:repository, :sha, :name, '[]', 1, :now) "
                "ON CONFLICT (repository, head_sha, name) DO NOTHING"
            )
        else:
            sql = (
                "UPDATE check_run_records SET writing = 1, updated_at = :now "
                f"WHERE {_KEY} AND writing = 0"
            )
        return (await self.sql.execute((sql, key)))[0] == 1

    async def save(
        self, owner: str, repo: str, sha: str, name: str, runs: list[dict[str, Any]]
    ) -> None:
        """The runs as GitHub answered the write; the write is over."""
        key = {
            **self._key(owner, repo, sha, name),
            "runs": json.dumps([_slim(r) for r in runs[:_KEPT]], separators=(",", ":")),
            "now": self.clock(),
        }
        await self.sql.execute(
            (
                "INSERT INTO check_run_records (repository, head_sha, name, runs, writing, "
                "updated_at) VALUES (:repository, :sha, :name, :runs, 0, :now) "
                "ON CONFLICT (repository, head_sha, name) DO UPDATE SET runs = excluded.runs, "
                "writing = 0, updated_at = excluded.updated_at",
                key,
            )
        )


# The newest runs kept per commit and name: a re-run delivery looks for its own among them.
_KEPT = 20


def _slim(run: Mapping[str, Any]) -> dict[str, Any]:
    """What the record keeps of a run: enough for ``run_mark`` and ``_publish``, and the
    break-glass override a controls run carries."""
    summary = str((run.get("output") or {}).get("summary") or "")
    tail = summary.rstrip().rsplit("\n", 1)[-1]
    override = markers.override_in(summary)
    kept = tail if override is None else markers.override(override) + "\n" + tail
    return {
        "id": run.get("id"),
        "name": run.get("name"),
        "status": run.get("status"),
        "conclusion": run.get("conclusion"),
        "external_id": run.get("external_id"),
        "app": run.get("app"),
        "output": {
            "summary": kept,
            "annotations_count": int((run.get("output") or {}).get("annotations_count") or 0),
        },
    }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
