"""Plain data for the PR checks: a pull request file as GitHub lists it, and the verdicts.

``PullFile`` mirrors GitHub's "diff-entry" (``GET /repos/{owner}/{repo}/pulls/{n}/files``).
Every verdict carries its proof, a file and a line, so the check run can annotate the exact line
and a reader can click through to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from rules.diff.patch import Hunk, parse_patch

__all__ = [
    "FILE_STATUSES",
    "MAX_PULL_FILES",
    "Annotation",
    "ControlChange",
    "ControlVerdict",
    "EditedTest",
    "MovedTest",
    "Outcome",
    "PullFile",
    "PullVerdict",
    "TestCase",
    "TestVerdict",
    "UnreadableFile",
]

# GitHub lists at most this many files for a pull request (REST and GraphQL alike).
MAX_PULL_FILES = 3000

FileStatus = Literal["added", "removed", "modified", "renamed", "copied", "changed", "unchanged"]
FILE_STATUSES: tuple[FileStatus, ...] = (
    "added",
    "removed",
    "modified",
    "renamed",
    "copied",
    "changed",
    "unchanged",
)

# "met": the requirement is satisfied, with proof. "missing": everything was read and it is not.
# "unknown": nothing satisfies it in what we could read, but some of the PR could not be read
# (a patch GitHub did not send, or files past GitHub's 3,000-file limit), so we do not guess.
Outcome = Literal["met", "missing", "unknown"]
Level = Literal["notice", "warning", "failure"]


def _int(value: object) -> int:
    """A count from JSON: a non-negative int, whatever was sent."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str):
        try:
            return max(0, int(value.strip()))
        except ValueError:
            return 0  # "²" is a digit to str.isdigit, not to int()
    return 0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class PullFile:
    """One entry of a pull request's file list.

    ``patch`` is None when GitHub did not send one (binary files, very large diffs, pure
    renames). ``previous_filename`` is set for renamed and copied files.
    """

    filename: str
    status: str = "modified"
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    patch: str | None = None
    previous_filename: str | None = None
    sha: str | None = None

    @classmethod
    def from_github(cls, d: Mapping[str, Any]) -> PullFile:
        """Build from a diff-entry dict; missing or mistyped keys get harmless defaults."""
        if not isinstance(d, Mapping):
            return cls(filename="")
        status = d.get("status")
        status = status.strip().lower() if isinstance(status, str) and status.strip() else None
        additions, deletions = _int(d.get("additions")), _int(d.get("deletions"))
        changes = _int(d.get("changes")) if "changes" in d else additions + deletions
        return cls(
            filename=_text(d.get("filename")) or "",
            status=status or "modified",
            additions=additions,
            deletions=deletions,
            changes=changes,
            patch=_text(d.get("patch")),
            previous_filename=_text(d.get("previous_filename")),
            sha=_text(d.get("sha")),
        )

    @cached_property
    def hunks(self) -> tuple[Hunk, ...]:
        """The parsed patch (parsed once per file object)."""
        return parse_patch(self.patch)

    @property
    def has_patch(self) -> bool:
        """Whether GitHub sent a patch with at least one hunk."""
        return bool(self.hunks)

    @property
    def content_changed(self) -> bool:
        """Whether the file's content changed at all (a pure rename or mode change has not)."""
        if self.status == "removed":
            return True
        return self.changes > 0 or self.additions > 0 or self.deletions > 0 or self.has_patch


@dataclass(frozen=True)
class TestCase:
    """A test case declaration: where its name is, and what it is called.

    ``line`` is a line of the new file, except for deleted tests (``TestVerdict.removed``), where
    it is the line in the old file. ``parent`` is the enclosing test of a subtest.
    """

    __test__ = False  # not a pytest class, whatever its name

    path: str
    line: int
    name: str
    language: str
    what: str = "test"
    parent: str | None = None

    def describe(self) -> str:
        """For humans and score rows: "`test_alert_fires` in tests/test_alerts.py:12"."""
        return f"`{self.name}` in {self.path}:{self.line}"


@dataclass(frozen=True)
class MovedTest:
    """A test removed in one place and declared again in another: not a new case.

    ``renamed`` is True when it was renamed in place (same position, a new name).
    """

    name: str
    path: str
    line: int
    from_name: str
    from_path: str
    from_line: int
    renamed: bool = False

    def describe(self) -> str:
        if self.renamed:
            return f"`{self.from_name}` renamed to `{self.name}` in {self.path}:{self.line}"
        if self.path == self.from_path:
            return f"`{self.name}` moved within {self.path} (now line {self.line})"
        origin = f"{self.from_path}:{self.from_line}"
        return f"`{self.name}` moved from {origin} to {self.path}:{self.line}"


@dataclass(frozen=True)
class EditedTest:
    """An existing test whose lines the PR changes: an edit is not a new test case."""

    __test__ = False

    path: str
    line: int
    end_line: int
    name: str

    def describe(self) -> str:
        return f"`{self.name}` in {self.path}:{self.line}"


@dataclass(frozen=True)
class UnreadableFile:
    """A file in the test paths whose diff GitHub did not send: we cannot read it, so we never
    count it as a pass."""

    path: str
    status: str
    reason: str


@dataclass(frozen=True)
class TestVerdict:
    """Does the PR add a new regression test case in a test path?

    ``found`` are the new cases (the proof). The other fields explain a miss: tests moved or
    renamed, existing tests edited, tests deleted or added skipped, and files not readable.
    """

    __test__ = False

    outcome: Outcome
    found: tuple[TestCase, ...] = ()
    moved: tuple[MovedTest, ...] = ()
    edited: tuple[EditedTest, ...] = ()
    removed: tuple[TestCase, ...] = ()
    skipped: tuple[TestCase, ...] = ()
    unreadable: tuple[UnreadableFile, ...] = ()
    test_files: tuple[str, ...] = ()
    renamed_files: tuple[tuple[str, str], ...] = ()  # (from, to) renamed without changes
    test_paths: tuple[str, ...] = ()

    @property
    def satisfied(self) -> bool:
        return self.outcome == "met"


@dataclass(frozen=True)
class ControlChange:
    """A file under the control paths that the PR changes (or deletes), with the first changed
    line of the new file (None when GitHub sent no patch, or for a deleted file)."""

    path: str
    line: int | None
    status: str
    end_line: int | None = None
    matched: tuple[str, ...] = ()
    previous_path: str | None = None
    reason: str = ""

    def describe(self) -> str:
        return f"{self.path}:{self.line}" if self.line else self.path


@dataclass(frozen=True)
class ControlVerdict:
    """Does the PR change a file under the failure class's control paths?

    ``changes`` are real changes (the proof); ``removals`` deleted control files or control
    files renamed out of the control paths (deleting a control does not add one); ``ignored``
    touched control files without a real change (a pure rename, comments or whitespace only).
    """

    outcome: Outcome
    changes: tuple[ControlChange, ...] = ()
    removals: tuple[ControlChange, ...] = ()
    ignored: tuple[ControlChange, ...] = ()
    control_paths: tuple[str, ...] = ()

    @property
    def satisfied(self) -> bool:
        return self.outcome == "met"


@dataclass(frozen=True)
class Annotation:
    """One check-run annotation. GitHub takes at most 50 per request; the writer batches."""

    path: str
    start_line: int
    end_line: int
    level: Level
    title: str
    message: str

    def as_github(self) -> dict[str, Any]:
        """The shape of ``output.annotations[]`` in the check runs API."""
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "annotation_level": self.level,
            "title": self.title,
            "message": self.message,
        }


@dataclass(frozen=True)
class PullVerdict:
    """Both requirements of ``hardening/controls`` for one pull request.

    ``missing`` says, one sentence per unmet requirement, exactly what would satisfy it;
    ``notes`` are caveats a reader should know (files not read, tests that did not count).
    """

    test: TestVerdict
    control: ControlVerdict
    missing: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    truncated: bool = False

    @property
    def satisfied(self) -> bool:
        return self.test.satisfied and self.control.satisfied
