"""`.github/hardening.yml`: the typed configuration, its schema, loading and merging, and diffs.

Every table of the hardening loop that is product behaviour lives in data, not code: the
finding-type to control mapping, the prioritization matrix, the timeline model and the 14-day
sprint, the scorecard / rubric / adoption thresholds, and the rollout modes (see
``docs/rules.md``). The shipped values are in ``rules/defaults.yml``; an organisation's
``.github`` repository and then the repository itself may override them.

- ``model``: the frozen dataclasses and the look-ups handlers make in them;
- ``document``: a YAML file with the line of every key path, so errors name the line to fix;
- ``schema``: one validator per key, and the rules that need the merged view;
- ``load``: the defaults, then each layer validated and merged over them;
- ``diff``: what a change of configuration would change, in words.

Control paths and test paths are globs as ``rules.globs`` matches them (anchored at the
repository root, ``**`` for any number of folders); a pattern ``rules.globs.glob_problem``
objects to is a configuration error.
"""

from rules.config.diff import diff_configs
from rules.config.load import config_as_data, default_config, load_config
from rules.config.model import (
    ADOPTION_SPEEDS,
    CONTROLS,
    DEFAULTS_SOURCE,
    LABEL_STYLE_KINDS,
    MAX_LABEL_LENGTH,
    MODES,
    RISK_REDUCTIONS,
    SEVERITIES,
    WEEKDAYS,
    AdoptionSpeed,
    Config,
    ConfigError,
    ConfigResult,
    Deadlines,
    FailureClass,
    Labels,
    LabelStyle,
    Leads,
    Limits,
    Mode,
    Priorities,
    RiskReduction,
    Schedules,
    Thresholds,
    Timeline,
    failure_class_for_finding_type,
    failure_class_for_label,
    mode_for,
    normalize_finding_type,
)
from rules.logins import MAX_LOGIN_LENGTH, is_login, parse_team, parse_user

__all__ = [
    "ADOPTION_SPEEDS",
    "CONTROLS",
    "DEFAULTS_SOURCE",
    "LABEL_STYLE_KINDS",
    "MAX_LABEL_LENGTH",
    "MAX_LOGIN_LENGTH",
    "MODES",
    "RISK_REDUCTIONS",
    "SEVERITIES",
    "WEEKDAYS",
    "AdoptionSpeed",
    "Config",
    "ConfigError",
    "ConfigResult",
    "Deadlines",
    "FailureClass",
    "LabelStyle",
    "Labels",
    "Leads",
    "Limits",
    "Mode",
    "Priorities",
    "RiskReduction",
    "Schedules",
    "Thresholds",
    "Timeline",
    "config_as_data",
    "default_config",
    "diff_configs",
    "failure_class_for_finding_type",
    "failure_class_for_label",
    "is_login",
    "load_config",
    "mode_for",
    "normalize_finding_type",
    "parse_team",
    "parse_user",
]
