"""What the two pull request check runs say: ``hardening/controls`` and ``hardening/scorecard``.

The hardening loop's 24–72h artifact is "one automation control + one regression test", rolled out in
three phases ("Control rollout sequencing": shadow → warn → enforce), and every hardening item is
measured by the reliability scorecard, the quality rubric and the adoption score. This module
turns the verdicts of :mod:`rules.diff` and the scores of :mod:`rules.scores` into the title,
summary, annotations and conclusion of a check run. Pure: no I/O, no clock.

Decisions documented in docs/checks.md:

- a requirement in ``shadow`` mode posts nothing (no row verdict, no annotation, no effect on the
  conclusion); ``warn`` makes an unmet requirement ``neutral`` and names the owner; ``enforce``
  makes it ``failure``; a met requirement is ``success``. The conclusion is the worst posted one.
- an invalid ``.github/hardening.yml`` on the base branch makes both checks ``failure``;
  an invalid one proposed by the pull request makes ``hardening/controls`` ``failure`` too,
  whatever the modes, because merging it would break every check on the repository.
- ``hardening/scorecard`` is informational: ``success`` when every linked item meets all three
  thresholds, else ``neutral``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rules.config import ConfigError, Thresholds
from rules.diff import MAX_PULL_FILES, PullVerdict
from rules.model import ItemFacts
from rules.scores import Row, Score, evaluate
from rules.text import inert, inert_line

CONTROLS_CHECK = "hardening/controls"
SCORECARD_CHECK = "hardening/scorecard"
CHECK_NAMES: tuple[str, ...] = (CONTROLS_CHECK, SCORECARD_CHECK)

REGRESSION_TEST = "regression-test"
CONTROL_CHANGE = "control-change"
REQUIREMENTS: tuple[str, ...] = (REGRESSION_TEST, CONTROL_CHANGE)

MAX_ANNOTATIONS_PER_REQUEST = 50  # checks API: at most 50 annotations per create or update
MAX_OUTPUT_CHARS = 65535  # checks API: summary and text limit each
MAX_TITLE_CHARS = 255

# The check run button (at most 3 per run; label <= 20, description <= 40, identifier <= 20).
RECHECK = "recheck"
RECHECK_ACTION: dict[str, str] = {
    "label": "Re-check",
    "description": "Evaluate this pull request again",
    "identifier": RECHECK,
}

Mode = Literal["shadow", "warn", "enforce"]
Conclusion = Literal["success", "neutral", "failure"]
_SEVERITY: dict[str, int] = {"success": 0, "neutral": 1, "failure": 2}

_REQUIREMENT_TITLE = {REGRESSION_TEST: "Regression test", CONTROL_CHANGE: "Control change"}
# Annotation titles rules.diff gives to control-path findings; every other one is about tests.
_CONTROL_ANNOTATIONS = frozenset({"Control change", "Not a control change"})
_TRUNCATED = (
    "… (cut here: GitHub accepts at most 65,535 characters; the rest is in the check run's details)"
)


@dataclass(frozen=True)
class CheckOutput:
    """One check run as we want it on GitHub. ``annotations`` are in the checks API shape."""

    name: str
    conclusion: Conclusion
    title: str
    summary: str
    text: str = ""
    annotations: tuple[dict[str, Any], ...] = ()
    actions: tuple[dict[str, str], ...] = ()

    def fingerprint(self) -> str:
        """Identity of everything the run shows, to skip a write that would change nothing."""
        return _digest(
            [
                self.name,
                self.conclusion,
                self.title,
                self.summary,
                self.text,
                list(self.annotations),
                list(self.actions),
            ]
        )

    def annotations_fingerprint(self) -> str:
        """Identity of the annotations alone: GitHub appends them, it never replaces them."""
        return _digest(list(self.annotations))

    def batches(self) -> list[tuple[dict[str, Any], ...]]:
        """The annotations in requests of at most 50 (always at least one, maybe empty)."""
        return annotation_batches(self.annotations)


def annotation_batches(
    annotations: Sequence[dict[str, Any]], size: int = MAX_ANNOTATIONS_PER_REQUEST
) -> list[tuple[dict[str, Any], ...]]:
    """``annotations`` cut into consecutive batches of at most ``size``; ``[()]`` for none."""
    if not annotations:
        return [()]
    return [tuple(annotations[i : i + size]) for i in range(0, len(annotations), size)]


def worst(conclusions: Iterable[Conclusion]) -> Conclusion | None:
    """The most severe conclusion (failure > neutral > success); None for none."""
    found = list(conclusions)
    if not found:
        return None
    most: Conclusion = max(found, key=_SEVERITY.__getitem__)
    return most


def requirement_conclusion(met: bool, mode: Mode) -> Conclusion | None:
    """A requirement's posted conclusion under its rollout mode; None in shadow mode."""
    if mode == "shadow":
        return None
    if met:
        return "success"
    return "neutral" if mode == "warn" else "failure"


# --- hardening/controls ----------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    """One failure class a pull request is judged by, where it came from, and its verdict.

    ``sources`` are human words such as "label `failure-class:missed-detection`" or
    "`Hardens #12`".
    """

    failure_class: str
    verdict: PullVerdict
    sources: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConfigProposal:
    """A ``.github/hardening.yml`` the pull request proposes: its errors and its effect."""

    path: str
    errors: tuple[ConfigError, ...] = ()
    differences: tuple[str, ...] = ()
    removed: bool = False


@dataclass(frozen=True)
class ControlsInput:
    """Everything ``hardening/controls`` shows, gathered by the shell."""

    judged: tuple[Judged, ...]
    modes: Mapping[str, Mode]
    owner: str | None = None  # login named in warn mode
    owner_role: str = ""  # e.g. "execution owner of #12", "author of this pull request"
    base_ref: str = "main"
    files_read: int = 0
    files_without_patch: tuple[str, ...] = ()
    proposal: ConfigProposal | None = None
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class RequirementResult:
    requirement: str
    mode: Mode
    met: bool
    proof: tuple[str, ...]
    missing: tuple[str, ...]
    conclusion: Conclusion | None


def requirement_results(data: ControlsInput) -> tuple[RequirementResult, ...]:
    """Both requirements across every judged class: a test once, a control for every class."""
    results = []
    for requirement in REQUIREMENTS:
        mode = data.modes.get(requirement, "warn")
        if requirement == REGRESSION_TEST:
            met = all(j.verdict.test.satisfied for j in data.judged)
            proof = _unique(c.describe() for j in data.judged for c in j.verdict.test.found)
            missing = _unique(
                _sentence(j.verdict, REGRESSION_TEST)
                for j in data.judged[:1]
                if not j.verdict.test.satisfied
            )
        else:
            met = all(j.verdict.control.satisfied for j in data.judged)
            proof = _unique(c.describe() for j in data.judged for c in j.verdict.control.changes)
            missing = _unique(
                _sentence(j.verdict, CONTROL_CHANGE)
                for j in data.judged
                if not j.verdict.control.satisfied
            )
        results.append(
            RequirementResult(
                requirement, mode, met, proof, missing, requirement_conclusion(met, mode)
            )
        )
    return tuple(results)


def _sentence(verdict: PullVerdict, requirement: str) -> str:
    """rules.diff's sentence for one unmet requirement: it lists the test's first, then the
    control's, each opening with its name."""
    opening = "Regression test" if requirement == REGRESSION_TEST else "Control"
    for sentence in verdict.missing:
        if sentence.startswith(opening):
            return sentence
    if not verdict.missing:
        return f"{_REQUIREMENT_TITLE[requirement]}: missing."
    return verdict.missing[0] if requirement == REGRESSION_TEST else verdict.missing[-1]


def shadow_failures(data: ControlsInput) -> tuple[str, ...]:
    """Failure classes whose verdict would have failed a requirement running in shadow mode."""
    failing: list[str] = []
    test_shadow = data.modes.get(REGRESSION_TEST) == "shadow"
    control_shadow = data.modes.get(CONTROL_CHANGE) == "shadow"
    for j in data.judged:
        test_fails = test_shadow and not j.verdict.test.satisfied
        if test_fails or (control_shadow and not j.verdict.control.satisfied):
            failing.append(j.failure_class)
    return _unique(failing)


def controls_output(data: ControlsInput) -> CheckOutput | None:
    """The ``hardening/controls`` run, or None when every requirement is in shadow mode and the
    pull request proposes no invalid configuration (nothing to post)."""
    results = requirement_results(data)
    posted = [r for r in results if r.conclusion is not None]
    proposal_broken = data.proposal is not None and bool(data.proposal.errors)
    conclusion = worst(
        [*(r.conclusion for r in posted if r.conclusion)] + (["failure"] if proposal_broken else [])
    )
    if conclusion is None:
        return None
    classes = ", ".join(j.failure_class for j in data.judged)
    unmet = [r for r in posted if not r.met]
    if proposal_broken:
        title = f"Invalid {data.proposal.path} proposed" if data.proposal else ""
        if unmet:
            title += "; missing " + _and([_REQUIREMENT_TITLE[r.requirement].lower() for r in unmet])
    elif unmet:
        title = "Missing " + _and([_REQUIREMENT_TITLE[r.requirement].lower() for r in unmet])
        if any(r.mode == "warn" for r in unmet) and data.owner:
            title += f" (owner @{data.owner})"
    else:
        title = _and([_REQUIREMENT_TITLE[r.requirement] for r in posted]) + " found"
    title += f" · {classes}"

    lines = [
        f"**Judged as** {_judged_words(data.judged)}, with the configuration of the base "
        f"branch `{data.base_ref}`.",
        "",
        "| Requirement | Mode | Result | Proof |",
        "|---|---|---|---|",
    ]
    for r in results:
        if r.mode == "shadow":
            result, proof = "not reported (shadow mode)", "—"
        else:
            result = "✅ met" if r.met else ("❌ missing" if r.mode == "enforce" else "⚠️ missing")
            proof = _cell(_names(list(r.proof))) if r.proof else "—"
        lines.append(f"| {_REQUIREMENT_TITLE[r.requirement]} | {r.mode} | {result} | {proof} |")
    if unmet:
        lines += ["", "### What would satisfy it"]
        lines += [f"- {inert_line(sentence)}" for r in unmet for sentence in r.missing]
        if data.owner:
            role = f" ({data.owner_role})" if data.owner_role else ""
            lines += ["", f"**Owner:** @{data.owner}{role}."]
        if any(r.mode == "warn" for r in unmet):
            lines.append("Warn mode: this does not block merging; in `enforce` mode it would fail.")
    if data.proposal is not None:
        lines += ["", *_proposal_lines(data.proposal, data.base_ref)]
    notes = _pull_notes(data, results)
    if notes:
        lines += ["", "### Notes", *(f"- {inert_line(note)}" for note in notes)]
    lines += ["", "Re-run this check from the Checks tab, or press **Re-check**."]
    annotations = _controls_annotations(data, results)
    return CheckOutput(
        name=CONTROLS_CHECK,
        conclusion=conclusion,
        title=_cut(title, MAX_TITLE_CHARS),
        summary=_cut("\n".join(lines), MAX_OUTPUT_CHARS),
        annotations=annotations,
        actions=(dict(RECHECK_ACTION),),
    )


def _judged_words(judged: Sequence[Judged]) -> str:
    parts = []
    for j in judged:
        where = f" ({', '.join(j.sources)})" if j.sources else ""
        parts.append(inert_line(f"**{j.failure_class}**{where}"))
    return _and(parts)


def _proposal_lines(proposal: ConfigProposal, base_ref: str) -> list[str]:
    lines = [
        f"### This pull request changes `{proposal.path}`",
        f"It is judged by the configuration on `{base_ref}`; the change takes effect once merged.",
    ]
    if proposal.removed:
        lines.append(
            "It deletes the file: the organisation's file and the shipped defaults would apply."
        )
    if proposal.errors:
        lines.append(
            "The proposed file is **invalid**; merging it would make every hardening "
            "check on this repository fail:"
        )
        lines += [f"- {_error_text(e)}" for e in proposal.errors]
    elif proposal.differences:
        lines.append("Once merged it would change:")
        lines += [f"- {inert_line(d)}" for d in proposal.differences]
    else:
        lines.append("It makes no difference to the effective configuration.")
    return lines


def _pull_notes(data: ControlsInput, results: Sequence[RequirementResult]) -> list[str]:
    notes: list[str] = []
    truncated = any(j.verdict.truncated for j in data.judged)
    if truncated:
        notes.append(
            f"GitHub lists at most {MAX_PULL_FILES:,} files of a pull request; {data.files_read:,}"
            " were read and any beyond were not. Split the pull request to have all of it read."
        )
    if data.files_without_patch:
        shown = _names(list(data.files_without_patch))
        notes.append(
            f"GitHub sent no diff for {len(data.files_without_patch)} file(s) (binary, or too "
            f"large to show): {shown}. A new test case there cannot be confirmed."
        )
    shadowed = {r.requirement for r in results if r.mode == "shadow"}
    seen: set[str] = set()
    for j in data.judged:
        for note in j.verdict.notes:
            if note in seen or (truncated and note.startswith("GitHub returned the maximum")):
                continue
            if REGRESSION_TEST in shadowed and not note.startswith("Control"):
                continue
            if CONTROL_CHANGE in shadowed and note.startswith("Control"):
                continue
            seen.add(note)
            notes.append(note)
    notes += list(data.notes)
    return notes


def _controls_annotations(
    data: ControlsInput, results: Sequence[RequirementResult]
) -> tuple[dict[str, Any], ...]:
    modes = {r.requirement: r.mode for r in results}
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for j in data.judged:
        for annotation in j.verdict.annotations:
            requirement = (
                CONTROL_CHANGE if annotation.title in _CONTROL_ANNOTATIONS else REGRESSION_TEST
            )
            mode = modes[requirement]
            if mode == "shadow":
                continue
            shaped = annotation.as_github()
            # The path stays as GitHub named the file; the words shown with it are copied text.
            shaped["title"] = inert_line(shaped["title"])
            shaped["message"] = inert(shaped["message"])
            if shaped["annotation_level"] != "notice":
                shaped["annotation_level"] = "failure" if mode == "enforce" else "warning"
            key = _digest(shaped)
            if key not in seen:
                seen.add(key)
                out.append(shaped)
    if data.proposal is not None:
        out += [
            _error_annotation(e, data.proposal.path, "Invalid proposed configuration")
            for e in data.proposal.errors
            if e.file == data.proposal.path and e.line
        ]
    return tuple(out)


# --- configuration errors and scope ----------------------------------------------------------


def config_error_output(
    name: str,
    errors: Sequence[ConfigError],
    *,
    repo_config_path: str,
    base_ref: str,
    proposal: ConfigProposal | None = None,
) -> CheckOutput:
    """A check that fails because the configuration that judges the pull request is invalid.

    Errors in the repository's own file are annotated on their line; errors in the
    organisation's file are listed only (that file is not in this repository). ``proposal`` is
    the pull request's own version of the file, e.g. the fix.
    """
    lines = [
        f"The hardening configuration of the base branch `{base_ref}` is invalid, so this pull "
        "request cannot be checked. Nothing falls back silently: fix the file below on "
        f"`{base_ref}`, then press **Re-check** or push to this pull request. Fixing the file "
        "does not re-run this check by itself; every run reads the configuration afresh.",
        "",
        *(f"- {_error_text(e)}" for e in errors),
    ]
    if proposal is not None:
        lines += ["", *_proposal_lines(proposal, base_ref)]
    first = errors[0] if errors else None
    where = first.file if first else repo_config_path
    if first and first.line:
        where += f" line {first.line}"
    annotations = tuple(
        _error_annotation(e, repo_config_path, "Invalid hardening configuration")
        for e in errors
        if e.file == repo_config_path and e.line and proposal is None
    )
    if proposal is not None:
        # The pull request changes the file: annotate its own version, not the base's lines.
        annotations = tuple(
            _error_annotation(e, proposal.path, "Invalid proposed configuration")
            for e in proposal.errors
            if e.file == proposal.path and e.line
        )
    return CheckOutput(
        name=name,
        conclusion="failure",
        title=_cut(f"Invalid configuration: {where}", MAX_TITLE_CHARS),
        summary=_cut("\n".join(lines), MAX_OUTPUT_CHARS),
        annotations=annotations[:MAX_ANNOTATIONS_PER_REQUEST],
        actions=(dict(RECHECK_ACTION),),
    )


def out_of_scope_output(name: str, *, failure_class_prefix: str) -> CheckOutput:
    """Completes a run left from when the pull request was in scope, instead of leaving it stale."""
    return CheckOutput(
        name=name,
        conclusion="neutral",
        title="No longer in scope",
        summary=(
            f"This pull request no longer carries a `{failure_class_prefix}<slug>` label and its "
            "description no longer says `Hardens #N` for a hardening issue, so it is not checked. "
            "Add either one back to have it checked again."
        ),
    )


def superseded_output(name: str, head_sha: str) -> CheckOutput:
    """For a re-run requested on a commit that is no longer the pull request's head."""
    return CheckOutput(
        name=name,
        conclusion="neutral",
        title="Outdated commit",
        summary=(
            f"This commit is no longer the head of the pull request; the checks run on its head "
            f"`{head_sha[:12]}`."
        ),
    )


def _error_text(error: ConfigError) -> str:
    where = error.file if error.line is None else f"{error.file} line {error.line}"
    key = f" `{error.path}`" if error.path else ""
    return inert_line(f"{where}{key}: {error.reason}")


def _error_annotation(error: ConfigError, path: str, title: str) -> dict[str, Any]:
    line = int(error.line or 1)
    key = f"{error.path}: " if error.path else ""
    return {
        "path": path,
        "start_line": line,
        "end_line": line,
        "annotation_level": "failure",
        "title": title,
        "message": inert(f"{key}{error.reason}"),
    }


# --- hardening/scorecard ---------------------------------------------------------------------


@dataclass(frozen=True)
class ItemScores:
    """One linked hardening item and its three scores."""

    number: int
    title: str
    status: str
    scorecard: Score
    rubric: Score
    adoption: Score
    pulls_limit: int | None = None  # see ItemFacts.pulls_limit
    pulls_left_out: tuple[int, ...] = ()

    @property
    def passed(self) -> bool:
        return self.scorecard.passed and self.rubric.passed and self.adoption.passed

    @property
    def totals(self) -> str:
        return " · ".join(s.label for s in (self.scorecard, self.rubric, self.adoption))


def item_scores(facts: ItemFacts, thresholds: Thresholds) -> ItemScores:
    """The three scores of one item under the configured thresholds."""
    scores = evaluate(facts, **thresholds.keywords())
    return ItemScores(
        number=facts.number,
        title=facts.title,
        status=facts.item.status,
        scorecard=scores.scorecard,
        rubric=scores.rubric,
        adoption=scores.adoption,
        pulls_limit=facts.pulls_limit,
        pulls_left_out=facts.pulls_left_out,
    )


def _first_numbers(numbers: Sequence[int], shown: int = 10) -> str:
    """``#1, #2, …``: the first ``shown`` numbers, and an ellipsis when there are more."""
    return ", ".join(f"#{n}" for n in numbers[:shown]) + (", …" if len(numbers) > shown else "")


def unread_references_note(unread: Sequence[int], limit: int) -> str:
    """Says which ``Hardens #N`` references were beyond ``limits.hardens_references``."""
    return (
        f"Only the first {limit} `Hardens #N` references are read "
        f"(`limits.hardens_references` in `.github/hardening.yml`); {len(unread)} more were not "
        f"read: {_first_numbers(unread)}."
    )


def stale_scorecards_note(pulls: Sequence[int], limit: int) -> str:
    """Says which other pull requests' scorecards one delivery left as they were, beyond the
    ``limit`` it refreshes (``limits.linked_pulls_per_item``)."""
    return (
        f"The items this pull request moved to in progress are linked by more open pull requests "
        f"than the {limit} whose scorecards one event refreshes "
        f"(`limits.linked_pulls_per_item` in `.github/hardening.yml`); {len(pulls)} keep their "
        f"earlier scorecard until their own next event: {_first_numbers(pulls)}."
    )


def scorecard_output(
    items: Sequence[ItemScores],
    *,
    not_items: Sequence[int] = (),
    failure_classes: Sequence[str] = (),
    unread: Sequence[int] = (),
    references_limit: int = 0,
    stale: Sequence[int] = (),
    refresh_limit: int = 0,
) -> CheckOutput:
    """The ``hardening/scorecard`` run for every hardening item the pull request links.

    ``not_items`` are numbers the description says it hardens that are not hardening issues;
    ``unread`` the references beyond ``references_limit``, reported and not read; ``stale``
    the other pull requests whose scorecards were not refreshed, beyond ``refresh_limit``.
    """
    ignored = ""
    if not_items:
        ignored = (
            f"Not hardening issues (no Hardening Item template): "
            f"{', '.join(f'#{n}' for n in not_items)}."
        )
    if unread:
        note = unread_references_note(unread, references_limit)
        ignored = f"{ignored}\n\n{note}" if ignored else note
    if stale:
        note = stale_scorecards_note(stale, refresh_limit)
        ignored = f"{ignored}\n\n{note}" if ignored else note
    if not items:
        classes = f" ({', '.join(failure_classes)})" if failure_classes else ""
        summary = (
            f"This pull request is checked by its failure class{classes} but links no hardening "
            "item. Write `Hardens #N` in its description (N: the hardening issue) to see that "
            "item's reliability scorecard, quality rubric and adoption score here."
        )
        return CheckOutput(
            name=SCORECARD_CHECK,
            conclusion="neutral",
            title="No hardening item linked",
            summary=summary + (f"\n\n{ignored}" if ignored else ""),
        )
    passed = all(i.passed for i in items)
    if len(items) == 1:
        title = f"#{items[0].number}: {items[0].totals}"
    else:
        met = sum(1 for i in items if i.passed)
        title = f"{met} of {len(items)} linked items meet every threshold"
    lines = [
        "Scores of the hardening items this pull request links, read from the items and their "
        "linked pull requests. Informational: this check never blocks merging; it is "
        "`success` when every linked item meets all three thresholds.",
        "",
        "| Item | Status | Scorecard | Rubric | Adoption |",
        "|---|---|---|---|---|",
    ]
    for i in items:
        lines.append(
            f"| #{i.number} {_cell(i.title)} | {i.status} | {_total(i.scorecard)} | "
            f"{_total(i.rubric)} | {_total(i.adoption)} |"
        )
    if ignored:
        lines += ["", ignored]
    for i in items:
        lines += ["", f"## #{i.number} {_cell(i.title)}", f"**{i.totals}** · status {i.status}"]
        if i.pulls_limit is not None:
            lines += [
                "",
                f"More pull requests link this item than the {i.pulls_limit} read "
                "(`limits.linked_pulls_per_item` in `.github/hardening.yml`); the scores count "
                f"{i.pulls_limit} of them: merged ones first, then those by people with write "
                "access, then the newest."
                + (f" Left out: {_numbers(i.pulls_left_out)}." if i.pulls_left_out else ""),
            ]
        for score, heading in (
            (i.scorecard, "Reliability scorecard"),
            (i.rubric, "Quality rubric"),
            (i.adoption, "Adoption score"),
        ):
            lines += ["", *_score_table(score, heading)]
    return CheckOutput(
        name=SCORECARD_CHECK,
        conclusion="success" if passed else "neutral",
        title=_cut(title, MAX_TITLE_CHARS),
        summary=_cut("\n".join(lines), MAX_OUTPUT_CHARS),
    )


def _total(score: Score) -> str:
    mark = "✅" if score.passed else "⚠️"
    return f"{mark} {score.label} (needs {score.threshold})"


def _score_table(score: Score, heading: str) -> list[str]:
    lines = [
        f"### {heading}: {score.label} (threshold {score.threshold})",
        "",
        "| Row | Points | Signal | Next step |",
        "|---|---|---|---|",
    ]
    lines += [_row(row) for row in score.rows]
    return lines


def _row(row: Row) -> str:
    return (
        f"| {_cell(row.name)} | {row.points}/{row.max_points} | {_cell(row.signal)} | "
        f"{_cell(row.next_step) or '—'} |"
    )


# --- small helpers ---------------------------------------------------------------------------


def _digest(value: Any) -> str:
    raw = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _and(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _names(items: list[str], shown: int = 5) -> str:
    more = len(items) - shown
    text = ", ".join(items[:shown])
    return f"{text} and {more} more" if more > 0 else text


def _numbers(numbers: Sequence[int], shown: int = 10) -> str:
    """``#1, #2, …`` (the first ``shown`` of them, then how many more)."""
    text = ", ".join(f"#{n}" for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")


def _cell(text: str) -> str:
    """Text safe inside a markdown table cell, mentioning no one."""
    return inert_line(text).replace("|", "\\|")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    if limit < len(_TRUNCATED) + 10:
        return text[: limit - 1] + "…"
    return text[: limit - len(_TRUNCATED) - 1] + "\n" + _TRUNCATED
