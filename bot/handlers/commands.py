"""``/harden`` slash commands on hardening issues (CONTRACT §4), with real authorization.

Seed: the "Hardening QA gate" (``/harden verify``), the "Completion evidence bundle" posted when
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

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

import gidgethub
from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.context import Context
from bot.facts import item_facts, refresh_scorecards
from bot.handlers.closing import resolve_gate_comment
from bot.items import LoadedItem, get_item, list_items, refresh_incident_tracking, save_item
from bot.permissions import PermissionLookupError, is_bot_account, is_lead, lookup_caller
from bot.writes import label_names, marker, update_issue, upsert_comment
from rules.authorization import authorize, needs_lead, needs_role
from rules.bundle import INCIDENT_MARKER, ITEM_MARKER, incident_bundle, item_bundle
from rules.commands import Command, CommandError, help_text, parse_commands, usage_for
from rules.config import Config, ConfigResult
from rules.gates import DONE, closure_gate, qa_gate
from rules.item import visible_lines
from rules.model import Evidence, HardeningItem, ItemFacts
from rules.planning import reschedule
from rules.scores import Score, Scores, evaluate, mention, same_login

router = Router()

RETIREMENT_MARKER = marker("retirement")
CONFIG_ERROR_MARKER = marker("config-errors")

EYES, PLUS_ONE, MINUS_ONE = "eyes", "+1", "-1"

COULD_NOT_CHECK = (
    "Could not check your permission ({why}); nothing was changed. Try again in a minute."
)


def reply_marker(comment_id: int) -> str:
    """The marker of the bot's one reply to the command comment ``comment_id``."""
    return marker(f"reply comment={comment_id}")


@dataclass(frozen=True)
class Outcome:
    """What one command did: ``ok`` decides the reaction; ``reply`` (markdown) goes in the reply."""

    ok: bool
    reply: str | None = None


def refused(reason: str, usage: str) -> Outcome:
    return Outcome(False, f"Refused: {reason}.\n\nUsage: `{usage}`")


@dataclass
class Run:
    """One command comment being processed, and what its commands share."""

    gh: GitHubAPI
    ctx: Context
    owner: str
    repo: str
    number: int
    comment: dict[str, Any]
    actor: str
    config: Config
    changed: bool = False  # a field changed: the tracking comment and scorecards need a refresh
    _role: tuple[str | None] | None = None
    _lead: bool | None = None

    async def load(self) -> LoadedItem | None:
        loaded = await get_item(self.gh, self.owner, self.repo, self.number, config=self.config)
        if loaded is None or loaded.item is None:
            return None
        return loaded

    async def save(self, loaded: LoadedItem, item: HardeningItem) -> bool:
        wrote = await save_item(self.gh, self.owner, self.repo, loaded, item, config=self.config)
        self.changed = self.changed or wrote
        return wrote

    async def caller_role(self) -> str | None:
        if self._role is None:
            caller = await lookup_caller(
                self.gh, self.owner, self.repo, self.actor, (), need_role=True, need_lead=False
            )
            self._role = (caller.role,)
        return self._role[0]

    async def caller_is_lead(self) -> bool:
        if self._lead is None:
            leads = (*self.config.leads.users, *self.config.leads.teams)
            self._lead = await is_lead(self.gh, self.actor, leads)
        return self._lead

    async def facts(self, loaded: LoadedItem) -> ItemFacts:
        return await item_facts(self.gh, self.ctx, self.owner, self.repo, loaded, self.config)

    def scores(self, facts: ItemFacts) -> Scores:
        t = self.config.thresholds
        return evaluate(
            facts,
            scorecard_threshold=t.scorecard,
            rubric_threshold=t.rubric,
            adoption_threshold=t.adoption,
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
    owner, repo = data["repository"]["owner"]["login"], data["repository"]["name"]
    result = await ctx.config(gh, owner, repo)
    hardening = result.config.labels.hardening.lower()
    if hardening not in {name.lower() for name in label_names(issue)}:
        if all(isinstance(c, Command) and c.name == "help" for c in commands):
            await _answer(gh, ctx, owner, repo, issue["number"], comment,
                          [(commands[0], Outcome(True, help_text()))])
        return
    run = Run(
        gh=gh,
        ctx=ctx,
        owner=owner,
        repo=repo,
        number=int(issue["number"]),
        comment=comment,
        actor=str(comment["user"]["login"]),
        config=result.config,
    )
    await react(gh, owner, repo, comment["id"], EYES)
    if result.errors:
        await report_config_errors(run, result)
    answered: list[tuple[Command | CommandError, Outcome]] = []
    for command in commands:
        outcome = await run_one(run, command)
        ctx.log.info(
            "command %r by %s on #%s: %s", command.text, run.actor, run.number,
            "ok" if outcome.ok else "refused",
            extra={"command": command.name, "ok": outcome.ok},
        )
        answered.append((command, outcome))
    if run.changed:
        await refresh_around(run)
    await _answer(gh, ctx, owner, repo, run.number, comment, answered, eyes_sent=True)


async def _answer(
    gh: GitHubAPI,
    ctx: Context,
    owner: str,
    repo: str,
    number: int,
    comment: dict[str, Any],
    answered: list[tuple[Command | CommandError, Outcome]],
    *,
    eyes_sent: bool = False,
) -> None:
    if not eyes_sent:
        await react(gh, owner, repo, comment["id"], EYES)
    body = render_reply(str(comment["user"]["login"]), answered)
    if body is not None:
        mark = reply_marker(int(comment["id"]))
        await upsert_comment(gh, owner, repo, number, mark, body, bot_login=ctx.bot_login)
    ok = all(outcome.ok for _, outcome in answered)
    await react(gh, owner, repo, comment["id"], PLUS_ONE if ok else MINUS_ONE)


async def react(gh: GitHubAPI, owner: str, repo: str, comment_id: int, content: str) -> None:
    """Add a reaction; GitHub answers 200 when the App already reacted so, which is fine."""
    await gh.post(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions",
        {"owner": owner, "repo": repo, "comment_id": comment_id},
        data={"content": content},
    )


async def report_config_errors(run: Run, result: ConfigResult) -> None:
    """Say once, on this issue, that the configuration is broken and which defaults apply."""
    body = "\n".join([
        CONFIG_ERROR_MARKER,
        "### `.github/hardening.yml` has errors",
        "",
        "Commands on this issue use the configuration without the broken file until it is "
        "fixed:",
        "",
        "```",
        result.error_report(),
        "```",
    ])
    await upsert_comment(
        run.gh, run.owner, run.repo, run.number, CONFIG_ERROR_MARKER, body,
        bot_login=run.ctx.bot_login,
    )


async def refresh_around(run: Run) -> None:
    """After a field changed: the incident's tracking comment and linked PRs' scorecards."""
    loaded = await run.load()
    if loaded is not None and loaded.incident:
        await refresh_incident_tracking(run.gh, run.ctx, run.owner, run.repo, loaded.incident)
    await refresh_scorecards(run.gh, run.ctx, run.owner, run.repo, run.number)


# --- one command ------------------------------------------------------------------------------


async def run_one(run: Run, command: Command | CommandError) -> Outcome:
    if isinstance(command, CommandError):
        return refused(command.reason, command.usage)
    if command.name == "help":
        return Outcome(True, help_text())
    loaded = await run.load()
    if loaded is None:
        return refused(
            f"#{run.number} has the hardening label but no `### Hardening Item` block to read; "
            "add the template (see the issue forms in `.github/ISSUE_TEMPLATE`)",
            usage_for(command.name),
        )
    item = loaded.item
    assert item is not None
    try:
        role = await run.caller_role() if needs_role(
            command.name, actor=run.actor, item=item) else None
        lead = False
        # The verifier and the execution owner are decided without a lead lookup, so a failing
        # team lookup never blocks the verifier.
        if needs_lead(command.name) and not (
            command.name == "verify"
            and (same_login(run.actor, item.owner) or same_login(run.actor, item.verifier))
        ):
            lead = await run.caller_is_lead()
    except PermissionLookupError as exc:
        # bot.permissions already logged the failure at error level (and so to Sentry).
        run.ctx.log.warning("command %r not run: %s", command.text, exc)
        return Outcome(False, COULD_NOT_CHECK.format(why=exc.reason))
    decision = authorize(
        command.name, actor=run.actor, role=role, is_lead=lead, item=item, actor_is_bot=False
    )
    if not decision.allowed:
        return refused(decision.reason, usage_for(command.name))
    return await HANDLERS[command.name](run, command, loaded)


async def _owner(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    item = loaded.item
    assert item is not None and command.login
    if same_login(command.login, item.verifier) and not same_login(command.login, item.owner):
        return refused(
            f"{mention(command.login)} is the verifier owner; the execution owner must be "
            "someone else (seed: one execution owner and one verifier owner). Set another "
            "verifier first with `/harden verifier @user`",
            usage_for("owner"),
        )
    await run.save(loaded, replace(item, owner=command.login))
    return Outcome(True)


async def _verifier(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    item = loaded.item
    assert item is not None and command.login
    if same_login(command.login, item.owner):
        return refused(
            f"{mention(command.login)} is the execution owner, and nobody verifies their own "
            "work: name a different verifier owner",
            usage_for("verifier"),
        )
    await run.save(loaded, replace(item, verifier=command.login))
    return Outcome(True)


async def _due(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    item = loaded.item
    assert item is not None and command.due is not None
    moved = reschedule(item, command.due, run.config)
    await run.save(loaded, moved)
    before, after = item.adoption_check, moved.adoption_check
    if before is None or after is None or before == after:
        return Outcome(True)
    gap = run.config.deadlines.adoption_after_due_days
    return Outcome(True, (
        f"The adoption check date moved from {before.isoformat()} to {after.isoformat()}, "
        f"{gap} day{'' if gap == 1 else 's'} after the new due date "
        "(`deadlines.adoption_after_due_days`), so adoption is checked after the work is due."))


def with_evidence(item: HardeningItem, new: Evidence) -> HardeningItem:
    """``item`` with ``new`` added; an URL already there is updated in place, never repeated.

    Re-filing a link under another kind replaces its note and timing: a ``behavioral`` "paged in
    1m" must not become the time of a rollback.
    """
    evidence = list(item.evidence)
    for index, old in enumerate(evidence):
        if _same_url(old.url, new.url):
            refiled = bool(new.kind and old.kind and new.kind != old.kind)
            evidence[index] = Evidence(
                url=old.url,
                kind=new.kind or old.kind,
                note=new.note or ("" if refiled else old.note),
                duration_seconds=new.duration_seconds
                or (None if refiled else old.duration_seconds),
            )
            break
    else:
        evidence.append(new)
    return _in_progress(replace(item, evidence=tuple(evidence)))


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def _in_progress(item: HardeningItem) -> HardeningItem:
    """Work has started on an open item (seed: "missing any one keeps status at in_progress")."""
    return replace(item, status="in_progress") if item.status == "open" else item


async def _evidence(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    assert loaded.item is not None and command.evidence is not None
    await run.save(loaded, with_evidence(loaded.item, command.evidence))
    return Outcome(True)


async def _ack(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    item = loaded.item
    assert item is not None
    if not any(same_login(who, run.actor) for who in item.acknowledged_by):
        item = replace(item, acknowledged_by=(*item.acknowledged_by, run.actor))
    await run.save(loaded, _in_progress(item))
    return Outcome(True)


async def _verify(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    item = loaded.item
    assert item is not None
    if item.status == "retired":
        return refused(
            f"#{run.number} is retired ({item.retired_rationale or 'no rationale'}); a retired "
            "control is not verified", usage_for("verify"))
    facts = await run.facts(loaded)
    if item.status != "verified":
        t = run.config.thresholds
        gate = qa_gate(facts, scorecard_threshold=t.scorecard, rubric_threshold=t.rubric,
                       adoption_threshold=t.adoption)
        if not gate.passed:
            await run.save(loaded, _in_progress(item))
            return Outcome(False, "\n".join([
                f"The QA gate does not pass yet, so #{run.number} stays `in_progress` "
                f"({run.scores(facts).label}). Each failing item and its next step:",
                "",
                gate.markdown(),
            ]))
        item = replace(
            item,
            status="verified",
            verified_by=run.actor,
            verified_at=run.ctx.now().replace(microsecond=0),
            verified_link=str(run.comment.get("html_url") or ""),
        )
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
        link=item.verified_link or str(run.comment.get("html_url") or ""),
        scores=run.scores(facts),
    )
    await upsert_comment(run.gh, run.owner, run.repo, run.number, ITEM_MARKER, body,
                         bot_login=run.ctx.bot_login)
    await resolve_gate_comment(run.gh, run.ctx, run.owner, run.repo, run.number,
                               f"verified by {mention(item.verified_by)}")
    await post_incident_bundle(run, loaded.incident, facts)
    return Outcome(True)


async def _retire(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    item = loaded.item
    assert item is not None and command.rationale
    item = replace(item, status="retired", retired_rationale=command.rationale)
    await run.save(loaded, item)
    await update_issue(run.gh, loaded.issue, state="closed", state_reason="not_planned")
    facts = replace(await run.facts(loaded), item=item, state="closed")
    body = retirement_note(
        facts,
        retired_by=run.actor,
        link=str(run.comment.get("html_url") or ""),
        scores=run.scores(facts),
    )
    await upsert_comment(run.gh, run.owner, run.repo, run.number, RETIREMENT_MARKER, body,
                         bot_login=run.ctx.bot_login)
    await resolve_gate_comment(run.gh, run.ctx, run.owner, run.repo, run.number,
                               f"retired by {mention(run.actor)} (sunset protocol)")
    await post_incident_bundle(run, loaded.incident, facts)
    return Outcome(True)


async def _status(run: Run, command: Command, loaded: LoadedItem) -> Outcome:
    facts = await run.facts(loaded)
    t = run.config.thresholds
    gate = closure_gate(facts, scorecard_threshold=t.scorecard, rubric_threshold=t.rubric,
                        adoption_threshold=t.adoption)
    return Outcome(True, status_text(facts, run.scores(facts), gate.passed, gate.markdown()))


Handler = Callable[[Run, Command, LoadedItem], Awaitable[Outcome]]
HANDLERS: dict[str, Handler] = {
    "owner": _owner,
    "verifier": _verifier,
    "due": _due,
    "evidence": _evidence,
    "ack": _ack,
    "verify": _verify,
    "retire": _retire,
    "status": _status,
}


# --- the incident's bundle --------------------------------------------------------------------


async def _incident_title(run: Run, incident: int | None) -> str:
    if not incident:
        return ""
    issue = await _get_issue(run, incident)
    return str(issue.get("title") or "") if issue else ""


async def _get_issue(run: Run, number: int) -> dict[str, Any] | None:
    try:
        return await run.gh.getitem(
            "/repos/{owner}/{repo}/issues/{number}",
            {"owner": run.owner, "repo": run.repo, "number": number},
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) in (404, 410):
            return None
        raise


async def post_incident_bundle(run: Run, incident: int | None, done: ItemFacts) -> None:
    """Once every item of the incident is verified or retired, its bundle, edited in place.

    ``done`` is the item just verified or retired: its saved state wins over a listing that may
    lag behind the write.
    """
    if not incident:
        return
    listed = await list_items(run.gh, run.owner, run.repo, run.config, incident=incident)
    others = [i for i in listed if i.item is not None and i.number != done.number]
    if any(i.item is None or i.item.status not in DONE for i in others):
        return
    issue = await _get_issue(run, incident)
    if issue is None:
        return
    facts = [done, *[await run.facts(i) for i in others]]
    t = run.config.thresholds
    body = incident_bundle(
        incident,
        str(issue.get("title") or ""),
        incident_summary(str(issue.get("body") or "")),
        facts,
        scorecard_threshold=t.scorecard,
        rubric_threshold=t.rubric,
        adoption_threshold=t.adoption,
    )
    await upsert_comment(run.gh, run.owner, run.repo, incident, INCIDENT_MARKER, body,
                         bot_login=run.ctx.bot_login)


# --- rendering (pure) -------------------------------------------------------------------------

_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")
_FINDINGS = re.compile(r"[ \t]{0,3}(?:#{1,6}[ \t]+|\*\*|__)?[ \t]*(?:key |incident )?findings?\b",
                       re.IGNORECASE)
_FIELD = re.compile(r"[ \t]*(?:[-*+][ \t]+)?(?:\*\*)?severity\b", re.IGNORECASE)
SUMMARY_LIMIT = 400


def incident_summary(body: str) -> str:
    """The incident's short summary: its first paragraph of prose before the Findings."""
    paragraph: list[str] = []
    for line in visible_lines(body):
        if line is None:
            continue
        if _FINDINGS.match(line):
            break
        if not line.strip():
            if paragraph:
                break
            continue
        if _HEADING.match(line) or _FIELD.match(line):
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    text = " ".join(paragraph)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def render_reply(
    actor: str, answered: list[tuple[Command | CommandError, Outcome]]
) -> str | None:
    """The reply to one command comment, or None when every command succeeded silently."""
    sections = [
        f"**`{_code(command.text)}`**\n\n{outcome.reply}"
        for command, outcome in answered
        if outcome.reply
    ]
    if not sections:
        return None
    return f"{mention(actor)}\n\n" + "\n\n".join(sections)


def _code(text: str) -> str:
    return text.replace("`", "'")


def _score_line(score: Score, *, advisory: bool = False) -> str:
    verdict = "passes" if score.passed else f"needs {score.threshold}"
    note = ", advisory" if advisory else ""
    return f"**{score.label}** ({verdict}{note})"


def _rows(score: Score) -> list[str]:
    lines = []
    for row in score.rows:
        mark = "✅" if row.met else "⬜"
        step = f" → {row.next_step}" if row.next_step and not row.met else ""
        lines.append(f"| {score.title} | {mark} {row.name} | {row.points}/{row.max_points} "
                     f"| {row.signal}{step} |")
    return lines


def status_text(facts: ItemFacts, scores: Scores, gate_passed: bool, missing: str) -> str:
    """``/harden status``: fields, the three scores with their rows, and the closure gate."""
    item = facts.item
    evidence = len(item.evidence)
    lines = [
        f"#{facts.number} is `{item.status}` · execution owner "
        f"{mention(item.owner) if item.owner else '—'} · verifier owner "
        f"{mention(item.verifier) if item.verifier else '—'} · due "
        f"{item.due.isoformat() if item.due else '—'} · {evidence} evidence "
        f"link{'' if evidence == 1 else 's'}",
        "",
        " · ".join([
            _score_line(scores.scorecard),
            _score_line(scores.rubric),
            _score_line(scores.adoption, advisory=True),
        ]),
        "",
        "<details><summary>Every row and the signal that decided it</summary>",
        "",
        "| score | row | points | signal → next step |",
        "|---|---|---|---|",
        *_rows(scores.scorecard),
        *_rows(scores.rubric),
        *_rows(scores.adoption),
        "",
        "</details>",
        "",
    ]
    if gate_passed:
        lines.append("**Closure gate:** passes; this item may close.")
    else:
        lines += ["**Closure gate:** not yet. Missing, with the command for each:", "", missing]
    return "\n".join(lines)


def _text(value: str | None) -> str:
    """User text on one line, unable to forge one of the bot's hidden markers."""
    return " ".join((value or "").split()).replace("<!--", "&lt;!--")


def retirement_note(facts: ItemFacts, *, retired_by: str, link: str, scores: Scores) -> str:
    """The sunset protocol's "short note with replacement or rationale", bundle-shaped."""
    item = facts.item
    title = f" {_text(facts.title)}" if facts.title.strip() else ""
    evidence = [
        f"- {_text(e.url)}" + (f" ({e.kind})" if e.kind else "")
        + (f": {_text(e.note)}" if e.note else "")
        for e in item.evidence
    ]
    return "\n".join([
        RETIREMENT_MARKER,
        f"## Retired: #{facts.number}{title}",
        "",
        f"- **Rationale:** {_text(item.retired_rationale)}",
        f"- **Retired by:** {mention(retired_by)} ([comment]({link}))",
        f"- **Incident:** {'#' + str(item.incident) if item.incident else '—'}",
        f"- **Failure class:** {_text(item.failure_class) or '—'} · **Proposed control:** "
        f"{_text(item.proposed_control) or '—'}",
        f"- **Execution owner:** {mention(item.owner) if item.owner else '—'} · "
        f"**Verifier owner:** {mention(item.verifier) if item.verifier else '—'}",
        f"- **Scores at retirement:** {scores.label}",
        "",
        "### Evidence on record",
        *(evidence or ["_none_"]),
        "",
        "Retirement follows the sunset protocol: the control no longer improves its target "
        "metric, duplicates a stronger control, or costs more than the risk it removes. "
        "The residual risk stays with the incident's owners.",
    ])
