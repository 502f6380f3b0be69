"""rules.review: the weekly review and the monthly audit, one table row per flag.

Every case starts from an item with nothing to flag and changes one thing, so each flag is seen
to flip on exactly the condition that should flip it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from test_scores import PERFECT_ITEM, ev, perfect

from rules import review as rv
from rules.model import ItemFacts

TODAY = date(2026, 11, 30)  # a Monday, ISO week 2026-W49
SCREENSHOT = "https://example.com/shot.png"

# In progress, owned, due and adoption check ahead, a proof link, full adoption: nothing to flag.
CLEAN = {"due": date(2026, 12, 10), "adoption_check": date(2026, 12, 20)}
VERIFIED = {**CLEAN, "status": "verified", "verified_by": "bob"}
PAST = {"due": date(2026, 11, 20), "adoption_check": date(2026, 11, 25)}
# Adoption 1/5: only the runbook row.
LOW_ADOPTION = {
    "acknowledged_by": (),
    "evidence": (ev("implementation"), ev("runbook", "https://github.com/o/r/commit/abc")),
    "pulls": (),
}


def item(**changes: object) -> ItemFacts:
    return perfect(**{**CLEAN, **changes})


def kinds(review: rv.Review | rv.Audit) -> list[str]:
    if not review.items:
        return []
    (entry,) = review.items
    return list(entry.kinds)


def flag(review: rv.Review | rv.Audit, kind: str) -> rv.Flag:
    (entry,) = review.items
    (found,) = [f for f in entry.flags if f.kind == kind]
    return found


def weekly(facts: ItemFacts, **options: object) -> rv.Review:
    return rv.weekly_review([facts], TODAY, **options)  # type: ignore[arg-type]


# --- weekly review ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, [], id="clean"),
        pytest.param({"due": date(2026, 11, 29)}, ["overdue"], id="due yesterday"),
        pytest.param({"due": TODAY}, [], id="due today is not overdue"),
        pytest.param({"due": None}, [], id="no due date is not overdue"),
        pytest.param({"due": date(2026, 11, 1), "status": "open"}, ["overdue"], id="open"),
        pytest.param({**VERIFIED, "due": date(2026, 11, 1)}, [], id="verified is never overdue"),
        pytest.param({"evidence": ()}, ["weak-evidence"], id="no evidence"),
        pytest.param(
            {"evidence": (ev(None, SCREENSHOT),)}, ["weak-evidence"], id="screenshot only"
        ),
        pytest.param({"evidence": (ev(None),)}, [], id="one bare proof link is enough"),
        pytest.param({"owner": None}, ["unowned"], id="no execution owner"),
        pytest.param({"verifier": None}, ["unowned"], id="no verifier owner"),
        pytest.param({"verifier": "@Alice"}, ["unowned"], id="owner is verifier"),
        pytest.param(
            {"adoption_check": date(2026, 11, 29), **LOW_ADOPTION},
            ["adoption"],
            id="adoption check passed, adoption low",
        ),
        pytest.param(
            {"adoption_check": TODAY, **LOW_ADOPTION}, [], id="adoption check today has not passed"
        ),
        pytest.param(
            {"adoption_check": date(2026, 11, 29)},
            [],
            id="adoption check passed, adoption complete",
        ),
        pytest.param(
            {**VERIFIED, "adoption_check": date(2026, 11, 29), **LOW_ADOPTION},
            ["adoption"],
            id="verified item still owes adoption",
        ),
        pytest.param(
            {
                **PAST,
                **LOW_ADOPTION,
                "status": "retired",
                "owner": None,
                "retired_rationale": "duplicate",
            },
            [],
            id="retired is never reviewed",
        ),
        pytest.param(
            {**VERIFIED, "owner": None, "evidence": ()},
            [],
            id="verified items are not reviewed for evidence or owners",
        ),
        pytest.param(
            {**PAST, **LOW_ADOPTION, "evidence": (), "verifier": None},
            ["overdue", "weak-evidence", "unowned", "adoption"],
            id="everything",
        ),
    ],
)
def test_weekly_flags(changes: dict[str, object], expected: list[str]) -> None:
    assert kinds(weekly(item(**changes))) == expected


def test_overdue_names_the_due_date_and_the_fix() -> None:
    found = flag(weekly(item(due=date(2026, 11, 23))), "overdue")
    assert "due 2026-11-23, still `in_progress`" in found.summary
    assert "`/harden due YYYY-MM-DD`" in found.fix and "`/harden verify`" in found.fix


def test_weak_evidence_quotes_the_rubric_row() -> None:
    found = flag(weekly(item(evidence=(ev(None, SCREENSHOT),))), "weak-evidence")
    assert "rubric Evidence 1/2" in found.summary and SCREENSHOT in found.summary
    assert "`/harden evidence URL implementation`" in found.fix


@pytest.mark.parametrize(
    ("changes", "command"),
    [
        ({"owner": None}, "`/harden owner @user`"),
        ({"verifier": None}, "`/harden verifier @user`"),
        ({"verifier": "alice"}, "`/harden verifier @user`"),
    ],
)
def test_unowned_names_the_command(changes: dict[str, object], command: str) -> None:
    assert flag(weekly(item(**changes)), "unowned").fix == command


def test_adoption_lists_each_unmet_row_with_its_next_step() -> None:
    found = flag(weekly(item(adoption_check=date(2026, 11, 29), **LOW_ADOPTION)), "adoption")
    assert "Adoption 1/5 is below 4" in found.summary
    assert any(
        d.startswith("owners trained and acknowledged: @alice runs `/harden ack`")
        for d in found.details
    )


def test_adoption_threshold_comes_from_config() -> None:
    facts = item(adoption_check=date(2026, 11, 29), **LOW_ADOPTION)
    assert kinds(weekly(facts, adoption_threshold=1)) == []


@pytest.mark.parametrize(
    ("changes", "kind", "notify"),
    [
        ({"due": date(2026, 11, 1)}, "overdue", ("alice",)),
        ({"due": date(2026, 11, 1), "owner": None}, "overdue", ("bob",)),
        ({"evidence": ()}, "weak-evidence", ("alice",)),
        (
            {"evidence": (), "owner": None, "verifier": None},
            "weak-evidence",
            ("carol", "acme/leads"),
        ),
        ({"verifier": None}, "unowned", ("alice", "carol", "acme/leads")),
        ({"verifier": "ALICE"}, "unowned", ("alice", "carol", "acme/leads")),
    ],
)
def test_who_is_mentioned(changes: dict[str, object], kind: str, notify: tuple[str, ...]) -> None:
    review = weekly(item(**changes), leads=["carol", "acme/leads"])
    assert flag(review, kind).notify == notify


def test_only_flagged_items_are_listed_in_number_order() -> None:
    items = [
        replace(item(evidence=()), number=9),
        replace(item(), number=3),
        replace(item(owner=None), number=5),
    ]
    review = rv.weekly_review(items, TODAY)
    assert [entry.number for entry in review.items] == [5, 9]


def test_periods_and_markers() -> None:
    assert rv.week_key(date(2026, 11, 27)) == "2026-W48"
    assert rv.week_key(date(2027, 1, 1)) == "2026-W53"  # ISO year, not calendar year
    assert rv.month_key(date(2026, 3, 9)) == "2026-03"
    assert rv.weekly_marker("2026-W48") == "<!-- hardening-bot:weekly-review 2026-W48 -->"
    assert rv.monthly_marker("2026-12") == "<!-- hardening-bot:monthly-audit 2026-12 -->"
    assert weekly(item()).week == "2026-W49"


def test_weekly_comment() -> None:
    review = weekly(item(due=date(2026, 11, 20), verifier=None), leads=["carol"])
    text = rv.render_weekly_comment(review, review.items[0])
    assert text.splitlines()[0] == "<!-- hardening-bot:weekly-review 2026-W49 -->"
    assert "@alice @carol: this item came up" in text
    assert "- **Overdue**: due 2026-11-20, still `in_progress`. Fix:" in text
    assert (
        "- **Blocked: ownership**: missing a verifier owner. Fix: `/harden verifier @user`." in text
    )


def test_weekly_comment_is_the_same_all_week() -> None:
    facts = item(due=date(2026, 11, 20))
    monday = weekly(facts)
    sunday = rv.weekly_review([facts], date(2026, 12, 6))
    assert monday.week == sunday.week
    assert rv.render_weekly_comment(monday, monday.items[0]) == rv.render_weekly_comment(
        sunday, sunday.items[0]
    )


def test_a_comment_nobody_can_be_mentioned_on_says_so() -> None:
    review = weekly(item(owner=None, verifier=None))
    assert "Nobody on this item can be mentioned" in rv.render_weekly_comment(
        review, review.items[0]
    )


# --- monthly audit ---------------------------------------------------------------------------

ALL_PRESENT = {"alice": "write", "bob": "maintain"}
REQUIRED = ("ci/test", "hardening/controls")
MODES = {"regression-test": "warn", "control-change": "warn"}


def audit(facts: ItemFacts, **options: object) -> rv.Audit:
    args: dict[str, object] = {
        "collaborators": ALL_PRESENT,
        "required_checks": REQUIRED,
        "modes": MODES,
        "today": TODAY,
        "leads": ["carol"],
        "branch": "main",
        **options,
    }
    return rv.monthly_audit([facts], **args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "options", "expected"),
    [
        pytest.param(VERIFIED, {}, [], id="clean"),
        pytest.param(
            VERIFIED,
            {"collaborators": {"alice": None, "bob": "read"}},
            ["departed-owner"],
            id="owner left",
        ),
        pytest.param(
            VERIFIED,
            {"collaborators": {"alice": "admin", "bob": None}},
            ["departed-owner"],
            id="verifier left",
        ),
        pytest.param(
            VERIFIED,
            {"collaborators": {"Alice": None, "bob": None}},
            ["departed-owner", "departed-owner"],
            id="both left",
        ),
        pytest.param(VERIFIED, {"collaborators": {}}, [], id="unknown logins are not judged"),
        pytest.param(
            {**CLEAN, "status": "open"},
            {"collaborators": {"alice": None}},
            ["departed-owner"],
            id="open items are checked for owners too",
        ),
        pytest.param(
            {**VERIFIED, "status": "retired", "retired_rationale": "gone"},
            {"collaborators": {"alice": None}, "required_checks": ()},
            [],
            id="retired items are not audited",
        ),
        pytest.param(
            VERIFIED,
            {"modes": {"regression-test": "warn", "control-change": "shadow"}},
            ["control-not-running"],
            id="a control in shadow mode",
        ),
        pytest.param(
            {**VERIFIED, "control_mode": "shadow"},
            {},
            ["control-not-running"],
            id="the item's control in shadow mode",
        ),
        pytest.param(
            VERIFIED,
            {"required_checks": ("ci/test",)},
            ["control-not-running"],
            id="check not required",
        ),
        pytest.param(
            VERIFIED,
            {"required_checks": (), "branch_protected": False},
            ["control-not-running"],
            id="branch not protected",
        ),
        pytest.param(
            VERIFIED,
            {"required_checks": None},
            [],
            id="unreadable protection is a note, not a flag",
        ),
        pytest.param(
            {**CLEAN},
            {"required_checks": (), "modes": {"x": "shadow"}},
            [],
            id="controls of unverified items are not audited",
        ),
        pytest.param(
            {**VERIFIED, "adoption_check": date(2026, 11, 29), **LOW_ADOPTION},
            {},
            ["retire-candidate"],
            id="adoption stayed low",
        ),
        pytest.param(
            {**VERIFIED, "adoption_check": TODAY, **LOW_ADOPTION},
            {},
            [],
            id="adoption check not passed yet",
        ),
        pytest.param(
            {**VERIFIED, "adoption_check": date(2026, 11, 29)}, {}, [], id="adoption complete"
        ),
        pytest.param(
            {**CLEAN, "adoption_check": date(2026, 11, 29), **LOW_ADOPTION},
            {},
            [],
            id="only verified controls are retire candidates",
        ),
    ],
)
def test_audit_flags(
    changes: dict[str, object], options: dict[str, object], expected: list[str]
) -> None:
    assert kinds(audit(item(**changes), **options)) == expected


def test_a_departed_owner_is_reassigned_and_not_mentioned() -> None:
    result = audit(item(**VERIFIED), collaborators={"alice": None, "bob": "write"})
    found = flag(result, "departed-owner")
    assert "execution owner `alice` is no longer a collaborator" in found.summary
    assert found.fix == "reassign: `/harden owner @user`"
    assert found.notify == ("bob", "carol")
    verifier = flag(audit(item(**VERIFIED), collaborators={"bob": None}), "departed-owner")
    assert verifier.fix == "reassign: `/harden verifier @user`"


@pytest.mark.parametrize(
    ("options", "text"),
    [
        (
            {"modes": {"regression-test": "shadow", "control-change": "shadow"}},
            "`regression-test` and `control-change` run in shadow mode",
        ),
        (
            {"required_checks": ("ci/test",)},
            "`hardening/controls` is not a required status check on `main`",
        ),
        (
            {"required_checks": (), "branch_protected": False},
            "`main` requires no status checks, so `hardening/controls` is not required",
        ),
    ],
)
def test_why_a_control_is_not_running(options: dict[str, object], text: str) -> None:
    found = flag(audit(item(**VERIFIED), **options), "control-not-running")
    assert text in found.summary
    assert found.notify == ("alice", "bob", "carol")


def test_unreadable_branch_protection_is_noted_under_other_findings() -> None:
    result = audit(item(**VERIFIED), required_checks=None, collaborators={"alice": None})
    assert result.notes == (
        "Could not read branch protection; grant administration: read to audit required checks.",
    )
    text = rv.render_monthly_comment(result, result.items[0])
    assert "> Could not read branch protection; grant administration: read" in text


def test_retire_candidate_suggests_the_sunset_protocol_or_reverification() -> None:
    result = audit(item(**{**VERIFIED, "adoption_check": date(2026, 11, 1), **LOW_ADOPTION}))
    found = flag(result, "retire-candidate")
    assert "past its check date 2026-11-01 (Adoption 1/5)" in found.summary
    assert "`/harden retire RATIONALE`" in found.fix and "`/harden verify`" in found.fix


def test_a_departed_owner_is_not_mentioned_in_the_rows_either() -> None:
    facts = item(**{**VERIFIED, "adoption_check": date(2026, 11, 1), **LOW_ADOPTION})
    result = audit(facts, collaborators={"alice": None, "bob": "write"})
    text = rv.render_monthly_comment(result, result.items[0])
    assert "owners trained and acknowledged: `alice` runs `/harden ack`" in text
    assert "@alice" not in text


def test_monthly_comment() -> None:
    result = audit(item(**VERIFIED), collaborators={"alice": None})
    text = rv.render_monthly_comment(result, result.items[0])
    assert text.splitlines()[0] == "<!-- hardening-bot:monthly-audit 2026-11 -->"
    assert "@bob @carol: this month's control audit" in text
    assert "@alice" not in text
    assert "- **Owner no longer valid**:" in text


def test_the_perfect_item_is_the_base() -> None:
    # Guards the tables above: the base item really has nothing to flag.
    assert PERFECT_ITEM.owner == "alice" and PERFECT_ITEM.verifier == "bob"
    assert rv.weekly_review([item()], TODAY).items == ()
    assert audit(item(**VERIFIED)).items == ()


# --- the loop over time: debt, experiments, residual risk, recurrence, overrides --------------


def test_deferred_item_is_debt_to_revisit_after_its_date_not_overdue_before() -> None:
    from rules.model import Deferral

    before = item(due=date(2026, 11, 1), deferral=Deferral(date(2026, 12, 5), "vendor", "outage"))
    assert kinds(weekly(before)) == []
    after = item(due=date(2026, 11, 1), deferral=Deferral(date(2026, 11, 29), "vendor", "outage"))
    assert kinds(weekly(after)) == ["overdue", "debt-revisit"]
    assert "/harden defer" in flag(weekly(after), "debt-revisit").fix


def test_experiment_past_its_review_date_is_flagged() -> None:
    assert kinds(weekly(item(review_date=TODAY))) == []
    review = weekly(item(review_date=date(2026, 11, 29), hypothesis="gate cuts MTTR @team"))
    assert kinds(review) == ["review-date"]
    assert "@team" not in flag(review, "review-date").summary


def test_residual_risk_past_target_is_flagged_on_its_issue() -> None:
    from rules.risk import ResidualRisk, RiskEntry

    risk = ResidualRisk("vendor drops alerts", "", "", "alert lost", "dave", date(2026, 11, 29))
    entries = [RiskEntry(3, risk, 77, 77, "carol", date(2026, 11, 1))]
    review = rv.weekly_review([item()], TODAY, risks=entries)
    (entry,) = review.items
    assert entry.number == 77 and entry.kinds == ("risk-past-target",)
    assert "/harden risk resolve 3" in entry.flags[0].fix and entry.notify == ("dave",)


def test_monthly_audit_counts_recurrences_and_overrides() -> None:
    audit = rv.monthly_audit(
        [item(**VERIFIED)],
        collaborators={},
        required_checks=("hardening/controls",),
        modes={"regression-test": "enforce", "control-change": "enforce"},
        today=TODAY,
        recurrences={14: 2},
        overrides=("#9 by lena: hotfix",),
    )
    assert "recurred" in kinds(audit)
    assert "2 time(s)" in flag(audit, "recurred").summary
    assert audit.notes == (
        "1 break-glass override(s) of `hardening/controls` on record: #9 by lena: hotfix",
    )
