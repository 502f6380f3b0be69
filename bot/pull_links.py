"""The pull requests that link each hardening item, recorded by their own deliveries.

A pull request's scorecard shows, for every item it links, what each pull request linking that
item did (``rules.model.PullFacts``: a new regression test, a control, merged...). Finding them
on GitHub takes the issue search, a read of each pull request found and of its file list: for
an item linked by three pull requests, seven requests on every event of each of them. Yet every
change to a pull request's links, files or state comes to the App as a ``pull_request``
delivery. So each delivery that judges a pull request records here, for every item it links,
the facts the scores need, in the database every replica shares; a scorecard reads them here.

The search still runs for an item this record has not searched for (pull requests from before
the App or the record) and again ``max_age`` after the last search (the safety net for a
delivery the App never got); what it finds never overwrites what a pull request's own delivery
recorded. Facts are kept with the failure class and the configuration they were judged under,
so a changed configuration or class has them judged again from the file list.

Merges. A merged pull request proves things about the items it linked (a regression test, a
control), but its description stays editable after the merge, and a ``Hardens #N`` added then
would make it evidence for any item. So the close delivery of a merged pull request records
the items its description linked at that moment (``pull_merges``), and those are its links from
then on. A pull request merged before the App kept this record (``since``) is read from its
description as it is now: there is nothing else to go by.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bot.dialects import per_dialect
from rules.model import PullFacts

_SCHEMA = per_dialect("""
CREATE TABLE IF NOT EXISTS pull_links (
    repository TEXT NOT NULL,
    item       INTEGER NOT NULL,
    pull       INTEGER NOT NULL,
    facts      TEXT NOT NULL,
    updated_at {real} NOT NULL,
    PRIMARY KEY (repository, item, pull)
);
CREATE INDEX IF NOT EXISTS pull_links_by_pull ON pull_links (repository, pull);
CREATE TABLE IF NOT EXISTS pull_link_searches (
    repository  TEXT NOT NULL,
    item        INTEGER NOT NULL,
    searched_at {real} NOT NULL,
    PRIMARY KEY (repository, item)
);
CREATE TABLE IF NOT EXISTS pull_merges (
    repository  TEXT NOT NULL,
    pull        INTEGER NOT NULL,
    items       TEXT NOT NULL,
    recorded_at {real} NOT NULL,
    PRIMARY KEY (repository, pull)
);
""")

_INSERT = (
    "INSERT INTO pull_links (repository, item, pull, facts, updated_at) "
    "VALUES (:repository, :item, :pull, :facts, :now) ON CONFLICT (repository, item, pull) "
)


@dataclass(frozen=True)
class Link:
    """One pull request linking an item, as its last delivery judged it."""

    pull: int
    state: str  # "open" or "closed"
    failure_class: str | None  # the item's class the facts were judged under
    config: str  # the configuration they were judged under (``bot.facts.config_key``)
    facts: PullFacts

    def as_pull(self) -> dict[str, Any]:
        """The fields of a ``pulls/get`` object the scores read."""
        return {
            "number": self.pull,
            "html_url": self.facts.url,
            "state": self.state,
            "merged": self.facts.merged,
        }


def _encode(link: Link) -> str:
    data = {
        "state": link.state,
        "class": link.failure_class,
        "config": link.config,
        "facts": {**asdict(link.facts), "new_tests": list(link.facts.new_tests)},
    }
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _decode(pull: int, text: str) -> Link | None:
    try:
        data = json.loads(text)
        raw = dict(data["facts"])
        raw["new_tests"] = tuple(str(t) for t in raw.get("new_tests") or ())
        return Link(
            pull=pull,
            state=str(data["state"]),
            failure_class=data.get("class"),
            config=str(data["config"]),
            facts=PullFacts(**raw),
        )
    except (ValueError, KeyError, TypeError):
        return None  # unreadable: treated as not recorded


class PullLinks:
    """The record (``sql``: the database's statements, ``bot.inbox.api.Sql``)."""

    def __init__(self, sql: Any, *, clock: Callable[[], float], max_age: float) -> None:
        self.sql = sql
        self.clock = clock
        self.max_age = max_age

    async def setup(self) -> None:
        await self.sql.setup(_SCHEMA[self.sql.dialect])
        # When merges began to be recorded: the row of no repository (kept from the first start).
        await self.sql.execute(
            (
                "INSERT INTO pull_merges (repository, pull, items, recorded_at) "
                "VALUES ('', 0, '[]', :now) ON CONFLICT (repository, pull) DO NOTHING",
                {"now": self.clock()},
            )
        )

    async def record_merge(self, owner: str, repo: str, pull: int, items: Iterable[int]) -> None:
        """Pull request ``pull`` was merged linking ``items`` (its description then)."""
        await self.sql.execute(
            (
                "INSERT INTO pull_merges (repository, pull, items, recorded_at) "
                "VALUES (:repository, :pull, :items, :now) ON CONFLICT (repository, pull) "
                "DO UPDATE SET items = excluded.items, recorded_at = excluded.recorded_at",
                {
                    "repository": self._repo(owner, repo),
                    "pull": pull,
                    "items": json.dumps(sorted(set(items))),
                    "now": self.clock(),
                },
            )
        )

    async def merges(
        self, owner: str, repo: str, pulls: Iterable[int]
    ) -> tuple[dict[int, frozenset[int]], float | None]:
        """The items each of ``pulls`` linked when it was merged (those recorded), and since
        when merges are recorded (None: not set up)."""
        wanted = sorted(set(pulls))
        found: dict[int, frozenset[int]] = {}
        params: dict[str, Any] = {f"p{i}": n for i, n in enumerate(wanted)}
        rows = (
            await self.sql.fetch(
                "SELECT pull, items FROM pull_merges WHERE repository = :repository "
                f"AND pull IN ({', '.join(f':{key}' for key in params)})",
                {"repository": self._repo(owner, repo), **params},
            )
            if wanted
            else []
        )
        for pull, text in rows:
            try:
                found[int(pull)] = frozenset(int(n) for n in json.loads(str(text)))
            except (ValueError, TypeError):
                found[int(pull)] = frozenset()  # unreadable: links nothing
        since = await self.sql.fetch(
            "SELECT recorded_at FROM pull_merges WHERE repository = '' AND pull = 0"
        )
        return found, float(since[0][0]) if since else None

    @staticmethod
    def _repo(owner: str, repo: str) -> str:
        return f"{owner}/{repo}".lower()

    async def record(self, owner: str, repo: str, pull: int, links: Mapping[int, Link]) -> None:
        """What one delivery of pull request ``pull`` judged: item -> its link, for every item
        it links now (none: it links none, or was closed unmerged)."""
        repository = self._repo(owner, repo)
        now = self.clock()
        statements: list[tuple[str, Mapping[str, Any]]] = [
            (
                "DELETE FROM pull_links WHERE repository = :repository AND pull = :pull",
                {"repository": repository, "pull": pull},
            )
        ]
        for item, link in links.items():
            statements.append(
                (
                    _INSERT
                    + "DO UPDATE SET facts = excluded.facts, updated_at = excluded.updated_at",
                    {
                        "repository": repository,
                        "item": item,
                        "pull": pull,
                        "facts": _encode(link),
                        "now": now,
                    },
                )
            )
        await self.sql.execute(*statements)

    async def linked(self, owner: str, repo: str, item: int) -> list[Link] | None:
        """The pull requests recorded as linking ``item``, by number; None when the item was
        not searched for within ``max_age`` (then the caller searches, and calls
        :meth:`searched`)."""
        repository = self._repo(owner, repo)
        key = {"repository": repository, "item": item}
        searched = await self.sql.fetch(
            "SELECT searched_at FROM pull_link_searches "
            "WHERE repository = :repository AND item = :item",
            key,
        )
        if not searched or self.clock() - float(searched[0][0]) >= self.max_age:
            return None
        rows = await self.sql.fetch(
            "SELECT pull, facts FROM pull_links WHERE repository = :repository AND item = :item "
            "ORDER BY pull",
            key,
        )
        return [link for pull, text in rows if (link := _decode(int(pull), str(text)))]

    async def searched(self, owner: str, repo: str, item: int, found: Iterable[Link]) -> None:
        """The search for ``item``'s pull requests found ``found``; a pull request's own
        delivery knows better, so what it recorded stays."""
        repository = self._repo(owner, repo)
        now = self.clock()
        statements: list[tuple[str, Mapping[str, Any]]] = [
            (
                _INSERT + "DO NOTHING",
                {
                    "repository": repository,
                    "item": item,
                    "pull": link.pull,
                    "facts": _encode(link),
                    "now": now,
                },
            )
            for link in found
        ]
        statements.append(
            (
                "INSERT INTO pull_link_searches (repository, item, searched_at) "
                "VALUES (:repository, :item, :now) ON CONFLICT (repository, item) "
                "DO UPDATE SET searched_at = excluded.searched_at",
                {"repository": repository, "item": item, "now": now},
            )
        )
        await self.sql.execute(*statements)
