"""The typed configuration and the look-ups handlers make in it.

What each field means and where its shipped value comes from is in ``docs/rules.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, TypedDict

from rules.model import Priority

Mode = Literal["shadow", "warn", "enforce"]
MODES: tuple[Mode, ...] = ("shadow", "warn", "enforce")

# The controls a pull request is checked for; each has a rollout mode (``controls:`` key).
CONTROLS: tuple[str, ...] = ("regression-test", "control-change")

RiskReduction = Literal["high", "medium", "low"]
RISK_REDUCTIONS: tuple[RiskReduction, ...] = ("high", "medium", "low")

AdoptionSpeed = Literal["fast", "medium", "slow"]
ADOPTION_SPEEDS: tuple[AdoptionSpeed, ...] = ("fast", "medium", "slow")

SEVERITIES: tuple[int, ...] = (1, 2, 3, 4)
WEEKDAYS: tuple[str, ...] = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
LABEL_STYLE_KINDS: tuple[str, ...] = (
    "incident",
    "hardening",
    "failure_class",
    "priority",
    "severity",
)

DEFAULTS_SOURCE = "rules/defaults.yml"
MAX_LABEL_LENGTH = 50  # GitHub's limit on a label name

# ---------------------------------------------------------------------------------------------
# Typed configuration


@dataclass(frozen=True)
class FailureClass:
    """One failure class: a finding type with its control candidate and verification."""

    slug: str
    label: str
    title: str
    finding_types: tuple[str, ...]
    control_candidate: str
    verification_style: str
    control_paths: tuple[str, ...]
    risk_reduction: RiskReduction
    adoption_speed: AdoptionSpeed
    # Markdown and text under the control paths are the controls (runbooks), not notes beside
    # them (see docs/checks.md).
    documents_are_controls: bool = False


@dataclass(frozen=True)
class LabelStyle:
    color: str  # six hex digits, no '#'
    description: str


@dataclass(frozen=True)
class Labels:
    incident: str
    hardening: str
    failure_class_prefix: str
    priority_prefix: str
    severity_prefix: str
    styles: Mapping[str, LabelStyle]

    def for_failure_class(self, slug: str) -> str:
        return f"{self.failure_class_prefix}{slug}"

    def for_priority(self, priority: Priority) -> str:
        return f"{self.priority_prefix}{priority}"

    def severity_of(self, label: str) -> int | None:
        """1..4 when ``label`` is a severity label (case-insensitive; ``-``/``_``/space free)."""
        prefix = _squash(self.severity_prefix)
        name = _squash(label)
        if not prefix or not name.startswith(prefix):
            return None
        rest = name[len(prefix) :]
        if len(rest) == 1 and rest in "1234":
            return int(rest)
        return None


@dataclass(frozen=True)
class Leads:
    """Configured leads: logins, and teams as ``org/team-slug`` (both without ``@``)."""

    users: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class Priorities:
    matrix: Mapping[str, Mapping[str, Priority]]  # risk reduction -> adoption speed -> band
    severity_raise: Mapping[int, int]  # severity -> bands raised


@dataclass(frozen=True)
class Timeline:
    evidence_packet_hours: int
    control_and_test_hours: int
    runbook_and_ownership_days: int


@dataclass(frozen=True)
class Deadlines:
    due_days: Mapping[Priority, int]
    severity_max_due_days: Mapping[int, int]
    adoption_check_day: int
    adoption_after_due_days: int
    timeline: Timeline


class ThresholdKeywords(TypedDict):
    scorecard_threshold: int
    rubric_threshold: int
    adoption_threshold: int


@dataclass(frozen=True)
class Thresholds:
    scorecard: int
    rubric: int
    adoption: int

    def keywords(self) -> ThresholdKeywords:
        """As the ``*_threshold`` keywords of ``rules.scores.evaluate`` and ``rules.gates``."""
        return {
            "scorecard_threshold": self.scorecard,
            "rubric_threshold": self.rubric,
            "adoption_threshold": self.adoption,
        }


@dataclass(frozen=True)
class Schedules:
    weekly_review: str | None  # weekday name, None when off
    monthly_audit_day: int | None  # 1..28, None when off


# The most a repository may raise each limit to: beyond these one delivery costs GitHub's
# secondary rate limits more than any team needs.
MAX_HARDENS_REFERENCES = 100
MAX_FINDINGS_PER_INCIDENT = 200
MAX_LINKED_PULLS_PER_ITEM = 100


@dataclass(frozen=True)
class Limits:
    """Work one delivery may cause (docs/hostile-input.md): what is beyond a limit is reported,
    never silently dropped."""

    hardens_references: int  # `Hardens #N` references read per pull request
    findings_per_incident: int  # findings planned into items per incident
    linked_pulls_per_item: int  # linked pull requests read per item


@dataclass(frozen=True)
class Config:
    mode: Mode
    controls: Mapping[str, Mode | None]  # None: follows ``mode``
    leads: Leads
    labels: Labels
    failure_classes: Mapping[str, FailureClass]
    test_paths: tuple[str, ...]
    priorities: Priorities
    deadlines: Deadlines
    thresholds: Thresholds
    schedules: Schedules
    limits: Limits
    # Component name -> its paths. An incident labelled `component:<name>` is about that
    # component; a recurrence then needs the same component (docs/ledger.md).
    components: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ConfigError:
    """One problem in one configuration file, precise enough to fix without guessing."""

    file: str
    line: int | None
    path: str  # dotted key path, e.g. "failure_classes.missed-detection.control_paths[2]"
    reason: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"


@dataclass(frozen=True)
class ConfigResult:
    """The merged configuration, every error found, and the layers that were merged.

    ``sources`` starts with ``rules/defaults.yml`` and names, in order, each layer that was
    applied. A layer with errors is not applied; ``config`` is then the merge of the others.
    """

    config: Config
    errors: tuple[ConfigError, ...] = ()
    sources: tuple[str, ...] = (DEFAULTS_SOURCE,)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error_report(self) -> str:
        """One line per error, ``file:line: key.path: reason``; empty when there are none."""
        return "\n".join(str(error) for error in self.errors)


# ---------------------------------------------------------------------------------------------
# Public helpers


def mode_for(config: Config, control: str) -> Mode:
    """The rollout mode of ``control``: its own override, else the config's ``mode``."""
    return config.controls.get(control) or config.mode


def normalize_finding_type(text: str) -> str:
    """Case-folded, with runs of spaces, ``-`` and ``_`` made one space; emphasis stripped."""
    text = text.strip().strip("*_`").strip()
    return re.sub(r"[\s_\-]+", " ", text.casefold()).strip()


def failure_class_for_finding_type(config: Config, text: str) -> FailureClass | None:
    """The failure class a finding type (or its slug or title) names, or None."""
    wanted = normalize_finding_type(text)
    if not wanted:
        return None
    for failure_class in config.failure_classes.values():
        if wanted in _type_names(failure_class):
            return failure_class
    return None


def failure_class_for_label(config: Config, label: str) -> FailureClass | None:
    """The failure class whose label is ``label`` (case-insensitive), or None."""
    wanted = label.strip().casefold()
    for failure_class in config.failure_classes.values():
        if failure_class.label.casefold() == wanted:
            return failure_class
    return None


def title_of(slug: str) -> str:
    """The title a failure class without one gets: ``missed-detection`` -> ``Missed detection``."""
    return slug.replace("-", " ").capitalize()


# ---------------------------------------------------------------------------------------------
# Internals: matching


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.casefold())


def _type_names(failure_class: FailureClass) -> set[str]:
    names = {normalize_finding_type(t) for t in failure_class.finding_types}
    names.add(normalize_finding_type(failure_class.slug))
    names.add(normalize_finding_type(failure_class.title))
    names.discard("")
    return names
