"""Hardening items on GitHub: read them, save them, and keep their incident's backlog current.

GitHub is the system of record: a hardening item is an issue carrying the hardening label that
the App made or adopted: the App holds its signed record (``rules.record``, ``bot.records``: in
the body or as its last known copy), or the App opened it (an item from before records gets its
record from its body, once, at its first save). Its body shows the hardening loop's "Hardening
Item" template; an item whose template a person deleted is still an item (the edit handler
writes the template back, and the bot's hidden item marker keeps it its finding's item). Gate
facts (status, verification, evidence, acknowledgements, retirement) are read from the record
only; the body shows them. Every handler that changes an item saves it with :func:`save_item`
(which writes the record too) and then calls :func:`refresh_incident_tracking`, which
re-renders the incident's one tracking comment and writes it only when its text changes.

:func:`sync_incident` is the incident side (docs/incidents.md): one item per known finding, never
two, and the tracking comment. Items are listed through the issues list endpoint (consistent
right after a write, unlike search), so a retry after a crash finds the item it created by its
marker instead of creating another. Deliveries about one incident and its items share one
subject, so the inbox runs them one at a time; a per-incident lock makes two runs inside one
process take turns as well.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Literal

import aiohttp
import gidgethub

from bot.records import Trust, read, read_all, remember, sealed, subject
from bot.scope import Scope
from bot.writes import (
    add_labels,
    ensure_label,
    label_names,
    remove_label,
    repo_labels,
    same_text,
    update_issue,
    upsert_comment,
)
from rules.config import Config, ConfigResult, default_config
from rules.edits import adopted
from rules.incident import is_incident, parse_incident
from rules.item_template import ItemParse, parse_item, render_item, replace_item_in_body
from rules.labels import item_labels, label_changes, label_style, labels_of_items
from rules.model import Finding, HardeningItem, Incident, ItemMarker
from rules.planning import plan_item, timeline_expectations
from rules.record import Reading, Record, recorded, with_gate
from rules.tracking import (
    ITEM_FOOTER,
    SyncPlan,
    TrackedItem,
    item_intro,
    item_title,
    judge_timeline,
    plan_incident_sync,
    render_tracking_comment,
    tracking_marker,
)

Source = Literal["record", "upgrade", "broken"]


@dataclass(frozen=True)
class LoadedItem:
    """A hardening issue as GitHub returned it, with its template read and its gate facts
    taken from the App's record.

    ``source`` says where the gate facts came from: ``record`` (the App's signed record, in the
    body or its last known copy), ``upgrade`` (an item the App opened before records: its body,
    until the first save writes the record) or ``broken`` (a record line that fails its check
    and nothing to restore: no gate facts at all). ``typed`` is the template as the body reads,
    gate lines included, for comparing with what the App recorded.
    """

    issue: dict[str, Any]
    number: int
    parse: ItemParse
    record: Record | None = None
    source: Source = "record"
    typed: HardeningItem | None = None

    @property
    def item(self) -> HardeningItem | None:
        return self.parse.item

    @property
    def marker(self) -> ItemMarker | None:
        return self.parse.marker

    @property
    def incident(self) -> int | None:
        """The incident this item belongs to: the bot's marker wins over the template line."""
        return self.parse.incident


@dataclass(frozen=True)
class SyncResult:
    """What :func:`sync_incident` did, for logs and tests."""

    incident: Incident | None = None
    created: tuple[int, ...] = ()
    plan: SyncPlan | None = None
    comment_written: bool = False


def is_hardening(issue: dict[str, Any], config: Config | None = None) -> bool:
    """Whether ``issue`` is an issue (not a pull request) carrying the hardening label."""
    if "pull_request" in issue:
        return False
    wanted = (config or default_config()).labels.hardening.casefold()
    return any(name.casefold() == wanted for name in label_names(issue))


def app_authored(issue: dict[str, Any], bot_login: str) -> bool:
    """Whether the App opened ``issue`` (its author is the App's bot account)."""
    author = str((issue.get("user") or {}).get("login") or "")
    return bool(bot_login) and author.casefold() == bot_login.casefold()


async def load(
    issue: dict[str, Any],
    config: Config | None = None,
    *,
    trust: Trust,
    reading: Reading | None = None,
) -> LoadedItem | None:
    """``issue`` as a hardening item, or None when it is not one: a pull request, no hardening
    label, or an issue a person opened that the App has not adopted (no record, see
    docs/commands.md "Who may change what").

    What the body says does not decide it: an issue the App opened, or one whose record the App
    holds (in the body or its last known copy), stays an item when a person deletes its
    template, so its close is still judged and the template written back."""
    if not is_hardening(issue, config):
        return None
    body = issue.get("body") or ""
    parse = parse_item(body)
    ours = app_authored(issue, trust.bot_login)
    if not ours and parse.marker is not None:
        # Only the App's own bodies carry trusted item markers.
        parse = replace(parse, marker=None)
    reading = reading or await read(issue, trust)
    typed = parse.item
    if reading.record is not None:
        source: Source = "record"
    elif ours:
        source = "broken" if reading.state == "broken" else "upgrade"
    elif reading.state == "broken" and typed is not None:
        source = "broken"
    else:
        return None  # a person's issue the App has not adopted
    if typed is not None and source != "upgrade":
        parse = replace(parse, item=with_gate(typed, reading.record))
    return LoadedItem(
        issue=issue,
        number=int(issue["number"]),
        parse=parse,
        record=reading.record,
        source=source,
        typed=typed,
    )


async def get_item(scope: Scope, number: int, *, config: Config | None = None) -> LoadedItem | None:
    """Issue ``number`` as a hardening item, or None when it is not one (see :func:`load`)."""
    issue = await scope.gh.getitem(
        "/repos/{owner}/{repo}/issues/{number}",
        {"owner": scope.owner, "repo": scope.repo, "number": number},
    )
    return await load(dict(issue), config, trust=scope.trust)


async def list_items(
    scope: Scope, config: Config | None, *, incident: int | None = None
) -> list[LoadedItem]:
    """Every hardening item of the repository, open and closed, by number; with ``incident``,
    only the items that belong to it (by the bot's marker, else by their Incident reference)."""
    config = config or default_config()
    trust = scope.trust
    issues: list[dict[str, Any]] = []
    async for issue in scope.gh.getiter(
        "/repos/{owner}/{repo}/issues{?labels,state,per_page}",
        {
            "owner": scope.owner,
            "repo": scope.repo,
            "labels": config.labels.hardening,
            "state": "all",
            "per_page": 100,
        },
    ):
        if is_hardening(issue, config):
            issues.append(dict(issue))
    found: list[LoadedItem] = []
    # The App's copies of every record at once: one database read, not one per item.
    for issue, reading in zip(issues, await read_all(issues, trust), strict=True):
        loaded = await load(issue, config, trust=trust, reading=reading)
        if loaded is not None and (incident is None or loaded.incident == incident):
            found.append(loaded)
    return sorted(found, key=lambda one: one.number)


async def save_item(
    scope: Scope, loaded: LoadedItem, item: HardeningItem, *, config: Config | None = None
) -> bool:
    """Write ``item`` into the issue's template in place, keeping every line of human text, with
    the App's record of its gate facts, and keep its ``priority:`` and ``failure-class:`` labels
    in step. Writes nothing that is already so; returns whether anything was written.

    Without a record key nothing can be signed: the body is written without a record and the
    gate facts stay unproven (fail closed); the missing secret is logged at start."""
    config = config or default_config()
    gh, trust = scope.gh, scope.trust
    body = loaded.issue.get("body") or ""
    wanted = replace_item_in_body(body, item, loaded.marker)
    record = recorded(loaded.record, subject(loaded.issue), item, trust.repository)
    if trust.key is not None:
        wanted = sealed(wanted, record, trust.key)
    wrote = False
    if not same_text(body, wanted):
        await update_issue(gh, loaded.issue, body=wanted)
        wrote = True
    await remember(trust, record)
    stale, missing = label_changes(label_names(loaded.issue), item, config)
    for name in stale:
        wrote = (await remove_label(gh, loaded.issue, name)).wrote or wrote
    if missing:
        await _ensure_labels(scope, config, missing)
        wrote = (await add_labels(gh, loaded.issue, missing)).wrote or wrote
    return wrote


async def adopt(
    scope: Scope, issue: dict[str, Any], *, config: Config, keep_evidence: bool
) -> LoadedItem | None:
    """Make the person-opened ``issue`` an item: its record written from the template's plain
    fields (see :func:`rules.edits.adopted`). None when the body holds no template."""
    parse = parse_item(issue.get("body") or "")
    if parse.item is None:
        return None
    parse = replace(parse, marker=None)  # only the App's own bodies carry item markers
    assert parse.item is not None  # replace() keeps it
    item = adopted(parse.item, keep_evidence=keep_evidence)
    fresh = LoadedItem(issue, int(issue["number"]), parse, record=None, source="record")
    await save_item(scope, fresh, item, config=config)
    return await get_item(scope, int(issue["number"]), config=config)


async def refresh_incident_tracking(scope: Scope, incident_number: int) -> None:
    """Re-render incident ``incident_number``'s tracking comment from what GitHub holds now.

    Call it after changing an item. It creates no item (that is :func:`sync_incident`'s job) and
    writes only when the comment's text changes, so calling it again changes nothing.
    """
    async with _incident_lock(scope.owner, scope.repo, incident_number):
        issue = await get_issue(scope, incident_number)
        if issue is None or "pull_request" in issue:
            scope.ctx.log.info(
                "#%s is not an issue here: no tracking comment to refresh", incident_number
            )
            return
        await _sync(scope, issue, create=False)


async def sync_incident(scope: Scope, issue: dict[str, Any]) -> SyncResult:
    """Give every known finding of the incident ``issue`` its item, then re-render the tracking
    comment. ``issue`` may come from a webhook: the body is read again from GitHub, so a
    delivery that waited in the inbox acts on the incident as it is now."""
    number = int(issue["number"])
    async with _incident_lock(scope.owner, scope.repo, number):
        fresh = await get_issue(scope, number)
        if fresh is None:
            return SyncResult()  # deleted or transferred since the event was sent
        return await _sync(scope, fresh, create=True)


# ---------------------------------------------------------------------------------------------


async def _sync(scope: Scope, issue: dict[str, Any], *, create: bool) -> SyncResult:
    ctx = scope.ctx
    result: ConfigResult = await scope.config()
    config = result.config
    labels = label_names(issue)
    if not is_incident(labels, config):
        return SyncResult()
    number = int(issue["number"])
    incident = parse_incident(
        number, issue.get("title") or "", issue.get("body") or "", labels, config
    )
    loaded = await list_items(scope, config, incident=number)
    limit = config.limits.findings_per_incident
    plan = plan_incident_sync(incident, [_tracked(one) for one in loaded], limit)
    if plan.to_create:
        # An item whose hardening label a person removed is still the finding's item.
        strays = await _unlabelled_items(scope, number, loaded)
        if strays:
            loaded = sorted([*loaded, *strays], key=lambda one: one.number)
            plan = plan_incident_sync(incident, [_tracked(one) for one in loaded], limit)

    created: list[int] = []
    if create and plan.to_create and result.ok:
        today = ctx.now().date()
        planned = [plan_item(finding, incident, config, today) for finding in plan.to_create]
        await _ensure_labels(scope, config, labels_of_items(planned, config))
        for finding in plan.to_create:
            new = await _create_or_find(scope, config, incident, finding, today)
            created.append(int(new["number"]))
            parse = parse_item(new.get("body") or "")
            loaded.append(LoadedItem(new, int(new["number"]), parse, source="upgrade"))
        plan = plan_incident_sync(incident, [_tracked(one) for one in loaded], limit)
        ctx.log.info("incident #%s: created hardening items %s", number, created)

    body = _tracking_body(issue, incident, plan, result, ctx.now())
    write = await upsert_comment(
        scope.gh,
        scope.owner,
        scope.repo,
        number,
        tracking_marker(number),
        body,
        bot_login=ctx.bot_login,
    )
    return SyncResult(incident, tuple(created), plan, write.wrote)


async def get_issue(scope: Scope, number: int) -> dict[str, Any] | None:
    """Issue ``number``, or None when there is none (a wrong reference, deleted, transferred)."""
    try:
        issue = await scope.gh.getitem(
            "/repos/{owner}/{repo}/issues/{number}",
            {"owner": scope.owner, "repo": scope.repo, "number": number},
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) in (404, 410):
            return None
        raise
    return dict(issue)


def _tracked(one: LoadedItem) -> TrackedItem:
    return TrackedItem(
        number=one.number,
        title=str(one.issue.get("title") or ""),
        item=one.item,
        marker=one.marker,
        closed=one.issue.get("state") == "closed",
    )


def _tracking_body(
    issue: dict[str, Any], incident: Incident, plan: SyncPlan, result: ConfigResult, now: datetime
) -> str:
    opened = github_time(issue.get("created_at")) or now
    windows = timeline_expectations(opened, now, result.config)
    backlog = plan.backlog
    config = result.config
    return render_tracking_comment(
        incident,
        backlog,
        incident.unknown_findings,
        plan.orphans,
        judge_timeline(windows, issue.get("body") or "", backlog),
        result.errors,
        now,
        allowed_types=[
            fc.finding_types[0] if fc.finding_types else fc.slug
            for fc in config.failure_classes.values()
        ],
        pending=plan.to_create,
        duplicates=plan.duplicates,
        beyond=plan.beyond,
        findings_limit=config.limits.findings_per_incident,
    )


@dataclass(frozen=True)
class Settle:
    """How long to look for an item whose creation ended without a clear answer.

    A ``POST /issues`` that timed out, lost its connection after sending, or got a 5xx may still
    have created the issue, seconds later: GitHub lets a REST request run for up to ``limit``
    seconds before it ends it, and a proxy's 502/504 does not stop the work behind it. Creating
    again at once would make a second item for the finding, so the create path re-lists the
    incident's items every ``poll`` seconds until ``limit`` seconds after the POST was sent (and
    for at least ``grace`` seconds after it failed); if the item shows up it is the finding's
    item, else the error is raised and the delivery retried, whose listing finds a late one.
    """

    limit: float = 10.0
    grace: float = 2.0
    poll: float = 1.0

    def deadline(self, sent: float, failed: float) -> float:
        return max(sent + self.limit, failed + self.grace)

    @property
    def max_polls(self) -> int:
        # Bounded by count as well as by the clock, so a clock that stands still cannot loop.
        return int(max(self.limit, self.grace) / self.poll) + 1


SETTLE = Settle()


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed write may have happened all the same: a timeout, a connection lost
    after the request went out, or a 5xx. A connection that was never made changed nothing."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return False
    return isinstance(exc, TimeoutError | aiohttp.ClientError | gidgethub.GitHubBroken)


async def _create_or_find(
    scope: Scope, config: Config, incident: Incident, finding: Finding, today: date
) -> dict[str, Any]:
    """Create the finding's item; if GitHub's answer leaves it unknown whether that happened,
    look for the item (see :class:`Settle`) before giving up, so no retry creates it twice."""
    ctx = scope.ctx
    sent = ctx.clock()
    try:
        return await _create_item(scope, config, incident, finding, today)
    except Exception as exc:
        if not outcome_unknown(exc):
            raise
        deadline = SETTLE.deadline(sent, ctx.clock())
        ctx.log.warning(
            "incident #%s: creating the item of finding %s ended with %s; looking for it",
            incident.number,
            finding.key,
            type(exc).__name__,
        )
        for _ in range(SETTLE.max_polls):
            listed = await list_items(scope, config, incident=incident.number)
            for one in listed:
                if one.marker is not None and one.marker.finding_key == finding.key:
                    ctx.log.info(
                        "incident #%s: the item was created after all: #%s",
                        incident.number,
                        one.number,
                    )
                    return one.issue
            left = deadline - ctx.clock()
            if left <= 0:
                break
            await ctx.sleep(min(SETTLE.poll, left))
        raise


async def _create_item(
    scope: Scope, config: Config, incident: Incident, finding: Finding, today: date
) -> dict[str, Any]:
    item = plan_item(finding, incident, config, today)
    mark = ItemMarker(incident=incident.number, finding_key=finding.key)
    body = "\n\n".join(
        (item_intro(finding, incident.number), render_item(item, mark).rstrip("\n"), ITEM_FOOTER)
    )
    created = await scope.gh.post(
        "/repos/{owner}/{repo}/issues",
        {"owner": scope.owner, "repo": scope.repo},
        data={
            "title": item_title(finding, incident.number),
            "body": body + "\n",
            "labels": item_labels(item, config),
        },
    )
    return dict(created)


async def _ensure_labels(scope: Scope, config: Config, names: Iterable[str]) -> None:
    """Create the repository labels of ``names`` that are missing, styled from the config.
    The repository's labels are listed once for all of them."""
    existing: dict[str, dict[str, Any]] | None = None
    for name in names:
        if existing is None:
            existing = await repo_labels(scope.gh, scope.owner, scope.repo)
        style = label_style(name, config.labels)
        await ensure_label(
            scope.gh,
            scope.owner,
            scope.repo,
            name,
            style.color if style else "ededed",
            style.description if style else "",
            existing=existing,
        )


async def _unlabelled_items(
    scope: Scope, incident: int, known: list[LoadedItem]
) -> list[LoadedItem]:
    """The bot's own items of ``incident`` that no longer carry the hardening label."""
    seen = {one.number for one in known}
    strays: list[LoadedItem] = []
    async for issue in scope.gh.getiter(
        "/repos/{owner}/{repo}/issues{?creator,state,per_page}",
        {
            "owner": scope.owner,
            "repo": scope.repo,
            "creator": scope.ctx.bot_login,
            "state": "all",
            "per_page": 100,
        },
    ):
        if "pull_request" in issue or issue["number"] in seen:
            continue
        parse = parse_item(issue.get("body") or "")
        if parse.marker is not None and parse.marker.incident == incident:
            strays.append(LoadedItem(dict(issue), int(issue["number"]), parse, source="upgrade"))
    return strays


def github_time(value: Any) -> datetime | None:
    """A time GitHub wrote (ISO 8601, ``Z`` for UTC) in a payload field; None when ``value`` is
    missing or no such time."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# One lock per incident and event loop: the inbox already orders deliveries of one incident, and
# this keeps two coroutines of one process from interleaving their list-then-create. An entry
# lives only while someone holds or waits for its lock.
_LOCKS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[str, str, int], tuple[asyncio.Lock, list[int]]]
] = weakref.WeakKeyDictionary()


@asynccontextmanager
async def _incident_lock(owner: str, repo: str, number: int) -> AsyncIterator[None]:
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    key = (owner.casefold(), repo.casefold(), number)
    lock, users = locks.setdefault(key, (asyncio.Lock(), [0]))
    users[0] += 1
    try:
        async with lock:
            yield
    finally:
        users[0] -= 1
        if users[0] == 0:
            locks.pop(key, None)
