"""QA gate, closure gate, incident close gate and the hardening loop's Hardening closure gate.

Every requirement has a case that removes just that one thing and checks the gate names it
with the command that supplies it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from test_scores import PERFECT_ITEM, PERFECT_PR, bare, ev, perfect

from rules import gates
from rules.gates import GateResult, Missing, count_held
from rules.model import ItemFacts
from rules.scores import evidence_of

EVIDENCE_CMD = (
    "/harden evidence URL [implementation|behavioral|rollback|monitoring|runbook|test] [note]"
)


def verified(**changes: object) -> ItemFacts:
    return perfect(**{"status": "verified", "verified_by": "bob", **changes})


def retired(**changes: object) -> ItemFacts:
    return perfect(
        **{"status": "retired", "retired_rationale": "duplicates a stronger gate", **changes}
    )


def commands(result: GateResult) -> list[str]:
    return [m.command for m in result.missing]


def only(result: GateResult) -> Missing:
    assert not result.passed
    (missing,) = result.missing
    return missing


# --- QA gate ---------------------------------------------------------------------------------


def test_qa_gate_passes_a_complete_item() -> None:
    result = gates.qa_gate(perfect())
    assert result == GateResult(passed=True)
    assert result.markdown() == ""


QA_CASES = [
    (
        "implementation",
        {
            "pulls": (replace(PERFECT_PR, merged=False),),
            "evidence": PERFECT_ITEM.evidence,
        },  # test evidence keeps the scorecard at 4/5
        "implementation evidence",
        "/harden evidence URL implementation",
    ),
    (
        "behavioral",
        {"evidence": tuple(e for e in PERFECT_ITEM.evidence if e.kind != "behavioral")},
        "behavioral evidence",
        "/harden evidence URL behavioral",
    ),
    ("owner", {"owner": None, "acknowledged_by": ()}, "an execution owner", "/harden owner @user"),
    ("verifier", {"verifier": None}, "a verifier owner", "/harden verifier @user"),
    (
        "same-person",
        {"verifier": "ALICE"},
        "other than the execution owner @alice",
        "/harden verifier @user",
    ),
]


@pytest.mark.parametrize(
    ("changes", "what", "command"), [c[1:] for c in QA_CASES], ids=[c[0] for c in QA_CASES]
)
def test_qa_gate_names_each_missing_evidence(
    changes: dict[str, object], what: str, command: str
) -> None:
    result = gates.qa_gate(perfect(**changes))
    assert not result.passed
    hits = [m for m in result.missing if what in m.what]
    assert hits and hits[0].command == command
    assert f"`{command}`" in result.markdown()


def test_qa_gate_merged_pr_is_implementation_evidence() -> None:
    no_link = perfect(evidence=PERFECT_ITEM.evidence)  # no implementation link at all
    assert not evidence_of(no_link.item, "implementation")
    assert gates.qa_gate(no_link).passed
    link_only = perfect(pulls=(), evidence=(*PERFECT_ITEM.evidence, ev("implementation")))
    assert not [m for m in gates.qa_gate(link_only).missing if "implementation" in m.what]


def test_qa_gate_drill_flag_is_behavioral_evidence() -> None:
    facts = perfect(
        evidence=tuple(e for e in PERFECT_ITEM.evidence if e.kind != "behavioral"),
        drill_or_incident_used=True,
    )
    assert gates.qa_gate(facts).passed


def test_qa_gate_lists_each_unmet_scorecard_row_with_its_next_step() -> None:
    facts = perfect(
        acknowledged_by=(), evidence=tuple(e for e in PERFECT_ITEM.evidence if e.kind != "rollback")
    )
    result = gates.qa_gate(facts)
    scorecard = [m for m in result.missing if m.group == "Scorecard 3/5, needs 4/5"]
    assert [m.what.split("“")[1].split("”")[0] for m in scorecard] == [
        "rollback path rehearsed and timed",
        "runbook update acknowledged by owners",
    ]
    assert "rollback took 4m30s" in scorecard[0].command
    assert "@alice runs `/harden ack`" in scorecard[1].command


def test_qa_gate_lists_rubric_rows_below_two() -> None:
    facts = perfect(
        due=None,
        priority=None,
        evidence=(ev("implementation"), ev("behavioral"), ev("test"), ev("rollback", seconds=60)),
    )
    result = gates.qa_gate(facts)
    rubric = [m for m in result.missing if m.group.startswith("Rubric 7/10")]
    assert rubric == []  # 7/10 passes
    worse = gates.qa_gate(replace(facts, item=replace(facts.item, owner=None, verifier=None)))
    rows = [m.what for m in worse.missing if m.group == "Rubric 6/10, needs 7/10"]
    assert len(rows) == 2
    assert "“Ownership”" in rows[0] and "“Risk impact”" in rows[1]


def test_a_score_is_named_once_over_its_unmet_rows() -> None:
    facts = perfect(
        status="in_progress",
        pulls=(),
        evidence=(),
        acknowledged_by=(),
        due=None,
        owner=None,
        verifier=None,
    )
    text = gates.closure_gate(facts).markdown()
    assert text.count("Scorecard 0/5, needs 4/5") == 1
    assert text.count("Rubric ") == 1
    lines = text.splitlines()
    heading = lines.index("- Scorecard 0/5, needs 4/5:")
    rows = lines[heading + 1 : heading + 6]
    assert [row.split("“")[1].split("”")[0] for row in rows] == [
        "root-cause class now test-covered",
        "rollback path rehearsed and timed",
        "escalation ownership documented",
        "monitoring/alerts updated",
        "runbook update acknowledged by owners",
    ]
    assert all(row.startswith("  - “") for row in rows)
    assert lines[heading + 6].startswith("- Rubric ")


def test_qa_gate_thresholds_are_parameters() -> None:
    facts = perfect(acknowledged_by=())
    assert gates.qa_gate(facts).passed
    assert not gates.qa_gate(facts, scorecard_threshold=5).passed
    assert not gates.qa_gate(perfect(due=None), rubric_threshold=10).passed


def test_unreachable_threshold_is_named_not_hidden() -> None:
    result = gates.qa_gate(perfect(), rubric_threshold=11)
    assert only(result) == Missing(
        "Rubric 10/10, needs 11/10", "lower the threshold in .github/hardening.yml"
    )


def test_adoption_is_advisory_unless_configured_to_block() -> None:
    facts = perfect(acknowledged_by=(), control_mode="shadow")  # Adoption 3/5
    advisory = gates.qa_gate(facts)
    assert advisory.passed
    assert [m.what.split("“")[1].split("”")[0] for m in advisory.advisory] == [
        "control enabled in target environment",
        "owners trained and acknowledged",
    ]
    assert "(advisory) Adoption 3/5, needs 4/5" in advisory.markdown()
    blocking = gates.qa_gate(facts, adoption_blocking=True)
    assert not blocking.passed and blocking.advisory == ()
    assert any(m.group.startswith("Adoption 3/5") for m in blocking.missing)
    assert gates.qa_gate(facts, adoption_blocking=True, adoption_threshold=3).passed


# --- closure gate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "facts",
    [verified(), retired(), retired(evidence=(ev(None),))],
    ids=["verified", "retired", "retired-weak-evidence"],
)
def test_closure_gate_passes(facts: ItemFacts) -> None:
    assert gates.closure_gate(facts) == GateResult(passed=True)


CLOSURE_CASES = [
    ("owner", retired(owner=None), "an execution owner", "/harden owner @user"),
    ("verifier", retired(verifier=None), "a verifier owner", "/harden verifier @user"),
    (
        "different-verifier",
        retired(verifier="@Alice"),
        "a verifier owner other than the execution owner @alice",
        "/harden verifier @user",
    ),
    ("due", retired(due=None), "a due date", "/harden due YYYY-MM-DD"),
    ("evidence", retired(evidence=()), "at least one evidence link", EVIDENCE_CMD),
    (
        "rationale",
        retired(retired_rationale="  "),
        "a retirement rationale (sunset protocol), by a lead",
        "/harden retire RATIONALE",
    ),
    (
        "signoff",
        verified(verified_by=None),
        "a verification signoff by the verifier owner",
        "/harden verify",
    ),
    (
        "self-verified",
        verified(verified_by="alice"),
        "a verification by someone other than the execution owner @alice",
        "/harden verify",
    ),
]


@pytest.mark.parametrize(
    ("facts", "what", "command"), [c[1:] for c in CLOSURE_CASES], ids=[c[0] for c in CLOSURE_CASES]
)
def test_closure_gate_names_the_one_missing_thing(
    facts: ItemFacts, what: str, command: str
) -> None:
    assert only(gates.closure_gate(facts)) == Missing(what, command)


@pytest.mark.parametrize("status", ["open", "in_progress"])
def test_closure_gate_needs_verified_or_retired(status: str) -> None:
    missing = only(gates.closure_gate(perfect(status=status)))
    assert missing.command == "/harden verify"
    assert f"status is `{status}`" in missing.what
    assert "`/harden retire RATIONALE`, by a lead" in missing.what


def test_closure_gate_on_open_item_shows_the_way_to_verified() -> None:
    facts = perfect(status="in_progress", acknowledged_by=(), verifier=None)
    result = gates.closure_gate(facts)
    assert commands(result)[:2] == ["/harden verifier @user", "/harden verify"]
    # the QA gate's ownership line is the same requirement, so it is listed once
    assert [m.command for m in result.then].count("/harden verifier @user") == 0
    # what the QA gate will check comes after what the close itself lacks
    assert any(m.group.startswith("Scorecard 3/5") for m in result.then)
    assert not any(m.group.startswith("Scorecard") for m in result.missing)


def test_closure_gate_rechecks_the_qa_gate_of_a_verified_item() -> None:
    # status edited to verified by hand, without the evidence the QA gate needs
    facts = verified(evidence=(ev("test"),), pulls=())
    result = gates.closure_gate(facts)
    assert "/harden evidence URL implementation" in commands(result)
    assert "/harden evidence URL behavioral" in commands(result)


def test_closure_gate_does_not_need_qa_for_retired_items() -> None:
    facts = retired(evidence=(ev(None, "https://x.example/a.png"),), pulls=(), acknowledged_by=())
    assert gates.closure_gate(facts).passed


def test_closure_gate_lists_everything_for_an_empty_item() -> None:
    result = gates.closure_gate(bare())
    assert commands(result)[:5] == [
        "/harden owner @user",
        "/harden verifier @user",
        "/harden due YYYY-MM-DD",
        EVIDENCE_CMD,
        "/harden verify",
    ]
    assert len(set(result.missing)) == len(result.missing)


# --- incident close gate ---------------------------------------------------------------------


def test_incident_close_gate_needs_a_hardening_backlog() -> None:
    missing = only(gates.incident_close_gate([]))
    assert missing.what == "at least one hardening item"
    assert "`Findings` section" in missing.command


def test_incident_close_gate_passes_when_every_item_is_owned_and_dated() -> None:
    items = [
        bare(owner="a", verifier="b", due=date(2026, 1, 1)),
        replace(bare(owner="c", verifier="d", due=date(2026, 2, 1)), number=15),
    ]
    assert gates.incident_close_gate(items).passed


def test_incident_close_gate_names_each_item_lacking_what() -> None:
    items = [
        replace(bare(owner="a", due=date(2026, 1, 1)), number=17),
        replace(bare(verifier="b"), number=15),
        bare(owner="a", verifier="b", due=date(2026, 1, 1)),  # #14 complete
    ]
    result = gates.incident_close_gate(items)
    assert result.missing == (
        Missing("an execution owner on #15", "/harden owner @user"),
        Missing("a due date on #15", "/harden due YYYY-MM-DD"),
        Missing("a verifier owner on #17", "/harden verifier @user"),
    )


def test_incident_close_gate_exempts_items_retired_by_a_lead() -> None:
    items = [
        bare(owner="a", verifier="b", due=date(2026, 1, 1)),
        replace(bare(status="retired", retired_rationale="superseded by #9"), number=15),
    ]
    assert gates.incident_close_gate(items).passed
    assert gates.incident_close_gate(items[1:]).passed  # a retired item is still a backlog


def test_incident_close_gate_still_needs_owners_on_a_retired_status_without_rationale() -> None:
    items = [replace(bare(status="retired", owner="a", verifier="b"), number=15)]
    assert gates.incident_close_gate(items).missing == (
        Missing("a due date on #15", "/harden due YYYY-MM-DD"),
    )


# --- the hardening loop's closure gate (incident level) --------------------------------------


def done(number: int = 14, **changes: object) -> ItemFacts:
    return replace(verified(**changes), number=number)


def test_hardening_complete_when_every_condition_holds() -> None:
    items = [
        done(14),
        done(15, status="retired", retired_rationale="superseded"),
        done(16, status="in_progress", priority="P3"),
    ]
    assert gates.incident_hardening_complete(items).passed


def test_hardening_complete_needs_items() -> None:
    assert only(gates.incident_hardening_complete([])).what == "at least one hardening item"


def test_hardening_complete_needs_the_scorecard_threshold() -> None:
    result = gates.incident_hardening_complete(
        [
            done(
                acknowledged_by=(),
                evidence=(ev("implementation"),),
                pulls=(replace(PERFECT_PR, adds_regression_test=False, touches_monitoring=False),),
            )
        ]
    )
    assert any(m.group == "Scorecard 1/5 on #14, needs 4/5" for m in result.missing)
    relaxed = gates.incident_hardening_complete([done(acknowledged_by=())], scorecard_threshold=5)
    assert any(m.group == "Scorecard 4/5 on #14, needs 5/5" for m in relaxed.missing)


@pytest.mark.parametrize(
    ("facts", "text", "command"),
    [
        (done(control_mode="shadow"), "runs in shadow mode", "`warn` or `enforce`"),
        (
            done(pulls=(replace(PERFECT_PR, adds_control=False),)),
            "no merged linked PR changes",
            "`Hardens #14`",
        ),
        (
            done(pulls=(replace(PERFECT_PR, merged=False),), evidence=PERFECT_ITEM.evidence),
            "no merged linked PR changes",
            "changes the control paths",
        ),
    ],
    ids=["shadow", "no-control-change", "unmerged"],
)
def test_hardening_complete_needs_controls_active(
    facts: ItemFacts, text: str, command: str
) -> None:
    result = gates.incident_hardening_complete([facts])
    hits = [m for m in result.missing if m.what.startswith("the control of #14 active")]
    assert len(hits) == 1 and text in hits[0].what and command in hits[0].command


def test_hardening_complete_needs_owner_adoption() -> None:
    result = gates.incident_hardening_complete([done(acknowledged_by=("bob",))])
    assert only(result) == Missing(
        "owner adoption confirmed on #14 (@alice has not acknowledged)", "/harden ack"
    )


@pytest.mark.parametrize("priority", ["P0", "P1", None])
@pytest.mark.parametrize("status", ["open", "in_progress"])
def test_hardening_complete_blocks_on_unresolved_high_risk(
    priority: str | None, status: str
) -> None:
    result = gates.incident_hardening_complete([done(), done(15, status=status, priority=priority)])
    missing = only(result)
    assert missing.what == (
        f"high-risk follow-up #15 ({priority or 'no priority band'}) resolved: it is `{status}`"
    )
    assert missing.command == "/harden verify"


def test_hardening_complete_needs_residual_low_risk_items_owned_and_dated() -> None:
    residual = done(15, status="open", priority="P2", due=None)
    assert only(gates.incident_hardening_complete([residual])) == Missing(
        "a due date for residual follow-up #15 (P2)", "/harden due YYYY-MM-DD"
    )
    unowned = done(15, status="open", priority="P3", owner=None, acknowledged_by=())
    result = gates.incident_hardening_complete([unowned])
    assert (
        Missing("an execution owner for residual follow-up #15 (P3)", "/harden owner @user")
        in result.missing
    )


def test_hardening_complete_skips_retired_items_entirely() -> None:
    dead = done(
        15,
        status="retired",
        retired_rationale="r",
        pulls=(),
        evidence=(),
        acknowledged_by=(),
        control_mode="shadow",
        priority="P0",
    )
    assert gates.incident_hardening_complete([done(), dead]).passed


def test_missing_markdown_backticks_only_commands() -> None:
    assert Missing("a due date", "/harden due YYYY-MM-DD").markdown() == (
        "a due date: `/harden due YYYY-MM-DD`"
    )
    assert Missing("x", "merge PR #3").markdown() == "x: merge PR #3"


# --- closes held ------------------------------------------------------------------------------

BOT = "hardening-bot[bot]"


def _event(kind: str, login: str, type_: str = "User") -> dict[str, Any]:
    return {"event": kind, "actor": {"login": login, "type": type_}}


def test_count_held_reads_closes_and_the_bots_reopens() -> None:
    dave_closes = _event("closed", "dave")
    bot_reopens = _event("reopened", BOT, "Bot")
    assert count_held([], BOT) == 0
    assert count_held([dave_closes], BOT) == 1
    assert count_held([dave_closes, bot_reopens, dave_closes], BOT) == 2
    assert count_held([dave_closes, bot_reopens] * 3 + [dave_closes], BOT) == 4
    # A person's own reopen, and the bot's own close, are not held closes.
    assert count_held([dave_closes, _event("reopened", "dave"), dave_closes], BOT) == 1
    assert count_held([_event("closed", BOT, "Bot"), _event("reopened", "dave")], BOT) == 0
    assert count_held([_event("labeled", "dave"), dave_closes, _event("commented", "x")], BOT) == 1
