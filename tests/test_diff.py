"""rules.diff: PullFile, find_new_tests, find_control_changes, evaluate_pull.

The corpus (tests/test_diff_corpus.py) covers languages and whole pull requests; these tests pin
the API, the edges and the decisions one by one.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.config import default_config
from rules.diff import (
    MAX_ANNOTATIONS,
    Annotation,
    PullFile,
    evaluate_pull,
    example_test,
    find_control_changes,
    find_new_tests,
    language_for,
)
from rules.diff.controls import comment_style
from rules.globs import GlobSet

TESTS = ["tests/**", "**/*_test.go", "**/*.test.*"]
ALERTS = ["alerts/**", "monitoring/**"]


def entry(filename: str, patch: str | None = None, status: str = "modified", **extra: Any) -> dict:
    d: dict[str, Any] = {"filename": filename, "status": status, **extra}
    if patch is not None:
        d["patch"] = patch
        d.setdefault("additions", sum(1 for x in patch.split("\n") if x.startswith("+")))
        d.setdefault("deletions", sum(1 for x in patch.split("\n") if x.startswith("-")))
    return d


def added_file(filename: str, *lines: str) -> dict:
    body = "\n".join("+" + x for x in lines)
    return entry(filename, f"@@ -0,0 +1,{len(lines)} @@\n{body}", status="added")


# --- PullFile ----------------------------------------------------------------------------------


def test_pull_file_from_github_reads_a_diff_entry() -> None:
    f = PullFile.from_github(
        {
            "sha": "bbcd538c8e72b8c175046e27cc8f907076331401",
            "filename": "tests/test_a.py",
            "status": "renamed",
            "additions": 3,
            "deletions": 1,
            "changes": 4,
            "blob_url": "https://github.com/o/r/blob/x/tests/test_a.py",
            "patch": "@@ -1 +1,3 @@\n-a\n+b\n+c\n+d",
            "previous_filename": "tests/test_old.py",
        }
    )
    assert (f.filename, f.status, f.additions, f.deletions, f.changes) == (
        "tests/test_a.py",
        "renamed",
        3,
        1,
        4,
    )
    assert f.previous_filename == "tests/test_old.py"
    assert f.sha == "bbcd538c8e72b8c175046e27cc8f907076331401"
    assert f.has_patch and f.content_changed
    assert f.hunks is f.hunks  # parsed once


@pytest.mark.parametrize(
    "raw",
    [{}, {"filename": None, "status": 3, "additions": "x"}, {"patch": 12}, [], None, "x"],
)
def test_pull_file_from_github_tolerates_anything(raw: Any) -> None:
    f = PullFile.from_github(raw)
    assert f.filename == ""
    assert f.status == "modified"
    assert f.patch is None
    assert f.hunks == ()


def test_pull_file_defaults_and_coercions() -> None:
    f = PullFile.from_github({"filename": "a.py", "status": "ADDED", "additions": "7"})
    assert (f.status, f.additions, f.deletions, f.changes) == ("added", 7, 0, 7)
    odd = PullFile.from_github({"filename": "a.py", "additions": "²", "deletions": -4})
    assert (odd.additions, odd.deletions, odd.changes) == (0, 0, 0)
    pure_rename = PullFile.from_github(
        {"filename": "b.py", "status": "renamed", "previous_filename": "a.py", "changes": 0}
    )
    assert not pure_rename.content_changed
    assert PullFile.from_github({"filename": "c.py", "status": "removed"}).content_changed


def test_language_for() -> None:
    python, javascript, rust = (
        language_for(p) for p in ("tests/test_a.py", "web/a.spec.TSX", "src/lib.rs")
    )
    assert python is not None and python.name == "python"
    assert language_for("tests/conftest.py") is None
    assert javascript is not None and javascript.name == "javascript"
    assert language_for("Makefile") is None
    assert language_for(".eslintrc") is None
    assert rust is not None and rust.in_source


# --- find_new_tests ----------------------------------------------------------------------------


def test_new_test_is_found_with_file_line_and_name() -> None:
    verdict = find_new_tests(
        [
            added_file(
                "tests/test_q.py", "import q", "", "", "def test_lag_alert():", "    assert q"
            )
        ],
        TESTS,
    )
    assert verdict.outcome == "met" and verdict.satisfied
    (case,) = verdict.found
    assert (case.path, case.line, case.name, case.language) == (
        "tests/test_q.py",
        4,
        "test_lag_alert",
        "python",
    )
    assert case.describe() == "`test_lag_alert` in tests/test_q.py:4"
    assert verdict.test_files == ("tests/test_q.py",)
    assert verdict.test_paths == tuple(TESTS)


def test_accepts_pull_files_and_globsets() -> None:
    files = [PullFile.from_github(added_file("tests/a_test.go", "func TestA(t *testing.T) {}"))]
    assert find_new_tests(files, GlobSet.of(TESTS)).found[0].name == "TestA"
    assert find_new_tests(files, "tests/**").satisfied


def test_files_outside_test_paths_do_not_count() -> None:
    verdict = find_new_tests([added_file("app/checks.py", "def test_db():", "    pass")], TESTS)
    assert verdict.outcome == "missing"
    assert verdict.found == () and verdict.test_files == ()


def test_truncated_list_without_a_test_is_unknown() -> None:
    verdict = find_new_tests([added_file("app/x.py", "x = 1")], TESTS, truncated=True)
    assert verdict.outcome == "unknown"


def test_missing_patch_in_test_path_is_unreadable_not_a_pass() -> None:
    verdict = find_new_tests(
        [entry("tests/test_big.py", additions=9000, deletions=0, changes=9000)], TESTS
    )
    assert verdict.outcome == "unknown"
    assert [u.path for u in verdict.unreadable] == ["tests/test_big.py"]
    assert "binary, or too large" in verdict.unreadable[0].reason


def test_missing_patch_for_deleted_or_unknown_language_is_not_unreadable() -> None:
    verdict = find_new_tests(
        [
            entry("tests/test_old.py", status="removed", deletions=9000, changes=9000),
            entry("tests/data/blob.bin", status="added", additions=0, changes=0),
            entry("tests/data/dump.json", additions=5000, changes=5000),
        ],
        TESTS,
    )
    assert verdict.outcome == "missing" and verdict.unreadable == ()


def test_pure_rename_is_reported_as_renamed_file() -> None:
    verdict = find_new_tests(
        [
            entry(
                "tests/unit/test_a.py",
                status="renamed",
                previous_filename="tests/test_a.py",
                additions=0,
                deletions=0,
                changes=0,
            )
        ],
        TESTS,
    )
    assert verdict.outcome == "missing"
    assert verdict.renamed_files == (("tests/test_a.py", "tests/unit/test_a.py"),)


def test_pairing_prefers_the_same_file() -> None:
    """A test re-declared in its own file is an edit there, and the same name new in another
    file stays new."""
    same_file = entry(
        "tests/test_a.py", "@@ -1,2 +1,2 @@\n-def test_x():\n+def test_x(tmp_path):\n     pass"
    )
    other = added_file("tests/test_b.py", "def test_x():", "    pass")
    verdict = find_new_tests([other, same_file], TESTS)
    assert [(c.path, c.name) for c in verdict.found] == [("tests/test_b.py", "test_x")]
    assert [(e.path, e.name) for e in verdict.edited] == [("tests/test_a.py", "test_x")]


def test_pairing_follows_a_rename() -> None:
    removed = entry(
        "tests/test_a.py",
        "@@ -1,2 +0,0 @@\n-def test_x():\n-    pass",
        status="removed",
    )
    renamed = entry(
        "tests/test_b.py",
        "@@ -0,0 +1,2 @@\n+def test_x():\n+    pass",
        status="added",
    )
    verdict = find_new_tests([renamed, removed], TESTS)
    assert verdict.found == ()
    (moved,) = verdict.moved
    assert (moved.from_path, moved.path, moved.renamed) == (
        "tests/test_a.py",
        "tests/test_b.py",
        False,
    )
    assert "moved from tests/test_a.py:1 to tests/test_b.py:1" in moved.describe()


def test_subtests_of_a_new_test_are_not_listed_twice() -> None:
    verdict = find_new_tests(
        [
            added_file(
                "pkg/a_test.go",
                "func TestA(t *testing.T) {",
                '\tt.Run("one", func(t *testing.T) {})',
                "}",
            )
        ],
        TESTS,
    )
    assert [c.name for c in verdict.found] == ["TestA"]


def test_go_benchmark_subtests_and_unnamed_runs_do_not_count() -> None:
    patch = "\n".join(
        [
            "@@ -10,3 +10,5 @@ func BenchmarkParse(b *testing.B) {",
            " \tfor _, size := range sizes {",
            '+\t\tb.Run("small", func(b *testing.B) {})',
            "+\t\tt.Run(tc.name, func(t *testing.T) {})",
            " \t}",
            " }",
        ]
    )
    assert find_new_tests([entry("pkg/parse_test.go", patch)], TESTS).found == ()


def test_js_calls_that_are_not_declarations() -> None:
    verdict = find_new_tests(
        [
            added_file(
                "src/a.test.js",
                "const ok = /x/.test(input);",
                "cases.forEach((c) => it(c.name, () => expect(f(c.in)).toBe(c.out)));",
                "it(name, fn);",
                "describe('group', () => {});",
                "  it('real one', () => {});",
            )
        ],
        TESTS,
    )
    assert [c.name for c in verdict.found] == ["real one"]


def test_rust_fn_without_test_attribute_is_not_a_test() -> None:
    verdict = find_new_tests(
        [added_file("tests/helpers.rs", "fn test_fixture() -> u8 {", "    1", "}")], TESTS
    )
    assert verdict.found == ()


def test_rust_in_source_test_counts_outside_test_paths() -> None:
    verdict = find_new_tests(
        [
            added_file(
                "src/lib.rs", "#[cfg(test)]", "mod tests {", "    #[test]", "    fn adds() {}", "}"
            )
        ],
        TESTS,
    )
    assert [(c.path, c.line, c.name) for c in verdict.found] == [("src/lib.rs", 4, "adds")]


def test_deleted_test_is_reported_with_its_old_line() -> None:
    patch = "@@ -3,4 +3,1 @@\n x = 1\n-def test_gone():\n-    assert x\n-"
    verdict = find_new_tests([entry("tests/test_a.py", patch)], TESTS)
    assert [(r.name, r.line) for r in verdict.removed] == [("test_gone", 4)]


# --- find_control_changes ----------------------------------------------------------------------


def test_control_change_proof_is_the_first_changed_line() -> None:
    patch = "@@ -5,3 +5,4 @@ groups:\n a\n b\n+c\n d"
    verdict = find_control_changes([entry("alerts/x.yml", patch)], ALERTS)
    assert verdict.outcome == "met" and verdict.satisfied
    (change,) = verdict.changes
    assert (change.path, change.line, change.end_line, change.matched) == (
        "alerts/x.yml",
        7,
        7,
        ("alerts/**",),
    )
    assert change.describe() == "alerts/x.yml:7"


def test_deletion_only_hunk_is_placed_where_lines_were_removed() -> None:
    patch = "@@ -5,4 +5,3 @@\n a\n-b\n c\n d"
    (change,) = find_control_changes([entry("alerts/x.yml", patch)], ALERTS).changes
    assert change.line == 6


@pytest.mark.parametrize(
    ("files", "outcome", "changes", "removals", "ignored"),
    [
        ([entry("alerts/x.yml", status="removed", deletions=3)], "missing", 0, 1, 0),
        (
            [entry("docs/x.yml", status="renamed", previous_filename="alerts/x.yml")],
            "missing",
            0,
            1,
            0,
        ),
        (
            [entry("alerts/b.yml", status="renamed", previous_filename="alerts/a.yml", changes=0)],
            "missing",
            0,
            0,
            1,
        ),
        ([entry("alerts/x.yml", "@@ -1 +1,2 @@\n a\n+# note")], "missing", 0, 0, 1),
        ([entry("alerts/x.yml", "@@ -1 +1,2 @@\n a\n+b: 1")], "met", 1, 0, 0),
        ([entry("alerts/x.yml", additions=900, deletions=10, changes=910)], "met", 1, 0, 0),
        ([entry("alerts/x.yml", status="unchanged")], "missing", 0, 0, 0),
        ([entry("src/alerts.py", "@@ -1 +1,2 @@\n a\n+b")], "missing", 0, 0, 0),
        (
            [entry("alerts/new.md", "@@ -0,0 +1 @@\n+# Queue lag", status="added")],
            "missing",
            0,
            0,
            1,
        ),
    ],
)
def test_control_statuses(
    files: list[dict], outcome: str, changes: int, removals: int, ignored: int
) -> None:
    verdict = find_control_changes(files, ALERTS)
    assert verdict.outcome == outcome
    assert (len(verdict.changes), len(verdict.removals), len(verdict.ignored)) == (
        changes,
        removals,
        ignored,
    )


def test_documents_count_only_where_the_controls_are_documents() -> None:
    runbook = entry("alerts/new.md", "@@ -0,0 +1 @@\n+# Queue lag", status="added")
    assert find_control_changes([runbook], ALERTS, documents=True).outcome == "met"
    (ignored,) = find_control_changes([runbook], ALERTS).ignored
    assert ignored.reason == "documentation, not a control"


_SHIPPED = default_config().failure_classes


@pytest.mark.parametrize(
    ("failure_class", "path"),
    [
        ("missed-detection", "manifests/nodeExporter-prometheusRule.yaml"),
        ("missed-detection", "deploy/prometheus-rules/queue.yaml"),
        ("missed-detection", "catalog/monitors/rabbitmq.yaml"),
        ("missed-detection", "modules/monitors/main.tf"),
        ("missed-detection", "mixin/queue-alerts.libsonnet"),
        ("missed-detection", "rules/queue.rules"),
        ("late-decision", "ops/runbook/queue-lag.md"),
        ("late-decision", "terraform/pagerduty_services.tf"),
        ("slow-recovery", "charts/api/templates/deployment.yaml"),
        ("slow-recovery", "services/api/Chart.yaml"),
        ("slow-recovery", "overlays/prod/kustomization.yaml"),
        ("slow-recovery", "clusters/production/flux-system/gotk-sync.yaml"),
        ("repeated-regression", ".github/actions/setup/action.yml"),
        ("repeated-regression", "policies/terraform/restrict-public-buckets.sentinel"),
        ("repeated-regression", ".gitlab/ci/test.gitlab-ci.yml"),
    ],
)
def test_shipped_control_paths_know_the_common_conventions(failure_class: str, path: str) -> None:
    assert GlobSet.of(_SHIPPED[failure_class].control_paths).match(path)


@pytest.mark.parametrize(
    ("failure_class", "path"),
    [
        ("missed-detection", "src/components/charts/BarChart.tsx"),
        ("slow-recovery", "web/src/charts/line.ts"),
        ("late-decision", "docs/add-runbook-guide.txt"),
    ],
)
def test_shipped_control_paths_leave_look_alikes_alone(failure_class: str, path: str) -> None:
    assert not GlobSet.of(_SHIPPED[failure_class].control_paths).match(path)


def test_only_late_decision_controls_are_documents() -> None:
    assert {slug for slug, fc in _SHIPPED.items() if fc.documents_are_controls} == {"late-decision"}


@pytest.mark.parametrize(
    ("path", "style"),
    [
        ("alerts/x.yml", "hash"),
        ("policy/deny.rego", "hash"),
        ("CODEOWNERS", "hash"),
        ("monitoring/x.libsonnet", "both"),
        ("monitoring/x.tf", "both"),
        ("Jenkinsfile", "slash"),
        ("runbooks/x.md", "markup"),
        ("deploy/chart/templates/x.yaml", "template"),
        ("deploy/chart/templates/_helpers.tpl", "template"),
        ("monitoring/dashboard.json", None),
    ],
)
def test_comment_style_by_file_kind(path: str, style: str | None) -> None:
    assert comment_style(path) == style


@pytest.mark.parametrize(
    ("path", "patch", "reason"),
    [
        ("alerts/x.yml", "@@ -1 +1,2 @@\n a\n+  # note", "only comments or blank lines changed"),
        ("alerts/x.libsonnet", "@@ -1 +1,4 @@\n+/*\n+ a note\n+*/\n {", "only comments"),
        ("runbooks/x.md", "@@ -1 +1,4 @@\n+<!--\n+ a note\n+-->\n # X", "only comments"),
        ("alerts/x.yml", "@@ -1,2 +1,2 @@\n a:\n-  b: 1\n+    b: 1", "only whitespace"),
        ("alerts/x.tf", "@@ -1 +1 @@\n-a = 1\n+a   = 1", "only whitespace"),
        ("alerts/x.jsonnet", "@@ -1,2 +1,2 @@\n-  [a]\n-}\n+  [a,],\n+}", "only whitespace"),
        ("alerts/x.yml", "@@ -0,0 +1 @@\n+# soon", "only comments"),
        ("alerts/x.yml", None, "an empty file"),
    ],
)
def test_changes_that_leave_the_control_as_it_was(
    path: str, patch: str | None, reason: str
) -> None:
    status = "added" if (patch or "").startswith("@@ -0,0") or patch is None else "modified"
    files = [entry(path, patch, status=status)]
    verdict = find_control_changes(files, ["alerts/**", "runbooks/**"], documents=True)
    assert verdict.outcome == "missing"
    (ignored,) = verdict.ignored
    assert ignored.reason.startswith(reason)


@pytest.mark.parametrize(
    ("path", "patch", "line"),
    [
        ("alerts/x.yml", '@@ -1,2 +1,2 @@\n a:\n-  v: 1.20\n+  v: "1.20"', 2),
        ("alerts/x.libsonnet", "@@ -1,2 +1,4 @@\n+/* why */\n+local t = 5;\n a\n b", 2),
        ("alerts/x.libsonnet", "@@ -1 +1,2 @@\n a\n+x /* y */ + 1", 2),
        ("runbooks/x.md", "@@ -1 +1,3 @@\n # X\n+<!-- a -->\n+1. Page the lead.", 3),
        # Moving a line is a change: workflow steps and rule order mean something.
        ("alerts/x.yml", "@@ -1,3 +1,3 @@\n-a: 1\n b: 2\n+a: 1\n c: 3", 1),
        # A comma before a closing bracket counts in YAML (it is text there).
        ("alerts/x.yml", "@@ -1 +1 @@\n-v: [a]\n+v: [a,]", 1),
    ],
)
def test_changes_to_the_control_are_proved_at_their_first_real_line(
    path: str, patch: str, line: int
) -> None:
    verdict = find_control_changes(
        [entry(path, patch)], ["alerts/**", "runbooks/**"], documents=True
    )
    assert verdict.outcome == "met"
    assert [c.line for c in verdict.changes] == [line]


def test_control_without_paths_or_truncated() -> None:
    assert find_control_changes([entry("alerts/x.yml", "@@ -1 +1 @@\n-a\n+b")], []).outcome == (
        "missing"
    )
    assert find_control_changes([], ALERTS, truncated=True).outcome == "unknown"


# --- evaluate_pull -----------------------------------------------------------------------------


def _good_pull() -> list[dict]:
    return [
        added_file("tests/test_alerts.py", "def test_alert_fires_on_queue_lag():", "    pass"),
        entry("alerts/q.yml", "@@ -1 +1,2 @@\n groups:\n+  - name: q"),
    ]


def test_evaluate_pull_met() -> None:
    verdict = evaluate_pull(_good_pull(), test_paths=TESTS, control_paths=ALERTS)
    assert verdict.satisfied and verdict.missing == () and not verdict.truncated
    assert {(a.path, a.start_line, a.level) for a in verdict.annotations} == {
        ("tests/test_alerts.py", 1, "notice"),
        ("alerts/q.yml", 2, "notice"),
    }
    assert verdict.annotations[0].as_github() == {
        "path": "alerts/q.yml",
        "start_line": 2,
        "end_line": 2,
        "annotation_level": "notice",
        "title": "Control change",
        "message": "This change under `alerts/**` counts as the control for this failure class.",
    }


def test_evaluate_pull_missing_says_what_would_satisfy_it() -> None:
    patch = (
        "@@ -1,2 +1,2 @@ def test_existing():\n-    assert f() == 1\n+    assert f() == 2\n     x"
    )
    verdict = evaluate_pull(
        [entry("tests/test_x.py", patch)],
        test_paths=TESTS,
        control_paths=ALERTS,
        failure_class="missed-detection",
        problem_level="failure",
    )
    assert not verdict.satisfied
    test_sentence, control_sentence = verdict.missing
    assert "add a new test case, for example `def test_alert_fires_on_queue_lag():`" in (
        test_sentence
    )
    assert "`tests/**`" in test_sentence and "`test_existing`" in test_sentence
    assert "alert rule + routing update" in control_sentence
    assert "`alerts/**`, `monitoring/**`" in control_sentence
    (annotation,) = verdict.annotations
    assert (annotation.level, annotation.start_line, annotation.title) == (
        "failure",
        1,
        "Existing test edited, no new test case",
    )


def test_example_follows_the_language_of_the_pull_request() -> None:
    verdict = evaluate_pull(
        [entry("pkg/a_test.go", "@@ -1 +1 @@\n-// a\n+// b")],
        test_paths=TESTS,
        control_paths=ALERTS,
        failure_class="missed-detection",
    )
    assert "`func TestAlertFiresOnQueueLag(t *testing.T) {`" in verdict.missing[0]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("python", "def test_alert_fires_on_queue_lag():"),
        ("javascript", 'it("alert fires on queue lag", () => { … })'),
        ("java", "@Test void alertFiresOnQueueLag() {"),
        ("rust", "#[test] fn alert_fires_on_queue_lag() {"),
        ("csharp", "[Fact] public void AlertFiresOnQueueLag() {"),
        ("ruby", 'it "alert fires on queue lag" do'),
        ("cobol", "def test_alert_fires_on_queue_lag():"),
    ],
)
def test_example_test(language: str, expected: str) -> None:
    assert example_test(language, "missed-detection") == expected


def test_example_for_unknown_class() -> None:
    assert example_test("python") == "def test_reproduces_the_incident():"
    assert "SLA" in example_test("go", "late-decision")


def test_three_thousand_files_means_truncated() -> None:
    files = [entry(f"src/f{i}.py", "@@ -1 +1 @@\n-a\n+b") for i in range(3000)]
    verdict = evaluate_pull(files, test_paths=TESTS, control_paths=ALERTS)
    assert verdict.truncated
    assert verdict.test.outcome == "unknown" and verdict.control.outcome == "unknown"
    assert verdict.notes[0] == (
        "GitHub returned the maximum of 3,000 files; files beyond are not read."
    )


def test_no_configured_paths_are_named_as_the_fix() -> None:
    verdict = evaluate_pull(
        _good_pull(), test_paths=[], control_paths=[], failure_class="slow-recovery"
    )
    assert "set `test_paths` in .github/hardening.yml" in verdict.missing[0]
    assert "`failure_classes.slow-recovery.control_paths`" in verdict.missing[1]


def test_annotations_are_capped_with_a_note() -> None:
    lines = [f"def test_{i}():\n    pass" for i in range(MAX_ANNOTATIONS + 20)]
    verdict = evaluate_pull(
        [added_file("tests/test_many.py", *"\n".join(lines).split("\n"))],
        test_paths=TESTS,
        control_paths=ALERTS,
    )
    assert len(verdict.test.found) == MAX_ANNOTATIONS + 20
    assert len(verdict.annotations) == MAX_ANNOTATIONS
    assert verdict.notes[-1] == "20 more annotations are not shown."


def test_verdicts_are_frozen() -> None:
    verdict = evaluate_pull(_good_pull(), test_paths=TESTS, control_paths=ALERTS)
    with pytest.raises(AttributeError):
        verdict.test.outcome = "missing"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        verdict.annotations[0].level = "failure"  # type: ignore[misc]
    assert isinstance(verdict.annotations[0], Annotation)


_DIFF_ENTRY = st.fixed_dictionaries(
    {
        "filename": st.sampled_from(
            ["tests/test_a.py", "a_test.go", "src/x.rs", "tests/A.cs", "alerts/x.yml", "x.rb"]
        ),
        "status": st.sampled_from(["added", "removed", "modified", "renamed", "copied", "bogus"]),
    },
    optional={
        "patch": st.one_of(
            st.text(),
            st.lists(
                st.sampled_from(
                    [
                        "@@ -1,2 +1,3 @@",
                        "@@ -0,0 +1 @@ def test_a():",
                        "+def test_x():",
                        "-def test_x():",
                        "+    #[test]",
                        "+    fn a() {}",
                        "+  [Fact]",
                        "+  public void A() {}",
                        '+it("x", () => {})',
                        "+func TestX(t *testing.T) {",
                        '+\tt.Run("y", nil)',
                        " context",
                        "",
                        "\\ No newline at end of file",
                    ]
                )
            ).map("\n".join),
        ),
        "additions": st.one_of(st.integers(-5, 5000), st.text(max_size=3), st.none()),
        "changes": st.integers(0, 5000),
        "previous_filename": st.sampled_from(["tests/test_b.py", "alerts/y.yml"]),
    },
)


@given(st.lists(_DIFF_ENTRY, max_size=6), st.booleans())
def test_evaluate_pull_never_raises_and_every_proof_points_at_a_listed_file(
    files: list[dict], truncated: bool
) -> None:
    verdict = evaluate_pull(files, test_paths=TESTS, control_paths=ALERTS, truncated=truncated)
    listed = {f["filename"] for f in files}
    for annotation in verdict.annotations:
        assert annotation.path in listed
        assert 1 <= annotation.start_line <= annotation.end_line
        assert annotation.level in ("notice", "warning", "failure")
    for case in verdict.test.found:
        assert case.path in listed and case.line >= 1
    if verdict.test.satisfied:
        assert verdict.test.found
    else:
        assert verdict.missing


# Lines shaped to make a backtracking pattern quadratic: a declaration's first word, then a long
# run of what its pattern repeats (spaces, tabs, open parentheses, words, backslashes), and no
# ending. Every pattern in rules/diff must read them in linear time; a quadratic one would take
# a minute on these 30,000-character lines.
_HOSTILE_HEADS = (
    "should", "test", "it", "TEST_CASE", "SECTION(", "[<Fact>] let", "testCase", "#[test] fn",
    "/// ```", "public void", "func", "def", "fun", "@Test", "Scenario: x", "t.Run(", "it.each",
    "xit", "TEST(a,", "Deno.test(", "- alertname: x", '"a" {',
)  # fmt: skip
# The heads of the languages read by a few shapes each, for their own files.
_FEW_SHAPES_HEADS = (
    'it "',
    "it(",
    "test_that(",
    "@testset",
    "(deftest",
    "subtest",
    "ok(",
    'test "',
)
_HOSTILE_FILLS = (" ", "\t", "( ", "a.", "\\", "'", "@a ", "[<a>]", "#[a]", "<")
# Comment and string delimiters, each opening and closing a few characters on: the reading of
# comments and strings (over the whole hunk) must take these in linear time too.
_DELIMITER_FILLS = ("/*", "*/", '"', "`", '"""', "'''", "(*", "{-", "--[[", "#=", "=begin", "<<~A")


@pytest.mark.parametrize("path", ["spec/a_spec.rb", "tests/A.Tests/X.cs", "tests/x.cpp",
                                  "src/lib.rs", "tests/x.fs", "tests/x.feature", "test/x.js",
                                  "tests/promtool_test.yml", "tests/x.go", "tests/x.kt",
                                  "tests/test_x.py"])  # fmt: skip
def test_hostile_lines_are_read_in_linear_time(path: str) -> None:
    lines = [
        f"+{head}{fill * (30_000 // len(fill))}"
        for head in _HOSTILE_HEADS
        for fill in _HOSTILE_FILLS
    ] + [f"+x{fill * (30_000 // len(fill))}" for fill in _DELIMITER_FILLS]
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join(lines)
    verdict = find_new_tests([entry(path, status="added", patch=patch)], ["**"])
    assert verdict.outcome in ("met", "missing")


@pytest.mark.parametrize("path", ["tests/x.hs", "spec/x.lua", "t/x.t", "tests/x.jl", "src/x.zig",
                                  "tests/x.ml", "tests/x.clj", "tests/x.erl", "tests/x.R",
                                  "tests/x.nim", "spec/x_spec.cr"])  # fmt: skip
def test_hostile_lines_are_read_in_linear_time_in_every_language(path: str) -> None:
    lines = [
        f"+{head}{fill * (30_000 // len(fill))}"
        for head in _FEW_SHAPES_HEADS
        for fill in _HOSTILE_FILLS
    ] + [f"+x{fill * (30_000 // len(fill))}" for fill in _DELIMITER_FILLS]
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join(lines)
    verdict = find_new_tests([entry(path, status="added", patch=patch)], ["**"])
    assert verdict.outcome in ("met", "missing")


# --- comments and strings --------------------------------------------------------------------


def _hunk(filename: str, context: list[str], added: list[str], after: Any = ()) -> dict:
    lines = [" " + x for x in context] + ["+" + x for x in added] + [" " + x for x in after]
    old = len(context) + len(after)
    return entry(filename, f"@@ -10,{old} +10,{old + len(added)} @@\n" + "\n".join(lines))


_DEFAULT_TESTS = default_config().test_paths
_COMMENTED_OR_QUOTED: dict[str, tuple[Any, ...]] = {
    "js block comment": ("src/__tests__/a.test.js", [], ["/*", "it('fake', () => {});", "*/"]),
    "js comment on one line": ("test/a.test.js", [], ["/* it('fake', () => {}); */"]),
    "js template literal": ("test/a.test.js", [], ["const s = `", "it('fake', () => {});", "`;"]),
    "rust block comment in src": ("src/lib.rs", [], ["/*", "#[test]", "fn fake() {}", "*/"]),
    "rust nested comment": ("src/lib.rs", [], ["/* /* */", "#[test]", "fn fake() {}", "*/"]),
    "rust raw string": ("src/lib.rs", [], ['let s = r#"', "#[test]", "fn fake() {}", '"#;']),
    "java block comment": ("src/test/java/a/FooTest.java", [], ["/*", "@Test", "void fake() {}", "*/"]),
    "java marker in a comment": ("src/test/java/a/FooTest.java", [], ["/* @Test */", "void fake() {}"]),
    "java marker in a line comment": ("src/test/java/a/FooTest.java", [], ["// @Test", "void fake() {}"]),
    "csharp block comment": ("tests/Foo.Tests/BarTests.cs", [], ["/*", "[Fact]", "public void Fake() {}", "*/"]),
    "csharp verbatim string": ("tests/Foo.Tests/BarTests.cs", [], ['var s = @"', "[Fact]", "public void Fake() {}", '";']),
    "go block comment": ("pkg/a_test.go", [], ["/*", "func TestFake(t *testing.T) {}", "*/"]),
    "go raw string": ("pkg/a_test.go", [], ["var s = `", "func TestFake(t *testing.T) {}", "`"]),
    "python triple-quoted string": ("tests/test_a.py", [], ['DOC = """', "def test_fake():", "    pass", '"""']),
    "python pytester source": ("tests/test_a.py", [], ["    pytester.makepyfile('''", "        def test_inner():", "            pass", "    ''')"]),
    "ruby =begin": ("spec/a_spec.rb", [], ["=begin", "it 'fake' do", "end", "=end"]),
    "ruby heredoc": ("spec/a_spec.rb", [], ["  expect_offense(<<~RUBY)", "    def test_fake", "    end", "  RUBY"]),
    "kotlin raw string": ("src/test/kotlin/ATest.kt", [], ['val s = """', '    test("fake") {', '"""']),
    "swift block comment": ("Tests/ATests/ATests.swift", [], ["/*", "func testFake() {}", "*/"]),
    "cpp block comment": ("tests/a_test.cc", [], ["/*", "TEST(A, Fake) {}", "*/"]),
    "php block comment": ("tests/ATest.php", [], ["/*", "public function testFake() {}", "*/"]),
    "elixir heredoc": ("test/a_test.exs", [], ['@doc """', 'test "fake" do', '"""']),
    "dart block comment": ("test/a_test.dart", [], ["/*", "test('fake', () {});", "*/"]),
    "fsharp block comment": ("tests/A.Tests/Tests.fs", [], ["(*", "[<Fact>]", "let fake () = ()", "*)"]),
    # Opened in a context line of the hunk, closed below it.
    "opened in context": ("test/a.test.js", ["/* old notes"], ["it('fake', () => {});"], ["*/"]),
    # Opened above the hunk: the hunk shows only its end.
    "opened above the hunk": ("test/a.test.js", [" * old notes"], ["it('fake', () => {});"], [" */"]),
    "ruby opened above the hunk": ("spec/a_spec.rb", ["notes"], ["it 'fake' do", "end"], ["=end"]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_COMMENTED_OR_QUOTED))
def test_a_test_in_a_comment_or_a_string_is_not_new(case: str) -> None:
    filename, context, added, *after = _COMMENTED_OR_QUOTED[case]
    verdict = find_new_tests([_hunk(filename, context, added, *after)], _DEFAULT_TESTS)
    assert not verdict.satisfied, verdict.found


_REAL_AFTER_A_COMMENT_OR_STRING: dict[str, tuple[Any, ...]] = {
    "js after a closed block comment": ("test/a.test.js", [], ["/* it('old') */", "it('real', () => {});"]),
    "js after a template literal": ("test/a.test.js", [], ["const s = `", "x`;", "it('real', () => {});"]),
    "js regex holding */": ("test/a.test.js", [], ["expect(x).toMatch(/a.*/);", "it('real', () => {});"]),
    "js apostrophe in a regex": ("test/a.test.js", [], ["const re = /'/;", "it('real', () => {});"]),
    "python one-line docstring": ("tests/test_a.py", [], ['"""Tests."""', "def test_real():", "    pass"]),
    "python quotes in a comment": ("tests/test_a.py", [], ['# a """ here', "def test_real():", "    pass"]),
    "python string after string": ("tests/test_a.py", [], ["x = ''", "y = \"'''\"", "def test_real():", "    pass"]),
    "rust lifetimes and chars": ("src/lib.rs", [], ["fn f<'a>(x: &'a str) -> char { '\"' }", "#[test]", "fn real() {}"]),
    "rust closed raw string": ("src/lib.rs", [], ['const S: &str = r#"a "quoted" b"#;', "#[test]", "fn real() {}"]),
    "ruby heredoc closed": ("spec/a_spec.rb", [], ["  X = <<~TEXT", "    it 'inner'", "  TEXT", "  it 'real' do", "  end"]),
    "ruby shift is no heredoc": ("spec/a_spec.rb", [], ["  list << item", "  it 'real' do", "  end"]),
    "csharp verbatim path": ("tests/Foo.Tests/BarTests.cs", [], ['const string P = @"C:\\dir\\";', "[Fact]", "public void Real() {}"]),
    # The hunk starts inside a multi-line string opened above it, and shows its end.
    "swift test after an expected text": ("Tests/ATests/ATests.swift", ['      """)', "  }"], ["  func testReal() {", "  }"]),
    "python test after a docstring's end": ("tests/test_a.py", ["    tail of the text", '    """', ""], ["def test_real():", "    pass"]),
    "go comment closed on its line": ("pkg/a_test.go", [], ["/* note */", "func TestReal(t *testing.T) {}"]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_REAL_AFTER_A_COMMENT_OR_STRING))
def test_a_test_after_a_closed_comment_or_string_is_new(case: str) -> None:
    filename, context, added = _REAL_AFTER_A_COMMENT_OR_STRING[case]
    verdict = find_new_tests([_hunk(filename, context, added)], _DEFAULT_TESTS)
    assert verdict.satisfied, case


# --- Kotest styles and the languages read by a few shapes --------------------------------------

_MORE_SHAPES: dict[str, tuple[Any, ...]] = {
    "kotest StringSpec": ("src/test/kotlin/ParserSpec.kt", ["class ParserSpec : StringSpec({"], ['  "rejects empty" {', '    parse("") shouldBe null', "  }"]),
    "kotest StringSpec with config": ("src/test/kotlin/ParserSpec.kt", ["class ParserSpec : StringSpec({"], ['  "rejects empty".config(invocations = 3) {', "  }"]),
    "kotest BehaviorSpec": ("src/test/kotlin/ParserSpec.kt", ['    When("the input is empty") {'], ['        Then("it is rejected") {', "        }"]),
    "haskell hspec": ("test/Data/ParserSpec.hs", ['  describe "parse" $ do'], ['    it "rejects empty input" $ do', '      parse "" `shouldBe` Nothing']),
    "haskell tasty": ("tests/Main.hs", ['  [ testCase "a" $ a @?= 1'], ['  , testCase "b rejects empty" $ b @?= 2']),
    "lua busted": ("spec/parser_spec.lua", ['describe("parser", function()'], ['  it("rejects empty", function()', "  end)"]),
    "r testthat": ("tests/testthat/test-parse.R", [""], ['test_that("empty input is rejected", {', '  expect_null(parse(""))', "})"]),
    "zig test block in src": ("src/parser.zig", ["}"], ['test "parse rejects empty" {', "}"]),
    "julia testset": ("test/runtests.jl", ["using Test"], ['@testset "empty input" begin', '    @test parse("") === nothing', "end"]),
    "erlang eunit": ("test/parser_tests.erl", [""], ["rejects_empty_test() ->", "    ?assertEqual(undefined, parser:parse(<<>>))."]),
    "perl subtest": ("t/parse.t", ["use Test::More;"], ["subtest 'empty input' => sub {", "    is(parse(''), undef);", "};"]),
    "perl test point": ("t/parse.t", ["use Test::More;"], ["is(parse(''), undef, 'empty input');"]),
    "nim unittest": ("tests/test_parser.nim", ['suite "parser":'], ['  test "rejects empty":', "    check parse(\"\").isNone"]),
    "crystal spec": ("spec/parser_spec.cr", ["describe Parser do"], ['  it "rejects empty" do', "  end"]),
    "clojure deftest": ("test/app/core_test.clj", ["(ns app.core-test)"], ["(deftest rejects-empty", '  (is (nil? (parse ""))))']),
    "ocaml alcotest": ("test/test_parser.ml", ['  [ test_case "a" `Quick test_a;'], ['    test_case "b" `Quick test_b;']),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_MORE_SHAPES))
def test_more_shapes_of_new_tests(case: str) -> None:
    filename, context, added = _MORE_SHAPES[case]
    verdict = find_new_tests([_hunk(filename, context, added)], _DEFAULT_TESTS)
    assert verdict.satisfied, case


_NOT_NEW_IN_MORE_SHAPES: dict[str, tuple[Any, ...]] = {
    "kotest skipped Then": ("src/test/kotlin/ParserSpec.kt", [], ['xThen("later") {', "}"]),
    "kotlin string in code": ("src/test/kotlin/ParserSpec.kt", [], ['val s = "rejects empty"', 'println("x")']),
    "haskell line comment": ("test/Data/ParserSpec.hs", [], ['    -- it "fake" $ do']),
    "haskell block comment": ("test/Data/ParserSpec.hs", [], ["{-", '    it "fake" $ do', "-}"]),
    "lua block comment": ("spec/parser_spec.lua", [], ["--[[", '  it("fake", function() end)', "]]"]),
    "julia block comment": ("test/runtests.jl", [], ["#=", '@testset "fake" begin end', "=#"]),
    "perl pod": ("t/parse.t", [], ["=pod", "ok(1, 'fake');", "=cut"]),
    "erlang helper": ("test/parser_tests.erl", [], ["setup() ->", "    ok."]),
    "zig test in a comment": ("src/parser.zig", [], ['// test "fake" {']),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_NOT_NEW_IN_MORE_SHAPES))
def test_more_shapes_that_are_not_new_tests(case: str) -> None:
    filename, context, added = _NOT_NEW_IN_MORE_SHAPES[case]
    verdict = find_new_tests([_hunk(filename, context, added)], _DEFAULT_TESTS)
    assert not verdict.satisfied, verdict.found


def test_a_test_file_in_a_language_not_read_is_unknown_not_missing() -> None:
    pull = [
        _hunk("test/parser_SUITE.hrl", [""], ["-define(EMPTY, <<>>)."]),
        _hunk("src/parser.hrl", [""], ["-define(MAX, 10)."]),
    ]
    verdict = evaluate_pull(pull, test_paths=_DEFAULT_TESTS, control_paths=ALERTS)
    assert verdict.test.outcome == "unknown"
    (sentence,) = [s for s in verdict.missing if s.startswith("Regression test")]
    assert "cannot read test cases in test/parser_SUITE.hrl (Erlang)" in sentence
    assert "declares no new test case" not in sentence
    assert "for example" not in sentence  # no other language's example
    (note,) = verdict.notes
    assert note == "Could not read test/parser_SUITE.hrl: cannot read test cases in Erlang."
    (annotation,) = [a for a in verdict.annotations if a.path == "test/parser_SUITE.hrl"]
    assert annotation.title == "Test cases not read"


def test_a_file_not_read_outside_the_test_paths_changes_nothing() -> None:
    pull = [_hunk("src/parser.hrl", [""], ["-define(MAX, 10)."])]
    verdict = evaluate_pull(pull, test_paths=_DEFAULT_TESTS, control_paths=ALERTS)
    assert verdict.test.outcome == "missing"
    assert not verdict.test.unreadable
