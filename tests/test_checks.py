"""Check runs written through the checks API: concurrent writers of one run make one run; the
App's record of its runs spares the listing, on both database backends."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.checks import complete_if_present, find_runs, publish
from bot.inbox import Database
from bot.run_records import RunRecords
from bot.scope import Scope
from rules.check_output import CheckOutput
from sandbox import Sandbox

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def at(scope: Scope, records: RunRecords | None = None) -> Scope:
    """``scope`` at ``NOW``, with ``records`` as the App's record of its runs."""
    ctx = dataclasses.replace(scope.ctx, clock=NOW.timestamp, runs=records)
    return dataclasses.replace(scope, ctx=ctx)


def scorecard(summary: str) -> CheckOutput:
    return CheckOutput("hardening/scorecard", "neutral", "Scorecard", summary)


async def test_concurrent_writers_of_one_run_make_one_run(
    sandbox: Sandbox, repo: str, scope: Scope
) -> None:
    sha = sandbox.add_commit(repo)
    # A pull request's event and an item's event are ordered separately, so both can be
    # publishing the same run at once: neither may create a second run beside the other's.
    writes = await asyncio.gather(
        publish(at(scope), sha, scorecard("from the pull request"), pull_number=7),
        publish(at(scope), sha, scorecard("from an item"), pull_number=7),
    )
    assert writes[0].action == "created"
    runs = await find_runs(at(scope), sha, "hardening/scorecard")
    assert len(runs) == 1
    assert runs[0]["output"]["summary"].startswith("from an item")

    # Completing over an existing run waits its turn too, and sees the run.
    results = await asyncio.gather(
        complete_if_present(at(scope), sha, scorecard("out of scope"), pull_number=7),
        publish(at(scope), sha, scorecard("again"), pull_number=7),
    )
    assert results[0].action != "absent"
    assert len(await find_runs(at(scope), sha, "hardening/scorecard")) == 1


# --- the App's record of its runs -------------------------------------------------------------


def listings(sandbox: Sandbox) -> list[Any]:
    return [c for c in sandbox.calls if c.method == "GET" and c.path.endswith("/check-runs")]


async def records_of(database: Database) -> RunRecords:
    records = RunRecords(database.sql, clock=lambda: NOW.timestamp())
    await records.setup()
    return records


async def test_the_record_spares_the_listing_and_every_process_reads_the_same(
    sandbox: Sandbox, repo: str, scope: Scope, database: Database
) -> None:
    sha = sandbox.add_commit(repo)
    one, other = await records_of(database), await records_of(database)  # two replicas
    opened = "2026-11-27T12:00:00Z"  # opened once the record began
    sandbox.reset_calls()
    first = await publish(at(scope, one), sha, scorecard("a"), pull_number=7, opened_at=opened)
    assert first.action == "created" and listings(sandbox) == []
    again = await publish(at(scope, other), sha, scorecard("a"), pull_number=7, opened_at=opened)
    assert again.action == "unchanged" and sandbox.writes()[1:] == []
    edit = await publish(at(scope, other), sha, scorecard("b"), pull_number=7, opened_at=opened)
    assert edit.action == "updated" and edit.data["id"] == first.data["id"]
    last = await complete_if_present(
        at(scope, one), sha, scorecard("c"), pull_number=7, opened_at=opened
    )
    assert last.action == "updated" and last.data["id"] == first.data["id"]
    assert listings(sandbox) == []
    runs = await find_runs(at(scope), sha, "hardening/scorecard")
    assert [r["output"]["summary"][:1] for r in runs] == ["c"]
    # Nothing of the App's on another commit: nothing to complete, nothing listed.
    other_sha = sandbox.add_commit(repo)
    sandbox.reset_calls()
    absent = await complete_if_present(
        at(scope, one), other_sha, scorecard("x"), pull_number=7, opened_at=opened
    )
    assert absent.action == "absent" and listings(sandbox) == []


async def test_a_write_cut_short_is_read_back_from_github_not_made_twice(
    sandbox: Sandbox,
    repo: str,
    scope: Scope,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sha = sandbox.add_commit(repo)
    records = await records_of(database)
    opened = "2026-11-27T12:00:00Z"
    save = records.save

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the process died after GitHub created the run")

    monkeypatch.setattr(records, "save", crash)
    with pytest.raises(RuntimeError):
        await publish(at(scope, records), sha, scorecard("a"), pull_number=7, opened_at=opened)
    monkeypatch.setattr(records, "save", save)
    sandbox.reset_calls()
    retried = await publish(
        at(scope, records), sha, scorecard("a"), pull_number=7, opened_at=opened
    )
    assert retried.action == "unchanged" and len(listings(sandbox)) == 1
    assert len(sandbox.check_runs(repo, sha)) == 1


async def test_a_pull_request_from_before_the_record_has_its_runs_listed(
    sandbox: Sandbox, repo: str, scope: Scope, database: Database
) -> None:
    sha = sandbox.add_commit(repo)
    await publish(at(scope), sha, scorecard("old"), pull_number=7)  # no record
    records = await records_of(database)
    before = "2026-11-27T11:59:59Z"
    edit = await publish(at(scope, records), sha, scorecard("new"), pull_number=7, opened_at=before)
    assert edit.action == "updated" and len(sandbox.check_runs(repo, sha)) == 1


async def test_old_records_are_dropped_and_their_pull_requests_listed_again(
    sandbox: Any, repo: str, scope: Scope, database: Database
) -> None:
    """A commit the App last wrote to more than ``keep`` ago loses its record; the record's
    beginning moves with it, so that commit's runs are listed rather than taken for none."""
    now = [NOW.timestamp()]
    day = 86400.0
    old_sha, new_sha = sandbox.add_commit(repo), sandbox.add_commit(repo)
    records = RunRecords(database.sql, clock=lambda: now[0], keep=30 * day)
    await records.setup()
    opened = "2026-11-27T12:00:00Z"
    await publish(at(scope, records), old_sha, scorecard("old"), pull_number=7, opened_at=opened)
    now[0] += 20 * day
    await publish(at(scope, records), new_sha, scorecard("new"), pull_number=8, opened_at=opened)
    now[0] += 20 * day  # 40 days after the first write, 20 after the second
    later = RunRecords(database.sql, clock=lambda: now[0], keep=30 * day)  # a process starting
    await later.setup()
    assert await later.get(scope.owner, scope.repo, old_sha, "hardening/scorecard") is None
    assert await later.get(scope.owner, scope.repo, new_sha, "hardening/scorecard") is not None
    assert not await later.covers(opened), "opened before the record's new beginning"
    sandbox.reset_calls()
    again = await publish(
        at(scope, later), old_sha, scorecard("old"), pull_number=7, opened_at=opened
    )
    assert again.action == "unchanged" and len(listings(sandbox)) == 1
    assert len(sandbox.check_runs(repo, old_sha)) == 1, "no second run"
