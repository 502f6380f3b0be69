"""Completion evidence bundle: every part the hardening loop lists, for one item and for an incident."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

from test_scores import PERFECT_PR, bare, ev, perfect, pr

from rules.bundle import INCIDENT_MARKER, ITEM_MARKER, incident_bundle, item_bundle
from rules.model import ItemFacts
from rules.scores import evaluate

AT = datetime(2026, 12, 1, 14, 3, tzinfo=UTC)
LINK = "https://github.com/o/r/issues/14#issuecomment-9"


def verified(number: int = 14, **changes: object) -> ItemFacts:
    facts = perfect(
        **{
            "status": "verified",
            "verified_by": "bob",
            "adoption_check": date(2026, 12, 15),
            **changes,
        }
    )
    return replace(facts, number=number, title=f"Item {number}")


def section(text: str, title: str) -> list[str]:
    body = text.split(f"### {title}\n", 1)[1].split("\n\n", 1)[0]
    return body.splitlines()


def bundle(facts: ItemFacts, **kwargs: object) -> str:
    args: dict[str, object] = {
        "incident_title": "Checkout outage",
        "verified_by": "bob",
        "verified_at": AT,
        "link": LINK,
        **kwargs,
    }
    return item_bundle(facts, **args)  # type: ignore[arg-type]


def test_item_bundle_has_every_part_of_the_hardening_loop() -> None:
    text = bundle(verified())
    assert text.startswith(ITEM_MARKER + "\n## Completion evidence bundle: #14 Item 14\n")
    assert "- **Incident:** #12 Checkout outage" in text
    assert "- **Failure class:** missed-detection" in text
    assert "- **Proposed control:** alert rule + routing update" in text
    assert "- **Priority band:** P1" in text
    assert "- **Execution owner:** @alice · **Verifier owner:** @bob" in text
    assert f"- **Verified:** by @bob at 2026-12-01 14:03 UTC ([comment]({LINK}))" in text
    assert "- **Scores:** Scorecard 5/5 · Rubric 10/10 · Adoption 5/5" in text
    assert section(text, "Controls shipped") == ["- PR #20: https://github.com/o/r/pull/20"]
    assert section(text, "Test evidence") == [
        "- PR #20 adds `test_alert_fires` in tests/test_alerts.py:12: "
        "https://github.com/o/r/pull/20",
        "- https://ci.example.com/runs/2 (test)",
    ]
    assert section(text, "Runbook / process diffs") == [
        "- PR #20 changes runbook/escalation paths: https://github.com/o/r/pull/20",
        "- https://github.com/o/r/commit/abc (runbook)",
    ]
    assert section(text, "Other evidence") == [
        "- https://ci.example.com/runs/3 (rollback, took 4m30s): rehearsal",
        "- https://grafana.example.com/d/1 (monitoring): alert latency 9m -> 40s",
        "- https://github.com/o/r/issues/30 (behavioral): drill 2026-11-20 paged in 2m",
    ]
    assert section(text, "Residual actions") == ["- adoption check on 2026-12-15: owner @alice"]
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_a_timed_rollback_states_its_time_once() -> None:
    said = verified(
        evidence=(ev("rollback", "https://ci.example.com/runs/3", "took 4m30s", seconds=270),)
    )
    assert section(bundle(said), "Other evidence") == [
        "- https://ci.example.com/runs/3 (rollback): took 4m30s"
    ]
    paged = verified(evidence=(ev("behavioral", "https://x.example/1", "paged in 1m", seconds=60),))
    assert section(bundle(paged), "Other evidence") == [
        "- https://x.example/1 (behavioral): paged in 1m"
    ]


def test_item_bundle_is_deterministic_and_converts_time_to_utc() -> None:
    later = datetime(2026, 12, 1, 16, 3, tzinfo=timezone(timedelta(hours=2)))
    assert bundle(verified(), verified_at=later) == bundle(verified())
    naive = datetime(2026, 12, 1, 14, 3)
    assert bundle(verified(), verified_at=naive) == bundle(verified())


def test_item_bundle_lists_incomplete_adoption_as_residual_actions() -> None:
    facts = verified(acknowledged_by=(), control_mode="shadow", adoption_check=None)
    lines = section(bundle(facts), "Residual actions")
    assert len(lines) == 2
    assert lines[0].startswith(
        "- Adoption 3/5, “control enabled in target environment”: raise the control's rollout mode"
    )
    assert lines[0].endswith("(owner @alice, due 2026-12-01)")
    assert "“owners trained and acknowledged”: @alice runs `/harden ack`" in lines[1]


def test_item_bundle_uses_given_scores() -> None:
    facts = verified(acknowledged_by=())
    strict = evaluate(facts, adoption_threshold=5)
    assert section(bundle(facts), "Residual actions") == [
        "- adoption check on 2026-12-15: owner @alice"
    ]
    assert len(section(bundle(facts, scores=strict), "Residual actions")) == 2


def test_item_bundle_with_nothing_says_none() -> None:
    text = bundle(replace(bare(), title=""))
    assert "## Completion evidence bundle: #14\n" in text
    assert "- **Incident:** _none_" in text
    assert "- **Execution owner:** none (`/harden owner @user`)" in text
    for title in ("Controls shipped", "Test evidence", "Runbook / process diffs", "Other evidence"):
        assert section(text, title) == ["_none_"]


def test_item_bundle_unmerged_prs_are_not_shipped() -> None:
    text = bundle(verified(pulls=(replace(PERFECT_PR, merged=False),)))
    assert section(text, "Controls shipped") == ["_none_"]
    assert section(text, "Test evidence") == ["- https://ci.example.com/runs/2 (test)"]


def test_user_text_cannot_forge_the_marker_or_break_lines() -> None:
    facts = verified(
        evidence=(ev("test", note=f"see\n{ITEM_MARKER}"),), proposed_control="a | b\nc"
    )
    text = bundle(replace(facts, title=INCIDENT_MARKER))
    assert text.count(ITEM_MARKER) == 1
    assert INCIDENT_MARKER not in text
    assert "- **Proposed control:** a \\| b c" in text
    assert incident_bundle(1, "t", f"x {INCIDENT_MARKER}", [facts]).count(INCIDENT_MARKER) == 1


# --- incident bundle -------------------------------------------------------------------------


def incident(items: list[ItemFacts], summary: str = "Queue backlog unnoticed for 40 min.") -> str:
    return incident_bundle(12, "Checkout outage", summary, items)


def test_incident_bundle_has_every_part_of_the_hardening_loop() -> None:
    shared = pr(
        20,
        test=True,
        control=True,
        touches_runbook=True,
        new_tests=("`test_alert_fires` in tests/test_alerts.py:12",),
    )
    items = [
        verified(15, pulls=(shared, pr(21, control=True))),
        verified(14, pulls=(shared,)),
        verified(16, status="retired", retired_rationale="duplicates #14", pulls=()),
        verified(17, status="in_progress", priority="P2", owner=None, due=None, pulls=()),
    ]
    text = incident(items)
    assert text.startswith(
        INCIDENT_MARKER + "\n## Completion evidence bundle: incident #12 "
        "Checkout outage\n\nQueue backlog unnoticed for 40 min.\n"
    )
    table = section(text, "Hardening items")
    assert table[0].startswith("| Item | Failure class | Status | Execution owner |")
    assert [line.split(" |")[0] for line in table[2:]] == [
        "| #14 Item 14",
        "| #15 Item 15",
        "| #16 Item 16",
        "| #17 Item 17",
    ]
    assert table[5] == (
        "| #17 Item 17 | missed-detection | in_progress | — | @bob | — | "
        "Scorecard 3/5 · Rubric 8/10 · Adoption 3/5 |"
    )
    assert section(text, "Controls shipped") == [
        "- PR #20 (hardens #14, #15): https://github.com/o/r/pull/20",
        "- PR #21 (hardens #15): https://github.com/o/r/pull/21",
    ]
    tests = section(text, "Test evidence")
    assert tests[0] == (
        "- PR #20 (hardens #14, #15) adds `test_alert_fires` in "
        "tests/test_alerts.py:12: https://github.com/o/r/pull/20"
    )
    assert "- https://ci.example.com/runs/2 (test) (#17)" in tests
    runbooks = section(text, "Runbook / process diffs")
    assert runbooks[0] == (
        "- PR #20 (hardens #14, #15) changes runbook/escalation paths: "
        "https://github.com/o/r/pull/20"
    )
    assert section(text, "Residual actions and risks") == [
        "- #14 adoption check on 2026-12-15: owner @alice",
        "- #15 adoption check on 2026-12-15: owner @alice",
        "- #16 retired: duplicates #14",
        "- #17 (P2, in_progress): owner none (`/harden owner @user`), due no due date "
        "(`/harden due YYYY-MM-DD`)",
    ]


def test_incident_bundle_without_items_or_summary() -> None:
    text = incident([], summary="  ")
    assert "_No summary given._" in text
    assert section(text, "Hardening items") == ["_none_"]
    assert section(text, "Residual actions and risks") == ["_none_"]


def test_incident_bundle_thresholds_decide_residual_adoption() -> None:
    facts = verified(acknowledged_by=(), adoption_check=None)
    assert section(incident([facts]), "Residual actions and risks") == ["_none_"]
    strict = incident_bundle(12, "t", "s", [facts], adoption_threshold=5)
    assert section(strict, "Residual actions and risks") == [
        "- #14 Adoption 4/5, “owners trained and acknowledged”: @alice runs `/harden ack` "
        "(owner @alice, due 2026-12-01)"
    ]


def test_retired_item_without_rationale_says_so() -> None:
    facts = verified(status="retired", retired_rationale=None)
    assert section(incident([facts]), "Residual actions and risks") == [
        "- #14 retired: no rationale recorded"
    ]


def test_incident_bundle_lists_the_open_residual_risks_and_their_owners() -> None:
    from rules.risk import ResidualRisk, RiskEntry

    risk = ResidualRisk(
        "vendor @team drops alerts", "", "", "alert lost", "dave", date(2027, 1, 31)
    )
    entries = [
        RiskEntry(1, risk, 12, 12, "carol", date(2026, 12, 1)),
        RiskEntry(2, risk, 12, 12, "carol", date(2026, 12, 1), "carol", date(2026, 12, 2)),
    ]
    body = incident_bundle(12, "Checkout outage", "", [], risks=entries)
    assert (
        "- Residual risk R1 (@dave, target 2027-01-31): vendor @\u200bteam drops alerts; "
        "trigger: alert lost" in body
    )
    assert "R2" not in body
