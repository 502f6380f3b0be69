"""The hardening loop's "Ownership operating rhythm", as two pure reviews of a repository's items.

- :func:`weekly_review` is the "Weekly reliability standup": overdue hardening items, items with
  weak evidence links, blocked items to reassign, plus the "Adoption hardening checklist" at the
  item's adoption check date ("a control is not complete at merge time").
- :func:`monthly_audit` is the "Monthly control audit": controls still running (not silently
  bypassed), owners still valid ("ownership stays with a departed engineer" is a failure mode
  the hardening loop says to solve with this audit), and controls to retire under the sunset protocol.

Each finding is a :class:`Flag` naming what is wrong, the command or action that fixes it and
who to mention. The render functions give one comment per item, marker first; the marker
carries the period (``2026-W48``, ``2026-12``), so the shell edits the same comment when the
job runs again in that period and starts a new one the next period.

Pure: no clock (``today`` is passed in), no network, no environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from rules import markers
from rules.debt import debt_to_revisit
from rules.gates import ownership_missing
from rules.logins import login_key, mention
from rules.model import ItemFacts
from rules.planning import overdue
from rules.risk import RiskEntry, past_target
from rules.scores import ADOPTION_THRESHOLD, EVIDENCE, Row, adoption, rubric
from rules.text import inert_line

# The check run whose requirement keeps a control from being bypassed on the default branch.
CONTROLS_CHECK = "hardening/controls"

ACTIVE_STATUSES = frozenset({"open", "in_progress"})

FlagKind = Literal[
    "overdue",
    "weak-evidence",
    "unowned",
    "adoption",
    "departed-owner",
    "control-not-running",
    "retire-candidate",
    "debt-revisit",
    "review-date",
    "risk-past-target",
    "recurred",
]

_HEADINGS: dict[FlagKind, str] = {
    "overdue": "Overdue",
    "weak-evidence": "Weak evidence",
    "unowned": "Blocked: ownership",
    "adoption": "Adoption incomplete",
    "departed-owner": "Owner no longer valid",
    "control-not-running": "Control not running",
    "retire-candidate": "Retire or re-verify",
    "debt-revisit": "Debt to revisit",
    "review-date": "Experiment review date passed",
    "risk-past-target": "Residual risk past its target date",
    "recurred": "The control did not hold",
}


@dataclass(frozen=True)
class Flag:
    """One thing the rhythm surfaces on one item.

    ``summary`` says what is wrong, ``fix`` the command (in backticks) or action that fixes it,
    ``details`` optional sub-points (e.g. the unmet adoption rows), and ``notify`` the logins or
    ``org/team`` handles (without ``@``) to mention.
    """

    kind: FlagKind
    summary: str
    fix: str
    notify: tuple[str, ...] = ()
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemFlags:
    """The flags of one item, in table order; only items with at least one flag are listed."""

    number: int
    title: str
    flags: tuple[Flag, ...]

    @property
    def notify(self) -> tuple[str, ...]:
        return _unique(who for flag in self.flags for who in flag.notify)

    @property
    def kinds(self) -> tuple[FlagKind, ...]:
        return tuple(flag.kind for flag in self.flags)


@dataclass(frozen=True)
class Review:
    """The weekly review of a repository: ``week`` is the ISO week of ``today``."""

    today: date
    week: str
    items: tuple[ItemFlags, ...]


@dataclass(frozen=True)
class Audit:
    """The monthly control audit of a repository: ``month`` is ``today``'s, e.g. ``2026-12``.

    ``notes`` are repository-level remarks shown under every item's audit comment (for example
    that branch protection could not be read); they never cause a comment on their own.
    """

    today: date
    month: str
    items: tuple[ItemFlags, ...]
    notes: tuple[str, ...] = ()


# --- periods and markers -------------------------------------------------------------------


def week_key(day: date) -> str:
    """The ISO week of ``day``: ``2026-W48`` (ISO year, so 2027-01-01 is ``2026-W53``)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month_key(day: date) -> str:
    return f"{day.year}-{day.month:02d}"


def weekly_marker(week: str) -> str:
    return markers.weekly_review(week)


def monthly_marker(month: str) -> str:
    return markers.monthly_audit(month)


# --- weekly review ---------------------------------------------------------------------------


def weekly_review(
    items: Sequence[ItemFacts],
    today: date,
    *,
    leads: Sequence[str] = (),
    adoption_threshold: int = ADOPTION_THRESHOLD,
    risks: Sequence[RiskEntry] = (),
) -> Review:
    """The weekly reliability standup over ``items`` on ``today``.

    Open and in-progress items are checked for being overdue, for weak evidence (rubric
    Evidence below 2: no links, or screenshots only) and for blocked ownership (no execution
    owner, no verifier owner, or one person in both roles). Every item that is not retired is
    checked at its adoption check date: past it with an adoption score below the threshold.
    ``leads`` (logins or ``org/team``) are mentioned where nobody on the item can act.
    Deferred work whose revisit date has passed, experiments past their review date and open
    residual risks (``risks``) past their target date are flagged on the issue they belong to.
    """
    found: list[ItemFlags] = []
    risk_flags = _risk_flags(risks, today, leads)
    for facts in sorted(items, key=lambda f: f.number):
        item = facts.item
        flags: list[Flag] = list(risk_flags.pop(facts.number, ()))
        if item.status in ACTIVE_STATUSES:
            if overdue(item, today):
                flags.append(_overdue_flag(facts, leads))
            if debt_to_revisit(item, today) and item.deferral is not None:
                flags.append(
                    Flag(
                        "debt-revisit",
                        f"deferred until {item.deferral.revisit.isoformat()} "
                        f"(“{_plain(item.deferral.reason)}”; risk if delayed: "
                        f"“{_plain(item.deferral.risk)}”), and that date has passed",
                        "do the work now, or defer it again with a new revisit date: "
                        "`/harden defer YYYY-MM-DD REASON; risk if delayed: RISK`",
                        _unique([*_owner_first(facts, leads), *leads]),
                    )
                )
            if item.review_date is not None and today > item.review_date:
                flags.append(
                    Flag(
                        "review-date",
                        f"the experiment's review date {item.review_date.isoformat()} has "
                        "passed"
                        + (
                            f" (hypothesis: “{_plain(item.hypothesis)}”)" if item.hypothesis else ""
                        ),
                        "compare the measure with the hypothesis and record the result with "
                        "`/harden evidence URL monitoring <measured change>`, or set a new "
                        "`Review date:`",
                        _owner_first(facts, leads),
                    )
                )
            evidence = _rubric_row(facts, EVIDENCE)
            if evidence.points < evidence.max_points:
                flags.append(
                    Flag(
                        "weak-evidence",
                        f"{evidence.signal} (rubric Evidence {evidence.points}/{evidence.max_points})",
                        evidence.next_step,
                        _owner_first(facts, leads),
                    )
                )
            missing = ownership_missing(facts)
            if missing:
                flags.append(
                    Flag(
                        "unowned",
                        "missing " + "; ".join(m.what for m in missing),
                        "; ".join(dict.fromkeys(f"`{m.command}`" for m in missing)),
                        _unique([*_named(facts), *leads]),
                    )
                )
        if item.status != "retired" and _adoption_check_passed(facts, today):
            score = adoption(facts, threshold=adoption_threshold)
            if not score.passed:
                flags.append(
                    Flag(
                        "adoption",
                        f"the adoption check was due {_iso(item.adoption_check)} and "
                        f"{score.label} is below {score.threshold}",
                        "complete the unmet rows",
                        _owner_first(facts, leads),
                        details=tuple(f"{row.name}: {row.next_step}" for row in score.unmet),
                    )
                )
        if flags:
            found.append(ItemFlags(facts.number, facts.title, tuple(flags)))
    # Risks registered on an incident (or an item not reviewed): flagged there on their own.
    found += [ItemFlags(number, "", tuple(flags)) for number, flags in risk_flags.items()]
    return Review(
        today=today, week=week_key(today), items=tuple(sorted(found, key=lambda e: e.number))
    )


def _risk_flags(
    risks: Sequence[RiskEntry], today: date, leads: Sequence[str]
) -> dict[int, list[Flag]]:
    flags: dict[int, list[Flag]] = {}
    for entry in sorted(risks, key=lambda r: r.number):
        if not past_target(entry, today):
            continue
        flags.setdefault(entry.source, []).append(
            Flag(
                "risk-past-target",
                f"R{entry.number} “{_plain(entry.risk.statement)}” was to be resolved by "
                f"{entry.risk.target.isoformat()}",
                f"resolve it and close the entry with `/harden risk resolve {entry.number}`, "
                "or register it again with a new target date and trigger",
                _unique([entry.risk.owner, *leads]),
            )
        )
    return flags


def _plain(text: str) -> str:
    """Text a person wrote, copied into a comment: one line, no markers, no mentions."""
    return inert_line(text)


def _overdue_flag(facts: ItemFacts, leads: Sequence[str]) -> Flag:
    item = facts.item
    assert item.due is not None
    return Flag(
        "overdue",
        f"due {item.due.isoformat()}, still `{item.status}`",
        "ship the control and ask the verifier owner for `/harden verify`, or agree a new "
        "date with `/harden due YYYY-MM-DD`",
        _owner_first(facts, leads),
    )


# --- monthly audit ---------------------------------------------------------------------------


def monthly_audit(
    items: Sequence[ItemFacts],
    *,
    collaborators: Mapping[str, str | None],
    required_checks: Sequence[str] | None,
    modes: Mapping[str, str],
    today: date,
    leads: Sequence[str] = (),
    adoption_threshold: int = ADOPTION_THRESHOLD,
    branch: str = "the default branch",
    branch_protected: bool = True,
    recurrences: Mapping[int, int] | None = None,
    overrides: Sequence[str] = (),
    any_source: Sequence[str] = (),
) -> Audit:
    """The monthly control audit over ``items`` on ``today``.

    ``collaborators`` maps the owners' logins to their repository role, None when they are no
    longer a collaborator (a login missing from the map is not judged). ``required_checks`` are
    the status checks ``branch`` requires, None when branch protection could not be read
    (``branch_protected=False``: the branch has no protection, so nothing is required).
    ``modes`` are the rollout modes of the controls (``regression-test``, ``control-change``).

    Owners are checked on every item that is not retired; whether the control still runs and
    whether it should be retired only on verified items, whose control has shipped.
    ``recurrences`` counts, per verified item, how often its failure class struck again (the
    evidence for "retire controls that no longer reduce observed risk"); ``overrides`` are the
    month's break-glass overrides in words, counted in every comment's notes. ``any_source``
    are the required checks branch protection accepts from any source rather than from this
    App (a workflow allowed to write checks could post their success itself).
    """
    recurrences = recurrences or {}
    roles = {login_key(login): role for login, role in collaborators.items()}
    shadow = tuple(name for name, mode in modes.items() if mode == "shadow")
    found: list[ItemFlags] = []
    for facts in sorted(items, key=lambda f: f.number):
        item = facts.item
        if item.status == "retired":
            continue
        departed = [
            (role, who)
            for role, who in (("owner", item.owner), ("verifier", item.verifier))
            if login_key(who) in roles and roles[login_key(who)] is None
        ]
        gone = {login_key(who) for _, who in departed}
        valid = [who for who in _named(facts) if login_key(who) not in gone]
        to_notify = _unique([*valid, *leads])
        flags = [_departed_flag(role, who, to_notify) for role, who in departed]
        if item.status == "verified":
            reasons = _not_running(
                facts, shadow, required_checks, branch, branch_protected, any_source
            )
            if reasons:
                flags.append(
                    Flag(
                        "control-not-running",
                        "; ".join(reason for reason, _ in reasons),
                        "; ".join(dict.fromkeys(fix for _, fix in reasons)),
                        to_notify,
                    )
                )
            if _adoption_check_passed(facts, today):
                score = adoption(facts, threshold=adoption_threshold)
                if not score.passed:
                    flags.append(
                        Flag(
                            "retire-candidate",
                            f"adoption stayed below {score.threshold} past its check date "
                            f"{_iso(item.adoption_check)} ({score.label})",
                            "if the control no longer reduces observed risk, duplicates a stronger "
                            "one or costs more than it saves, a lead retires it with "
                            "`/harden retire RATIONALE` (say what replaces it, or why); otherwise "
                            "complete the unmet rows and re-verify with `/harden verify`",
                            to_notify,
                            details=tuple(
                                _unmention(f"{row.name}: {row.next_step}", gone)
                                for row in score.unmet
                            ),
                        )
                    )
            if recurrences.get(facts.number):
                times = recurrences[facts.number]
                flags.append(
                    Flag(
                        "recurred",
                        f"its failure class struck again {times} time(s) after it was verified",
                        "re-verify the control against the new incident, or a lead retires it "
                        "with `/harden retire RATIONALE` naming what replaces it",
                        to_notify,
                    )
                )
        if flags:
            found.append(ItemFlags(facts.number, facts.title, tuple(flags)))
    notes: tuple[str, ...] = ()
    if required_checks is None:
        notes = (
            "Could not read branch protection; grant administration: read to audit "
            "required checks.",
        )
    if overrides:
        notes += (
            f"{len(overrides)} break-glass override(s) of `hardening/controls` on record: "
            + "; ".join(_plain(text) for text in overrides),
        )
    return Audit(today=today, month=month_key(today), items=tuple(found), notes=notes)


def _departed_flag(role: str, who: str | None, notify: tuple[str, ...]) -> Flag:
    title = "execution owner" if role == "owner" else "verifier owner"
    return Flag(
        "departed-owner",
        f"{title} `{login_key(who)}` is no longer a collaborator on this repository",
        f"reassign: `/harden {role} @user`",
        notify,
    )


def _not_running(
    facts: ItemFacts,
    shadow: Sequence[str],
    required_checks: Sequence[str] | None,
    branch: str,
    protected: bool,
    any_source: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """Why a verified item's control may be silently bypassed, each with its fix."""
    raise_mode = (
        "raise the rollout mode to `warn` or `enforce` in `.github/hardening.yml` "
        "(`mode:` or `controls:`)"
    )
    reasons: list[tuple[str, str]] = []
    if shadow:
        names = " and ".join(f"`{name}`" for name in shadow)
        verb = "runs" if len(shadow) == 1 else "run"
        reasons.append((f"{names} {verb} in shadow mode: violations are only logged", raise_mode))
    elif facts.control_mode == "shadow":
        reasons.append(("the control runs in shadow mode: violations are only logged", raise_mode))
    if required_checks is not None and CONTROLS_CHECK not in required_checks:
        where = f"`{branch}`"
        reasons.append(
            (
                f"{where} requires no status checks, so `{CONTROLS_CHECK}` is not required"
                if not protected
                else f"`{CONTROLS_CHECK}` is not a required status check on {where}",
                f"require `{CONTROLS_CHECK}` in the branch protection of {where} "
                "(Settings → Branches)",
            )
        )
    elif required_checks is not None and CONTROLS_CHECK in any_source:
        reasons.append(
            (
                f"`{CONTROLS_CHECK}` is required on `{branch}` from any source: a workflow "
                "allowed to write checks could post its success",
                f"in the branch protection of `{branch}`, set the source of `{CONTROLS_CHECK}` "
                "to this App (Settings → Branches, the check's source)",
            )
        )
    return reasons


# --- rendering -------------------------------------------------------------------------------


def render_weekly_comment(review: Review, entry: ItemFlags) -> str:
    """The weekly review comment of one item, marker first.

    The text depends on the item's facts and the week only (no day), so running the review
    again in the same week writes nothing unless something about the item changed.
    """
    lines = [
        weekly_marker(review.week),
        f"### Weekly hardening review · {review.week}",
        "",
        _greeting(entry, "this item came up in this week's reliability review."),
        "",
        *_flag_lines(entry),
        "",
        "<sub>Weekly reliability standup (ownership operating rhythm). Running the review "
        "again this week edits this comment.</sub>",
    ]
    return "\n".join(lines) + "\n"


def render_monthly_comment(audit: Audit, entry: ItemFlags) -> str:
    """The monthly control audit comment of one item, marker first."""
    lines = [
        monthly_marker(audit.month),
        f"### Monthly control audit · {audit.month}",
        "",
        _greeting(entry, "this month's control audit found something to act on."),
        "",
        *_flag_lines(entry),
    ]
    if audit.notes:
        lines += ["", *(f"> {note}" for note in audit.notes)]
    lines += [
        "",
        "<sub>Monthly control audit (ownership operating rhythm). Running the audit again "
        "this month edits this comment.</sub>",
    ]
    return "\n".join(lines) + "\n"


def _greeting(entry: ItemFlags, text: str) -> str:
    if not entry.notify:
        return (
            "Nobody on this item can be mentioned (no owners and no `leads:` in "
            f"`.github/hardening.yml`): {text}"
        )
    return f"{' '.join(mention(who) for who in entry.notify)}: {text}"


def _flag_lines(entry: ItemFlags) -> list[str]:
    lines: list[str] = []
    for flag in entry.flags:
        ending = ":" if flag.details else "."
        lines.append(f"- **{_HEADINGS[flag.kind]}**: {flag.summary}. Fix: {flag.fix}{ending}")
        lines.extend(f"  - {detail}" for detail in flag.details)
    return lines


# --- helpers ---------------------------------------------------------------------------------


def _rubric_row(facts: ItemFacts, name: str) -> Row:
    (row,) = [r for r in rubric(facts).rows if r.name == name]
    return row


def _adoption_check_passed(facts: ItemFacts, today: date) -> bool:
    check = facts.item.adoption_check
    return check is not None and today > check


def _named(facts: ItemFacts) -> tuple[str, ...]:
    """The execution owner and the verifier owner, as far as they are named."""
    return _unique(who for who in (facts.item.owner, facts.item.verifier) if who and login_key(who))


def _owner_first(facts: ItemFacts, leads: Sequence[str]) -> tuple[str, ...]:
    """Who answers for the item's progress: its execution owner, else its verifier owner,
    else the leads."""
    item = facts.item
    for who in (item.owner, item.verifier):
        if login_key(who):
            return (str(who).strip().lstrip("@"),)
    return _unique(leads)


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for name in names:
        key = login_key(name)
        if key and key not in seen:
            seen[key] = name.strip().lstrip("@")
    return tuple(seen.values())


def _unmention(text: str, logins: Iterable[str]) -> str:
    """``text`` with ``@login`` written as ``login`` in backticks: someone who left is named,
    not notified."""
    for login in logins:
        text = re.sub(rf"@({re.escape(login)})(?![\w-])", r"`\1`", text, flags=re.IGNORECASE)
    return text


def _iso(day: date | None) -> str:
    return day.isoformat() if day else "(no date)"
