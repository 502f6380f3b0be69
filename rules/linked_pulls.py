"""A pull request and the hardening items it is linked to, read from plain data (docs/hardening-loop.md
"Pull requests").

From docs/hardening-loop.md: the 24–72h artifact "one automation control + one regression test" and "Control rollout
sequencing" (shadow → warn → enforce). A pull request is linked to item N when its description
says ``Hardens #N``; it is judged by the failure classes of its ``failure-class:<slug>`` labels
and of its linked items. From its file list come the controls verdict, the facts the scores
read (:class:`~rules.model.PullFacts`), and, once merged, the evidence it proves on each item.

``pull`` and ``files`` are GitHub's ``pulls/get`` and ``pulls/list-files`` objects; ``linked``
is the linked items as ``(number, item)`` pairs, ``item`` None when only the bot's marker is
left of its template.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

from rules.check_output import ConfigProposal, ControlsInput, Judged
from rules.config import CONTROLS, Config, mode_for
from rules.diff import PullVerdict, evaluate_pull
from rules.globs import GlobSet
from rules.item_template import visible_lines
from rules.model import Evidence, HardeningItem, PullFacts
from rules.text import bounded_int

Linked = Sequence[tuple[int, HardeningItem | None]]

# "Hardens #12", "hardens: #3, #4 and #5", "Hardens #7 & #8": one keyword, one or more numbers.
# Linear on any line: no two white-space runs touch (a separator sits between them), so a long
# run of blanks after a reference is read once, not split every possible way.
_HARDENS = re.compile(
    r"(?<![\w-])hardens\b[ \t]*(?::[ \t]*)?"
    r"(?P<refs>#[0-9]+(?:[ \t]*(?:(?:,|&|\band\b)[ \t]*)?#[0-9]+)*)",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"#([0-9]+)")
_INLINE_CODE = re.compile(r"`[^`\n]*`")
# A longer digit run than an issue number can have (the item marker allows 18) is no reference.
_MAX_ISSUE_DIGITS = 18

# Which of the late-decision control paths are runbooks (the rest are escalation maps), and
# which failure classes' control paths are monitoring and rollback: the scorecard rows
# "monitoring/alerts updated", "runbook update acknowledged" and "escalation ownership
# documented" read them.
_RUNBOOK_WORD = "runbook"
_MONITORING_CLASS = "missed-detection"
_ESCALATION_CLASS = "late-decision"
_ROLLBACK_CLASS = "slow-recovery"


def hardens_numbers(body: str | None) -> tuple[int, ...]:
    """The issue numbers a pull request description says it hardens, in order, without repeats.

    ``Hardens #12`` (any case), several per line (``Hardens #3, #4 and #5``, ``hardens: #1 & #2``)
    or several lines. Text in code blocks, inline code, quotes and HTML comments does not count.
    """
    if not body:
        return ()
    numbers: dict[int, None] = {}
    for line in visible_lines(body):
        if not line or "ardens" not in line.lower():
            continue
        for found in _HARDENS.finditer(_INLINE_CODE.sub("", line)):
            for digits in _NUMBER.findall(found.group("refs")):
                number = bounded_int(digits, _MAX_ISSUE_DIGITS)
                if number:
                    numbers[number] = None
    return tuple(numbers)


def hardens_references(body: str | None, limit: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The references of :func:`hardens_numbers` split at ``limit`` (``limits.hardens_references``):
    the ones read, and the ones beyond the limit, which are reported, never read."""
    numbers = hardens_numbers(body)
    return numbers[:limit], numbers[limit:]


def is_failure_class_label(name: str, config: Config) -> bool:
    """Whether a label is (or looks like) a failure class: only such a label changes scope."""
    folded = name.casefold()
    return folded.startswith(config.labels.failure_class_prefix.casefold()) or any(
        fc.label.casefold() == folded for fc in config.failure_classes.values()
    )


def judging_classes(labels: Iterable[str], linked: Linked, config: Config) -> dict[str, list[str]]:
    """Failure class slug -> why the pull request is judged by it (labels, then items)."""
    found: dict[str, list[str]] = {}
    for name in labels:
        slug = next(
            (
                s
                for s, fc in config.failure_classes.items()
                if fc.label.casefold() == name.casefold()
            ),
            None,
        )
        if slug is not None:
            found.setdefault(slug, []).append(f"label `{name}`")
    for number, item in linked:
        slug = item.failure_class if item else None
        if slug is not None and slug in config.failure_classes:
            found.setdefault(slug, []).append(f"`Hardens #{number}`")
    return found


def warn_owner(pull: Mapping[str, Any], linked: Linked) -> tuple[str | None, str]:
    """Who warn mode names: the first linked item's execution owner, else the author."""
    for number, item in linked:
        if item and item.owner:
            return item.owner, f"execution owner of #{number}"
    author = (pull.get("user") or {}).get("login")
    return (str(author), "author of this pull request") if author else (None, "")


def pull_verdict(
    files: Sequence[Mapping[str, Any]], truncated: bool, config: Config, failure_class: str
) -> PullVerdict | None:
    """The controls verdict of a file list for one failure class (None: class not configured)."""
    fc = config.failure_classes.get(failure_class)
    if fc is None:
        return None
    return evaluate_pull(
        files,
        test_paths=config.test_paths,
        control_paths=fc.control_paths,
        truncated=truncated,
        failure_class=failure_class,
        control_documents=fc.documents_are_controls,
    )


def controls_input(
    pull: Mapping[str, Any],
    files: Sequence[Mapping[str, Any]],
    truncated: bool,
    config: Config,
    sources: Mapping[str, Sequence[str]],
    linked: Linked,
    proposal: ConfigProposal | None,
) -> ControlsInput:
    """What the ``hardening/controls`` check judges: a verdict per failure class in
    ``sources`` (see :func:`judging_classes`), the rollout modes, and whom warn mode names."""
    owner, role = warn_owner(pull, linked)
    return ControlsInput(
        judged=tuple(
            Judged(slug, verdict, tuple(words))
            for slug, words in sources.items()
            if (verdict := pull_verdict(files, truncated, config, slug)) is not None
        ),
        modes={control: mode_for(config, control) for control in CONTROLS},
        owner=owner,
        owner_role=role,
        base_ref=str(pull["base"]["ref"]),
        files_read=len(files),
        files_without_patch=tuple(
            str(f["filename"])
            for f in files
            if not f.get("patch")
            and f.get("status") != "removed"
            and int(f.get("changes") or 0) > 0
        ),
        proposal=proposal,
    )


def _touched(files: Iterable[Mapping[str, Any]], globs: GlobSet) -> list[str]:
    return [
        str(f.get("filename"))
        for f in files
        if f.get("status") != "removed" and globs.match(str(f.get("filename") or ""))
    ]


def _class_globs(config: Config, slug: str) -> GlobSet:
    fc = config.failure_classes.get(slug)
    return GlobSet.of(fc.control_paths if fc else ())


def pull_facts(
    pull: Mapping[str, Any],
    files: Sequence[Mapping[str, Any]],
    truncated: bool,
    config: Config,
    failure_class: str | None,
) -> PullFacts:
    """What the scores need to know about one linked pull request."""
    verdict = pull_verdict(files, truncated, config, failure_class) if failure_class else None
    escalation = _touched(files, _class_globs(config, _ESCALATION_CLASS))
    runbooks = [path for path in escalation if _RUNBOOK_WORD in path.lower()]
    return PullFacts(
        number=int(pull["number"]),
        url=str(pull.get("html_url") or ""),
        merged=bool(pull.get("merged") or pull.get("merged_at")),
        adds_regression_test=bool(verdict and verdict.test.satisfied),
        adds_control=bool(verdict and verdict.control.satisfied),
        touches_rollback=bool(_touched(files, _class_globs(config, _ROLLBACK_CLASS))),
        touches_monitoring=bool(_touched(files, _class_globs(config, _MONITORING_CLASS))),
        touches_runbook=bool(runbooks),
        touches_escalation=len(escalation) > len(runbooks),
        new_tests=tuple(case.describe() for case in verdict.test.found) if verdict else (),
    )


def merge_evidence(pull: Mapping[str, Any], verdict: PullVerdict) -> list[Evidence]:
    """The evidence a merged pull request that satisfied its controls proves: the pull request
    itself (``implementation``), its first new test case (``test``) and its first runbook change
    (``runbook``), linked at the merge commit."""
    number = pull["number"]
    commit = pull.get("merge_commit_sha") or pull["head"]["sha"]
    base_url = str(((pull.get("base") or {}).get("repo") or {}).get("html_url") or "")

    def blob(path: str, line: int | None) -> str:
        anchor = f"#L{line}" if line else ""
        return f"{base_url}/blob/{commit}/{quote(path)}{anchor}"

    title = str(pull.get("title") or "").replace("(", "").replace(")", "")
    found = [
        Evidence(
            str(pull["html_url"]),
            "implementation",
            f"merged pull request #{number}: {title}".strip().rstrip(":"),
        )
    ]
    for case in verdict.test.found[:1]:
        found.append(
            Evidence(
                blob(case.path, case.line), "test", f"`{case.name}` added by pull request #{number}"
            )
        )
    runbooks = [c for c in verdict.control.changes if "runbook" in c.path.lower()]
    for change in runbooks[:1]:
        found.append(
            Evidence(
                blob(change.path, change.line),
                "runbook",
                f"runbook diff merged by pull request #{number}",
            )
        )
    return found
