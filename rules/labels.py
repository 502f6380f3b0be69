"""The labels of a hardening item (docs/rules.md): the hardening label, ``failure-class:<slug>``
and ``priority:<band>``, with prefixes and styles from the configuration.

An item created for a finding carries all three; saving an item keeps its failure-class and
priority labels in step with its fields, replacing a stale one, and leaves people's labels alone
when a field is unset or names an unknown failure class.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rules.config import Config, Labels, LabelStyle
from rules.model import HardeningItem


def item_labels(item: HardeningItem, config: Config) -> list[str]:
    """The labels a new hardening item carries."""
    labels = [config.labels.hardening]
    if item.failure_class:
        labels.append(config.labels.for_failure_class(item.failure_class))
    if item.priority:
        labels.append(config.labels.for_priority(item.priority))
    return labels


def labels_of_items(items: Iterable[HardeningItem], config: Config) -> list[str]:
    """Every label the new ``items`` carry, each once, in order."""
    names: list[str] = []
    for item in items:
        for name in item_labels(item, config):
            if name not in names:
                names.append(name)
    return names


def label_changes(
    present: Sequence[str], item: HardeningItem, config: Config
) -> tuple[list[str], list[str]]:
    """``(stale, missing)``: the labels to remove from an issue labelled ``present`` and the
    labels to add, so its failure-class and priority labels say what ``item`` says."""
    labels = config.labels
    keep: list[tuple[str, str | None]] = [
        (labels.priority_prefix, labels.for_priority(item.priority) if item.priority else None),
        (
            labels.failure_class_prefix,
            labels.for_failure_class(item.failure_class)
            if item.failure_class is not None and item.failure_class in config.failure_classes
            else None,
        ),
    ]
    stale: list[str] = []
    missing: list[str] = []
    for prefix, label in keep:
        if label is None:
            continue  # a field unset (or an unknown class) leaves people's labels alone
        for name in present:
            folded = name.casefold()
            if folded.startswith(prefix.casefold()) and folded != label.casefold():
                stale.append(name)
        if all(name.casefold() != label.casefold() for name in present):
            missing.append(label)
    return stale, missing


def label_style(name: str, labels: Labels) -> LabelStyle | None:
    """The configured colour and description of a label the bot creates."""
    folded = name.casefold()
    if folded == labels.hardening.casefold():
        kind = "hardening"
    elif folded.startswith(labels.failure_class_prefix.casefold()):
        kind = "failure_class"
    elif folded.startswith(labels.priority_prefix.casefold()):
        kind = "priority"
    else:
        kind = "incident"
    return labels.styles.get(kind)
