"""Domain objects of the hardening loop, as plain frozen data.

These are the nouns of the hardening loop: a hardening item (the backlog template), its evidence links,
an incident and its findings, and the facts about linked pull requests that the scorecard,
rubric and adoption score are computed from. Every function of the core takes and returns
these; nothing here touches the network, the clock or the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

Status = Literal["open", "in_progress", "verified", "retired"]
STATUSES: tuple[Status, ...] = ("open", "in_progress", "verified", "retired")

Priority = Literal["P0", "P1", "P2", "P3"]
PRIORITIES: tuple[Priority, ...] = ("P0", "P1", "P2", "P3")

EvidenceKind = Literal["implementation", "behavioral", "rollback", "monitoring", "runbook", "test"]
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = (
    "implementation",
    "behavioral",
    "rollback",
    "monitoring",
    "runbook",
    "test",
)


@dataclass(frozen=True)
class Evidence:
    """One evidence link. ``kind`` is None when a human pasted a bare link.

    ``duration_seconds`` is the measured time of a timed run (e.g. ``rollback took 4m30s``);
    the scorecard's "rollback path rehearsed and timed" row needs it.
    """

    url: str
    kind: EvidenceKind | None = None
    note: str = ""
    duration_seconds: int | None = None


@dataclass(frozen=True)
class Deferral:
    """The hardening loop's "Reliability debt ledger" row of an item a person deferred with
    ``/harden defer``: why, the risk if delayed, and the revisit date (never "later")."""

    revisit: date
    reason: str
    risk: str
    by: str | None = None


@dataclass(frozen=True)
class HardeningItem:
    """The hardening loop's "Hardening Item" backlog template, plus the bot-managed fields.

    ``owner`` and ``verifier`` are GitHub logins without the leading ``@``.
    The fields after ``status`` are written by commands and rendered as extra lines under the
    template only when set, so a human-written item needs none of them.
    """

    incident: int | None = None
    failure_class: str | None = None
    proposed_control: str = ""
    priority: Priority | None = None
    owner: str | None = None
    verifier: str | None = None
    due: date | None = None
    evidence: tuple[Evidence, ...] = ()
    adoption_check: date | None = None
    status: Status = "open"
    verification_style: str = ""
    acknowledged_by: tuple[str, ...] = ()
    verified_by: str | None = None
    verified_at: datetime | None = None
    verified_link: str | None = None
    retired_rationale: str | None = None
    # The hardening loop's "Hardening experiment design": optional plain lines a person may fill in.
    hypothesis: str = ""
    measure: str = ""
    guardrail: str = ""
    review_date: date | None = None
    deferral: Deferral | None = None


@dataclass(frozen=True)
class ItemMarker:
    """Hidden marker the bot writes into an item it created: which incident and finding."""

    incident: int
    finding_key: str


@dataclass(frozen=True)
class Finding:
    """One list item of an incident's Findings section."""

    raw: str
    type_text: str
    text: str
    failure_class: str | None  # None when the type is unknown
    key: str  # stable identity of the finding, see rules.incident


@dataclass(frozen=True)
class Incident:
    number: int
    title: str
    severity: int | None  # 1..4, None when not given
    findings: tuple[Finding, ...] = ()
    unknown_findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class PullFacts:
    """What the scorecard needs to know about one pull request linked to an item."""

    number: int
    url: str
    merged: bool
    adds_regression_test: bool
    adds_control: bool
    touches_rollback: bool = False
    touches_monitoring: bool = False
    touches_runbook: bool = False
    touches_escalation: bool = False
    # Where the new regression test cases are, for the signal a score row shows,
    # e.g. "`test_alert_fires` in tests/test_alerts.py:12".
    new_tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemFacts:
    """Everything observable on GitHub that the scores and gates of one item depend on."""

    number: int
    item: HardeningItem
    title: str = ""
    state: Literal["open", "closed"] = "open"
    pulls: tuple[PullFacts, ...] = ()
    control_mode: str = "warn"  # rollout mode of the item's control: shadow | warn | enforce
    drill_or_incident_used: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    # Set when more pull requests link the item than ``limits.linked_pulls_per_item``: only
    # that many were read (docs/hostile-input.md); ``pulls_left_out``: the ones found and not
    # read (merged ones and those by people with write access are kept first).
    pulls_limit: int | None = None
    pulls_left_out: tuple[int, ...] = ()
