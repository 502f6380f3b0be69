"""`.github/hardening.yml`: schema, validation and merge over the shipped defaults.

Every table of the seed that is product behaviour lives in data, not code: the finding-type to
control mapping ("From incident finding to control design"), the prioritization matrix, the
timeline model and the 14-day sprint, the scorecard / rubric / adoption thresholds, and the
rollout modes of "Control rollout sequencing". The shipped values are in ``rules/defaults.yml``;
an organisation's ``.github`` repository and then the repository itself may override them.

Merge semantics: mappings merge key by key, lists and scalars replace what they override. A
layer (one file) with any error is left out entirely and its errors are returned with file, line,
key path and reason, so a caller can never mistake a broken file for a valid one.

Control paths and test paths are globs as ``rules.globs`` matches them (anchored at the
repository root, ``**`` for any number of folders); a pattern ``rules.globs.glob_problem``
objects to is a configuration error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, cast

import yaml

from rules.globs import glob_problem
from rules.model import PRIORITIES, Priority

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
MAX_LOGIN_LENGTH = 39

# ---------------------------------------------------------------------------------------------
# Typed configuration


@dataclass(frozen=True)
class FailureClass:
    """One failure class: the seed's finding type with its control candidate and verification."""

    slug: str
    label: str
    title: str
    finding_types: tuple[str, ...]
    control_candidate: str
    verification_style: str
    control_paths: tuple[str, ...]
    risk_reduction: RiskReduction
    adoption_speed: AdoptionSpeed


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

    def for_severity(self, severity: int) -> str:
        return f"{self.severity_prefix}{severity}"

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


@dataclass(frozen=True)
class Thresholds:
    scorecard: int
    rubric: int
    adoption: int

    def keywords(self) -> dict[str, int]:
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


def allowed_finding_types(config: Config) -> tuple[str, ...]:
    """Every accepted finding type, canonical names first, for "allowed types are ..." replies."""
    canonical = [fc.finding_types[0] if fc.finding_types else fc.slug for fc in _classes(config)]
    aliases = [t for fc in _classes(config) for t in fc.finding_types[1:]]
    return tuple(canonical + aliases)


def is_login(text: str) -> bool:
    """GitHub login rules: letters, digits and single inner hyphens, at most 39 characters."""
    return len(text) <= MAX_LOGIN_LENGTH and _LOGIN_RE.fullmatch(text) is not None


def parse_user(text: str) -> str | None:
    """``alice`` or ``@alice`` -> ``alice``; None when it is not a valid login."""
    text = text.strip()
    if text.startswith("@"):
        text = text[1:]
    return text if is_login(text) else None


def parse_team(text: str) -> str | None:
    """``@org/team`` or ``org/team`` -> ``org/team``; None when it is not a team handle."""
    text = text.strip()
    if text.startswith("@"):
        text = text[1:]
    org, sep, team = text.partition("/")
    if sep and is_login(org) and _TEAM_SLUG_RE.fullmatch(team):
        return text
    return None


# ---------------------------------------------------------------------------------------------
# Loading


def default_config() -> Config:
    """The shipped defaults as a typed Config."""
    return _build(_defaults_data())


def load_config(layers: Sequence[tuple[str, str | None]]) -> ConfigResult:
    """Merge configuration layers, in order, over the shipped defaults.

    ``layers`` are ``(source name, YAML text or None)``; None means the file does not exist and
    is skipped. Typical order: the organisation's ``.github`` repository's ``hardening.yml``,
    then the repository's ``.github/hardening.yml``.
    """
    merged: dict[str, Any] = _defaults_data()
    errors: list[ConfigError] = []
    sources = [DEFAULTS_SOURCE]
    for source, text in layers:
        if text is None:
            continue
        layer, layer_errors = _read_layer(source, text, merged)
        errors.extend(layer_errors)
        if layer is not None and not layer_errors:
            merged = layer
            sources.append(source)
    return ConfigResult(config=_build(merged), errors=tuple(errors), sources=tuple(sources))


def config_as_data(config: Config) -> dict[str, Any]:
    """The effective configuration as plain YAML-shaped data (labels of classes resolved)."""
    return {
        "mode": config.mode,
        "controls": dict(config.controls),
        "leads": [*config.leads.users, *(f"@{team}" for team in config.leads.teams)],
        "labels": {
            "incident": config.labels.incident,
            "hardening": config.labels.hardening,
            "failure_class_prefix": config.labels.failure_class_prefix,
            "priority_prefix": config.labels.priority_prefix,
            "severity_prefix": config.labels.severity_prefix,
            "styles": {
                kind: {"color": style.color, "description": style.description}
                for kind, style in config.labels.styles.items()
            },
        },
        "failure_classes": {
            slug: {
                "label": fc.label,
                "title": fc.title,
                "finding_types": list(fc.finding_types),
                "control_candidate": fc.control_candidate,
                "verification_style": fc.verification_style,
                "control_paths": list(fc.control_paths),
                "risk_reduction": fc.risk_reduction,
                "adoption_speed": fc.adoption_speed,
            }
            for slug, fc in config.failure_classes.items()
        },
        "test_paths": list(config.test_paths),
        "priorities": {
            "matrix": {risk: dict(row) for risk, row in config.priorities.matrix.items()},
            "severity_raise": dict(config.priorities.severity_raise),
        },
        "deadlines": {
            "due_days": dict(config.deadlines.due_days),
            "severity_max_due_days": dict(config.deadlines.severity_max_due_days),
            "adoption_check_day": config.deadlines.adoption_check_day,
            "adoption_after_due_days": config.deadlines.adoption_after_due_days,
            "timeline": {
                "evidence_packet_hours": config.deadlines.timeline.evidence_packet_hours,
                "control_and_test_hours": config.deadlines.timeline.control_and_test_hours,
                "runbook_and_ownership_days": config.deadlines.timeline.runbook_and_ownership_days,
            },
        },
        "thresholds": {
            "scorecard": config.thresholds.scorecard,
            "rubric": config.thresholds.rubric,
            "adoption": config.thresholds.adoption,
        },
        "schedules": {
            "weekly_review": config.schedules.weekly_review,
            "monthly_audit_day": config.schedules.monthly_audit_day,
        },
    }


def diff_configs(old: Config, new: Config) -> list[str]:
    """What changing the configuration from ``old`` to ``new`` would change, one line each.

    Used on a pull request that edits ``.github/hardening.yml`` to show the difference it would
    make. Empty when the two are equivalent.
    """
    lines: list[str] = []
    old_data, new_data = config_as_data(old), config_as_data(new)
    old_classes = old_data.pop("failure_classes")
    new_classes = new_data.pop("failure_classes")
    _diff_tree((), old_data, new_data, lines)
    for slug in [*old_classes, *(s for s in new_classes if s not in old_classes)]:
        if slug not in new_classes:
            lines.append(f"failure_classes.{slug}: failure class removed")
        elif slug not in old_classes:
            fc = new.failure_classes[slug]
            types = ", ".join(fc.finding_types) or slug
            lines.append(
                f"failure_classes.{slug}: new failure class '{fc.title}' (label {fc.label}; "
                f"finding types: {types}; control: {fc.control_candidate})"
            )
        else:
            _diff_tree(("failure_classes", slug), old_classes[slug], new_classes[slug], lines)
    for control in [*old.controls, *(c for c in new.controls if c not in old.controls)]:
        before, after = mode_for(old, control), mode_for(new, control)
        if before != after:
            lines.append(f"the {control} check would run in {after} mode (now {before})")
    return lines


# ---------------------------------------------------------------------------------------------
# Internals: matching


_LOGIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*")
_TEAM_SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_COLOR_RE = re.compile(r"#?([0-9A-Fa-f]{6})")


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.casefold())


def _classes(config: Config) -> Iterable[FailureClass]:
    return config.failure_classes.values()


def _type_names(failure_class: FailureClass) -> set[str]:
    names = {normalize_finding_type(t) for t in failure_class.finding_types}
    names.add(normalize_finding_type(failure_class.slug))
    names.add(normalize_finding_type(failure_class.title))
    names.discard("")
    return names


# ---------------------------------------------------------------------------------------------
# Internals: YAML with line numbers


_BAD: Any = object()  # a validator's "this value is invalid" (errors already recorded)

Path = tuple[Any, ...]


class _Layer:
    """Errors of one file, with the line of every key path in it."""

    def __init__(self, source: str, lines: Mapping[Path, int] | None = None) -> None:
        self.source = source
        self.lines: Mapping[Path, int] = lines or {}
        self.errors: list[ConfigError] = []

    def line_of(self, path: Path) -> int | None:
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def error(self, path: Path, reason: str, line: int | None = None) -> None:
        line = self.line_of(path) if line is None else line
        self.errors.append(ConfigError(self.source, line, _path_text(path), reason))


def _path_text(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _parse_yaml(source: str, text: str) -> tuple[Any, _Layer]:
    """YAML text -> (data, layer with line index); data is _BAD when the YAML is unreadable."""
    layer = _Layer(source)
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # the reader rejects control characters right here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        lines: dict[Path, int] = {}
        layer.lines = lines
        if node is not None:
            lines[()] = node.start_mark.line + 1
            _index_nodes(loader, node, (), lines, set(), layer)
        return data, layer
    except yaml.MarkedYAMLError as error:
        line, reason = _yaml_error(error)
        layer.errors.append(ConfigError(source, line, "", _yaml_hint(reason)))
    except yaml.YAMLError as error:
        position = getattr(error, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
        layer.errors.append(ConfigError(source, line, "", f"not valid YAML: {error}"))
    except RecursionError:
        layer.errors.append(ConfigError(source, None, "", "not valid YAML: nested too deeply"))
    finally:
        if loader is not None:
            loader.dispose()
    return _BAD, layer


# Constructs that PyYAML reports where the text runs out or the next key begins, when what is
# wrong is that they were never closed: its context mark is where the construct opened.
_UNCLOSED = (
    "while parsing a flow sequence",
    "while parsing a flow mapping",
    "while scanning a quoted scalar",
)


def _yaml_error(error: yaml.MarkedYAMLError) -> tuple[int | None, str]:
    """(line, reason) of a YAML error: the line to fix, which for an unclosed ``[``, ``{`` or
    quote is where it opened, not where the parser gave up."""
    reason = " ".join(part for part in (error.context, error.problem) if part)
    problem, context = error.problem_mark, error.context_mark
    if context is not None and (error.context or "").startswith(_UNCLOSED):
        if problem is not None and problem.line != context.line:
            reason += f" (not closed by line {problem.line + 1})"
        return context.line + 1, reason
    mark = problem or context
    return (mark.line + 1 if mark is not None else None), reason


def _yaml_hint(reason: str) -> str:
    reason = f"not valid YAML: {reason}"
    if "'@'" in reason:
        reason += ' (quote values that start with @, e.g. "@acme/reliability-leads")'
    elif "'*'" in reason or "alias" in reason:
        reason += ' (quote patterns that start with *, e.g. "**/*_test.go")'
    elif "'\\t'" in reason:
        reason += " (indent with spaces, not tabs)"
    return reason


def _index_nodes(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    seen: set[int],
    layer: _Layer,
) -> None:
    # An alias shares its node; walking it once keeps "billion laughs" documents linear.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in first_line:
                    layer.error(
                        (*path, key), f"duplicate key (first given on line {first_line[key]})", line
                    )
                    continue
                first_line[key] = line
            except TypeError:
                continue
            lines[(*path, key)] = line
            _index_nodes(loader, value_node, (*path, key), lines, seen, layer)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _index_nodes(loader, item, (*path, index), lines, seen, layer)


# ---------------------------------------------------------------------------------------------
# Internals: validation. Each validator returns the normalized value, or _BAD after recording
# the reason on the layer.

Check = Callable[[Any, Path, _Layer], Any]


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"true/false ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"text ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def _suggest(word: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close and len(word) >= 3:  # "risk" for "risk_reduction"
        close = [c for c in choices if c.startswith(word) or word.startswith(c)]
    return f"; did you mean '{close[0]}'?" if close else ""


def _text(*, max_len: int | None = None, allow_empty: bool = False) -> Check:
    def check(value: Any, path: Path, layer: _Layer) -> Any:
        if not isinstance(value, str):
            layer.error(path, f"expected text, got {_describe(value)}")
            return _BAD
        value = value.strip()
        if not value and not allow_empty:
            layer.error(path, "must not be empty")
            return _BAD
        if max_len is not None and len(value) > max_len:
            layer.error(path, f"at most {max_len} characters (got {len(value)})")
            return _BAD
        return value

    return check


def _choice(
    choices: Sequence[str], *, nullable: bool = False, normalize: Callable[[str], str] = str.lower
) -> Check:
    def check(value: Any, path: Path, layer: _Layer) -> Any:
        if value is None and nullable:
            return None
        hint = ""
        if isinstance(value, str):
            key = normalize(value.strip())
            if key in choices:
                return key
            hint = _suggest(key, choices)
        allowed = " | ".join(choices) + (" | null" if nullable else "")
        layer.error(path, f"expected one of {allowed}, got {_describe(value)}{hint}")
        return _BAD

    return check


def _integer(low: int, high: int) -> Check:
    def check(value: Any, path: Path, layer: _Layer) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            layer.error(
                path, f"expected a whole number from {low} to {high}, got {_describe(value)}"
            )
            return _BAD
        if not low <= value <= high:
            layer.error(path, f"expected a whole number from {low} to {high}, got {value}")
            return _BAD
        return value

    return check


def _list_of(item: Check) -> Check:
    def check(value: Any, path: Path, layer: _Layer) -> Any:
        if not isinstance(value, list):
            layer.error(path, f"expected a list (write [] for none), got {_describe(value)}")
            return _BAD
        out = [item(element, (*path, index), layer) for index, element in enumerate(value)]
        return _BAD if any(element is _BAD for element in out) else out

    return check


def _mapping(fields: Mapping[str, Check]) -> Check:
    def check(value: Any, path: Path, layer: _Layer) -> Any:
        if not isinstance(value, dict):
            layer.error(path, f"expected a mapping of {', '.join(fields)}, got {_describe(value)}")
            return _BAD
        out: dict[str, Any] = {}
        bad = False
        for key, element in value.items():
            if not isinstance(key, str) or key not in fields:
                where = f" under {_path_text(path)}" if path else ""
                hint = _suggest(key, fields) if isinstance(key, str) else ""
                layer.error(
                    (*path, key),
                    f"unknown key '{key}'{where}{hint} (known: {', '.join(fields)})",
                )
                bad = True
                continue
            checked = fields[key](element, (*path, key), layer)
            bad = bad or checked is _BAD
            out[key] = checked
        return _BAD if bad else out

    return check


def _keyed(key_check: Callable[[Any], Any], key_help: str, value: Check) -> Check:
    """A mapping whose keys are normalized by ``key_check`` (None: not a valid key)."""

    def check(data: Any, path: Path, layer: _Layer) -> Any:
        if not isinstance(data, dict):
            layer.error(path, f"expected a mapping keyed by {key_help}, got {_describe(data)}")
            return _BAD
        out: dict[Any, Any] = {}
        bad = False
        for key, element in data.items():
            normalized = key_check(key)
            if normalized is None:
                layer.error((*path, key), f"unknown key '{key}': expected {key_help}")
                bad = True
                continue
            checked = value(element, (*path, key), layer)
            bad = bad or checked is _BAD
            out[normalized] = checked
        return _BAD if bad else out

    return check


def _severity_key(key: Any) -> int | None:
    if isinstance(key, bool):
        return None
    text = str(key).strip().lower()
    match = re.fullmatch(r"(?:sev[\s_-]*)?([1-4])", text)
    return int(match.group(1)) if match else None


def _priority_key(key: Any) -> Priority | None:
    text = str(key).strip().upper()
    return cast(Priority, text) if text in PRIORITIES else None


def _glob(value: Any, path: Path, layer: _Layer) -> Any:
    if not isinstance(value, str):
        layer.error(path, f"expected a path pattern (quoted text), got {_describe(value)}")
        return _BAD
    problem = glob_problem(value)
    if problem:
        layer.error(path, problem)
        return _BAD
    return value.strip()


def _lead(value: Any, path: Path, layer: _Layer) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if "/" in text:
            team = parse_team(text)
            if team:
                return f"@{team}"
            layer.error(path, f"'{value}' is not a team handle like \"@acme/reliability-leads\"")
            return _BAD
        user = parse_user(text)
        if user:
            return user
    layer.error(
        path,
        f'expected a GitHub login like carol or a team like "@acme/reliability-leads", '
        f"got {_describe(value)}",
    )
    return _BAD


def _color(value: Any, path: Path, layer: _Layer) -> Any:
    if isinstance(value, str):
        match = _COLOR_RE.fullmatch(value.strip())
        if match:
            return match.group(1).lower()
    layer.error(path, f'expected six hex digits in quotes, like "d73a4a", got {_describe(value)}')
    return _BAD


def _weekday(value: Any, path: Path, layer: _Layer) -> Any:
    if value is None or value is False or (isinstance(value, str) and value.lower() == "off"):
        return None
    return _choice(WEEKDAYS)(value, path, layer)


def _audit_day(value: Any, path: Path, layer: _Layer) -> Any:
    if value is None or value is False or (isinstance(value, str) and value.lower() == "off"):
        return None
    return _integer(1, 28)(value, path, layer)


def _label() -> Check:
    return _text(max_len=MAX_LABEL_LENGTH)


_FAILURE_CLASS_FIELDS: dict[str, Check] = {
    "label": _label(),
    "title": _text(max_len=200),
    "finding_types": _list_of(_text(max_len=200)),
    "control_candidate": _text(max_len=500),
    "verification_style": _text(max_len=500),
    "control_paths": _list_of(_glob),
    "risk_reduction": _choice(RISK_REDUCTIONS),
    "adoption_speed": _choice(ADOPTION_SPEEDS),
}
_REQUIRED_CLASS_FIELDS = ("control_candidate", "verification_style", "control_paths")


def _failure_classes(value: Any, path: Path, layer: _Layer) -> Any:
    if not isinstance(value, dict):
        layer.error(path, f"expected a mapping of failure class slugs, got {_describe(value)}")
        return _BAD
    out: dict[str, Any] = {}
    bad = False
    for slug, fields in value.items():
        if not isinstance(slug, str) or not _SLUG_RE.fullmatch(slug):
            layer.error(
                (*path, slug),
                f"'{slug}' is not a failure class slug: use lowercase letters, digits and "
                "single hyphens, like missed-detection",
            )
            bad = True
            continue
        checked = _mapping(_FAILURE_CLASS_FIELDS)(fields, (*path, slug), layer)
        bad = bad or checked is _BAD
        out[slug] = checked
    return _BAD if bad else out


_STYLE = _mapping({"color": _color, "description": _text(max_len=100, allow_empty=True)})

_SCHEMA: Check = _mapping(
    {
        "mode": _choice(MODES),
        "controls": _mapping(dict.fromkeys(CONTROLS, _choice(MODES, nullable=True))),
        "leads": _list_of(_lead),
        "labels": _mapping(
            {
                "incident": _label(),
                "hardening": _label(),
                "failure_class_prefix": _text(max_len=40),
                "priority_prefix": _text(max_len=40),
                "severity_prefix": _text(max_len=40),
                "styles": _mapping(dict.fromkeys(LABEL_STYLE_KINDS, _STYLE)),
            }
        ),
        "failure_classes": _failure_classes,
        "test_paths": _list_of(_glob),
        "priorities": _mapping(
            {
                "matrix": _mapping(
                    dict.fromkeys(
                        RISK_REDUCTIONS,
                        _mapping(
                            dict.fromkeys(ADOPTION_SPEEDS, _choice(PRIORITIES, normalize=str.upper))
                        ),
                    )
                ),
                "severity_raise": _keyed(_severity_key, "a severity 1-4", _integer(0, 3)),
            }
        ),
        "deadlines": _mapping(
            {
                "due_days": _keyed(_priority_key, "a priority band P0-P3", _integer(0, 365)),
                "severity_max_due_days": _keyed(_severity_key, "a severity 1-4", _integer(0, 365)),
                "adoption_check_day": _integer(0, 365),
                "adoption_after_due_days": _integer(0, 365),
                "timeline": _mapping(
                    {
                        "evidence_packet_hours": _integer(1, 24 * 30),
                        "control_and_test_hours": _integer(1, 24 * 60),
                        "runbook_and_ownership_days": _integer(1, 365),
                    }
                ),
            }
        ),
        "thresholds": _mapping(
            {"scorecard": _integer(0, 5), "rubric": _integer(0, 10), "adoption": _integer(0, 5)}
        ),
        "schedules": _mapping({"weekly_review": _weekday, "monthly_audit_day": _audit_day}),
    }
)


def _merge(base: Mapping[Any, Any], over: Mapping[Any, Any]) -> dict[Any, Any]:
    """Mappings merge key by key; anything else (lists, scalars, null) replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_layer(
    source: str, text: str, base: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, list[ConfigError]]:
    """Parse, validate and merge one file over ``base``; (merged, errors in line order)."""
    merged, errors = _read_layer_unsorted(source, text, base)
    return merged, sorted(errors, key=lambda error: error.line or 0)


def _read_layer_unsorted(
    source: str, text: str, base: Mapping[str, Any]
) -> tuple[dict[str, Any] | None, list[ConfigError]]:
    data, layer = _parse_yaml(source, text)
    if data is _BAD:
        return None, layer.errors
    if data is None:  # an empty file changes nothing
        return dict(base), layer.errors
    checked = _SCHEMA(data, (), layer)
    if checked is _BAD or layer.errors:
        return None, layer.errors
    merged = _merge(base, checked)
    _check_merged(merged, checked, layer)
    return merged, layer.errors


def _check_merged(merged: Mapping[str, Any], layer_data: Mapping[str, Any], layer: _Layer) -> None:
    """Rules that need the merged view: complete classes, unambiguous types, distinct labels."""
    classes: Mapping[str, Mapping[str, Any]] = merged["failure_classes"]
    touched = layer_data.get("failure_classes", {})
    for slug, fields in classes.items():
        missing = [name for name in _REQUIRED_CLASS_FIELDS if name not in fields]
        if missing:
            layer.error(
                ("failure_classes", slug),
                f"a new failure class needs {', '.join(_REQUIRED_CLASS_FIELDS)} "
                f"(missing: {', '.join(missing)})",
            )
    owner_of: dict[str, str] = {}
    for slug, fields in classes.items():
        title = fields.get("title") or _title_of(slug)
        names = [slug, title, *fields.get("finding_types", [])]
        for name in dict.fromkeys(normalize_finding_type(n) for n in names):
            other = owner_of.setdefault(name, slug)
            if other != slug:
                culprit = slug if slug in touched else other
                layer.error(
                    ("failure_classes", culprit, "finding_types"),
                    f"finding type '{name}' would name both {other} and {slug}; "
                    "a finding type must name one failure class",
                )
    labels = merged["labels"]
    seen: dict[str, Path] = {}
    candidates: list[tuple[str, Path]] = [
        (labels["incident"], ("labels", "incident")),
        (labels["hardening"], ("labels", "hardening")),
    ]
    for slug, fields in classes.items():
        label = fields.get("label") or f"{labels['failure_class_prefix']}{slug}"
        candidates.append((label, ("failure_classes", slug, "label")))
    for label, path in candidates:
        if len(label) > MAX_LABEL_LENGTH:
            layer.error(path, f"label '{label}' is longer than {MAX_LABEL_LENGTH} characters")
        folded = label.casefold()
        if folded in seen:
            layer.error(path, f"label '{label}' is also used by {_path_text(seen[folded])}")
        seen.setdefault(folded, path)


def _title_of(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


_DEFAULTS_CACHE: dict[str, Any] = {}


def _defaults_data() -> dict[str, Any]:
    if not _DEFAULTS_CACHE:
        text = resources.files("rules").joinpath("defaults.yml").read_text(encoding="utf-8")
        data, layer = _parse_yaml(DEFAULTS_SOURCE, text)
        checked = _BAD if data is _BAD else _SCHEMA(data, (), layer)
        if checked is _BAD or layer.errors:
            raise ValueError("shipped defaults are invalid:\n" + "\n".join(map(str, layer.errors)))
        _check_merged(checked, checked, layer)
        if layer.errors:
            raise ValueError("shipped defaults are invalid:\n" + "\n".join(map(str, layer.errors)))
        _DEFAULTS_CACHE.update(checked)
    return dict(_DEFAULTS_CACHE)


def _build(data: Mapping[str, Any]) -> Config:
    labels = data["labels"]
    classes = {
        slug: FailureClass(
            slug=slug,
            label=fields.get("label") or f"{labels['failure_class_prefix']}{slug}",
            title=fields.get("title") or _title_of(slug),
            finding_types=tuple(fields.get("finding_types", ())),
            control_candidate=fields["control_candidate"],
            verification_style=fields["verification_style"],
            control_paths=tuple(fields["control_paths"]),
            risk_reduction=fields.get("risk_reduction", "medium"),
            adoption_speed=fields.get("adoption_speed", "medium"),
        )
        for slug, fields in data["failure_classes"].items()
    }
    leads = data["leads"]
    deadlines = data["deadlines"]
    return Config(
        mode=data["mode"],
        controls=dict(data["controls"]),
        leads=Leads(
            users=tuple(lead for lead in leads if not lead.startswith("@")),
            teams=tuple(lead[1:] for lead in leads if lead.startswith("@")),
        ),
        labels=Labels(
            incident=labels["incident"],
            hardening=labels["hardening"],
            failure_class_prefix=labels["failure_class_prefix"],
            priority_prefix=labels["priority_prefix"],
            severity_prefix=labels["severity_prefix"],
            styles={kind: LabelStyle(**style) for kind, style in labels["styles"].items()},
        ),
        failure_classes=classes,
        test_paths=tuple(data["test_paths"]),
        priorities=Priorities(
            matrix={risk: dict(row) for risk, row in data["priorities"]["matrix"].items()},
            severity_raise=dict(data["priorities"]["severity_raise"]),
        ),
        deadlines=Deadlines(
            due_days=dict(deadlines["due_days"]),
            severity_max_due_days=dict(deadlines["severity_max_due_days"]),
            adoption_check_day=deadlines["adoption_check_day"],
            adoption_after_due_days=deadlines["adoption_after_due_days"],
            timeline=Timeline(**deadlines["timeline"]),
        ),
        thresholds=Thresholds(**data["thresholds"]),
        schedules=Schedules(**data["schedules"]),
    )


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]" if value else "[]"
    return str(value)


def _diff_tree(path: Path, old: Any, new: Any, lines: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            _diff_tree((*path, key), old.get(key), new.get(key), lines)
        return
    if old == new:
        return
    where = _path_text(path)
    if isinstance(old, list) and isinstance(new, list):
        added = [v for v in new if v not in old]
        removed = [v for v in old if v not in new]
        parts = []
        if added:
            parts.append("adds " + ", ".join(_show(v) for v in added))
        if removed:
            parts.append("removes " + ", ".join(_show(v) for v in removed))
        lines.append(f"{where}: " + ("; ".join(parts) if parts else "changes the order"))
        return
    if path and path[0] == "controls":
        lines.append(f"{where}: {old or 'follows mode'} → {new or 'follows mode'}")
        return
    lines.append(f"{where}: {_show(old)} → {_show(new)}")
