"""A small Prometheus text-format registry for ``GET /metrics`` (``docs/operations.md``).

Counters, gauges and histograms with labels, rendered in the text exposition format 0.0.4.
It is deliberately tiny: one process, one event loop, so no locks and no extra dependency.
``Metrics`` pre-registers the series the bot documents; other modules register their own with
``metrics.counter(...)`` (get-or-create, so registering twice returns the same series).

Why not ``prometheus_client``: its exposition differs from the one dashboards already read (a
``hardening_..._created`` gauge beside every counter, ``3.0`` for ``3``), it has no ``get`` to
read a series back (handlers and tests do), and its registries are global by default.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

LabelValues = tuple[str, ...]

# Processing latency spans a no-op delivery (milliseconds) to one that waited out a secondary
# rate limit (minutes), hence the wide range.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format_value(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    kind = ""

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)

    def _key(self, labels: dict[str, object]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(
                f"{self.name} takes labels {sorted(self.labelnames)}, got {sorted(labels)}"
            )
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {_escape(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> Iterable[str]:  # pragma: no cover - overridden
        return ()


class Counter(_Metric):
    """A value that only goes up, one per label combination."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self.values: dict[LabelValues, float] = {}

    def inc(self, amount: float = 1.0, **labels: object) -> None:
        if amount < 0:
            raise ValueError("a counter cannot go down")
        key = self._key(labels)
        self.values[key] = self.values.get(key, 0.0) + amount

    def get(self, **labels: object) -> float:
        return self.values.get(self._key(labels), 0.0)

    def samples(self) -> Iterable[str]:
        for key, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labelnames, key)} {_format_value(value)}"


class Gauge(_Metric):
    """A value that is set to the current reading."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self.values: dict[LabelValues, float] = {}

    def set(self, value: float, **labels: object) -> None:
        self.values[self._key(labels)] = float(value)

    def get(self, **labels: object) -> float | None:
        return self.values.get(self._key(labels))

    def samples(self) -> Iterable[str]:
        for key, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labelnames, key)} {_format_value(value)}"


class Histogram(_Metric):
    """Cumulative buckets, sum and count per label combination."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(buckets))
        self.series: dict[LabelValues, tuple[list[int], list[float]]] = {}

    def observe(self, value: float, **labels: object) -> None:
        key = self._key(labels)
        counts, total = self.series.setdefault(key, ([0] * (len(self.buckets) + 1), [0.0]))
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                counts[i] += 1
                break
        else:
            counts[-1] += 1
        total[0] += value

    def count(self, **labels: object) -> int:
        found = self.series.get(self._key(labels))
        return sum(found[0]) if found else 0

    def samples(self) -> Iterable[str]:
        for key, (counts, total) in sorted(self.series.items()):
            running = 0
            for bound, n in zip((*self.buckets, math.inf), counts, strict=True):
                running += n
                le = f'le="{_format_value(bound)}"'
                yield f"{self.name}_bucket{_labels(self.labelnames, key, le)} {running}"
            yield f"{self.name}_sum{_labels(self.labelnames, key)} {_format_value(total[0])}"
            yield f"{self.name}_count{_labels(self.labelnames, key)} {running}"


class Registry:
    """Named metrics in registration order, rendered together."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def _get_or_add(self, metric: _Metric) -> _Metric:
        existing = self._metrics.get(metric.name)
        if existing is None:
            self._metrics[metric.name] = metric
            return metric
        if type(existing) is not type(metric) or existing.labelnames != metric.labelnames:
            raise ValueError(f"metric {metric.name} already registered with another shape")
        return existing

    def counter(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Counter:
        metric = self._get_or_add(Counter(name, help_text, labelnames))
        assert isinstance(metric, Counter)
        return metric

    def gauge(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> Gauge:
        metric = self._get_or_add(Gauge(name, help_text, labelnames))
        assert isinstance(metric, Gauge)
        return metric

    def histogram(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Sequence[float] = LATENCY_BUCKETS,
    ) -> Histogram:
        metric = self._get_or_add(Histogram(name, help_text, labelnames, buckets))
        assert isinstance(metric, Histogram)
        return metric

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.header())
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# GitHub's webhook event names, and the App's own queued work (bot.ledger). X-GitHub-Event is
# not covered by the signature (a signed body can be replayed under any header), so any other
# name is counted as "other": a label value per name would let anyone grow /metrics unbounded.
WEBHOOK_EVENTS = frozenset(
    {
        "branch_protection_configuration", "branch_protection_rule", "check_run",
        "check_suite", "code_scanning_alert", "commit_comment", "create", "custom_property",
        "custom_property_values", "delete", "dependabot_alert", "deploy_key", "deployment",
        "deployment_protection_rule", "deployment_review", "deployment_status", "discussion",
        "discussion_comment", "fork", "github_app_authorization", "gollum", "installation",
        "installation_repositories", "installation_target", "issue_comment", "issues", "label",
        "marketplace_purchase", "member", "membership", "merge_group", "meta", "milestone",
        "org_block", "organization", "package", "page_build", "personal_access_token_request",
        "ping", "project", "project_card", "project_column", "projects_v2", "projects_v2_item",
        "public", "pull_request", "pull_request_review", "pull_request_review_comment",
        "pull_request_review_thread", "push", "registry_package", "release", "repository",
        "repository_advisory", "repository_dispatch", "repository_import", "repository_ruleset",
        "repository_vulnerability_alert", "secret_scanning_alert",
        "secret_scanning_alert_location", "security_advisory", "security_and_analysis",
        "sponsorship", "star", "status", "sub_issues", "team", "team_add", "watch",
        "workflow_dispatch", "workflow_job", "workflow_run",
        "hardening_ledger", "hardening_summary",
    }
)  # fmt: skip


def event_label(event: str) -> str:
    """The ``event`` label value for a delivery's event name: bounded, whatever was sent."""
    return event if event in WEBHOOK_EVENTS else "other"


# Every value of hardening_deliveries_total's `outcome` label, and when it is counted; the HELP
# text is built from this, so it names exactly what is emitted (tests/test_metrics_help.py).
DELIVERY_OUTCOMES: dict[str, str] = {
    "stored": "accepted and queued",
    "duplicate": "a delivery id already stored",
    "ping": "GitHub's ping",
    "rejected": "bad or missing signature (event 'unverified')",
    "too_large": "body over 25 MiB (event 'unverified')",
    "overloaded": "answered 503, the bodies being read fill the intake budget (event 'unverified')",
    "malformed": "body not a JSON object",
    "done": "processed",
    "retry": "attempt failed, retried later",
    "failed": "parked after its last attempt",
}


class Metrics(Registry):
    """The bot's registry, with the series named in the contract pre-registered."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries = self.counter(
            "hardening_deliveries_total",
            "Webhook deliveries by event and outcome: "
            + "; ".join(f"{k}: {v}" for k, v in DELIVERY_OUTCOMES.items())
            + ".",
            ("event", "outcome"),
        )
        self.processing_seconds = self.histogram(
            "hardening_delivery_processing_seconds",
            "Time spent processing one delivery attempt, by event.",
            ("event",),
        )
        self.github_calls = self.counter(
            "hardening_github_calls_total",
            "GitHub API calls by HTTP method and response status ('error' for no response).",
            ("method", "status"),
        )
        self.rate_limit_remaining = self.gauge(
            "hardening_github_rate_limit_remaining",
            "x-ratelimit-remaining from the latest GitHub response, by installation ('app' for "
            "JWT calls).",
            ("installation",),
        )
        self.inbox_pending = self.gauge(
            "hardening_inbox_pending", "Deliveries stored and not yet processed."
        )
        self.inbox_failed = self.gauge(
            "hardening_inbox_failed", "Deliveries parked as failed after their last attempt."
        )
        self.inbox_oldest_pending_seconds = self.gauge(
            "hardening_inbox_oldest_pending_seconds", "Age of the oldest unprocessed delivery."
        )
        # Shadow mode posts nothing on GitHub, so this is where its verdicts show up.
        self.shadow_would_fail = self.counter(
            "hardening_shadow_would_fail_total",
            "Checks in shadow mode that would have failed, by repository and failure class.",
            ("repo", "failure_class"),
        )
