"""rules.labels: the labels a hardening item carries, and the ones a save replaces."""

from __future__ import annotations

from rules.config import default_config, load_config
from rules.labels import item_labels, label_changes, label_style, labels_of_items
from rules.model import HardeningItem

CONFIG = default_config()
ITEM = HardeningItem(failure_class="missed-detection", priority="P1")


def test_a_new_item_carries_the_hardening_class_and_priority_labels() -> None:
    assert item_labels(ITEM, CONFIG) == [
        "hardening",
        "failure-class:missed-detection",
        "priority:P1",
    ]
    assert item_labels(HardeningItem(), CONFIG) == ["hardening"]
    other = HardeningItem(failure_class="late-decision", priority="P1")
    assert labels_of_items([ITEM, other], CONFIG) == [
        "hardening",
        "failure-class:missed-detection",
        "priority:P1",
        "failure-class:late-decision",
    ]


def test_a_save_replaces_stale_labels_and_leaves_others_alone() -> None:
    present = ["hardening", "Priority:P3", "ops", "failure-class:missed-detection"]
    assert label_changes(present, ITEM, CONFIG) == (["Priority:P3"], ["priority:P1"])
    assert label_changes(
        ["hardening", "PRIORITY:p1", "failure-class:missed-detection"], ITEM, CONFIG
    ) == ([], [])
    # An unset field, or a failure class the configuration does not know, changes nothing.
    unknown = HardeningItem(failure_class="cosmic-rays")
    assert label_changes(["priority:P2", "failure-class:x"], unknown, CONFIG) == ([], [])


def test_label_styles_follow_the_configured_prefixes() -> None:
    config = load_config([(".github/hardening.yml", "labels: {hardening: Reliability}\n")]).config
    labels = config.labels
    assert label_style("reliability", labels) == labels.styles.get("hardening")
    assert label_style("failure-class:x", labels) == labels.styles.get("failure_class")
    assert label_style("priority:P0", labels) == labels.styles.get("priority")
    assert label_style("sev-1", labels) == labels.styles.get("incident")
