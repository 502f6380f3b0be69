"""The loop over time on GitHub: the ledger's own deliveries, residual risk registration,
``/harden risk resolve`` on incidents, break-glass overrides on pull requests, recurrences
and the incident's sprint summary (docs/ledger.md).

From docs/hardening-loop.md: "Residual risk register format", "Reliability debt ledger", "14-day hardening sprint
template" ("Day 12–14: publish summary + residual risk owners"), "Control rollout sequencing"
and the anti-pattern "Recovery declared 'done' with no hardening backlog".

- A comment holding a ``### Residual Risk`` block, on an incident or a hardening item, by someone
  with write access or a lead, is registered (the ledger delivery numbers it and answers); one
  missing its trigger or target date is refused here, naming the fields.
- ``/harden risk resolve N`` on an incident (on items the command handler takes it) closes RN.
- ``/harden override REASON [for Nh]`` on a pull request, by a lead, passes its
  ``hardening/controls`` for the current head commit only.
- A new item whose failure class was verified earlier for another incident is a recurrence.
- The incident's sprint summary is written once it is due and kept current after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot import ledger
from bot.checks import find_runs
from bot.context import Context
from bot.facts import item_facts
from bot.item_issues import get_issue, github_time, list_items, load
from bot.permissions import PermissionLookupError, is_lead, leads_of, lookup_caller
from bot.records import trust_of
from bot.scope import Scope
from bot.writes import add_labels, ensure_label, label_names, upsert_comment
from rules import markers
from rules.authorization import authorize, is_bot_account, role_rank
from rules.check_output import CONTROLS_CHECK
from rules.commands import Command, CommandError, parse_commands, usage_for
from rules.config import Config
from rules.incident import is_incident
from rules.ledger import LABEL as LEDGER_LABEL
from rules.ledger_facts import override_fact, recurrence_fact, resolve_fact, risk_fact
from rules.model import HardeningItem, ItemFacts
from rules.override import grant
from rules.recurrence import (
    RECURRENCE_LABEL,
    Recurrence,
    by_incident,
    components_of,
    earlier_item_comment,
    find_recurrences,
    later_item_comment,
)
from rules.replies import (
    Outcome,
    could_not_check,
    head_moved,
    refused,
    render_reply,
    reply_marker,
)
from rules.risk import has_risk_block, parse_risk_block
from rules.scores import evaluate
from rules.summary import SUMMARY_MARKER, render_summary, summary_due

router = Router()


@router.register(ledger.EVENT)
async def on_ledger_update(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """The ledger's own delivery: apply its facts and bring the ledger issue up to date."""
    scope = Scope.of_payload(gh, ctx, event.data)
    owner, repo = scope.owner, scope.repo
    facts = [f for f in event.data.get("facts") or () if isinstance(f, dict)]
    rows = [
        f["row"] for f in facts if f.get("kind") == "org-row" and isinstance(f.get("row"), dict)
    ]
    if rows:
        wrote = await ledger.update_org_ledger(Scope(gh, ctx, owner, ledger.ORG_REPO), rows)
        ctx.log.info("organisation ledger of %s: %s", owner, "written" if wrote else "current")
        facts = [f for f in facts if f.get("kind") != "org-row"]
        if not facts:
            return
    wrote = await ledger.update_ledger(scope, facts)
    ctx.log.info("hardening ledger of %s/%s: %s", owner, repo, "written" if wrote else "current")


@router.register(ledger.SUMMARY_EVENT)
async def on_summary_due(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """Sprint day 14 came: the incident's summary, whether or not its items are settled."""
    scope = Scope.of_payload(gh, ctx, event.data)
    incident = event.data.get("incident")
    if not isinstance(incident, int) or isinstance(incident, bool):
        return
    config = (await scope.config()).config
    wrote = await refresh_summary(scope, incident, config)
    ctx.log.info("sprint summary of #%s: %s", incident, "written" if wrote else "current")


@router.register("issues", action="edited")
@router.register("issues", action="closed")
@router.register("issues", action="deleted")
async def on_ledger_touched(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """A person edited or closed the ledger: the next update overwrites it (and reopens it)."""
    issue = event.data.get("issue") or {}
    if LEDGER_LABEL.lower() not in {n.lower() for n in label_names(issue)}:
        return
    if is_bot_account(event.data.get("sender"), ctx.bot_login):
        return
    scope = Scope.of_payload(gh, ctx, event.data)
    before = ((event.data.get("changes") or {}).get("body") or {}).get("from")
    ledger.request_update(
        scope,
        {"kind": "restore", "body": before} if isinstance(before, str) else None,
    )


# --- comments: residual risk, risk resolve on incidents, overrides on pull requests ---------


@router.register("issue_comment", action="created")
async def on_comment(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    data = event.data
    comment, issue = data["comment"], data["issue"]
    if is_bot_account(data.get("sender"), ctx.bot_login) or is_bot_account(
        comment.get("user"), ctx.bot_login
    ):
        return
    scope = Scope.of_payload(gh, ctx, data)
    owner, repo = scope.owner, scope.repo
    body = str(comment.get("body") or "")
    if issue.get("pull_request"):
        overrides = [c for c in parse_commands(body) if c.name == "override"]
        if overrides:
            await _override(scope, issue, comment, overrides[0])
        return
    config = (await scope.config()).config
    labels = {name.lower() for name in label_names(issue)}
    incident = is_incident(label_names(issue), config)
    if not incident and config.labels.hardening.lower() not in labels:
        return
    answers: list[tuple[Command | CommandError, Outcome]] = []
    if incident:
        # On items the command handler runs every /harden command, `risk` included.
        for command in parse_commands(body):
            if command.name == "risk":
                answers.append((command, await _resolve(scope, issue, comment, command)))
    if has_risk_block(body):
        outcome = await _register(scope, issue, comment, config, incident)
        if outcome is not None:
            answers.append((CommandError(0, "### Residual Risk", None, "", ""), outcome))
            if outcome.ok is False:
                await ledger.react(scope, int(comment["id"]), "-1")
    for command, outcome in answers:
        if isinstance(command, Command):
            await ledger.react(scope, int(comment["id"]), "+1" if outcome.ok else "-1")
    refusals = [(c, o) for c, o in answers if not o.ok or o.reply]
    if refusals:
        reply = render_reply(str(comment["user"]["login"]), refusals)
        if reply is not None:
            await upsert_comment(
                gh,
                owner,
                repo,
                int(issue["number"]),
                reply_marker(int(comment["id"])),
                reply,
                bot_login=ctx.bot_login,
            )


async def _may(scope: Scope, config: Config, actor: str, command: str) -> Outcome | None:
    """None when ``actor`` may run ``command`` (write access or a lead), else the refusal."""
    gh, ctx = scope.gh, scope.ctx
    try:
        caller = await lookup_caller(scope, actor, (), need_role=True, need_lead=False)
        lead = False
        if role_rank(caller.role) < 3 or command in ("override",):
            lead = await is_lead(gh, actor, leads_of(config))
    except PermissionLookupError as exc:
        ctx.log.warning("%s by %s not run: %s", command, actor, exc)
        return could_not_check(exc.reason)
    decision = authorize(
        command,
        actor=actor,
        role=caller.role,
        is_lead=lead,
        item=HardeningItem(),
        actor_is_bot=False,
    )
    return None if decision.allowed else refused(decision.reason, usage_for(command))


async def _register(
    scope: Scope,
    issue: dict[str, Any],
    comment: dict[str, Any],
    config: Config,
    incident: bool,
) -> Outcome | None:
    ctx = scope.ctx
    actor = str(comment["user"]["login"])
    today = ctx.now().date()
    block = parse_risk_block(str(comment.get("body") or ""), author=actor, today=today)
    if block is None:
        return None
    denied = await _may(scope, config, actor, "risk")
    if denied is not None:
        text = (denied.reply or "").split("\n\nUsage:")[0]
        return Outcome(False, text.replace("`/harden risk`", "registering a residual risk"))
    if block.risk is None:
        return Outcome(False, "Not registered: " + block.refusal() + ".")
    number = int(issue["number"])
    of_incident = number if incident else await item_incident(issue, config, ctx)
    ledger.request_update(
        scope,
        risk_fact(
            block.risk,
            source=number,
            incident=of_incident,
            by=actor,
            on=today,
            comment=int(comment["id"]),
        ),
    )
    return Outcome(True)


async def item_incident(issue: dict[str, Any], config: Config, ctx: Context) -> int | None:
    """The incident a hardening item belongs to, from its body."""
    loaded = await load(issue, config, trust=trust_of(ctx))
    return loaded.incident if loaded is not None else None


async def _resolve(
    scope: Scope,
    issue: dict[str, Any],
    comment: dict[str, Any],
    command: Command | CommandError,
) -> Outcome:
    if isinstance(command, CommandError):
        return refused(command.reason, command.usage)
    config = (await scope.config()).config
    actor = str(comment["user"]["login"])
    denied = await _may(scope, config, actor, "risk")
    if denied is not None:
        return denied
    return await resolve_risk(scope, int(issue["number"]), comment, command)


async def resolve_risk(
    scope: Scope,
    number: int,
    comment: dict[str, Any],
    command: Command,
) -> Outcome:
    """``/harden risk resolve N``, authorized: refused unless RN is open in the register."""
    ctx = scope.ctx
    assert command.risk_number is not None
    facts = await ledger.read_facts(scope)
    entry = next((r for r in facts.risks if r.number == command.risk_number), None)
    if entry is None or not entry.open:
        known = ", ".join(f"R{r.number}" for r in facts.risks if r.open) or "none"
        state = "is already resolved" if entry is not None else "is not in the register"
        return refused(f"R{command.risk_number} {state} (open entries: {known})", usage_for("risk"))
    ledger.request_update(
        scope,
        resolve_fact(
            command.risk_number,
            source=number,
            by=str(comment["user"]["login"]),
            on=ctx.now().date(),
            comment=int(comment["id"]),
        ),
    )
    return Outcome(True, f"Residual risk R{command.risk_number} is resolved; the ledger shows it.")


async def _override(
    scope: Scope,
    issue: dict[str, Any],
    comment: dict[str, Any],
    command: Command | CommandError,
) -> None:
    gh, ctx, owner, repo = scope.gh, scope.ctx, scope.owner, scope.repo
    from bot.handlers.pulls import evaluate

    actor = str(comment["user"]["login"])
    number = int(issue["number"])
    outcome: Outcome
    if isinstance(command, CommandError):
        outcome = refused(command.reason, command.usage)
    else:
        config = (await scope.config()).config
        denied = await _may(scope, config, actor, "override")
        if denied is not None:
            outcome = denied
        else:
            pull = dict(
                await gh.getitem(
                    "/repos/{owner}/{repo}/pulls/{number}",
                    {"owner": owner, "repo": repo, "number": number},
                )
            )
            assert command.rationale is not None and command.hours is not None
            sha = str(pull["head"]["sha"])
            if not await _judged_before(scope, pull, comment):
                outcome = refused(head_moved(sha), usage_for("override"))
            else:
                granted = grant(
                    number,
                    sha,
                    by=actor,
                    reason=command.rationale,
                    hours=command.hours,
                    now=ctx.now(),
                )
                await evaluate(scope, pull, override=granted)
                ledger.request_update(scope, override_fact(granted))
                outcome = Outcome(
                    True,
                    f"Break-glass override: `hardening/controls` passes for commit "
                    f"`{granted.head_sha[:12]}` only, until "
                    f"{granted.until.strftime('%Y-%m-%d %H:%M UTC')}. A new push ends it. It is "
                    "listed in the Hardening ledger.",
                )
    reply = render_reply(actor, [(command, outcome)])
    if reply is not None:
        await upsert_comment(
            gh,
            owner,
            repo,
            number,
            reply_marker(int(comment["id"])),
            reply,
            bot_login=ctx.bot_login,
        )


async def _judged_before(scope: Scope, pull: dict[str, Any], comment: dict[str, Any]) -> bool:
    """Whether the pull request's current head is the one the override's author could see:
    the App's ``hardening/controls`` run on it started no later than the comment was written.
    Both times are GitHub's; a push after the comment has no run that old, so the override
    cannot pass a commit its author never saw (docs/commands.md, break-glass)."""
    written = github_time(comment.get("created_at"))
    if written is None:
        return False
    sha = str(pull["head"]["sha"])
    runs = await find_runs(scope, sha, CONTROLS_CHECK)  # GitHub's list: it has their times
    started = [github_time(run.get("started_at")) for run in runs]
    return any(at is not None and at <= written for at in started)


# --- recurrence ----------------------------------------------------------------------------------


async def mark_recurrences(
    scope: Scope, config: Config, created: Sequence[int]
) -> list[Recurrence]:
    """After new items were created: link each to the verified item it repeats, if any."""
    gh, ctx, owner, repo = scope.gh, scope.ctx, scope.owner, scope.repo
    if not created:
        return []
    loaded = await list_items(scope, config)
    known = [(one.number, one.item) for one in loaded if one.item is not None]
    new = [(n, item) for n, item in known if n in set(created)]
    components: dict[int, frozenset[str]] = {}
    if config.components:
        # Only the incidents of candidates are read: same failure class, verified earlier.
        classes = {item.failure_class for _, item in new}
        incidents = {item.incident for _, item in new} | {
            item.incident
            for _, item in known
            if item.status == "verified" and item.failure_class in classes
        }
        for number in sorted(n for n in incidents if n):
            issue = await get_issue(scope, number)
            if issue is not None:
                components[number] = components_of(label_names(issue), config.components)
    touched = {(r.earlier, r.incident) for r in find_recurrences(new, known, components)}
    # One incident is one recurrence of an earlier item, however many of its findings repeat
    # it: one comment on the earlier item, listing every item of the incident that does.
    incidents = {incident for _, incident in touched}
    ours = [(n, item) for n, item in known if item.incident in incidents]
    found = [
        r
        for r in by_incident(find_recurrences(ours, known, components))
        if (r.earlier, r.incident) in touched
    ]
    recorded = (await ledger.read_facts(scope)).recurrences if found else ()
    for recurrence in found:
        times = 1 + sum(
            1
            for r in recorded
            if r.earlier == recurrence.earlier and r.incident != recurrence.incident
        )
        earlier = next(one for one in loaded if one.number == recurrence.earlier)
        await ensure_label(
            gh, owner, repo, RECURRENCE_LABEL, "b60205", "A verified control did not hold"
        )
        await add_labels(gh, earlier.issue, [RECURRENCE_LABEL])
        await upsert_comment(
            gh,
            owner,
            repo,
            recurrence.earlier,
            markers.recurrence(recurrence.incident),
            earlier_item_comment(recurrence, times),
            bot_login=ctx.bot_login,
        )
        for later in recurrence.laters:
            if later not in created:
                continue  # linked when it was created
            await upsert_comment(
                gh,
                owner,
                repo,
                later,
                markers.recurrence_of(recurrence.earlier),
                later_item_comment(replace(recurrence, later=later)),
                bot_login=ctx.bot_login,
            )
        ledger.request_update(scope, recurrence_fact(recurrence))
        ctx.log.info(
            "incident #%s (items %s) recurs #%s: the control did not hold",
            recurrence.incident,
            list(recurrence.laters),
            recurrence.earlier,
        )
    return found


# --- the sprint summary --------------------------------------------------------------------------


async def refresh_summary(scope: Scope, incident: int, config: Config) -> bool:
    """Write or edit the incident's sprint summary when it is due. Returns whether it wrote."""
    gh, ctx, owner, repo = scope.gh, scope.ctx, scope.owner, scope.repo
    issue = await get_issue(scope, incident)
    if issue is None or not is_incident(label_names(issue), config):
        return False
    loaded = [one for one in await list_items(scope, config, incident=incident) if one.item]
    opened = _day(issue.get("created_at")) or ctx.now().date()
    today = ctx.now().date()
    bare = [ItemFacts(number=one.number, item=one.item or HardeningItem()) for one in loaded]
    if not summary_due(bare, opened, today):
        return False
    thresholds = config.thresholds.keywords()
    facts = [await item_facts(scope, one, config) for one in loaded]
    scores = {f.number: evaluate(f, **thresholds).label for f in facts}
    risks = (await ledger.read_facts(scope)).risks_of(incident)
    body = render_summary(
        incident, str(issue.get("title") or ""), facts, scores, risks, opened, today
    )
    write = await upsert_comment(
        gh, owner, repo, incident, SUMMARY_MARKER, body, bot_login=ctx.bot_login
    )
    return write.wrote


def _day(value: Any) -> date | None:
    at = github_time(value)
    return None if at is None else at.date()
