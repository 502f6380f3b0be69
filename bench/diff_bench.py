"""How fast the PR checks read a pull request: ``python -m bench.diff_bench``.

The worst case GitHub can hand us is 3,000 files (its maximum for one pull request), each with a
patch, checked against dozens of test and control globs. This builds such a pull request
(deterministically: Python, Go, TypeScript, Java, C#, Ruby and Rust tests with new and edited
cases, Rust doc tests, source files, alert rules), then times :func:`rules.diff.evaluate_pull` on it from raw
diff-entry dicts, which includes building ``PullFile`` objects and parsing every patch.

Printed and returned by :func:`run`: files, patch lines, best and median wall time of the
whole evaluation, files/s and lines/s, and the cost of the glob matching alone.
"""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from rules.diff import evaluate_pull
from rules.globs import GlobSet

FILES = 3000
RUNS = 5

# About as many globs as the shipped defaults hold for tests and one failure class.
TEST_PATHS = [
    "tests/**", "test/**", "spec/**", "src/test/**", "**/*_test.go", "**/*.test.*",
    "**/*.spec.*", "**/test_*.py", "**/*_test.py", "**/tests/**", "**/test/**", "**/spec/**",
    "**/__tests__/**", "**/src/test/**", "**/e2e/**", "**/integration-tests/**",
    "**/integration_tests/**", "**/*_spec.rb", "**/*_test.rb", "**/*Test.java",
    "**/*Tests.java", "**/*Test.kt", "**/*Tests.cs", "**/*Test.cs", "**/*.Tests/**",
    "**/*.UnitTests/**", "**/*Tests/**", "Tests/**", "**/spec_*.rb", "**/src/*Test/**",
    "**/*_test.{c,cc,cpp,cxx}",
]  # fmt: skip
CONTROL_PATHS = [
    "alerts/**", "monitoring/**", "alerting/**", "observability/**", "**/alerts/**",
    "**/alerting/**", "**/monitoring/**", "**/alert*.yml", "**/alert*.yaml", "**/*.rules.yml",
    "**/*.rules.yaml", "**/prometheus/**", "**/prometheusrules/**", "**/alertmanager/**",
    "**/grafana/**", "**/dashboards/**", "**/datadog/**", "**/synthetics/**", "**/slo/**",
    "**/*monitor*.tf", "**/*alert*.tf", "**/*dashboard*.tf",
]  # fmt: skip


def _hunk(rng: random.Random, start: int, body: list[str]) -> str:
    old = sum(1 for x in body if not x.startswith("+"))
    new = sum(1 for x in body if not x.startswith("-"))
    return "\n".join([f"@@ -{start},{old} +{start},{new} @@ def helper():", *body])


def _context(rng: random.Random, n: int, indent: str = "    ") -> list[str]:
    words = ["value", "result", "client", "expected", "payload", "config", "item"]
    return [
        f" {indent}{rng.choice(words)} = {rng.choice(words)}({rng.randint(0, 99)})"
        for _ in range(n)
    ]


def _python_test(rng: random.Random, i: int) -> list[str]:
    body = _context(rng, 3)
    for j in range(rng.randint(1, 3)):
        body += ["+", "+", f"+def test_case_{i}_{j}(client):"]
        body += ["+" + x[1:] for x in _context(rng, rng.randint(3, 12))]
        body += [f"+    assert result == {j}"]
    body += _context(rng, 3)
    return body


def _go_test(rng: random.Random, i: int) -> list[str]:
    body = [" \t}", " }", " "]
    body += [f"+func TestCase{i}(t *testing.T) {{", '+\tt.Run("edge", func(t *testing.T) {']
    body += ["+\t\t" + x.strip() for x in _context(rng, rng.randint(4, 15))]
    body += ["+\t})", "+}", "+"]
    return [*body, " func helper() {", " \treturn", " }"]


def _ts_test(rng: random.Random, i: int) -> list[str]:
    body = [" describe('module', () => {", "   beforeEach(() => {});", " "]
    body += [f"+  it('handles case {i}', async () => {{"]
    body += ["+  " + x.strip() + ";" for x in _context(rng, rng.randint(4, 15))]
    body += ["+  });", "+"]
    return [*body, "   it('old', () => {});", " });", " "]


def _java_edit(rng: random.Random, i: int) -> list[str]:
    body = ["     @Test", f"     void existing{i}() {{", "         int a = 1;"]
    body += ["-        assertEquals(1, a);", "+        assertEquals(2, a);"]
    return [*body, "     }", " ", "     @Test"]


def _rust_source(rng: random.Random, i: int) -> list[str]:
    body = [" mod tests {", "     use super::*;", " "]
    body += [
        "+    #[test]",
        f"+    fn case_{i}() {{",
        "+        assert_eq!(add(1, 1), 2);",
        "+    }",
    ]
    return [*body, " ", "     #[test]", "     fn old() {}"]


def _csharp_test(rng: random.Random, i: int) -> list[str]:
    body = ["     }", " ", "     [Theory]", "     [InlineData(1)]"]
    body += ["+    [InlineData(2)]", "     public void Existing(int n)", "     {", "     }", " "]
    body += ["+    [Fact]", f"+    public async Task HandlesCase{i}()", "+    {"]
    body += ["+        " + x.strip() + ";" for x in _context(rng, rng.randint(3, 10))]
    return [*body, "+    }", "+", " }"]


def _ruby_spec(rng: random.Random, i: int) -> list[str]:
    body = ["   describe '#call' do", "     let(:client) { build(:client) }", " "]
    body += [f"+    it 'handles case {i}' do"]
    body += ["+      " + x.strip() for x in _context(rng, rng.randint(3, 10))]
    return [*body, "+    end", "+", "     it 'old' do", "     end"]


def _rust_doc(rng: random.Random, i: int) -> list[str]:
    body = [" /// Parses the input.", " ///"]
    body += ["+/// ```", f"+/// let value = crate::parse({i});", "+/// assert!(value.is_ok());"]
    return [
        *body,
        "+/// ```",
        f" pub fn parse{i}(input: u32) -> Result<u32, Error> {{",
        "     Ok(input)",
    ]


def _source(rng: random.Random, i: int) -> list[str]:
    body = _context(rng, 3)
    for _ in range(rng.randint(1, 4)):
        body += ["-" + x[1:] for x in _context(rng, rng.randint(1, 5))]
        body += ["+" + x[1:] for x in _context(rng, rng.randint(1, 20))]
        body += _context(rng, 3)
    return body


def _alert(rng: random.Random, i: int) -> list[str]:
    return [
        "   - name: group",
        "     rules:",
        f"+      - alert: Alert{i}",
        "+        expr: rate(errors_total[5m]) > 0.1",
        "+        for: 5m",
        "       - alert: Existing",
    ]


_KINDS = [
    (0.20, "tests/unit/mod{i}/test_feature{i}.py", _python_test),
    (0.08, "pkg/mod{i}/feature{i}_test.go", _go_test),
    (0.08, "web/src/mod{i}/feature{i}.test.ts", _ts_test),
    (0.05, "src/test/java/com/acme/Mod{i}Test.java", _java_edit),
    (0.04, "crates/mod{i}/src/lib.rs", _rust_source),
    (0.03, "crates/mod{i}/src/parse.rs", _rust_doc),
    (0.04, "src/Acme.Mod{i}.Tests/Feature{i}Specs.cs", _csharp_test),
    (0.03, "spec/mod{i}/feature{i}_spec.rb", _ruby_spec),
    (0.40, "src/mod{i}/feature{i}.py", _source),
    (0.05, "monitoring/alerts/mod{i}.yml", _alert),
]


def build_pull(files: int = FILES, seed: int = 7) -> list[dict[str, Any]]:
    """A pull request of ``files`` diff entries, each with a patch."""
    rng = random.Random(seed)
    weights = [k[0] for k in _KINDS]
    out = []
    for i in range(files):
        _, template, make = rng.choices(_KINDS, weights=weights)[0]
        hunks = [_hunk(rng, 10 + 100 * h, make(rng, i)) for h in range(rng.randint(1, 3))]
        patch = "\n".join(hunks)
        additions = sum(1 for x in patch.split("\n") if x.startswith("+"))
        deletions = sum(1 for x in patch.split("\n") if x.startswith("-"))
        out.append(
            {
                "filename": template.format(i=i),
                "status": "modified",
                "additions": additions,
                "deletions": deletions,
                "changes": additions + deletions,
                "patch": patch,
            }
        )
    return out


def run(files: int = FILES, runs: int = RUNS) -> dict[str, Any]:
    """Time the evaluation of a ``files``-file pull request; print and return the figures."""
    pull = build_pull(files)
    lines = sum(entry["patch"].count("\n") + 1 for entry in pull)
    timings = []
    verdict = None
    for _ in range(runs):
        started = time.perf_counter()
        verdict = evaluate_pull(
            pull,
            test_paths=TEST_PATHS,
            control_paths=CONTROL_PATHS,
            failure_class="missed-detection",
        )
        timings.append(time.perf_counter() - started)
    assert verdict is not None
    globs = GlobSet.of(TEST_PATHS + CONTROL_PATHS)
    names = [entry["filename"] for entry in pull]
    started = time.perf_counter()
    matched = sum(1 for name in names if globs.match(name))
    glob_seconds = time.perf_counter() - started
    best, median = min(timings), statistics.median(timings)
    figures: dict[str, Any] = {
        "files": files,
        "patch_lines": lines,
        "globs": len(TEST_PATHS) + len(CONTROL_PATHS),
        "best_seconds": round(best, 4),
        "median_seconds": round(median, 4),
        "files_per_second": round(files / best),
        "lines_per_second": round(lines / best),
        "glob_match_seconds": round(glob_seconds, 5),
        "glob_matched_files": matched,
        "new_tests_found": len(verdict.test.found),
        "control_changes_found": len(verdict.control.changes),
        "annotations": len(verdict.annotations),
    }
    globs_n, fps, lps = figures["globs"], figures["files_per_second"], figures["lines_per_second"]
    print(f"diff bench: a {files:,}-file pull request, {lines:,} patch lines, {globs_n} globs")
    print(f"  evaluate_pull   best {best * 1000:8.1f} ms   median {median * 1000:8.1f} ms")
    print(f"  throughput      {fps:,} files/s   {lps:,} lines/s")
    print(f"  glob matching   {glob_seconds * 1000:8.2f} ms for {files:,} files x {globs_n} globs")
    print(
        f"  verdict         {figures['new_tests_found']:,} new tests, "
        f"{figures['control_changes_found']:,} control changes, "
        f"{figures['annotations']} annotations"
    )
    return figures


if __name__ == "__main__":
    run()
