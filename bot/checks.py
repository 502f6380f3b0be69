"""Check runs on GitHub: find the bot's own, write them idempotently, finish what a crash left.

The runs are rendered by :mod:`rules.check_output`; this module only talks to the checks API
(``checks/create``, ``checks/update``, ``checks/list-for-ref``). Every run the bot writes carries a
hidden marker as the last line of its summary (``rules.markers``)::

    <!-- hardening-bot:check name=hardening/controls pull=7 digest=… ann=… rerun=… -->

``digest`` identifies everything the run shows and ``ann`` its annotations, so a write that would
change nothing is skipped, and a run whose annotations are unchanged is edited in place (GitHub
appends annotations on every update, it never replaces them, so a run whose annotations changed
is superseded by a new run instead). ``rerun`` is the delivery that asked for a fresh run, so a
retried re-run delivery finds its run instead of creating a second one.

The App's own record (:class:`bot.run_records.RunRecords`, in the database every replica shares) keeps, per
commit and name, the runs the App wrote: what their markers say, their status and how many
annotations landed. With it a pull request event lists nothing before writing: a commit the
record holds nothing for has none of the App's runs (the record is claimed before the first
run is created), and a record left mid-write (a crash, another replica) is read back from
``list-for-ref`` instead, the one listing that remains. Without a database (``replay``,
``run-job``) every write lists first.

Crash safety: a run with more than 50 annotations is created ``in_progress`` with the first 50
and completed by the last batch. If the process dies in between, the retry finds the
``in_progress`` run through ``list-for-ref``, reads ``output.annotations_count`` to see which
batches landed, sends the rest and completes it: no duplicate run, no run left unfinished.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import gidgethub

from bot.run_records import Recorded
from bot.scope import Scope
from bot.writes import Write
from rules import markers
from rules.check_output import CHECK_NAMES, MAX_OUTPUT_CHARS, CheckOutput

_EXTERNAL_ID = re.compile(r"^pull:(\d+)$")
_SHA = re.compile(r"^[0-9a-f]{40}$")

__all__ = [
    "RunMark",
    "complete_if_present",
    "current_runs",
    "external_id",
    "find_runs",
    "publish",
    "pull_numbers_for_check",
    "run_lock",
    "run_mark",
]


@dataclass(frozen=True)
class RunMark:
    """What the marker of one of the bot's runs says."""

    name: str
    pull: int | None
    digest: str
    annotations: str
    rerun: str | None = None

    def text(self) -> str:
        fields = {
            "name": self.name,
            "pull": str(self.pull or ""),
            "digest": self.digest,
            "ann": self.annotations,
        }
        if self.rerun:
            fields["rerun"] = _plain(self.rerun)
        return markers.check(fields)


def run_mark(run: dict[str, Any]) -> RunMark | None:
    """The marker of a check run the bot wrote, or None for anyone else's run."""
    summary = ((run.get("output") or {}).get("summary")) or ""
    fields = markers.check_fields(summary)
    if fields is None:
        return None
    pull = fields.get("pull") or ""
    return RunMark(
        name=fields.get("name", ""),
        pull=int(pull) if pull.isdigit() else None,
        digest=fields.get("digest", ""),
        annotations=fields.get("ann", ""),
        rerun=fields.get("rerun") or None,
    )


def external_id(pull_number: int) -> str:
    """What the run's ``external_id`` holds: re-run payloads often lack the pull request."""
    return f"pull:{pull_number}"


async def find_runs(scope: Scope, sha: str, name: str) -> list[dict]:
    """The bot's runs named ``name`` on commit ``sha``, newest first (every run, not the latest)."""
    runs = []
    async for run in scope.gh.getiter(
        "/repos/{owner}/{repo}/commits/{ref}/check-runs{?check_name,filter,per_page}",
        {
            "owner": scope.owner,
            "repo": scope.repo,
            "ref": sha,
            "check_name": name,
            "filter": "all",
            "per_page": 100,
        },
        iterable_key="check_runs",
    ):
        if run.get("name") == name and run_mark(run) is not None:
            runs.append(dict(run))
    runs.sort(key=lambda r: int(r.get("id") or 0), reverse=True)
    return runs


async def current_runs(scope: Scope, sha: str, name: str, opened_at: str | None) -> list[dict]:
    """The App's runs named ``name`` on ``sha``, newest first: from the record where it holds
    them all (``ctx.runs``), else from GitHub's list (as :func:`find_runs`)."""
    _held, runs = await _held_runs(scope, sha, name, opened_at)
    return runs


async def _held_runs(
    scope: Scope, sha: str, name: str, opened_at: str | None
) -> tuple[Recorded | None, list[dict]]:
    """What the record holds for ``sha`` and ``name`` (None: nothing, or no record), and the
    App's runs there, newest first: the record's, unless it cannot tell (nothing held for a
    pull request older than the record, a write under way), then GitHub's list."""
    records = scope.ctx.runs
    if records is None:
        return None, await find_runs(scope, sha, name)
    held = await records.get(scope.owner, scope.repo, sha, name)
    if held is None and await records.covers(opened_at):
        return None, []
    if held is not None and not held.writing:
        return held, held.runs
    return held, await find_runs(scope, sha, name)


# One writer at a time per run name and commit. Deliveries are ordered per subject, and a pull
# request's events and its items' events (ordered by incident) are different subjects: without
# this, two of them could both find no run on the commit and both create one.
_RUN_LOCKS: weakref.WeakValueDictionary[tuple[str, str, str, str], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)


def run_lock(scope: Scope, sha: str, name: str) -> asyncio.Lock:
    """The lock ``publish`` takes for one run. Hold it yourself (and pass ``locked=True``) to
    compute the output under it too, so that the last output written is computed last."""
    key = (scope.owner.lower(), scope.repo.lower(), sha, name)
    lock = _RUN_LOCKS.get(key)
    if lock is None:
        lock = _RUN_LOCKS[key] = asyncio.Lock()
    return lock


async def publish(
    scope: Scope,
    sha: str,
    output: CheckOutput,
    *,
    pull_number: int,
    rerun: str | None = None,
    locked: bool = False,
    opened_at: str | None = None,
) -> Write:
    """Make ``output`` the latest run named ``output.name`` on ``sha``, writing only what differs.

    ``rerun`` (a delivery id) asks for a new completed run even when nothing changed, as GitHub
    expects of a re-run; a retry of the same delivery reuses it. ``locked``: the caller holds
    ``run_lock`` for this run already. The App's record of its runs is ``ctx.runs`` (without
    one, GitHub's list is read first); ``opened_at``: the pull request's ``created_at``, which
    tells whether the record holds all of its runs. Times written are ``ctx.now()``.
    """
    now = scope.ctx.now()
    async with contextlib.nullcontext() if locked else run_lock(scope, sha, output.name):
        return await _recorded_publish(
            scope, sha, output, pull_number, now, rerun, only_over=False, opened_at=opened_at
        )


async def _recorded_publish(
    scope: Scope,
    sha: str,
    output: CheckOutput,
    pull_number: int,
    now: datetime,
    rerun: str | None,
    *,
    only_over: bool,
    opened_at: str | None,
) -> Write:
    """``_publish`` over the runs the record holds (GitHub's list where it cannot tell), the
    record claimed before any write and saved after. ``only_over``: write only over an
    existing run. ``opened_at``: when the pull request was opened (``RunRecords.covers``)."""
    name, records, owner, repo = output.name, scope.ctx.runs, scope.owner, scope.repo
    held, runs = await _held_runs(scope, sha, name, opened_at)
    if only_over and not runs:
        return Write("absent")
    mark = RunMark(name, pull_number, output.fingerprint(), output.annotations_fingerprint(), rerun)
    if records is None:
        return await _publish(scope, sha, output, mark, now, runs)
    current = _unchanged(runs, mark)
    if current is not None:
        return Write("unchanged", current)
    if not await records.claim(owner, repo, sha, name, new=held is None) and not (
        held is not None and held.writing
    ):
        runs = await find_runs(scope, sha, name)  # another writer was first
        current = _unchanged(runs, mark)
        if current is not None:
            return Write("unchanged", current)
    write = await _publish(scope, sha, output, mark, now, runs)
    await records.save(owner, repo, sha, name, runs)
    return write


def _of_rerun(runs: list[dict], mark: RunMark) -> list[dict]:
    """``runs`` that a re-run ``mark`` may write over: those of its own delivery (all of them
    when ``mark`` is no re-run)."""
    if mark.rerun is None:
        return runs
    return [r for r in runs if (run_mark(r) or mark).rerun == _plain(mark.rerun)]


def _unchanged(runs: list[dict], mark: RunMark) -> dict[str, Any] | None:
    """The run that already shows ``mark``, completed, when nothing needs writing."""
    runs = _of_rerun(runs, mark)
    if not runs:
        return None
    found = run_mark(runs[0])
    if found is not None and found.digest == mark.digest and runs[0].get("status") == "completed":
        return runs[0]
    return None


async def _publish(
    scope: Scope, sha: str, output: CheckOutput, mark: RunMark, now: datetime, runs: list[dict]
) -> Write:
    """``publish`` with the run lock held and the bot's runs of that name on ``sha`` listed.
    ``runs`` is brought in step with what GitHub answered (newest first)."""
    write = await _write(scope, sha, output, mark, now, runs)
    if write.data and write.action in ("created", "updated"):
        runs[:] = [write.data, *(r for r in runs if r.get("id") != write.data.get("id"))]
    return write


async def _write(
    scope: Scope, sha: str, output: CheckOutput, mark: RunMark, now: datetime, runs: list[dict]
) -> Write:
    mine = _of_rerun(runs, mark)
    if not mine:
        return await _create(scope, sha, output, mark, now)
    latest = mine[0]
    found = run_mark(latest)
    assert found is not None
    done = latest.get("status") == "completed"
    landed = int((latest.get("output") or {}).get("annotations_count") or 0)
    if found.digest == mark.digest:
        if done:
            return Write("unchanged", latest)
        # Our own interrupted write: send the batches that did not land, then complete it.
        return await _finish(scope, latest, output, mark, now, start=landed)
    if found.annotations == mark.annotations and done:
        return await _finish(scope, latest, output, mark, now, start=len(output.annotations))
    if not done and landed == 0:
        return await _finish(scope, latest, output, mark, now, start=0)
    if not done:
        # An interrupted run of an older evaluation, with annotations we can no longer take
        # back: complete it as superseded rather than leave it running, then post afresh.
        superseded = await _patch(
            scope,
            latest["id"],
            {
                "status": "completed",
                "conclusion": "neutral",
                "completed_at": _iso(now),
                "output": {
                    "title": "Superseded",
                    "summary": "A newer evaluation replaced this run.\n\n"
                    + RunMark(
                        found.name, found.pull, "superseded", found.annotations, found.rerun
                    ).text(),
                },
            },
        )
        mine[:] = [superseded if r.get("id") == superseded.get("id") else r for r in mine]
    return await _create(scope, sha, output, mark, now)


async def complete_if_present(
    scope: Scope,
    sha: str,
    output: CheckOutput,
    *,
    pull_number: int,
    opened_at: str | None = None,
) -> Write:
    """Publish ``output`` only over an existing run of the bot (e.g. "no longer in scope")."""
    now = scope.ctx.now()
    async with run_lock(scope, sha, output.name):
        return await _recorded_publish(
            scope, sha, output, pull_number, now, None, only_over=True, opened_at=opened_at
        )


async def pull_numbers_for_check(scope: Scope, check: dict[str, Any]) -> list[int]:
    """The pull requests a ``check_run`` or ``check_suite`` payload object is about.

    Re-run payloads often carry ``pull_requests: []`` (always for forks), so in order: the
    payload's own list (this repository's pulls only), our ``external_id``, the markers of our
    runs on the head commit, then a search for the commit. The caller verifies each pull's head.
    """
    repo_url_tail = f"/repos/{scope.full_name}".lower()
    numbers = [
        int(p["number"])
        for p in check.get("pull_requests") or ()
        if isinstance(p, dict)
        and isinstance(p.get("number"), int)
        and str(((p.get("base") or {}).get("repo") or {}).get("url", repo_url_tail))
        .lower()
        .endswith(repo_url_tail)
    ]
    if numbers:
        return sorted(set(numbers))
    found = _EXTERNAL_ID.match(str(check.get("external_id") or ""))
    if found:
        return [int(found.group(1))]
    sha = str(check.get("head_sha") or "")
    if not _SHA.match(sha):
        return []
    for name in CHECK_NAMES:
        for run in await find_runs(scope, sha, name):
            mark = run_mark(run)
            if mark and mark.pull:
                return [mark.pull]
            external = _EXTERNAL_ID.match(str(run.get("external_id") or ""))
            if external:
                return [int(external.group(1))]
    # GitHub's issue search finds pull requests containing a commit by its SHA.
    numbers = []
    try:
        async for item in scope.gh.getiter(
            "/search/issues{?q,per_page}",
            {"q": f"repo:{scope.full_name} is:pr is:open {sha}", "per_page": 20},
        ):
            if isinstance(item.get("number"), int):
                numbers.append(int(item["number"]))
            if len(numbers) >= 20:
                break
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 422:  # 422: GitHub rejects some queries; nothing found
            raise
    return sorted(set(numbers))


# --- writing ---------------------------------------------------------------------------------


def _summary(output: CheckOutput, mark: RunMark) -> str:
    tail = "\n\n" + mark.text()
    return output.summary[: MAX_OUTPUT_CHARS - len(tail)] + tail


def _output(output: CheckOutput, mark: RunMark, annotations: tuple = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"title": output.title, "summary": _summary(output, mark)}
    if output.text:
        body["text"] = output.text
    if annotations:
        body["annotations"] = list(annotations)
    return body


async def _create(
    scope: Scope,
    sha: str,
    output: CheckOutput,
    mark: RunMark,
    now: datetime,
) -> Write:
    batches = output.batches()
    body: dict[str, Any] = {
        "name": output.name,
        "head_sha": sha,
        "external_id": external_id(mark.pull) if mark.pull else "",
        "output": _output(output, mark, batches[0]),
    }
    if output.actions:
        body["actions"] = [dict(a) for a in output.actions]
    if len(batches) == 1:
        body.update(status="completed", conclusion=output.conclusion, completed_at=_iso(now))
        created = await scope.gh.post(
            "/repos/{owner}/{repo}/check-runs",
            {"owner": scope.owner, "repo": scope.repo},
            data=body,
        )
        return Write("created", created, ("check_run",))
    body.update(status="in_progress", started_at=_iso(now))
    created = await scope.gh.post(
        "/repos/{owner}/{repo}/check-runs", {"owner": scope.owner, "repo": scope.repo}, data=body
    )
    finished = await _finish(scope, created, output, mark, now, start=len(batches[0]))
    return Write("created", finished.data, ("check_run", "annotations"))


async def _finish(
    scope: Scope,
    run: dict[str, Any],
    output: CheckOutput,
    mark: RunMark,
    now: datetime,
    *,
    start: int,
) -> Write:
    """Send ``output.annotations[start:]`` in batches of 50; the last request completes the run
    with ``output``'s conclusion, title, summary and actions."""
    rest = output.annotations[start:]
    batches = [tuple(rest[i : i + 50]) for i in range(0, len(rest), 50)] or [()]
    result: dict[str, Any] = run
    for index, batch in enumerate(batches):
        body: dict[str, Any] = {"output": _output(output, mark, batch)}
        if index == len(batches) - 1:
            body.update(status="completed", conclusion=output.conclusion, completed_at=_iso(now))
            body["actions"] = [dict(a) for a in output.actions]
        result = await _patch(scope, run["id"], body)
    return Write("updated", result, ("check_run",))


async def _patch(scope: Scope, run_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return await scope.gh.patch(
        "/repos/{owner}/{repo}/check-runs/{check_run_id}",
        {"owner": scope.owner, "repo": scope.repo, "check_run_id": run_id},
        data=body,
    )


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(text: str) -> str:
    """A value safe inside the marker (no spaces, no ``--``, no ``>``)."""
    return re.sub(r"[^A-Za-z0-9_.:#/-]", "", text).replace("--", "-")[:64]
