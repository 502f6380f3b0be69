"""rules.ledger, rules.rollout, rules.recurrence, rules.override: the ledger's sections."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from rules.check_output import CheckOutput
from rules.ledger import MARKER, LedgerInput, LedgerItem, next_step, render_ledger
from rules.model import Deferral, HardeningItem, ItemFacts
from rules.override import grant, not_covered_output, overridden_output
from rules.recurrence import (
    by_incident,
    earlier_item_comment,
    find_recurrences,
    recurrence_counts,
)
from rules.risk import ResidualRisk, RiskEntry
from rules.rollout import ControlStats, control_stats, recommendation
from rules.scores import evaluate

TODAY = date(2026, 12, 10)
BASE = HardeningItem(
    incident=1,
    failure_class="missed-detection",
    proposed_control="alert rule",
    priority="P1",
    owner="alice",
    verifier="bob",
    due=date(2026, 12, 20),
)


def entry(number: int, item: HardeningItem, done_on: date | None = None) -> LedgerItem:
    facts = ItemFacts(number=number, item=item)
    return LedgerItem(facts, evaluate(facts), done_on)


def section(body: str, title: str) -> str:
    start = body.index(f"## {title}")
    end = body.find("\n## ", start + 1)
    return body[start : end if end != -1 else None]


def test_every_section_shows_its_kind_of_change() -> None:
    risk = ResidualRisk(
        "vendor drops alerts", "contract", "manual check", "alert lost", "dave", date(2027, 1, 31)
    )
    data = LedgerInput(
        repository="octo/repo",
        today=TODAY,
        items=[
            entry(2, BASE),
            entry(3, replace(BASE, priority="P0", due=date(2026, 12, 1))),
            entry(
                4,
                replace(
                    BASE,
                    due=date(2026, 12, 1),
                    deferral=Deferral(date(2026, 12, 30), "vendor first", "outage again", "carol"),
                ),
            ),
            entry(
                5, replace(BASE, status="verified", verified_by="bob"), done_on=date(2026, 12, 9)
            ),
        ],
        risks=[RiskEntry(1, risk, 1, 1, "carol", TODAY)],
        controls=[
            ControlStats("regression-test", "warn", 6, 1),
            ControlStats("control-change", "shadow", 2, 2),
        ],
        recurrences=find_recurrences(
            [(7, replace(BASE, incident=6))], [(5, replace(BASE, status="verified"))]
        ),
        overrides=[
            grant(
                9,
                "a" * 40,
                by="lena",
                reason="hotfix @everyone",
                hours=24,
                now=datetime(2026, 12, 10, 8, tzinfo=UTC),
            )
        ],
    )
    body = render_ledger(data)
    assert body.startswith(MARKER) and "Edits to this issue are overwritten" in body
    bands = section(body, "Open items by priority band")
    assert bands.index("### P0") < bands.index("#3") < bands.index("### P1") < bands.index("#2")
    assert "#5" not in bands
    assert "#3" in section(body, "Overdue") and "#4" not in section(body, "Overdue")
    assert "| #4 (deferred by @\u200bcarol) | vendor first | outage again | 2026-12-30 |" in body
    assert (
        "| R1 (#1) | vendor drops alerts | contract | manual check | alert lost | @\u200bdave | 2027-01-31 |"
        in body
    )
    assert "promote to `enforce`: only 1 of 6" in body
    assert "not enough data yet (2 of 5" in body
    assert "#5 (`missed-detection`, verified) recurred as #7 in incident #6" in body
    assert "the control did not hold (1 recurrence(s))" in section(body, "Retire candidates")
    overrides = section(body, "Break-glass overrides")
    assert "#9 at `aaaaaaaaaaaa` by @\u200blena" in overrides and "@everyone" not in overrides
    assert "verified by @\u200bbob on 2026-12-09" in section(body, "Verified or retired")
    assert render_ledger(data) == body  # no clock: an unchanged repository costs no edit


def test_hand_text_cannot_forge_markers_or_break_tables() -> None:
    item = replace(
        BASE,
        deferral=Deferral(date(2026, 12, 30), "a | b <!-- hardening-bot:ledger -->", "x", None),
    )
    body = render_ledger(LedgerInput("octo/repo", TODAY, [entry(2, item)]))
    assert body.count("<!-- hardening-bot:ledger") == 1
    assert "a \\| b <\u200b!--" in body


def test_next_step_walks_ownership_then_scores() -> None:
    assert next_step(entry(2, replace(BASE, owner=None)), TODAY) == "`/harden owner @user`"
    assert next_step(entry(2, replace(BASE, verifier=None)), TODAY) == "`/harden verifier @user`"
    assert next_step(entry(2, replace(BASE, due=None)), TODAY) == "`/harden due YYYY-MM-DD`"
    assert "/harden evidence" in next_step(entry(2, BASE), TODAY)


def test_rollout_recommendations() -> None:
    assert recommendation(ControlStats("c", "enforce", 50, 50)) == "enforced"
    assert recommendation(ControlStats("c", "shadow", 4, 0)).startswith("not enough data")
    assert recommendation(ControlStats("c", "shadow", 5, 5)).startswith("promote to `warn`")
    assert recommendation(ControlStats("c", "warn", 10, 2)).startswith("promote to `enforce`")
    assert recommendation(ControlStats("c", "warn", 10, 3)).startswith("stay in `warn`")
    verdicts = {1: {"regression-test": True}, 2: {"regression-test": False}}
    assert control_stats({"regression-test": "warn", "control-change": "warn"}, verdicts) == [
        ControlStats("regression-test", "warn", 2, 1),
        ControlStats("control-change", "warn", 0, 0),
    ]


def test_recurrence_needs_a_verified_item_of_another_incident() -> None:
    new = [
        (10, replace(BASE, incident=9)),
        (11, replace(BASE, incident=9, failure_class="late-decision")),
    ]
    known = [
        (2, replace(BASE, status="verified", verified_at=datetime(2026, 11, 1, tzinfo=UTC))),
        (3, replace(BASE, status="verified", verified_at=datetime(2026, 11, 5, tzinfo=UTC))),
        (4, replace(BASE, status="in_progress")),
        (8, replace(BASE, incident=9, status="verified")),  # the same incident: not a recurrence
    ]
    found = find_recurrences(new, known)
    assert [(r.earlier, r.later, r.incident) for r in found] == [(3, 10, 9)]
    # One incident counts once, however many of its items repeat the control; another counts.
    again = replace(found[0], later=12, incident=11)
    assert recurrence_counts([*found, replace(found[0], later=13)]) == {3: 1}
    assert recurrence_counts([*found, again]) == {3: 2}
    [merged] = by_incident([found[0], replace(found[0], later=13), replace(found[0], later=7)])
    assert (merged.later, merged.others, merged.laters) == (7, (10, 13), (7, 10, 13))
    assert "The control did not hold" in earlier_item_comment(found[0], 1)


def test_override_covers_its_head_only_and_expires() -> None:
    now = datetime(2026, 12, 10, 8, tzinfo=UTC)
    override = grant(9, "abc", by="lena", reason="sev-1 hotfix", hours=2, now=now)
    assert override.covers(9, "abc", now) and not override.covers(9, "def", now)
    assert not override.covers(9, "abc", datetime(2026, 12, 10, 10, tzinfo=UTC))
    # The same commit as the head of another pull request (another base) is not covered.
    assert not override.covers(10, "abc", now)
    other = not_covered_output(
        CheckOutput("hardening/controls", "failure", "Missing", "t"), override
    )
    assert other.conclusion == "failure" and "on pull request #9 only" in other.summary
    failing = CheckOutput("hardening/controls", "failure", "Missing regression test", "table")
    passed = overridden_output(failing, override)
    assert passed.conclusion == "success" and "Overridden by lena" in passed.title
    assert (
        "sev-1 hotfix" in passed.summary and "`failure`: Missing regression test" in passed.summary
    )
    ok = CheckOutput("hardening/controls", "success", "found", "t")
    assert overridden_output(ok, override) is ok


def test_recurrence_needs_the_same_component_when_both_incidents_name_one() -> None:
    from rules.recurrence import components_of

    assert components_of(["component:Checkout", "component:nope", "sev-1"], ["checkout"]) == {
        "checkout"
    }
    earlier = (2, replace(BASE, incident=1, status="verified"))
    new = [(10, replace(BASE, incident=9))]
    checkout, search = frozenset({"checkout"}), frozenset({"search"})
    assert find_recurrences(new, [earlier], {1: checkout, 9: search}) == []
    assert len(find_recurrences(new, [earlier], {1: checkout, 9: checkout | search})) == 1
    assert len(find_recurrences(new, [earlier], {1: checkout})) == 1  # the new one names none
