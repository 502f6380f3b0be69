"""The gates of the hardening loop: what must be true before something may close.

- ``qa_gate``: the hardening loop's "Hardening QA gate" (implementation, behavioral and ownership
  evidence; "missing any one keeps status at in_progress"), plus the scorecard (4/5) and rubric
  (7/10) thresholds that ``/harden verify`` requires (docs/commands.md).
- ``closure_gate``: closing a hardening issue (docs/scoring.md#gates; docs/hardening-loop.md: "close items
  only with proof artifact links", and the sunset protocol's "retirement requires a short note
  with replacement or rationale").
- ``incident_close_gate``: closing an incident (docs/scoring.md#gates; docs/hardening-loop.md: "Recovery declared 'done'
  with no hardening backlog" is the anti-pattern it blocks).
- ``incident_hardening_complete``: the hardening loop's "Hardening closure gate" for an incident.
- ``count_held``: how many people's closes a gate has held, read from the issue's timeline.

Each gate names every missing thing together with the command (or action) that supplies it,
so a refusal is always actionable. Pure functions of :class:`~rules.model.ItemFacts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rules.authorization import is_app_account
from rules.logins import login_key, mention, same_login
from rules.model import HardeningItem, ItemFacts, Priority
from rules.scores import (
    ADOPTION_THRESHOLD,
    RUBRIC_THRESHOLD,
    SCORECARD_THRESHOLD,
    Score,
    control_active,
    control_pulls,
    evaluate,
    evidence_of,
    merged,
    owner_acknowledged,
    scorecard,
)

# The prioritization matrix puts "high" risk reduction in P0 and P1; an item with no band has
# unknown risk, which the incident-level gate does not assume to be low.
HIGH_RISK_PRIORITIES: frozenset[Priority | None] = frozenset({"P0", "P1", None})

DONE = frozenset({"verified", "retired"})


@dataclass(frozen=True)
class Missing:
    """One unmet requirement: what is missing and the command or action that supplies it.

    ``command`` is the exact ``/harden …`` command when one command supplies it, otherwise a
    short markdown action (commands inside it in backticks). ``group`` names the score a row
    belongs to (``Scorecard 0/5, needs 4/5``): a list shows it once, as a heading over its rows,
    instead of repeating it on every row.
    """

    what: str
    command: str
    group: str = ""

    def markdown(self) -> str:
        command = f"`{self.command}`" if self.command.startswith("/") else self.command
        return f"{self.what}: {command}"


@dataclass(frozen=True)
class GateResult:
    """A gate's verdict. ``advisory`` lists shortfalls that are reported but do not block;
    ``then`` lists what a later step will check (the QA gate behind ``/harden verify``), kept
    apart so a reopening comment leads with what the close itself lacks."""

    passed: bool
    missing: tuple[Missing, ...] = ()
    advisory: tuple[Missing, ...] = ()
    then: tuple[Missing, ...] = ()

    def markdown(self) -> str:
        """A bullet list of what is missing (and what is only advised), for a comment. A score's
        unmet rows are nested under one line naming the score and its threshold."""
        lines = _bullets(self.missing)
        lines += _bullets(self.advisory, prefix="(advisory) ")
        if self.then:
            lines += ["", "Then, for `/harden verify` to pass, the QA gate also needs:", ""]
            lines += _bullets(self.then)
        return "\n".join(lines)


def _bullets(missing: Sequence[Missing], *, prefix: str = "") -> list[str]:
    lines: list[str] = []
    group = ""
    for m in missing:
        if m.group and m.group != group:
            lines.append(f"- {prefix}{m.group}:")
        group = m.group
        lines.append(f"  - {m.markdown()}" if m.group else f"- {prefix}{m.markdown()}")
    return lines


def _result(
    missing: Iterable[Missing], advisory: Iterable[Missing] = (), then: Iterable[Missing] = ()
) -> GateResult:
    found = tuple(dict.fromkeys(missing))  # ordered, without repeats
    later = tuple(m for m in dict.fromkeys(then) if m not in found)
    return GateResult(
        passed=not found, missing=found, advisory=tuple(dict.fromkeys(advisory)), then=later
    )


def retired_by_protocol(item: HardeningItem) -> bool:
    """Retired with a rationale: ended by the sunset protocol (a status line edited to
    ``retired`` without a rationale is not)."""
    return item.status == "retired" and bool((item.retired_rationale or "").strip())


def _on(number: int | None) -> str:
    return f" on #{number}" if number is not None else ""


def ownership_missing(facts: ItemFacts) -> list[Missing]:
    """Execution owner and a *different* verifier owner (docs/hardening-loop.md: "one execution owner and one
    verifier owner")."""
    item = facts.item
    found: list[Missing] = []
    if not login_key(item.owner):
        found.append(Missing("an execution owner", "/harden owner @user"))
    if not login_key(item.verifier):
        found.append(Missing("a verifier owner", "/harden verifier @user"))
    elif same_login(item.owner, item.verifier):
        found.append(
            Missing(
                f"a verifier owner other than the execution owner {mention(item.owner)}",
                "/harden verifier @user",
            )
        )
    return found


def _due_missing(facts: ItemFacts, *, number: int | None = None) -> list[Missing]:
    if facts.item.due is None:
        return [Missing(f"a due date{_on(number)}", "/harden due YYYY-MM-DD")]
    return []


def _score_missing(score: Score, *, number: int | None = None) -> list[Missing]:
    """One entry per row below its maximum, each with that row's next step."""
    if score.passed:
        return []
    need = f"{score.label}{_on(number)}, needs {score.threshold}/{score.maximum}"
    if not score.unmet:  # a threshold above the maximum: say so rather than fail silently
        return [Missing(need, "lower the threshold in .github/hardening.yml")]
    return [Missing(f"“{row.name}” ({row.signal})", row.next_step, need) for row in score.unmet]


def qa_gate(
    facts: ItemFacts,
    *,
    scorecard_threshold: int = SCORECARD_THRESHOLD,
    rubric_threshold: int = RUBRIC_THRESHOLD,
    adoption_threshold: int = ADOPTION_THRESHOLD,
    adoption_blocking: bool = False,
) -> GateResult:
    """The hardening loop's Hardening QA gate, run by ``/harden verify``.

    Requires implementation evidence (an ``implementation`` link, or a merged linked PR: its
    diff and check output are the proof), behavioral evidence (a ``behavioral`` link, or a real
    incident or drill that used the control), ownership evidence (an execution owner and a
    different verifier owner; the verifier's signoff is the ``/harden verify`` itself), the
    scorecard threshold and the rubric threshold. The adoption score is reported as advisory:
    the hardening loop measures adoption after verification (adoption check date), so by default it does
    not block; ``adoption_blocking=True`` (from config) makes it block.
    """
    item = facts.item
    missing: list[Missing] = []
    if not evidence_of(item, "implementation") and not merged(facts.pulls):
        missing.append(
            Missing(
                f"implementation evidence (diff + command output): an `implementation` link or a "
                f"merged PR that says `Hardens #{facts.number}`",
                "/harden evidence URL implementation",
            )
        )
    if not evidence_of(item, "behavioral") and not facts.drill_or_incident_used:
        missing.append(
            Missing(
                "behavioral evidence (drill or incident replay signal)",
                "/harden evidence URL behavioral",
            )
        )
    missing += ownership_missing(facts)
    scores = evaluate(
        facts,
        scorecard_threshold=scorecard_threshold,
        rubric_threshold=rubric_threshold,
        adoption_threshold=adoption_threshold,
    )
    missing += _score_missing(scores.scorecard)
    missing += _score_missing(scores.rubric)
    adoption = _score_missing(scores.adoption)
    if adoption_blocking:
        return _result([*missing, *adoption])
    return _result(missing, adoption)


def closure_gate(
    facts: ItemFacts,
    *,
    scorecard_threshold: int = SCORECARD_THRESHOLD,
    rubric_threshold: int = RUBRIC_THRESHOLD,
    adoption_threshold: int = ADOPTION_THRESHOLD,
    adoption_blocking: bool = False,
) -> GateResult:
    """Whether a hardening issue may stay closed (docs/scoring.md#gates).

    Needs an execution owner, a different verifier owner, a due date, at least one evidence
    link, and either status ``retired`` with a rationale, or status ``verified`` recorded by a
    ``/harden verify`` that is not the execution owner's *and* a QA gate that still passes (the
    status line is editable by hand, so the gate re-checks rather than trusting it). While the
    status is ``open`` or ``in_progress``, the QA gate's failures are listed too, so the
    reopening comment shows the whole way to ``verified``.
    """
    item = facts.item
    missing: list[Missing] = [*ownership_missing(facts), *_due_missing(facts)]
    if not item.evidence:
        missing.append(
            Missing(
                "at least one evidence link",
                "/harden evidence URL [implementation|behavioral|rollback|"
                "monitoring|runbook|test] [note]",
            )
        )
    qa = qa_gate(
        facts,
        scorecard_threshold=scorecard_threshold,
        rubric_threshold=rubric_threshold,
        adoption_threshold=adoption_threshold,
        adoption_blocking=adoption_blocking,
    )
    if item.status == "retired":
        if not (item.retired_rationale or "").strip():
            missing.append(
                Missing(
                    "a retirement rationale (sunset protocol), by a lead",
                    "/harden retire RATIONALE",
                )
            )
    elif item.status == "verified":
        if not login_key(item.verified_by):
            missing.append(
                Missing("a verification signoff by the verifier owner", "/harden verify")
            )
        elif same_login(item.verified_by, item.owner):
            missing.append(
                Missing(
                    f"a verification by someone other than the execution owner "
                    f"{mention(item.owner)}",
                    "/harden verify",
                )
            )
        missing += qa.missing
    else:
        missing.append(
            Missing(
                f"status `verified` (the QA gate passing, by the verifier owner) or `retired` "
                f"(`/harden retire RATIONALE`, by a lead); status is `{item.status}`",
                "/harden verify",
            )
        )
        return _result(missing, then=qa.missing)
    return _result(missing)


def incident_close_gate(items: Sequence[ItemFacts]) -> GateResult:
    """Whether an incident may stay closed: a hardening backlog exists and every item has an
    execution owner, a verifier owner and a due date (docs/scoring.md#gates).

    An item a lead retired with a rationale (the sunset protocol, ``/harden retire``) is exempt:
    retirement is the documented way to end an item without doing it, so it owes no owners or
    date. It still counts as the incident's hardening backlog.
    """
    if not items:
        return _result(
            [
                Missing(
                    "at least one hardening item",
                    "add a `Findings` section to the incident with one `- <finding type>: <text>` line "
                    "per finding (missed detection, late decision, slow recovery, repeated regression)",
                )
            ]
        )
    missing: list[Missing] = []
    for facts in sorted(items, key=lambda f: f.number):
        item = facts.item
        if retired_by_protocol(item):
            continue
        if not login_key(item.owner):
            missing.append(Missing(f"an execution owner on #{facts.number}", "/harden owner @user"))
        if not login_key(item.verifier):
            missing.append(
                Missing(f"a verifier owner on #{facts.number}", "/harden verifier @user")
            )
        missing += _due_missing(facts, number=facts.number)
    return _result(missing)


def incident_hardening_complete(
    items: Sequence[ItemFacts],
    *,
    scorecard_threshold: int = SCORECARD_THRESHOLD,
) -> GateResult:
    """The hardening loop's Hardening closure gate, over all items of one incident.

    Retired items are out of scope (the sunset protocol ended them). For every other item:
    - "scorecard threshold is met": its scorecard reaches ``scorecard_threshold``;
    - "controls are active in routine delivery workflow": a merged linked PR changed its
      control paths and the control runs in ``warn`` or ``enforce`` mode;
    - "owner adoption is confirmed": its current execution owner ran ``/harden ack``.
    And "no unresolved high-risk follow-up remains": no P0/P1 (or unbanded) item is still
    open or in progress, and every unresolved P2/P3 item has an owner and a due date (docs/hardening-loop.md:
    residual risk without a date is unmanaged risk).
    """
    if not items:
        return incident_close_gate(items)
    missing: list[Missing] = []
    for facts in sorted(items, key=lambda f: f.number):
        item = facts.item
        n = facts.number
        if item.status == "retired":
            continue
        missing += _score_missing(scorecard(facts, threshold=scorecard_threshold), number=n)
        if not control_active(facts):
            shipped = control_pulls(facts)
            if shipped:
                missing.append(
                    Missing(
                        f"the control of #{n} active in routine delivery (PR #{shipped[0].number} "
                        f"merged, but the control runs in {facts.control_mode} mode)",
                        "raise the control's rollout mode to `warn` or `enforce` in "
                        ".github/hardening.yml",
                    )
                )
            else:
                missing.append(
                    Missing(
                        f"the control of #{n} active in routine delivery (no merged linked PR "
                        "changes its control paths)",
                        f"merge a PR that says `Hardens #{n}` and changes the control paths",
                    )
                )
        if not owner_acknowledged(item):
            who = mention(item.owner) if login_key(item.owner) else "its execution owner"
            missing.append(
                Missing(
                    f"owner adoption confirmed on #{n} ({who} has not acknowledged)", "/harden ack"
                )
            )
        if item.status in DONE:
            continue
        if item.priority in HIGH_RISK_PRIORITIES:
            band = item.priority or "no priority band"
            missing.append(
                Missing(
                    f"high-risk follow-up #{n} ({band}) resolved: it is `{item.status}`",
                    "/harden verify",
                )
            )
        else:
            residual = f"residual follow-up #{n} ({item.priority})"
            if not login_key(item.owner):
                missing.append(Missing(f"an execution owner for {residual}", "/harden owner @user"))
            if item.due is None:
                missing.append(Missing(f"a due date for {residual}", "/harden due YYYY-MM-DD"))
    return _result(missing)


def count_held(timeline: Iterable[Mapping[str, Any]], bot_login: str) -> int:
    """How many closes the gate has held, counting the one being handled now.

    Read from the issue's timeline: a ``closed`` event by anyone but the App (a person, another
    bot, an automation) that the App's ``reopened`` event followed was held; such a close that
    nothing followed yet is the current one. Derived from GitHub alone, so a redelivered close
    counts nothing twice.
    """
    held, pending = 0, False
    for event in timeline:
        kind = event.get("event")
        if kind == "closed":
            pending = not is_app_account(event.get("actor"), bot_login)
        elif kind == "reopened":
            held += 1 if pending and is_app_account(event.get("actor"), bot_login) else 0
            pending = False
    return held + (1 if pending else 0)
