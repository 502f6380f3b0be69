"""rules.incident: incident label, severity, the Findings section and finding keys."""

from __future__ import annotations

import textwrap
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.config import default_config, load_config
from rules.incident import (
    finding_key,
    incident_summary,
    is_incident,
    labelled_by,
    parse_incident,
    parse_severity,
    severity_from_body,
)

CONFIG = default_config()


def findings(body: str) -> list[tuple[str | None, str]]:
    incident = parse_incident(1, "t", textwrap.dedent(body), ["incident"], CONFIG)
    return [(f.failure_class, f.text) for f in incident.findings]


# docs/hardening-loop.md: finding type -> failure class.
@pytest.mark.parametrize(
    ("line", "slug"),
    [
        ("- missed detection: no page for 5xx", "missed-detection"),
        ("- late decision: rollback call took 40 minutes", "late-decision"),
        ("- slow recovery: restore took 2h", "slow-recovery"),
        ("- repeated regression: same null check broke again", "repeated-regression"),
        ("- Missed-Detection: no page for 5xx", "missed-detection"),
        ("- MISSED_DETECTION: no page for 5xx", "missed-detection"),
        ("- detection gap: no page for 5xx", "missed-detection"),
        ("- slow rollback: 25 min to revert", "slow-recovery"),
        ("- regression: same bug as in March", "repeated-regression"),
    ],
)
def test_finding_types(line: str, slug: str):
    (found,) = parse_incident(1, "t", f"## Findings\n{line}\n", [], CONFIG).findings
    assert found.failure_class == slug
    assert found.raw == line[2:]


@pytest.mark.parametrize(
    "item",
    ["- missed detection: x", "- [ ] missed detection: x", "- [x] missed detection: x",
     "- [X] missed detection: x", "* missed detection: x", "+ missed detection: x",
     "1. missed detection: x", "2) missed detection: x", "- **missed detection**: x",
     "- **missed detection:** x", "- `missed detection`: x", "-   missed detection :  x  ",
     "- missed detection - x", "- missed detection — x"],
)  # fmt: skip
def test_list_item_forms(item: str):
    assert findings(f"### Findings\n{item}\n") == [("missed-detection", "x")]


@pytest.mark.parametrize(
    "heading",
    ["# Findings", "## Findings", "### Findings", "#### Findings", "##### Findings",
     "###### Findings", "## findings", "## Findings:", "## Key findings", "**Findings**",
     "**Findings:**", "__Findings__", "Findings:", "### Findings ###",
     "## Findings (one per line)"],
)  # fmt: skip
def test_findings_heading_forms(heading: str):
    assert findings(f"{heading}\n\n- slow recovery: x\n") == [("slow-recovery", "x")]


def test_section_ends_at_same_or_higher_heading_and_continues_through_lower():
    body = """\
    - missed detection: before the section
    ## Findings
    - missed detection: a
    ### Detection details
    - slow recovery: b
      - late decision: a nested detail, not a finding
    ## Timeline
    - repeated regression: after the section
    # Findings
    - late decision: c
    """
    assert findings(body) == [
        ("missed-detection", "a"),
        ("slow-recovery", "b"),
        ("late-decision", "c"),
    ]


def test_bold_section_ends_at_any_heading_or_bold_line():
    body = """\
    **Findings**
    - missed detection: a
    **Follow-ups**
    - slow recovery: not a finding
    **Findings**
    - late decision: b
    ### Next
    - slow recovery: not a finding either
    """
    assert findings(body) == [("missed-detection", "a"), ("late-decision", "b")]


def test_code_blocks_quotes_and_comments_are_not_findings():
    body = """\
    ## Findings
    <!-- one per line, e.g.
    - missed detection: example from the template
    -->
    ```
    - slow recovery: in a code block
    ```
    > - late decision: quoted from chat
    - repeated regression: the real one <!-- added by carol -->
    """
    assert findings(body) == [("repeated-regression", "the real one")]


def test_unknown_findings_are_kept_apart_from_the_known_ones():
    body = "## Findings\n- flaky deploy: canary skipped\n- no type here\n- missed detection: a\n"
    incident = parse_incident(7, "t", body, ["incident"], CONFIG)
    assert [f.failure_class for f in incident.findings] == ["missed-detection"]
    unknown = incident.unknown_findings
    assert [(f.type_text, f.text, f.failure_class) for f in unknown] == [
        ("flaky deploy", "canary skipped", None),
        ("", "no type here", None),
    ]


def test_configured_types_and_classes_are_used():
    config = load_config(
        [(".github/hardening.yml", textwrap.dedent("""\
            failure_classes:
              capacity:
                finding_types: [capacity exhaustion]
                control_candidate: load test gate
                verification_style: load test trend
                control_paths: ["capacity/**"]
            """))]
    ).config  # fmt: skip
    body = "## Findings\n- Capacity-Exhaustion: pool ran dry\n"
    (found,) = parse_incident(1, "t", body, [], config).findings
    assert found.failure_class == "capacity"
    assert parse_incident(1, "t", body, [], CONFIG).findings == ()


# --- keys ------------------------------------------------------------------------------------


def key_of(line: str) -> str:
    incident = parse_incident(1, "t", f"## Findings\n{line}\n", [], CONFIG)
    (found,) = incident.findings + incident.unknown_findings
    return found.key


def test_key_ignores_case_spacing_trailing_stop_and_alias():
    base = key_of("- missed detection: no page for 5xx")
    assert len(base) == 12 and int(base, 16) >= 0
    for same in (
        "- Missed Detection:   No page   for 5XX.",
        "- [x] detection gap: no page for 5xx",
        "* missed_detection: no page for 5xx",
    ):
        assert key_of(same) == base, same
    assert base == finding_key("missed-detection", "missed detection", "no page for 5xx")


def test_key_changes_with_the_text_or_the_class():
    base = key_of("- missed detection: no page for 5xx")
    assert key_of("- missed detection: no page for 5xx on checkout") != base
    assert key_of("- slow recovery: no page for 5xx") != base


def test_duplicate_findings_count_once():
    body = "## Findings\n- missed detection: a\n- Missed detection: A.\n- slow recovery: a\n"
    incident = parse_incident(1, "t", body, [], CONFIG)
    assert [f.failure_class for f in incident.findings] == ["missed-detection", "slow-recovery"]


# --- labels and severity -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(["incident"], True), (["Incident"], True), (["INCIDENT", "sev-1"], True),
     (["incidents"], False), ([], False), (["hardening"], False)],
)  # fmt: skip
def test_is_incident(labels: list[str], expected: bool):
    assert is_incident(labels, CONFIG) is expected


def test_incident_label_comes_from_config():
    config = load_config([("x", "labels: {incident: outage}")]).config
    assert is_incident(["Outage"], config)
    assert not is_incident(["incident"], config)


@pytest.mark.parametrize(
    ("labels", "body", "severity"),
    [
        (["sev-1"], "", 1),
        (["SEV-2"], "", 2),
        (["Sev-3", "incident"], "", 3),
        (["sev-4"], "Severity: 1", 4),  # the label wins over the field
        (["sev-3", "sev-1"], "", 1),  # the most severe label wins
        (["sev-9"], "", None),
        ([], "Severity: SEV1", 1),
        ([], "- Severity: sev 2", 2),
        ([], "**Severity:** 3", 3),
        ([], "- **Severity**: critical", 1),
        ([], "Severity - major", 2),
        ([], "### Severity\n\nSEV-4\n", 4),
        ([], "```\nSeverity: 1\n```", None),
        ([], "No severity given.", None),
    ],
)
def test_severity(labels: list[str], body: str, severity: int | None):
    assert parse_incident(1, "t", body, labels, CONFIG).severity == severity


@pytest.mark.parametrize(
    ("text", "severity"),
    [("SEV1", 1), ("sev-1", 1), ("sev 2", 2), ("sev_3", 3), ("S4", 4), ("4", 4), ("SEV0", 1),
     ("Severity 2", 2), ("critical", 1), ("Major", 2), ("high", 2), ("medium", 3), ("minor", 3),
     ("moderate", 3), ("low", 4), ("**SEV-2** (customer facing)", 2), ("5", None), ("12", None),
     ("P1", None), ("", None), ("unknown", None)],
)  # fmt: skip
def test_parse_severity(text: str, severity: int | None):
    assert parse_severity(text) == severity


def test_severity_label_prefix_from_config():
    config = load_config([("x", 'labels: {severity_prefix: "severity/"}')]).config
    assert parse_incident(1, "t", "", ["Severity/2"], config).severity == 2
    assert parse_incident(1, "t", "", ["sev-2"], config).severity is None


REALISTIC = """\
**Incident commander:** @carol
**Severity:** SEV-2
**Status page:** https://status.example/incidents/42

## Summary
Checkout returned 500s for 38 minutes after the 14:02 deploy.

## Timeline
- 14:02 deploy of checkout v2.3.1
- 14:09 first customer report (no alert fired)
- 14:31 decision to roll back
- 14:40 rollback complete

## Findings
<!-- One per line: `<finding type>: <text>`. Types: missed detection, late decision,
slow recovery, repeated regression -->
- [ ] missed detection: no alert on checkout 5xx rate; customers told us first
- [ ] late decision: 22 minutes between first report and the rollback call
- [ ] slow recovery: rollback needed a manual helm command nobody had run in months
- [ ] repeated regression: same missing-null-check class as INC-31
- [ ] communication: status page updated late

## Action items
- [ ] slow recovery: tracked below, not a finding
"""


def test_a_realistic_incident():
    incident = parse_incident(42, "Checkout 500s", REALISTIC, ["incident", "checkout"], CONFIG)
    assert incident.number == 42 and incident.title == "Checkout 500s"
    assert incident.severity == 2
    assert [f.failure_class for f in incident.findings] == [
        "missed-detection", "late-decision", "slow-recovery", "repeated-regression",
    ]  # fmt: skip
    assert [f.type_text for f in incident.unknown_findings] == ["communication"]
    assert len({f.key for f in incident.findings}) == 4


def test_crlf_body():
    body = REALISTIC.replace("\n", "\r\n")
    incident = parse_incident(42, "t", body, [], CONFIG)
    assert incident == parse_incident(42, "t", REALISTIC, [], CONFIG)
    assert severity_from_body(body) == 2


@given(st.text(max_size=400), st.lists(st.text(max_size=12), max_size=4))
def test_parse_incident_never_raises(body: str, labels: list[str]):
    incident = parse_incident(1, "t", body, labels, CONFIG)
    assert incident.severity in (None, 1, 2, 3, 4)
    keys = [f.key for f in incident.findings + incident.unknown_findings]
    assert len(keys) == len(set(keys))


_NOISE = st.lists(
    st.sampled_from(["## Findings", "**Findings**", "- ", "- [ ] ", "* ", "missed detection",
                     ": ", "text", "\n", "```", "<!--", "-->", "> ", "#", "  ", "Severity: ",
                     "sev-1", "—", "**"]),
    max_size=40,
).map("".join)  # fmt: skip


@given(_NOISE)
def test_findings_like_noise_never_raises_and_is_deterministic(body: str):
    first = parse_incident(1, "t", body, [], CONFIG)
    assert parse_incident(1, "t", body, [], CONFIG) == first
    assert all(f.failure_class for f in first.findings)
    assert all(f.failure_class is None for f in first.unknown_findings)


@pytest.mark.parametrize(
    "body",
    ["# a" + " " * 20_000 + "x", "**a**" + " " * 20_000 + "x", "Severity" + " " * 20_000 + "x",
     "## Findings\n- a" + " " * 20_000 + "x", "<!--" * 20_000, "   " * 20_000],
    ids=range(6),
)  # fmt: skip
def test_long_lines_take_linear_time(body: str):
    started = time.perf_counter()
    parse_incident(1, "t", body, [], CONFIG)
    assert time.perf_counter() - started < 1.5


def test_incident_summary_is_the_first_paragraph_before_the_findings() -> None:
    body = (
        "## Summary\nSeverity: SEV-2\n\nThe consumer stalled\nfor an hour.\n\nSecond para.\n"
        "## Findings\n- missed detection: x\n"
    )
    assert incident_summary(body) == "The consumer stalled for an hour."
    assert incident_summary("## Findings\n- late decision: y\n") == ""
    assert incident_summary("> quoted\n\n" + "word " * 200).endswith("…")


def test_a_type_without_text_is_kept_apart_not_planned() -> None:
    # An issue form's untouched example line: a known type and nothing after the colon.
    body = "### Findings\n\n- missed detection:\n- slow recovery: rollback took 40 minutes\n"
    incident = parse_incident(3, "Outage", body, ["incident"], default_config())
    assert [f.failure_class for f in incident.findings] == ["slow-recovery"]
    [empty] = incident.unknown_findings
    assert empty.failure_class == "missed-detection" and empty.text == ""


def test_summary_skips_an_issue_form_severity_section() -> None:
    body = "### Severity\n\nsev-2\n\n### Summary\n\nCheckout was down.\n\n### Findings\n\n- x: y\n"
    assert incident_summary(body) == "Checkout was down."


def test_labelled_by_names_who_added_the_label_latest_first_once_each() -> None:
    def labeled(login: str, name: str) -> dict[str, object]:
        return {"event": "labeled", "actor": {"login": login}, "label": {"name": name}}

    timeline = [
        labeled("mallory", "incident"),
        {"event": "unlabeled", "actor": {"login": "tara"}, "label": {"name": "incident"}},
        labeled("tara", "Incident"),
        labeled("dave", "bug"),
        {"event": "commented", "actor": {"login": "dave"}},
        labeled("Mallory", "incident "),
        "not an event",
    ]
    assert labelled_by(timeline, "incident") == ["Mallory", "tara"]
    assert labelled_by(timeline, "incident", limit=1) == ["Mallory"]
    assert labelled_by([], "incident") == []
