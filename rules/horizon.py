"""Dates people set by command: how far ahead they may lie, and adding days without ever
raising at the calendar's end (``date.max`` is 9999-12-31).

Pure.
"""

from __future__ import annotations

from datetime import date, timedelta

# How far ahead a date set by command may lie: further than this is not a plan but a way of
# never doing the work (and dates near the calendar's end cannot have days added to them).
HORIZON_YEARS = 5


def horizon(today: date) -> date:
    """The last day a due or revisit date set on ``today`` may name."""
    try:
        return today.replace(year=today.year + HORIZON_YEARS)
    except ValueError:  # 29 February, or a today near the calendar's end
        return plus_days(today, 365 * HORIZON_YEARS + 1)


def beyond_horizon(day: date, today: date, what: str) -> str | None:
    """Why ``day`` is too far ahead to be ``what`` (a refusal), or None when it is not."""
    last = horizon(today)
    if day <= last:
        return None
    return (
        f"the {what} {day.isoformat()} is more than {HORIZON_YEARS} years ahead (the latest is "
        f"{last.isoformat()}); a date that far is no plan: pick a nearer one and move it again "
        "when it comes"
    )


def plus_days(day: date, days: int) -> date:
    """``day`` plus ``days``, the calendar's last day when that lies beyond it (never raises)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min
