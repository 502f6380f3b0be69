"""The patch corpus (fixtures/patches): every case gets the verdict its author expected.

Each case is a pull request's file list in GitHub's diff-entry form and the expected verdict;
see fixtures/patches/README.md. The hold-out set (fixtures/patches/holdout/) was written after
the rules and measures them; it must stay at or above the 95% target.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from rules.config import default_config
from rules.diff import PullVerdict, evaluate_pull, parse_patch

CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "patches"
HOLDOUT = CORPUS / "holdout"
DEFAULTS = yaml.safe_load((CORPUS / "defaults.yml").read_text())
_HEADER = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def _case_files(root: Path, *, holdout: bool) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*.yml")
        if p.name != "defaults.yml" and (HOLDOUT in p.parents) == holdout
    )


def _github_patch(text: str) -> str:
    """Undo the corpus's two liberties: trimmed blank context lines and the final newline."""
    lines = text.rstrip("\n").split("\n")
    return "\n".join(" " if line == "" else line for line in lines)


def _diff_entry(raw: dict[str, Any]) -> dict[str, Any]:
    entry = dict(raw)
    if isinstance(entry.get("patch"), str):
        entry["patch"] = _github_patch(entry["patch"])
        hunks = parse_patch(entry["patch"])
        added = sum(len(h.added) for h in hunks)
        removed = sum(len(h.removed) for h in hunks)
        entry.setdefault("additions", added)
        entry.setdefault("deletions", removed)
        entry.setdefault("changes", entry["additions"] + entry["deletions"])
    else:
        entry.setdefault("additions", 0)
        entry.setdefault("deletions", 0)
        entry.setdefault("changes", entry["additions"] + entry["deletions"])
    return entry


def load_case(path: Path) -> dict[str, Any]:
    case = yaml.safe_load(path.read_text())
    case["files"] = [_diff_entry(f) for f in case["files"]]
    failure_class = case.get("failure_class")
    if case.get("test_paths") == "shipped":
        # what a repository without a test_paths setting gets (rules/defaults.yml)
        case["test_paths"] = default_config().test_paths
    case.setdefault("test_paths", DEFAULTS["test_paths"])
    case.setdefault("control_paths", DEFAULTS["control_paths"].get(failure_class, []))
    return case


def run_case(case: dict[str, Any]) -> PullVerdict:
    return evaluate_pull(
        case["files"],
        test_paths=case["test_paths"],
        control_paths=case["control_paths"],
        truncated=bool(case.get("truncated", False)),
        failure_class=case.get("failure_class"),
        control_documents=case.get("failure_class") in DEFAULTS["documents_are_controls"],
    )


def differences(case: dict[str, Any], verdict: PullVerdict) -> list[str]:
    """What differs between the case's expectation and the verdict (empty when right)."""
    expect = case["expect"]
    test, control = verdict.test, verdict.control
    actual: dict[str, Any] = {
        "test": test.outcome,
        "control": control.outcome,
        "found": sorted(f"{c.path}:{c.line} {c.name}" for c in test.found),
        "found_names": sorted(c.name for c in test.found),
        "moved": sorted(m.name for m in test.moved),
        "edited": sorted(e.name for e in test.edited),
        "skipped": sorted(s.name for s in test.skipped),
        "removed": sorted(r.name for r in test.removed),
        "unreadable": sorted(u.path for u in test.unreadable),
        "controls": sorted(c.describe() for c in control.changes),
        "removals": sorted(r.path for r in control.removals),
        "ignored": sorted(i.path for i in control.ignored),
    }
    problems = []
    for key, value in expect.items():
        wanted = sorted(value) if isinstance(value, list) else value
        if actual[key] != wanted:
            problems.append(f"{key}: expected {wanted!r}, got {actual[key]!r}")
    return problems


CASES = _case_files(CORPUS, holdout=False)


def test_corpus_is_big_enough() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize("path", CASES, ids=[str(p.relative_to(CORPUS)) for p in CASES])
def test_corpus_case(path: Path) -> None:
    case = load_case(path)
    assert case.get("description"), "every case says what it is about"
    assert not differences(case, run_case(case))


@pytest.mark.parametrize(
    "path",
    CASES + _case_files(HOLDOUT, holdout=True),
    ids=[str(p.relative_to(CORPUS)) for p in CASES + _case_files(HOLDOUT, holdout=True)],
)
def test_corpus_patches_are_well_formed(path: Path) -> None:
    """Hunk header counts match the hunk bodies, as in every diff GitHub sends."""
    for entry in load_case(path)["files"]:
        patch = entry.get("patch")
        if not patch:
            continue
        for hunk in parse_patch(patch):
            assert hunk.old_count == len([x for x in hunk.lines if x.kind != "+"]), (
                entry["filename"],
                hunk.old_start,
            )
            assert hunk.new_count == len([x for x in hunk.lines if x.kind != "-"]), (
                entry["filename"],
                hunk.new_start,
            )


def holdout_score() -> tuple[int, int, list[str]]:
    paths = _case_files(HOLDOUT, holdout=True)
    wrong = []
    for path in paths:
        case = load_case(path)
        problems = differences(case, run_case(case))
        if problems:
            wrong.append(f"{path.relative_to(CORPUS)}: {'; '.join(problems)}")
    return len(paths) - len(wrong), len(paths), wrong


def test_holdout_accuracy() -> None:
    right, total, wrong = holdout_score()
    if total == 0:
        pytest.skip("no hold-out cases")
    assert right / total >= 0.95, "\n".join(wrong)
