"""Deliveries missed while down: read GitHub's delivery log and take in what never arrived.

GitHub never redelivers on its own: a delivery sent while every process was down (a deploy, a
crash, a database outage answering 5xx) is recorded in the App's delivery log as failed and
nothing more happens. At start and every ``HARDENING_CATCH_UP_INTERVAL_SECONDS`` (15 minutes),
one process walks the log (``GET /app/hook/deliveries``, newest first) back to where the previous
catch-up stopped, with an hour of overlap, or to GitHub's 3-day retention, and for each delivery
id (``guid``) that has a failed attempt and is not in the inbox it reads the delivery
(``GET /app/hook/deliveries/{id}``) and stores its payload in the inbox, as the webhook would
have. The workers then process it like any other; the inbox's unique delivery id makes it take
effect once, whether a redelivery by hand arrives too or another catch-up sees it again.

Why read rather than ask GitHub to redeliver (``POST .../attempts``): reading costs the same one
request, is done when it returns (the payload is in our inbox, durably, in this process), and
does not depend on the path that just failed (DNS, load balancer, the webhook URL) working again.
The payload comes over the App's own authenticated API, so it needs no signature check.

With replicas, the catch-up is a periodic task one process runs per period (bot.inbox.postgres);
what it found is kept in the shared state, so every replica's ``/healthz`` shows the same.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bot.github import GitHubApp
from bot.inbox.api import DeliveryInbox, SharedState
from bot.metrics import Metrics
from bot.subjects import subject_for

log = logging.getLogger("bot.catchup")

STATE_KEY = "catch-up"
RETENTION_SECONDS = 3 * 24 * 3600.0
# Walk this far past where the last catch-up stopped: a delivery's log entry can appear after
# later ones (a slow attempt timing out), and re-reading entries already checked costs nothing
# but the page.
OVERLAP_SECONDS = 3600.0
PER_PAGE = 100


@dataclass
class CatchUpReport:
    """What one catch-up did, as ``/healthz`` shows it."""

    at: float
    back_to: float
    scanned: int = 0
    # Delivery ids in the walked window whose attempts all failed and that the inbox did not
    # hold: what this run had to take in (``recovered``, unless reading one failed).
    failed: int = 0
    recovered: list[str] = field(default_factory=list)
    newest_at: float | None = None
    error: str | None = None
    finished_at: float | None = None
    # The last run that recovered anything (``at``, ``recovered``, ``recovered_count``): this
    # one, or an earlier one, kept so a later run that found nothing does not hide it.
    last_recovery: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["recovered_count"] = len(self.recovered)
        doc["recovered"] = self.recovered[:50]
        if self.recovered:
            doc["last_recovery"] = {
                "at": self.at,
                "recovered": self.recovered[:50],
                "recovered_count": len(self.recovered),
            }
        return doc


class CatchUp:
    def __init__(
        self,
        github: GitHubApp,
        inbox: DeliveryInbox,
        state: SharedState,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.github = github
        self.inbox = inbox
        self.state = state
        self.clock = clock
        # When this process began: a catch-up that finished later finished while it was up.
        self.started = clock()
        self.metrics = metrics if metrics is not None else Metrics()
        self._runs = self.metrics.counter(
            "hardening_catch_up_runs_total",
            "Catch-ups of missed deliveries by outcome.",
            ("outcome",),
        )
        self._recovered = self.metrics.counter(
            "hardening_catch_up_recovered_total",
            "Deliveries GitHub recorded as failed that a catch-up took into the inbox.",
        )
        self._last = self.metrics.gauge(
            "hardening_catch_up_last_run_timestamp_seconds", "When the last catch-up finished."
        )
        self._last_recovered = self.metrics.gauge(
            "hardening_catch_up_last_recovered", "Deliveries the last catch-up recovered."
        )

    async def last(self) -> dict[str, Any] | None:
        doc = await self.state.get(STATE_KEY)
        return doc if isinstance(doc, dict) else None

    async def run_at_start(self) -> CatchUpReport | None:
        """A start's catch-up (whichever process runs it), skipped when the last one finished
        while the process running this one was already up (replicas starting together): that
        process has served since, so GitHub had somewhere to deliver and nothing failed that the
        last one did not read. One that finished before (every process down in between, a
        delivery perhaps missed then) does not count."""
        previous = await self.last()
        if previous is not None and previous.get("error") is None:
            finished = previous.get("finished_at")
            if isinstance(finished, int | float) and finished >= self.started:
                log.info("catch-up at start skipped: one finished since this process began")
                return None
        return await self.run()

    async def run(self) -> CatchUpReport:
        now = self.clock()
        previous = await self.last()
        back_to = now - RETENTION_SECONDS
        if previous and isinstance(previous.get("newest_at"), int | float):
            back_to = max(back_to, float(previous["newest_at"]) - OVERLAP_SECONDS)
        report = CatchUpReport(at=now, back_to=back_to)
        if previous and report.newest_at is None:
            report.newest_at = previous.get("newest_at")
        if previous and isinstance(previous.get("last_recovery"), dict):
            report.last_recovery = previous["last_recovery"]
        try:
            await self._walk(report)
        except Exception as exc:
            report.error = f"{type(exc).__name__}: {exc}"[:500]
            self._runs.inc(outcome="failed")
            log.error("catch-up of missed deliveries failed: %s", report.error, exc_info=exc)
        else:
            self._runs.inc(outcome="ok")
        report.finished_at = self.clock()
        self._last.set(report.finished_at)
        self._last_recovered.set(len(report.recovered))
        await self.state.put(STATE_KEY, report.as_dict())
        if report.recovered:
            log.warning(
                "catch-up: %d deliveries GitHub could not deliver were taken in",
                len(report.recovered),
                extra={"deliveries": report.recovered[:50]},
            )
        return report

    async def _walk(self, report: CatchUpReport) -> None:
        gh = self.github.app_api()
        failed: dict[str, dict[str, Any]] = {}  # guid -> its newest failed attempt
        succeeded: set[str] = set()
        newest: float | None = None
        async for item in gh.getiter("/app/hook/deliveries{?per_page}", {"per_page": PER_PAGE}):
            if not isinstance(item, dict):
                continue
            at = _epoch(item.get("delivered_at"))
            if at is None:
                continue
            if newest is None or at > newest:
                newest = at
            if at < report.back_to:
                break  # newest first: everything further is older still
            report.scanned += 1
            guid = item.get("guid")
            if not isinstance(guid, str) or not guid:
                continue
            code = item.get("status_code")
            if isinstance(code, int) and 200 <= code < 300:
                succeeded.add(guid)
            elif guid not in failed:
                failed[guid] = item
        if newest is not None:
            report.newest_at = max(newest, report.newest_at or newest)
        # A failed attempt later redelivered with success was received; the inbox says the rest.
        candidates = [g for g in failed if g not in succeeded]
        held = await self.inbox.holds(candidates)
        missing = [g for g in candidates if g not in held]
        report.failed = len(missing)
        for guid in missing:
            if await self._recover(gh, failed[guid]):
                report.recovered.append(guid)
                self._recovered.inc()

    async def _recover(self, gh: Any, item: dict[str, Any]) -> bool:
        full = await gh.getitem("/app/hook/deliveries/{id}", {"id": item["id"]})
        request = full.get("request") if isinstance(full, dict) else None
        payload = request.get("payload") if isinstance(request, dict) else None
        event = full.get("event") if isinstance(full, dict) else None
        if not isinstance(payload, dict) or not isinstance(event, str) or event == "ping":
            return False
        guid = str(item["guid"])
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        installation = payload.get("installation")
        installation_id = installation.get("id") if isinstance(installation, dict) else None
        repository = payload.get("repository")
        full_name = repository.get("full_name") if isinstance(repository, dict) else None
        stored = await self.inbox.store(
            guid,
            event,
            json.dumps(payload, separators=(",", ":")).encode(),
            subject=subject_for(event, payload),
            action=action,
            installation_id=installation_id if isinstance(installation_id, int) else None,
            repository=full_name if isinstance(full_name, str) else None,
            late=True,
        )
        versions = self.github.versions
        if stored and versions is not None and versions.enabled:
            await versions.delivery(event, payload)  # as intake does (bot.issue_versions)
        return stored


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
