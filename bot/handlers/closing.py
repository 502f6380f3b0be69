"""Closing gates (CONTRACT §3): a hardening item or an incident closed before it is ready is
reopened, with one comment naming each missing thing and the command that supplies it.

Seed: "close items only with proof artifact links" (ownership rhythm), the "Hardening closure
gate", and the anti-pattern "Recovery declared 'done' with no hardening backlog" for incidents.
The verdicts come from ``rules.gates`` and the comments from ``rules.replies``; this module
only reads, calls them and writes.

A close/reopen loop must end. Only a person's close is judged: the App's own closes (after a
passed ``/harden verify`` or ``/harden retire``) and other bots' are ignored, and the App's own
reopen is an ``issues.reopened`` event, which nothing here listens to. Each person's close edits
the one gate comment (with a count of closes held, read from the timeline) instead of posting
another. A redelivered close changes nothing twice: the issue is already open again, or the
comment it would write is already there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.context import Context
from bot.facts import item_facts
from bot.items import get_item, list_items
from bot.records import trust_of
from bot.writes import find_comment, label_names, repo_coordinates, update_issue, upsert_comment
from rules.authorization import is_bot_account
from rules.config import Config
from rules.gates import GateResult, closure_gate, count_held, incident_close_gate
from rules.model import HardeningItem, ItemFacts
from rules.replies import INCIDENT_GATE, ITEM_GATE, GateNotice, gate_comment, gate_resolved

router = Router()


@router.register("issues", action="closed")
async def on_closed(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    issue = event.data["issue"]
    sender = event.data.get("sender") or {}
    if is_bot_account(sender, ctx.bot_login) or issue.get("pull_request"):
        return
    owner, repo = repo_coordinates(event.data)
    config = (await ctx.config(gh, owner, repo)).config
    labels = {name.lower() for name in label_names(issue)}
    closed_by = str(sender.get("login") or "someone")
    if config.labels.hardening.lower() in labels:
        await hold_item(gh, ctx, owner, repo, issue["number"], config, closed_by)
    elif config.labels.incident.lower() in labels:
        await hold_incident(gh, ctx, owner, repo, issue, config, closed_by)


async def hold_item(
    gh: GitHubAPI,
    ctx: Context,
    owner: str,
    repo: str,
    number: int,
    config: Config,
    closed_by: str,
) -> None:
    """Reopen a hardening item whose closure gate fails."""
    loaded = await get_item(gh, owner, repo, number, config=config, trust=trust_of(ctx))
    if loaded is None or loaded.item is None:
        return  # a hardening label without the template is not an item (CONTRACT §3)
    if loaded.issue.get("state") != "closed":
        return  # reopened since: nothing to hold (or this close was already handled)
    facts = await item_facts(gh, ctx, owner, repo, loaded, config)
    gate = closure_gate(facts, **config.thresholds.keywords())
    await _hold(gh, ctx, owner, repo, loaded.issue, gate, ITEM_GATE, closed_by)


async def hold_incident(
    gh: GitHubAPI,
    ctx: Context,
    owner: str,
    repo: str,
    issue: dict[str, Any],
    config: Config,
    closed_by: str,
) -> None:
    """Reopen an incident with no hardening backlog, or with items lacking owners or dates."""
    number = int(issue["number"])
    current = await gh.getitem(
        "/repos/{owner}/{repo}/issues/{number}", {"owner": owner, "repo": repo, "number": number}
    )
    if current.get("state") != "closed":
        return
    loaded = await list_items(gh, owner, repo, config, incident=number, trust=trust_of(ctx))
    # The incident gate reads only the items' own fields, so no pull request is fetched here.
    # An item whose template was deleted (only the bot's marker is left) has nothing filled in.
    facts: Sequence[ItemFacts] = [
        ItemFacts(
            number=i.number, item=i.item or HardeningItem(), title=str(i.issue.get("title") or "")
        )
        for i in loaded
    ]
    gate = incident_close_gate(facts)
    await _hold(gh, ctx, owner, repo, current, gate, INCIDENT_GATE, closed_by)


async def _hold(
    gh: GitHubAPI,
    ctx: Context,
    owner: str,
    repo: str,
    issue: dict[str, Any],
    gate: GateResult,
    notice: GateNotice,
    closed_by: str,
) -> None:
    """Unless ``gate`` passed: say what is missing, then reopen the issue."""
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


async def resolve_gate_comment(
    gh: GitHubAPI, ctx: Context, owner: str, repo: str, number: int, outcome: str
) -> None:
    """Once the item closes the right way, turn its gate comment (if any) into a resolution,
    so the thread no longer says something is missing. Edited in place; nothing is posted."""
    mark = ITEM_GATE.marker
    if await find_comment(gh, owner, repo, number, mark, bot_login=ctx.bot_login) is None:
        return
    await upsert_comment(
        gh, owner, repo, number, mark, gate_resolved(outcome), bot_login=ctx.bot_login
    )
