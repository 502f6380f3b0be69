"""When a scheduled job is due: weekly or monthly at a fixed hour, at most once per period.

The weekly review and the monthly audit (``docs/schedules.md``) run at 09:00 UTC on a weekday or
a day of the month. Everything here is arithmetic on the ``now`` it is given; the loop that
stores the periods and runs the jobs is ``bot.schedules``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from rules.config import WEEKDAYS
from rules.review import month_key, week_key

RUN_HOUR_UTC = 9
# The configuration is read at least this often, so a changed schedule applies within a day.
RECHECK_SECONDS = 24 * 3600.0
RETRY_BASE_SECONDS = 5 * 60.0
RETRY_MAX_SECONDS = 6 * 3600.0


@dataclass(frozen=True)
class Cadence:
    """When a job is due: weekly on ``weekday`` (0 is Monday) or monthly on ``day`` (1-28),
    at ``RUN_HOUR_UTC``."""

    weekday: int | None = None
    day: int | None = None

    @classmethod
    def weekly(cls, weekday: str) -> Cadence:
        return cls(weekday=WEEKDAYS.index(weekday.lower()))

    @classmethod
    def monthly(cls, day: int) -> Cadence:
        if not 1 <= day <= 28:
            raise ValueError(f"a monthly day is 1-28, got {day}")
        return cls(day=day)

    def latest(self, now: datetime) -> datetime:
        """The last occurrence at or before ``now``."""
        if self.weekday is not None:
            today = now.astimezone(UTC).date()
            at = _at(today - timedelta(days=(today.weekday() - self.weekday) % 7))
            return at if at <= now else at - timedelta(days=7)
        assert self.day is not None
        at = _at(date(now.year, now.month, self.day))
        if at <= now:
            return at
        year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
        return _at(date(year, month, self.day))

    def following(self, occurrence: datetime) -> datetime:
        """The occurrence after ``occurrence``."""
        if self.weekday is not None:
            return occurrence + timedelta(days=7)
        assert self.day is not None
        year, month = divmod(occurrence.year * 12 + occurrence.month, 12)
        return _at(date(year, month + 1, self.day))

    def period(self, occurrence: datetime) -> str:
        """The period an occurrence stands for: its ISO week or its month."""
        day = occurrence.date()
        return week_key(day) if self.weekday is not None else month_key(day)


@dataclass(frozen=True)
class Plan:
    """What to do with one (repository, job) now: run for ``period`` (None: nothing to run),
    then look again at ``next_check`` (epoch seconds)."""

    period: str | None
    next_check: float


def plan_run(
    cadence: Cadence | None, now: float, *, last_period: str | None, registered_at: float
) -> Plan:
    """Whether a job is due at ``now``, and when to look again.

    Due when the latest occurrence is not before the repository was registered and its period
    is not the one of the last successful run. ``cadence`` None means the job is off.
    """
    recheck = now + RECHECK_SECONDS
    if cadence is None:
        return Plan(None, recheck)
    moment = datetime.fromtimestamp(now, UTC)
    latest = cadence.latest(moment)
    next_check = min(cadence.following(latest).timestamp(), recheck)
    period = cadence.period(latest)
    if latest.timestamp() < registered_at or period == last_period:
        return Plan(None, next_check)
    return Plan(period, next_check)


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, RUN_HOUR_UTC, tzinfo=UTC)


def retry_delay(failures: int) -> float:
    """Seconds before the next attempt after ``failures`` failed ones in a row."""
    doubling: int = 2 ** max(failures - 1, 0)
    return min(RETRY_BASE_SECONDS * doubling, RETRY_MAX_SECONDS)
