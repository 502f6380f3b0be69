"""Closing gates (CONTRACT §3): a hardening item or an incident closed before it is ready is
reopened, with one comment naming each missing thing and the command that supplies it.

Seed: "close items only with proof artifact links" (ownership rhythm), the "Hardening closure
gate", and the anti-pattern "Recovery declared 'done' with no hardening backlog" for incidents.
The verdicts come from ``rules.gates``; this module only reads, decides and writes.

A close/reopen loop must end. Only a person's close is judged: the App's own closes (after a
passed ``/harden verify`` or ``/harden retire``) and other bots' are ignored, and the App's own
reopen is an ``issues.reopened`` event, which nothing here listens to. Each person's close edits
the one gate comment (with a count of closes held, read from the timeline) instead of posting
another. A redelivered close changes nothing twice: the issue is already open again, or the
comment it would write is already there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.context import Context
from bot.facts import item_facts
from bot.items import get_item, list_items
from bot.permissions import is_bot_account
from bot.writes import find_comment, label_names, marker, update_issue, upsert_comment
from rules.config import Config
from rules.gates import GateResult, closure_gate, incident_close_gate
from rules.model import HardeningItem, ItemFacts
from rules.scores import mention

router = Router()

ITEM_GATE_MARKER = marker("closure-gate")
INCIDENT_GATE_MARKER = marker("incident-close-gate")
ITEM_ADVICE = (
    "The bot closes the item itself once the verifier owner's `/harden verify` passes. "
    "To end it without verification, a lead can comment `/harden retire RATIONALE` "
    "(sunset protocol: the control no longer improves its metric, duplicates a stronger one, "
    "or costs more than the risk it removes)."
)
INCIDENT_ADVICE = (
    "Each hardening item takes its owners and due date with `/harden owner @user`, "
    "`/harden verifier @user` and `/harden due YYYY-MM-DD` in a comment on that item. "
    "An item nobody will own can be retired by a lead with `/harden retire RATIONALE` "
    "(sunset protocol); a retired item does not hold the incident open."
)


def count_held(timeline: Iterable[Mapping[str, Any]], bot_login: str) -> int:
    """How many closes by people the gate has held, counting the one being handled now.

    Read from the issue's timeline: a person's ``closed`` event that the App's ``reopened``
    event followed was held; a person's close that nothing followed yet is the current one.
    Derived from GitHub alone, so a redelivered close counts nothing twice.
    """
    held, pending = 0, False
    for event in timeline:
        kind = event.get("event")
        if kind == "closed":
            pending = not is_bot_account(event.get("actor"), bot_login)
        elif kind == "reopened":
            held += 1 if pending and is_bot_account(event.get("actor"), bot_login) else 0
            pending = False
    return held + (1 if pending else 0)


def gate_comment(
    *,
    mark: str,
    title: str,
    closed_by: str,
    gate: GateResult,
    advice: str,
    held: int,
) -> str:
    """The reopening comment: what is missing, the command for each, and how often it held."""
    times = "once" if held <= 1 else f"{held} times"
    return "\n".join([
        mark,
        f"### Reopened: {title}",
        "",
        f"{mention(closed_by)} closed this issue, but it is not ready to close. Missing:",
        "",
        gate.markdown(),
        "",
        advice,
        "",
        f"_Closed {times} before it was ready; each time the bot reopened it and updated this "
        "comment._",
    ])


def _coordinates(event: Event) -> tuple[str, str]:
    repository = event.data["repository"]
    return repository["owner"]["login"], repository["name"]


@router.register("issues", action="closed")
async def on_closed(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    issue = event.data["issue"]
    sender = event.data.get("sender") or {}
    if is_bot_account(sender, ctx.bot_login) or issue.get("pull_request"):
        return
    owner, repo = _coordinates(event)
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
    loaded = await get_item(gh, owner, repo, number, config=config)
    if loaded is None or loaded.item is None:
        return  # a hardening label without the template is not an item (CONTRACT §3)
    if loaded.issue.get("state") != "closed":
        return  # reopened since: nothing to hold (or this close was already handled)
    facts = await item_facts(gh, ctx, owner, repo, loaded, config)
    thresholds = config.thresholds
    gate = closure_gate(
        facts,
        scorecard_threshold=thresholds.scorecard,
        rubric_threshold=thresholds.rubric,
        adoption_threshold=thresholds.adoption,
    )
    if gate.passed:
        return
    ctx.log.info("closure gate held #%s: %d missing", number, len(gate.missing))
    await _reopen(
        gh, ctx, owner, repo, loaded.issue, gate,
        mark=ITEM_GATE_MARKER,
        title="this hardening item cannot close yet",
        advice=ITEM_ADVICE,
        closed_by=closed_by,
    )


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
    loaded = await list_items(gh, owner, repo, config, incident=number)
    # The incident gate reads only the items' own fields, so no pull request is fetched here.
    # An item whose template was deleted (only the bot's marker is left) has nothing filled in.
    facts: Sequence[ItemFacts] = [
        ItemFacts(number=i.number, item=i.item or HardeningItem(),
                  title=str(i.issue.get("title") or ""))
        for i in loaded
    ]
    gate = incident_close_gate(facts)
    if gate.passed:
        return
    ctx.log.info("incident close gate held #%s: %d missing", number, len(gate.missing))
    await _reopen(
        gh, ctx, owner, repo, current, gate,
        mark=INCIDENT_GATE_MARKER,
        title="this incident cannot close yet",
        advice=INCIDENT_ADVICE,
        closed_by=closed_by,
    )


async def _reopen(
    gh: GitHubAPI,
    ctx: Context,
    owner: str,
    repo: str,
    issue: dict[str, Any],
    gate: GateResult,
    *,
    mark: str,
    title: str,
    advice: str,
    closed_by: str,
) -> None:
    number = int(issue["number"])
    timeline = [
        event
        async for event in gh.getiter(
            "/repos/{owner}/{repo}/issues/{number}/timeline{?per_page}",
            {"owner": owner, "repo": repo, "number": number, "per_page": 100},
        )
    ]
    held = max(1, count_held(timeline, ctx.bot_login))
    body = gate_comment(
        mark=mark, title=title, closed_by=closed_by, gate=gate, advice=advice, held=held
    )
    # Comment first, then reopen: if the reopen fails, the retried delivery still finds the
    # issue closed and finishes the job; the comment it writes again is the same.
    await upsert_comment(gh, owner, repo, number, mark, body, bot_login=ctx.bot_login)
    await update_issue(gh, issue, state="open", state_reason="reopened")


async def resolve_gate_comment(
    gh: GitHubAPI, ctx: Context, owner: str, repo: str, number: int, outcome: str
) -> None:
    """Once the item closes the right way, turn its gate comment (if any) into a resolution,
    so the thread no longer says something is missing. Edited in place; nothing is posted."""
    existing = await find_comment(gh, owner, repo, number, ITEM_GATE_MARKER,
                                  bot_login=ctx.bot_login)
    if existing is None:
        return
    body = "\n".join([
        ITEM_GATE_MARKER,
        f"### Resolved: {outcome}",
        "",
        "The closure gate passes now; the earlier closes were held because it did not.",
    ])
    await upsert_comment(gh, owner, repo, number, ITEM_GATE_MARKER, body, bot_login=ctx.bot_login)
