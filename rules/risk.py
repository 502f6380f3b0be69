"""The hardening loop's "Residual risk register": risk a team accepts for now, owned and dated.

A comment on an incident or a hardening item holding the hardening loop's block registers an entry::

    ### Residual Risk
    - Risk statement: the pager vendor may drop alerts during its maintenance window
    - Why not fully solved yet: the second vendor contract starts in January
    - Temporary control in place: manual check of the vendor status page at each handover
    - Trigger for re-prioritization: any alert lost, or the contract slipping past January
    - Owner: @alice
    - Target resolution date: 2027-01-31

"Residual risk without trigger/date is unmanaged risk": a block without a trigger or a target
date (or without a risk statement) is refused, naming every missing field. The owner defaults
to the person who registered it. ``/harden risk resolve N`` closes entry N.

Pure: the caller passes ``today``; nothing here reads the clock or the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from rules.config import parse_team, parse_user
from rules.item_template import markdown_heading, visible_lines

HEADING = "### Residual Risk"

# Field key -> the hardening loop's name, in the hardening loop's order.
FIELDS: dict[str, str] = {
    "statement": "Risk statement",
    "why": "Why not fully solved yet",
    "temporary": "Temporary control in place",
    "trigger": "Trigger for re-prioritization",
    "owner": "Owner",
    "target": "Target resolution date",
}
REQUIRED = ("statement", "trigger", "target")
MAX_FIELD_LENGTH = 500

_ALIASES: dict[str, str] = {
    "risk statement": "statement",
    "risk": "statement",
    "why not fully solved yet": "why",
    "why not fully solved": "why",
    "why not solved yet": "why",
    "temporary control in place": "temporary",
    "temporary control": "temporary",
    "trigger for re-prioritization": "trigger",
    "trigger for reprioritization": "trigger",
    "trigger for re-prioritisation": "trigger",
    "trigger for reprioritisation": "trigger",
    "trigger": "trigger",
    "owner": "owner",
    "target resolution date": "target",
    "target date": "target",
}
_FIELD_RE = re.compile(
    r"[ \t]*(?:[-*+][ \t]+)?(?:\*\*)?([A-Za-z][A-Za-z ./-]{0,40}?)(?:\*\*)?[ \t]*:(?:\*\*)?(.*)"
)
_PLACEHOLDERS = frozenset({"", "-", "n/a", "none", "tbd", "todo", "?", "…", "..."})


@dataclass(frozen=True)
class ResidualRisk:
    """One register entry as a person wrote it (``owner`` a login without ``@``)."""

    statement: str
    why: str
    temporary: str
    trigger: str
    owner: str
    target: date


@dataclass(frozen=True)
class RiskBlock:
    """What a comment's block said: the entry, or the fields missing or unreadable."""

    risk: ResidualRisk | None
    missing: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def refusal(self) -> str:
        """The reply to a refused block: every missing field named."""
        parts = []
        if self.missing:
            names = ", ".join(f"`{name}`" for name in self.missing)
            parts.append(f"the residual risk is missing {names}")
        parts.extend(self.problems)
        text = "; ".join(parts)
        if any(FIELDS[key] in self.missing for key in ("trigger", "target")):
            text += " (a residual risk without a trigger or a target date is unmanaged risk)"
        return text


@dataclass(frozen=True)
class RiskEntry:
    """A registered entry of the repository's register. ``source`` is the issue it was
    registered on; ``incident`` the incident it belongs to (itself, or the item's)."""

    number: int
    risk: ResidualRisk
    source: int
    incident: int | None
    registered_by: str
    registered_on: date
    resolved_by: str | None = None
    resolved_on: date | None = None

    @property
    def open(self) -> bool:
        return self.resolved_on is None


def has_risk_block(body: str) -> bool:
    """Whether a comment holds a visible ``Residual Risk`` heading (any level)."""
    return _block_start(visible_lines(body or "")) is not None


def parse_risk_block(body: str, *, author: str, today: date) -> RiskBlock | None:
    """The comment's ``Residual Risk`` block read, or None when it holds none. Never raises.

    The owner defaults to ``author``. A target date that is not after ``today`` is refused: a
    date already passed manages nothing.
    """
    lines = visible_lines(body or "")
    start = _block_start(lines)
    if start is None:
        return None
    values: dict[str, str] = {}
    for line in lines[start + 1 :]:
        if line is None:
            continue
        if markdown_heading(line) is not None:
            break
        match = _FIELD_RE.match(line)
        if match is None:
            continue
        key = _ALIASES.get(" ".join(match.group(1).lower().split()))
        if key is not None and key not in values:
            value = match.group(2).strip().strip("*_` ").strip()
            values[key] = "" if value.lower() in _PLACEHOLDERS else " ".join(value.split())
    missing = [FIELDS[key] for key in REQUIRED if not values.get(key)]
    problems: list[str] = []
    for key, value in values.items():
        if len(value) > MAX_FIELD_LENGTH:
            problems.append(
                f"`{FIELDS[key]}` is {len(value)} characters; keep it under {MAX_FIELD_LENGTH}"
            )
    owner = author
    if values.get("owner"):
        token = values["owner"].split()[0]
        login = None if parse_team(token) else parse_user(token)
        if login is None:
            problems.append(f"`Owner` must be one person like @alice, not `{values['owner'][:60]}`")
        else:
            owner = login
    target: date | None = None
    if values.get("target"):
        found = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})\b", values["target"])
        try:
            target = date(*(int(g) for g in found.groups())) if found else None
        except ValueError:
            target = None
        if target is None:
            problems.append(
                f"`Target resolution date` must be a date like 2027-01-31, not `{values['target'][:40]}`"
            )
        elif target <= today:
            problems.append(
                f"`Target resolution date` {target.isoformat()} is not in the future (today is {today.isoformat()})"
            )
            target = None
    if missing or problems or target is None:
        return RiskBlock(None, tuple(missing), tuple(problems))
    return RiskBlock(
        ResidualRisk(
            statement=values["statement"],
            why=values.get("why", ""),
            temporary=values.get("temporary", ""),
            trigger=values["trigger"],
            owner=owner,
            target=target,
        )
    )


def past_target(entry: RiskEntry, today: date) -> bool:
    """An open entry whose target resolution date has passed: the weekly review flags it."""
    return entry.open and today > entry.risk.target


def _block_start(lines: list[str | None]) -> int | None:
    for index, line in enumerate(lines):
        if line is None:
            continue
        heading = markdown_heading(line)
        if heading is not None and " ".join(heading[1].lower().split()) == "residual risk":
            return index
    return None
