"""The Hardening ledger: one issue per repository that shows the whole hardening loop at once.

Leads should not have to run searches to know where hardening stands (the pattern teams know
from Renovate's Dependency Dashboard). The App keeps one issue titled ``Hardening ledger``,
labelled ``hardening-ledger``, rendered from its own records and the items:

- open items by priority band (owner, verifier, due date, status, scores, next step);
- overdue items; items verified or retired in the last 30 days;
- the hardening loop's "Reliability debt ledger" (Debt item | Why deferred | Risk if delayed | Revisit
  date) and "Residual risk register" (its six fields);
- controls by rollout mode with how many pull requests each would have blocked, and a promotion
  recommendation when the data supports it (docs/hardening-loop.md: shadow → warn → enforce);
- retire candidates (docs/hardening-loop.md: control sunset protocol), recurrences and break-glass overrides.

The body is a pure function of its inputs and holds no clock reading, so re-rendering an
unchanged repository gives the same text and costs no edit. A person's edit of the body is
overwritten at the next update; the text says so at its top.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from rules import markers
from rules.debt import debt_to_revisit, in_debt_ledger, is_deferred
from rules.model import PRIORITIES, HardeningItem, ItemFacts
from rules.override import Override
from rules.planning import overdue
from rules.recurrence import Recurrence, recurrence_counts
from rules.risk import FIELDS, RiskEntry, past_target
from rules.rollout import ControlStats, recommendation
from rules.scores import Scores
from rules.text import inert, inert_line

TITLE = "Hardening ledger"
LABEL = "hardening-ledger"
MARKER = markers.LEDGER
RECENT_DAYS = 30
MAX_ROWS = 200  # per section: the body must stay under GitHub's 65,536 characters


@dataclass(frozen=True)
class LedgerItem:
    """One hardening item as the ledger shows it."""

    facts: ItemFacts
    scores: Scores
    done_on: date | None = None  # when it was verified or retired, when known

    @property
    def number(self) -> int:
        return self.facts.number

    @property
    def item(self) -> HardeningItem:
        return self.facts.item


@dataclass(frozen=True)
class LedgerInput:
    repository: str
    today: date
    items: Sequence[LedgerItem] = ()
    risks: Sequence[RiskEntry] = ()
    controls: Sequence[ControlStats] = ()
    recurrences: Sequence[Recurrence] = ()
    overrides: Sequence[Override] = ()
    notes: Sequence[str] = field(default_factory=tuple)


ORG_TITLE = "Hardening ledger: all repositories"
ORG_MARKER = markers.ORG_LEDGER


@dataclass(frozen=True)
class Totals:
    """One repository's line in the organisation's ledger."""

    repository: str
    ledger: int  # the repository's ledger issue
    open: int = 0
    overdue: int = 0
    deferred: int = 0
    risks: int = 0
    recurrences: int = 0
    overrides: int = 0

    def as_json(self) -> dict[str, int | str]:
        return {
            "repository": self.repository,
            "ledger": self.ledger,
            "open": self.open,
            "overdue": self.overdue,
            "deferred": self.deferred,
            "risks": self.risks,
            "recurrences": self.recurrences,
            "overrides": self.overrides,
        }


def totals(data: LedgerInput, ledger: int) -> Totals:
    """The counts a repository's ledger shows at its top, for the organisation's ledger."""
    active = [e for e in data.items if e.item.status in ("open", "in_progress")]
    return Totals(
        repository=data.repository,
        ledger=ledger,
        open=len(active),
        overdue=sum(1 for e in active if overdue(e.item, data.today)),
        deferred=sum(1 for e in active if in_debt_ledger(e.item)),
        risks=sum(1 for r in data.risks if r.open),
        recurrences=len(data.recurrences),
        overrides=len(data.overrides),
    )


def totals_from(raw: object) -> Totals | None:
    """A Totals back from its JSON; None when it cannot be read."""
    if not isinstance(raw, dict):
        return None
    try:
        return Totals(
            repository=str(raw["repository"]),
            ledger=int(raw["ledger"]),
            **{
                k: int(raw.get(k) or 0)
                for k in ("open", "overdue", "deferred", "risks", "recurrences", "overrides")
            },
        )
    except (KeyError, TypeError, ValueError):
        return None


def render_org_ledger(org: str, rows: Sequence[Totals]) -> str:
    """The organisation's ledger: one line per repository, each linking its own ledger."""
    lines = [
        ORG_MARKER,
        f"# {ORG_TITLE}",
        "",
        f"> Kept by the App for the repositories of `{org}` it serves, from each repository's "
        "Hardening ledger. **Edits to this issue are overwritten at the next update.**",
        "",
        "| Repository | Open | Overdue | Deferred | Residual risks open | Recurrences | Overrides |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: r.repository.lower())[:MAX_ROWS]:
        lines.append(
            f"| {row.repository}#{row.ledger} | {row.open} | {row.overdue} | {row.deferred} | {row.risks} | {row.recurrences} "
            f"| {row.overrides} |"
        )
    if not rows:
        lines.append("| none | | | | | | |")
    return "\n".join(lines) + "\n"


def next_step(entry: LedgerItem, today: date) -> str:
    """The one thing that moves an open item forward now."""
    item = entry.item
    if not item.owner:
        return "`/harden owner @user`"
    if not item.verifier:
        return "`/harden verifier @user`"
    if item.due is None:
        return "`/harden due YYYY-MM-DD`"
    if is_deferred(item, today) and item.deferral:
        return f"deferred: revisit on {item.deferral.revisit.isoformat()}"
    if debt_to_revisit(item, today) and item.deferral:
        return f"revisit date {item.deferral.revisit.isoformat()} passed: do it or defer again"
    for score in (entry.scores.scorecard, entry.scores.rubric):
        for row in score.unmet:
            if row.next_step:
                return row.next_step
    return f"the verifier (@{item.verifier}) runs `/harden verify`"


def render_ledger(data: LedgerInput) -> str:
    """The ledger issue's body, marker first."""
    today = data.today
    items = sorted(data.items, key=lambda e: e.number)
    active = [e for e in items if e.item.status in ("open", "in_progress")]
    lines = [
        MARKER,
        f"# {TITLE}",
        "",
        f"> Kept by the App for `{data.repository}` from its hardening items and its own "
        "records, updated within a minute of any change. **Edits to this issue are overwritten "
        "at the next update**: change the items with `/harden` commands instead "
        "(`/harden help` on any item lists them).",
        "",
        f"{len(active)} open · {sum(1 for e in active if overdue(e.item, today))} overdue · "
        f"{sum(1 for e in active if in_debt_ledger(e.item))} deferred · "
        f"{sum(1 for r in data.risks if r.open)} residual risks open · "
        f"{len(data.recurrences)} recurrences · {len(data.overrides)} overrides",
    ]
    lines += _open_items(active, today)
    lines += _overdue(active, today)
    lines += _recent(items, today)
    lines += _debt(active, today)
    lines += _risks(data.risks, today)
    lines += _controls(data.controls)
    lines += _retire_candidates(items, data.recurrences)
    lines += _recurrences(data.recurrences)
    lines += _overrides(data.overrides)
    if data.notes:
        lines += ["", "### Notes", *(f"- {_quiet(note)}" for note in data.notes)]
    return "\n".join(lines) + "\n"


# --- sections ----------------------------------------------------------------------------------


def _open_items(active: list[LedgerItem], today: date) -> list[str]:
    lines = ["", "## Open items by priority band"]
    if not active:
        return [*lines, "None."]
    for band in (*PRIORITIES, None):
        rows = [e for e in active if e.item.priority == band]
        if not rows:
            continue
        lines += [
            "",
            f"### {band or 'No priority band'}",
            "",
            "| Item | Owner | Verifier | Due | Status | Scores | Next step |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in rows[:MAX_ROWS]:
            item = e.item
            due = item.due.isoformat() if item.due else "—"
            if overdue(item, today):
                due += " **overdue**"
            status = item.status.replace("_", " ")
            if item.deferral and in_debt_ledger(item):
                status += ", deferred"
            lines.append(
                f"| {_ref(e)} | {_who(item.owner)} | {_who(item.verifier)} | {due} | {status} "
                f"| {e.scores.label} | {_step(next_step(e, today))} |"
            )
        lines += _more(len(rows))
    return lines


def _overdue(active: list[LedgerItem], today: date) -> list[str]:
    rows = [e for e in active if overdue(e.item, today)]
    lines = ["", "## Overdue", ""]
    if not rows:
        return [*lines, "None."]
    for e in rows[:MAX_ROWS]:
        assert e.item.due is not None
        lines.append(
            f"- {_ref(e)}: due {e.item.due.isoformat()}, still {e.item.status.replace('_', ' ')}; "
            f"owner {_who(e.item.owner)}"
        )
    return lines + _more(len(rows))


def _recent(items: list[LedgerItem], today: date) -> list[str]:
    since = today - timedelta(days=RECENT_DAYS)
    rows = [
        e
        for e in items
        if e.item.status in ("verified", "retired") and (e.done_on is None or e.done_on >= since)
    ]
    lines = ["", f"## Verified or retired in the last {RECENT_DAYS} days", ""]
    if not rows:
        return [*lines, "None."]
    for e in rows[:MAX_ROWS]:
        item = e.item
        when = f" on {e.done_on.isoformat()}" if e.done_on else ""
        if item.status == "verified":
            by = f" by {_who(item.verified_by)}" if item.verified_by else ""
            lines.append(f"- {_ref(e)}: verified{by}{when} · {e.scores.label}")
        else:
            lines.append(f"- {_ref(e)}: retired{when}: {_quiet(item.retired_rationale or '')}")
    return lines + _more(len(rows))


def _debt(active: list[LedgerItem], today: date) -> list[str]:
    rows = [e for e in active if in_debt_ledger(e.item)]
    lines = [
        "",
        "## Reliability debt ledger",
        "",
        "| Debt item | Why deferred | Risk if delayed | Revisit date |",
        "|---|---|---|---|",
    ]
    if not rows:
        return [*lines, "| none | | | |"]
    for e in rows[:MAX_ROWS]:
        deferral = e.item.deferral
        assert deferral is not None
        revisit = deferral.revisit.isoformat()
        if debt_to_revisit(e.item, today):
            revisit += " **passed**"
        by = f" (deferred by {_who(deferral.by)})" if deferral.by else ""
        lines.append(
            f"| {_ref(e)}{by} | {_cell(deferral.reason)} | {_cell(deferral.risk)} | {revisit} |"
        )
    return lines + _more(len(rows))


def _risks(risks: Sequence[RiskEntry], today: date) -> list[str]:
    rows = [r for r in risks if r.open]
    names = [FIELDS[key] for key in FIELDS]
    lines = [
        "",
        "## Residual risk register",
        "",
        "| Entry | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    if not rows:
        lines.append("| none |" + " |" * len(names))
    for r in sorted(rows, key=lambda r: r.number)[:MAX_ROWS]:
        risk = r.risk
        target = risk.target.isoformat() + (" **passed**" if past_target(r, today) else "")
        lines.append(
            f"| R{r.number} (#{r.source}) | {_cell(risk.statement)} | {_cell(risk.why)} | "
            f"{_cell(risk.temporary)} | {_cell(risk.trigger)} | {_who(risk.owner)} | {target} |"
        )
    resolved = [r for r in risks if not r.open]
    if resolved:
        lines += [
            "",
            "Resolved: "
            + ", ".join(
                f"R{r.number} by {_who(r.resolved_by)} on "
                f"{r.resolved_on.isoformat() if r.resolved_on else '?'}"
                for r in sorted(resolved, key=lambda r: r.number)[-20:]
            ),
        ]
    lines += ["", "Close an entry with `/harden risk resolve N` on the issue it was registered on."]
    return lines


def _controls(controls: Sequence[ControlStats]) -> list[str]:
    lines = [
        "",
        "## Controls by rollout mode",
        "",
        "| Control | Mode | Pull requests judged | Would have blocked | Recommendation |",
        "|---|---|---|---|---|",
    ]
    order = {"shadow": 0, "warn": 1, "enforce": 2}
    for stats in sorted(controls, key=lambda s: (order.get(s.mode, 3), s.control)):
        lines.append(
            f"| `{stats.control}` | {stats.mode} | {stats.judged} | {stats.would_block} | "
            f"{recommendation(stats)} |"
        )
    if not controls:
        lines.append("| none | | | | |")
    return lines


def _retire_candidates(items: list[LedgerItem], recurrences: Sequence[Recurrence]) -> list[str]:
    counts = recurrence_counts(recurrences)
    lines = ["", "## Retire candidates", ""]
    rows = []
    for e in items:
        if e.item.status != "verified":
            continue
        if counts.get(e.number):
            rows.append(
                f"- {_ref(e)}: the control did not hold ({counts[e.number]} recurrence(s)); "
                "re-verify it or retire it with `/harden retire RATIONALE`"
            )
        elif not e.scores.adoption.passed and e.item.adoption_check and e.done_on:
            if e.done_on > e.item.adoption_check:
                continue
            rows.append(
                f"- {_ref(e)}: {e.scores.adoption.label} on the recorded evidence; the monthly "
                "audit weighs it against the linked pull requests"
            )
    if not rows:
        return [*lines, "None."]
    return lines + rows[:MAX_ROWS] + _more(len(rows))


def _recurrences(recurrences: Sequence[Recurrence]) -> list[str]:
    lines = ["", "## Recurrences", ""]
    if not recurrences:
        return [*lines, "None."]
    for r in list(recurrences)[:MAX_ROWS]:
        lines.append(
            f"- #{r.earlier} (`{r.failure_class}`, verified) recurred as "
            f"{', '.join(f'#{n}' for n in r.laters)} in incident #{r.incident}: the control did "
            "not hold"
        )
    return lines + _more(len(recurrences))


def _overrides(overrides: Sequence[Override]) -> list[str]:
    lines = ["", "## Break-glass overrides", ""]
    if not overrides:
        return [*lines, "None."]
    for o in sorted(overrides, key=lambda o: o.at)[-MAX_ROWS:]:
        lines.append(
            f"- #{o.pull} at `{o.head_sha[:12]}` by {_who(o.by)} on "
            f"{o.at.strftime('%Y-%m-%d %H:%M UTC')}, until {o.until.strftime('%Y-%m-%d %H:%M UTC')}: "
            f"{_quiet(o.reason)}"
        )
    return lines


# --- text ----------------------------------------------------------------------------------------


def _ref(entry: LedgerItem) -> str:
    return f"#{entry.number}"


def _who(login: str | None) -> str:
    """A login shown, not mentioned: the ledger is edited often and must not notify anyone."""
    return _quiet(f"@{login}") if login else "—"


def _more(count: int) -> list[str]:
    return [f"- … and {count - MAX_ROWS} more"] if count > MAX_ROWS else []


def _quiet(text: str) -> str:
    """Text a person wrote, copied: one line, no hidden markers, no mentions."""
    return inert_line(text)


def _step(text: str) -> str:
    """A next step the App wrote: mentions outside code spans neutralised (the ledger is edited
    often and must notify no one), a command inside a code span left as it is to be copied."""
    text = " ".join(text.split())
    parts = text.split("`")
    if len(parts) % 2 == 0:  # an unclosed code span: nothing in it is code
        return inert(text).replace("|", "\\|")
    return "`".join(p if i % 2 else inert(p) for i, p in enumerate(parts)).replace("|", "\\|")


def _cell(text: str) -> str:
    return _quiet(text).replace("|", "\\|") or "—"
