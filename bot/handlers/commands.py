"""``/harden`` slash commands on hardening issues (docs/commands.md), with real authorization.

From docs/hardening-loop.md: the "Hardening QA gate" (``/harden verify``), the "Completion evidence bundle" posted when
an item is verified and on the incident once every item is done, the "Control sunset protocol"
(``/harden retire``), and "ownership confirmations recorded" (``/harden ack``).

Only a newly created comment runs commands; editing a comment never re-runs one. Comments by
this App or any other bot are ignored. On an issue that is not a hardening item only
``/harden help`` is answered; everything else there is ignored silently, because ``/harden``
may mean something to another tool on an ordinary issue.

Every command comment gets reactions: ``eyes`` on receipt, then ``+1`` when every command in it
succeeded, or ``-1`` when one was refused, malformed, failed its gate or could not be checked.
Refusals and answers go into one reply per command comment, found again by a marker holding the
comment id, so a redelivered comment edits its reply instead of posting a second one. Each
command *sets* state (an owner, a date, an evidence URL already present is not added twice, a
verified item stays verified), so running a comment twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot import ledger
from bot.context import Context
from bot.facts import item_facts, refresh_after_change
from bot.handlers.closing import resolve_gate_comment
from bot.item_issues import (
    LoadedItem,
    adopt,
    get_issue,
    get_item,
    list_items,
    load,
    save_item,
)
from bot.permissions import PermissionLookupError, is_lead, leads_of, lookup_caller
from bot.records import Trust
from bot.scope import Scope
from bot.writes import find_comment, label_names, update_issue, upsert_comment
from rules import markers
from rules.authorization import authorize, is_bot_account, needs_lead, needs_role
from rules.bundle import INCIDENT_MARKER, ITEM_MARKER, incident_bundle, item_bundle
from rules.commands import Command, CommandError, help_text, parse_commands, usage_for
from rules.config import Config
from rules.debt import deferral_refusal, deferred
from rules.edits import (
    acknowledged,
    in_progress,
    owner_conflict,
    retired,
    verified,
    verifier_conflict,
    with_evidence,
)
from rules.gates import DONE, closure_gate, qa_gate
from rules.horizon import beyond_horizon
from rules.incident import incident_summary
from rules.item_template import parse_item
from rules.logins import mention
from rules.model import HardeningItem, ItemFacts
from rules.planning import reschedule
from rules.replies import (
    CONFIG_ERROR_MARKER,
    RETIREMENT_MARKER,
    Outcome,
    adopted_note,
    adoption_moved,
    config_errors_comment,
    could_not_check,
    no_template,
    not_adopted,
    qa_gate_failed,
    refused,
    render_reply,
    reply_marker,
    retired_not_verified,
    retirement_note,
    status_text,
)
from rules.scores import Scores, evaluate

router = Router()

EYES, PLUS_ONE, MINUS_ONE = "eyes", "+1", "-1"


@dataclass
class Run:
    """One command comment being processed, and what its commands share."""

    scope: Scope
    number: int
    comment: dict[str, Any]
    actor: str
    config: Config
    changed: bool = False  # a field changed: the tracking comment and scorecards need a refresh
    _role: tuple[str | None] | None = None
    _lead: bool | None = None

    @property
    def trust(self) -> Trust:
        return self.scope.trust

    @property
    def gh(self) -> GitHubAPI:
        return self.scope.gh

    @property
    def ctx(self) -> Context:
        return self.scope.ctx

    @property
    def link(self) -> str:
        """The command comment's URL, recorded as where a verification or retirement happened."""
        return str(self.comment.get("html_url") or "")

    async def load(self) -> LoadedItem | None:
        loaded = await get_item(self.scope, self.number, config=self.config)
        if loaded is None or loaded.item is None:
            return None
        return loaded

    async def has_template(self) -> bool:
        """Whether the issue holds a template (then it is a person's issue not adopted yet)."""
        issue = await get_issue(self.scope, self.number)
        return issue is not None and parse_item(issue.get("body") or "").item is not None

    async def save(self, loaded: LoadedItem, item: HardeningItem) -> bool:
        wrote = await save_item(self.scope, loaded, item, config=self.config)
        self.changed = self.changed or wrote
        return wrote

    async def caller_role(self) -> str | None:
        if self._role is None:
            caller = await lookup_caller(
                self.scope, self.actor, (), need_role=True, need_lead=False
            )
            self._role = (caller.role,)
        return self._role[0]

    async def caller_is_lead(self) -> bool:
        if self._lead is None:
            self._lead = await is_lead(self.gh, self.actor, leads_of(self.config))
        return self._lead

    async def facts(self, loaded: LoadedItem) -> ItemFacts:
        return await item_facts(self.scope, loaded, self.config)

    def scores(self, facts: ItemFacts) -> Scores:
        return evaluate(facts, **self.config.thresholds.keywords())

    async def comment_once(self, number: int, mark: str, body: str) -> None:
        """Write the bot's comment ``mark`` on issue ``number``, edited in place."""
        await upsert_comment(
            self.gh,
            self.scope.owner,
            self.scope.repo,
            number,
            mark,
            body,
            bot_login=self.ctx.bot_login,
        )


# --- the webhook ------------------------------------------------------------------------------


@router.register("issue_comment", action="created")
async def on_comment_created(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    data = event.data
    comment, issue = data["comment"], data["issue"]
    if is_bot_account(data.get("sender"), ctx.bot_login):
        return
    if is_bot_account(comment.get("user"), ctx.bot_login) or issue.get("pull_request"):
        return
    commands = parse_commands(comment.get("body") or "")
    if not commands:
        return
    scope = Scope.of_payload(gh, ctx, data)
    result = await scope.config()
    run = Run(
        scope=scope,
        number=int(issue["number"]),
        comment=comment,
        actor=str(comment["user"]["login"]),
        config=result.config,
    )
    hardening = result.config.labels.hardening.lower()
    if hardening not in {name.lower() for name in label_names(issue)}:
        if all(isinstance(c, Command) and c.name == "help" for c in commands):
            await react(run, EYES)
            await answer(run, [(commands[0], Outcome(True, help_text()))])
        return
    await react(run, EYES)
    if result.errors:
        await run.comment_once(
            run.number, CONFIG_ERROR_MARKER, config_errors_comment(result.error_report())
        )
    answered: list[tuple[Command | CommandError, Outcome]] = []
    for command in commands:
        outcome = await run_one(run, command)
        ctx.log.info(
            "command %r by %s on #%s: %s",
            command.text,
            run.actor,
            run.number,
            "ok" if outcome.ok else "refused",
            extra={"command": command.name, "ok": outcome.ok},
        )
        answered.append((command, outcome))
    if run.changed:
        await refresh_around(run)
    await answer(run, answered)


async def answer(run: Run, answered: list[tuple[Command | CommandError, Outcome]]) -> None:
    """The one reply (edited in place on a redelivery), then the reaction that sums it up."""
    body = render_reply(run.actor, answered)
    if body is not None:
        await run.comment_once(run.number, reply_marker(int(run.comment["id"])), body)
    ok = all(outcome.ok for _, outcome in answered)
    await react(run, PLUS_ONE if ok else MINUS_ONE)


async def react(run: Run, content: str) -> None:
    """React to the command comment (bot.ledger.react)."""
    await ledger.react(run.scope, int(run.comment["id"]), content)


async def refresh_around(run: Run) -> None:
    """After a field changed, every view that shows the item: the incident's tracking comment,
    both check runs of its open linked pull requests (``hardening/controls`` names the owner),
    and the Hardening ledger."""
    from bot.handlers.pulls import refresh_controls

    loaded = await run.load()
    incident = (loaded.incident or None) if loaded is not None else None
    await refresh_after_change(run.scope, run.number, incident)
    await refresh_controls(run.scope, run.number)
    ledger.request_update(run.scope)


# --- one command ------------------------------------------------------------------------------

Handler = Callable[[Run, Command, LoadedItem], Awaitable[Outcome]]
Conflict = Callable[[HardeningItem, str], str | None]


async def run_one(run: Run, command: Command | CommandError) -> Outcome:
    if isinstance(command, CommandError):
        return refused(command.reason, command.usage)
    if command.name == "help":
        return Outcome(True, help_text())
    if command.name == "adopt":
        return await _adopt(run, command)
    loaded = await run.load()
    if loaded is None:
        if await run.has_template():
            return refused(not_adopted(run.number), usage_for(command.name))
        return refused(no_template(run.number), usage_for(command.name))
    item = loaded.item
    assert item is not None
    try:
        role = (
            await run.caller_role()
            if needs_role(command.name, actor=run.actor, item=item)
            else None
        )
        lead = (
            await run.caller_is_lead()
            if needs_lead(command.name, actor=run.actor, item=item, role=role)
            else False
        )
    except PermissionLookupError as exc:
        # bot.permissions already logged the failure at error level (and so to Sentry).
        run.ctx.log.warning("command %r not run: %s", command.text, exc)
        return could_not_check(exc.reason)
    decision = authorize(
        command.name, actor=run.actor, role=role, is_lead=lead, item=item, actor_is_bot=False
    )
    if not decision.allowed:
        return refused(decision.reason, usage_for(command.name))
    return await HANDLERS[command.name](run, command, loaded)


def _assign(role: Literal["owner", "verifier"], conflict: Conflict) -> Handler:
    """``/harden owner`` and ``/harden verifier``: set the login unless it conflicts."""

    async def assign(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
        assert loaded.item is not None and command.login
        reason = conflict(loaded.item, command.login)
        if reason:
            return refused(reason, usage_for(role))
        if role == "owner":
            await run.save(loaded, replace(loaded.item, owner=command.login))
        else:
            await run.save(loaded, replace(loaded.item, verifier=command.login))
        return Outcome(True)

    return assign


async def _due(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    item = loaded.item
    assert item is not None and command.due is not None
    too_far = beyond_horizon(command.due, run.ctx.now().date(), "due date")
    if too_far:
        return refused(too_far, usage_for("due"))
    moved = reschedule(item, command.due, run.config)
    await run.save(loaded, moved)
    before, after = item.adoption_check, moved.adoption_check
    if before is None or after is None or before == after:
        return Outcome(True)
    return Outcome(
        True, adoption_moved(before, after, run.config.deadlines.adoption_after_due_days)
    )


async def _evidence(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    assert loaded.item is not None and command.evidence is not None
    await run.save(loaded, with_evidence(loaded.item, command.evidence))
    return Outcome(True)


async def _ack(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    assert loaded.item is not None
    await run.save(loaded, acknowledged(loaded.item, run.actor))
    return Outcome(True)


async def _verify(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    item = loaded.item
    assert item is not None
    if item.status == "retired":
        return refused(
            retired_not_verified(run.number, item.retired_rationale), usage_for("verify")
        )
    facts = await run.facts(loaded)
    if item.status != "verified":
        gate = qa_gate(facts, **run.config.thresholds.keywords())
        if not gate.passed:
            await run.save(loaded, in_progress(item))
            return Outcome(False, qa_gate_failed(run.number, run.scores(facts), gate))
        item = verified(item, by=run.actor, at=run.ctx.now(), link=run.link)
        await run.save(loaded, item)
    # From here on it also finishes an item already verified (a redelivered comment, or a crash
    # after saving): close it and post the bundle, both skipped when already done.
    await update_issue(run.gh, loaded.issue, state="closed", state_reason="completed")
    facts = replace(facts, item=item, state="closed")
    body = item_bundle(
        facts,
        incident_title=await _incident_title(run, loaded.incident),
        verified_by=item.verified_by or run.actor,
        verified_at=item.verified_at or run.ctx.now(),
        link=item.verified_link or run.link,
        scores=run.scores(facts),
    )
    await _finish(run, loaded, facts, ITEM_MARKER, body, f"verified by {mention(item.verified_by)}")
    return Outcome(True)


async def _retire(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    assert loaded.item is not None and command.rationale
    item = retired(loaded.item, command.rationale)
    await run.save(loaded, item)
    await update_issue(run.gh, loaded.issue, state="closed", state_reason="not_planned")
    facts = replace(await run.facts(loaded), item=item, state="closed")
    body = retirement_note(facts, retired_by=run.actor, link=run.link, scores=run.scores(facts))
    await _finish(
        run,
        loaded,
        facts,
        RETIREMENT_MARKER,
        body,
        f"retired by {mention(run.actor)} (sunset protocol)",
    )
    return Outcome(True)


async def _finish(
    run: Run, loaded: LoadedItem, facts: ItemFacts, mark: str, body: str, outcome: str
) -> None:
    """A closed item's note, its resolved gate comment, and its incident's bundle if it was the
    last open one."""
    await run.comment_once(run.number, mark, body)
    await resolve_gate_comment(run.scope, run.number, outcome)
    await post_incident_bundle(run, loaded.incident, facts)


async def _adopt(run: Run, command: Command) -> Outcome:
    """``/harden adopt``: a maintainer makes a person-opened issue with the template an item.

    The template's plain fields are taken; its gate facts (status, verification, evidence,
    acknowledgements, retirement) are not: the author may be anyone, so only commands record
    them from here on.
    """
    issue = await get_issue(run.scope, run.number)
    if issue is None:
        return refused(f"#{run.number} is gone", usage_for("adopt"))
    if await load(issue, run.config, trust=run.trust) is not None:
        return Outcome(True, f"#{run.number} is a hardening item already.")
    typed = parse_item(issue.get("body") or "").item
    if typed is None:
        return refused(no_template(run.number), usage_for("adopt"))
    try:
        role = await run.caller_role()
        lead = (
            await run.caller_is_lead() if needs_lead("adopt", actor=run.actor, role=role) else False
        )
    except PermissionLookupError as exc:
        run.ctx.log.warning("command %r not run: %s", command.text, exc)
        return could_not_check(exc.reason)
    decision = authorize(
        "adopt", actor=run.actor, role=role, is_lead=lead, item=typed, actor_is_bot=False
    )
    if not decision.allowed:
        return refused(decision.reason, usage_for("adopt"))
    if run.trust.key is None:
        return Outcome(False, "The App has no record key (its webhook secret is not set).")
    loaded = await adopt(run.scope, issue, config=run.config, keep_evidence=False)
    run.changed = True
    if await find_comment(
        run.gh,
        run.scope.owner,
        run.scope.repo,
        run.number,
        markers.ADOPTION,
        bot_login=run.ctx.bot_login,
    ):
        await run.comment_once(run.number, markers.ADOPTION, adopted_note(run.actor, run.link))
    dropped = loaded is not None and loaded.item is not None and typed != loaded.item
    note = (
        " Status, verification, evidence and acknowledgements typed into the template were not "
        "taken: record them with `/harden` commands (`/harden status` shows what is missing)."
        if dropped
        else ""
    )
    return Outcome(True, f"#{run.number} is a hardening item now.{note}")


async def _defer(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    """The hardening loop's reliability debt ledger: deferred with why, the risk if delayed and a date."""
    item = loaded.item
    assert item is not None and command.defer is not None
    reason = deferral_refusal(command.defer, item, run.ctx.now().date())
    if reason:
        return refused(reason, usage_for("defer"))
    await run.save(loaded, deferred(item, command.defer, run.actor))
    revisit = command.defer.revisit.isoformat() if command.defer.revisit else "?"
    return Outcome(
        True,
        f"Deferred until {revisit}: it is listed in the Hardening ledger's reliability debt "
        "ledger and is not overdue before then; the weekly review flags it once the revisit "
        "date has passed.",
    )


async def _risk(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    from bot.handlers.loop import resolve_risk

    return await resolve_risk(run.scope, run.number, run.comment, command)


async def _status(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    facts = await run.facts(loaded)
    gate = closure_gate(facts, **run.config.thresholds.keywords())
    return Outcome(True, status_text(facts, run.scores(facts), gate))


HANDLERS: dict[str, Handler] = {
    "owner": _assign("owner", owner_conflict),
    "verifier": _assign("verifier", verifier_conflict),
    "due": _due,
    "evidence": _evidence,
    "ack": _ack,
    "verify": _verify,
    "retire": _retire,
    "defer": _defer,
    "risk": _risk,
    "status": _status,
}


# --- the incident's bundle --------------------------------------------------------------------


async def _incident_title(run: Run, incident: int | None) -> str:
    if not incident:
        return ""
    issue = await get_issue(run.scope, incident)
    return str(issue.get("title") or "") if issue else ""


async def post_incident_bundle(run: Run, incident: int | None, done: ItemFacts) -> None:
    """Once every item of the incident is verified or retired, its bundle, edited in place.

    ``done`` is the item just verified or retired: its saved state wins over a listing that may
    lag behind the write.
    """
    if not incident:
        return
    listed = await list_items(run.scope, run.config, incident=incident)
    others = [i for i in listed if i.item is not None and i.number != done.number]
    if any(i.item is None or i.item.status not in DONE for i in others):
        return
    issue = await get_issue(run.scope, incident)
    if issue is None:
        return
    facts = [done, *[await run.facts(i) for i in others]]
    body = incident_bundle(
        incident,
        str(issue.get("title") or ""),
        incident_summary(str(issue.get("body") or "")),
        facts,
        **run.config.thresholds.keywords(),
        risks=(await ledger.read_facts(run.scope)).risks_of(incident),
    )
    await run.comment_once(incident, INCIDENT_MARKER, body)
