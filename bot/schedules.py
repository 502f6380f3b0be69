"""Durable schedules for the hardening loop's "Ownership operating rhythm", and the loop that runs them.

The hardening loop's weekly reliability standup and monthly control audit must happen "with explicit
monthly audit, not ad-hoc memory", so the bot runs them itself (``bot.jobs``): at 09:00 UTC on
the weekday of ``schedules.weekly_review`` and on day ``schedules.monthly_audit_day`` of each
month, per repository, from that repository's ``.github/hardening.yml``; ``off`` turns a job off.

What is stored, in the inbox's database (the SQLite file or PostgreSQL) in tables of its own:

- ``schedule_repositories``: the repositories the App serves and their installation. A
  repository is registered when a delivery for it is processed, and from the repository lists
  of ``installation`` and ``installation_repositories`` events; it is removed when its
  installation is deleted or suspended or it is removed from the installation.
- ``schedule_runs``: per repository and job, when to look again (``next_run_at``), the period
  of the last successful run (``2026-W48``, ``2026-12``), the last run time and the last error.

Nothing about hardening items is stored: GitHub is the system of record, and every run reads
the items afresh.

Rules of the loop (:class:`Scheduler`):

- A job runs at most once per period. The period of its last success is stored, so neither a
  restart nor a second tick runs it twice; a run that dies half-way has no recorded success and
  runs again, which is safe because its writes are idempotent (marker comments, bot.writes).
- A repository's first period is the first occurrence after it was registered: installing the
  App does not replay the reviews of weeks it was not there for. After downtime, only the latest
  missed period runs.
- The configuration is read again at least daily, so moving the weekday or turning a job off
  takes effect within a day.
- A failed run is retried with exponential backoff (5 minutes doubling, at most 6 hours) and its
  error kept in ``last_error`` and the logs.
- Jobs run one at a time, outside the per-subject ordering of deliveries; that is safe because
  their writes are idempotent.

Statements go through the backend's ``bot.inbox.api.Sql``: on SQLite, the inbox's writer thread
(one writer per file, the event loop never blocks on disk); on PostgreSQL, the pool. Writes are
rare (a registration the first time a repository is seen, one row per job run). With replicas
the tick is a periodic task that one process runs per period (``bot.inbox.postgres``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import gidgethub

from bot.context import ConfigCache, Context, bound_log
from bot.copies import Copies
from bot.inbox.api import Sql
from bot.inbox.sqlite import Inbox
from bot.metrics import Metrics
from bot.permissions import describe_error
from bot.scope import Scope
from bot.settings import Settings
from rules.cadence import plan_run, retry_delay
from rules.registrations import RegistrationChange, registration_change

if TYPE_CHECKING:
    from bot.github import GitHubApp
    from bot.jobs import Job

log = logging.getLogger("bot.schedules")

T = TypeVar("T")

# Shutdown never waits longer than this for a job to notice it was cancelled.
STOP_TIMEOUT_SECONDS = 5.0

_SCHEMA = {
    "sqlite": """
CREATE TABLE IF NOT EXISTS schedule_repositories (
    repository      TEXT    NOT NULL PRIMARY KEY COLLATE NOCASE,
    installation_id INTEGER NOT NULL,
    registered_at   REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS schedule_runs (
    repository  TEXT    NOT NULL COLLATE NOCASE,
    job         TEXT    NOT NULL,
    next_run_at REAL    NOT NULL,
    last_period TEXT,
    last_run_at REAL,
    last_error  TEXT,
    failures    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (repository, job)
);
""",
    # Repository names compare case-insensitively, as on GitHub: keyed by their lower case.
    "postgresql": """
CREATE TABLE IF NOT EXISTS schedule_repositories (
    repository      TEXT             NOT NULL,
    installation_id BIGINT           NOT NULL,
    registered_at   DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS schedule_repositories_key
    ON schedule_repositories (lower(repository));
CREATE TABLE IF NOT EXISTS schedule_runs (
    repository  TEXT             NOT NULL,
    job         TEXT             NOT NULL,
    next_run_at DOUBLE PRECISION NOT NULL,
    last_period TEXT,
    last_run_at DOUBLE PRECISION,
    last_error  TEXT,
    failures    INTEGER          NOT NULL DEFAULT 0,
    PRIMARY KEY (repository, job)
);
""",
}

_REGISTER = {
    "sqlite": "ON CONFLICT (repository)",
    "postgresql": "ON CONFLICT ((lower(repository)))",
}
_REGISTER_SQL = (
    "INSERT INTO schedule_repositories (repository, installation_id, registered_at) "
    "VALUES (:repository, :installation_id, :now) {conflict} DO UPDATE SET "
    "installation_id = excluded.installation_id"
)

# Run rows are written only while their repository is registered, so a run that finishes after
# its installation was deleted leaves nothing behind.
_UPSERT_RUN = """
INSERT INTO schedule_runs
    (repository, job, next_run_at, last_period, last_run_at, last_error, failures)
SELECT r.repository, :job, :next_run_at, :last_period, :last_run_at, :last_error, :failures
FROM schedule_repositories AS r WHERE lower(r.repository) = lower(:repository)
ON CONFLICT (repository, job) DO UPDATE SET
    next_run_at = excluded.next_run_at,
    last_period = coalesce(excluded.last_period, schedule_runs.last_period),
    last_run_at = coalesce(excluded.last_run_at, schedule_runs.last_run_at),
    last_error  = CASE WHEN :keep_error THEN schedule_runs.last_error
                       ELSE excluded.last_error END,
    failures    = CASE WHEN :keep_error THEN schedule_runs.failures
                       ELSE excluded.failures END
"""


# --- the store -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    repository: str  # owner/name
    installation_id: int
    registered_at: float

    @property
    def owner(self) -> str:
        return self.repository.partition("/")[0]

    @property
    def name(self) -> str:
        return self.repository.partition("/")[2]


@dataclass(frozen=True)
class JobState:
    repository: str
    job: str
    next_run_at: float
    last_period: str | None
    last_run_at: float | None
    last_error: str | None
    failures: int


class ScheduleStore:
    """The schedules tables, in the backend's database (``bot.inbox.api.Sql``: on SQLite,
    through the inbox's writer thread). ``await open()`` first, ``await close()`` at the end.

    Given a path instead, it opens (and closes) an SQLite inbox on that file of its own.
    """

    def __init__(self, sql: Sql | str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self._owned: Inbox | None = None
        if isinstance(sql, (str, Path)):
            self._owned = Inbox(sql, clock=clock)
            sql = self._owned
        self.sql: Sql = sql
        self.clock = clock
        self._open = False
        # Registered repositories (lower-cased) -> installation id, so that the registration a
        # processed delivery asks for costs nothing once the repository is known.
        self._known: dict[str, int] = {}

    async def open(self) -> None:
        if self._open:
            raise RuntimeError("schedules already open")
        if self._owned is not None:
            await self._owned.open()
        await self.sql.setup(_SCHEMA[self.sql.dialect])
        self._open = True
        for reg in await self.registrations():
            self._known[reg.repository.lower()] = reg.installation_id

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        if self._owned is not None:
            await self._owned.close()

    # -- repositories ------------------------------------------------------------------------

    async def note_delivery(self, event: str, payload: Mapping[str, Any]) -> RegistrationChange:
        """Register or forget the repositories one processed delivery speaks of."""
        change = registration_change(event, payload)
        if change.remove_installation is not None:
            await self.unregister_installation(change.remove_installation)
        for repository in change.remove:
            await self.unregister(repository)
        for repository, installation_id in change.add:
            await self.register(repository, installation_id)
        return change

    async def register(self, repository: str, installation_id: int) -> bool:
        """Serve ``repository`` through ``installation_id``; True when that is news."""
        key = repository.lower()
        if self._known.get(key) == installation_id:
            return False
        sql = _REGISTER_SQL.format(conflict=_REGISTER[self.sql.dialect])
        await self.sql.execute(
            (
                sql,
                {
                    "repository": repository,
                    "installation_id": installation_id,
                    "now": self.clock(),
                },
            )
        )
        self._known[key] = installation_id
        log.info("serving %s (installation %s)", repository, installation_id)
        return True

    async def unregister(self, repository: str) -> bool:
        """Forget ``repository`` and its job rows; True when it was registered."""
        self._known.pop(repository.lower(), None)
        params = {"repository": repository}
        _runs, removed = await self.sql.execute(
            ("DELETE FROM schedule_runs WHERE lower(repository) = lower(:repository)", params),
            (
                "DELETE FROM schedule_repositories WHERE lower(repository) = lower(:repository)",
                params,
            ),
        )
        if removed:
            log.info("no longer serving %s", repository)
        return removed > 0

    async def unregister_installation(self, installation_id: int) -> int:
        """Forget every repository of an installation; how many there were."""
        for key, inst in list(self._known.items()):
            if inst == installation_id:
                del self._known[key]
        params = {"installation_id": installation_id}
        _runs, removed = await self.sql.execute(
            (
                "DELETE FROM schedule_runs WHERE lower(repository) IN (SELECT "
                "lower(repository) FROM schedule_repositories WHERE "
                "installation_id = :installation_id)",
                params,
            ),
            (
                "DELETE FROM schedule_repositories WHERE installation_id = :installation_id",
                params,
            ),
        )
        if removed:
            log.info(
                "installation %s gone: no longer serving its %d repositories",
                installation_id,
                removed,
            )
        return removed

    async def registrations(self) -> list[Registration]:
        rows = await self.sql.fetch(
            "SELECT repository, installation_id, registered_at FROM schedule_repositories "
            "ORDER BY lower(repository)"
        )
        return [Registration(str(r[0]), int(r[1]), float(r[2])) for r in rows]

    # -- job runs ----------------------------------------------------------------------------

    async def states(self) -> dict[tuple[str, str], JobState]:
        """Every job row, keyed by (lower-cased repository, job)."""
        rows = await self.sql.fetch(
            "SELECT repository, job, next_run_at, last_period, last_run_at, last_error, failures "
            "FROM schedule_runs"
        )
        states = [
            JobState(str(r[0]), str(r[1]), float(r[2]), r[3], r[4], r[5], int(r[6])) for r in rows
        ]
        return {(s.repository.lower(), s.job): s for s in states}

    async def state(self, repository: str, job: str) -> JobState | None:
        return (await self.states()).get((repository.lower(), job))

    async def defer(self, repository: str, job: str, next_run_at: float) -> None:
        """Nothing to run now; look again at ``next_run_at``."""
        await self._upsert_run(repository, job, next_run_at=next_run_at, keep_error=True)

    async def succeeded(self, repository: str, job: str, period: str, next_run_at: float) -> None:
        """The run for ``period`` finished: it is never run again for that period."""
        await self._upsert_run(
            repository,
            job,
            next_run_at=next_run_at,
            last_period=period,
            last_run_at=self.clock(),
        )

    async def failed(
        self, repository: str, job: str, error: str, next_run_at: float, failures: int
    ) -> None:
        """The run failed (``failures`` in a row); try again at ``next_run_at``."""
        await self._upsert_run(
            repository,
            job,
            next_run_at=next_run_at,
            last_run_at=self.clock(),
            last_error=error,
            failures=failures,
        )

    async def _upsert_run(
        self,
        repository: str,
        job: str,
        *,
        next_run_at: float,
        last_period: str | None = None,
        last_run_at: float | None = None,
        last_error: str | None = None,
        failures: int = 0,
        keep_error: bool = False,
    ) -> None:
        await self.sql.execute(
            (
                _UPSERT_RUN,
                {
                    "repository": repository,
                    "job": job,
                    "next_run_at": next_run_at,
                    "last_period": last_period,
                    "last_run_at": last_run_at,
                    "last_error": last_error,
                    "failures": failures,
                    "keep_error": keep_error,
                },
            )
        )


# --- the loop --------------------------------------------------------------------------------


Result = Literal["ran", "failed", "not-due", "removed"]


@dataclass(frozen=True)
class Outcome:
    """What one tick did for one (repository, job)."""

    repository: str
    job: str
    result: Result
    period: str | None = None
    error: str | None = None
    report: Any = None


class Scheduler:
    """Wakes every ``interval`` seconds and runs the due jobs of every registered repository,
    one at a time. ``interval`` 0 turns it off. ``clock`` and ``sleep`` are injectable so tests
    drive it with a fake clock and call :meth:`tick` themselves."""

    def __init__(
        self,
        store: ScheduleStore,
        github: GitHubApp,
        jobs: Mapping[str, Job],
        *,
        settings: Settings,
        interval: float,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        configs: ConfigCache | None = None,
        discover_every: float = 0.0,
        records: Copies | None = None,
    ) -> None:
        self.store = store
        self.records = records if records is not None else Copies()
        # How often the tick asks GitHub which repositories the App is installed on (0: never;
        # then only deliveries register repositories).
        self.discover_every = discover_every
        self._discovered_at: float | None = None
        self.github = github
        self.jobs = dict(jobs)
        self.settings = settings
        self.interval = interval
        self.metrics = metrics if metrics is not None else Metrics()
        self.clock = clock
        self.sleep = sleep
        self.configs = configs if configs is not None else ConfigCache()
        self._task: asyncio.Task[None] | None = None
        self._runs = self.metrics.counter(
            "hardening_scheduled_jobs_total",
            "Scheduled job runs by job and outcome (ran, failed).",
            ("job", "outcome"),
        )

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.interval <= 0:
            log.info("scheduler off (HARDENING_SCHEDULER_INTERVAL_SECONDS=0)")
            return
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        """Stop at once: a job cut short has no recorded success and runs again later."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT_SECONDS)
        if not done:
            log.warning("scheduler did not stop within %.0fs; leaving it", STOP_TIMEOUT_SECONDS)

    async def _loop(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:  # the database itself failed: say so, and try again next time
                log.exception("scheduler tick failed")
            await self.sleep(self.interval)

    async def discover(self) -> tuple[int, int]:
        """Serve every repository the App is installed on, whether or not it ever sent a
        delivery: ``GET /app/installations``, then ``GET /installation/repositories`` for each.
        Installations no longer listed (or suspended) and repositories no longer in their
        installation's list are forgotten. Only complete listings change anything: a failed
        read leaves the registrations as they were. Returns (registered, forgotten)."""
        app = self.github.app_api()
        listed: dict[int, set[str]] = {}
        names: dict[str, tuple[str, int]] = {}
        async for inst in app.getiter("/app/installations{?per_page}", {"per_page": 100}):
            if not isinstance(inst, dict) or not isinstance(inst.get("id"), int):
                continue
            if inst.get("suspended_at"):
                continue
            gh = await self.github.installation_api(inst["id"])
            repos: set[str] = set()
            async for repo in gh.getiter(
                "/installation/repositories{?per_page}",
                {"per_page": 100},
                iterable_key="repositories",
            ):
                full_name = repo.get("full_name") if isinstance(repo, dict) else None
                if isinstance(full_name, str) and "/" in full_name:
                    repos.add(full_name.lower())
                    names[full_name.lower()] = (full_name, inst["id"])
            listed[inst["id"]] = repos
        registered = forgotten = 0
        for reg in await self.store.registrations():
            served = listed.get(reg.installation_id)
            if served is None:
                forgotten += await self.store.unregister_installation(reg.installation_id)
            elif reg.repository.lower() not in served:
                forgotten += int(await self.store.unregister(reg.repository))
        for full_name, installation_id in names.values():
            registered += int(await self.store.register(full_name, installation_id))
        if registered or forgotten:
            log.info(
                "installations read: %d repositories newly served, %d forgotten",
                registered,
                forgotten,
            )
        return registered, forgotten

    async def tick(self) -> list[Outcome]:
        """Run every due (repository, job) once, in order; what happened to each."""
        now = self.clock()
        if self.discover_every > 0 and (
            self._discovered_at is None or now - self._discovered_at >= self.discover_every
        ):
            try:
                await self.discover()
                self._discovered_at = now
            except Exception:  # the registrations stay as they were; try at the next tick
                log.exception("reading the App's installations failed")
        states = await self.store.states()
        outcomes: list[Outcome] = []
        for reg in await self.store.registrations():
            for job in self.jobs.values():
                state = states.get((reg.repository.lower(), job.name))
                if state is not None and state.next_run_at > now:
                    continue
                outcome = await self._consider(reg, job, state, now)
                outcomes.append(outcome)
                if outcome.result == "removed":
                    break
        return outcomes

    async def _consider(
        self, reg: Registration, job: Job, state: JobState | None, now: float
    ) -> Outcome:
        jlog = bound_log(
            "bot.jobs", job=job.name, repository=reg.repository, installation=reg.installation_id
        )
        try:
            try:
                gh = await self.github.installation_api(reg.installation_id)
            except gidgethub.BadRequest as exc:
                if exc.status_code != 404:
                    raise
                # The installation is gone and its "deleted" event never reached us.
                await self.store.unregister_installation(reg.installation_id)
                return Outcome(reg.repository, job.name, "removed")
            ctx = Context(
                settings=self.settings,
                metrics=self.metrics,
                log=jlog,
                bot_login=await self.github.bot_login(),
                clock=self.clock,
                configs=self.configs,
                records=self.records,
            )
            result = await ctx.config(gh, reg.owner, reg.name)
            plan = plan_run(
                job.cadence(result.config),
                now,
                last_period=state.last_period if state else None,
                registered_at=reg.registered_at,
            )
            if plan.period is None:
                await self.store.defer(reg.repository, job.name, plan.next_check)
                return Outcome(reg.repository, job.name, "not-due")
            report = await job.run(Scope(gh, ctx, reg.owner, reg.name))
            await self.store.succeeded(reg.repository, job.name, plan.period, plan.next_check)
        except Exception as exc:
            failures = (state.failures if state else 0) + 1
            delay = retry_delay(failures)
            error = describe_error(exc)
            jlog.error(
                "%s of %s failed (%d in a row), next try in %.0fs: %s",
                job.name,
                reg.repository,
                failures,
                delay,
                error,
                exc_info=exc,
            )
            self._runs.inc(job=job.name, outcome="failed")
            with contextlib.suppress(Exception):  # the failure is logged either way
                await self.store.failed(reg.repository, job.name, error, now + delay, failures)
            return Outcome(reg.repository, job.name, "failed", error=error)
        self._runs.inc(job=job.name, outcome="ran")
        jlog.info(
            "%s of %s for %s: %s",
            job.name,
            reg.repository,
            plan.period,
            getattr(report, "summary", report),
        )
        return Outcome(reg.repository, job.name, "ran", period=plan.period, report=report)
