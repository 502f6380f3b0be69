"""bot.schedules: when a job is due, which repositories are served, what survives a restart,
and the scheduler loop, driven by a fake clock (no real sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import INSTALLATION_ID, REPO

from bot.github import GitHubApp
from bot.inbox import Inbox
from bot.jobs import Job, JobReport, monthly_audit, weekly_review
from bot.schedules import Scheduler, ScheduleStore
from bot.scope import Scope
from bot.settings import Settings
from bot.web import SCHEDULER, create_app
from rules.cadence import RECHECK_SECONDS, Cadence, Plan, plan_run, retry_delay
from rules.registrations import registration_change
from sandbox import Sandbox


def at(*parts: int) -> float:
    return when(*parts).timestamp()


def when(*parts: int) -> datetime:
    return datetime(*parts[:3], *parts[3:], tzinfo=UTC)  # type: ignore[arg-type, misc]


# --- cadences and plans (pure) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekday", "now", "latest"),
    [
        ("monday", when(2026, 11, 30, 9, 0), when(2026, 11, 30, 9, 0)),
        ("monday", when(2026, 11, 30, 8, 59), when(2026, 11, 23, 9, 0)),
        ("monday", when(2026, 12, 6, 23, 0), when(2026, 11, 30, 9, 0)),
        ("sunday", when(2026, 11, 30, 12, 0), when(2026, 11, 29, 9, 0)),
        ("Friday", when(2026, 11, 27, 10, 0), when(2026, 11, 27, 9, 0)),
    ],
)
def test_weekly_occurrences(weekday: str, now: datetime, latest: datetime) -> None:
    cadence = Cadence.weekly(weekday)
    assert cadence.latest(now) == latest
    assert cadence.following(latest) == latest + timedelta(days=7)


@pytest.mark.parametrize(
    ("day", "now", "latest", "following"),
    [
        (1, when(2026, 12, 1, 9, 0), when(2026, 12, 1, 9, 0), when(2027, 1, 1, 9, 0)),
        (1, when(2026, 12, 1, 8, 0), when(2026, 11, 1, 9, 0), when(2026, 12, 1, 9, 0)),
        (15, when(2027, 1, 3, 0, 0), when(2026, 12, 15, 9, 0), when(2027, 1, 15, 9, 0)),
        (28, when(2026, 2, 28, 9, 30), when(2026, 2, 28, 9, 0), when(2026, 3, 28, 9, 0)),
    ],
)
def test_monthly_occurrences(
    day: int, now: datetime, latest: datetime, following: datetime
) -> None:
    cadence = Cadence.monthly(day)
    assert cadence.latest(now) == latest
    assert cadence.following(latest) == following


def test_periods_are_iso_weeks_and_months() -> None:
    assert Cadence.weekly("monday").period(when(2026, 11, 30, 9)) == "2026-W49"
    assert Cadence.weekly("friday").period(when(2027, 1, 1, 9)) == "2026-W53"
    assert Cadence.monthly(1).period(when(2027, 1, 1, 9)) == "2027-01"
    with pytest.raises(ValueError):
        Cadence.monthly(31)


MONDAY = Cadence.weekly("monday")
REGISTERED = at(2026, 11, 20)


@pytest.mark.parametrize(
    ("cadence", "now", "last", "registered", "plan"),
    [
        pytest.param(
            None,
            at(2026, 11, 30, 10),
            None,
            REGISTERED,
            Plan(None, at(2026, 11, 30, 10) + RECHECK_SECONDS),
            id="off",
        ),
        pytest.param(
            MONDAY,
            at(2026, 11, 30, 10),
            None,
            REGISTERED,
            Plan("2026-W49", at(2026, 12, 1, 10)),
            id="due",
        ),
        pytest.param(
            MONDAY,
            at(2026, 11, 30, 10),
            "2026-W49",
            REGISTERED,
            Plan(None, at(2026, 12, 1, 10)),
            id="done this week",
        ),
        pytest.param(
            MONDAY,
            at(2026, 11, 30, 10),
            "2026-W48",
            REGISTERED,
            Plan("2026-W49", at(2026, 12, 1, 10)),
            id="last week was done",
        ),
        pytest.param(
            MONDAY,
            at(2026, 12, 6, 20),
            None,
            REGISTERED,
            Plan("2026-W49", at(2026, 12, 7, 9)),
            id="late in the week",
        ),
        pytest.param(
            MONDAY,
            at(2026, 11, 30, 10),
            None,
            at(2026, 11, 30, 9, 30),
            Plan(None, at(2026, 12, 1, 10)),
            id="registered after the occurrence",
        ),
        pytest.param(
            MONDAY,
            at(2026, 11, 30, 10),
            None,
            at(2026, 11, 30, 9),
            Plan("2026-W49", at(2026, 12, 1, 10)),
            id="registered at the occurrence",
        ),
    ],
)
def test_plan_run(
    cadence: Cadence | None, now: float, last: str | None, registered: float, plan: Plan
) -> None:
    assert plan_run(cadence, now, last_period=last, registered_at=registered) == plan


def test_retry_delay_doubles_up_to_six_hours() -> None:
    assert [retry_delay(n) for n in (1, 2, 3)] == [300, 600, 1200]
    assert retry_delay(50) == 6 * 3600


# --- which repositories are served (pure) -----------------------------------------------------


def repos(*names: str) -> list[dict[str, Any]]:
    return [{"id": i, "name": n.split("/")[1], "full_name": n} for i, n in enumerate(names)]


INST = {"id": 7, "account": {"login": "octo"}}


@pytest.mark.parametrize(
    ("event", "payload", "add", "remove", "gone"),
    [
        (
            "installation",
            {"action": "created", "installation": INST, "repositories": repos("octo/a", "octo/b")},
            (("octo/a", 7), ("octo/b", 7)),
            (),
            None,
        ),
        (
            "installation",
            {"action": "deleted", "installation": INST, "repositories": repos("octo/a")},
            (),
            (),
            7,
        ),
        ("installation", {"action": "suspend", "installation": INST}, (), (), 7),
        (
            "installation",
            {"action": "unsuspend", "installation": INST, "repositories": repos("octo/a")},
            (("octo/a", 7),),
            (),
            None,
        ),
        (
            "installation_repositories",
            {
                "action": "added",
                "installation": INST,
                "repositories_added": repos("octo/c"),
                "repositories_removed": [],
            },
            (("octo/c", 7),),
            (),
            None,
        ),
        (
            "installation_repositories",
            {
                "action": "removed",
                "installation": INST,
                "repositories_added": [],
                "repositories_removed": repos("octo/a"),
            },
            (),
            ("octo/a",),
            None,
        ),
        (
            "issues",
            {"action": "opened", "installation": {"id": 7}, "repository": {"full_name": "octo/a"}},
            (("octo/a", 7),),
            (),
            None,
        ),
        ("issues", {"action": "opened", "repository": {"full_name": "octo/a"}}, (), (), None),
        ("issues", {"action": "opened", "installation": {"id": 7}}, (), (), None),
        (
            "installation",
            {"action": "created", "installation": INST, "repositories": [{"full_name": None}, "x"]},
            (),
            (),
            None,
        ),
    ],
)
def test_registration_change(
    event: str,
    payload: dict[str, Any],
    add: tuple[Any, ...],
    remove: tuple[str, ...],
    gone: int | None,
) -> None:
    change = registration_change(event, payload)
    assert (change.add, change.remove, change.remove_installation) == (add, remove, gone)


# --- the store ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


async def opened(db: Path, clock: Callable[[], float]) -> ScheduleStore:
    store = ScheduleStore(db, clock=clock)
    await store.open()
    return store


async def test_registrations_survive_a_restart(db: Path) -> None:
    clock = FakeClock(at(2026, 11, 20))
    store = await opened(db, clock)
    assert await store.register("octo/repo", 1)
    assert not await store.register("OCTO/Repo", 1)  # known: no write
    clock.now += 3600
    assert await store.register("octo/repo", 2)  # moved to another installation
    await store.register("octo/other", 2)
    await store.close()

    store = await opened(db, clock)
    regs = await store.registrations()
    assert [(r.repository, r.installation_id, r.registered_at) for r in regs] == [
        ("octo/other", 2, at(2026, 11, 20, 1)),
        ("octo/repo", 2, at(2026, 11, 20)),  # registered_at is the first registration's
    ]
    assert not await store.register("octo/repo", 2)
    assert await store.unregister_installation(2) == 2
    assert await store.registrations() == []
    await store.close()


async def test_run_state_survives_a_restart(db: Path) -> None:
    clock = FakeClock(at(2026, 11, 30, 9, 5))
    store = await opened(db, clock)
    await store.register("octo/repo", 1)
    await store.succeeded("octo/repo", "weekly-review", "2026-W49", at(2026, 12, 1, 9, 5))
    await store.failed("octo/repo", "monthly-audit", "GitHub answered 502", clock.now + 300, 1)
    await store.close()

    store = await opened(db, clock)
    weekly = await store.state("OCTO/repo", "weekly-review")
    assert weekly is not None
    assert (weekly.last_period, weekly.next_run_at, weekly.last_run_at, weekly.failures) == (
        "2026-W49",
        at(2026, 12, 1, 9, 5),
        clock.now,
        0,
    )
    monthly = await store.state("octo/repo", "monthly-audit")
    assert monthly is not None
    assert (monthly.last_error, monthly.failures, monthly.last_period) == (
        "GitHub answered 502",
        1,
        None,
    )

    # Deferring keeps the error; a success clears it and keeps the period from then on.
    await store.defer("octo/repo", "monthly-audit", clock.now + 600)
    monthly = await store.state("octo/repo", "monthly-audit")
    assert monthly is not None and monthly.last_error == "GitHub answered 502"
    await store.succeeded("octo/repo", "monthly-audit", "2026-11", clock.now + 900)
    await store.failed("octo/repo", "monthly-audit", "timeout", clock.now + 300, 1)
    monthly = await store.state("octo/repo", "monthly-audit")
    assert monthly is not None
    assert (monthly.last_period, monthly.last_error) == ("2026-11", "timeout")
    await store.close()


async def test_runs_are_only_kept_for_served_repositories(db: Path) -> None:
    store = await opened(db, FakeClock(at(2026, 11, 30)))
    await store.succeeded("octo/unknown", "weekly-review", "2026-W49", 0)
    assert await store.states() == {}
    await store.register("octo/repo", 1)
    await store.defer("octo/repo", "weekly-review", 5)
    assert await store.unregister("octo/repo")
    assert await store.states() == {}
    assert not await store.unregister("octo/repo")
    await store.close()


async def test_shares_the_inbox_file(db: Path) -> None:
    inbox = Inbox(db)
    await inbox.open()
    store = await opened(db, FakeClock(at(2026, 11, 30)))
    stored, registered = await asyncio.gather(
        inbox.store("d1", "issues", b"{}", subject="octo/repo#1"),
        store.register("octo/repo", 1),
    )
    assert stored and registered
    assert (await inbox.stats()).pending == 1
    await store.close()
    await inbox.close()


# --- the scheduler -----------------------------------------------------------------------------


class Recorder:
    """A job that records its runs and fails while ``failing`` is set."""

    def __init__(self, name: str, cadence: Callable[..., Any]) -> None:
        self.runs: list[tuple[str, str]] = []
        self.failing: Exception | None = None
        self.job = Job(name=name, run=self.run, cadence=cadence)

    async def run(self, scope: Scope) -> JobReport:
        if self.failing is not None:
            raise self.failing
        self.runs.append((scope.full_name, scope.ctx.now().date().isoformat()))
        return JobReport(job=self.job.name, repository=scope.full_name, period="-", items=0)


@pytest.fixture
def weekly() -> Recorder:
    return Recorder("weekly-review", weekly_review.cadence)


@pytest.fixture
def monthly() -> Recorder:
    return Recorder("monthly-audit", monthly_audit.cadence)


def make_scheduler(
    store: ScheduleStore,
    github: GitHubApp,
    settings: Settings,
    clock: FakeClock,
    *jobs: Recorder,
    interval: float = 300,
    sleep: Any = asyncio.sleep,
) -> Scheduler:
    return Scheduler(
        store,
        github,
        {r.job.name: r.job for r in jobs},
        settings=settings,
        interval=interval,
        clock=clock,
        sleep=sleep,
    )


async def test_a_job_runs_once_per_period_across_restarts(
    db: Path,
    sandbox: Sandbox,
    repo: str,
    github: GitHubApp,
    settings: Settings,
    weekly: Recorder,
    monthly: Recorder,
) -> None:
    clock = FakeClock(at(2026, 11, 27, 12))  # Friday: registered before Monday's review
    store = await opened(db, clock)
    await store.register(REPO, INSTALLATION_ID)
    scheduler = make_scheduler(store, github, settings, clock, weekly, monthly)

    outcomes = await scheduler.tick()
    assert [(o.job, o.result) for o in outcomes] == [
        ("weekly-review", "not-due"),
        ("monthly-audit", "not-due"),
    ]
    assert await scheduler.tick() == []  # nothing to look at before next_run_at

    clock.now = at(2026, 11, 30, 9, 5)  # Monday: weekly is due, the audit is Tuesday the 1st
    outcomes = await scheduler.tick()
    assert [(o.job, o.result, o.period) for o in outcomes] == [
        ("weekly-review", "ran", "2026-W49"),
        ("monthly-audit", "not-due", None),
    ]
    assert weekly.runs == [(REPO, "2026-11-30")]
    await store.close()

    # A restart: the period is on disk, so it does not run again this week.
    store = await opened(db, clock)
    scheduler = make_scheduler(store, github, settings, clock, weekly, monthly)
    assert await scheduler.tick() == []
    await store.defer(REPO, "weekly-review", 0)  # even when asked to look again
    clock.now = at(2026, 12, 3, 18)
    outcomes = await scheduler.tick()
    assert [(o.job, o.result) for o in outcomes] == [
        ("weekly-review", "not-due"),
        ("monthly-audit", "ran"),
    ]
    assert weekly.runs == [(REPO, "2026-11-30")]
    assert monthly.runs == [(REPO, "2026-12-03")]

    clock.now = at(2026, 12, 7, 9)
    await scheduler.tick()
    assert weekly.runs == [(REPO, "2026-11-30"), (REPO, "2026-12-07")]
    await store.close()


async def test_a_failed_run_is_retried_with_backoff(
    db: Path,
    sandbox: Sandbox,
    repo: str,
    github: GitHubApp,
    settings: Settings,
    weekly: Recorder,
) -> None:
    clock = FakeClock(at(2026, 11, 30, 9, 5))
    store = await opened(db, FakeClock(at(2026, 11, 1)))
    await store.register(REPO, INSTALLATION_ID)
    scheduler = make_scheduler(store, github, settings, clock, weekly)
    weekly.failing = RuntimeError("boom")

    (outcome,) = await scheduler.tick()
    assert (outcome.result, outcome.error) == ("failed", "RuntimeError: boom")
    state = await store.state(REPO, "weekly-review")
    assert state is not None
    assert (state.failures, state.next_run_at, state.last_period) == (1, clock.now + 300, None)

    clock.now += 299
    assert await scheduler.tick() == []
    clock.now += 1
    (outcome,) = await scheduler.tick()
    assert outcome.result == "failed"
    state = await store.state(REPO, "weekly-review")
    assert state is not None and (state.failures, state.next_run_at) == (2, clock.now + 600)

    weekly.failing = None
    clock.now += 600
    (outcome,) = await scheduler.tick()
    assert (outcome.result, outcome.period) == ("ran", "2026-W49")
    state = await store.state(REPO, "weekly-review")
    assert state is not None and (state.failures, state.last_error) == (0, None)
    runs = scheduler.metrics.counter("hardening_scheduled_jobs_total", "", ("job", "outcome"))
    assert runs.get(job="weekly-review", outcome="failed") == 2
    assert runs.get(job="weekly-review", outcome="ran") == 1
    await store.close()


async def test_off_in_the_config_turns_a_job_off(
    db: Path,
    sandbox: Sandbox,
    repo: str,
    github: GitHubApp,
    settings: Settings,
    weekly: Recorder,
    monthly: Recorder,
) -> None:
    sandbox.put_file(
        REPO, ".github/hardening.yml", "schedules:\n  weekly_review: off\n  monthly_audit_day: 15\n"
    )
    clock = FakeClock(at(2026, 12, 1, 10))
    store = await opened(db, FakeClock(at(2026, 11, 1)))
    await store.register(REPO, INSTALLATION_ID)
    scheduler = make_scheduler(store, github, settings, clock, weekly, monthly)
    outcomes = await scheduler.tick()
    # The audit's last occurrence (Nov 15) is after the registration: it runs for November.
    assert [(o.job, o.result, o.period) for o in outcomes] == [
        ("weekly-review", "not-due", None),
        ("monthly-audit", "ran", "2026-11"),
    ]
    state = await store.state(REPO, "weekly-review")
    assert state is not None and state.next_run_at == clock.now + RECHECK_SECONDS
    await store.close()


async def test_a_deleted_installation_is_forgotten(
    db: Path,
    sandbox: Sandbox,
    repo: str,
    github: GitHubApp,
    settings: Settings,
    weekly: Recorder,
) -> None:
    clock = FakeClock(at(2026, 11, 30, 10))
    store = await opened(db, clock)
    await store.register("octo/gone", 999)
    scheduler = make_scheduler(store, github, settings, clock, weekly)
    (outcome,) = await scheduler.tick()
    assert outcome.result == "removed"
    assert await store.registrations() == []
    await store.close()


async def test_the_loop_wakes_every_interval_and_stops_at_once(
    db: Path,
    sandbox: Sandbox,
    repo: str,
    github: GitHubApp,
    settings: Settings,
    weekly: Recorder,
) -> None:
    clock = FakeClock(at(2026, 11, 30, 10))
    store = await opened(db, FakeClock(at(2026, 11, 1)))
    await store.register(REPO, INSTALLATION_ID)
    slept: list[float] = []
    third, forever = asyncio.Event(), asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.now += seconds
        if len(slept) == 3:
            third.set()
            await forever.wait()

    scheduler = make_scheduler(store, github, settings, clock, weekly, interval=60, sleep=sleep)
    scheduler.start()
    await asyncio.wait_for(third.wait(), 5)
    assert scheduler.running and slept == [60, 60, 60]
    assert weekly.runs == [(REPO, "2026-11-30")]  # three ticks, one run
    await scheduler.stop()
    assert not scheduler.running
    await store.close()


async def test_interval_zero_is_off(
    db: Path,
    github: GitHubApp,
    settings: Settings,
    weekly: Recorder,
) -> None:
    store = await opened(db, FakeClock(0))
    scheduler = make_scheduler(store, github, settings, FakeClock(0), weekly, interval=0)
    scheduler.start()
    assert not scheduler.running
    await store.close()


# --- wired into the app ------------------------------------------------------------------------


async def test_deliveries_register_repositories_and_the_app_runs_the_scheduler(
    aiohttp_client: Any,
    sandbox: Sandbox,
    repo: str,
    make_settings: Callable[..., Settings],
    settings: Settings,
) -> None:
    from conftest import make_deliver, make_drain

    client = await aiohttp_client(create_app(settings))
    app = client.server.app
    deliver, drain = make_deliver(client), make_drain(app)
    scheduler = app[SCHEDULER]
    assert scheduler.running and scheduler.interval == 300

    issue = sandbox.open_issue(repo, title="not an incident", body="")
    await deliver("issues", sandbox.issue_event(repo, issue["number"], "opened"))
    removed = {
        "action": "removed",
        "installation": {"id": INSTALLATION_ID},
        "repositories_added": [],
        "repositories_removed": repos("octo/elsewhere"),
    }
    await deliver("installation_repositories", removed)
    await drain()
    assert [r.repository for r in await scheduler.store.registrations()] == [REPO]

    removed["repositories_removed"] = repos(REPO)
    await deliver("installation_repositories", removed)
    await drain()
    assert await scheduler.store.registrations() == []

    await client.close()
    assert not scheduler.running

    off = await aiohttp_client(
        create_app(make_settings(api_url=settings.api_url, scheduler_interval=0))
    )
    assert not off.server.app[SCHEDULER].running


async def test_repositories_that_never_sent_a_delivery_are_served(
    db: Path,
    sandbox: Sandbox,
    repo: str,
    github: GitHubApp,
    settings: Settings,
    weekly: Recorder,
) -> None:
    sandbox.add_repo("octo/quiet", installation_id=INSTALLATION_ID)
    sandbox.add_installation("acme", id=77)
    sandbox.add_repo("acme/api", installation_id=77)
    clock = FakeClock(at(2026, 11, 27, 12))  # Friday
    store = await opened(db, clock)
    await store.register("gone/repo", 999)  # an installation deleted while we were down
    scheduler = Scheduler(
        store,
        github,
        {weekly.job.name: weekly.job},
        settings=settings,
        interval=300,
        clock=clock,
        discover_every=6 * 3600,
    )
    await scheduler.tick()
    regs = {(r.repository, r.installation_id) for r in await store.registrations()}
    assert regs == {("acme/api", 77), ("octo/quiet", INSTALLATION_ID), (REPO, INSTALLATION_ID)}

    # Monday: the weekly review runs for each of them, none of which sent a delivery.
    clock.now = at(2026, 11, 30, 9, 5)
    sandbox.reset_calls()
    outcomes = await scheduler.tick()
    assert sorted((o.repository, o.result) for o in outcomes) == [
        ("acme/api", "ran"),
        ("octo/quiet", "ran"),
        (REPO, "ran"),
    ]
    # Read again only every six hours.
    sandbox.reset_calls()
    clock.now += 3600
    await scheduler.tick()
    assert not [c for c in sandbox.calls if c.path == "/app/installations"]
    await store.close()
