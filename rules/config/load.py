"""Loading: the shipped defaults, then each layer validated and merged over them.

Merge semantics: mappings merge key by key, lists and scalars replace what they override. A
layer (one file) with any error is left out entirely and its errors are returned with file, line,
key path and reason, so a caller can never mistake a broken file for a valid one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from rules.config.document import BAD, parse_yaml
from rules.config.model import (
    DEFAULTS_SOURCE,
    Config,
    ConfigError,
    ConfigResult,
    Deadlines,
    FailureClass,
    Labels,
    LabelStyle,
    Leads,
    Limits,
    Priorities,
    Schedules,
    Thresholds,
    Timeline,
    title_of,
)
from rules.config.schema import SCHEMA, check_merged


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
                "documents_are_controls": fc.documents_are_controls,
                "risk_reduction": fc.risk_reduction,
                "adoption_speed": fc.adoption_speed,
            }
            for slug, fc in config.failure_classes.items()
        },
        "test_paths": list(config.test_paths),
        "components": {name: list(globs) for name, globs in config.components.items()},
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
        "limits": {
            "hardens_references": config.limits.hardens_references,
            "findings_per_incident": config.limits.findings_per_incident,
            "linked_pulls_per_item": config.limits.linked_pulls_per_item,
        },
    }


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
    data, layer = parse_yaml(source, text)
    if data is BAD:
        return None, layer.errors
    if data is None:  # an empty file changes nothing
        return dict(base), layer.errors
    checked = SCHEMA(data, (), layer)
    if checked is BAD or layer.errors:
        return None, layer.errors
    merged = _merge(base, checked)
    check_merged(merged, checked, layer)
    return merged, layer.errors


_DEFAULTS_CACHE: dict[str, Any] = {}


def _defaults_data() -> dict[str, Any]:
    if not _DEFAULTS_CACHE:
        text = resources.files("rules").joinpath("defaults.yml").read_text(encoding="utf-8")
        data, layer = parse_yaml(DEFAULTS_SOURCE, text)
        checked = BAD if data is BAD else SCHEMA(data, (), layer)
        if checked is BAD or layer.errors:
            raise ValueError("shipped defaults are invalid:\n" + "\n".join(map(str, layer.errors)))
        check_merged(checked, checked, layer)
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
            title=fields.get("title") or title_of(slug),
            finding_types=tuple(fields.get("finding_types", ())),
            control_candidate=fields["control_candidate"],
            verification_style=fields["verification_style"],
            control_paths=tuple(fields["control_paths"]),
            risk_reduction=fields.get("risk_reduction", "medium"),
            adoption_speed=fields.get("adoption_speed", "medium"),
            documents_are_controls=bool(fields.get("documents_are_controls", False)),
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
        limits=Limits(**data["limits"]),
        components={name: tuple(globs) for name, globs in (data.get("components") or {}).items()},
    )
