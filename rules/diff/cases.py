"""Does a pull request add a new regression test case? (the hardening loop's "one regression test").

Read from the diff, not from the list of touched files: a test case counts when its declaration
is on an added line of a file in the test paths, and the same test is not removed elsewhere in
the pull request. Declarations per language are in :mod:`rules.diff.languages`.

What does not count, and is reported so the author knows why:

- a test moved to another file, a file renamed with its tests, a test moved within a file or
  renamed in place (its declaration line replaced by another at the same position, or by a
  similarly named one in the same hunk, as in ``TestToBoolSliceE`` -> ``TestBoolSlice``):
  ``moved``;
- lines changed inside an existing test (a new assertion, a new parameter or table row, a new
  signature): ``edited``;
- deleted tests (``removed``) and tests added skipped (``skipped``);
- files in the test paths, in a language we read, whose diff GitHub did not send (binary, or too
  large): ``unreadable``, so the outcome is "unknown", never a guessed pass. A test file renamed
  without changes (no patch, no changed lines) is known to add nothing: ``renamed_files``. A
  deleted file, or a Rust source file outside the test paths, without a patch is not reported:
  a deletion cannot add a test, and most large Rust sources hold none.

Pairing a removal with an addition goes by name within a language family, preferring the same
file, then the file the addition was renamed from, then any file. Fixtures in ``conftest.py``
are not tests.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from rules.diff.languages import (
    Declaration,
    Language,
    declarations_in_hunk,
    language_for,
    section_declaration,
    unread_language,
)
from rules.diff.model import (
    EditedTest,
    MovedTest,
    Outcome,
    PullFile,
    TestCase,
    TestVerdict,
    UnreadableFile,
)
from rules.diff.patch import Hunk, PatchLine
from rules.globs import GlobSet

__all__ = ["as_globset", "as_pull_files", "find_new_tests"]

NOT_READ = "cannot read test cases"
NO_PATCH = (
    "GitHub sent no diff for this file (binary, or too large to show), "
    "so a new test case in it cannot be confirmed"
)


def as_pull_files(files: Iterable[PullFile | Mapping[str, Any]]) -> tuple[PullFile, ...]:
    """``PullFile`` objects from PullFiles or raw diff-entry dicts (anything else is dropped)."""
    out: list[PullFile] = []
    for entry in files:
        if isinstance(entry, PullFile):
            out.append(entry)
        elif isinstance(entry, Mapping):
            pull_file = PullFile.from_github(entry)
            if pull_file.filename:
                out.append(pull_file)
    return tuple(out)


def as_globset(paths: Iterable[str] | str | GlobSet) -> GlobSet:
    return paths if isinstance(paths, GlobSet) else GlobSet.of(paths)


@dataclass(eq=False)
class _Seen:
    """A declaration on an added or removed line, with where it is and how it was paired."""

    decl: Declaration
    path: str
    order: int  # file position in the PR, then line: for stable output
    in_scope: bool
    renamed_from: str | None
    block: tuple[int, int, int]  # (hunk, change block, position in that side of the block)
    pair: _Seen | None = None
    pair_kind: str = ""  # "edited" (same test, same file) | "moved" | "renamed"


@dataclass
class _Attribution:
    path: str
    owner: Declaration
    line: int


@dataclass
class _Scan:
    added: list[_Seen] = field(default_factory=list)
    removed: list[_Seen] = field(default_factory=list)
    by_decl: dict[int, _Seen] = field(default_factory=dict)
    attributions: list[_Attribution] = field(default_factory=list)


def _blocks(hunk: Hunk) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
    """For added (by new line) and removed (by old line) lines: (change block, position)."""
    added: dict[int, tuple[int, int]] = {}
    removed: dict[int, tuple[int, int]] = {}
    block = -1
    plus = minus = 0
    previous = " "
    for line in hunk.lines:
        if line.kind == " ":
            previous = " "
            continue
        if previous == " ":
            block, plus, minus = block + 1, 0, 0
        previous = line.kind
        if line.kind == "+" and line.new is not None:
            added[line.new] = (block, plus)
            plus += 1
        elif line.kind == "-" and line.old is not None:
            removed[line.old] = (block, minus)
            minus += 1
    return added, removed


def _owners(
    language: Language,
    view: Sequence[PatchLine],
    decls: Sequence[Declaration],
    enclosing: Declaration | None,
) -> list[Declaration | None]:
    """For each line of one side of a hunk, the test declaration it belongs to, if any."""
    by_index = {d.index: d for d in decls}
    preamble_owner: dict[int, Declaration] = {}
    for d in decls:
        for j in range(d.preamble, d.index):
            preamble_owner[j] = d
    owners: list[Declaration | None] = []
    current = enclosing
    for i, line in enumerate(view):
        decl = by_index.get(i)
        if decl is not None:
            current = decl
        elif language.scope_reset is not None and language.scope_reset.match(line.text):
            current = None
        elif (
            language.preamble == "indent"
            and current is not None
            and line.text.strip()
            and len(line.text) - len(line.text.lstrip(" \t")) <= current.indent
            and i not in preamble_owner
        ):
            current = None  # dedented out of the test (Python, Elixir)
        owners.append(preamble_owner.get(i, current))
    return owners


def _scan_hunk(
    scan: _Scan,
    pull_file: PullFile,
    language: Language,
    hunk: Hunk,
    hunk_index: int,
    order: int,
    in_scope: bool,
) -> None:
    has_removed = any(line.kind == "-" for line in hunk.lines)
    if not in_scope and not has_removed:
        return
    added_blocks, removed_blocks = _blocks(hunk)
    old_decls, old_view = declarations_in_hunk(language, hunk, "old")
    for decl in old_decls:
        if decl.kind == "-":
            block, position = removed_blocks.get(decl.line, (-1, -1))
            seen = _Seen(
                decl, pull_file.filename, order, in_scope, None, (hunk_index, block, position)
            )
            scan.removed.append(seen)
            scan.by_decl[id(decl)] = seen
    if not in_scope:
        return
    new_decls, new_view = declarations_in_hunk(language, hunk, "new")
    renamed_from = pull_file.previous_filename if pull_file.status == "renamed" else None
    for decl in new_decls:
        if decl.kind == "+":
            block, position = added_blocks.get(decl.line, (-1, -1))
            seen = _Seen(
                decl,
                pull_file.filename,
                order,
                True,
                renamed_from,
                (hunk_index, block, position),
            )
            scan.added.append(seen)
            scan.by_decl[id(decl)] = seen
    # Which test each changed line belongs to, to name the existing tests a PR edits. Blank
    # lines are nobody's edit: they separate tests.
    enclosing = section_declaration(language, hunk)
    new_owner = _owners(language, new_view, new_decls, enclosing)
    old_owner = _owners(language, old_view, old_decls, enclosing)
    new_index = old_index = 0
    anchor = hunk.new_start
    for line in hunk.lines:
        if line.kind == " ":
            new_index += 1
            old_index += 1
            anchor = (line.new or anchor) + 1
        elif line.kind == "+":
            owner = new_owner[new_index] if new_index < len(new_owner) else None
            new_index += 1
            anchor = (line.new or anchor) + 1
            if owner is not None and line.text.strip():
                scan.attributions.append(_Attribution(pull_file.filename, owner, line.new or 1))
        else:
            owner = old_owner[old_index] if old_index < len(old_owner) else None
            old_index += 1
            if owner is not None and line.text.strip():
                scan.attributions.append(_Attribution(pull_file.filename, owner, max(anchor, 1)))


def _pair(scan: _Scan) -> None:
    """Match removals with additions: same test moved, renamed, or re-declared."""
    removals: dict[tuple[str, str], list[_Seen]] = defaultdict(list)
    for seen in scan.removed:
        removals[(seen.decl.family, seen.decl.name)].append(seen)

    def take(added: _Seen, accept: Any) -> bool:
        for candidate in removals.get((added.decl.family, added.decl.name), ()):
            if candidate.pair is None and accept(candidate):
                same_file = candidate.path == added.path
                kind = "edited" if same_file else "moved"
                added.pair, candidate.pair = candidate, added
                added.pair_kind = candidate.pair_kind = kind
                return True
        return False

    rules = (
        lambda a: lambda r: r.path == a.path,
        lambda a: lambda r: a.renamed_from is not None and r.path == a.renamed_from,
        lambda a: lambda r: True,
    )
    for rule in rules:
        for added in scan.added:
            if added.pair is None:
                take(added, rule(added))
    # Renamed in place: the k-th removed line of a change block is a declaration and so is the
    # k-th added line (``-def test_old():`` / ``+def test_new():``).
    slots = {
        (r.path, r.decl.family, r.block): r
        for r in scan.removed
        if r.pair is None and r.block[1] >= 0
    }
    for added in scan.added:
        if added.pair is not None or added.block[1] < 0:
            continue
        removed = slots.get((added.path, added.decl.family, added.block))
        if removed is not None and removed.pair is None:
            added.pair, removed.pair = removed, added
            added.pair_kind = removed.pair_kind = "renamed"
    # Renamed within a rewritten stretch of the file: same hunk, a similar name
    # (``TestToBoolSliceE`` -> ``TestBoolSlice``), most similar first.
    candidates = []
    for added in scan.added:
        if added.pair is not None:
            continue
        for removed in scan.removed:
            if (
                removed.pair is None
                and removed.path == added.path
                and removed.decl.family == added.decl.family
                and removed.block[0] == added.block[0]
            ):
                ratio = _similarity(added.decl.name, removed.decl.name)
                if ratio >= RENAME_SIMILARITY:
                    candidates.append((ratio, added.order, added.decl.line, added, removed))
    for _, _, _, added, removed in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        if added.pair is None and removed.pair is None:
            added.pair, removed.pair = removed, added
            added.pair_kind = removed.pair_kind = "renamed"


# trybuild's UI tests: each ``.rs`` file under ``tests/ui/`` (or ``compile-fail/`` ...) is a case
# that must fail to compile with the error its ``.stderr`` holds, or compile (``pass/``).
_UI_DIRS = frozenset({"ui", "compile-fail", "compile_fail", "ui-fail", "fail"})
_UI_PASS_DIRS = frozenset({"pass", "compile-pass", "compile_pass", "run-pass", "ui-pass"})


def _ui_dir(path: str) -> str | None:
    """ "fail" or "pass" for a ``.rs`` file in a UI test folder under ``tests/``."""
    if not path.endswith(".rs"):
        return None
    parts = path.split("/")[:-1]
    if "tests" not in parts:
        return None
    below = parts[parts.index("tests") + 1 :]
    if any(part in _UI_PASS_DIRS for part in below):
        return "pass"
    if any(part in _UI_DIRS for part in below):
        return "fail"
    return None


def _ui_tests(scan: _Scan, pull_files: Sequence[PullFile], globs: GlobSet) -> None:
    """A UI test file added (with its ``.stderr`` for a compile-fail one) is a new case; one
    deleted is a removal, so a UI test moved to another folder pairs up by name."""
    added_stderr = {f.filename for f in pull_files if f.status == "added"}
    for order, pull_file in enumerate(pull_files):
        kind = _ui_dir(pull_file.filename)
        if kind is None or pull_file.status not in ("added", "removed"):
            continue
        if not globs.match(pull_file.filename):
            continue
        stem = pull_file.filename[: -len(".rs")]
        if pull_file.status == "added" and kind == "fail" and stem + ".stderr" not in added_stderr:
            continue  # trybuild would only write a .stderr to review: not yet a case
        name = stem.rsplit("/", 1)[-1]
        decl = Declaration(
            name=f"ui test {name}",
            line=1,
            kind="+" if pull_file.status == "added" else "-",
            language="rust",
            family="rust",
            what="compile-fail UI test" if kind == "fail" else "UI test",
            index=0,
            preamble=0,
        )
        seen = _Seen(decl, pull_file.filename, order, True, None, (-1, -1, -1))
        (scan.added if decl.kind == "+" else scan.removed).append(seen)
        scan.by_decl[id(decl)] = seen


RENAME_SIMILARITY = 0.6
_NAME_PREFIX = re.compile(r"^(?:test_?|should_?)")


def _similarity(a: str, b: str) -> float:
    """How alike two test names are, ignoring case and a ``test``/``should`` prefix."""

    def norm(name: str) -> str:
        return _NAME_PREFIX.sub("", name.lower().replace(" ", "_"))

    return SequenceMatcher(None, norm(a), norm(b)).ratio()


def _case(seen: _Seen) -> TestCase:
    decl = seen.decl
    return TestCase(
        path=seen.path,
        line=decl.line,
        name=decl.name,
        language=decl.language,
        what=decl.what,
        parent=decl.parent,
    )


def _edits(scan: _Scan) -> tuple[EditedTest, ...]:
    spans: dict[tuple[str, str], list[int]] = {}
    for attribution in scan.attributions:
        owner = attribution.owner
        if owner.kind != " ":
            seen = scan.by_decl.get(id(owner))
            if seen is None or seen.pair_kind != "edited":
                continue  # part of a new, moved or deleted test
        key = (attribution.path, owner.name)
        span = spans.setdefault(key, [attribution.line, attribution.line])
        span[0] = min(span[0], attribution.line)
        span[1] = max(span[1], attribution.line)
    return tuple(
        EditedTest(path=path, line=start, end_line=end, name=name)
        for (path, name), (start, end) in spans.items()
    )


def find_new_tests(
    files: Iterable[PullFile | Mapping[str, Any]],
    test_paths: Iterable[str] | str | GlobSet,
    *,
    truncated: bool = False,
) -> TestVerdict:
    """Whether the pull request's diff adds a new test case in ``test_paths``.

    ``files`` is the PR's file list (``PullFile`` or GitHub's diff-entry dicts). ``truncated``
    says the list stops at GitHub's limit, so a missing test may be in the files not listed:
    the outcome is then "unknown" rather than "missing".
    """
    pull_files = as_pull_files(files)
    globs = as_globset(test_paths)
    scan = _Scan()
    unreadable: list[UnreadableFile] = []
    test_files: list[str] = []
    renamed_files: list[tuple[str, str]] = []
    for order, pull_file in enumerate(pull_files):
        in_test_paths = globs.match(pull_file.filename)
        language = language_for(pull_file.filename)
        if in_test_paths:
            test_files.append(pull_file.filename)
            unread = unread_language(pull_file.filename) if language is None else None
            if unread is not None and pull_file.status not in ("removed", "unchanged"):
                unreadable.append(
                    UnreadableFile(pull_file.filename, pull_file.status, f"{NOT_READ} in {unread}")
                )
                continue
        elif language is None:
            continue  # nothing we could read a test case from: not even parsed
        elif not language.in_source and not (
            pull_file.patch and language.trigger.search(pull_file.patch)
        ):
            # Outside the test paths only a removed declaration matters (a test moved out of
            # them); a patch without a word that starts one has none: not worth parsing.
            continue
        if not pull_file.has_patch:
            if in_test_paths and pull_file.status == "renamed" and not pull_file.content_changed:
                renamed_files.append((pull_file.previous_filename or "", pull_file.filename))
            elif (
                in_test_paths
                and language is not None
                and pull_file.status not in ("removed", "unchanged")
                and (pull_file.additions > 0 or pull_file.changes > 0)
            ):
                unreadable.append(UnreadableFile(pull_file.filename, pull_file.status, NO_PATCH))
            continue
        if language is None:
            continue
        in_scope = in_test_paths or language.in_source
        for hunk_index, hunk in enumerate(pull_file.hunks):
            _scan_hunk(scan, pull_file, language, hunk, hunk_index, order, in_scope)

    _ui_tests(scan, pull_files, globs)
    _pair(scan)
    new = [s for s in scan.added if s.pair is None]
    new_names = {(s.path, s.decl.name) for s in new if not s.decl.skipped}
    found = tuple(
        _case(s)
        for s in new
        if not s.decl.skipped and not (s.decl.parent and (s.path, s.decl.parent) in new_names)
    )
    skipped = tuple(_case(s) for s in new if s.decl.skipped)
    moved = tuple(
        MovedTest(
            name=s.decl.name,
            path=s.path,
            line=s.decl.line,
            from_name=s.pair.decl.name,
            from_path=s.pair.path,
            from_line=s.pair.decl.line,
            renamed=s.pair_kind == "renamed",
        )
        for s in scan.added
        if s.pair is not None and s.pair_kind in ("moved", "renamed")
    )
    removed = tuple(_case(s) for s in scan.removed if s.pair is None and s.in_scope)
    outcome: Outcome
    if found:
        outcome = "met"
    elif unreadable or truncated:
        outcome = "unknown"
    else:
        outcome = "missing"
    return TestVerdict(
        outcome=outcome,
        found=found,
        moved=moved,
        edited=_edits(scan),
        removed=removed,
        skipped=skipped,
        unreadable=tuple(unreadable),
        test_files=tuple(test_files),
        renamed_files=tuple(renamed_files),
        test_paths=globs.patterns,
    )
