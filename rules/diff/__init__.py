"""Diff reading for the PR checks: does a pull request add a new regression test case, and does
it change a control? (the hardening loop's 24–72h artifact: "one automation control + one regression
test").

Pure functions over GitHub's pull request file list (``GET /repos/{o}/{r}/pulls/{n}/files``,
"diff-entry" objects): no I/O, no clock. The parts:

- :mod:`rules.diff.patch`     the unified-diff hunks of a file's ``patch``, with real line numbers
- :mod:`rules.diff.languages` test case declarations per language, and the decisions taken
- :mod:`rules.diff.cases`     :func:`find_new_tests`
- :mod:`rules.diff.controls`  :func:`find_control_changes`
- :mod:`rules.diff.verdict`      :func:`evaluate_pull`: both, what is missing, annotations
- :mod:`rules.diff.model`     ``PullFile`` and the frozen verdict dataclasses

Path globs are :mod:`rules.globs`.
"""

from rules.diff.cases import find_new_tests
from rules.diff.controls import find_control_changes
from rules.diff.languages import LANGUAGES, language_for
from rules.diff.model import (
    FILE_STATUSES,
    MAX_PULL_FILES,
    Annotation,
    ControlChange,
    ControlVerdict,
    EditedTest,
    MovedTest,
    Outcome,
    PullFile,
    PullVerdict,
    TestCase,
    TestVerdict,
    UnreadableFile,
)
from rules.diff.patch import Hunk, PatchLine, parse_patch
from rules.diff.verdict import MAX_ANNOTATIONS, evaluate_pull, example_test

__all__ = [
    "FILE_STATUSES",
    "LANGUAGES",
    "MAX_ANNOTATIONS",
    "MAX_PULL_FILES",
    "Annotation",
    "ControlChange",
    "ControlVerdict",
    "EditedTest",
    "Hunk",
    "MovedTest",
    "Outcome",
    "PatchLine",
    "PullFile",
    "PullVerdict",
    "TestCase",
    "TestVerdict",
    "UnreadableFile",
    "evaluate_pull",
    "example_test",
    "find_control_changes",
    "find_new_tests",
    "language_for",
    "parse_patch",
]
