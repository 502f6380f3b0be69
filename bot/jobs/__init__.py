"""Scheduled jobs: the hardening loop's "Ownership operating rhythm", run without anyone remembering.

- ``weekly-review`` (bot.jobs.weekly_review): the weekly reliability standup.
- ``monthly-audit`` (bot.jobs.monthly_audit): the monthly control audit.

A job is ``run(gh, ctx, owner, repo) -> JobReport``: it reads the repository's configuration
and hardening items from GitHub, calls the pure core (rules.review) and writes idempotently
(bot.writes), so running it twice in one period changes nothing the second time.
``bot.schedules.Scheduler`` runs them on the schedule of each repository's
``.github/hardening.yml``; operators run one by hand with::

    python -m bot run-job weekly-review OWNER/REPO [--dry-run]
    python -m bot run-job monthly-audit OWNER/REPO [--dry-run]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any, TextIO

from gidgethub.abc import GitHubAPI

from bot.context import Context, bound_log
from bot.facts import FileCache, item_facts
from rules.config import Config
from rules.model import HardeningItem, ItemFacts

if TYPE_CHECKING:
    from bot.github import GitHubApp
    from bot.items import LoadedItem
    from bot.settings import Settings
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
    run: Callable[[GitHubAPI, Context, str, str], Awaitable[JobReport]]
    # When the job is due under a repository's configuration; None: turned off.
    cadence: Callable[[Config], Cadence | None]


def all_jobs() -> dict[str, Job]:
    """Every job by name, in the order the scheduler runs them."""
    from bot.jobs import monthly_audit, weekly_review

    return {job.name: job for job in (weekly_review.JOB, monthly_audit.JOB)}


# --- shared by the jobs ------------------------------------------------------------------------


def leads_of(config: Config) -> tuple[str, ...]:
    """Configured leads as mention targets: logins and ``org/team`` handles."""
    return (*config.leads.users, *config.leads.teams)


async def facts_of(
    gh: GitHubAPI,
    ctx: Context,
    owner: str,
    repo: str,
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
        found.append(await item_facts(gh, ctx, owner, repo, one, config, pulls=pulls, files=files))
    return found


def adoption_check_passed(item: HardeningItem, today: date) -> bool:
    return item.adoption_check is not None and today > item.adoption_check


async def comment_on_items(
    gh: GitHubAPI,
    ctx: Context,
    owner: str,
    repo: str,
    job: str,
    entries: Iterable[Any],
    marker: str,
    render: Callable[[Any], str],
) -> tuple[int, ...]:
    """One comment per flagged item, keyed by the period's ``marker`` and edited in place, so a
    second run in the same period writes nothing. Returns the items whose comment was written."""
    from bot.writes import upsert_comment

    written = []
    for entry in entries:
        write = await upsert_comment(
            gh, owner, repo, entry.number, marker, render(entry), bot_login=ctx.bot_login
        )
        ctx.log.info("%s of #%s: %s (%s)", job, entry.number, write.action, ", ".join(entry.kinds))
        if write.wrote:
            written.append(entry.number)
    return tuple(written)


def _numbers(numbers: Sequence[int]) -> str:
    return ", ".join(f"#{n}" for n in numbers) if numbers else "none"


# --- python -m bot run-job -----------------------------------------------------------------------


def main(argv: list[str]) -> int:
    """``python -m bot run-job JOB OWNER/REPO [--dry-run]``."""
    from bot.logs import configure_logging
    from bot.settings import SettingsError, from_process_env

    parser = argparse.ArgumentParser(
        prog="python -m bot run-job",
        description="Run one scheduled job for one repository now.",
    )
    parser.add_argument("job", choices=sorted(all_jobs()))
    parser.add_argument("repository", help="OWNER/REPO")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the writes instead of making them"
    )
    args = parser.parse_args(argv)
    owner, _, repo = args.repository.partition("/")
    if not owner or not repo or "/" in repo:
        parser.error(f"repository must be OWNER/REPO, got {args.repository!r}")
    try:
        # A job receives no webhooks, but it reads items: the webhook secret is the key of the
        # App's records, and without it no item could be read as verified or retired.
        settings = from_process_env()
    except SettingsError as exc:
        print(f"hardening-bot: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    return asyncio.run(run_job(settings, args.job, owner, repo, dry_run=args.dry_run))


async def run_job(
    settings: Settings,
    name: str,
    owner: str,
    repo: str,
    *,
    dry_run: bool = False,
    github: GitHubApp | None = None,
    clock: Callable[[], float] = time.time,
    out: TextIO | None = None,
) -> int:
    """Run job ``name`` for ``owner/repo`` now, outside the schedule; 0 on success.

    The run is not recorded in the schedules: the scheduled run of the period still happens,
    and edits the same comments (they are keyed by period), so it writes nothing new.
    """
    from bot.github import GitHubApp
    from bot.metrics import Metrics

    out = out or sys.stdout
    job = all_jobs()[name]
    client = github or GitHubApp(settings, metrics=Metrics(), dry_run=dry_run)
    try:
        installation = await client.repo_installation_id(owner, repo)
        if installation is None:
            print(f"the App is not installed on {owner}/{repo}", file=out)
            return 1
        gh = await client.installation_api(installation)
        ctx = Context(
            settings=settings,
            metrics=client.metrics,
            log=bound_log("bot.jobs", job=name, repository=f"{owner}/{repo}"),
            bot_login=await client.bot_login(),
            clock=clock,
        )
        report = await job.run(gh, ctx, owner, repo)
    except Exception as exc:
        print(f"{name} of {owner}/{repo} failed: {type(exc).__name__}: {exc}", file=out)
        return 1
    finally:
        if client is not github:
            await client.close()
    print(report.summary, file=out)
    if client.dry_run:
        print(f"dry run: {len(client.recorded)} write(s) not sent", file=out)
        for call in client.recorded:
            print(f"  {call}", file=out)
    return 0
