"""The Hardening ledger issue on GitHub: kept current, one per repository, never duplicated.

Every change that the ledger shows (an item created, edited, closed or commanded; a residual
risk registered or resolved; an override; a recurrence; a ``hardening/controls`` verdict) asks
for a ledger update with :func:`request_update` during its delivery. When the delivery is done,
the worker stores one internal delivery (event :data:`EVENT`) per repository in the inbox, with
the subject ``owner/repo#ledger``: the inbox never runs two deliveries of one subject at once
(across replicas too), so exactly one writer at a time finds, creates and edits the ledger,
and it cannot be created twice. Its id derives from the delivery that asked, so a redelivered
delivery asks once. Processing it (:func:`update_ledger`):

1. finds the ledger: the App's own issue labelled ``hardening-ledger`` holding the ledger marker;
2. reads the repository facts from the App's signed record in its body (rules.ledger_facts),
   applies the facts that came with the request, and answers the comments that asked (a
   residual risk registered as ``R3``, or resolved);
3. lists the hardening items, renders the ledger (rules.ledger) and writes the body in one
   edit, only when it differs; the first item creates the issue.

Without an inbox (``replay``, ``run-job``) the update runs in place, under a per-repository
lock. A person's edit of the ledger is overwritten at the next update; when it removed the
record, the body before the edit (sent with ``issues.edited``) is where the facts are read from.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import cachetools
import gidgethub

from bot.item_issues import LoadedItem, app_authored, list_items
from bot.records import Trust, last_copy, remember, sealed, unseal_with
from bot.scope import Scope
from bot.writes import (
    add_labels,
    ensure_label,
    label_names,
    same_text,
    update_issue,
    upsert_comment,
)
from rules import markers
from rules.config import CONTROLS, Config, mode_for
from rules.ledger import (
    LABEL,
    MARKER,
    ORG_MARKER,
    ORG_TITLE,
    TITLE,
    LedgerInput,
    LedgerItem,
    render_ledger,
    render_org_ledger,
    totals,
    totals_from,
)
from rules.ledger_facts import Applied, LedgerFacts, apply, from_json, to_json
from rules.model import HardeningItem, ItemFacts
from rules.record import Record, bound, unseal
from rules.rollout import control_stats
from rules.scores import evaluate
from rules.summary import SPRINT_DAYS

if TYPE_CHECKING:
    from bot.context import Context

EVENT = "hardening_ledger"
# An incident's sprint summary asked for by the calendar (sprint day 14), in its own subject.
SUMMARY_EVENT = "hardening_summary"


def request_update(scope: Scope, fact: dict[str, Any] | None = None) -> None:
    """Ask for the repository's ledger to be brought up to date once this delivery is done,
    applying ``fact`` (rules.ledger_facts) first."""
    scope.ctx.ledger.add(scope.owner, scope.repo, fact)


def subject(owner: str, repo: str) -> str:
    return f"{owner.lower()}/{repo.lower()}#ledger"


def payload(
    owner: str, repo: str, installation: int | None, facts: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The internal delivery's payload: shaped like a webhook's, plus the facts."""
    data: dict[str, Any] = {
        "action": "update",
        "repository": {"full_name": f"{owner}/{repo}", "name": repo, "owner": {"login": owner}},
        "facts": list(facts),
    }
    if installation is not None:
        data["installation"] = {"id": installation}
    return data


# --- the record ------------------------------------------------------------------------------
# The repository's facts are a section of the App's record (rules.record), kept in the ledger's
# body and bound to the subject ``owner/repo#ledger``: signed with the App's key, so a person who
# edits the ledger can neither forge nor alter them.

SECTION = "ledger"


def record_subject(owner: str, repo: str) -> str:
    return subject(owner, repo)


def read_record(body: str, trust: Trust, owner: str, repo: str) -> Record | None:
    """The ledger's valid record in ``body``, or None."""
    return unseal_with(body or "", trust, record_subject(owner, repo))[0].record


# --- the update --------------------------------------------------------------------------------

_LOCKS: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()


def lock(owner: str, repo: str) -> asyncio.Lock:
    key = (owner.lower(), repo.lower())
    found = _LOCKS.get(key)
    if found is None:
        found = _LOCKS[key] = asyncio.Lock()
    return found


# The ledger's issue number per repository once found: the App never opens a second one, so it
# is read by its number (answered from the App's copy while unchanged, bot.issue_versions)
# rather than found again by listing every issue the App opened.
_NUMBERS: cachetools.LRUCache[tuple[str, str], int] = cachetools.LRUCache(maxsize=4096)


async def find_ledger(scope: Scope) -> dict[str, Any] | None:
    """The App's ledger issue of the repository (see :func:`_find`)."""
    gh, owner, repo, bot_login = scope.gh, scope.owner, scope.repo, scope.ctx.bot_login
    key = (owner.lower(), repo.lower())
    number = _NUMBERS.get(key)
    if number is not None:
        try:
            issue: dict[str, Any] | None = dict(
                await gh.getitem(
                    "/repos/{owner}/{repo}/issues/{number}",
                    {"owner": owner, "repo": repo, "number": number},
                )
            )
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) not in (404, 410):
                raise
            issue = None  # deleted or transferred: look for it again
        if (
            issue is not None
            and app_authored(issue, bot_login)
            and _titled(issue, TITLE, MARKER, LABEL)
        ):
            return issue
        _NUMBERS.pop(key, None)
    found = await _find(scope, TITLE, MARKER, label=LABEL)
    if found is not None:
        _NUMBERS[key] = int(found["number"])
    return found


# The row each repository's ledger last sent its organisation's ledger from this process.
_SENT_ROWS: cachetools.LRUCache[str, dict[str, Any]] = cachetools.LRUCache(maxsize=4096)


def forget() -> None:
    """Forget which issue is each ledger and what each sent its organisation's ledger (as a
    new process would)."""
    _NUMBERS.clear()
    _SENT_ROWS.clear()


async def records_verdict(scope: Scope, pull: int, verdicts: dict[str, bool]) -> bool:
    """Whether the ledger already records ``verdicts`` as ``pull``'s latest (then asking for an
    update would change nothing). Only a ledger already found is read: never a search."""
    if (scope.owner.lower(), scope.repo.lower()) not in _NUMBERS:
        return False
    facts = await read_facts(scope)
    return facts.verdicts.get(pull) == verdicts


def _titled(issue: dict[str, Any], title: str, marker: str, label: str | None) -> bool:
    """Whether ``issue``, one the App opened, is its issue of that title: found by its label,
    its marker or its title."""
    if "pull_request" in issue:
        return False
    labels = {str(one.get("name", "")).lower() for one in issue.get("labels") or ()}
    return (
        (label is not None and label in labels)
        or (issue.get("body") or "").startswith(marker)
        or issue.get("title") == title
    )


async def _find(
    scope: Scope, title: str, marker: str, *, label: str | None = None
) -> dict[str, Any] | None:
    """The App's issue of that title (open or closed; the oldest, should there ever be two).

    Only issues the App opened count, found by its label, its marker or its title, so a person
    who removed one of them (or replaced the body) does not make the App open a second one.
    """
    found = []
    bot_login = scope.ctx.bot_login
    async for issue in scope.gh.getiter(
        "/repos/{owner}/{repo}/issues{?creator,state,per_page}",
        {
            "owner": scope.owner,
            "repo": scope.repo,
            "creator": bot_login,
            "state": "all",
            "per_page": 100,
        },
    ):
        # Listed by creator: GitHub's listing is trusted for who opened it.
        if _titled(issue, title, marker, label):
            found.append(dict(issue))
    return min(found, key=lambda i: int(i["number"])) if found else None


async def read_facts(scope: Scope) -> LedgerFacts:
    """The repository facts as the ledger records them now (empty when there is no ledger)."""
    ledger = await find_ledger(scope)
    newest = await _newest(scope.owner, scope.repo, ledger, scope.trust, ())
    return from_json(newest.section(SECTION))


async def update_ledger(
    scope: Scope,
    facts: Sequence[dict[str, Any]] = (),
    *,
    previous_bodies: Sequence[str] = (),
    outside_inbox: bool = False,
) -> bool:
    """Apply ``facts``, answer who asked, and bring the ledger issue up to date. Returns whether
    the issue was created or edited."""
    gh, ctx, owner, repo = scope.gh, scope.ctx, scope.owner, scope.repo
    async with lock(owner, repo):
        trust = scope.trust
        key = trust.key
        config = (await scope.config()).config
        ledger = await find_ledger(scope)
        previous_bodies = [
            *previous_bodies,
            *(str(f["body"]) for f in facts if f.get("kind") == "restore" and f.get("body")),
        ]
        record = await _newest(owner, repo, ledger, trust, previous_bodies)
        known = from_json(record.section(SECTION))
        replies: list[tuple[int, int, str, bool]] = []
        for fact in facts:
            applied: Applied = apply(known, fact)
            known = applied.facts
            if applied.reply is not None:
                replies.append(applied.reply)
        loaded = await list_items(scope, config)
        for incident in _sprint_ended(loaded, ctx.now().date()):
            ctx.ledger.add_summary(owner, repo, incident)
        if ledger is None and not loaded and known == LedgerFacts():
            await _answer(scope, replies)
            return False
        body = render_ledger(_input(owner, repo, ctx, config, loaded, known))
        wrote = False
        record = record.with_section(SECTION, to_json(known))
        if ledger is None:
            await ensure_label(gh, owner, repo, LABEL, "5319e7", "The App's hardening ledger")
            created = await gh.post(
                "/repos/{owner}/{repo}/issues",
                {"owner": owner, "repo": repo},
                data={"title": TITLE, "body": _sealed(body, record, key), "labels": [LABEL]},
            )
            ctx.log.info("hardening ledger created: #%s", created["number"])
            wrote = True
        else:
            if outside_inbox:
                # Outside the ledger's subject (the weekly review's update) another process may
                # have written a newer record meanwhile: never write an older one back.
                again = await find_ledger(scope)
                newer = read_record(str((again or {}).get("body") or ""), trust, owner, repo)
                if newer is not None and newer.serial > record.serial:
                    return False
                ledger = again or ledger
            current = str(ledger.get("body") or "")
            # Signed with the current key, not only readable: a record a previous secret signed
            # is written again.
            still = unseal(current, key, record_subject(owner, repo)).record
            if not same_text(markers.without_records(current), body) or still != record:
                await update_issue(gh, ledger, body=_sealed(body, record, key))
                wrote = True
            if ledger.get("state") == "closed" or ledger.get("title") != TITLE:
                await update_issue(gh, ledger, state="open", title=TITLE)
                wrote = True
            if LABEL not in {n.lower() for n in label_names(ledger)}:
                await add_labels(gh, ledger, [LABEL])
        await remember(trust, record)
        await _answer(scope, replies)
        if wrote:
            number = int((created if ledger is None else ledger)["number"])
            row = totals(_input(owner, repo, ctx, config, loaded, known), number)
            sent = row.as_json()
            # The organisation's ledger shows only the totals: an edit that changed none of them
            # (a controls verdict) asks nothing of it.
            if _SENT_ROWS.get(scope.full_name.lower()) != sent:
                request_update(Scope(gh, ctx, owner, ORG_REPO), {"kind": "org-row", "row": sent})
                _SENT_ROWS[scope.full_name.lower()] = sent
        return wrote


# --- the organisation's ledger --------------------------------------------------------------

ORG_REPO = ".github"
ORG_SECTION = "org"


async def update_org_ledger(scope: Scope, rows: Sequence[dict[str, Any]]) -> bool:
    """The organisation's ledger in ``owner/.github`` (``scope``), when the App is installed
    there: one line per repository from that repository's ledger. Returns whether it was
    created or edited."""
    gh, ctx, owner = scope.gh, scope.ctx, scope.owner
    try:
        await gh.getitem("/repos/{owner}/{repo}", {"owner": owner, "repo": scope.repo})
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) in (403, 404):
            ctx.log.info("no organisation ledger: the App cannot see %s/%s", owner, scope.repo)
            return False
        raise
    async with lock(owner, "#org"):
        trust = scope.trust
        key = trust.key
        name = f"{owner.lower()}#org-ledger"
        ledger = await _find(scope, ORG_TITLE, ORG_MARKER)
        found = (
            [unseal_with(str(ledger.get("body") or ""), trust, name)[0].record] if ledger else []
        )
        found.append(await last_copy(trust, name))
        valid = [r for r in found if r is not None]
        record = max(valid, key=lambda r: r.serial) if valid else Record(name)
        known = {
            t.repository.lower(): t
            for t in (totals_from(raw) for raw in (record.section(ORG_SECTION) or {}).values())
            if t is not None
        }
        for raw in rows:
            row = totals_from(raw)
            if row is not None:
                known[row.repository.lower()] = row
        record = record.with_section(
            ORG_SECTION, {repo: row.as_json() for repo, row in sorted(known.items())}
        )
        body = render_org_ledger(owner, list(known.values()))
        await remember(trust, record)
        if ledger is None:
            await gh.post(
                "/repos/{owner}/{repo}/issues",
                {"owner": owner, "repo": scope.repo},
                data={"title": ORG_TITLE, "body": _sealed(body, record, key)},
            )
            return True
        current = str(ledger.get("body") or "")
        if same_text(markers.without_records(current), body) and (
            unseal(current, key, name).record == record
        ):
            return False
        await update_issue(gh, ledger, body=_sealed(body, record, key))
        return True


async def _newest(
    owner: str,
    repo: str,
    ledger: dict[str, Any] | None,
    trust: Trust,
    previous_bodies: Sequence[str],
) -> Record:
    """The newest valid record of the ledger: in its body, in a body before a person's edit, or
    the App's last known copy; an empty record when there is none."""
    name = record_subject(owner, repo)
    bodies = [str(ledger.get("body") or "")] if ledger else []
    found = [read_record(body, trust, owner, repo) for body in [*bodies, *previous_bodies]]
    found.append(await last_copy(trust, name))
    valid = [r for r in found if r is not None]
    if not valid:
        return Record(name, repository=trust.repository)
    return bound(max(valid, key=lambda r: r.serial), name, trust.repository)


def _sealed(body: str, record: Record, key: bytes | None) -> str:
    """The rendered body with its record line; without a key (no webhook secret) the view
    alone, and the repository facts are not kept."""
    return sealed(body, record, key) if key is not None else body


def _input(
    owner: str,
    repo: str,
    ctx: Context,
    config: Config,
    loaded: list[LoadedItem],
    facts: LedgerFacts,
) -> LedgerInput:
    today = ctx.now().date()
    thresholds = config.thresholds.keywords()
    items = []
    for one in loaded:
        if one.item is None:
            continue
        item_facts = ItemFacts(
            number=one.number,
            item=one.item,
            title=str(one.issue.get("title") or ""),
            state="closed" if one.issue.get("state") == "closed" else "open",
            control_mode=mode_for(config, "control-change"),
        )
        items.append(
            LedgerItem(
                item_facts, evaluate(item_facts, **thresholds), _done_on(one.item, one.issue)
            )
        )
    modes = {control: mode_for(config, control) for control in CONTROLS}
    return LedgerInput(
        repository=f"{owner}/{repo}",
        today=today,
        items=items,
        risks=facts.risks,
        controls=control_stats(modes, facts.verdicts),
        recurrences=facts.recurrences,
        overrides=facts.overrides,
    )


def _sprint_ended(loaded: Sequence[LoadedItem], today: date) -> list[int]:
    """Incidents with unfinished items whose sprint reached day 14 (counted from their items'
    creation, the day the incident was read): their summary is due by the calendar."""
    opened: dict[int, date] = {}
    active: set[int] = set()
    for one in loaded:
        created = str(one.issue.get("created_at") or "")[:10]
        if one.incident is None or len(created) != 10:
            continue
        try:
            day = date.fromisoformat(created)
        except ValueError:
            continue
        opened[one.incident] = min(day, opened.get(one.incident, day))
        if one.item is not None and one.item.status in ("open", "in_progress"):
            active.add(one.incident)
    return sorted(n for n in active if today >= opened[n] + timedelta(days=SPRINT_DAYS - 1))


def _done_on(item: HardeningItem, issue: dict[str, Any]) -> date | None:
    if item.status == "verified" and item.verified_at is not None:
        return item.verified_at.date()
    closed = issue.get("closed_at")
    if item.status in ("verified", "retired") and isinstance(closed, str) and len(closed) >= 10:
        try:
            return date.fromisoformat(closed[:10])
        except ValueError:
            return None
    return None


async def react(scope: Scope, comment: int, content: str) -> None:
    """Add a reaction to an issue comment; GitHub answers 200 when the App already reacted so,
    which is fine. A comment that is gone raises (``gidgethub.BadRequest``, 404 or 410)."""
    await scope.gh.post(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        {"owner": scope.owner, "repo": scope.repo, "comment_id": comment},
        data={"content": content},
    )


async def _answer(scope: Scope, replies: list[tuple[int, int, str, bool]]) -> None:
    """One reply per comment that registered or resolved a residual risk, edited in place."""
    for number, comment, text, ok in replies:
        await upsert_comment(
            scope.gh,
            scope.owner,
            scope.repo,
            number,
            markers.ledger_reply(comment),
            text,
            bot_login=scope.ctx.bot_login,
        )
        try:
            await react(scope, comment, "+1" if ok else "-1")
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) not in (404, 410):
                raise  # a comment deleted meanwhile needs no reaction
