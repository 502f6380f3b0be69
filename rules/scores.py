"""The three scores of a hardening item, from the hardening-loop document.

- "Reliability scorecard": five binary rows, minimum closure threshold 4/5.
- "Hardening quality rubric (0–2 per row)": five dimensions, minimum passing total 7/10.
- "Hardening adoption score": five rows (0–5); below 4 adoption is incomplete.

Every row keeps the GitHub fact that decided it (``signal``) and the command or action that
would raise it (``next_step``), so the ``hardening/scorecard`` check run can tell a reader
exactly why a score is what it is and how to move it. docs/scoring.md is the user-facing
version of the rules below; keep the two in step.

Everything here is a pure function of an :class:`~rules.model.ItemFacts`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from rules.logins import login_key, mention, same_login
from rules.model import Evidence, EvidenceKind, HardeningItem, ItemFacts, PullFacts

SCORECARD_THRESHOLD = 4
RUBRIC_THRESHOLD = 7
ADOPTION_THRESHOLD = 4

# Rollout modes in which a control acts on routine delivery (docs/hardening-loop.md: "Control rollout
# sequencing"); shadow mode only observes.
ACTIVE_MODES = frozenset({"warn", "enforce"})

# Failure classes whose control *is* the escalation path (docs/hardening-loop.md: late decision -> checkpoint
# SLA + commander script), so naming two owners is not enough to document escalation.
ESCALATION_CLASSES = frozenset({"late-decision"})

# Reliability scorecard rows, in the hardening loop's words.
TEST_COVERED = "root-cause class now test-covered"
ROLLBACK_TIMED = "rollback path rehearsed and timed"
ESCALATION_DOCUMENTED = "escalation ownership documented"
MONITORING_UPDATED = "monitoring/alerts updated"
RUNBOOK_ACKNOWLEDGED = "runbook update acknowledged by owners"

# Quality rubric dimensions.
CLARITY = "Clarity"
EVIDENCE = "Evidence"
OWNERSHIP = "Ownership"
ADOPTION = "Adoption"
RISK_IMPACT = "Risk impact"

# Adoption score rows.
CONTROL_ENABLED = "control enabled in target environment"
OWNERS_TRAINED = "owners trained and acknowledged"
RUNBOOK_UPDATED = "runbook updated with execution steps"
DASHBOARD_SIGNAL = "dashboard signal confirms runtime execution"
DRILL_USED = "one real incident/drill used the control"


@dataclass(frozen=True)
class Row:
    """One row of a score.

    ``signal`` is the observable fact that decided the points. ``next_step`` is markdown
    naming the command (in backticks) or action that would raise the row; empty at maximum.
    """

    name: str
    points: int
    max_points: int
    signal: str
    next_step: str = ""

    @property
    def met(self) -> bool:
        return self.points >= self.max_points


@dataclass(frozen=True)
class Score:
    """A scored table: its rows, total out of maximum, and whether it reaches its threshold."""

    rows: tuple[Row, ...]
    total: int
    maximum: int
    threshold: int
    passed: bool
    title: str = "Score"

    @property
    def label(self) -> str:
        """``Scorecard n/5``, ``Rubric n/10`` or ``Adoption n/5``."""
        return f"{self.title} {self.total}/{self.maximum}"

    @property
    def unmet(self) -> tuple[Row, ...]:
        """The rows below their maximum, in table order."""
        return tuple(row for row in self.rows if not row.met)


@dataclass(frozen=True)
class Scores:
    scorecard: Score
    rubric: Score
    adoption: Score

    @property
    def label(self) -> str:
        return " · ".join(s.label for s in (self.scorecard, self.rubric, self.adoption))


def _score(title: str, rows: tuple[Row, ...], threshold: int) -> Score:
    total = sum(row.points for row in rows)
    return Score(
        rows=rows,
        total=total,
        maximum=sum(row.max_points for row in rows),
        threshold=threshold,
        passed=total >= threshold,
        title=title,
    )


# --- facts shared by the scores, the gates and the bundle ------------------------------------


def owner_acknowledged(item: HardeningItem) -> bool:
    """Whether the *current* execution owner ran ``/harden ack``.

    An acknowledgement by a previous owner does not count: ownership moved, so must the
    contract (docs/hardening-loop.md: "ownership stays with a departed engineer").
    """
    return any(same_login(who, item.owner) for who in item.acknowledged_by)


def evidence_of(item: HardeningItem, *kinds: EvidenceKind) -> tuple[Evidence, ...]:
    return tuple(e for e in item.evidence if e.kind in kinds)


def merged(pulls: Iterable[PullFacts]) -> tuple[PullFacts, ...]:
    return tuple(p for p in pulls if p.merged)


def control_pulls(facts: ItemFacts) -> tuple[PullFacts, ...]:
    """Merged linked PRs that change the failure class's control paths: the shipped control."""
    return tuple(p for p in merged(facts.pulls) if p.adds_control)


def control_active(facts: ItemFacts) -> bool:
    return bool(control_pulls(facts)) and facts.control_mode in ACTIVE_MODES


def runbook_updates(facts: ItemFacts) -> tuple[str, ...]:
    """Descriptions of the published runbook updates: runbook evidence and merged runbook PRs."""
    found = [f"`runbook` evidence {e.url}" for e in evidence_of(facts.item, "runbook")]
    found += [
        f"PR #{p.number} (merged) changes runbook paths"
        for p in merged(facts.pulls)
        if p.touches_runbook
    ]
    return tuple(found)


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".svg", ".heic")


def is_screenshot(url: str) -> bool:
    """Whether an evidence link is an image rather than a command, log or proof link.

    Image files by extension, and GitHub's drag-and-drop image uploads
    (``github.com/user-attachments/assets/<uuid>``, which carry no extension; uploaded
    non-image files live under ``/user-attachments/files/`` and are not screenshots).
    """
    parts = urlsplit(url.strip())
    path = parts.path.casefold()
    if path.endswith(_IMAGE_SUFFIXES):
        return True
    return parts.netloc.casefold() == "github.com" and path.startswith("/user-attachments/assets/")


_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}
_DURATION_PART = (
    r"([0-9]{1,9}(?:\.[0-9]{1,9})?)\s*(hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])"
)
# A duration starts at the start of a run of digits, never inside one: without the lookbehind
# a search retries from every digit of a long number, quadratic in its length. It finds the same
# durations, because a number that is no duration read from its first digit is none from a
# later one either.
_DURATION = re.compile(rf"(?<!\d)(?:{_DURATION_PART}\s*)+", re.IGNORECASE)
_PART = re.compile(_DURATION_PART, re.IGNORECASE)


def parse_duration(text: str) -> int | None:
    """Seconds in the first duration of ``text`` (``took 4m30s``, ``90 s``, ``1h 5min``).

    Evidence commands record ``duration_seconds`` themselves; this is the fallback for a
    duration written only in an evidence note (for instance by hand in the item body).
    Linear in the length of ``text``, which people type.
    """
    found = _DURATION.search(text)
    if found is None:
        return None
    total = 0.0
    for number, unit in _PART.findall(found.group(0)):
        total += float(number) * _UNIT_SECONDS[unit[0].lower()]
    return round(total)


def format_duration(seconds: int) -> str:
    """``270`` -> ``4m30s``; ``3605`` -> ``1h0m5s``; ``0`` -> ``0s``."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


def evidence_duration(evidence: Evidence) -> int | None:
    """How long a timed rollback took, or None. Only ``rollback`` evidence times a rollback:
    a ``behavioral`` note such as "paged in 1m" states another duration."""
    if evidence.kind != "rollback":
        return None
    if evidence.duration_seconds is not None:
        return evidence.duration_seconds
    return parse_duration(evidence.note)


def is_measurement(evidence: Evidence) -> bool:
    """A note that states a number (``p95 MTTR 42m -> 18m``, ``0 pages missed in 30 days``)."""
    return any(ch.isdigit() for ch in evidence.note)


def _hardens(facts: ItemFacts) -> str:
    return f"`Hardens #{facts.number}`"


def _list(values: Iterable[str]) -> str:
    return ", ".join(values)


# --- reliability scorecard -------------------------------------------------------------------


def _test_covered(facts: ItemFacts) -> Row:
    covered = [p for p in merged(facts.pulls) if p.adds_regression_test]
    if covered:
        pr = covered[0]
        found = (
            f"new regression test {_list(pr.new_tests)}"
            if pr.new_tests
            else "a new regression test case"
        )
        return Row(TEST_COVERED, 1, 1, f"PR #{pr.number} merged; its controls check found {found}")
    tests = evidence_of(facts.item, "test")
    if tests:
        return Row(TEST_COVERED, 1, 1, f"`test` evidence {tests[0].url}")
    pending = [p for p in facts.pulls if p.adds_regression_test]
    if pending:
        return Row(
            TEST_COVERED,
            0,
            1,
            f"PR #{pending[0].number} adds a regression test but is not merged",
            f"merge PR #{pending[0].number}",
        )
    return Row(
        TEST_COVERED,
        0,
        1,
        "no linked PR adds a regression test case and there is no `test` evidence",
        f"merge a PR that says {_hardens(facts)} and adds a regression test case, "
        "or run `/harden evidence URL test`",
    )


def _rollback_timed(facts: ItemFacts) -> Row:
    rollbacks = evidence_of(facts.item, "rollback")
    for evidence in rollbacks:
        seconds = evidence_duration(evidence)
        if seconds is not None:
            return Row(
                ROLLBACK_TIMED,
                1,
                1,
                f"`rollback` evidence {evidence.url} took {format_duration(seconds)}",
            )
    step = "rehearse the rollback, time it, then run `/harden evidence URL rollback took 4m30s`"
    if rollbacks:
        return Row(
            ROLLBACK_TIMED,
            0,
            1,
            f"`rollback` evidence {rollbacks[0].url} states no duration",
            step,
        )
    return Row(ROLLBACK_TIMED, 0, 1, "no `rollback` evidence", step)


def _escalation_documented(facts: ItemFacts) -> Row:
    item = facts.item
    gaps: list[str] = []
    steps: list[str] = []
    if not login_key(item.owner):
        gaps.append("no execution owner")
        steps.append("`/harden owner @user`")
    if not login_key(item.verifier):
        gaps.append("no verifier owner")
        steps.append("`/harden verifier @user`")
    elif same_login(item.owner, item.verifier):
        gaps.append(f"the verifier owner is the execution owner {mention(item.owner)}")
        steps.append("`/harden verifier @user` with someone else")
    documented = ""
    if item.failure_class in ESCALATION_CLASSES:
        changes = [p for p in merged(facts.pulls) if p.touches_escalation or p.touches_runbook]
        runbooks = evidence_of(item, "runbook")
        if changes:
            documented = f"; PR #{changes[0].number} (merged) changes escalation/runbook paths"
        elif runbooks:
            documented = f"; `runbook` evidence {runbooks[0].url}"
        else:
            gaps.append(
                f"a {item.failure_class} item also needs its escalation path written "
                "down, and no merged linked PR changes escalation/runbook paths nor "
                "is there `runbook` evidence"
            )
            steps.append(
                f"merge a PR that says {_hardens(facts)} and changes escalation or "
                "runbook paths, or run `/harden evidence URL runbook`"
            )
    if gaps:
        return Row(ESCALATION_DOCUMENTED, 0, 1, "; ".join(gaps), "; ".join(steps))
    return Row(
        ESCALATION_DOCUMENTED,
        1,
        1,
        f"execution owner {mention(item.owner)} and verifier owner {mention(item.verifier)} "
        f"named on #{facts.number}{documented}",
    )


def _monitoring_updated(facts: ItemFacts) -> Row:
    changes = [p for p in merged(facts.pulls) if p.touches_monitoring]
    if changes:
        return Row(
            MONITORING_UPDATED,
            1,
            1,
            f"PR #{changes[0].number} merged; it changes monitoring/alert paths",
        )
    monitoring = evidence_of(facts.item, "monitoring")
    if monitoring:
        return Row(MONITORING_UPDATED, 1, 1, f"`monitoring` evidence {monitoring[0].url}")
    pending = [p for p in facts.pulls if p.touches_monitoring]
    if pending:
        return Row(
            MONITORING_UPDATED,
            0,
            1,
            f"PR #{pending[0].number} changes monitoring/alert paths but is not merged",
            f"merge PR #{pending[0].number}",
        )
    return Row(
        MONITORING_UPDATED,
        0,
        1,
        "no merged linked PR changes monitoring/alert paths and there is no `monitoring` evidence",
        f"merge a PR that says {_hardens(facts)} and changes alert or monitoring paths, "
        "or run `/harden evidence URL monitoring`",
    )


def _ack_gap(item: HardeningItem) -> tuple[str, str]:
    if not login_key(item.owner):
        return (
            "no execution owner to acknowledge it",
            "`/harden owner @user`, then that owner runs `/harden ack`",
        )
    others = [mention(w) for w in item.acknowledged_by]
    seen = f" (acknowledged by {_list(others)} only)" if others else ""
    return (
        f"execution owner {mention(item.owner)} has not acknowledged it{seen}",
        f"{mention(item.owner)} runs `/harden ack`",
    )


def _runbook_acknowledged(facts: ItemFacts) -> Row:
    item = facts.item
    updates = runbook_updates(facts)
    acked = owner_acknowledged(item)
    if updates and acked:
        return Row(
            RUNBOOK_ACKNOWLEDGED,
            1,
            1,
            f"{updates[0]}; acknowledged by execution owner {mention(item.owner)}",
        )
    gaps: list[str] = []
    steps: list[str] = []
    if updates:
        gaps.append(updates[0])
    else:
        gaps.append("no `runbook` evidence and no merged linked PR changes runbook paths")
        steps.append("run `/harden evidence URL runbook` with the runbook diff")
    if not acked:
        gap, step = _ack_gap(item)
        gaps.append(gap)
        steps.append(step)
    return Row(RUNBOOK_ACKNOWLEDGED, 0, 1, "; ".join(gaps), "; ".join(steps))


def scorecard(facts: ItemFacts, *, threshold: int = SCORECARD_THRESHOLD) -> Score:
    """The hardening loop's reliability scorecard: binary rows, closure at ``threshold`` of 5."""
    rows = (
        _test_covered(facts),
        _rollback_timed(facts),
        _escalation_documented(facts),
        _monitoring_updated(facts),
        _runbook_acknowledged(facts),
    )
    return _score("Scorecard", rows, threshold)


# --- quality rubric --------------------------------------------------------------------------


def _clarity(facts: ItemFacts) -> Row:
    item = facts.item
    control = item.proposed_control.strip()
    failure_class = (item.failure_class or "").strip()
    if not control and not failure_class:
        return Row(
            CLARITY,
            0,
            2,
            "vague task: neither a proposed control nor a failure class",
            "fill `Failure class:` and `Proposed control:` in the item",
        )
    stated = []
    if control:
        stated.append(f"proposed control “{control}”")
    if failure_class:
        stated.append(f"failure class {failure_class}")
    bounded = [p for p in facts.pulls if p.adds_control]
    if control and failure_class and bounded:
        return Row(
            CLARITY,
            2,
            2,
            f"{' for '.join(stated)}; PR #{bounded[0].number} changes the failure "
            "class's control paths",
        )
    steps = []
    if not failure_class:
        steps.append("fill `Failure class:` in the item")
    if not control:
        steps.append("fill `Proposed control:` in the item")
    if not bounded:
        steps.append(
            f"open a PR that says {_hardens(facts)} and changes the failure class's control paths"
        )
    missing = "" if bounded else "; no linked PR changes control paths"
    return Row(CLARITY, 1, 2, f"partial scope: {' for '.join(stated)}{missing}", "; ".join(steps))


def _evidence(facts: ItemFacts) -> Row:
    links = facts.item.evidence
    proof = [e for e in links if not is_screenshot(e.url)]
    step = "run `/harden evidence URL implementation` with a command output, log or CI run link"
    if proof:
        kind = f" ({proof[0].kind})" if proof[0].kind else ""
        return Row(
            EVIDENCE, 2, 2, f"{len(proof)} command/log/proof link(s), e.g. {proof[0].url}{kind}"
        )
    if links:
        return Row(EVIDENCE, 1, 2, f"screenshot only: {_list(e.url for e in links)}", step)
    return Row(EVIDENCE, 0, 2, "no evidence links", step)


def _ownership(facts: ItemFacts) -> Row:
    item = facts.item
    has_owner = bool(login_key(item.owner))
    has_verifier = bool(login_key(item.verifier))
    distinct = has_owner and has_verifier and not same_login(item.owner, item.verifier)
    if distinct and item.due is not None:
        return Row(
            OWNERSHIP,
            2,
            2,
            f"execution owner {mention(item.owner)}, verifier owner "
            f"{mention(item.verifier)}, due {item.due.isoformat()}",
        )
    if not has_owner and not has_verifier:
        return Row(
            OWNERSHIP,
            0,
            2,
            "no execution owner and no verifier owner",
            "`/harden owner @user`; `/harden verifier @user`"
            + ("" if item.due else "; `/harden due YYYY-MM-DD`"),
        )
    seen: list[str] = []
    steps: list[str] = []
    if has_owner:
        seen.append(f"execution owner {mention(item.owner)}")
    else:
        seen.append("no execution owner")
        steps.append("`/harden owner @user`")
    if not has_verifier:
        seen.append("no verifier owner")
        steps.append("`/harden verifier @user`")
    elif same_login(item.owner, item.verifier):
        seen.append("verifier owner is the same person")
        steps.append("`/harden verifier @user` with someone else")
    else:
        seen.append(f"verifier owner {mention(item.verifier)}")
    if item.due is None:
        seen.append("no due date")
        steps.append("`/harden due YYYY-MM-DD`")
    else:
        seen.append(f"due {item.due.isoformat()}")
    return Row(OWNERSHIP, 1, 2, f"single owner only: {', '.join(seen)}", "; ".join(steps))


def _adoption_observed(facts: ItemFacts) -> Row:
    item = facts.item
    behavioral = evidence_of(item, "behavioral")
    if behavioral:
        return Row(
            ADOPTION, 2, 2, f"observed in real workflow: `behavioral` evidence {behavioral[0].url}"
        )
    if facts.drill_or_incident_used:
        return Row(
            ADOPTION, 2, 2, "observed in real workflow: a real incident or drill used the control"
        )
    shipped = control_pulls(facts)
    if shipped and facts.control_mode in ACTIVE_MODES:
        return Row(
            ADOPTION,
            2,
            2,
            f"observed in real workflow: PR #{shipped[0].number} merged and the control "
            f"runs in {facts.control_mode} mode",
        )
    drill = (
        "run a drill or replay an incident with the control, then "
        "`/harden evidence URL behavioral <what happened>`"
    )
    anecdotes: list[str] = []
    if owner_acknowledged(item):
        anecdotes.append(f"acknowledged by {mention(item.owner)}")
    if item.evidence:
        anecdotes.append(f"{len(item.evidence)} evidence link(s)")
    landed = merged(facts.pulls)
    if shipped:
        anecdotes.append(
            f"PR #{shipped[0].number} merged but the control runs in {facts.control_mode} mode"
        )
        drill = (
            "raise the control's rollout mode to `warn` or `enforce` in "
            f".github/hardening.yml, or {drill}"
        )
    elif landed:
        anecdotes.append(f"PR #{landed[0].number} merged without a control change")
    if anecdotes:
        return Row(ADOPTION, 1, 2, f"anecdotal: {', '.join(anecdotes)}", drill)
    return Row(ADOPTION, 0, 2, "unverified: no acknowledgement, evidence or merged PR", drill)


def _risk_impact(facts: ItemFacts) -> Row:
    """The rubric's Risk impact, read with the hardening loop's experiment design when the item states it:
    a ``Hypothesis`` alone is an assumption; a measurement (against the ``Measure``, if given)
    is the measured trend impact."""
    item = facts.item
    hypothesis, measure = " ".join(item.hypothesis.split()), " ".join(item.measure.split())
    measured = [e for e in evidence_of(item, "monitoring", "behavioral") if is_measurement(e)]
    if measured:
        e = measured[0]
        against = f" against the measure “{measure}”" if measure else ""
        return Row(
            RISK_IMPACT,
            2,
            2,
            f"measured trend impact: `{e.kind}` evidence {e.url} “{e.note.strip()}”{against}",
        )
    what = (
        f"the measure “{measure}”" if measure else "the measured change, e.g. p95 MTTR 42m -> 18m"
    )
    step = f"run `/harden evidence URL monitoring <{what}>` (or `behavioral`)"
    if hypothesis:
        return Row(RISK_IMPACT, 1, 2, f"assumed: hypothesis “{hypothesis}”, not measured yet", step)
    if item.priority:
        return Row(RISK_IMPACT, 1, 2, f"assumed: priority band {item.priority}", step)
    return Row(
        RISK_IMPACT,
        0,
        2,
        "unknown: no priority band, hypothesis or measurement",
        f"fill `Priority band:` or `Hypothesis:` in the item, or {step}",
    )


def rubric(facts: ItemFacts, *, threshold: int = RUBRIC_THRESHOLD) -> Score:
    """The hardening loop's quality rubric: five dimensions 0–2, passing at ``threshold``/10."""
    rows = (
        _clarity(facts),
        _evidence(facts),
        _ownership(facts),
        _adoption_observed(facts),
        _risk_impact(facts),
    )
    return _score("Rubric", rows, threshold)


# --- adoption score --------------------------------------------------------------------------


def _control_enabled(facts: ItemFacts) -> Row:
    shipped = control_pulls(facts)
    if shipped and facts.control_mode in ACTIVE_MODES:
        return Row(
            CONTROL_ENABLED,
            1,
            1,
            f"PR #{shipped[0].number} merged with a control change; the control runs in "
            f"{facts.control_mode} mode",
        )
    if shipped:
        return Row(
            CONTROL_ENABLED,
            0,
            1,
            f"PR #{shipped[0].number} merged but the control runs in {facts.control_mode} mode",
            "raise the control's rollout mode to `warn` or `enforce` in "
            ".github/hardening.yml (`mode:` or `controls:`)",
        )
    pending = [p for p in facts.pulls if p.adds_control]
    if pending:
        return Row(
            CONTROL_ENABLED,
            0,
            1,
            f"PR #{pending[0].number} changes control paths but is not merged",
            f"merge PR #{pending[0].number}",
        )
    return Row(
        CONTROL_ENABLED,
        0,
        1,
        "no linked PR changes the failure class's control paths",
        f"merge a PR that says {_hardens(facts)} and changes the control paths",
    )


def _owners_trained(facts: ItemFacts) -> Row:
    item = facts.item
    if owner_acknowledged(item):
        return Row(
            OWNERS_TRAINED,
            1,
            1,
            f"execution owner {mention(item.owner)} acknowledged with `/harden ack`",
        )
    gap, step = _ack_gap(item)
    return Row(OWNERS_TRAINED, 0, 1, gap, step)


def _runbook_updated(facts: ItemFacts) -> Row:
    updates = runbook_updates(facts)
    if updates:
        return Row(RUNBOOK_UPDATED, 1, 1, updates[0])
    return Row(
        RUNBOOK_UPDATED,
        0,
        1,
        "no `runbook` evidence and no merged linked PR changes runbook paths",
        "run `/harden evidence URL runbook` with the runbook diff, or merge a PR that "
        f"says {_hardens(facts)} and changes runbook paths",
    )


def _dashboard_signal(facts: ItemFacts) -> Row:
    monitoring = evidence_of(facts.item, "monitoring")
    if monitoring:
        return Row(DASHBOARD_SIGNAL, 1, 1, f"`monitoring` evidence {monitoring[0].url}")
    return Row(
        DASHBOARD_SIGNAL,
        0,
        1,
        "no `monitoring` evidence",
        "run `/harden evidence URL monitoring` with a dashboard or log link showing the "
        "control running",
    )


def _drill_used(facts: ItemFacts) -> Row:
    behavioral = evidence_of(facts.item, "behavioral")
    if behavioral:
        return Row(DRILL_USED, 1, 1, f"`behavioral` evidence {behavioral[0].url}")
    if facts.drill_or_incident_used:
        return Row(DRILL_USED, 1, 1, "a real incident or drill used the control")
    return Row(
        DRILL_USED,
        0,
        1,
        "no `behavioral` evidence",
        "run a drill or replay an incident with the control, then "
        "`/harden evidence URL behavioral <what happened>`",
    )


def adoption(facts: ItemFacts, *, threshold: int = ADOPTION_THRESHOLD) -> Score:
    """The hardening loop's adoption score (0–5); adoption is complete at ``threshold``."""
    rows = (
        _control_enabled(facts),
        _owners_trained(facts),
        _runbook_updated(facts),
        _dashboard_signal(facts),
        _drill_used(facts),
    )
    return _score("Adoption", rows, threshold)


def evaluate(
    facts: ItemFacts,
    *,
    scorecard_threshold: int = SCORECARD_THRESHOLD,
    rubric_threshold: int = RUBRIC_THRESHOLD,
    adoption_threshold: int = ADOPTION_THRESHOLD,
) -> Scores:
    """All three scores of one item; thresholds come from config."""
    return Scores(
        scorecard=scorecard(facts, threshold=scorecard_threshold),
        rubric=rubric(facts, threshold=rubric_threshold),
        adoption=adoption(facts, threshold=adoption_threshold),
    )
