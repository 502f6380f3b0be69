"""rules.linked_pulls: the items a pull request hardens, the failure classes that judge it, whom warn
mode names, the facts the scores read and the evidence a merged one proves."""

from __future__ import annotations

from typing import Any

import pytest

from rules.config import default_config
from rules.diff import evaluate_pull
from rules.linked_pulls import (
    controls_input,
    hardens_numbers,
    is_failure_class_label,
    judging_classes,
    merge_evidence,
    pull_facts,
    warn_owner,
)
from rules.model import Evidence, HardeningItem

CONFIG = default_config()
SOURCE = {
    "filename": "src/app.py",
    "status": "modified",
    "additions": 1,
    "patch": "@@ -1 +1,2 @@\n x = 1\n+y = 2",
}
NEW_TEST = {
    "filename": "tests/test_app.py",
    "status": "added",
    "additions": 1,
    "patch": "@@ -0,0 +1 @@\n+def test_pages_on_lag():",
}
ALERT = {
    "filename": "alerts/lag.yml",
    "status": "added",
    "additions": 1,
    "patch": "@@ -0,0 +1 @@\n+alert: Lag",
}
RUNBOOK = {
    "filename": "runbooks/queue.md",
    "status": "modified",
    "additions": 1,
    "patch": "@@ -1 +1,2 @@\n # Queue\n+Page the commander after 10 minutes.",
}
ESCALATION = {
    "filename": "escalation/policy.yml",
    "status": "added",
    "additions": 1,
    "patch": "@@ -0,0 +1 @@\n+after: 10m",
}
ROLLBACK = {
    "filename": "deploy/rollback.sh",
    "status": "added",
    "additions": 1,
    "patch": "@@ -0,0 +1 @@\n+kubectl rollout undo",
}


@pytest.mark.parametrize(
    ("body", "numbers"),
    [
        ("Hardens #12", (12,)),
        ("hardens #12", (12,)),
        ("HARDENS: #3, #4 and #5", (3, 4, 5)),
        ("Hardens #7 & #8\nAlso hardens #9", (7, 8, 9)),
        ("Hardens #1\nHardens #1", (1,)),
        ("This hardens #2.", (2,)),
        ("Fixes #4", ()),
        ("```\nHardens #5\n```\nHardens #6", (6,)),
        ("> Hardens #5\n<!-- Hardens #7 -->\n`Hardens #8`", ()),
        ("unhardens #3 pre-hardens #4", ()),
        ("Hardens#10", (10,)),
        (None, ()),
        ("", ()),
    ],
)
def test_hardens_numbers(body: str | None, numbers: tuple[int, ...]) -> None:
    assert hardens_numbers(body) == numbers


def _pull(number: int = 5, merged: bool = False) -> dict[str, Any]:
    return {
        "number": number,
        "html_url": f"https://github.com/o/r/pull/{number}",
        "merged": merged,
        "state": "closed" if merged else "open",
    }


def test_pull_facts_read_test_control_and_paths() -> None:
    config = CONFIG
    facts = pull_facts(
        _pull(merged=True), [SOURCE, NEW_TEST, ALERT], False, config, "missed-detection"
    )
    assert facts.merged and facts.adds_regression_test and facts.adds_control
    assert facts.touches_monitoring and not facts.touches_runbook
    assert facts.new_tests == ("`test_pages_on_lag` in tests/test_app.py:1",)
    facts = pull_facts(_pull(), [RUNBOOK, ESCALATION, ROLLBACK], False, config, "late-decision")
    assert not facts.merged and not facts.adds_regression_test and facts.adds_control
    assert facts.touches_runbook and facts.touches_escalation and facts.touches_rollback
    assert not facts.touches_monitoring
    facts = pull_facts(_pull(), [RUNBOOK], False, config, "late-decision")
    assert facts.touches_runbook and not facts.touches_escalation
    facts = pull_facts(_pull(), [SOURCE, NEW_TEST, ALERT], False, config, None)
    assert not facts.adds_control and not facts.adds_regression_test


def test_failure_class_labels() -> None:
    assert is_failure_class_label("failure-class:missed-detection", CONFIG)
    assert is_failure_class_label("Failure-Class:not-configured", CONFIG)  # looks like one
    assert not is_failure_class_label("bug", CONFIG)


def test_judging_classes_from_labels_then_items() -> None:
    linked = [
        (3, HardeningItem(failure_class="missed-detection")),
        (4, None),
        (5, HardeningItem(failure_class="unknown-class")),
    ]
    labels = ["Failure-Class:Missed-Detection", "failure-class:late-decision", "bug"]
    assert judging_classes(labels, linked, CONFIG) == {
        "missed-detection": ["label `Failure-Class:Missed-Detection`", "`Hardens #3`"],
        "late-decision": ["label `failure-class:late-decision`"],
    }
    assert judging_classes([], [], CONFIG) == {}


def test_warn_mode_names_the_first_owner_else_the_author() -> None:
    pull = {"user": {"login": "dev"}}
    linked = [(3, None), (4, HardeningItem()), (5, HardeningItem(owner="carol"))]
    assert warn_owner(pull, linked) == ("carol", "execution owner of #5")
    assert warn_owner(pull, linked[:2]) == ("dev", "author of this pull request")
    assert warn_owner({}, []) == (None, "")


def test_controls_input_judges_each_class_and_lists_files_without_a_patch() -> None:
    pull = {"user": {"login": "dev"}, "base": {"ref": "main"}}
    huge = {"filename": "src/huge.py", "status": "modified", "changes": 9000}
    data = controls_input(
        pull,
        [SOURCE, NEW_TEST, ALERT, huge],
        False,
        CONFIG,
        {"missed-detection": ["label `x`"], "not-configured": ["label `y`"]},
        [],
        None,
    )
    [judged] = data.judged
    assert judged.failure_class == "missed-detection" and judged.verdict.satisfied
    assert (data.owner, data.owner_role, data.base_ref) == (
        "dev",
        "author of this pull request",
        "main",
    )
    assert data.files_read == 4 and data.files_without_patch == ("src/huge.py",)


def test_merge_evidence_links_the_pull_its_test_and_its_runbook() -> None:
    pull = {
        "number": 9,
        "title": "Alert on lag (queue)",
        "merge_commit_sha": "abc",
        "html_url": "https://github.com/o/r/pull/9",
        "head": {"sha": "def"},
        "base": {"repo": {"html_url": "https://github.com/o/r"}},
    }
    files = [NEW_TEST, RUNBOOK, ESCALATION]
    fc = CONFIG.failure_classes["late-decision"]
    verdict = evaluate_pull(
        files,
        test_paths=CONFIG.test_paths,
        control_paths=fc.control_paths,
        truncated=False,
        failure_class="late-decision",
        control_documents=fc.documents_are_controls,
    )
    assert merge_evidence(pull, verdict) == [
        Evidence(
            "https://github.com/o/r/pull/9",
            "implementation",
            "merged pull request #9: Alert on lag queue",
        ),
        Evidence(
            "https://github.com/o/r/blob/abc/tests/test_app.py#L1",
            "test",
            "`test_pages_on_lag` added by pull request #9",
        ),
        Evidence(
            "https://github.com/o/r/blob/abc/runbooks/queue.md#L2",
            "runbook",
            "runbook diff merged by pull request #9",
        ),
    ]
