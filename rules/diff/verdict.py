"""The ``hardening/controls`` verdict for one pull request: a new regression test and a control.

The hardening loop asks, in the 24–72h window, for "one automation control + one regression test" to
block the dominant failure class. :func:`evaluate_pull` reads both from the PR's file list and
says, for whatever is missing, exactly what would satisfy it, with annotation data pointing at
the lines involved. Rollout mode (shadow, warn, enforce) is the caller's: pass
``problem_level="failure"`` in enforce mode to raise the level of annotations on problems.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from rules.diff.cases import NOT_READ, as_globset, as_pull_files, find_new_tests
from rules.diff.controls import find_control_changes
from rules.diff.languages import language_for, unread_language
from rules.diff.model import (
    MAX_PULL_FILES,
    Annotation,
    ControlVerdict,
    PullFile,
    PullVerdict,
    TestVerdict,
)
from rules.globs import GlobSet

__all__ = ["MAX_ANNOTATIONS", "evaluate_pull", "example_test"]

# Annotations beyond this are summarised in a note: GitHub takes 50 per request and a reader
# does not need hundreds of them to act.
MAX_ANNOTATIONS = 150
_LISTED = 5  # how many files or tests a sentence names before "and N more"

# The hardening loop's "From incident finding to control design" table, for sentences and examples.
_CONTROL_CANDIDATE = {
    "missed-detection": "an alert rule + routing update",
    "late-decision": "a checkpoint SLA + commander script",
    "slow-recovery": "a rollback rehearsal gate",
    "repeated-regression": "a test harness + policy check",
}
_EXAMPLE_BEHAVIOUR = {
    "missed-detection": "alert fires on queue lag",
    "late-decision": "escalation pages commander within sla",
    "slow-recovery": "rollback completes within budget",
    "repeated-regression": "rejects the input from the incident",
}
_DEFAULT_BEHAVIOUR = "reproduces the incident"


def _words(failure_class: str | None) -> list[str]:
    return _EXAMPLE_BEHAVIOUR.get(failure_class or "", _DEFAULT_BEHAVIOUR).split()


def example_test(language: str, failure_class: str | None = None) -> str:
    """A one-line example of a new test case declaration in ``language``."""
    words = _words(failure_class)
    snake = "_".join(words)
    camel = "".join(w.capitalize() if w != "sla" else "SLA" for w in words)
    prose = " ".join(words)
    examples = {
        "python": f"def test_{snake}():",
        "javascript": f'it("{prose}", () => {{ … }})',
        "go": f"func Test{camel}(t *testing.T) {{",
        "java": f"@Test void {camel[0].lower()}{camel[1:]}() {{",
        "kotlin": f"@Test fun `{prose}`() {{",
        "groovy": f'def "{prose}"() {{',
        "scala": f'test("{prose}") {{',
        "rust": f"#[test] fn {snake}() {{",
        "ruby": f'it "{prose}" do',
        "csharp": f"[Fact] public void {camel}() {{",
        "fsharp": f"[<Fact>] let ``{prose}`` () =",
        "php": f"public function test{camel}(): void {{",
        "swift": f"func test{camel}() {{",
        "elixir": f'test "{prose}" do',
        "cpp": f"TEST(Incident, {camel}) {{",
        "dart": f"test('{prose}', () {{ … }});",
        "gherkin": f"Scenario: {prose}",
        "bats": f'@test "{prose}" {{',
        "haskell": f'it "{prose}" $ do',
        "lua": f'it("{prose}", function() … end)',
        "r": f'test_that("{prose}", {{ … }})',
        "zig": f'test "{prose}" {{',
        "julia": f'@testset "{prose}" begin',
        "erlang": f"{snake}_test() ->",
        "perl": f"subtest '{prose}' => sub {{ … }};",
        "nim": f'test "{prose}":',
        "crystal": f'it "{prose}" do',
        "clojure": f"(deftest {'-'.join(words)}",
        "ocaml": f'test_case "{prose}" `Quick (fun () -> …)',
    }
    return examples.get(language, examples["python"])


def _main_language(files: tuple[PullFile, ...], test_globs: GlobSet) -> str | None:
    """The language a new test would most likely be written in, from the files the PR touches;
    None when that is a language whose test cases we do not read (no example of another)."""
    in_tests: Counter[str | None] = Counter()
    anywhere: Counter[str | None] = Counter()
    for pull_file in files:
        language = language_for(pull_file.filename)
        if language is None:
            if unread_language(pull_file.filename) is None:
                continue
            name = None
        elif language.name in ("gherkin", "bats"):
            continue
        else:
            name = language.name
        anywhere[name] += 1
        if test_globs.match(pull_file.filename):
            in_tests[name] += 1
    for counts in (in_tests, anywhere):
        if counts:
            return counts.most_common(1)[0][0]
    return "python"


def _names(items: list[str]) -> str:
    shown = items[:_LISTED]
    more = len(items) - len(shown)
    text = ", ".join(shown)
    return f"{text} and {more} more" if more > 0 else text


def _paths(patterns: tuple[str, ...], limit: int = 8) -> str:
    shown = ", ".join(f"`{p}`" for p in patterns[:limit])
    more = len(patterns) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def _class_phrase(failure_class: str | None) -> str:
    return f"the {failure_class} failure class" if failure_class else "this failure class"


def _test_missing(
    verdict: TestVerdict, example: str | None, truncated: bool, failure_class: str | None
) -> str | None:
    if verdict.satisfied:
        return None
    head = f"Regression test for {_class_phrase(failure_class)}"
    if not verdict.test_paths:
        return (
            f"{head}: no test paths are configured; set `test_paths` in .github/hardening.yml, "
            "then add a new test case there."
        )
    instance = f", for example `{example}`," if example else ""
    ask = (
        f"add a new test case{instance} in a file under the test paths "
        f"({_paths(verdict.test_paths)})"
    )
    why: list[str] = []
    if verdict.edited:
        why.append(
            f"existing tests are edited ({_names([e.describe() for e in verdict.edited])}), and "
            "a new assertion, parameter or table row in an existing test is not a new case"
        )
    if verdict.moved:
        why.append(f"moved or renamed tests ({_names([m.describe() for m in verdict.moved])})")
    if verdict.skipped:
        why.append(f"skipped tests ({_names([s.describe() for s in verdict.skipped])})")
    unread: list[str] = []
    no_diff = [u for u in verdict.unreadable if not u.reason.startswith(NOT_READ)]
    if no_diff:
        paths = _names([u.path for u in no_diff])
        unread.append(
            f"GitHub sent no diff for {paths} (binary, or too large to show), so a new test "
            "case there cannot be confirmed: put it in a file GitHub can show."
        )
    not_read = [u for u in verdict.unreadable if u.reason.startswith(NOT_READ)]
    if not_read:
        paths = _names([f"{u.path} ({u.reason.removeprefix(NOT_READ + ' in ')})" for u in not_read])
        unread.append(
            f"This check cannot read test cases in {paths}, so whether the PR adds one there "
            "is unknown: a reviewer decides (docs/checks.md lists the languages read)."
        )
    if truncated:
        unread.append(
            f"GitHub lists only the first {MAX_PULL_FILES:,} files of a pull request, so a test "
            "beyond them cannot be read: split the pull request."
        )
    sentences = [f"{head}: {ask}."]
    if why:
        sentences.append(f"Not counted: {'; '.join(why)}.")
    sentences += unread
    if len(sentences) == 1 and not verdict.test_files:
        sentences.append("The PR changes no file in the test paths.")
    elif len(sentences) == 1:
        changed = _names(list(verdict.test_files))
        sentences.append(f"The PR changes {changed} but declares no new test case there.")
    return " ".join(sentences)


def _control_missing(
    verdict: ControlVerdict, truncated: bool, failure_class: str | None
) -> str | None:
    if verdict.satisfied:
        return None
    head = f"Control for {_class_phrase(failure_class)}"
    if not verdict.control_paths:
        slug = failure_class or "<failure-class>"
        return (
            f"{head}: no control paths are configured; set "
            f"`failure_classes.{slug}.control_paths` in .github/hardening.yml."
        )
    candidate = _CONTROL_CANDIDATE.get(failure_class or "")
    what = f" ({candidate})" if candidate else ""
    ask = f"change a file under the control paths{what}: {_paths(verdict.control_paths)}"
    why: list[str] = []
    if verdict.removals:
        removed = _names([f"{r.path} ({r.reason})" for r in verdict.removals])
        why.append(f"{removed}: deleting a control does not add one")
    if verdict.ignored:
        why.append(_names([f"{c.path} ({c.reason})" for c in verdict.ignored]))
    sentences = [f"{head}: {ask}."]
    if why:
        sentences.append(f"Not counted: {'; '.join(why)}.")
    if truncated:
        sentences.append(
            f"GitHub lists only the first {MAX_PULL_FILES:,} files of a pull request and none "
            "of those changes a control: split the pull request."
        )
    return " ".join(sentences)


def _notes(test: TestVerdict, control: ControlVerdict, truncated: bool) -> list[str]:
    notes: list[str] = []
    if truncated:
        notes.append(
            f"GitHub returned the maximum of {MAX_PULL_FILES:,} files; files beyond are not read."
        )
    for unreadable in test.unreadable[:_LISTED]:
        notes.append(f"Could not read {unreadable.path}: {unreadable.reason}.")
    if len(test.unreadable) > _LISTED:
        notes.append(f"… and {len(test.unreadable) - _LISTED} more test files could not be read.")
    for moved in test.moved[:_LISTED]:
        notes.append(f"Not a new test: {moved.describe()}.")
    for skipped in test.skipped[:_LISTED]:
        notes.append(f"Not counted: {skipped.describe()} is skipped.")
    for removed in test.removed[:_LISTED]:
        notes.append(f"The PR deletes test `{removed.name}` ({removed.path}:{removed.line}).")
    for before, after in test.renamed_files[:_LISTED]:
        notes.append(f"{before} was renamed to {after} without changes; that adds no test case.")
    for removal in control.removals[:_LISTED]:
        notes.append(f"Control {removal.path} is {removal.reason}: that removes a control.")
    for ignored in control.ignored[:_LISTED]:
        notes.append(f"Control {ignored.path}: {ignored.reason}; not counted as a change.")
    return notes


def _annotations(
    test: TestVerdict,
    control: ControlVerdict,
    problem_level: Literal["warning", "failure"],
    failure_class: str | None,
) -> tuple[list[Annotation], int]:
    problems: list[Annotation] = []
    proofs: list[Annotation] = []
    for unreadable in test.unreadable:
        if unreadable.reason.startswith(NOT_READ):
            title = "Test cases not read"
            message = (
                f"This check {unreadable.reason}: whether this file adds a test case is unknown."
            )
        else:
            title = "Diff not available"
            message = f"{unreadable.reason}. Put the new test case in a file GitHub can show."
        problems.append(Annotation(unreadable.path, 1, 1, "warning", title, message))
    if not test.satisfied:
        for edited in test.edited:
            problems.append(
                Annotation(
                    edited.path,
                    edited.line,
                    max(edited.line, edited.end_line),
                    problem_level,
                    "Existing test edited, no new test case",
                    f"`{edited.name}` already existed: changing it (a new assertion, parameter "
                    "or table row) does not add a regression test case. Declare a new test "
                    "case instead.",
                )
            )
        for skipped in test.skipped:
            problems.append(
                Annotation(
                    skipped.path,
                    skipped.line,
                    skipped.line,
                    problem_level,
                    "Skipped test does not count",
                    f"`{skipped.name}` is declared skipped, so it guards nothing.",
                )
            )
        for moved in test.moved:
            problems.append(
                Annotation(
                    moved.path,
                    moved.line,
                    moved.line,
                    "notice",
                    "Moved test, not a new case",
                    f"{moved.describe()}: a moved or renamed test is not a new test case.",
                )
            )
    for case in test.found:
        proofs.append(
            Annotation(
                case.path,
                case.line,
                case.line,
                "notice",
                "New regression test case",
                f"`{case.name}` is a new test case; it satisfies the regression-test requirement.",
            )
        )
    for change in control.changes:
        line = change.line or 1
        where = f" under `{change.matched[0]}`" if change.matched else ""
        proofs.append(
            Annotation(
                change.path,
                line,
                max(line, change.end_line or line),
                "notice",
                "Control change",
                f"This change{where} counts as the control for {_class_phrase(failure_class)}.",
            )
        )
    for ignored in control.ignored:
        line = ignored.line or 1
        problems.append(
            Annotation(
                ignored.path,
                line,
                max(line, ignored.end_line or line),
                "notice" if control.satisfied else problem_level,
                "Not a control change",
                f"{ignored.reason}: this does not count as a control change.",
            )
        )
    chosen = problems + proofs
    dropped = max(0, len(chosen) - MAX_ANNOTATIONS)
    chosen = chosen[:MAX_ANNOTATIONS]
    chosen.sort(key=lambda a: (a.path, a.start_line))
    return chosen, dropped


def evaluate_pull(
    files: Iterable[PullFile | Mapping[str, Any]],
    *,
    test_paths: Iterable[str] | str | GlobSet,
    control_paths: Iterable[str] | str | GlobSet,
    truncated: bool = False,
    failure_class: str | None = None,
    problem_level: Literal["warning", "failure"] = "warning",
    control_documents: bool = False,
) -> PullVerdict:
    """The ``hardening/controls`` verdict for a PR's file list (diff-entry dicts or PullFiles).

    ``truncated`` is True when GitHub's list stopped at its 3,000-file maximum (a list of that
    length is taken as truncated too). ``failure_class`` (a slug such as ``missed-detection``)
    only shapes the sentences and the example test name. ``control_documents`` says the class's
    controls are documents (runbooks), so Markdown under its control paths counts.
    """
    pull_files = as_pull_files(files)
    truncated = bool(truncated) or len(pull_files) >= MAX_PULL_FILES
    test_globs = as_globset(test_paths)
    control_globs = as_globset(control_paths)
    test = find_new_tests(pull_files, test_globs, truncated=truncated)
    control = find_control_changes(
        pull_files, control_globs, truncated=truncated, documents=control_documents
    )
    language = _main_language(pull_files, test_globs)
    example = example_test(language, failure_class) if language else None
    missing = [
        sentence
        for sentence in (
            _test_missing(test, example, truncated, failure_class),
            _control_missing(control, truncated, failure_class),
        )
        if sentence
    ]
    notes = _notes(test, control, truncated)
    annotations, dropped = _annotations(test, control, problem_level, failure_class)
    if dropped:
        notes.append(f"{dropped} more annotations are not shown.")
    return PullVerdict(
        test=test,
        control=control,
        missing=tuple(missing),
        notes=tuple(notes),
        annotations=tuple(annotations),
        truncated=truncated,
    )
