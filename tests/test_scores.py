"""Reliability scorecard, quality rubric and adoption score: every row of the hardening loop's tables.

Each row has cases that raise it from an empty item and cases that drop it from a perfect one,
so a change to any rule shows up as one named failing case.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_item_template import TEMPLATE_ITEM

from rules import scores as sc
from rules.model import EVIDENCE_KINDS, Evidence, HardeningItem, ItemFacts, PullFacts

LOG = "https://ci.example.com/runs/1/log"


def pr(
    number: int = 20,
    *,
    merged: bool = True,
    test: bool = False,
    control: bool = False,
    **touches: Any,
) -> PullFacts:
    return PullFacts(
        number=number,
        url=f"https://github.com/o/r/pull/{number}",
        merged=merged,
        adds_regression_test=test,
        adds_control=control,
        **touches,
    )


def ev(kind: str | None, url: str = LOG, note: str = "", seconds: int | None = None) -> Evidence:
    return Evidence(url=url, kind=kind, note=note, duration_seconds=seconds)  # type: ignore[arg-type]


# The template's example item with everything the hardening loop's tables ask for.
PERFECT_ITEM = replace(
    TEMPLATE_ITEM,
    evidence=(
        ev("test", "https://ci.example.com/runs/2"),
        ev("rollback", "https://ci.example.com/runs/3", "rehearsal", seconds=270),
        ev("monitoring", "https://grafana.example.com/d/1", "alert latency 9m -> 40s"),
        ev("runbook", "https://github.com/o/r/commit/abc"),
        ev("behavioral", "https://github.com/o/r/issues/30", "drill 2026-11-20 paged in 2m"),
    ),
    adoption_check=None,
    status="in_progress",
    acknowledged_by=("alice",),
)
PERFECT_PR = pr(
    20,
    test=True,
    control=True,
    touches_monitoring=True,
    touches_runbook=True,
    new_tests=("`test_alert_fires` in tests/test_alerts.py:12",),
)


def perfect(**changes: Any) -> ItemFacts:
    item_changes = {k: v for k, v in changes.items() if k in HardeningItem.__dataclass_fields__}
    fact_changes = {k: v for k, v in changes.items() if k not in item_changes}
    base = ItemFacts(number=14, item=PERFECT_ITEM, pulls=(PERFECT_PR,), control_mode="warn")
    return replace(base, item=replace(PERFECT_ITEM, **item_changes), **fact_changes)


def bare(**changes: Any) -> ItemFacts:
    item_changes = {k: v for k, v in changes.items() if k in HardeningItem.__dataclass_fields__}
    fact_changes = {k: v for k, v in changes.items() if k not in item_changes}
    base = ItemFacts(number=14, item=HardeningItem(), control_mode="warn")
    return replace(base, item=HardeningItem(**item_changes), **fact_changes)


def row(score: sc.Score, name: str) -> sc.Row:
    (found,) = [r for r in score.rows if r.name == name]
    return found


def others_untouched(score: sc.Score, name: str) -> None:
    for r in score.rows:
        if r.name != name:
            assert r.met, r


def test_perfect_item_scores_full_marks() -> None:
    scores = sc.evaluate(perfect())
    assert scores.label == "Scorecard 5/5 · Rubric 10/10 · Adoption 5/5"
    for score in (scores.scorecard, scores.rubric, scores.adoption):
        assert score.passed
        assert all(r.next_step == "" for r in score.rows)


def test_empty_item_scores_nothing() -> None:
    scores = sc.evaluate(bare())
    assert (scores.scorecard.total, scores.rubric.total, scores.adoption.total) == (0, 0, 0)
    for score in (scores.scorecard, scores.rubric, scores.adoption):
        assert not score.passed
        assert all(r.next_step and r.signal for r in score.rows)


def test_row_names_are_the_documented_words() -> None:
    scores = sc.evaluate(bare())
    assert [r.name for r in scores.scorecard.rows] == [
        "root-cause class now test-covered",
        "rollback path rehearsed and timed",
        "escalation ownership documented",
        "monitoring/alerts updated",
        "runbook update acknowledged by owners",
    ]
    assert [r.name for r in scores.rubric.rows] == [
        "Clarity",
        "Evidence",
        "Ownership",
        "Adoption",
        "Risk impact",
    ]
    assert [r.name for r in scores.adoption.rows] == [
        "control enabled in target environment",
        "owners trained and acknowledged",
        "runbook updated with execution steps",
        "dashboard signal confirms runtime execution",
        "one real incident/drill used the control",
    ]
    assert [r.max_points for r in scores.rubric.rows] == [2] * 5
    assert [r.max_points for r in scores.scorecard.rows] == [1] * 5
    assert [r.max_points for r in scores.adoption.rows] == [1] * 5


# --- reliability scorecard -------------------------------------------------------------------

TEST_ONLY_ITEM = {"evidence": ()}

SCORECARD_CASES = [
    # (case id, facts, row, points, text expected in signal or next step)
    ("test/merged-pr", bare(pulls=(PERFECT_PR,)), sc.TEST_COVERED, 1, "test_alert_fires"),
    ("test/merged-pr-unnamed", bare(pulls=(pr(test=True),)), sc.TEST_COVERED, 1, "PR #20 merged"),
    ("test/evidence", bare(evidence=(ev("test"),)), sc.TEST_COVERED, 1, LOG),
    (
        "test/unmerged-pr",
        bare(pulls=(pr(21, merged=False, test=True),)),
        sc.TEST_COVERED,
        0,
        "merge PR #21",
    ),
    (
        "test/merged-pr-no-test",
        bare(pulls=(pr(control=True),)),
        sc.TEST_COVERED,
        0,
        "`/harden evidence URL test`",
    ),
    (
        "test/other-evidence",
        bare(evidence=(ev("implementation"),)),
        sc.TEST_COVERED,
        0,
        "Hardens #14",
    ),
    (
        "rollback/duration-field",
        bare(evidence=(ev("rollback", seconds=270),)),
        sc.ROLLBACK_TIMED,
        1,
        "took 4m30s",
    ),
    (
        "rollback/duration-in-note",
        bare(evidence=(ev("rollback", note="took 90s"),)),
        sc.ROLLBACK_TIMED,
        1,
        "took 1m30s",
    ),
    (
        "rollback/untimed",
        bare(evidence=(ev("rollback", note="went fine"),)),
        sc.ROLLBACK_TIMED,
        0,
        "states no duration",
    ),
    (
        "rollback/timed-but-not-rollback",
        bare(evidence=(ev("behavioral", seconds=60),)),
        sc.ROLLBACK_TIMED,
        0,
        "`/harden evidence URL rollback took 4m30s`",
    ),
    ("rollback/none", bare(), sc.ROLLBACK_TIMED, 0, "rollback took 4m30s"),
    (
        "escalation/both-owners",
        bare(owner="alice", verifier="bob"),
        sc.ESCALATION_DOCUMENTED,
        1,
        "@alice and verifier owner @bob",
    ),
    (
        "escalation/owner-only",
        bare(owner="alice"),
        sc.ESCALATION_DOCUMENTED,
        0,
        "`/harden verifier @user`",
    ),
    (
        "escalation/verifier-only",
        bare(verifier="bob"),
        sc.ESCALATION_DOCUMENTED,
        0,
        "`/harden owner @user`",
    ),
    (
        "escalation/same-person",
        bare(owner="alice", verifier="@Alice"),
        sc.ESCALATION_DOCUMENTED,
        0,
        "with someone else",
    ),
    (
        "escalation/late-decision-undocumented",
        bare(owner="alice", verifier="bob", failure_class="late-decision"),
        sc.ESCALATION_DOCUMENTED,
        0,
        "`/harden evidence URL runbook`",
    ),
    (
        "escalation/late-decision-escalation-pr",
        bare(
            owner="alice",
            verifier="bob",
            failure_class="late-decision",
            pulls=(pr(touches_escalation=True),),
        ),
        sc.ESCALATION_DOCUMENTED,
        1,
        "PR #20 (merged)",
    ),
    (
        "escalation/late-decision-runbook-pr",
        bare(
            owner="alice",
            verifier="bob",
            failure_class="late-decision",
            pulls=(pr(touches_runbook=True),),
        ),
        sc.ESCALATION_DOCUMENTED,
        1,
        "PR #20",
    ),
    (
        "escalation/late-decision-runbook-evidence",
        bare(
            owner="alice", verifier="bob", failure_class="late-decision", evidence=(ev("runbook"),)
        ),
        sc.ESCALATION_DOCUMENTED,
        1,
        LOG,
    ),
    (
        "escalation/late-decision-unmerged-pr",
        bare(
            owner="alice",
            verifier="bob",
            failure_class="late-decision",
            pulls=(pr(merged=False, touches_escalation=True),),
        ),
        sc.ESCALATION_DOCUMENTED,
        0,
        "escalation or runbook paths",
    ),
    (
        "monitoring/merged-pr",
        bare(pulls=(pr(touches_monitoring=True),)),
        sc.MONITORING_UPDATED,
        1,
        "PR #20 merged",
    ),
    ("monitoring/evidence", bare(evidence=(ev("monitoring"),)), sc.MONITORING_UPDATED, 1, LOG),
    (
        "monitoring/unmerged-pr",
        bare(pulls=(pr(22, merged=False, touches_monitoring=True),)),
        sc.MONITORING_UPDATED,
        0,
        "merge PR #22",
    ),
    ("monitoring/none", bare(), sc.MONITORING_UPDATED, 0, "`/harden evidence URL monitoring`"),
    (
        "runbook-ack/evidence-and-ack",
        bare(owner="alice", acknowledged_by=("alice",), evidence=(ev("runbook"),)),
        sc.RUNBOOK_ACKNOWLEDGED,
        1,
        "acknowledged by execution owner @alice",
    ),
    (
        "runbook-ack/pr-and-ack",
        bare(owner="alice", acknowledged_by=("ALICE",), pulls=(pr(touches_runbook=True),)),
        sc.RUNBOOK_ACKNOWLEDGED,
        1,
        "PR #20 (merged) changes runbook paths",
    ),
    (
        "runbook-ack/no-ack",
        bare(owner="alice", evidence=(ev("runbook"),)),
        sc.RUNBOOK_ACKNOWLEDGED,
        0,
        "@alice runs `/harden ack`",
    ),
    (
        "runbook-ack/ack-by-previous-owner",
        bare(owner="carol", acknowledged_by=("alice",), evidence=(ev("runbook"),)),
        sc.RUNBOOK_ACKNOWLEDGED,
        0,
        "acknowledged by @alice only",
    ),
    (
        "runbook-ack/no-owner",
        bare(acknowledged_by=("alice",), evidence=(ev("runbook"),)),
        sc.RUNBOOK_ACKNOWLEDGED,
        0,
        "`/harden owner @user`",
    ),
    (
        "runbook-ack/ack-no-runbook",
        bare(owner="alice", acknowledged_by=("alice",)),
        sc.RUNBOOK_ACKNOWLEDGED,
        0,
        "`/harden evidence URL runbook`",
    ),
    (
        "runbook-ack/unmerged-runbook-pr",
        bare(
            owner="alice",
            acknowledged_by=("alice",),
            pulls=(pr(merged=False, touches_runbook=True),),
        ),
        sc.RUNBOOK_ACKNOWLEDGED,
        0,
        "no `runbook` evidence",
    ),
]


@pytest.mark.parametrize(
    ("facts", "name", "points", "text"),
    [c[1:] for c in SCORECARD_CASES],
    ids=[c[0] for c in SCORECARD_CASES],
)
def test_scorecard_row(facts: ItemFacts, name: str, points: int, text: str) -> None:
    got = row(sc.scorecard(facts), name)
    assert got.points == points
    assert text in f"{got.signal} | {got.next_step}"
    assert (got.next_step == "") == (points == got.max_points)


SCORECARD_DROPS = [
    ("test", {"pulls": (), "evidence": PERFECT_ITEM.evidence[1:]}, sc.TEST_COVERED),
    (
        "rollback",
        {"evidence": tuple(e for e in PERFECT_ITEM.evidence if e.kind != "rollback")},
        sc.ROLLBACK_TIMED,
    ),
    ("escalation", {"verifier": None}, sc.ESCALATION_DOCUMENTED),
    (
        "monitoring",
        {
            "pulls": (replace(PERFECT_PR, touches_monitoring=False),),
            "evidence": tuple(e for e in PERFECT_ITEM.evidence if e.kind != "monitoring"),
        },
        sc.MONITORING_UPDATED,
    ),
    ("runbook-ack", {"acknowledged_by": ()}, sc.RUNBOOK_ACKNOWLEDGED),
]


@pytest.mark.parametrize(
    ("changes", "name"), [c[1:] for c in SCORECARD_DROPS], ids=[c[0] for c in SCORECARD_DROPS]
)
def test_scorecard_drops_exactly_one_row(changes: dict[str, object], name: str) -> None:
    score = sc.scorecard(perfect(**changes))
    assert row(score, name).points == 0
    others_untouched(score, name)
    assert score.label == "Scorecard 4/5"
    assert score.passed  # 4/5 is the hardening loop's minimum closure threshold


def test_scorecard_threshold_is_four_of_five() -> None:
    three = sc.scorecard(perfect(acknowledged_by=(), verifier=None))
    assert (three.total, three.passed, three.threshold) == (3, False, 4)
    assert sc.scorecard(perfect(acknowledged_by=(), verifier=None), threshold=3).passed
    assert not sc.scorecard(perfect(acknowledged_by=()), threshold=5).passed


# --- quality rubric --------------------------------------------------------------------------

RUBRIC_CASES = [
    ("clarity/vague", bare(), sc.CLARITY, 0, "vague task"),
    (
        "clarity/control-only",
        bare(proposed_control="alert rule"),
        sc.CLARITY,
        1,
        "fill `Failure class:`",
    ),
    (
        "clarity/class-only",
        bare(failure_class="missed-detection"),
        sc.CLARITY,
        1,
        "fill `Proposed control:`",
    ),
    (
        "clarity/no-boundary",
        bare(failure_class="missed-detection", proposed_control="alert"),
        sc.CLARITY,
        1,
        "no linked PR changes control paths",
    ),
    (
        "clarity/pr-without-control",
        bare(failure_class="missed-detection", proposed_control="alert", pulls=(pr(test=True),)),
        sc.CLARITY,
        1,
        "Hardens #14",
    ),
    (
        "clarity/precise-open-pr",
        bare(
            failure_class="missed-detection",
            proposed_control="alert",
            pulls=(pr(merged=False, control=True),),
        ),
        sc.CLARITY,
        2,
        "PR #20 changes the failure class's control paths",
    ),
    (
        "clarity/blank-control",
        bare(failure_class="missed-detection", proposed_control="  ", pulls=(pr(control=True),)),
        sc.CLARITY,
        1,
        "fill `Proposed control:`",
    ),
    ("evidence/none", bare(), sc.EVIDENCE, 0, "no evidence links"),
    (
        "evidence/png",
        bare(evidence=(ev(None, "https://x.example/shot.PNG"),)),
        sc.EVIDENCE,
        1,
        "screenshot only",
    ),
    (
        "evidence/png-query",
        bare(evidence=(ev("behavioral", "https://x.example/a.jpg?raw=1"),)),
        sc.EVIDENCE,
        1,
        "screenshot only",
    ),
    (
        "evidence/gif",
        bare(evidence=(ev(None, "https://x.example/a.gif"),)),
        sc.EVIDENCE,
        1,
        "`/harden evidence URL implementation`",
    ),
    (
        "evidence/user-attachment-image",
        bare(evidence=(ev(None, "https://github.com/user-attachments/assets/0b1c-22"),)),
        sc.EVIDENCE,
        1,
        "screenshot only",
    ),
    (
        "evidence/user-attachment-file",
        bare(evidence=(ev(None, "https://github.com/user-attachments/files/7/run.log"),)),
        sc.EVIDENCE,
        2,
        "run.log",
    ),
    ("evidence/log", bare(evidence=(ev("implementation"),)), sc.EVIDENCE, 2, "(implementation)"),
    (
        "evidence/screenshot-and-log",
        bare(evidence=(ev(None, "https://x.example/a.png"), ev(None))),
        sc.EVIDENCE,
        2,
        "1 command/log/proof link",
    ),
    ("ownership/missing", bare(), sc.OWNERSHIP, 0, "`/harden due YYYY-MM-DD`"),
    (
        "ownership/missing-with-due",
        bare(due=date(2026, 1, 1)),
        sc.OWNERSHIP,
        0,
        "`/harden verifier @user`",
    ),
    ("ownership/owner-only", bare(owner="alice"), sc.OWNERSHIP, 1, "single owner only"),
    (
        "ownership/verifier-only",
        bare(verifier="bob", due=date(2026, 1, 1)),
        sc.OWNERSHIP,
        1,
        "`/harden owner @user`",
    ),
    (
        "ownership/no-due",
        bare(owner="alice", verifier="bob"),
        sc.OWNERSHIP,
        1,
        "`/harden due YYYY-MM-DD`",
    ),
    (
        "ownership/same-person",
        bare(owner="alice", verifier="alice", due=date(2026, 1, 1)),
        sc.OWNERSHIP,
        1,
        "with someone else",
    ),
    (
        "ownership/complete",
        bare(owner="alice", verifier="bob", due=date(2026, 1, 1)),
        sc.OWNERSHIP,
        2,
        "due 2026-01-01",
    ),
    ("adoption/unverified", bare(), sc.ADOPTION, 0, "unverified"),
    (
        "adoption/ack",
        bare(owner="alice", acknowledged_by=("alice",)),
        sc.ADOPTION,
        1,
        "acknowledged by @alice",
    ),
    (
        "adoption/ack-by-non-owner",
        bare(owner="carol", acknowledged_by=("alice",)),
        sc.ADOPTION,
        0,
        "unverified",
    ),
    (
        "adoption/evidence",
        bare(evidence=(ev("implementation"),)),
        sc.ADOPTION,
        1,
        "1 evidence link",
    ),
    (
        "adoption/merged-shadow",
        bare(pulls=(pr(control=True),), control_mode="shadow"),
        sc.ADOPTION,
        1,
        "`warn` or `enforce`",
    ),
    (
        "adoption/merged-no-control",
        bare(pulls=(pr(test=True),)),
        sc.ADOPTION,
        1,
        "without a control change",
    ),
    (
        "adoption/unmerged-control",
        bare(pulls=(pr(merged=False, control=True),)),
        sc.ADOPTION,
        0,
        "behavioral",
    ),
    ("adoption/merged-warn", bare(pulls=(pr(control=True),)), sc.ADOPTION, 2, "warn mode"),
    (
        "adoption/merged-enforce",
        bare(pulls=(pr(control=True),), control_mode="enforce"),
        sc.ADOPTION,
        2,
        "enforce mode",
    ),
    ("adoption/behavioral", bare(evidence=(ev("behavioral"),)), sc.ADOPTION, 2, LOG),
    ("adoption/drill", bare(drill_or_incident_used=True), sc.ADOPTION, 2, "drill"),
    ("risk/unknown", bare(), sc.RISK_IMPACT, 0, "fill `Priority band:`"),
    ("risk/assumed", bare(priority="P2"), sc.RISK_IMPACT, 1, "priority band P2"),
    (
        "risk/unmeasured-note",
        bare(priority="P2", evidence=(ev("monitoring", note="looks ok"),)),
        sc.RISK_IMPACT,
        1,
        "`/harden evidence URL monitoring",
    ),
    (
        "risk/measured-monitoring",
        bare(evidence=(ev("monitoring", note="MTTD 9m -> 40s"),)),
        sc.RISK_IMPACT,
        2,
        "MTTD 9m -> 40s",
    ),
    (
        "risk/measured-behavioral",
        bare(evidence=(ev("behavioral", note="0 missed pages"),)),
        sc.RISK_IMPACT,
        2,
        "`behavioral` evidence",
    ),
    (
        "risk/measured-other-kind",
        bare(priority="P1", evidence=(ev("rollback", note="took 4m", seconds=240),)),
        sc.RISK_IMPACT,
        1,
        "assumed",
    ),
]


@pytest.mark.parametrize(
    ("facts", "name", "points", "text"),
    [c[1:] for c in RUBRIC_CASES],
    ids=[c[0] for c in RUBRIC_CASES],
)
def test_rubric_row(facts: ItemFacts, name: str, points: int, text: str) -> None:
    got = row(sc.rubric(facts), name)
    assert got.points == points
    assert text in f"{got.signal} | {got.next_step}"
    assert (got.next_step == "") == (points == 2)


RUBRIC_DROPS = [
    ("clarity", {"pulls": (replace(PERFECT_PR, adds_control=False),)}, sc.CLARITY, 1),
    (
        "evidence",
        {"evidence": (ev("behavioral", "https://x.example/drill.png", "paged in 2m"),)},
        sc.EVIDENCE,
        1,
    ),
    ("ownership", {"due": None}, sc.OWNERSHIP, 1),
    (
        "adoption",
        {
            "control_mode": "shadow",
            "evidence": tuple(e for e in PERFECT_ITEM.evidence if e.kind != "behavioral"),
        },
        sc.ADOPTION,
        1,
    ),
    (
        "risk",
        {
            "evidence": tuple(
                e for e in PERFECT_ITEM.evidence if e.kind not in ("monitoring", "behavioral")
            )
        },
        sc.RISK_IMPACT,
        1,
    ),
]


@pytest.mark.parametrize(
    ("changes", "name", "points"), [c[1:] for c in RUBRIC_DROPS], ids=[c[0] for c in RUBRIC_DROPS]
)
def test_rubric_drops_exactly_one_row(changes: dict[str, object], name: str, points: int) -> None:
    score = sc.rubric(perfect(**changes))
    assert row(score, name).points == points
    others_untouched(score, name)
    assert score.label == "Rubric 9/10"


def test_rubric_passes_at_seven_of_ten() -> None:
    seven = sc.rubric(
        perfect(
            due=None,
            priority=None,
            evidence=(ev("implementation"),),
            drill_or_incident_used=False,
            control_mode="shadow",
        )
    )
    # Clarity 2, Evidence 2, Ownership 1, Adoption 1, Risk 0 -> 6; a priority band makes 7
    assert (seven.total, seven.passed) == (6, False)
    passing = sc.rubric(perfect(due=None, evidence=(ev("implementation"),), control_mode="shadow"))
    assert (passing.label, passing.passed, passing.threshold) == ("Rubric 7/10", True, 7)
    assert not sc.rubric(perfect(due=None), threshold=10).passed


# --- adoption score --------------------------------------------------------------------------

ADOPTION_CASES = [
    ("enabled/warn", bare(pulls=(pr(control=True),)), sc.CONTROL_ENABLED, 1, "warn mode"),
    (
        "enabled/enforce",
        bare(pulls=(pr(control=True),), control_mode="enforce"),
        sc.CONTROL_ENABLED,
        1,
        "enforce mode",
    ),
    (
        "enabled/shadow",
        bare(pulls=(pr(control=True),), control_mode="shadow"),
        sc.CONTROL_ENABLED,
        0,
        ".github/hardening.yml",
    ),
    (
        "enabled/unmerged",
        bare(pulls=(pr(23, merged=False, control=True),)),
        sc.CONTROL_ENABLED,
        0,
        "merge PR #23",
    ),
    (
        "enabled/merged-test-only",
        bare(pulls=(pr(test=True),)),
        sc.CONTROL_ENABLED,
        0,
        "changes the control paths",
    ),
    (
        "trained/ack",
        bare(owner="alice", acknowledged_by=("@alice",)),
        sc.OWNERS_TRAINED,
        1,
        "`/harden ack`",
    ),
    ("trained/no-ack", bare(owner="alice"), sc.OWNERS_TRAINED, 0, "@alice runs `/harden ack`"),
    (
        "trained/ack-by-verifier",
        bare(owner="alice", verifier="bob", acknowledged_by=("bob",)),
        sc.OWNERS_TRAINED,
        0,
        "acknowledged by @bob only",
    ),
    ("trained/no-owner", bare(), sc.OWNERS_TRAINED, 0, "`/harden owner @user`"),
    ("runbook/evidence", bare(evidence=(ev("runbook"),)), sc.RUNBOOK_UPDATED, 1, LOG),
    (
        "runbook/merged-pr",
        bare(pulls=(pr(touches_runbook=True),)),
        sc.RUNBOOK_UPDATED,
        1,
        "PR #20 (merged)",
    ),
    (
        "runbook/unmerged-pr",
        bare(pulls=(pr(merged=False, touches_runbook=True),)),
        sc.RUNBOOK_UPDATED,
        0,
        "`/harden evidence URL runbook`",
    ),
    ("runbook/none", bare(), sc.RUNBOOK_UPDATED, 0, "Hardens #14"),
    ("dashboard/evidence", bare(evidence=(ev("monitoring"),)), sc.DASHBOARD_SIGNAL, 1, LOG),
    (
        "dashboard/pr-is-not-runtime",
        bare(pulls=(pr(touches_monitoring=True),)),
        sc.DASHBOARD_SIGNAL,
        0,
        "`/harden evidence URL monitoring`",
    ),
    ("dashboard/none", bare(), sc.DASHBOARD_SIGNAL, 0, "no `monitoring` evidence"),
    ("drill/behavioral", bare(evidence=(ev("behavioral"),)), sc.DRILL_USED, 1, LOG),
    ("drill/flag", bare(drill_or_incident_used=True), sc.DRILL_USED, 1, "incident or drill"),
    ("drill/none", bare(), sc.DRILL_USED, 0, "`/harden evidence URL behavioral"),
]


@pytest.mark.parametrize(
    ("facts", "name", "points", "text"),
    [c[1:] for c in ADOPTION_CASES],
    ids=[c[0] for c in ADOPTION_CASES],
)
def test_adoption_row(facts: ItemFacts, name: str, points: int, text: str) -> None:
    got = row(sc.adoption(facts), name)
    assert got.points == points
    assert text in f"{got.signal} | {got.next_step}"
    assert (got.next_step == "") == (points == 1)


ADOPTION_DROPS = [
    ("enabled", {"control_mode": "shadow"}, sc.CONTROL_ENABLED),
    ("trained", {"acknowledged_by": ()}, sc.OWNERS_TRAINED),
    (
        "runbook",
        {
            "pulls": (replace(PERFECT_PR, touches_runbook=False),),
            "evidence": tuple(e for e in PERFECT_ITEM.evidence if e.kind != "runbook"),
        },
        sc.RUNBOOK_UPDATED,
    ),
    (
        "dashboard",
        {"evidence": tuple(e for e in PERFECT_ITEM.evidence if e.kind != "monitoring")},
        sc.DASHBOARD_SIGNAL,
    ),
    (
        "drill",
        {"evidence": tuple(e for e in PERFECT_ITEM.evidence if e.kind != "behavioral")},
        sc.DRILL_USED,
    ),
]


@pytest.mark.parametrize(
    ("changes", "name"), [c[1:] for c in ADOPTION_DROPS], ids=[c[0] for c in ADOPTION_DROPS]
)
def test_adoption_drops_exactly_one_row(changes: dict[str, object], name: str) -> None:
    score = sc.adoption(perfect(**changes))
    assert row(score, name).points == 0
    others_untouched(score, name)
    assert (score.label, score.passed) == ("Adoption 4/5", True)


def test_adoption_below_four_is_incomplete() -> None:
    score = sc.adoption(perfect(acknowledged_by=(), control_mode="shadow"))
    assert (score.label, score.passed, score.threshold) == ("Adoption 3/5", False, 4)
    assert sc.adoption(perfect(acknowledged_by=(), control_mode="shadow"), threshold=3).passed


def test_evaluate_passes_thresholds_through() -> None:
    scores = sc.evaluate(
        perfect(acknowledged_by=()),
        scorecard_threshold=5,
        rubric_threshold=10,
        adoption_threshold=5,
    )
    assert (scores.scorecard.passed, scores.rubric.passed, scores.adoption.passed) == (
        False,
        True,
        False,
    )
    assert [r.name for r in scores.scorecard.unmet] == [sc.RUNBOOK_ACKNOWLEDGED]


# --- helpers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("took 4m30s", 270),
        ("90s", 90),
        ("90 s", 90),
        ("1h 5min", 3900),
        ("2 minutes", 120),
        ("rollback 12 min, then 3m", 720),
        ("1.5h", 5400),
        ("3 secs", 3),
        ("went fine", None),
        ("2 times", None),
        ("5 ms", None),
        ("", None),
    ],
)
def test_parse_duration(text: str, seconds: int | None) -> None:
    assert sc.parse_duration(text) == seconds


def test_parse_duration_is_linear_in_a_long_run_of_digits() -> None:
    import time

    started = time.perf_counter()
    assert sc.parse_duration("1" * 100_000) is None
    assert sc.parse_duration("9" * 100_000 + "x 5m") == 300
    assert sc.parse_duration("1." * 50_000) is None
    assert time.perf_counter() - started < 2  # quadratic took minutes


def test_only_rollback_evidence_has_a_rollback_duration() -> None:
    assert sc.evidence_duration(ev("rollback", note="took 90s")) == 90
    assert sc.evidence_duration(ev("rollback", seconds=270)) == 270
    assert sc.evidence_duration(ev("behavioral", note="paged in 1m", seconds=60)) is None
    assert sc.evidence_duration(ev(None, note="took 1m")) is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (45, "45s"), (60, "1m"), (270, "4m30s"), (3605, "1h0m5s")]
)
def test_format_duration(seconds: int, text: str) -> None:
    assert sc.format_duration(seconds) == text


@pytest.mark.parametrize(
    ("url", "image"),
    [
        ("https://x.example/a.png", True),
        ("https://x.example/a.JPEG#frag", True),
        ("https://github.com/user-attachments/assets/9f3e", True),
        ("https://github.com/user-attachments/files/1/out.txt", False),
        ("https://github.com/o/r/actions/runs/1", False),
        ("https://x.example/png", False),
    ],
)
def test_is_screenshot(url: str, image: bool) -> None:
    assert sc.is_screenshot(url) is image


# --- properties ------------------------------------------------------------------------------

evidence_st = st.builds(
    Evidence,
    url=st.sampled_from([LOG, "https://x.example/a.png", "https://github.com/o/r/pull/1"]),
    kind=st.sampled_from((None, *EVIDENCE_KINDS)),
    note=st.sampled_from(["", "took 3m", "p95 42m -> 18m", "ok"]),
    duration_seconds=st.sampled_from([None, 120]),
)
pull_st = st.builds(
    PullFacts,
    number=st.integers(1, 50),
    url=st.just("u"),
    merged=st.booleans(),
    adds_regression_test=st.booleans(),
    adds_control=st.booleans(),
    touches_rollback=st.booleans(),
    touches_monitoring=st.booleans(),
    touches_runbook=st.booleans(),
    touches_escalation=st.booleans(),
)
login_st = st.sampled_from([None, "alice", "Alice", "bob"])
item_st = st.builds(
    HardeningItem,
    failure_class=st.sampled_from([None, "missed-detection", "late-decision"]),
    proposed_control=st.sampled_from(["", "alert rule"]),
    priority=st.sampled_from([None, "P0", "P3"]),
    owner=login_st,
    verifier=login_st,
    due=st.sampled_from([None, date(2026, 1, 1)]),
    evidence=st.lists(evidence_st, max_size=4).map(tuple),
    acknowledged_by=st.lists(login_st.filter(bool), max_size=2).map(tuple),
)
facts_st = st.builds(
    ItemFacts,
    number=st.just(14),
    item=item_st,
    pulls=st.lists(pull_st, max_size=3).map(tuple),
    control_mode=st.sampled_from(["shadow", "warn", "enforce"]),
    drill_or_incident_used=st.booleans(),
)


@given(facts_st)
def test_scores_are_consistent(facts: ItemFacts) -> None:
    scores = sc.evaluate(facts)
    assert scores == sc.evaluate(facts)
    for score, maximum in ((scores.scorecard, 5), (scores.rubric, 10), (scores.adoption, 5)):
        assert score.maximum == maximum
        assert score.total == sum(r.points for r in score.rows)
        assert score.passed == (score.total >= score.threshold)
        assert score.label == f"{score.title} {score.total}/{maximum}"
        for r in score.rows:
            assert 0 <= r.points <= r.max_points
            assert r.signal
            assert (r.next_step == "") == r.met


@given(facts_st, evidence_st)
def test_more_evidence_never_lowers_a_score(facts: ItemFacts, extra: Evidence) -> None:
    more = replace(facts, item=replace(facts.item, evidence=(*facts.item.evidence, extra)))
    before, after = sc.evaluate(facts), sc.evaluate(more)
    for old, new in zip(
        (before.scorecard, before.rubric, before.adoption),
        (after.scorecard, after.rubric, after.adoption),
        strict=True,
    ):
        for a, b in zip(old.rows, new.rows, strict=True):
            assert b.points >= a.points, (a, b)


def test_risk_impact_reads_the_experiment_design() -> None:
    from rules.scores import RISK_IMPACT, rubric

    def row(item: HardeningItem) -> tuple[int, str, str]:
        found = next(
            r for r in rubric(ItemFacts(number=1, item=item)).rows if r.name == RISK_IMPACT
        )
        return found.points, found.signal, found.next_step

    assert row(HardeningItem())[0] == 0
    points, signal, step = row(
        HardeningItem(hypothesis="If we gate X, sev-1 drops 50%", measure="p95 MTTR over 4 drills")
    )
    assert points == 1 and "hypothesis “If we gate X, sev-1 drops 50%”" in signal
    assert "p95 MTTR over 4 drills" in step
    measured = HardeningItem(
        measure="p95 MTTR",
        evidence=(Evidence("https://g.example/d", "monitoring", "p95 MTTR 42m -> 18m"),),
    )
    points, signal, _ = row(measured)
    assert points == 2 and "against the measure “p95 MTTR”" in signal
