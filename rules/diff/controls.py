"""Does a pull request change a control? (the seed's "one automation control").

A control change is a real change to a file under the failure class's control paths (for
missed detection ``alerts/**`` and ``monitoring/**``: alert rules and routing): a file added,
copied, modified, or renamed into the control paths with its content changed. The proof is the
file and its first changed line.

Not a control change, and reported apart:

- a control file deleted, or renamed out of the control paths (``removals``): deleting a
  control does not add one;
- a control file renamed without changes, or whose diff changes only comments and blank lines
  (``ignored``).

A control file whose diff GitHub did not send (too large) still counts when GitHub reports
changed lines: the requirement is the change, not its line (the proof then has no line).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from rules.diff.cases import as_globset, as_pull_files
from rules.diff.model import ControlChange, ControlVerdict, PullFile
from rules.diff.patch import Hunk
from rules.globs import GlobSet

__all__ = ["find_control_changes", "first_change"]

_HASH_COMMENTS = re.compile(r"^\s*(?:#.*)?$")
_SLASH_COMMENTS = re.compile(r"^\s*(?://.*|/\*.*|\*.*|.*\*/\s*)?$")
_COMMENT_STYLE: dict[str, re.Pattern[str]] = {
    **dict.fromkeys(
        (
            ".yml",
            ".yaml",
            ".py",
            ".sh",
            ".bash",
            ".toml",
            ".rb",
            ".conf",
            ".cfg",
            ".tf",
            ".hcl",
            ".rules",
            ".promql",
            ".ini",
            ".env",
            ".nomad",
        ),
        _HASH_COMMENTS,
    ),
    **dict.fromkeys(
        (
            ".go",
            ".js",
            ".ts",
            ".java",
            ".kt",
            ".rs",
            ".cs",
            ".c",
            ".cc",
            ".cpp",
            ".h",
            ".jsonnet",
            ".libsonnet",
            ".rego",
            ".swift",
            ".scala",
        ),
        _SLASH_COMMENTS,
    ),
}
_HASH_BASENAMES = frozenset({"Dockerfile", "Makefile", "Procfile", "CODEOWNERS", ".gitignore"})


def _comment_pattern(path: str) -> re.Pattern[str] | None:
    base = path.rsplit("/", 1)[-1]
    if base in _HASH_BASENAMES:
        return _HASH_COMMENTS
    dot = base.rfind(".")
    return _COMMENT_STYLE.get(base[dot:].lower()) if dot > 0 else None


def first_change(hunks: tuple[Hunk, ...]) -> tuple[int, int] | None:
    """New-file lines (first, last) of the first run of changed lines.

    A run that only removes lines is placed at the new-file line where the removal happened.
    """
    for hunk in hunks:
        anchor = hunk.new_start
        start: int | None = None
        end = 0
        for line in hunk.lines:
            if line.kind == " ":
                if start is not None:
                    return start, end
                anchor = (line.new or anchor) + 1
                continue
            here = line.new if line.kind == "+" and line.new is not None else anchor
            if line.kind == "+":
                anchor = here + 1
            if start is None:
                start = max(here, 1)
            end = max(end, here, start)
        if start is not None:
            return start, end
    return None


def _only_comments(pull_file: PullFile) -> bool:
    pattern = _comment_pattern(pull_file.filename)
    if pattern is None or pull_file.status in ("added", "copied"):
        return False
    changed = [line for hunk in pull_file.hunks for line in hunk.lines if line.kind != " "]
    return bool(changed) and all(pattern.match(line.text) for line in changed)


def _change(pull_file: PullFile, globs: GlobSet, reason: str = "") -> ControlChange:
    span = first_change(pull_file.hunks) if pull_file.status != "removed" else None
    return ControlChange(
        path=pull_file.filename,
        line=span[0] if span else None,
        end_line=span[1] if span else None,
        status=pull_file.status,
        matched=globs.matching(pull_file.filename)
        or globs.matching(pull_file.previous_filename or ""),
        previous_path=pull_file.previous_filename,
        reason=reason,
    )


def find_control_changes(
    files: Iterable[PullFile | Mapping[str, Any]],
    control_paths: Iterable[str] | str | GlobSet,
    *,
    truncated: bool = False,
) -> ControlVerdict:
    """Whether the pull request really changes a file under ``control_paths``.

    ``truncated`` says GitHub's file list stopped at its limit: with no change found, the
    outcome is "unknown" rather than "missing".
    """
    globs = as_globset(control_paths)
    changes: list[ControlChange] = []
    removals: list[ControlChange] = []
    ignored: list[ControlChange] = []
    for pull_file in as_pull_files(files):
        inside = globs.match(pull_file.filename)
        came_from_inside = bool(pull_file.previous_filename) and globs.match(
            pull_file.previous_filename or ""
        )
        status = pull_file.status
        if status == "unchanged":
            continue
        if status == "removed":
            if inside:
                removals.append(_change(pull_file, globs, "deleted"))
            continue
        if not inside:
            if status == "renamed" and came_from_inside:
                removals.append(
                    _change(
                        pull_file, globs, f"moved out of the control paths to {pull_file.filename}"
                    )
                )
            continue
        if not pull_file.content_changed:
            ignored.append(_change(pull_file, globs, "renamed without changes"))
        elif pull_file.has_patch and _only_comments(pull_file):
            ignored.append(_change(pull_file, globs, "only comments or blank lines changed"))
        else:
            changes.append(_change(pull_file, globs))
    if changes:
        outcome = "met"
    elif truncated:
        outcome = "unknown"
    else:
        outcome = "missing"
    return ControlVerdict(
        outcome=outcome,
        changes=tuple(changes),
        removals=tuple(removals),
        ignored=tuple(ignored),
        control_paths=globs.patterns,
    )
