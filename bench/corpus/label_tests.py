"""Label real commits: does each one add a regression test case? Writes ``tests.csv``.

    python -m bench.corpus.label_tests [--per-repo 18] [--out bench/corpus/tests.csv]

Independent of ``rules.diff`` on purpose (a label must not be the reader's own opinion): it reads
whole files, before and after the commit, from the bare clone, and counts the test cases each
declares with a counter of its own (below), per ecosystem. A commit adds a test case when some
test case exists after it that did not before, anywhere in the files it touches, and that new
case is not an old one renamed or moved (its body, compared with the bodies of the cases the
commit removes, is less than 80% alike). Cases the counter cannot settle are marked ``ambiguous``
in the reason and read by hand; ``REVIEWED`` below records the verdicts of that reading.

Each negative gets the kind of "hard negative" it is, from what the commit does to test files:
renamed or moved tests, deleted tests, import-only edits, snapshot/golden refreshes,
assertion-only edits of existing cases, test helpers and fixtures, or source only.

Picks, per repository, up to ``--per-repo`` commits among the most recent 2,500 non-merge
commits that touch at most 60 files, half positive and half negative, negatives spread over the
hard kinds; deterministic (seeded by the repository name).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from bench.corpus.materialize import git, git_dir, pull_files, split_for

ECOSYSTEMS: dict[str, tuple[str, ...]] = {
    "dotnet": ("FluentValidation/FluentValidation", "App-vNext/Polly", "AutoMapper/AutoMapper",
               "fsprojects/Argu"),
    "ruby": ("rack/rack", "thoughtbot/factory_bot", "ruby-grape/grape", "sinatra/sinatra"),
    "rust": ("dtolnay/anyhow", "BurntSushi/ripgrep", "dtolnay/thiserror", "serde-rs/json"),
    "kotlin": ("square/moshi", "InsertKoinIO/koin"),
    "scala": ("com-lihaoyi/os-lib", "scalameta/munit"),
    "swift": ("apple/swift-argument-parser", "pointfreeco/swift-snapshot-testing",
              "Alamofire/Alamofire"),
    "php": ("guzzle/guzzle", "pestphp/pest"),
    "elixir": ("elixir-plug/plug", "michalmuskala/jason", "elixir-ecto/ecto"),
    "cpp": ("fmtlib/fmt", "gabime/spdlog", "nlohmann/json", "catchorg/Catch2"),
    "dart": ("dart-lang/args", "cfug/dio"),
    "python": ("pallets/click", "psf/requests"),
    "go": ("spf13/cobra", "stretchr/testify"),
    "java": ("google/gson", "square/javapoet"),
    "javascript": ("sindresorhus/ky", "colinhacks/zod"),
}  # fmt: skip

# Commits read by hand (the "ambiguous" ones, and every label questioned while building the
# reader): "owner/name@sha-prefix" -> (label, reason).
# "skip" drops a commit nobody can label with confidence.
REVIEWED: dict[str, tuple[str, str]] = {
    "App-vNext/Polly@2410e6836f96": (
        "test",
        "read: Pipeline_TypeCheck_Ok is new; 3 others deleted",
    ),
    "fsprojects/Argu@ab8391652231": ("test", "read: a new conflicting-CLI-name case; one deleted"),
    "rack/rack@1fb12f055c55": ("none", "read: test/spec converted to bacon, cases renamed"),
    "thoughtbot/factory_bot@0124d42bf19a": (
        "test",
        "read: a case for inherited traits replaces one",
    ),
    "ruby-grape/grape@4df57e3cd339": ("none", "read: refactor, specs of removed methods deleted"),
    "sinatra/sinatra@bf2cb85e8694": ("none", "read: specs renamed and regrouped"),
    "sinatra/sinatra@4f1bdba0c50e": ("test", "read: specs of new .token behaviour replace old"),
    "dtolnay/anyhow@dc263b4c19ae": ("none", "read: doc examples rewritten to use thiserror"),
    "pointfreeco/swift-snapshot-testing@db932260b030": (
        "none",
        "read: tests renamed in a refactor",
    ),
    "guzzle/guzzle@f1e87889b0e7": ("test", "read: stream tests rewritten, new cases added"),
    "elixir-plug/plug@87329458e141": ("test", "read: module renamed, tests moved, new cases added"),
    "fmtlib/fmt@f10b6dd8166d": ("test", "read: a tm formatting case replaces empty_result"),
    "fmtlib/fmt@2fa3e1a1bbfb": ("test", "read: debug_presentation is new; compute_width deleted"),
    "fmtlib/fmt@fc23cfbf4e2e": ("none", "read: a duplicate suite name renamed"),
    "nlohmann/json@60e6f822fa25": ("skip", "read: the whole file rewritten, cannot tell"),
    "catchorg/Catch2@a153fce72402": ("test", "read: a bracket-mismatch case replaces empty-tag"),
    "dart-lang/args@2c6a221f45e4": ("none", "read: test renamed with the method it tests"),
    "cfug/dio@aff57606caa8": ("test", "read: streamed-response timeout cases are new"),
    "stretchr/testify@e8837d5396cf": ("none", "read: TestEventuallyIssue805 renamed and fixed"),
    "google/gson@4917fc7f7628": ("test", "read: testComplexFieldNameStrategy is new"),
    "sinatra/sinatra@fcce195bc8db": ("test", "read: a case for allow_empty_referrer is new"),
    "catchorg/Catch2@414dcae34a37": ("test", "read: a one-reporter SECTION replaces xml+junit"),
}

# --- what a test file is, per ecosystem (deliberately broad: the labeller's own view) ---------

_TEST_DIR = re.compile(
    r"(?:^|/)(?:tests?|specs?|__tests__|testing|e2e|integration|[\w.-]*[Tt]ests?|[\w.-]*Specs?"
    r"|[\w.-]*\.(?:Tests|UnitTests|IntegrationTests|Specs|Test))/"
)
_TEST_NAME = re.compile(
    r"(?:^|/)(?:test_[^/]*|[^/]*_test\.\w+|[^/]*_spec\.\w+|spec_[^/]*|[^/]*Tests?\.\w+"
    r"|[^/]*Spec\.\w+|[^/]*Specs\.\w+|[^/]*\.(?:test|spec)\.\w+|[^/]*Tester\.\w+)$"
)
_SNAPSHOT = re.compile(
    r"(?:__snapshots__/|__Snapshots__/|\.snap$|\.snapshot$|/snapshots?/|golden|\.stderr$"
    r"|\.stdout$|/expected/|\.expected$|\.approved\.)"
)
_EXT_FAMILY = {
    ".cs": "dotnet", ".fs": "dotnet", ".fsx": "dotnet", ".rb": "ruby", ".rs": "rust",
    ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".sc": "scala", ".swift": "swift",
    ".php": "php", ".ex": "elixir", ".exs": "elixir", ".c": "cpp", ".cc": "cpp", ".cpp": "cpp",
    ".cxx": "cpp", ".h": "cpp", ".hpp": "cpp", ".dart": "dart", ".py": "python", ".go": "go",
    ".java": "java", ".js": "javascript", ".ts": "javascript", ".mjs": "javascript",
    ".cjs": "javascript", ".tsx": "javascript", ".jsx": "javascript", ".mts": "javascript",
}  # fmt: skip


def family_of(path: str) -> str | None:
    dot = path.rfind(".")
    return _EXT_FAMILY.get(path[dot:].lower()) if dot > path.rfind("/") else None


def is_test_path(path: str) -> bool:
    return bool(_TEST_DIR.search(path) or _TEST_NAME.search(path))


def is_snapshot(path: str) -> bool:
    return bool(_SNAPSHOT.search(path))


# --- counting test cases in a whole file ------------------------------------------------------


@dataclass
class Case:
    name: str
    line: int  # 0-based
    body: str = ""
    path: str = ""


_Q = r"""(['"`])((?:\\.|(?!\1).){1,300}?)\1"""
_ATTR_MARKERS = {
    "dotnet": re.compile(
        r"^\s*\[<?\s*(?:Fact|Theory|Test|TestMethod|DataTestMethod|TestCase|Property"
        r"|SkippableFact|TestCaseSource)\b"
    ),
    "java": re.compile(r"^\s*@(?:Test|ParameterizedTest|RepeatedTest|TestFactory|Property)\b"),
    "kotlin": re.compile(r"^\s*@(?:Test|ParameterizedTest|RepeatedTest|TestFactory)\b"),
    "scala": re.compile(r"^\s*@Test\b"),
    "rust": re.compile(
        r"^\s*#\[\s*(?:[\w:]+::)?(?:test|rstest|test_case|quickcheck|wasm_bindgen_test)\b"
    ),
    "swift": re.compile(r"^\s*@Test\b"),
    "php": re.compile(r"^\s*(?:\*\s*@test\b|/\*\*\s*@test\b|#\[\s*(?:\\?[\w\\]*\\)?Test\b)"),
}
_FN_AFTER_ATTR = {
    "dotnet": re.compile(
        r"^\s*(?:(?:public|private|internal|protected|static|async|override|virtual)\s+)*"
        r"(?:[\w.<>\[\],?]+\s+)?(\w+)\s*[(<]|^\s*(?:let|member\s+\w+\.)\s*(``[^`]+``|\w+)"
    ),
    "java": re.compile(r"(\w+)\s*\("),
    "kotlin": re.compile(r"\bfun\s+(?:<[^>]*>\s*)?(`[^`]+`|\w+)"),
    "scala": re.compile(r"\bdef\s+(\w+)"),
    "rust": re.compile(r"\bfn\s+(\w+)"),
    "swift": re.compile(r"\bfunc\s+(\w+)"),
    "php": re.compile(r"\bfunction\s+(\w+)"),
}
_DIRECT: dict[str, list[re.Pattern[str]]] = {
    "python": [re.compile(r"^\s*(?:async\s+)?def\s+(test\w*)\s*\(")],
    "java": [re.compile(r"^\s*public\s+void\s+(test\w*)\s*\(\s*\)")],  # JUnit 3
    "go": [
        re.compile(r"^func\s+(?:\([^)]*\)\s*)?((?:Test|Fuzz)(?:[A-Z_0-9]\w*)?)\s*\("),
        re.compile(r"^\s*\w+\.Run\(\s*\"([^\"]+)\""),
    ],
    "javascript": [
        re.compile(r"^\s*(?:it|test|specify)(?:\.only|\.concurrent|\.failing|\.serial)?\s*\(\s*"
                   + _Q),
        re.compile(r"^\s*(?:it|test)(?:\.only|\.concurrent)?\.each\b(.*)"),
    ],
    "ruby": [
        re.compile(r"^\s*(?:it|specify|example|scenario|its|should)\s*\(?\s*" + _Q),
        re.compile(r"^\s*(?:it|specify|example)\s*(?:\{|do\b)()()"),
        re.compile(r"^\s*def\s+(test_\w+[?!]?)"),
        re.compile(r"^\s*test\s*\(?\s*" + _Q),
    ],
    "kotlin": [re.compile(r"^\s*(?:test|should|it|expect)\(\s*\"([^\"]+)\"")],
    "scala": [
        re.compile(r"^\s*(?:test|property)\(\s*\"([^\"]+)\""),
        re.compile(r"^\s*\"([^\"]+)\"\s+in\s*\{"),
        re.compile(r"^\s*(?:it|they)\s+(?:should|must|can)\s+\"([^\"]+)\"\s+in\b"),
    ],
    "swift": [re.compile(r"^\s*(?:(?:public|private|internal|open|override|final)\s+)*"
                         r"func\s+(test\w*)\s*\(")],
    "php": [
        re.compile(r"^\s*(?:(?:public|protected|private|static|final)\s+)*function\s+(test\w*)\s*\("),
        re.compile(r"^\s*(?:it|test)\(\s*" + _Q),
    ],
    "elixir": [re.compile(r"^\s*(?:test|property)\s+\"((?:\\.|[^\"\\])*)\"")],
    "cpp": [
        re.compile(r"^\s*(?:TEST|TEST_F|TEST_P|TYPED_TEST|TYPED_TEST_P)\s*\(\s*(\w+\s*,\s*\w+)"),
        re.compile(r"^\s*(?:TEST_CASE|SCENARIO|TEMPLATE_TEST_CASE|TEMPLATE_PRODUCT_TEST_CASE"
                   r"|TEST_CASE_TEMPLATE|TEST_CASE_METHOD\s*\([^,]*,)\s*\(?\s*\"([^\"]*)\""),
        re.compile(r"^\s*(?:SECTION|SUBCASE|GIVEN|WHEN|THEN|AND_WHEN|AND_THEN)\s*\(\s*\"([^\"]*)\""),
        re.compile(r"^\s*BOOST_(?:AUTO|FIXTURE)_TEST_CASE\s*\(\s*(\w+)"),
    ],
    "dart": [re.compile(r"^\s*(?:test|testWidgets|blocTest(?:<[^>]*>)?)\(\s*" + _Q)],
    "dotnet": [
        re.compile(r"^\s*(?:testCase|testCaseAsync|testProperty|test|ptestCase)\s+\"([^\"]+)\""),
    ],
}  # fmt: skip
_SKIPPED = re.compile(
    r"(?:^\s*(?:xit|xtest|xspecify|pending)\b|\.skip\b|@Disabled|@Ignore\b|#\[ignore|Skip\s*="
    r"|@tag :skip|\bDISABLED_|skip:\s*true|\[<?Ignore)"
)
_NOT_RUST = ("ignore", "text", "console", "sh", "toml", "json", "bash", "notrust")
_DOC_FENCE = re.compile(r"^\s*//[/!]\s*```\s*([\w,]*)")


def _name_of(match: re.Match[str]) -> str:
    groups = [g for g in match.groups() if g is not None]
    return groups[-1] if groups else match.group(0).strip()


def count_cases(family: str, path: str, text: str) -> list[Case]:
    """The test cases (not skipped) a whole file declares, in the labeller's own reading."""
    if path.rsplit("/", 1)[-1] == "conftest.py":
        return []
    lines = text.split("\n")
    cases: list[Case] = []
    marker = _ATTR_MARKERS.get(family)
    after = _FN_AFTER_ATTR.get(family)
    direct = _DIRECT.get(family, [])
    in_test_file = is_test_path(path)
    if family == "rust" and re.search(r"(?:^|/)tests/ui[\w/-]*/[^/]+\.rs$", path):
        # trybuild compile-fail/pass case: the file is the case
        return [Case("ui:" + path.rsplit("/", 1)[-1], 0, text)]
    if family in ("rust", "cpp") or in_test_file:
        pending: int | None = None
        skip_pending = False
        for i, line in enumerate(lines):
            attr = marker.match(line) if marker is not None else None
            if attr is not None:
                if pending is None:
                    pending = i
                skip_pending = skip_pending or bool(_SKIPPED.search(line))
                rest = re.sub(r"^[^\]]*\]\s*|^\s*@\w+(?:\([^)]*\))?\s*", "", line[attr.start() :])
                inline = after.search(rest) if after is not None and rest.strip() else None
                if inline:
                    name = next(g for g in inline.groups() if g)
                    if not skip_pending:
                        cases.append(Case(name, i))
                    pending, skip_pending = None, False
                continue
            if pending is not None and after is not None:
                if _SKIPPED.search(line):
                    skip_pending = True
                found = after.search(line)
                if found and not line.strip().startswith(("[", "@", "#", "//", "*", "/*")):
                    name = next(g for g in found.groups() if g)
                    if not skip_pending and name not in ("if", "for", "while"):
                        cases.append(Case(name, i))
                    pending, skip_pending = None, False
                    continue
                if i - pending > 8:
                    pending, skip_pending = None, False
                continue
            if not in_test_file and family != "cpp":
                continue
            for pattern in direct:
                found = pattern.match(line)
                if found:
                    if not _SKIPPED.search(line):
                        cases.append(Case(_name_of(found), i))
                    break
    if family == "rust":
        # doc tests: a fenced block in a /// or //! comment, named by its code (a line number
        # would make every shifted example look new)
        opened: int | None = None
        for i, line in enumerate(lines):
            found = _DOC_FENCE.match(line)
            if not found:
                continue
            if opened is None:
                info = found.group(1).split(",")
                runs = not any(w in info for w in _NOT_RUST)
                opened = i if runs else -1
            else:
                if opened >= 0:
                    code = [re.sub(r"^\s*//[/!] ?", "", x) for x in lines[opened + 1 : i]]
                    name = "doctest:" + " ".join(x.strip() for x in code if x.strip())[:120]
                    cases.append(Case(name, opened))
                opened = None
    if family == "go" and in_test_file:
        # An Example function is a test when it has an // Output: comment.
        for i, line in enumerate(lines):
            found = re.match(r"^func\s+(Example\w*)\s*\(\s*\)", line)
            if found:
                for later in lines[i + 1 : i + 200]:
                    if later.startswith("}"):
                        break
                    if re.match(r"^\s*//\s*(?:Unordered output|Output):", later):
                        cases.append(Case(found.group(1), i))
                        break
    starts = sorted({case.line for case in cases})
    for case in cases:
        # its own lines: up to the next case, at most 25
        following = [start for start in starts if start > case.line]
        end = min([case.line + 25, *following[:1]])
        case.body = "\n".join(lines[case.line + 1 : end])
        case.path = path
    return cases


# --- per commit ---------------------------------------------------------------------------------


@dataclass
class Reading:
    label: str = "none"
    kind: str = "source-only"
    reason: str = ""
    ambiguous: bool = False
    new: list[str] = field(default_factory=list)


def _blob(repo: str, rev: str, path: str) -> str:
    try:
        return git(repo, "show", f"{rev}:{path}").decode("utf-8", "replace")
    except subprocess.CalledProcessError:
        return ""


_IMPORT = re.compile(
    r"^\s*(?:import\b|from\s+\S+\s+import\b|using\s+[\w.]+\s*;|use\s+[\w:{}, *]+;|require(?:_relative)?\b"
    r"|#include\b|package\s|open\s+[\w.]+\s*$|@testable\s+import\b|alias\s|const\s+\w+\s*=\s*require\()"
)


def read_commit(repo: str, parent: str, commit: str) -> Reading:
    raw = git(repo, "diff", "--raw", "-z", "-M", "--no-abbrev", parent, commit)
    fields = raw.decode("utf-8", "replace").split("\0")
    files: list[tuple[str, str, str | None]] = []
    i = 0
    while i < len(fields) - 1:
        meta = fields[i]
        letter = meta.split()[-1][:1] if meta.startswith(":") else ""
        if letter in ("R", "C"):
            files.append((letter, fields[i + 2], fields[i + 1]))
            i += 3
        elif letter:
            files.append((letter, fields[i + 1], None))
            i += 2
        else:
            i += 1
    before: dict[str, list[Case]] = {}
    after: dict[str, list[Case]] = {}
    test_touched = snapshot_touched = renamed = False
    changed_test_files: list[str] = []
    for letter, path, previous in files:
        family = family_of(path) or (family_of(previous) if previous else None)
        tested = is_test_path(path) or (previous is not None and is_test_path(previous))
        if tested or is_snapshot(path):
            test_touched = True
        if is_snapshot(path):
            snapshot_touched = True
        if family is None:
            continue
        old_path = previous or path
        if letter in ("R", "C") and tested:
            renamed = True
        old = _blob(repo, parent, old_path) if letter != "A" else ""
        new = _blob(repo, commit, path) if letter != "D" else ""
        old_cases = count_cases(family, old_path, old) if old else []
        new_cases = count_cases(family, path, new) if new else []
        if old_cases or new_cases:
            changed_test_files.append(path)
        before.setdefault(family, []).extend(old_cases)
        after.setdefault(family, []).extend(new_cases)
    reading = Reading()
    new_names: list[Case] = []
    gone: list[Case] = []
    for family in set(before) | set(after):
        b = Counter(c.name for c in before.get(family, []))
        a = Counter(c.name for c in after.get(family, []))
        added_names = a - b
        removed_names = b - a
        seen: Counter[str] = Counter()
        for case in after.get(family, []):
            if added_names[case.name] > seen[case.name]:
                seen[case.name] += 1
                new_names.append(case)
        seen = Counter()
        for case in before.get(family, []):
            if removed_names[case.name] > seen[case.name]:
                seen[case.name] += 1
                gone.append(case)
    # a new name whose body is (almost) a removed one's is a rename or a move
    unexplained: list[Case] = []
    paired = 0
    borderline = False
    free = list(gone)
    for case in new_names:
        best, best_ratio, threshold = None, 0.0, 0.8
        for old_case in free:
            ratio = SequenceMatcher(None, case.body, old_case.body).ratio()
            if ratio > best_ratio:
                best, best_ratio = old_case, ratio
                # renamed in place and edited: the same file is evidence enough at 50%
                threshold = 0.5 if old_case.path == case.path else 0.8
        if best is not None and best_ratio >= threshold:
            free.remove(best)
            paired += 1
        else:
            if best is not None and best_ratio >= 0.6:
                borderline = True
            unexplained.append(case)
    if unexplained:
        reading.label = "test"
        names = ", ".join(c.name[:60] for c in unexplained[:3])
        reading.kind = "new-case"
        reading.reason = f"{len(unexplained)} new test case(s): {names}"
        if borderline or (gone and len(unexplained) <= len(free)):
            reading.ambiguous = True
            reading.reason += f"; {len(gone)} removed"
        return reading
    if paired or renamed:
        reading.kind = "renamed-moved"
        reading.reason = f"{paired} test case(s) renamed or moved, none new"
    elif free:
        reading.kind = "deleted"
        reading.reason = f"{len(free)} test case(s) deleted, none new"
    elif changed_test_files and _imports_only(repo, parent, commit, changed_test_files):
        reading.kind = "import-only"
        reading.reason = "test files change only imports"
    elif changed_test_files:
        reading.kind = "assertion-only"
        reading.reason = "existing test cases edited, none added"
    elif snapshot_touched:
        reading.kind = "snapshot"
        reading.reason = "snapshot or expected-output files refreshed, no new case"
    elif test_touched:
        reading.kind = "helper-fixture"
        reading.reason = "test helpers or fixtures changed, no test case file"
    else:
        reading.reason = "no test file touched"
    return reading


def _imports_only(repo: str, parent: str, commit: str, paths: list[str]) -> bool:
    out = git(repo, "diff", "-U0", "-M", parent, commit, "--", *paths).decode("utf-8", "replace")
    changed = [
        line[1:]
        for line in out.split("\n")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return bool(changed) and all(not c.strip() or _IMPORT.match(c) for c in changed)


# --- sampling -----------------------------------------------------------------------------------


def candidates(repo: str, limit: int = 2500) -> list[tuple[str, str]]:
    out = git(repo, "log", "--no-merges", f"-{limit}", "--format=%H %P", "HEAD").decode()
    pairs = []
    for line in out.split("\n"):
        parts = line.split()
        if len(parts) == 2:
            pairs.append((parts[0], parts[1]))
    return pairs


def files_changed(repo: str, parent: str, commit: str) -> int:
    out = git(repo, "diff", "--name-only", "-z", "-M", parent, commit)
    return out.count(b"\0")


HARD_KINDS = (
    "renamed-moved", "deleted", "import-only", "snapshot", "assertion-only", "helper-fixture",
)  # fmt: skip


def sample_repo(repo: str, ecosystem: str, per_repo: int) -> list[dict[str, str]]:
    rng = random.Random(repo)
    pool = candidates(repo)
    rng.shuffle(pool)
    want_pos = per_repo // 2
    want_neg = per_repo - want_pos
    pos: list[dict[str, str]] = []
    neg_by_kind: dict[str, list[dict[str, str]]] = {}
    examined = 0
    for commit, parent in pool:
        if len(pos) >= want_pos and sum(len(v) for v in neg_by_kind.values()) >= 4 * want_neg:
            break
        if examined > 600:
            break
        n = files_changed(repo, parent, commit)
        if n == 0 or n > 60:
            continue
        try:
            pull_files(repo, parent, commit)
        except (subprocess.CalledProcessError, RuntimeError):
            continue  # a blob the snapshot lacks (files of 4 MiB and more)
        examined += 1
        reading = read_commit(repo, parent, commit)
        key = f"{repo}@{commit[:12]}"
        reviewed = REVIEWED.get(key)
        label, reason = (reading.label, reading.reason) if reviewed is None else reviewed
        if reviewed is None and reading.ambiguous:
            reason = "ambiguous: " + reason
        row = {
            "repo": repo,
            "commit": commit,
            "parent": parent,
            "ecosystem": ecosystem,
            "label": label,
            # read by hand against the counter: a rename or rewrite, or a new case after all
            "kind": reading.kind
            if label == reading.label
            else ("new-case" if label == "test" else "renamed-moved"),
            "split": split_for(repo, commit),
            "reason": reason,
        }
        if label == "skip":
            continue
        if label == "test":
            if len(pos) < want_pos:
                pos.append(row)
        else:
            neg_by_kind.setdefault(row["kind"], []).append(row)
    # negatives: round-robin over the hard kinds first, source-only last
    neg: list[dict[str, str]] = []
    order = [k for k in HARD_KINDS if k in neg_by_kind] + ["source-only", "reviewed"]
    while len(neg) < want_neg and any(neg_by_kind.get(k) for k in order):
        for kind in order:
            bucket = neg_by_kind.get(kind)
            if bucket and len(neg) < want_neg:
                if (
                    kind == "source-only"
                    and len(neg) < want_neg - 2
                    and any(neg_by_kind.get(k) for k in HARD_KINDS)
                ):
                    continue
                neg.append(bucket.pop(0))
    return pos + neg


FIELDS = ["repo", "commit", "parent", "ecosystem", "label", "kind", "split", "reason"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-repo", type=int, default=18)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "tests.csv")
    parser.add_argument("--repo", action="append", help="only these repositories")
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="OWNER/NAME=ECOSYSTEM",
        help="label another repository too (a fresh check outside the corpus)",
    )
    args = parser.parse_args(argv)
    ecosystems = {k: list(v) for k, v in ECOSYSTEMS.items()}
    only = set(args.repo or ())
    for extra in args.extra:
        repo, _, ecosystem = extra.partition("=")
        ecosystems.setdefault(ecosystem or "other", []).append(repo)
        if only:
            only.add(repo)
    rows: list[dict[str, str]] = []
    for ecosystem, repos in ecosystems.items():
        for repo in repos:
            if only and repo not in only:
                continue
            if not git_dir(repo).exists():
                print(f"skip {repo}: no clone at {git_dir(repo)}", file=sys.stderr)
                continue
            picked = sample_repo(repo, ecosystem, args.per_repo)
            counts = Counter(r["label"] for r in picked)
            print(f"{repo:45} {counts['test']:3} test {counts['none']:3} none", file=sys.stderr)
            rows.extend(picked)
    with args.out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} rows -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
