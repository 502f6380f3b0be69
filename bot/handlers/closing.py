"""Closing gates (docs/commands.md#closing-gates): a hardening item or an incident closed before it is ready is
reopened, with one comment naming each missing thing and the command that supplies it.

From docs/hardening-loop.md: "close items only with proof artifact links" (ownership rhythm), the "Hardening closure
gate", and the anti-pattern "Recovery declared 'done' with no hardening backlog" for incidents.
The verdicts come from ``rules.gates`` and the comments from ``rules.replies``; this module
only reads, calls them and writes.

Every close is judged except the App's own (after a passed ``/harden verify`` or ``/harden
retire``): people's, other bots' and automations' (a stale bot, ``github-actions[bot]``, a merge
queue), and a merged pull request's ``Fixes #N``. The gate reads the App's record, never the
body, so nothing typed makes it pass (docs/commands.md, "Who may change what"). An item closed
while its hardening label was off is judged when the label comes back, and a closed item
transferred here is judged on arrival. The same holds for an incident and its label, and an
incident is judged as one whatever other labels it carries (a hardening label too).

A close/reopen loop must end. The App's own reopen is an ``issues.reopened`` event, which nothing
here listens to; each held close edits the one gate comment (with a count of closes held, read
from the timeline) instead of posting another. A redelivered close changes nothing twice: the
issue is already open again, or the comment it would write is already there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import gidgethub
from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot import ledger
from bot.context import Context
from bot.facts import item_facts
from bot.incident_makers import incident_maker
from bot.item_issues import get_item, is_hardening, list_items
from bot.scope import Scope
from bot.writes import find_comment, label_names, update_issue, upsert_comment
from rules.authorization import is_app_account
from rules.config import Config
from rules.gates import GateResult, closure_gate, count_held, incident_close_gate
from rules.incident import is_incident
from rules.model import HardeningItem, ItemFacts
from rules.record import with_gate
from rules.replies import INCIDENT_GATE, ITEM_GATE, GateNotice, gate_comment, gate_resolved
from rules.summary import close_gate as sprint_close_gate

router = Router()


@router.register("issues", action="closed")
async def on_closed(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    issue = event.data["issue"]
    sender = event.data.get("sender") or {}
    if is_app_account(sender, ctx.bot_login) or issue.get("pull_request"):
        return
    scope = Scope.of_payload(gh, ctx, event.data)
    config = (await scope.config()).config
    closed_by = str(sender.get("login") or "someone")
    # Each gate for what the issue is, whatever other labels it carries: a hardening label on
    # an incident does not take it out of the incident gate.
    if is_incident(label_names(issue), config):
        await hold_incident(scope, issue, config, closed_by)
    if is_hardening(issue, config):
        await hold_item(scope, issue["number"], config, closed_by)


@router.register("issues", action="labeled")
async def on_labeled(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """The hardening or incident label came back on a closed issue: judge the close it
    escaped."""
    issue = event.data["issue"]
    if issue.get("pull_request") or issue.get("state") != "closed":
        return
    scope = Scope.of_payload(gh, ctx, event.data)
    config = (await scope.config()).config
    label = str((event.data.get("label") or {}).get("name") or "")
    closed_by = str((issue.get("closed_by") or {}).get("login") or "someone")
    if closed_by.casefold() == ctx.bot_login.casefold():
        closed_by = str((event.data.get("sender") or {}).get("login") or "someone")
    if is_incident([label], config):
        await hold_incident(scope, issue, config, closed_by)
    elif label.casefold() == config.labels.hardening.casefold():
        await hold_item(scope, int(issue["number"]), config, closed_by)


@router.register("issues", action="transferred")
async def on_transferred(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """A closed hardening issue moved to another repository the App serves is judged there: its
    record names the old repository, so it carries no gate fact across (fail closed)."""
    changes = event.data.get("changes") or {}
    new_issue = changes.get("new_issue") or {}
    new_repo = changes.get("new_repository") or {}
    full_name = str(new_repo.get("full_name") or "")
    if "/" not in full_name or new_issue.get("state") != "closed" or "number" not in new_issue:
        return
    owner, repo = full_name.split("/", 1)
    try:
        config = (await ctx.config(gh, owner, repo)).config
        sender = str((event.data.get("sender") or {}).get("login") or "someone")
        await hold_item(Scope(gh, ctx, owner, repo), int(new_issue["number"]), config, sender)
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) not in (403, 404):
            raise
        ctx.log.info("transferred to %s, which this installation cannot reach", full_name)


async def hold_item(
    scope: Scope,
    number: int,
    config: Config,
    closed_by: str,
) -> None:
    """Reopen a hardening item whose closure gate fails."""
    loaded = await get_item(scope, number, config=config)
    if loaded is None:
        return  # not an item: no template and no marker, or a person's issue not adopted
    if loaded.issue.get("state") != "closed":
        return  # reopened since: nothing to hold (or this close was already handled)
    if loaded.item is None:
        # The template was deleted (only the App's marker is left): nothing is filled in, and
        # only what the App recorded counts.
        whole = with_gate(HardeningItem(), loaded.record)
        loaded = replace(loaded, parse=replace(loaded.parse, item=whole))
    facts = await item_facts(scope, loaded, config)
    gate = closure_gate(facts, **config.thresholds.keywords())
    await _hold(scope, loaded.issue, gate, ITEM_GATE, closed_by)


async def hold_incident(
    scope: Scope,
    issue: dict[str, Any],
    config: Config,
    closed_by: str,
) -> None:
    """Reopen an incident with no hardening backlog, or with items lacking owners or dates."""
    gh, owner, repo = scope.gh, scope.owner, scope.repo
    number = int(issue["number"])
    current = await gh.getitem(
        "/repos/{owner}/{repo}/issues/{number}", {"owner": owner, "repo": repo, "number": number}
    )
    if current.get("state") != "closed" or not is_incident(label_names(current), config):
        return  # reopened since, or no incident now (judged when its label comes back)
    if await incident_maker(scope, dict(current), config) is None:
        return  # labelled by someone who may not make incidents: not the bot's to hold
    loaded = await list_items(scope, config, incident=number)
    # The incident gate reads only the items' own fields, so no pull request is fetched here.
    # An item whose template was deleted (only the bot's marker is left) has nothing filled in.
    facts: Sequence[ItemFacts] = [
        ItemFacts(
            number=i.number, item=i.item or HardeningItem(), title=str(i.issue.get("title") or "")
        )
        for i in loaded
    ]
    gate = incident_close_gate(facts)
    if gate.passed:
        # The sprint's checklist, or the rest deferred or registered as residual risk: this
        # one reads the linked pull requests (controls and tests merged) and the ledger.
        full = [await item_facts(scope, i, config) for i in loaded if i.item]
        risks = (await ledger.read_facts(scope)).risks_of(number)
        missing = sprint_close_gate(full, risks)
        if missing:
            gate = GateResult(False, missing)
    await _hold(scope, current, gate, INCIDENT_GATE, closed_by)


async def _hold(
    scope: Scope,
    issue: dict[str, Any],
    gate: GateResult,
    notice: GateNotice,
    closed_by: str,
) -> None:
    """Unless ``gate`` passed: say what is missing, then reopen the issue."""
    gh, ctx, owner, repo = scope.gh, scope.ctx, scope.owner, scope.repo
    number = int(issue["number"])
    if gate.passed:
        return
    ctx.log.info("%s held #%s: %d missing", notice.gate, number, len(gate.missing))
    timeline = [
        event
        async for event in gh.getiter(
            "/repos/{owner}/{repo}/issues/{number}/timeline{?per_page}",
            {"owner": owner, "repo": repo, "number": number, "per_page": 100},
        )
    ]
    held = max(1, count_held(timeline, ctx.bot_login))
    body = gate_comment(notice, closed_by=closed_by, gate=gate, held=held)
    # Comment first, then reopen: if the reopen fails, the retried delivery still finds the
    # issue closed and finishes the job; the comment it writes again is the same.
    await upsert_comment(gh, owner, repo, number, notice.marker, body, bot_login=ctx.bot_login)
    await update_issue(gh, issue, state="open", state_reason="reopened")


async def resolve_gate_comment(scope: Scope, number: int, outcome: str) -> None:
    """Once the item closes the right way, turn its gate comment (if any) into a resolution,
    so the thread no longer says something is missing. Edited in place; nothing is posted."""
    gh, ctx, owner, repo = scope.gh, scope.ctx, scope.owner, scope.repo
    mark = ITEM_GATE.marker
    if await find_comment(gh, owner, repo, number, mark, bot_login=ctx.bot_login) is None:
        return
    await upsert_comment(
        gh, owner, repo, number, mark, gate_resolved(outcome), bot_login=ctx.bot_login
    )
