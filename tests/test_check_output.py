"""rules.check_output: what the two pull request check runs say, from plain verdicts and scores."""

from __future__ import annotations

from datetime import date

import pytest

from rules.check_output import (
    CONTROLS_CHECK,
    MAX_OUTPUT_CHARS,
    RECHECK,
    SCORECARD_CHECK,
    CheckOutput,
    ConfigProposal,
    ControlsInput,
    ItemScores,
    Judged,
    annotation_batches,
    config_error_output,
    controls_output,
    out_of_scope_output,
    requirement_conclusion,
    scorecard_output,
    shadow_failures,
    superseded_output,
    worst,
)
from rules.config import ConfigError, Mode
from rules.diff import evaluate_pull
from rules.model import Evidence, HardeningItem, ItemFacts, PullFacts
from rules.scores import adoption, rubric, scorecard

SOURCE = {
    "filename": "src/queue.py",
    "status": "modified",
    "additions": 1,
    "patch": "@@ -1,1 +1,2 @@\n x = 1\n+y = 2",
}
NEW_TEST = {
    "filename": "tests/test_queue.py",
    "status": "added",
    "additions": 2,
    "patch": "@@ -0,0 +1,2 @@\n+def test_alert_fires_on_lag():\n+    assert True",
}
ALERT = {
    "filename": "alerts/queue.yml",
    "status": "added",
    "additions": 1,
    "patch": "@@ -0,0 +1 @@\n+alert: QueueLag",
}
EDITED_TEST = {
    "filename": "tests/test_queue.py",
    "status": "modified",
    "additions": 1,
    "deletions": 1,
    "patch": "@@ -1,3 +1,3 @@\n def test_existing():\n-    assert lag < 10\n+    assert lag < 5\n",
}


def judged(*files: dict, failure_class: str = "missed-detection", **kw) -> Judged:
    verdict = evaluate_pull(
        list(files),
        test_paths=["tests/**"],
        control_paths=["alerts/**", "monitoring/**"],
        failure_class=failure_class,
        **kw,
    )
    return Judged(failure_class, verdict, ("label `failure-class:missed-detection`",))


def both(mode: Mode) -> dict[str, Mode]:
    return {"regression-test": mode, "control-change": mode}


def test_conclusion_by_mode() -> None:
    assert requirement_conclusion(True, "enforce") == "success"
    assert requirement_conclusion(True, "warn") == "success"
    assert requirement_conclusion(False, "warn") == "neutral"
    assert requirement_conclusion(False, "enforce") == "failure"
    assert requirement_conclusion(False, "shadow") is None
    assert requirement_conclusion(True, "shadow") is None
    assert worst(["success", "failure", "neutral"]) == "failure"
    assert worst(["success", "neutral"]) == "neutral"
    assert worst([]) is None


def test_enforce_source_only_fails_naming_test_and_control() -> None:
    out = controls_output(
        ControlsInput(
            (judged(SOURCE),), both("enforce"), owner="alice", owner_role="execution owner of #12"
        )
    )
    assert out is not None
    assert out.name == CONTROLS_CHECK
    assert out.conclusion == "failure"
    assert out.title.startswith("Missing regression test and control change")
    assert "def test_alert_fires_on_queue_lag():" in out.summary  # an example test name
    assert "`alerts/**`" in out.summary and "`monitoring/**`" in out.summary
    assert "| Regression test | enforce | ❌ missing |" in out.summary
    assert "@alice (execution owner of #12)" in out.summary
    assert out.actions and out.actions[0]["identifier"] == RECHECK


def test_met_requirements_succeed_with_proof_and_annotations() -> None:
    out = controls_output(ControlsInput((judged(SOURCE, NEW_TEST, ALERT),), both("enforce")))
    assert out is not None and out.conclusion == "success"
    assert "`test_alert_fires_on_lag` in tests/test_queue.py:1" in out.summary
    assert "alerts/queue.yml:1" in out.summary
    assert {a["path"] for a in out.annotations} == {"tests/test_queue.py", "alerts/queue.yml"}
    assert all(a["annotation_level"] == "notice" for a in out.annotations)


def test_warn_is_neutral_and_names_the_owner() -> None:
    out = controls_output(
        ControlsInput(
            (judged(SOURCE, ALERT),),
            both("warn"),
            owner="bob",
            owner_role="author of this pull request",
        )
    )
    assert out is not None and out.conclusion == "neutral"
    assert "(owner @bob)" in out.title
    assert "**Owner:** @bob (author of this pull request)." in out.summary
    assert "| Control change | warn | ✅ met |" in out.summary


def test_edited_test_is_annotated_at_the_mode_level() -> None:
    data = judged(EDITED_TEST, ALERT)
    enforce = controls_output(ControlsInput((data,), both("enforce")))
    warn = controls_output(ControlsInput((data,), both("warn")))
    assert enforce is not None and warn is not None
    edited = [a for a in enforce.annotations if a["path"] == "tests/test_queue.py"]
    assert edited and edited[0]["annotation_level"] == "failure"
    edited = [a for a in warn.annotations if a["path"] == "tests/test_queue.py"]
    assert edited and edited[0]["annotation_level"] == "warning"
    assert "`test_existing` in tests/test_queue.py:2" in enforce.summary


def test_shadow_posts_nothing_but_reports_the_failing_class() -> None:
    data = ControlsInput((judged(SOURCE),), both("shadow"))
    assert controls_output(data) is None
    assert shadow_failures(data) == ("missed-detection",)
    assert shadow_failures(ControlsInput((judged(NEW_TEST, ALERT),), both("shadow"))) == ()


def test_mixed_modes_combine_to_the_worst_posted() -> None:
    # Test missing in shadow (not posted), control met in enforce: success.
    modes: dict[str, Mode] = {"regression-test": "shadow", "control-change": "enforce"}
    out = controls_output(ControlsInput((judged(SOURCE, ALERT),), modes))
    assert out is not None and out.conclusion == "success"
    assert "not reported (shadow mode)" in out.summary
    assert "test_alert_fires_on_queue_lag" not in out.summary
    # Test missing in warn, control missing in enforce: failure.
    modes = {"regression-test": "warn", "control-change": "enforce"}
    out = controls_output(ControlsInput((judged(SOURCE),), modes))
    assert out is not None and out.conclusion == "failure"
    # Test missing in enforce, control met in warn: failure; test missing warn only: neutral.
    modes = {"regression-test": "warn", "control-change": "enforce"}
    out = controls_output(ControlsInput((judged(SOURCE, ALERT),), modes))
    assert out is not None and out.conclusion == "neutral"


def test_shadow_control_drops_its_annotations() -> None:
    modes: dict[str, Mode] = {"regression-test": "enforce", "control-change": "shadow"}
    out = controls_output(ControlsInput((judged(SOURCE, NEW_TEST, ALERT),), modes))
    assert out is not None
    assert [a["path"] for a in out.annotations] == ["tests/test_queue.py"]


def test_two_classes_need_a_control_each() -> None:
    other = Judged(
        "slow-recovery",
        evaluate_pull(
            [SOURCE, NEW_TEST, ALERT],
            test_paths=["tests/**"],
            control_paths=["rollback/**"],
            failure_class="slow-recovery",
        ),
        ("`Hardens #7`",),
    )
    out = controls_output(ControlsInput((judged(SOURCE, NEW_TEST, ALERT), other), both("enforce")))
    assert out is not None and out.conclusion == "failure"
    assert "`rollback/**`" in out.summary
    assert "**slow-recovery** (`Hardens #7`)" in out.summary
    assert out.title.endswith("missed-detection, slow-recovery")


def test_truncated_and_patchless_files_are_said() -> None:
    files = [dict(SOURCE, filename=f"src/f{i}.py") for i in range(3000)]
    data = ControlsInput(
        (judged(*files),),
        both("enforce"),
        files_read=3000,
        files_without_patch=("tests/big_test.py",),
    )
    out = controls_output(data)
    assert out is not None
    assert "at most 3,000 files" in out.summary
    assert "GitHub sent no diff for 1 file(s)" in out.summary and "tests/big_test.py" in out.summary


def test_annotation_batches() -> None:
    annotations = [{"path": f"f{i}", "start_line": 1} for i in range(120)]
    batches = annotation_batches(annotations)
    assert [len(b) for b in batches] == [50, 50, 20]
    assert [a for b in batches for a in b] == annotations
    assert annotation_batches([]) == [()]


def test_fingerprints_ignore_nothing_visible() -> None:
    a = CheckOutput(CONTROLS_CHECK, "success", "t", "s")
    assert a.fingerprint() == CheckOutput(CONTROLS_CHECK, "success", "t", "s").fingerprint()
    assert a.fingerprint() != CheckOutput(CONTROLS_CHECK, "neutral", "t", "s").fingerprint()
    b = CheckOutput(CONTROLS_CHECK, "success", "t", "s2", annotations=({"path": "x"},))
    assert b.annotations_fingerprint() != a.annotations_fingerprint()
    assert CheckOutput(CONTROLS_CHECK, "failure", "x", "y").annotations_fingerprint() == (
        a.annotations_fingerprint()
    )


def test_config_error_names_file_and_line_and_annotates_repo_file() -> None:
    errors = (
        ConfigError(".github/hardening.yml", 3, "", "mapping values are not allowed here"),
        ConfigError("octo/.github/hardening.yml", 2, "mode", "must be shadow, warn or enforce"),
    )
    out = config_error_output(
        CONTROLS_CHECK, errors, repo_config_path=".github/hardening.yml", base_ref="main"
    )
    assert out.conclusion == "failure"
    assert out.title == "Invalid configuration: .github/hardening.yml line 3"
    assert ".github/hardening.yml line 3: mapping values" in out.summary
    assert "octo/.github/hardening.yml line 2 `mode`" in out.summary
    assert [(a["path"], a["start_line"]) for a in out.annotations] == [(".github/hardening.yml", 3)]


def test_proposed_config_errors_fail_even_in_shadow_and_diff_is_shown() -> None:
    bad = ConfigProposal(
        ".github/hardening.yml",
        errors=(ConfigError(".github/hardening.yml", 4, "mode", "bad mode"),),
    )
    out = controls_output(ControlsInput((judged(SOURCE),), both("shadow"), proposal=bad))
    assert out is not None and out.conclusion == "failure"
    assert out.title.startswith("Invalid .github/hardening.yml proposed")
    assert out.annotations[-1]["start_line"] == 4
    good = ConfigProposal(".github/hardening.yml", differences=("mode: warn → enforce",))
    out = controls_output(
        ControlsInput((judged(SOURCE, NEW_TEST, ALERT),), both("warn"), proposal=good)
    )
    assert out is not None and out.conclusion == "success"
    assert "- mode: warn → enforce" in out.summary
    assert "judged by the configuration on `main`" in out.summary


def test_out_of_scope_and_superseded_are_neutral() -> None:
    out = out_of_scope_output(SCORECARD_CHECK, failure_class_prefix="failure-class:")
    assert out.conclusion == "neutral" and out.title == "No longer in scope"
    assert "`failure-class:<slug>`" in out.summary
    assert superseded_output(CONTROLS_CHECK, "a" * 40).conclusion == "neutral"


def _item_scores(number: int, item: HardeningItem, pulls: tuple[PullFacts, ...] = ()) -> ItemScores:
    facts = ItemFacts(
        number=number, item=item, title="Queue lag alert", pulls=pulls, control_mode="enforce"
    )
    return ItemScores(
        number, "Queue lag alert", item.status, scorecard(facts), rubric(facts), adoption(facts)
    )


def test_scorecard_tables_have_every_row_with_signal_and_next_step() -> None:
    item = HardeningItem(
        failure_class="missed-detection",
        proposed_control="alert rule",
        owner="alice",
        verifier="bob",
        due=date(2026, 12, 1),
        status="open",
    )
    out = scorecard_output([_item_scores(12, item)])
    assert out.name == SCORECARD_CHECK and out.conclusion == "neutral"
    assert out.title.startswith("#12: Scorecard ")
    for label in ("Scorecard 1/5", "Rubric ", "Adoption 0/5"):
        assert label in out.summary
    assert "### Reliability scorecard: Scorecard 1/5 (threshold 4)" in out.summary
    table = out.summary.split("### Reliability scorecard")[1].split("###")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "/1 |" in line]
    assert len(rows) == 5
    assert "`/harden ack`" in out.summary  # a next step
    assert "### Quality rubric" in out.summary and "### Adoption score" in out.summary


def test_scorecard_success_when_every_item_meets_thresholds() -> None:
    evidence = (
        Evidence("https://ci.example/run/1", "rollback", "took 4m", 240),
        Evidence("https://dash.example/d/1", "monitoring", "p95 MTTR 42m -> 18m"),
        Evidence("https://docs.example/runbook", "runbook"),
        Evidence("https://drill.example/1", "behavioral", "drill"),
    )
    item = HardeningItem(
        failure_class="missed-detection",
        proposed_control="alert rule",
        owner="alice",
        verifier="bob",
        due=date(2026, 12, 1),
        priority="P1",
        evidence=evidence,
        acknowledged_by=("alice",),
        status="in_progress",
    )
    pull = PullFacts(5, "https://x/pull/5", True, True, True, touches_monitoring=True)
    out = scorecard_output([_item_scores(12, item, (pull,))])
    assert out.conclusion == "success", out.summary
    assert "Scorecard 5/5" in out.title


def test_scorecard_without_items_explains_how_to_link() -> None:
    out = scorecard_output([], not_items=(3,), failure_classes=("missed-detection",))
    assert out.conclusion == "neutral"
    assert "`Hardens #N`" in out.summary and "#3" in out.summary


@pytest.mark.parametrize("size", [10, MAX_OUTPUT_CHARS + 100])
def test_long_summaries_are_cut_to_githubs_limit(size: int) -> None:
    item = HardeningItem(failure_class="missed-detection", proposed_control="x" * size)
    out = scorecard_output([_item_scores(1, item)])
    assert len(out.summary) <= MAX_OUTPUT_CHARS


def test_control_proof_names_the_line_that_changes_the_control_not_its_comment() -> None:
    commented = {
        "filename": "alerts/queue.yml",
        "status": "modified",
        "additions": 2,
        "patch": "@@ -4,2 +4,4 @@ groups:\n   - alert: QueueStalled\n     for: 10m\n"
        "+  # lag, not only a stall\n+  - alert: QueueLagHigh",
    }
    readme = {
        "filename": "alerts/README.md",
        "status": "modified",
        "additions": 1,
        "patch": "@@ -1 +1,2 @@\n # Alerts\n+QueueLagHigh pages the platform team.",
    }
    out = controls_output(ControlsInput((judged(NEW_TEST, commented, readme),), both("enforce")))
    assert out is not None and out.conclusion == "success"
    assert "| Control change | enforce | ✅ met | alerts/queue.yml:7 |" in out.summary
    assert "Control alerts/README.md: documentation, not a control" in out.summary
    (proof,) = [a for a in out.annotations if a["title"] == "Control change"]
    assert (proof["path"], proof["start_line"], proof["end_line"]) == ("alerts/queue.yml", 7, 7)


HOSTILE_TEST = {
    "filename": "tests/alert.test.js",
    "status": "added",
    "additions": 1,
    "patch": "@@ -0,0 +1 @@\n+it('pings @acme/everyone <!-- x', () => {});",
}
HOSTILE_ALERT = {
    "filename": "alerts/a|b <!-- @acme/ops.yml",
    "status": "added",
    "additions": 1,
    "patch": "@@ -0,0 +1 @@\n+alert: x",
}


def test_copied_test_names_and_paths_are_inert_in_the_proof() -> None:
    out = controls_output(
        ControlsInput((judged(SOURCE, HOSTILE_TEST, HOSTILE_ALERT),), both("enforce"))
    )
    assert out is not None and out.conclusion == "success"
    assert "@acme" not in out.summary
    assert "<!--" not in out.summary
    rows = [line for line in out.summary.splitlines() if line.startswith("| ")]
    # Every row keeps its four cells: a copied "|" is escaped, not a column of its own.
    assert [row.replace("\\|", "").count("|") for row in rows] == [5] * len(rows)
    assert "a\\|b" in out.summary
    for annotation in out.annotations:
        assert "@acme" not in annotation["message"] + annotation["title"]


def test_copied_names_are_inert_in_what_would_satisfy_and_the_notes() -> None:
    removed = {
        "filename": "tests/test_b.py",
        "status": "removed",
        "deletions": 2,
        "patch": "@@ -1,2 +0,0 @@\n-def test_pings_at_acme_everyone():\n-    assert True",
    }
    hidden = {"filename": "tests/@acme/everyone <!-- x.py", "status": "modified", "additions": 1}
    renamed_alert = {
        "filename": "alerts/@acme/ops.yml",
        "previous_filename": "alerts/@acme/old <!-- x.yml",
        "status": "renamed",
    }
    data = ControlsInput(
        (judged(SOURCE, removed, hidden, renamed_alert),),
        both("enforce"),
        files_without_patch=("tests/@acme/everyone <!-- x.py",),
    )
    out = controls_output(data)
    assert out is not None and out.conclusion == "failure"
    assert "acme" in out.summary  # the paths are named ...
    assert "@acme" not in out.summary  # ... inert
    assert "<!--" not in out.summary


def test_a_proposed_configuration_is_quoted_inert() -> None:
    bad = ConfigProposal(
        ".github/hardening.yml",
        errors=(ConfigError(".github/hardening.yml", 4, "owners", "unknown team @acme/x <!--"),),
    )
    out = controls_output(ControlsInput((judged(SOURCE),), both("shadow"), proposal=bad))
    assert out is not None
    assert "unknown team @\u200bacme/x <\u200b!--" in out.summary
    assert "@acme" not in out.summary + out.annotations[-1]["message"]
    good = ConfigProposal(".github/hardening.yml", differences=("leads: @acme/everyone <!--",))
    out = controls_output(
        ControlsInput((judged(SOURCE, NEW_TEST, ALERT),), both("warn"), proposal=good)
    )
    assert out is not None
    assert "@acme" not in out.summary and "<!--" not in out.summary
