"""Bounded work per delivery: the ``limits`` keys, and what each limit leaves reported."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.check_output import ItemScores, item_scores, scorecard_output
from rules.config import default_config, load_config
from rules.linked_pulls import hardens_references
from rules.model import Finding, HardeningItem, Incident, ItemFacts, ItemMarker
from rules.tracking import TrackedItem, plan_incident_sync, render_tracking_comment

CONFIG = default_config()


def test_defaults():
    assert (
        CONFIG.limits.hardens_references,
        CONFIG.limits.findings_per_incident,
        CONFIG.limits.linked_pulls_per_item,
    ) == (20, 50, 30)


def test_a_repository_may_lower_a_limit():
    result = load_config([(".github/hardening.yml", "limits: {findings_per_incident: 5}\n")])
    assert result.errors == ()
    assert result.config.limits.findings_per_incident == 5
    assert result.config.limits.hardens_references == 20


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("limits: {hardens_references: 0}", "from 1 to 100, got 0"),
        ("limits: {findings_per_incident: 1000}", "from 1 to 200, got 1000"),
        ("limits: {linked_pulls_per_item: many}", "from 1 to 100"),
        ("limits: {pulls: 3}", "pulls"),
    ],
)
def test_a_limit_out_of_range_is_an_error_with_its_line(text: str, reason: str):
    result = load_config([(".github/hardening.yml", "mode: warn\n" + text + "\n")])
    (error,) = result.errors
    assert error.line == 2
    assert error.path.startswith("limits")
    assert reason in str(error)


def test_hardens_references_split_at_the_limit_in_order():
    body = "Hardens " + ", ".join(f"#{n}" for n in range(1, 26)) + "\nhardens #3"
    read, unread = hardens_references(body, 20)
    assert read == tuple(range(1, 21))
    assert unread == tuple(range(21, 26))


def _finding(n: int) -> Finding:
    return Finding(
        f"- missed detection: {n}", "missed detection", str(n), "missed-detection", f"k{n}"
    )


def test_plan_creates_only_up_to_the_limit_and_keeps_items_past_it():
    incident = Incident(1, "t", None, tuple(_finding(n) for n in range(10)))
    existing = [TrackedItem(number=100, marker=ItemMarker(1, "k8"), item=HardeningItem())]
    plan = plan_incident_sync(incident, existing, limit=3)
    assert [f.key for f in plan.to_create] == ["k0", "k1", "k2"]
    assert [t.number for _, t in plan.tracked] == [100]  # its finding is past the limit
    assert [f.key for f in plan.beyond] == ["k3", "k4", "k5", "k6", "k7", "k9"]
    assert plan.orphans == ()


def test_tracking_comment_reports_findings_beyond_the_limit_and_stays_short():
    incident = Incident(1, "t", None, tuple(_finding(n) for n in range(1000)))
    plan = plan_incident_sync(incident, [], limit=50)
    body = render_tracking_comment(
        incident,
        [],
        [],
        [],
        [],
        [],
        datetime(2026, 3, 2, tzinfo=UTC),
        pending=plan.to_create,
        beyond=plan.beyond,
        findings_limit=50,
    )
    assert "first 50 findings" in body and "950 more have no item" in body
    assert "… and 930 more" in body and "… and 30 more" in body
    assert len(body) < 10_000


def test_scorecard_reports_unread_references_and_unread_pulls():
    facts = ItemFacts(number=7, item=HardeningItem(), title="x", pulls_limit=30)
    scores: ItemScores = item_scores(facts, CONFIG.thresholds)
    out = scorecard_output([scores], unread=tuple(range(21, 40)), references_limit=20)
    assert "Only the first 20 `Hardens #N` references are read" in out.summary
    assert "19 more were not read: #21, #22" in out.summary and ", …" in out.summary
    assert "More pull requests link this item than the 30 read" in out.summary
    alone = scorecard_output([], unread=(21,), references_limit=20)
    assert "1 more were not read: #21." in alone.summary
