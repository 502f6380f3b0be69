"""The web shell: ``create_app(settings)`` builds the HTTP server of docs/operations.md#http.

``POST /webhook`` only authenticates, validates and stores: the delivery is in the durable inbox
before GitHub gets its 202, and the workers process it afterwards, so a slow GitHub call can never
make GitHub give up on a delivery (it waits 10 s and never redelivers on its own).
``GET /healthz`` and ``GET /metrics`` show the inbox and the workers.

Nothing happens at import: settings come in as an object, Sentry is initialised by the factory
only when a DSN is configured, and the database and workers start with the application.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import gidgethub
from aiohttp import web
from gidgethub import sansio

from bot import handlers, ledger, payloads
from bot.catchup import CatchUp
from bot.context import BoundLog, ConfigCache, Context, bound_log, changes_config
from bot.copies import Copies
from bot.github import GitHubApp
from bot.gone import own_object_gone
from bot.handlers import loop as loop_handlers
from bot.inbox import (
    Database,
    Delivery,
    DeliveryInbox,
    PermanentError,
    Processor,
    Workers,
    open_database,
)
from bot.intake import DEFAULT_BUDGET_BYTES, BodyBudget, Overloaded, TooLarge, read_body
from bot.issue_versions import IssueVersions
from bot.jobs import all_jobs
from bot.metrics import CONTENT_TYPE, Metrics, event_label
from bot.pull_links import PullLinks
from bot.records import check_key
from bot.run_records import RunRecords
from bot.schedules import Scheduler, ScheduleStore
from bot.scope import Scope
from bot.sentry import init_sentry
from bot.settings import Settings
from bot.subjects import subject_for
from rules.payload import repository_full_name, repository_owner_and_name

# GitHub caps webhook payloads at 25 MB; anything larger is not from GitHub.
MAX_BODY_BYTES = 25 * 1024 * 1024
_SIGNATURE_PREFIX = "sha256="
_MAX_HEADER_CHARS = 200

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
DATABASE = web.AppKey("database", Database)
INBOX = web.AppKey("inbox", DeliveryInbox)
GITHUB = web.AppKey("github", GitHubApp)
WORKERS = web.AppKey("workers", Workers)
SCHEDULER = web.AppKey("scheduler", Scheduler)
CATCH_UP = web.AppKey("catch_up", CatchUp)
CONFIGS = web.AppKey("configs", ConfigCache)
VERSIONS = web.AppKey("versions", IssueVersions)
RECORDS = web.AppKey("records", Copies)
LINKS = web.AppKey("links", PullLinks)
RECORD_KEY_CHECK = web.AppKey("record_key_check", dict[str, str])
BODY_BUDGET = web.AppKey("body_budget", BodyBudget)

log = logging.getLogger("bot.web")


def create_app(
    settings: Settings,
    *,
    github: GitHubApp | None = None,
    clock: Callable[[], float] | None = None,
    start_workers: bool = True,
    process: Processor | None = None,
    metrics: Metrics | None = None,
    freeze_heap: bool = False,
    intake_buffer_bytes: int = DEFAULT_BUDGET_BYTES,
) -> web.Application:
    """Build the application. Nothing runs until aiohttp starts it.

    ``github``: the GitHub client (default: a real ``GitHubApp`` for ``settings``).
    ``clock``: epoch seconds, shared by the inbox, the workers and handlers' ``ctx.now()``.
    ``start_workers=False`` stores deliveries without processing them (tests inspect the inbox),
    and leaves the scheduler of the weekly review and monthly audit stopped.
    ``process``: replaces the real processing (event -> handlers), e.g. a no-op for the bench.
    ``freeze_heap``: for the serving process only (``python -m bot``), see ``freeze_heap``.
    ``intake_buffer_bytes``: request bodies held at once before their signature is checked
    (bot.intake).
    """
    clock = clock or time.time
    if metrics is None:
        metrics = github.metrics if github is not None else Metrics()
    if github is None:
        github = GitHubApp(settings, metrics=metrics, clock=clock)
    if settings.sentry_dsn:
        init_sentry(settings)

    database = open_database(settings, clock=clock)
    inbox = database.inbox
    schedules = ScheduleStore(database.sql, clock=clock)
    # One cache for the handlers and the scheduler, told of configuration pushes through the
    # database so every replica drops its copies (bot.context.ConfigCache).
    configs = ConfigCache(state=database.state, clock=clock, max_age=settings.config_max_age)
    runs = RunRecords(database.sql, clock)
    # Issues unchanged since the App read them are not asked for again (bot.issue_versions).
    versions = IssueVersions(database.sql, clock=clock, max_age=settings.issue_max_age)
    github.versions = versions
    records = Copies(database.records)
    # The pull requests linking each item, recorded by their own deliveries (bot.pull_links).
    links = PullLinks(database.sql, clock=clock, max_age=settings.issue_max_age)
    processor = process or make_processor(
        settings,
        github,
        metrics,
        clock=clock,
        schedules=schedules,
        configs=configs,
        inbox=inbox,
        runs=runs,
        records=records,
        links=links,
    )
    scheduler = Scheduler(
        schedules,
        github,
        all_jobs(),
        settings=settings,
        interval=settings.scheduler_interval,
        metrics=metrics,
        clock=clock,
        discover_every=settings.discover_interval,
        configs=configs,
        records=records,
    )
    pool = database.workers(processor, metrics=metrics)
    catch_up = CatchUp(github, inbox, database.state, metrics=metrics, clock=clock)
    if settings.catch_up_interval > 0:
        database.every(
            "catch-up",
            settings.catch_up_interval,
            catch_up.run,
            at_start=True,
            start_job=catch_up.run_at_start,
        )
    if database.dialect != "sqlite" and settings.scheduler_interval > 0:
        # Replicas share the database: one of them runs each tick (bot.inbox.postgres).
        database.every("scheduler", settings.scheduler_interval, scheduler.tick)

    app = web.Application(client_max_size=MAX_BODY_BYTES + 1)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app[DATABASE] = database
    app[INBOX] = inbox
    app[GITHUB] = github
    app[WORKERS] = pool
    app[CATCH_UP] = catch_up
    app[CONFIGS] = configs
    app[VERSIONS] = versions
    app[RECORDS] = records
    app[LINKS] = links
    key_check = {"signed_with": "none"}
    app[RECORD_KEY_CHECK] = key_check
    app[BODY_BUDGET] = BodyBudget(intake_buffer_bytes)
    app[SCHEDULER] = scheduler
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        recovery = await database.open()
        if recovery.resumed or recovery.parked:
            log.warning(
                "resuming %d interrupted deliveries; %d parked after their last attempt",
                recovery.resumed,
                recovery.parked,
            )
        await schedules.open()
        await runs.setup()
        key_check["signed_with"] = await check_key(database.records, settings)
        await links.setup()
        await versions.setup()
        if start_workers:
            pool.start()
            if database.dialect == "sqlite":
                scheduler.start()
            database.start_periodic()
        try:
            yield
        finally:
            await scheduler.stop()
            await pool.stop(settings.shutdown_grace)
            await github.close()
            await schedules.close()
            await database.close()

    app.cleanup_ctx.append(lifecycle)
    if freeze_heap:
        app.on_startup.append(_freeze_heap)  # after the lifecycle's start: everything is loaded
    return app


async def _freeze_heap(app: web.Application) -> None:
    freeze_heap()


def freeze_heap() -> None:
    """Take what startup allocated (modules, rules, the app) out of the garbage collector's view.

    None of it is ever freed, yet every full collection walked it all: in a serving process a
    13-14 ms pause, every request in flight held up behind it (`make bench` saw it as the p99).
    After ``gc.freeze()`` full collections only walk what was allocated since, about 1 ms.
    Process-wide, so only for the serving process, never in tests that build many apps.
    """
    gc.collect()
    gc.freeze()


def make_processor(
    settings: Settings,
    github: GitHubApp,
    metrics: Metrics,
    *,
    clock: Callable[[], float] = time.time,
    configs: ConfigCache | None = None,
    schedules: ScheduleStore | None = None,
    inbox: DeliveryInbox | None = None,
    runs: RunRecords | None = None,
    records: Copies | None = None,
    links: PullLinks | None = None,
) -> Processor:
    """The real processing of one delivery: its event through every registered handler.

    With ``schedules``, the repositories a delivery speaks of are registered for (or removed
    from) the scheduled jobs first, whether or not a handler listens to the event. The Hardening
    ledger updates its handlers asked for are stored in ``inbox`` as deliveries of their own
    subject (bot.ledger); without an inbox they run at once.
    """
    configs = configs if configs is not None else ConfigCache()
    records = records if records is not None else Copies()

    async def process(delivery: Delivery) -> None:
        event = sansio.Event(
            delivery.data(), event=delivery.event, delivery_id=delivery.delivery_id
        )
        if schedules is not None:
            await schedules.note_delivery(delivery.event, event.data)
        if changes_config(delivery.event, event.data):
            # Usually done at intake already; this covers a push taken in by the catch-up.
            await configs.invalidate()
        if not handlers.handles(event):
            return  # nothing listens: do not spend a token or a request on it
        installation_id = delivery.installation_id
        # Payloads GitHub sends to an App carry ``installation``; a saved or hand-made one may
        # not, and the repository's installation is then looked up.
        coordinates = repository_owner_and_name(event.data)
        if installation_id is None and coordinates is not None:
            installation_id = await github.repo_installation_id(*coordinates)
        if installation_id is not None:
            gh = await github.installation_api(installation_id)
        elif coordinates is not None:
            # A repository the App is not installed on: nothing to act on, nothing to retry.
            log.warning(
                "no installation of the App on the delivery's repository; skipped",
                extra={"delivery": delivery.delivery_id, "repository": delivery.repository},
            )
            return
        else:
            # Every delivery GitHub sends to an App names its installation; one without it (and
            # without a repository to look the installation up by) came from elsewhere, e.g. a
            # repository webhook, and no retry can give the App a token for it.
            raise PermanentError(
                "the delivery names no installation and no repository: the App cannot act "
                "for it (deliveries to a GitHub App carry `installation`; was this sent by a "
                "repository or organization webhook?)"
            )
        ctx = Context(
            settings=settings,
            metrics=metrics,
            log=bound_log("bot.handlers", **delivery.log_fields()),
            bot_login=await github.bot_login(),
            clock=clock,
            configs=configs,
            records=records,
            delivery_id=delivery.delivery_id,
            runs=runs,
            links=links,
        )
        try:
            await handlers.dispatch(event, gh, ctx)
            await _ledger_updates(ctx, gh, delivery, installation_id)
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) in (404, 410):
                gone = await own_object_gone(gh, delivery.event, event.data)
                if gone is not None:
                    # Deleted before we got to it: nothing to act on, and a retry would hold
                    # the subject's later deliveries for minutes.
                    ctx.log.info("%s is gone from GitHub; nothing to act on", gone)
                    return
            if _is_permanent(exc):
                raise PermanentError(f"GitHub answered {exc.status_code}: {exc}") from exc
            raise

    async def _ledger_updates(
        ctx: Context, gh: Any, delivery: Delivery, installation_id: int | None
    ) -> None:
        for index, ((owner, repo), facts) in enumerate(sorted(ctx.ledger.repos.items())):
            if inbox is None:
                await ledger.update_ledger(Scope(gh, ctx, owner, repo), facts)
                continue
            body = ledger.payload(owner, repo, installation_id, facts)
            await inbox.store(
                f"{delivery.delivery_id}.ledger.{index}",
                ledger.EVENT,
                json.dumps(body).encode(),
                subject=ledger.subject(owner, repo),
                action="update",
                installation_id=installation_id,
                repository=f"{owner}/{repo}".lower(),
            )
        today = ctx.now().date().isoformat()
        for owner, repo, incident in sorted(ctx.ledger.summaries):
            if inbox is None:
                config = (await ctx.config(gh, owner, repo)).config
                await loop_handlers.refresh_summary(Scope(gh, ctx, owner, repo), incident, config)
                continue
            body = {**ledger.payload(owner, repo, installation_id, ()), "incident": incident}
            await inbox.store(
                f"summary.{owner}/{repo}#{incident}.{today}".lower(),
                ledger.SUMMARY_EVENT,
                json.dumps(body).encode(),
                subject=f"{owner}/{repo}#{incident}".lower(),
                action="update",
                installation_id=installation_id,
                repository=f"{owner}/{repo}".lower(),
            )

    return process


def _is_permanent(exc: gidgethub.BadRequest) -> bool:
    """Answers that a retry cannot change: permission refused (not a rate limit), validation
    failed, or the resource is gone. Rate limits and 5xx stay retryable."""
    if isinstance(exc, gidgethub.RateLimitExceeded):
        return False
    status = int(exc.status_code)
    if status == 403:
        return "rate limit" not in str(exc).lower()
    return status in (410, 422)


# -- views ---------------------------------------------------------------------------------------


async def webhook(request: web.Request) -> web.Response:
    """Authenticate, validate and durably store one delivery (docs/operations.md#http)."""
    app = request.app
    metrics = app[METRICS]
    budget = app[BODY_BUDGET]
    try:
        body, held = await read_body(request, budget, MAX_BODY_BYTES)
    except TooLarge:
        metrics.deliveries.inc(event="unverified", outcome="too_large")
        return _answer(413, "payload larger than 25 MiB")
    except Overloaded:
        metrics.deliveries.inc(event="unverified", outcome="overloaded")
        log.warning("webhook refused: request bodies being read fill the intake budget")
        response = _answer(503, "too many request bodies in flight; retry shortly")
        response.headers["Retry-After"] = "1"
        return response
    try:
        return await _verified_webhook(request, body)
    finally:
        budget.give(held)


async def _verified_webhook(request: web.Request, body: bytes) -> web.Response:
    app = request.app
    metrics = app[METRICS]

    if not verify_signature(
        app[SETTINGS].webhook_secret, body, request.headers.get("X-Hub-Signature-256")
    ):
        # The event name is unauthenticated input: never a metric label here.
        metrics.deliveries.inc(event="unverified", outcome="rejected")
        log.warning(
            "webhook rejected: missing or invalid X-Hub-Signature-256",
            extra={
                "remote": request.remote,
                # Unauthenticated, so only as a log field and bounded: it lets an operator find
                # the delivery in the App's "Recent Deliveries" page.
                "delivery": request.headers.get("X-GitHub-Delivery", "")[:_MAX_HEADER_CHARS],
            },
        )
        return _answer(401, "missing or invalid X-Hub-Signature-256 (HMAC-SHA256 required)")

    event = request.headers.get("X-GitHub-Event", "").strip()
    delivery_id = request.headers.get("X-GitHub-Delivery", "").strip()
    label = event_label(event)  # the header is not signed: a bounded metric label
    if not event or not delivery_id:
        return _answer(400, "X-GitHub-Event and X-GitHub-Delivery headers are required")
    if len(event) > _MAX_HEADER_CHARS or len(delivery_id) > _MAX_HEADER_CHARS:
        return _answer(400, "X-GitHub-Event or X-GitHub-Delivery is too long")
    try:
        payload = payloads.loads(body)
    except (ValueError, UnicodeDecodeError):
        metrics.deliveries.inc(event=label, outcome="malformed")
        return _answer(400, "body is not JSON")
    if not isinstance(payload, dict):
        metrics.deliveries.inc(event=label, outcome="malformed")
        return _answer(400, "body is not a JSON object")

    action = payload.get("action") if isinstance(payload.get("action"), str) else None
    repository = repository_full_name(payload)
    dlog = bound_log(
        "bot.web", delivery=delivery_id, event=event, action=action, repository=repository
    )
    if event == "ping":
        metrics.deliveries.inc(event=label, outcome="ping")
        dlog.info("ping received")
        return web.json_response({"status": "pong", "zen": payload.get("zen")}, status=200)

    subject = _subject(event, payload, repository, dlog)
    installation = payload.get("installation")
    installation_id = installation.get("id") if isinstance(installation, dict) else None
    new = await app[INBOX].store(
        delivery_id,
        event,
        body,
        subject=subject,
        action=action,
        installation_id=installation_id if isinstance(installation_id, int) else None,
        repository=repository,
    )
    if not new:
        metrics.deliveries.inc(event=label, outcome="duplicate")
        dlog.info("duplicate delivery ignored", extra={"subject": subject})
        return web.json_response({"status": "duplicate", "delivery": delivery_id}, status=200)
    metrics.deliveries.inc(event=label, outcome="stored")
    dlog.info("delivery stored", extra={"subject": subject})
    if changes_config(event, payload):
        # Before the acknowledgement: a pull request delivered after this push is judged by the
        # new configuration, whichever replica processes it. (Processing the push does it again,
        # should this fail.)
        try:
            await app[CONFIGS].invalidate()
        except Exception:
            dlog.exception("could not mark the cached configurations stale")
    if event == "issues" and app[VERSIONS].enabled:
        # Likewise: whoever reads this issue next asks GitHub for it (bot.issue_versions).
        try:
            await app[VERSIONS].delivery(event, payload, app[GITHUB].known_bot_login)
        except Exception:
            dlog.exception("could not mark the issue changed")
    # Built by hand (the id is a bounded header; json.dumps only to quote it): the same bytes
    # json_response would send, without its encoder on every acknowledgement.
    return web.Response(
        body=b'{"status": "queued", "delivery": ' + json.dumps(delivery_id).encode() + b"}",
        status=202,
        content_type="application/json",
    )


async def healthz(request: web.Request) -> web.Response:
    try:
        stats = await request.app[INBOX].stats()
        # The last catch-up of missed deliveries, whichever process ran it (bot.catchup).
        catch_up = await request.app[CATCH_UP].last()
    except Exception:
        log.exception("health check could not read the inbox")
        return web.json_response({"status": "error", "inbox": None}, status=503)
    # Which key signed the App's newest record copy (bot.records.check_key).
    records: dict[str, str] = request.app[RECORD_KEY_CHECK]
    return web.json_response(
        {
            "status": "ok",
            "inbox": stats.as_dict(),
            "workers": {"in_flight": len(request.app[WORKERS].in_flight)},
            "catch_up": catch_up,
            "records": records,
        }
    )


async def metrics_view(request: web.Request) -> web.Response:
    metrics = request.app[METRICS]
    try:
        stats = await request.app[INBOX].stats()
    except Exception:
        log.exception("metrics could not read the inbox")
    else:
        metrics.inbox_pending.set(stats.pending)
        metrics.inbox_failed.set(stats.failed)
        metrics.inbox_oldest_pending_seconds.set(stats.oldest_pending_seconds)
    return web.Response(body=metrics.render().encode(), headers={"Content-Type": CONTENT_TYPE})


# -- helpers -------------------------------------------------------------------------------------


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``: what a delivery must carry
    (and what the tests, the bench and the demo put on theirs)."""
    return _SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True if ``header`` is ``sha256=<hex HMAC of body>``. SHA-1 signatures are not accepted."""
    if not secret or not header or not header.startswith(_SIGNATURE_PREFIX):
        return False
    expected = sign(secret, body)
    return hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace"))


def _subject(event: str, payload: dict[str, Any], repository: str | None, dlog: BoundLog) -> str:
    """The delivery's ordering key; when the payload defeats ``subject_for`` the delivery is
    still stored, under the broader repository-wide key (ambiguity only costs concurrency)."""
    try:
        return subject_for(event, payload)
    except Exception:
        dlog.exception("could not derive the delivery's subject; ordering it repository-wide")
        return repository.lower() if repository else event


def _answer(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "message": message}, status=status)
