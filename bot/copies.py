"""The App's last known copy of each signed record, kept where a restart or a replica finds it.

When a person removes or breaks the record in a body (docs/commands.md, "Who may change what"),
the App writes back its last known copy. In the server (``bot.web``) the copies live in the
database every process shares (``bot.inbox.api.RecordCopies``: SQLite or PostgreSQL), so a
restarted process or another replica holds the same copy as the one that wrote it. Commands
that run without the database (``replay``, ``run-job``) keep them in memory for their run.

A copy is the signed line the App wrote, checked with the record key on every read like a
body's record: a copy the key does not verify counts as absent (fail closed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cachetools import LRUCache

from rules.record import Record, seal


class CopyStore(Protocol):
    """Where copies are held (``bot.inbox.api.RecordCopies``)."""

    async def lines(self, subjects: Sequence[str]) -> dict[str, str]: ...

    async def keep(self, subject: str, serial: int, line: str) -> None: ...


class Copies:
    """The App's last known copies: in ``store`` when given, else in this object's memory."""

    def __init__(self, store: CopyStore | None = None, *, maxsize: int = 20_000) -> None:
        self.store = store
        self._memory: LRUCache[str, tuple[int, str]] = LRUCache(maxsize=maxsize)

    async def lines(self, subjects: Sequence[str]) -> dict[str, str]:
        """The signed line held for each of ``subjects`` that has one (unchecked)."""
        if self.store is not None:
            return await self.store.lines(subjects)
        return {s: held[1] for s in subjects if (held := self._memory.get(s)) is not None}

    async def keep(self, record: Record, key: bytes) -> None:
        """Hold ``record``, signed with ``key``, unless a newer one is held."""
        line = seal(record, key)
        if self.store is not None:
            await self.store.keep(record.subject, record.serial, line)
            return
        held = self._memory.get(record.subject)
        if held is None or record.serial >= held[0]:
            self._memory[record.subject] = (record.serial, line)
