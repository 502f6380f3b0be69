"""What a configuration file may say: one validator per key, and the rules of the merged view.

Each validator returns the normalized value, or ``BAD`` after recording the reason, with the
key path and its line, on the file's ``Layer``. The texts of the reasons are what users read in
the check run and the config pull request comment: keep them stable.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rules.config.document import BAD, Layer, Path, path_text
from rules.config.model import (
    ADOPTION_SPEEDS,
    CONTROLS,
    LABEL_STYLE_KINDS,
    MAX_FINDINGS_PER_INCIDENT,
    MAX_HARDENS_REFERENCES,
    MAX_LABEL_LENGTH,
    MAX_LINKED_PULLS_PER_ITEM,
    MODES,
    RISK_REDUCTIONS,
    WEEKDAYS,
    normalize_finding_type,
    title_of,
)
from rules.globs import glob_problem
from rules.logins import parse_team, parse_user
from rules.model import PRIORITIES, Priority

_SLUG_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_COLOR_RE = re.compile(r"#?([0-9A-Fa-f]{6})")

Check = Callable[[Any, Path, Layer], Any]


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
    def check(value: Any, path: Path, layer: Layer) -> Any:
        if not isinstance(value, str):
            layer.error(path, f"expected text, got {_describe(value)}")
            return BAD
        value = value.strip()
        if not value and not allow_empty:
            layer.error(path, "must not be empty")
            return BAD
        if max_len is not None and len(value) > max_len:
            layer.error(path, f"at most {max_len} characters (got {len(value)})")
            return BAD
        return value

    return check


def _choice(
    choices: Sequence[str], *, nullable: bool = False, normalize: Callable[[str], str] = str.lower
) -> Check:
    def check(value: Any, path: Path, layer: Layer) -> Any:
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
        return BAD

    return check


def _integer(low: int, high: int) -> Check:
    def check(value: Any, path: Path, layer: Layer) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            layer.error(
                path, f"expected a whole number from {low} to {high}, got {_describe(value)}"
            )
            return BAD
        if not low <= value <= high:
            layer.error(path, f"expected a whole number from {low} to {high}, got {value}")
            return BAD
        return value

    return check


def _list_of(item: Check) -> Check:
    def check(value: Any, path: Path, layer: Layer) -> Any:
        if not isinstance(value, list):
            layer.error(path, f"expected a list (write [] for none), got {_describe(value)}")
            return BAD
        out = [item(element, (*path, index), layer) for index, element in enumerate(value)]
        return BAD if any(element is BAD for element in out) else out

    return check


def _mapping(fields: Mapping[str, Check]) -> Check:
    def check(value: Any, path: Path, layer: Layer) -> Any:
        if not isinstance(value, dict):
            layer.error(path, f"expected a mapping of {', '.join(fields)}, got {_describe(value)}")
            return BAD
        out: dict[str, Any] = {}
        bad = False
        for key, element in value.items():
            if not isinstance(key, str) or key not in fields:
                where = f" under {path_text(path)}" if path else ""
                hint = _suggest(key, fields) if isinstance(key, str) else ""
                layer.error(
                    (*path, key),
                    f"unknown key '{key}'{where}{hint} (known: {', '.join(fields)})",
                )
                bad = True
                continue
            checked = fields[key](element, (*path, key), layer)
            bad = bad or checked is BAD
            out[key] = checked
        return BAD if bad else out

    return check


def _keyed(key_check: Callable[[Any], Any], key_help: str, value: Check) -> Check:
    """A mapping whose keys are normalized by ``key_check`` (None: not a valid key)."""

    def check(data: Any, path: Path, layer: Layer) -> Any:
        if not isinstance(data, dict):
            layer.error(path, f"expected a mapping keyed by {key_help}, got {_describe(data)}")
            return BAD
        out: dict[Any, Any] = {}
        bad = False
        for key, element in data.items():
            normalized = key_check(key)
            if normalized is None:
                layer.error((*path, key), f"unknown key '{key}': expected {key_help}")
                bad = True
                continue
            checked = value(element, (*path, key), layer)
            bad = bad or checked is BAD
            out[normalized] = checked
        return BAD if bad else out

    return check


def _severity_key(key: Any) -> int | None:
    if isinstance(key, bool):
        return None
    text = str(key).strip().lower()
    match = re.fullmatch(r"(?:sev[\s_-]*)?([1-4])", text)
    return int(match.group(1)) if match else None


def _priority_key(key: Any) -> Priority | None:
    text = str(key).strip().upper()
    return text if text in PRIORITIES else None


def _glob(value: Any, path: Path, layer: Layer) -> Any:
    if not isinstance(value, str):
        layer.error(path, f"expected a path pattern (quoted text), got {_describe(value)}")
        return BAD
    problem = glob_problem(value)
    if problem:
        layer.error(path, problem)
        return BAD
    return value.strip()


def _lead(value: Any, path: Path, layer: Layer) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if "/" in text:
            team = parse_team(text)
            if team:
                return f"@{team}"
            layer.error(path, f"'{value}' is not a team handle like \"@acme/reliability-leads\"")
            return BAD
        user = parse_user(text)
        if user:
            return user
    layer.error(
        path,
        f'expected a GitHub login like carol or a team like "@acme/reliability-leads", '
        f"got {_describe(value)}",
    )
    return BAD


def _color(value: Any, path: Path, layer: Layer) -> Any:
    if isinstance(value, str):
        match = _COLOR_RE.fullmatch(value.strip())
        if match:
            return match.group(1).lower()
    layer.error(path, f'expected six hex digits in quotes, like "d73a4a", got {_describe(value)}')
    return BAD


def _weekday(value: Any, path: Path, layer: Layer) -> Any:
    if value is None or value is False or (isinstance(value, str) and value.lower() == "off"):
        return None
    return _choice(WEEKDAYS)(value, path, layer)


def _audit_day(value: Any, path: Path, layer: Layer) -> Any:
    if value is None or value is False or (isinstance(value, str) and value.lower() == "off"):
        return None
    return _integer(1, 28)(value, path, layer)


def _boolean(value: Any, path: Path, layer: Layer) -> Any:
    if isinstance(value, bool):
        return value
    layer.error(path, f"expected true or false, got {_describe(value)}")
    return BAD


def _label() -> Check:
    return _text(max_len=MAX_LABEL_LENGTH)


_FAILURE_CLASS_FIELDS: dict[str, Check] = {
    "label": _label(),
    "title": _text(max_len=200),
    "finding_types": _list_of(_text(max_len=200)),
    "control_candidate": _text(max_len=500),
    "verification_style": _text(max_len=500),
    "control_paths": _list_of(_glob),
    "documents_are_controls": _boolean,
    "risk_reduction": _choice(RISK_REDUCTIONS),
    "adoption_speed": _choice(ADOPTION_SPEEDS),
}
_REQUIRED_CLASS_FIELDS = ("control_candidate", "verification_style", "control_paths")


def _failure_classes(value: Any, path: Path, layer: Layer) -> Any:
    if not isinstance(value, dict):
        layer.error(path, f"expected a mapping of failure class slugs, got {_describe(value)}")
        return BAD
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
        bad = bad or checked is BAD
        out[slug] = checked
    return BAD if bad else out


def _components(value: Any, path: Path, layer: Layer) -> Any:
    """Component names (slugs) and the paths that are theirs."""
    if not isinstance(value, dict):
        layer.error(path, f"expected a mapping of component names, got {_describe(value)}")
        return BAD
    out: dict[str, Any] = {}
    bad = False
    for name, globs in value.items():
        if not isinstance(name, str) or not _SLUG_RE.fullmatch(name):
            layer.error(
                (*path, name),
                f"'{name}' is not a component name: use lowercase letters, digits and single "
                "hyphens, like checkout",
            )
            bad = True
            continue
        checked = _list_of(_glob)(globs, (*path, name), layer)
        bad = bad or checked is BAD
        out[name] = checked
    return BAD if bad else out


_STYLE = _mapping({"color": _color, "description": _text(max_len=100, allow_empty=True)})

SCHEMA: Check = _mapping(
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
        "components": _components,
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
        "limits": _mapping(
            {
                "hardens_references": _integer(1, MAX_HARDENS_REFERENCES),
                "findings_per_incident": _integer(1, MAX_FINDINGS_PER_INCIDENT),
                "linked_pulls_per_item": _integer(1, MAX_LINKED_PULLS_PER_ITEM),
            }
        ),
    }
)


def check_merged(merged: Mapping[str, Any], layer_data: Mapping[str, Any], layer: Layer) -> None:
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
        title = fields.get("title") or title_of(slug)
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
            layer.error(path, f"label '{label}' is also used by {path_text(seen[folded])}")
        seen.setdefault(folded, path)
