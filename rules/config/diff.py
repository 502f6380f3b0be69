"""What changing the configuration would change, in words, for the config pull request comment."""

from __future__ import annotations

from typing import Any

from rules.config.document import Path, path_text
from rules.config.load import config_as_data
from rules.config.model import Config, mode_for


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
    where = path_text(path)
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
