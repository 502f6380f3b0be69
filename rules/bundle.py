"""The hardening loop's "Completion evidence bundle" (docs/scoring.md#completion-evidence-bundle), rendered as markdown.

One bundle archives: incident id + short summary, controls shipped, test evidence links,
runbook/process diffs, residual action owners + due dates. ``item_bundle`` is posted on a
hardening item when it is verified; ``incident_bundle`` on the incident once its items are
verified or retired. Each starts with a hidden marker so the shell finds its earlier bundle and
edits it in place instead of posting a second one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from rules import markers
from rules.logins import login_key, mention
from rules.model import Evidence, EvidenceKind, ItemFacts, PullFacts
from rules.risk import RiskEntry
from rules.scores import (
    ADOPTION_THRESHOLD,
    RUBRIC_THRESHOLD,
    SCORECARD_THRESHOLD,
    Scores,
    evaluate,
    evidence_duration,
    evidence_of,
    format_duration,
    merged,
    parse_duration,
)
from rules.text import inert, inert_line, inert_url

ITEM_MARKER = markers.ITEM_BUNDLE
INCIDENT_MARKER = markers.INCIDENT_BUNDLE

NONE = "_none_"

_SPACE = re.compile(r"\s+")


def _text(value: str) -> str:
    """User text on one line, unable to forge our markers or break a table cell."""
    return inert_line(value).replace("|", "\\|")


def _block(value: str) -> str:
    """User text kept on its lines (a summary), unable to forge our markers."""
    return inert(value.strip())


def _who(login: str | None) -> str:
    return mention(login) if login_key(login) else "none (`/harden owner @user`)"


def _when(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _evidence_line(evidence: Evidence) -> str:
    details: list[str] = [evidence.kind or "link"]
    seconds = evidence_duration(evidence)
    # A note that already states the time ("took 4m30s") is not followed by it a second time.
    if seconds is not None and parse_duration(evidence.note) is None:
        details.append(f"took {format_duration(seconds)}")
    note = f": {_text(evidence.note)}" if evidence.note.strip() else ""
    url = inert_url(evidence.url.strip())
    return f"{url} ({', '.join(details)}){note}"


def _section(title: str, lines: Iterable[str]) -> list[str]:
    body = [f"- {line}" for line in dict.fromkeys(lines)]
    return [f"### {title}", *(body or [NONE]), ""]


def _refs(numbers: list[int], show: bool) -> str:
    return f" (hardens {', '.join(f'#{n}' for n in numbers)})" if show else ""


def _pull_lines(
    items: Sequence[ItemFacts],
    show_item: bool,
    keep: Callable[[PullFacts], bool],
    describe: Callable[[PullFacts], str],
) -> list[str]:
    """One line per merged PR that ``keep`` selects, naming every item it hardens."""
    hardens: dict[int, list[int]] = {}
    pulls: dict[int, PullFacts] = {}
    for facts in items:
        for pr in merged(facts.pulls):
            if keep(pr):
                hardens.setdefault(pr.number, []).append(facts.number)
                pulls[pr.number] = pr
    return [
        f"PR #{n}{_refs(hardens[n], show_item)}{describe(pulls[n])}: {pulls[n].url}"
        for n in sorted(pulls)
    ]


def _evidence_lines(items: Sequence[ItemFacts], show_item: bool, kind: EvidenceKind) -> list[str]:
    return [
        f"{_evidence_line(e)}{f' (#{facts.number})' if show_item else ''}"
        for facts in items
        for e in evidence_of(facts.item, kind)
    ]


def _controls(items: Sequence[ItemFacts], show_item: bool) -> list[str]:
    return _pull_lines(items, show_item, lambda pr: pr.adds_control, lambda pr: "")


def _tests(items: Sequence[ItemFacts], show_item: bool) -> list[str]:
    def found(pr: PullFacts) -> str:
        return f" adds {', '.join(pr.new_tests) or 'a new regression test case'}"

    return [
        *_pull_lines(items, show_item, lambda pr: pr.adds_regression_test, found),
        *_evidence_lines(items, show_item, "test"),
    ]


def _runbooks(items: Sequence[ItemFacts], show_item: bool) -> list[str]:
    return [
        *_pull_lines(
            items,
            show_item,
            lambda pr: pr.touches_runbook or pr.touches_escalation,
            lambda pr: " changes runbook/escalation paths",
        ),
        *_evidence_lines(items, show_item, "runbook"),
    ]


def _other_evidence(facts: ItemFacts) -> list[str]:
    return [_evidence_line(e) for e in facts.item.evidence if e.kind not in ("test", "runbook")]


def _residual(facts: ItemFacts, scores: Scores, show_item: bool) -> list[str]:
    """What is still owed on one item: the item itself if unresolved, else its adoption."""
    item = facts.item
    of = f"#{facts.number} " if show_item else ""
    due = item.due.isoformat() if item.due else "no due date (`/harden due YYYY-MM-DD`)"
    if item.status == "retired":
        rationale = _text(item.retired_rationale or "") or "no rationale recorded"
        return [f"{of}retired: {rationale}"]
    if item.status != "verified":
        band = f"{item.priority}, " if item.priority else ""
        return [f"{of}({band}{item.status}): owner {_who(item.owner)}, due {due}"]
    lines = []
    if item.adoption_check is not None:
        lines.append(
            f"{of}adoption check on {item.adoption_check.isoformat()}: owner {_who(item.owner)}"
        )
    if not scores.adoption.passed:
        lines += [
            f"{of}{scores.adoption.label}, “{row.name}”: {row.next_step} (owner "
            f"{_who(item.owner)}, due {due})"
            for row in scores.adoption.unmet
        ]
    return lines


def item_bundle(
    facts: ItemFacts,
    *,
    incident_title: str,
    verified_by: str,
    verified_at: datetime,
    link: str,
    scores: Scores | None = None,
) -> str:
    """The completion evidence bundle of one verified hardening item.

    ``link`` is the comment that verified it; ``scores`` default to the shipped thresholds.
    """
    item = facts.item
    scores = scores or evaluate(facts)
    incident = f"#{item.incident} {_text(incident_title)}".strip() if item.incident else NONE
    title = f" {_text(facts.title)}" if facts.title.strip() else ""
    lines = [
        ITEM_MARKER,
        f"## Completion evidence bundle: #{facts.number}{title}",
        "",
        f"- **Incident:** {incident}",
        f"- **Failure class:** {_text(item.failure_class or '') or NONE}",
        f"- **Proposed control:** {_text(item.proposed_control) or NONE}",
        f"- **Priority band:** {item.priority or NONE}",
        f"- **Execution owner:** {_who(item.owner)} · **Verifier owner:** {_who(item.verifier)}",
        f"- **Verified:** by {mention(verified_by)} at {_when(verified_at)} ([comment]({link}))",
        f"- **Scores:** {scores.label}",
        "",
        *_section("Controls shipped", _controls([facts], False)),
        *_section("Test evidence", _tests([facts], False)),
        *_section("Runbook / process diffs", _runbooks([facts], False)),
        *_section("Other evidence", _other_evidence(facts)),
        *_section("Residual actions", _residual(facts, scores, False)),
    ]
    return "\n".join(lines).rstrip() + "\n"


def incident_bundle(
    incident_number: int,
    incident_title: str,
    summary: str,
    items: Sequence[ItemFacts],
    *,
    scorecard_threshold: int = SCORECARD_THRESHOLD,
    rubric_threshold: int = RUBRIC_THRESHOLD,
    adoption_threshold: int = ADOPTION_THRESHOLD,
    risks: Sequence[RiskEntry] = (),
) -> str:
    """The completion evidence bundle of an incident, over all its hardening items.

    Residual actions list every item not yet verified or retired with its owner and due date,
    verified items whose adoption is still incomplete, and retired items with their rationale
    (the residual risk each leaves), then the incident's open entries of the residual risk
    register (``risks``) with their owners, triggers and target dates.
    """
    ordered = sorted(items, key=lambda f: f.number)
    evaluated = [
        (
            facts,
            evaluate(
                facts,
                scorecard_threshold=scorecard_threshold,
                rubric_threshold=rubric_threshold,
                adoption_threshold=adoption_threshold,
            ),
        )
        for facts in ordered
    ]
    rows = [
        "| Item | Failure class | Status | Execution owner | Verifier owner | Due | Scores |",
        "|---|---|---|---|---|---|---|",
    ]
    for facts, scores in evaluated:
        item = facts.item
        title = f" {_text(facts.title)}" if facts.title.strip() else ""
        rows.append(
            f"| #{facts.number}{title} | {_text(item.failure_class or '') or '—'} "
            f"| {item.status} | {mention(item.owner) if login_key(item.owner) else '—'} "
            f"| {mention(item.verifier) if login_key(item.verifier) else '—'} "
            f"| {item.due.isoformat() if item.due else '—'} | {scores.label} |"
        )
    residual = [line for facts, scores in evaluated for line in _residual(facts, scores, True)]
    residual += [
        f"- Residual risk R{r.number} ({_who(r.risk.owner)}, target {r.risk.target.isoformat()}): "
        f"{_text(inert_line(r.risk.statement))}; trigger: {_text(inert_line(r.risk.trigger))}"
        for r in risks
        if r.open
    ]
    lines = [
        INCIDENT_MARKER,
        f"## Completion evidence bundle: incident #{incident_number} {_text(incident_title)}".rstrip(),
        "",
        _block(summary) or "_No summary given._",
        "",
        "### Hardening items",
        *(rows if ordered else [NONE]),
        "",
        *_section("Controls shipped", _controls(ordered, True)),
        *_section("Test evidence", _tests(ordered, True)),
        *_section("Runbook / process diffs", _runbooks(ordered, True)),
        *_section("Residual actions and risks", residual),
    ]
    return "\n".join(lines).rstrip() + "\n"
