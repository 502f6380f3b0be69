"""rules.planning: the prioritization matrix raised by severity, deadlines and the timeline."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.config import default_config, load_config
from rules.incident import parse_incident
from rules.model import PRIORITIES, Finding, HardeningItem, Incident, Priority, Status
from rules.planning import (
    adoption_check_for,
    due_date_for,
    overdue,
    plan_item,
    priority_for,
    reschedule,
    timeline_expectations,
)

CONFIG = default_config()
TODAY = date(2026, 3, 2)

# Shipped classes: missed-detection high/medium (P1), late-decision medium/fast (P2),
# slow-recovery high/fast (P0), repeated-regression high/medium (P1). Severity raise: sev-1 and
# sev-2 one band, sev-3 and sev-4 none.
PRIORITY_TABLE = [
    ("missed-detection", None, "P1"), ("missed-detection", 1, "P0"),
    ("missed-detection", 2, "P0"), ("missed-detection", 3, "P1"), ("missed-detection", 4, "P1"),
    ("late-decision", None, "P2"), ("late-decision", 1, "P1"), ("late-decision", 2, "P1"),
    ("late-decision", 3, "P2"), ("late-decision", 4, "P2"),
    ("slow-recovery", None, "P0"), ("slow-recovery", 1, "P0"), ("slow-recovery", 4, "P0"),
    ("repeated-regression", None, "P1"), ("repeated-regression", 1, "P0"),
    ("repeated-regression", 3, "P1"),
]  # fmt: skip


@pytest.mark.parametrize(("slug", "severity", "band"), PRIORITY_TABLE)
def test_priority_from_matrix_raised_by_severity(slug: str, severity: int | None, band: str):
    assert priority_for(CONFIG.failure_classes[slug], severity, CONFIG) == band


# Due: P0 day 3, P1 day 5, P2 day 8, P3 day 14; sev-1 never later than day 5.
# Adoption check: day 11, and at least 3 days after the due date.
DEADLINES = [
    ("P0", None, date(2026, 3, 5), date(2026, 3, 13)),
    ("P1", None, date(2026, 3, 7), date(2026, 3, 13)),
    ("P2", None, date(2026, 3, 10), date(2026, 3, 13)),
    ("P3", None, date(2026, 3, 16), date(2026, 3, 19)),
    ("P3", 1, date(2026, 3, 7), date(2026, 3, 13)),
    ("P2", 1, date(2026, 3, 7), date(2026, 3, 13)),
    ("P0", 1, date(2026, 3, 5), date(2026, 3, 13)),
    ("P3", 2, date(2026, 3, 16), date(2026, 3, 19)),
]


@pytest.mark.parametrize(("band", "severity", "due", "adoption"), DEADLINES)
def test_due_and_adoption_dates(band: Priority, severity: int | None, due: date, adoption: date):
    assert due_date_for(band, severity, TODAY, CONFIG) == due
    assert adoption_check_for(due, TODAY, CONFIG) == adoption


def finding(slug: str, text: str = "x") -> Finding:
    return Finding(raw=f"{slug}: {text}", type_text=slug, text=text, failure_class=slug, key="k")


def test_plan_item_fills_the_template_from_rules():
    incident = Incident(number=12, title="Checkout 500s", severity=2)
    item = plan_item(finding("late-decision"), incident, CONFIG, TODAY)
    assert item == HardeningItem(
        incident=12,
        failure_class="late-decision",
        proposed_control="checkpoint SLA + commander script",
        priority="P1",
        due=date(2026, 3, 7),
        adoption_check=date(2026, 3, 13),
        status="open",
        verification_style="drill timing audit",
    )


def test_plan_from_a_parsed_incident():
    body = "## Findings\n- missed detection: no page\n- slow rollback: 40 minutes\n"
    incident = parse_incident(5, "t", body, ["incident", "sev-3"], CONFIG)
    items = [plan_item(f, incident, CONFIG, TODAY) for f in incident.findings]
    assert [(i.failure_class, i.priority, i.due) for i in items] == [
        ("missed-detection", "P1", date(2026, 3, 7)),
        ("slow-recovery", "P0", date(2026, 3, 5)),
    ]
    assert all(i.status == "open" and i.owner is None for i in items)


def test_plan_item_refuses_an_unknown_class():
    with pytest.raises(ValueError, match="no known failure class"):
        plan_item(replace(finding("x"), failure_class=None), Incident(1, "t", None), CONFIG, TODAY)
    with pytest.raises(ValueError):
        plan_item(finding("capacity"), Incident(1, "t", None), CONFIG, TODAY)


def test_configured_matrix_and_deadlines():
    config = load_config(
        [(".github/hardening.yml", textwrap.dedent("""\
            failure_classes:
              late-decision: {risk_reduction: low, adoption_speed: slow}
            priorities:
              severity_raise: {sev-1: 3, 2: 0}
            deadlines:
              due_days: {P3: 21}
              severity_max_due_days: {1: 2}
              adoption_check_day: 14
            """))]
    )  # fmt: skip
    assert config.ok, config.error_report()
    late = config.config.failure_classes["late-decision"]
    assert priority_for(late, None, config.config) == "P3"
    assert priority_for(late, 2, config.config) == "P3"
    assert priority_for(late, 1, config.config) == "P0"
    assert due_date_for("P3", None, TODAY, config.config) == date(2026, 3, 23)
    assert due_date_for("P0", 1, TODAY, config.config) == date(2026, 3, 4)
    assert adoption_check_for(date(2026, 3, 5), TODAY, config.config) == date(2026, 3, 16)


@pytest.mark.parametrize(
    ("due", "adoption", "expected"),
    [
        (date(2026, 12, 20), date(2026, 12, 8), date(2026, 12, 23)),  # moved past: follows, +3 days
        (date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 10)),  # within the gap: +3 days
        (date(2026, 12, 1), date(2026, 12, 8), date(2026, 12, 8)),  # still 7 days later: kept
        (date(2026, 11, 20), date(2026, 12, 8), date(2026, 12, 8)),  # earlier due: kept
        (date(2026, 12, 20), None, None),  # no adoption check date: none is invented
    ],
)
def test_a_new_due_date_keeps_the_adoption_check_after_it(
    due: date, adoption: date | None, expected: date | None
):
    item = HardeningItem(due=date(2026, 12, 1), adoption_check=adoption, owner="alice")
    moved = reschedule(item, due, CONFIG)
    assert moved == replace(item, due=due, adoption_check=expected)


def test_reschedule_uses_the_configured_gap():
    config = load_config([(".github/hardening.yml", "deadlines: {adoption_after_due_days: 0}\n")])
    assert config.ok, config.error_report()
    item = HardeningItem(due=date(2026, 12, 1), adoption_check=date(2026, 12, 8))
    assert reschedule(item, date(2026, 12, 8), config.config).adoption_check == date(2026, 12, 8)
    assert reschedule(item, date(2026, 12, 9), config.config).adoption_check == date(2026, 12, 9)


@given(
    st.sampled_from(list(CONFIG.failure_classes)),
    st.sampled_from([None, 1, 2, 3, 4]),
    st.sampled_from([None, 1, 2, 3, 4]),
)
def test_more_severe_never_lowers_priority_or_delays(slug: str, a: int | None, b: int | None):
    failure_class = CONFIG.failure_classes[slug]

    def rank(severity: int | None) -> int:
        return severity if severity is not None else 5

    if rank(a) <= rank(b):  # a is at least as severe as b
        first = priority_for(failure_class, a, CONFIG)
        second = priority_for(failure_class, b, CONFIG)
        assert PRIORITIES.index(first) <= PRIORITIES.index(second)
        assert due_date_for(first, a, TODAY, CONFIG) <= due_date_for(second, b, TODAY, CONFIG)


@given(st.sampled_from(PRIORITIES), st.sampled_from([None, 1, 2, 3, 4]), st.dates())
def test_dates_are_never_in_the_past_and_adoption_follows_due(band, severity, today):
    try:
        due = due_date_for(band, severity, today, CONFIG)
        adoption = adoption_check_for(due, today, CONFIG)
    except OverflowError:
        return  # date.max is not a planning day
    assert today <= due < adoption


# --- timeline model --------------------------------------------------------------------------

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_timeline_windows_match_the_hardening_loop():
    windows = timeline_expectations(OPENED, OPENED)
    assert [(w.window, w.objective, w.artifact) for w in windows] == [
        ("0–24h", "preserve decision fidelity", "incident timeline + evidence packet"),
        ("24–72h", "block dominant failure class", "one automation control + one regression test"),
        ("3–14d", "institutionalize learning", "runbook/process update + ownership confirmation"),
    ]
    assert [w.due_at - OPENED for w in windows] == [
        timedelta(hours=24), timedelta(hours=72), timedelta(days=14)
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("after", "started", "overdue", "current"),
    [
        (timedelta(0), [True, False, False], [False, False, False], [True, False, False]),
        (timedelta(hours=23), [True, False, False], [False] * 3, [True, False, False]),
        (timedelta(hours=24), [True, True, False], [False] * 3, [True, True, False]),
        (timedelta(hours=30), [True, True, False], [True, False, False], [False, True, False]),
        (timedelta(days=5), [True] * 3, [True, True, False], [False, False, True]),
        (timedelta(days=15), [True] * 3, [True] * 3, [False] * 3),
        (-timedelta(hours=1), [False] * 3, [False] * 3, [False] * 3),
    ],
)
def test_timeline_flags(after: timedelta, started: list, overdue: list, current: list):
    windows = timeline_expectations(OPENED, OPENED + after)
    assert [w.started for w in windows] == started
    assert [w.overdue for w in windows] == overdue
    assert [w.current for w in windows] == current


def test_timeline_from_config():
    config = load_config([("x", "deadlines: {timeline: {control_and_test_hours: 60}}")]).config
    windows = timeline_expectations(OPENED, OPENED, config)
    assert [w.window for w in windows] == ["0–24h", "24–60h", "60h–14d"]


# --- overdue ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "status", "today", "expected"),
    [
        (date(2026, 3, 5), "open", date(2026, 3, 6), True),
        (date(2026, 3, 5), "in_progress", date(2026, 3, 6), True),
        (date(2026, 3, 5), "open", date(2026, 3, 5), False),  # due today is not overdue
        (date(2026, 3, 5), "verified", date(2026, 4, 1), False),
        (date(2026, 3, 5), "retired", date(2026, 4, 1), False),
        (None, "open", date(2030, 1, 1), False),
    ],
)
def test_overdue(due: date | None, status: Status, today: date, expected: bool):
    assert overdue(HardeningItem(due=due, status=status), today) is expected


@given(
    st.dates(),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)),
    st.integers(min_value=0, max_value=10_000),
)
def test_date_arithmetic_on_a_typed_date_never_raises(day: date, today: date, gap: int) -> None:
    from rules.horizon import beyond_horizon, horizon, plus_days

    config = load_config(
        [(".github/hardening.yml", f"deadlines: {{adoption_after_due_days: {gap}}}\n")]
    ).config
    item = HardeningItem(due=day, adoption_check=day)
    moved = reschedule(item, day, config)
    assert moved.due == day and moved.adoption_check is not None
    assert moved.adoption_check >= day
    assert adoption_check_for(day, today, config) >= day
    assert plus_days(day, gap) >= day and plus_days(day, -gap) <= day
    assert horizon(today) > today
    assert (beyond_horizon(day, today, "due date") is None) == (day <= horizon(today))


@pytest.mark.parametrize("today", [date(9995, 3, 1), date(9999, 1, 1), date.max])
def test_the_horizon_near_the_calendars_end_is_its_last_day(today: date) -> None:
    from rules.horizon import beyond_horizon, horizon

    assert horizon(today) == date.max
    assert beyond_horizon(date.max, today, "due date") is None
