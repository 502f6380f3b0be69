"""Check runs written through the checks API: concurrent writers of one run make one run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from gidgethub.abc import GitHubAPI

from bot.checks import complete_if_present, find_runs, publish
from rules.check_output import CheckOutput

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def scorecard(summary: str) -> CheckOutput:
    return CheckOutput("hardening/scorecard", "neutral", "Scorecard", summary)


async def test_concurrent_writers_of_one_run_make_one_run(
    sandbox: Any, repo: str, gh: GitHubAPI
) -> None:
    owner, name = repo.split("/")
    sha = sandbox.add_commit(repo)
    # A pull request's event and an item's event are ordered separately, so both can be
    # publishing the same run at once: neither may create a second run beside the other's.
    writes = await asyncio.gather(
        publish(gh, owner, name, sha, scorecard("from the pull request"), pull_number=7, now=NOW),
        publish(gh, owner, name, sha, scorecard("from an item"), pull_number=7, now=NOW),
    )
    assert writes[0].action == "created"
    runs = await find_runs(gh, owner, name, sha, "hardening/scorecard")
    assert len(runs) == 1
    assert runs[0]["output"]["summary"].startswith("from an item")

    # Completing over an existing run waits its turn too, and sees the run.
    results = await asyncio.gather(
        complete_if_present(
            gh, owner, name, sha, scorecard("out of scope"), pull_number=7, now=NOW
        ),
        publish(gh, owner, name, sha, scorecard("again"), pull_number=7, now=NOW),
    )
    assert results[0].action != "absent"
    assert len(await find_runs(gh, owner, name, sha, "hardening/scorecard")) == 1
