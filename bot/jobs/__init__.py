"""Scheduled jobs: the hardening loop's "Ownership operating rhythm", run without anyone remembering.

- ``weekly-review`` (bot.jobs.weekly_review): the weekly reliability standup.
- ``monthly-audit`` (bot.jobs.monthly_audit): the monthly control audit.

A job is ``run(scope) -> JobReport`` (``bot.scope.Scope``): it reads the repository's configuration
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
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from bot.context import Context, bound_log
from bot.jobs import monthly_audit, weekly_review
from bot.jobs.job import Job, JobReport
from bot.scope import Scope

if TYPE_CHECKING:
    from bot.github import GitHubApp
    from bot.settings import Settings

__all__ = ["Job", "JobReport", "all_jobs", "main", "run_job"]


def all_jobs() -> dict[str, Job]:
    """Every job by name, in the order the scheduler runs them."""
    return {job.name: job for job in (weekly_review.JOB, monthly_audit.JOB)}


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
        report = await job.run(Scope(gh, ctx, owner, repo))
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
