"""Planning a hardening item: the hardening loop's prioritization matrix, timeline model and 14-day sprint.

- Priority band: the failure class's risk reduction and adoption speed looked up in the
  "Hardening portfolio prioritization matrix", then raised by the incident's severity
  (``priorities.severity_raise``), never above P0.
- Due date: sprint day ``deadlines.due_days[band]`` (P0 day 3, P1 day 5: the sprint's "Day 3–5:
  implement top P0/P1 controls"; P2 day 8: end of "add verification coverage"; P3 day 14), never
  later than ``deadlines.severity_max_due_days[severity]``.
- Adoption check date: the end of the sprint's "Day 9–11: run adoption checks" window, and at
  least ``adoption_after_due_days`` after the due date.
- "Hardening timeline model": what is expected of an incident 24 hours, 72 hours and 14 days
  after it opened.

Sprint day N is N days after ``today``, the day the item is planned. Nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from rules.config import Config, FailureClass, default_config
from rules.debt import is_deferred
from rules.horizon import plus_days
from rules.model import PRIORITIES, Finding, HardeningItem, Incident, Priority


@dataclass(frozen=True)
class TimelineExpectation:
    """One window of the hardening loop's timeline model, placed on the calendar."""

    window: str  # e.g. "24–72h"
    objective: str
    artifact: str
    starts_at: datetime
    due_at: datetime
    started: bool  # the window has opened
    overdue: bool  # the window has closed

    @property
    def current(self) -> bool:
        return self.started and not self.overdue


def priority_for(failure_class: FailureClass, severity: int | None, config: Config) -> Priority:
    """The matrix band of the class, raised by the severity's ``severity_raise``."""
    band = config.priorities.matrix[failure_class.risk_reduction][failure_class.adoption_speed]
    raised = config.priorities.severity_raise.get(severity, 0) if severity is not None else 0
    return PRIORITIES[max(PRIORITIES.index(band) - raised, 0)]


def due_date_for(priority: Priority, severity: int | None, today: date, config: Config) -> date:
    """``today`` plus the band's due days, capped by the severity's maximum."""
    days = config.deadlines.due_days[priority]
    cap = config.deadlines.severity_max_due_days.get(severity) if severity is not None else None
    if cap is not None:
        days = min(days, cap)
    return today + timedelta(days=days)


def adoption_check_for(due: date, today: date, config: Config) -> date:
    """End of the sprint's adoption window, but never sooner than the gap after ``due``."""
    window_end = today + timedelta(days=config.deadlines.adoption_check_day)
    after_due = plus_days(due, config.deadlines.adoption_after_due_days)
    return max(window_end, after_due)


def reschedule(item: HardeningItem, due: date, config: Config) -> HardeningItem:
    """``item`` due on ``due`` (``/harden due``). An adoption check date that would then come
    less than ``adoption_after_due_days`` after the due date moves to exactly that gap, so the
    adoption check never comes before the work it checks; a later one, or none, is kept.
    Never raises: a gap beyond the calendar's end stops at its last day."""
    adoption = item.adoption_check
    earliest = plus_days(due, config.deadlines.adoption_after_due_days)
    if adoption is not None and adoption < earliest:
        adoption = earliest
    return replace(item, due=due, adoption_check=adoption)


def plan_item(finding: Finding, incident: Incident, config: Config, today: date) -> HardeningItem:
    """The hardening item for one finding of ``incident``, planned on ``today``.

    Raises ValueError for a finding whose failure class is unknown to ``config``: unknown
    findings are reported to the author, not planned.
    """
    failure_class = config.failure_classes.get(finding.failure_class or "")
    if failure_class is None:
        raise ValueError(f"finding {finding.raw!r} has no known failure class")
    priority = priority_for(failure_class, incident.severity, config)
    due = due_date_for(priority, incident.severity, today, config)
    return HardeningItem(
        incident=incident.number,
        failure_class=failure_class.slug,
        proposed_control=failure_class.control_candidate,
        priority=priority,
        due=due,
        adoption_check=adoption_check_for(due, today, config),
        status="open",
        verification_style=failure_class.verification_style,
    )


def timeline_expectations(
    incident_opened_at: datetime, now: datetime, config: Config | None = None
) -> list[TimelineExpectation]:
    """The timeline model's three windows for an incident opened at ``incident_opened_at``.

    Both datetimes must be alike (both timezone-aware, or both naive).
    """
    timeline = (config or default_config()).deadlines.timeline
    hours_1, hours_2 = timeline.evidence_packet_hours, timeline.control_and_test_hours
    days_3 = timeline.runbook_and_ownership_days
    third_start = f"{hours_2 // 24}" if hours_2 % 24 == 0 else f"{hours_2}h"
    windows = (
        (f"0–{hours_1}h", 0, hours_1, "preserve decision fidelity",
         "incident timeline + evidence packet"),
        (f"{hours_1}–{hours_2}h", hours_1, hours_2, "block dominant failure class",
         "one automation control + one regression test"),
        (f"{third_start}–{days_3}d", hours_2, days_3 * 24, "institutionalize learning",
         "runbook/process update + ownership confirmation"),
    )  # fmt: skip
    out: list[TimelineExpectation] = []
    for window, start, end, objective, artifact in windows:
        starts_at = incident_opened_at + timedelta(hours=start)
        due_at = incident_opened_at + timedelta(hours=end)
        out.append(
            TimelineExpectation(
                window=window,
                objective=objective,
                artifact=artifact,
                starts_at=starts_at,
                due_at=due_at,
                started=now >= starts_at,
                overdue=now > due_at,
            )
        )
    return out


def overdue(item: HardeningItem, today: date) -> bool:
    """An open or in-progress item past its due date (the weekly review's "overdue items"),
    unless it was deferred and its revisit date has not passed yet (see ``rules.debt``)."""
    return (
        item.due is not None
        and today > item.due
        and item.status in ("open", "in_progress")
        and not is_deferred(item, today)
    )
