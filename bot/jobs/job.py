"""What a scheduled job is (``Job``), what one run reports (``JobReport``), and the steps the
weekly review and the monthly audit share: reading items' facts, one comment per flagged item.

The registry of jobs and ``python -m bot run-job`` are in ``bot.jobs``, which imports each job;
the jobs import this module, never the package, so the imports run one way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.facts import FileCache, item_facts
from bot.scope import Scope
from bot.writes import upsert_comment
from rules.config import Config
from rules.model import HardeningItem, ItemFacts

if TYPE_CHECKING:
    from bot.item_issues import LoadedItem
    from rules.cadence import Cadence


@dataclass(frozen=True)
class JobReport:
    """What one run did, for the logs and the ``run-job`` command."""

    job: str
    repository: str
    period: str
    items: int  # hardening items looked at
    flagged: tuple[int, ...] = ()  # items with something to flag
    written: tuple[int, ...] = ()  # items whose comment was created or edited
    tracking: tuple[int, ...] = ()  # incidents whose tracking comment was refreshed
    notes: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        parts = [
            f"{self.job} {self.period} of {self.repository}: {self.items} item(s) looked at",
            f"flagged {_numbers(self.flagged)}",
            f"comments written on {_numbers(self.written)}",
        ]
        if self.tracking:
            parts.append(f"tracking comments refreshed on {_numbers(self.tracking)}")
        return "; ".join([*parts, *self.notes])


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[Scope], Awaitable[JobReport]]
    # When the job is due under a repository's configuration; None: turned off.
    cadence: Callable[[Config], Cadence | None]


async def facts_of(
    scope: Scope,
    loaded: Iterable[LoadedItem],
    config: Config,
    *,
    with_pulls: Callable[[HardeningItem], bool],
) -> list[ItemFacts]:
    """The facts of each item. Linked pull requests cost one search each (and search has the
    tightest rate limit), so they are read only for the items ``with_pulls`` picks: the ones
    whose adoption score will be computed. The other flags need only the item itself."""
    files: FileCache = {}
    found = []
    for one in loaded:
        item = one.item or HardeningItem()
        pulls = None if with_pulls(item) else ()
        found.append(await item_facts(scope, one, config, pulls=pulls, files=files))
    return found


def adoption_check_passed(item: HardeningItem, today: date) -> bool:
    return item.adoption_check is not None and today > item.adoption_check


async def comment_on_items(
    scope: Scope,
    job: str,
    entries: Iterable[Any],
    marker: str,
    render: Callable[[Any], str],
) -> tuple[int, ...]:
    """One comment per flagged item, keyed by the period's ``marker`` and edited in place, so a
    second run in the same period writes nothing. Returns the items whose comment was written."""
    written = []
    for entry in entries:
        write = await upsert_comment(
            scope.gh,
            scope.owner,
            scope.repo,
            entry.number,
            marker,
            render(entry),
            bot_login=scope.ctx.bot_login,
        )
        scope.ctx.log.info(
            "%s of #%s: %s (%s)", job, entry.number, write.action, ", ".join(entry.kinds)
        )
        if write.wrote:
            written.append(entry.number)
    return tuple(written)


def _numbers(numbers: Sequence[int]) -> str:
    return ", ".join(f"#{n}" for n in numbers) if numbers else "none"
