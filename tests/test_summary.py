"""rules.summary: the sprint summary, the hardening loop's quick checklist and the incident close gate."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from rules.model import Deferral, Evidence, HardeningItem, ItemFacts, PullFacts
from rules.risk import ResidualRisk, RiskEntry
from rules.summary import SUMMARY_MARKER, checklist, close_gate, render_summary, summary_due

OPENED = date(2026, 12, 1)
ITEM = HardeningItem(
    incident=1,
    failure_class="missed-detection",
    owner="alice",
    verifier="bob",
    due=date(2026, 12, 6),
)
PR = PullFacts(
    14,
    "https://github.com/octo/repo/pull/14",
    True,
    True,
    True,
    new_tests=("`test_fires` in tests/test_a.py:3",),
)
RISK = ResidualRisk("vendor", "contract", "manual", "alert lost", "dave", date(2027, 1, 31))


def facts(number: int, item: HardeningItem, pulls: tuple[PullFacts, ...] = ()) -> ItemFacts:
    return ItemFacts(number=number, item=item, pulls=pulls)


def test_due_when_settled_or_on_day_14() -> None:
    open_one = [facts(2, ITEM)]
    assert not summary_due(open_one, OPENED, date(2026, 12, 13))
    assert summary_due(open_one, OPENED, date(2026, 12, 14))  # sprint day 14
    deferred = replace(ITEM, deferral=Deferral(date(2026, 12, 30), "x", "y"))
    settled = [facts(2, replace(ITEM, status="verified")), facts(3, deferred)]
    assert summary_due(settled, OPENED, date(2026, 12, 3))


def test_checklist_and_close_gate() -> None:
    bare = [facts(2, ITEM), facts(3, ITEM)]
    assert not any(c.met for c in checklist(bare))
    assert len(close_gate(bare, [])) == 2
    done = replace(ITEM, status="verified", acknowledged_by=("alice",), evidence=())
    runbook = replace(done, evidence=(Evidence("https://r.example/rb", "runbook"),))
    full = [facts(2, runbook, (PR,))]
    assert all(c.met for c in checklist(full)) and close_gate(full, []) == ()
    # Unfinished work is fine once deferred or registered as residual risk.
    deferred = replace(ITEM, deferral=Deferral(date(2026, 12, 30), "x", "y"))
    assert (
        close_gate([facts(2, deferred), facts(3, ITEM)], [RiskEntry(1, RISK, 3, 1, "c", OPENED)])
        == ()
    )
    on_incident = RiskEntry(1, RISK, 1, 1, "c", OPENED)
    assert close_gate(bare, [on_incident]) == ()
    resolved = replace(on_incident, resolved_by="c", resolved_on=OPENED)
    assert len(close_gate(bare, [resolved])) == 2


def test_summary_lists_everything_a_lead_reads() -> None:
    deferred = replace(ITEM, deferral=Deferral(date(2026, 12, 30), "vendor", "outage again"))
    items = [
        facts(2, replace(ITEM, status="verified", acknowledged_by=("alice",)), (PR,)),
        facts(3, deferred),
    ]
    body = render_summary(
        1,
        "DB @here outage",
        items,
        {2: "Scorecard 4/5"},
        [RiskEntry(1, RISK, 1, 1, "c", OPENED)],
        OPENED,
        date(2026, 12, 20),
    )
    assert body.startswith(SUMMARY_MARKER)
    assert "@here" not in body and "Sprint day 14 of 14" in body
    assert "- [x] one automation control merged: #14" in body
    assert "- #14: `test_fires` in tests/test_a.py:3" in body
    assert "| #2 | verified | @alice | @bob | Scorecard 4/5 |" in body
    assert "- R1 @dave, target 2027-01-31: vendor (trigger: alert lost)" in body
    assert "- #3: revisit 2026-12-30; why: vendor; risk if delayed: outage again" in body
    assert "- [ ] ownership confirmations recorded: no `/harden ack` yet on #3" in body
