"""rules.config and rules/defaults.yml: the hardening loop's tables as shipped, merge, and errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rules.config import (
    CONTROLS,
    DEFAULTS_SOURCE,
    MODES,
    ConfigError,
    config_as_data,
    default_config,
    diff_configs,
    failure_class_for_finding_type,
    failure_class_for_label,
    is_login,
    load_config,
    mode_for,
    normalize_finding_type,
    parse_team,
    parse_user,
)
from rules.globs import GlobSet, glob_problem

DEFAULTS = default_config()
REPO = ".github/hardening.yml"
ORG = "octo/.github:hardening.yml"


def load(text: str, source: str = REPO):
    return load_config([(source, textwrap.dedent(text))])


# --- the tables of docs/hardening-loop.md, as shipped ---------------------------------------

# docs/hardening-loop.md, "From incident finding to control design".
FINDING_TABLE = [
    ("missed detection", "failure-class:missed-detection", "alert rule + routing update",
     "synthetic alert replay"),
    ("late decision", "failure-class:late-decision", "checkpoint SLA + commander script",
     "drill timing audit"),
    ("slow recovery", "failure-class:slow-recovery", "rollback rehearsal gate",
     "timed rollback run"),
    ("repeated regression", "failure-class:repeated-regression", "test harness + policy check",
     "regression suite trend"),
]  # fmt: skip


@pytest.mark.parametrize(("finding_type", "label", "control", "verification"), FINDING_TABLE)
def test_finding_type_table(finding_type: str, label: str, control: str, verification: str):
    failure_class = failure_class_for_finding_type(DEFAULTS, finding_type)
    assert failure_class is not None
    assert failure_class.label == label
    assert failure_class.control_candidate == control
    assert failure_class.verification_style == verification
    assert failure_class.finding_types[0] == finding_type
    assert failure_class_for_label(DEFAULTS, label) is failure_class


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Missed Detection", "missed-detection"),
        ("missed-detection", "missed-detection"),
        ("MISSED_DETECTION", "missed-detection"),
        ("  missed   detection ", "missed-detection"),
        ("missed_-detection", "missed-detection"),
        ("**missed detection**", "missed-detection"),
        ("detection gap", "missed-detection"),
        ("Late-Decision", "late-decision"),
        ("slow rollback", "slow-recovery"),
        ("Slow_Recovery", "slow-recovery"),
        ("regression", "repeated-regression"),
        ("Repeated regression", "repeated-regression"),
        ("flaky deploy", None),
        ("", None),
        ("missed", None),
    ],
)
def test_finding_types_match_case_and_separator_insensitively(text: str, slug: str | None):
    found = failure_class_for_finding_type(DEFAULTS, text)
    assert (found.slug if found else None) == slug


def test_labels_match_case_insensitively():
    assert failure_class_for_label(DEFAULTS, "Failure-Class:Slow-Recovery").slug == "slow-recovery"
    assert failure_class_for_label(DEFAULTS, "failure-class:nope") is None


def test_each_default_class_is_named_first_by_its_documented_finding_type():
    # The tracking comment offers each class's first finding type as "Allowed types".
    first = [fc.finding_types[0] for fc in DEFAULTS.failure_classes.values()]
    assert first[:4] == [row[0] for row in FINDING_TABLE]


# docs/checks.md: the paths every default includes.
DOCUMENTED_TEST_PATHS = ["tests/**", "test/**", "spec/**", "src/test/**", "**/*_test.go",
                       "**/*.test.*", "**/*.spec.*", "**/test_*.py"]  # fmt: skip
DOCUMENTED_CONTROL_PATHS = {
    "missed-detection": ["alerts/**", "monitoring/**"],
    "late-decision": ["runbooks/**", "escalation/**"],
    "slow-recovery": ["rollback/**", "deploy/**"],
    "repeated-regression": [".github/workflows/**", "policy/**"],
}


def test_contract_default_paths_are_included_exactly():
    assert set(DOCUMENTED_TEST_PATHS) <= set(DEFAULTS.test_paths)
    for slug, paths in DOCUMENTED_CONTROL_PATHS.items():
        assert set(paths) <= set(DEFAULTS.failure_classes[slug].control_paths)


def test_every_shipped_pattern_is_a_valid_glob():
    patterns = [*DEFAULTS.test_paths]
    for failure_class in DEFAULTS.failure_classes.values():
        patterns += failure_class.control_paths
    assert [p for p in patterns if glob_problem(p)] == []
    assert len(DEFAULTS.test_paths) == len(set(DEFAULTS.test_paths))


@pytest.mark.parametrize(
    ("path", "slug"),
    [
        ("alerts/checkout.yml", "missed-detection"),
        ("monitoring/prometheus/rules.yml", "missed-detection"),
        ("deploy/prometheus/checkout.rules.yml", "missed-detection"),
        ("ops/alertmanager.yml", "missed-detection"),
        ("k8s/checkout-prometheusrule.yaml", "missed-detection"),
        ("grafana/dashboards/checkout.json", "missed-detection"),
        ("infra/datadog/monitors.tf", "missed-detection"),
        ("infra/newrelic/alerts.tf", "missed-detection"),
        ("infra/terraform/modules/monitoring/main.tf", "missed-detection"),
        ("infra/checkout_monitors.tf", "missed-detection"),
        ("services/api/alerts/latency.yaml", "missed-detection"),
        ("runbooks/checkout.md", "late-decision"),
        ("docs/runbooks/db-failover.md", "late-decision"),
        ("escalation/policy.yml", "late-decision"),
        ("infra/pagerduty/services.tf", "late-decision"),
        ("oncall/rotation.yaml", "late-decision"),
        ("infra/escalation_policy.tf", "late-decision"),
        ("rollback/rehearse.sh", "slow-recovery"),
        ("deploy/pipeline.yml", "slow-recovery"),
        ("scripts/rollback.sh", "slow-recovery"),
        ("k8s/argo/checkout-rollout.yaml", "slow-recovery"),
        ("charts/helm/values.yaml", "slow-recovery"),
        ("clusters/prod/flux/kustomization.yaml", "slow-recovery"),
        (".github/workflows/ci.yml", "repeated-regression"),
        ("policy/deploy.rego", "repeated-regression"),
        ("opa/checks/no_latest_tag.rego", "repeated-regression"),
        (".pre-commit-config.yaml", "repeated-regression"),
        ("CODEOWNERS", "repeated-regression"),
        (".github/CODEOWNERS", "repeated-regression"),
        ("infra/github/branch_protection.tf", "repeated-regression"),
    ],
)
def test_control_paths_cover_common_ecosystems(path: str, slug: str):
    assert GlobSet.of(DEFAULTS.failure_classes[slug].control_paths).match(path)


@pytest.mark.parametrize("path", ["README.md", "src/app.py", "docs/guide.md", "Makefile"])
def test_ordinary_files_are_no_control(path: str):
    for failure_class in DEFAULTS.failure_classes.values():
        assert not GlobSet.of(failure_class.control_paths).match(path), failure_class.slug


@pytest.mark.parametrize(
    "path",
    [
        "tests/test_checkout.py", "test/unit/x.c", "spec/models/user_spec.rb",
        "src/test/java/com/acme/CheckoutTest.java", "pkg/queue/lag_test.go",
        "web/src/cart.test.tsx", "web/src/cart.spec.ts", "app/test_orders.py",
        "app/orders_test.py", "services/api/tests/conftest.py", "ui/__tests__/Cart.jsx",
        "Checkout.Tests/PaymentTests.cs", "lib/payment_test.exs", "android/src/test/Foo.kt",
    ],
)  # fmt: skip
def test_test_paths_cover_common_languages(path: str):
    assert GlobSet.of(DEFAULTS.test_paths).match(path)


# From docs/hardening-loop.md: "Hardening portfolio prioritization matrix", plus the documented remaining cells.
MATRIX = [
    ("high", "fast", "P0"), ("high", "medium", "P1"), ("medium", "fast", "P2"),
    ("medium", "slow", "P3"), ("low", "slow", "P3"),
    ("high", "slow", "P2"), ("medium", "medium", "P2"), ("low", "fast", "P3"),
    ("low", "medium", "P3"),
]  # fmt: skip


@pytest.mark.parametrize(("risk", "speed", "band"), MATRIX)
def test_prioritization_matrix(risk: str, speed: str, band: str):
    assert DEFAULTS.priorities.matrix[risk][speed] == band


def test_thresholds_timeline_and_rollout_defaults():
    assert (DEFAULTS.thresholds.scorecard, DEFAULTS.thresholds.rubric) == (4, 7)
    assert DEFAULTS.thresholds.adoption == 4
    timeline = DEFAULTS.deadlines.timeline
    assert (timeline.evidence_packet_hours, timeline.control_and_test_hours) == (24, 72)
    assert timeline.runbook_and_ownership_days == 14
    assert DEFAULTS.mode == "warn"
    assert all(mode_for(DEFAULTS, control) == "warn" for control in CONTROLS)
    assert DEFAULTS.labels.incident == "incident" and DEFAULTS.labels.hardening == "hardening"
    assert DEFAULTS.labels.for_priority("P1") == "priority:P1"
    assert DEFAULTS.labels.severity_prefix == "sev-" and DEFAULTS.labels.severity_of("sev-2") == 2
    assert DEFAULTS.leads.users == () and DEFAULTS.leads.teams == ()
    assert set(DEFAULTS.labels.styles) == {
        "incident", "hardening", "failure_class", "priority", "severity"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("label", "severity"),
    [("sev-1", 1), ("SEV-2", 2), ("Sev_3", 3), ("sev 4", 4), ("sev1", 1), ("sev-5", None),
     ("sev-0", None), ("severity", None), ("sev-12", None), ("incident", None)],
)  # fmt: skip
def test_severity_labels(label: str, severity: int | None):
    assert DEFAULTS.labels.severity_of(label) == severity


# --- the example of docs/rules.md -----------------------------------------------------------------------------

DOCUMENTED_EXAMPLE = """\
mode: warn                 # default rollout mode of every control: shadow | warn | enforce
controls:                  # per-control overrides of mode
  regression-test: enforce
  control-change: warn
leads: [carol, "@acme/reliability-leads"]
labels: {incident: incident, hardening: hardening}
failure_classes:           # extend or override the shipped classes
  missed-detection:
    control_paths: ["alerts/**", "monitoring/**"]
test_paths: ["tests/**"]
"""


def test_contract_example_file():
    result = load(DOCUMENTED_EXAMPLE)
    assert result.ok, result.error_report()
    config = result.config
    assert result.sources == (DEFAULTS_SOURCE, REPO)
    assert mode_for(config, "regression-test") == "enforce"
    assert mode_for(config, "control-change") == "warn"
    assert config.leads.users == ("carol",)
    assert config.leads.teams == ("acme/reliability-leads",)
    missed = config.failure_classes["missed-detection"]
    assert missed.control_paths == ("alerts/**", "monitoring/**")
    # Other fields of an overridden class keep their shipped values.
    assert missed.control_candidate == "alert rule + routing update"
    assert config.test_paths == ("tests/**",)
    assert config.failure_classes["late-decision"] == DEFAULTS.failure_classes["late-decision"]


def test_org_then_repo_merge():
    org = "mode: enforce\nleads: [carol]\nthresholds: {rubric: 8}\nlabels: {incident: outage}\n"
    repo = "leads: [dave]\nthresholds: {scorecard: 5}\n"
    result = load_config([(ORG, org), (REPO, repo)])
    assert result.ok
    assert result.sources == (DEFAULTS_SOURCE, ORG, REPO)
    config = result.config
    assert config.mode == "enforce"  # from the org, not overridden by the repo
    assert config.leads.users == ("dave",)  # lists replace
    assert (config.thresholds.scorecard, config.thresholds.rubric) == (5, 8)  # mappings merge
    assert config.thresholds.adoption == 4
    assert config.labels.incident == "outage" and config.labels.hardening == "hardening"


def test_a_null_control_follows_mode_again():
    result = load_config([(ORG, "controls: {control-change: enforce}"),
                          (REPO, "controls: {control-change: null}\nmode: shadow")])  # fmt: skip
    assert result.ok
    assert mode_for(result.config, "control-change") == "shadow"


def test_new_failure_class_extends_and_can_be_overridden_later():
    org = """\
    failure_classes:
      capacity-exhaustion:
        title: Capacity exhaustion
        finding_types: [capacity exhaustion, ran out of capacity]
        control_candidate: autoscaling limit + load test
        verification_style: load test trend
        control_paths: ["capacity/**"]
        risk_reduction: high
        adoption_speed: slow
    """
    repo = "failure_classes:\n  capacity-exhaustion:\n    adoption_speed: fast\n"
    result = load_config([(ORG, textwrap.dedent(org)), (REPO, repo)])
    assert result.ok, result.error_report()
    added = result.config.failure_classes["capacity-exhaustion"]
    assert added.label == "failure-class:capacity-exhaustion"
    assert added.adoption_speed == "fast" and added.risk_reduction == "high"
    assert failure_class_for_finding_type(result.config, "Ran out of capacity") is added
    assert len(result.config.failure_classes) == 5


def test_label_prefix_applies_to_classes_without_their_own_label():
    result = load('labels: {failure_class_prefix: "fc/"}\n'
                  'failure_classes: {late-decision: {label: "decision-late"}}')  # fmt: skip
    assert result.ok
    classes = result.config.failure_classes
    assert classes["missed-detection"].label == "fc/missed-detection"
    assert classes["late-decision"].label == "decision-late"
    assert failure_class_for_label(result.config, "FC/missed-detection").slug == "missed-detection"


@pytest.mark.parametrize("text", [None])
def test_absent_file_is_skipped(text: None):
    result = load_config([(ORG, text), (REPO, text)])
    assert result.ok and result.sources == (DEFAULTS_SOURCE,)
    assert result.config == DEFAULTS


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_changes_nothing(text: str):
    result = load_config([(REPO, text)])
    assert result.ok and result.config == DEFAULTS
    assert result.sources == (DEFAULTS_SOURCE, REPO)


# --- errors ----------------------------------------------------------------------------------

ERRORS = [
    # (file text, line, key path, words in the reason)
    ("mode: warn\nmod: enforce\n", 2, "mod", ["unknown key 'mod'", "did you mean 'mode'"]),
    ("lead: [carol]\n", 1, "lead", ["did you mean 'leads'"]),
    ("mode: enforced\n", 1, "mode", ["shadow | warn | enforce", "did you mean 'enforce'"]),
    ("mode: 3\n", 1, "mode", ["got a number (3)"]),
    ("controls:\n  regression-tests: enforce\n", 2, "controls.regression-tests",
     ["unknown key", "did you mean 'regression-test'"]),
    ("controls:\n  control-change: strict\n", 2, "controls.control-change", ["expected one of"]),
    ("leads: carol\n", 1, "leads", ["expected a list"]),
    ("leads:\n  - carol\n  - bad--login\n", 3, "leads[1]", ["GitHub login"]),
    ("leads:\n  - '@acme/'\n", 2, "leads[0]", ["team handle"]),
    ("leads: [-carol]\n", 1, "leads[0]", ["GitHub login"]),
    ("leads: [\"@" + "a" * 40 + "\"]\n", 1, "leads[0]", ["GitHub login"]),
    ("test_paths: ['tests/[abc']\n", 1, "test_paths[0]", ["without its closing"]),
    ("test_paths: ['../tests/**']\n", 1, "test_paths[0]", [".."]),
    ("test_paths: ['']\n", 1, "test_paths[0]", ["empty"]),
    ("test_paths: tests/**\n", 1, "test_paths", ["expected a list"]),
    ("test_paths: [1]\n", 1, "test_paths[0]", ["path pattern"]),
    ("failure_classes:\n  missed-detection:\n    control_paths:\n      - 'a/{b'\n", 4,
     "failure_classes.missed-detection.control_paths[0]", ["closing"]),
    ("failure_classes:\n  missed-detection:\n    risk: high\n", 3,
     "failure_classes.missed-detection.risk", ["did you mean 'risk_reduction'"]),
    ("failure_classes:\n  missed-detection:\n    risk_reduction: huge\n", 3,
     "failure_classes.missed-detection.risk_reduction", ["high | medium | low"]),
    ("failure_classes:\n  Bad Slug:\n    title: x\n", 2, "failure_classes.Bad Slug",
     ["not a failure class slug"]),
    ("failure_classes:\n  new-class:\n    title: New\n", 2, "failure_classes.new-class",
     ["needs control_candidate", "missing: control_candidate, verification_style, control_paths"]),
    ("failure_classes:\n  late-decision:\n    finding_types: [regression]\n", 3,
     "failure_classes.late-decision.finding_types", ["'regression'", "repeated-regression"]),
    ("labels:\n  hardening: Incident\n", 2, "labels.hardening", ["also used by labels.incident"]),
    ("labels:\n  incident: " + "x" * 51 + "\n", 2, "labels.incident", ["at most 50"]),
    ("labels:\n  styles:\n    incident: {color: 123456}\n", 3, "labels.styles.incident.color",
     ["in quotes"]),
    ("thresholds:\n  scorecard: 6\n", 2, "thresholds.scorecard", ["0 to 5", "got 6"]),
    ("thresholds:\n  rubric: true\n", 2, "thresholds.rubric", ["got true/false"]),
    ("priorities:\n  matrix:\n    high: {fast: P9}\n", 3, "priorities.matrix.high.fast",
     ["P0 | P1 | P2 | P3"]),
    ("priorities:\n  severity_raise:\n    sev-9: 1\n", 3, "priorities.severity_raise.sev-9",
     ["a severity 1-4"]),
    ("deadlines:\n  due_days:\n    P5: 3\n", 3, "deadlines.due_days.P5", ["P0-P3"]),
    ("deadlines:\n  timeline:\n    evidence_packet_hours: 0\n", 3,
     "deadlines.timeline.evidence_packet_hours", ["from 1"]),
    ("schedules:\n  weekly_review: mondays\n", 2, "schedules.weekly_review",
     ["did you mean 'monday'"]),
    ("- mode: warn\n", 1, "", ["expected a mapping"]),
    ("mode: warn\nmode: enforce\n", 2, "mode", ["duplicate key", "line 1"]),
    ("leads: [@acme/reliability-leads]\n", 1, "", ["not valid YAML", "quote values that start"]),
    ("test_paths:\n  - **/*_test.go\n", 2, "", ["not valid YAML", "quote patterns"]),
    ("mode: warn\ncontrols:\n\tregression-test: enforce\n", 3, "", ["not valid YAML", "tabs"]),
    ("mode: [warn\n", 1, "", ["not valid YAML"]),
    ("mode: warn\ncontrols:\n  regression-test: [enforce\n", 3, "",
     ["not valid YAML", "flow sequence", "not closed by line 4"]),
    ("labels: {incident: incident\nmode: warn\n", 1, "", ["not valid YAML", "flow mapping"]),
    ('leads: "carol\n\nmode: warn\n', 1, "", ["not valid YAML", "quoted scalar"]),
    ("mode: warn\n  leads: []\n", 2, "", ["not valid YAML"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "path", "words"), ERRORS)
def test_errors_name_file_line_key_and_reason(text: str, line: int, path: str, words: list[str]):
    result = load_config([(REPO, text)])
    assert not result.ok
    error = result.errors[0]
    assert (error.file, error.line, error.path) == (REPO, line, path), error
    for word in words:
        assert word in error.reason, error.reason
    # A broken file is left out entirely and says so: never a silent fallback.
    assert result.sources == (DEFAULTS_SOURCE,)
    assert result.config == DEFAULTS


def test_all_errors_of_a_file_are_reported_in_line_order():
    result = load("mode: loud\nleads: [x--y]\nthresholds: {rubric: 11}\n")
    assert [(e.line, e.path) for e in result.errors] == [
        (1, "mode"), (2, "leads[0]"), (3, "thresholds.rubric")
    ]  # fmt: skip


def test_an_invalid_layer_leaves_the_valid_ones_merged():
    result = load_config([(ORG, "mode: enforce\n"), (REPO, "mode: sometimes\n")])
    assert [e.file for e in result.errors] == [REPO]
    assert result.sources == (DEFAULTS_SOURCE, ORG)
    assert result.config.mode == "enforce"


def test_error_text():
    error = ConfigError(REPO, 3, "thresholds.rubric", "expected a whole number")
    assert str(error) == ".github/hardening.yml:3: thresholds.rubric: expected a whole number"
    assert str(ConfigError(REPO, None, "", "not valid YAML")) == (
        ".github/hardening.yml: not valid YAML"
    )
    result = load("mode: loud\n")
    assert result.error_report() == (
        ".github/hardening.yml:1: mode: expected one of shadow | warn | enforce, got text ('loud')"
    )


# --- handles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "login"),
    [("carol", "carol"), ("@carol", "carol"), (" @Bob-1 ", "Bob-1"), ("a" * 39, "a" * 39),
     ("a" * 40, None), ("-carol", None), ("carol-", None), ("ca--rol", None), ("ca_rol", None),
     ("@", None), ("", None), ("@acme/team", None), ("carol bob", None)],
)  # fmt: skip
def test_user_handles(text: str, login: str | None):
    assert parse_user(text) == login
    assert is_login(text.strip().lstrip("@")) == (login is not None)


@pytest.mark.parametrize(
    ("text", "team"),
    [("@acme/reliability-leads", "acme/reliability-leads"), ("acme/sre_team", "acme/sre_team"),
     ("@acme/", None), ("@/team", None), ("carol", None), ("@ac--me/team", None)],
)  # fmt: skip
def test_team_handles(text: str, team: str | None):
    assert parse_team(text) == team


# --- the difference a change would make ------------------------------------------------------


def test_diff_of_equal_configs_is_empty():
    assert diff_configs(DEFAULTS, load(DOCUMENTED_EXAMPLE.replace("enforce", "warn")).config) != []
    assert diff_configs(DEFAULTS, default_config()) == []


def test_diff_names_every_change():
    new = load(
        """\
        mode: enforce
        controls: {control-change: warn}
        leads: [carol]
        failure_classes:
          missed-detection:
            control_paths: ["alerts/**", "slo/**"]
          capacity:
            control_candidate: load test gate
            verification_style: load test trend
            control_paths: ["capacity/**"]
        thresholds: {rubric: 8}
        """
    ).config
    lines = diff_configs(DEFAULTS, new)
    assert "mode: warn → enforce" in lines
    assert "controls.control-change: follows mode → warn" in lines
    assert "leads: adds carol" in lines
    assert "thresholds.rubric: 7 → 8" in lines
    assert any(line.startswith("failure_classes.missed-detection.control_paths: adds slo/**; "
                               "removes monitoring/**") for line in lines)  # fmt: skip
    assert any(line.startswith("failure_classes.capacity: new failure class") for line in lines)
    assert "the regression-test check would run in enforce mode (now warn)" in lines
    assert not any("control-change check" in line for line in lines)  # still warn


def test_diff_reports_a_reorder():
    reordered = load("test_paths: " + str(list(reversed(DEFAULTS.test_paths)))).config
    assert diff_configs(DEFAULTS, reordered) == ["test_paths: changes the order"]


# --- properties ------------------------------------------------------------------------------


def test_effective_config_written_back_as_a_file_is_the_same_config():
    config = load(DOCUMENTED_EXAMPLE).config
    text = yaml.safe_dump(config_as_data(config), allow_unicode=True, sort_keys=False)
    again = load_config([(REPO, text)])
    assert again.ok, again.error_report()
    assert again.config == config


@given(st.text(max_size=300))
def test_load_config_never_raises_on_any_text(text: str):
    result = load_config([(REPO, text)])
    assert result.config is not None
    assert all(e.file == REPO for e in result.errors)


_KEYS = st.sampled_from(
    ["mode", "controls", "leads", "labels", "failure_classes", "test_paths", "priorities",
     "deadlines", "thresholds", "schedules", "regression-test", "missed-detection", "matrix",
     "high", "fast", "P0", "due_days", "color", "styles", "incident", 1, "sev-1", "control_paths",
     "severity_raise", "title", "x"]
)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 400)
    | st.sampled_from(
        [*MODES, "P1", "high", "fast", "carol", "@acme/leads", "tests/**", "a/{b", "d73a4a", ""]
    )
)
_TREES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=5),
    max_leaves=25,
)


@given(st.dictionaries(_KEYS, _TREES, max_size=6))
def test_load_config_never_raises_on_any_structure(data: dict):
    # libyaml's dumper when present: the document is the test's input, not what it checks.
    text = yaml.dump(data, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))
    result = load_config([(REPO, text)])
    assert result.config is not None
    if result.ok:
        assert result.sources == (DEFAULTS_SOURCE, REPO)
    else:
        assert all(e.line is None or e.line >= 1 for e in result.errors)


def test_normalize_finding_type():
    assert normalize_finding_type("  Missed--Detection__ ") == "missed detection"
    assert normalize_finding_type("`slow recovery`") == "slow recovery"


def test_docs_list_every_default_path_and_key():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "rules.md").read_text(encoding="utf-8")
    patterns = [*DEFAULTS.test_paths]
    for failure_class in DEFAULTS.failure_classes.values():
        patterns += failure_class.control_paths
        assert f"`{failure_class.slug}`" in docs
        for finding_type in failure_class.finding_types:
            assert finding_type in docs
    assert [p for p in patterns if f"`{p}`" not in docs] == []

    def keys(data: dict, prefix: str = "") -> list[str]:
        out = []
        for key, value in data.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and key not in (
                "styles",
                "matrix",
                "due_days",
                "severity_raise",
                "severity_max_due_days",
            ):
                out += keys(value, f"{path}.")
            else:
                out.append(path)
        return out

    data = config_as_data(DEFAULTS)
    del data["failure_classes"]
    assert [k for k in keys(data) if f"`{k}" not in docs] == []
