"""The hardening loop's 14-day hardening sprint, its last step: "Day 12–14: publish summary + residual
risk owners", and the incident close gate that goes with it.

The summary is one comment on the incident, kept current, written once each of its items is
verified, retired or deferred, or from sprint day 14 on otherwise. It holds the hardening loop's quick
checklist ("before closing hardening loop": one automation control merged, one regression test
merged, runbook/process update published, ownership confirmations recorded), the controls
shipped, the regression tests merged, the runbook updates, the ownership confirmations, the
scores of each item, the residual risk owners and the deferred debt.

An incident closes only when that checklist is met, or the work it lacks is deferred (in the
reliability debt ledger) or registered as residual risk: recovery is never declared done with
the hardening silently dropped.

Pure: ``today`` and every fact are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from rules import markers
from rules.debt import in_debt_ledger
from rules.gates import Missing
from rules.model import ItemFacts
from rules.risk import RiskEntry
from rules.scores import merged, owner_acknowledged, runbook_updates
from rules.text import inert_line

SUMMARY_MARKER = markers.SPRINT_SUMMARY
SPRINT_DAYS = 14
DONE = frozenset({"verified", "retired"})


@dataclass(frozen=True)
class Check:
    """One line of the hardening loop's quick checklist: met, and what met it (or what is missing)."""

    name: str
    met: bool
    detail: str


def sprint_day(opened: date, today: date) -> int:
    """The sprint day of ``today`` for an incident opened on ``opened`` (day 1 is that day)."""
    return (today - opened).days + 1


def summary_due(items: Sequence[ItemFacts], opened: date, today: date) -> bool:
    """Whether the summary is published: every item verified, retired or deferred, or day 14."""
    settled = bool(items) and all(f.item.status in DONE or in_debt_ledger(f.item) for f in items)
    return settled or today >= opened + timedelta(days=SPRINT_DAYS - 1)


def checklist(items: Sequence[ItemFacts]) -> tuple[Check, ...]:
    """The hardening loop's quick checklist over an incident's items (retired ones owe nothing)."""
    live = [f for f in items if f.item.status != "retired"]
    pulls = {p.number: p for f in live for p in merged(f.pulls)}.values()
    controls = sorted(p.number for p in pulls if p.adds_control)
    tests = sorted(p.number for p in pulls if p.adds_regression_test)
    runbooks = [u for f in live for u in runbook_updates(f)]
    unconfirmed = [f.number for f in live if not owner_acknowledged(f.item)]
    return (
        Check(
            "one automation control merged",
            bool(controls),
            _pulls(controls) or "no merged pull request that says `Hardens #N` changed a control",
        ),
        Check(
            "one regression test merged",
            bool(tests),
            _pulls(tests) or "no merged pull request that says `Hardens #N` added a test case",
        ),
        Check(
            "runbook/process update published",
            bool(runbooks),
            ", ".join(dict.fromkeys(runbooks))
            or "no `runbook` evidence and no merged runbook change",
        ),
        Check(
            "ownership confirmations recorded",
            bool(live) and not unconfirmed,
            "every execution owner ran `/harden ack`"
            if live and not unconfirmed
            else "no `/harden ack` yet on " + ", ".join(f"#{n}" for n in unconfirmed),
        ),
    )


def close_gate(items: Sequence[ItemFacts], risks: Sequence[RiskEntry]) -> tuple[Missing, ...]:
    """What keeps the incident from closing, beyond owners and dates (empty: it may close).

    Met when the checklist is met; otherwise every unfinished item must be deferred or covered
    by an open residual risk registered on the item or on the incident.
    """
    checks = checklist(items)
    if all(check.met for check in checks):
        return ()
    unmet = ", ".join(check.name for check in checks if not check.met)
    group = f"The hardening loop's checklist is not met ({unmet}), so the remaining work"
    covered_everywhere = any(r.open and r.source == r.incident for r in risks)
    covered = {r.source for r in risks if r.open}
    missing = []
    for facts in sorted(items, key=lambda f: f.number):
        item = facts.item
        if item.status in DONE or in_debt_ledger(item):
            continue
        if covered_everywhere or facts.number in covered:
            continue
        missing.append(
            Missing(
                f"#{facts.number} done, deferred or registered as residual risk",
                "`/harden verify` on it, `/harden defer YYYY-MM-DD REASON; risk if delayed: "
                "RISK`, or a comment with a `### Residual Risk` block",
                group,
            )
        )
    return tuple(missing)


def render_summary(
    incident: int,
    title: str,
    items: Sequence[ItemFacts],
    scores: Mapping[int, str],
    risks: Sequence[RiskEntry],
    opened: date,
    today: date,
) -> str:
    """The summary comment, marker first. ``scores``: item number -> ``Scorecard n/5 · …``."""
    checks = checklist(items)
    day = min(sprint_day(opened, today), SPRINT_DAYS)
    lines = [
        SUMMARY_MARKER,
        f"## Hardening sprint summary: #{incident} {_quiet(title)}",
        "",
        f"Sprint day {day} of {SPRINT_DAYS} (days 12–14: publish this summary and the residual "
        "risk owners). Kept current by the App.",
        "",
        "### Before closing the hardening loop",
    ]
    lines += [f"- [{'x' if c.met else ' '}] {c.name}: {c.detail}" for c in checks]
    lines += [
        "",
        "### Items",
        "",
        "| Item | Status | Owner | Verifier | Scores |",
        "|---|---|---|---|---|",
    ]
    for facts in sorted(items, key=lambda f: f.number):
        item = facts.item
        status = item.status.replace("_", " ")
        if in_debt_ledger(item) and item.deferral:
            status += f", deferred to {item.deferral.revisit.isoformat()}"
        lines.append(
            f"| #{facts.number} | {status} | {_who(item.owner)} | {_who(item.verifier)} | "
            f"{scores.get(facts.number, '—')} |"
        )
    live = [f for f in items if f.item.status != "retired"]
    shipped = sorted({p.number for f in live for p in merged(f.pulls) if p.adds_control})
    tests = sorted(
        {(p.number, t) for f in live for p in merged(f.pulls) for t in p.new_tests}
        | {(p.number, "") for f in live for p in merged(f.pulls) if p.adds_regression_test}
    )
    lines += ["", "### Controls shipped", _or_none([f"- #{n}" for n in shipped])]
    test_lines = [f"- #{n}: {_quiet(t)}" for n, t in tests if t] or [f"- #{n}" for n, _ in tests]
    lines += ["", "### Regression tests merged", _or_none(test_lines)]
    runbooks = list(dict.fromkeys(u for f in live for u in runbook_updates(f)))
    lines += ["", "### Runbook updates", _or_none([f"- {_quiet(u)}" for u in runbooks])]
    confirmations = [
        f"- #{f.number}: {', '.join(_who(w) for w in f.item.acknowledged_by)}"
        for f in live
        if f.item.acknowledged_by
    ]
    lines += ["", "### Ownership confirmations", _or_none(confirmations)]
    open_risks = [r for r in risks if r.open]
    lines += ["", "### Residual risk owners"]
    lines.append(
        _or_none(
            [
                f"- R{r.number} {_who(r.risk.owner)}, target {r.risk.target.isoformat()}: "
                f"{_quiet(r.risk.statement)} (trigger: {_quiet(r.risk.trigger)})"
                for r in open_risks
            ]
        )
    )
    debt = [f for f in items if in_debt_ledger(f.item) and f.item.deferral]
    lines += ["", "### Deferred debt"]
    lines.append(
        _or_none(
            [
                f"- #{f.number}: revisit {f.item.deferral.revisit.isoformat()}; why: "
                f"{_quiet(f.item.deferral.reason)}; risk if delayed: "
                f"{_quiet(f.item.deferral.risk)}"
                for f in debt
                if f.item.deferral
            ]
        )
    )
    return "\n".join(lines) + "\n"


def _pulls(numbers: Sequence[int]) -> str:
    return ", ".join(f"#{n}" for n in numbers)


def _who(login: str | None) -> str:
    return f"@{login}" if login else "—"


def _or_none(lines: list[str]) -> str:
    return "\n".join(lines) if lines else "- none"


def _quiet(text: str) -> str:
    """Text a person wrote, copied: one line, no table breaks, markers or mentions."""
    return inert_line(text).replace("|", "\\|")
