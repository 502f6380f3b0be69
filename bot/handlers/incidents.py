"""Incident issues become hardening issues, one per finding, and a tracking comment (docs/incidents.md).

From docs/hardening-loop.md: "From incident finding to control design" and "Recovery declared 'done' with no hardening
backlog". An incident issue that is opened, labelled, edited or reopened gets one hardening item
per known finding that has none yet; any change to a hardening issue re-renders its incident's
tracking comment. Both go through ``bot.item_issues``, which writes only what differs: the App's own
writes come back as webhooks too, and re-rendering after them writes nothing, so nothing loops.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot import ledger
from bot.context import Context
from bot.handlers import loop
from bot.incident_makers import incident_maker
from bot.item_issues import refresh_incident_tracking, sync_incident
from bot.scope import Scope
from bot.writes import find_comment, label_names, upsert_comment
from rules import markers
from rules.authorization import is_bot_account
from rules.config import Config
from rules.incident import is_incident
from rules.item_template import parse_item
from rules.logins import same_login
from rules.replies import incident_made, incident_refused
from rules.tracking import incidents_touched

router = Router()

Handler = Callable[[Event, GitHubAPI, Context], Awaitable[None]]


def on_issues(*actions: str) -> Callable[[Handler], Handler]:
    """Register a handler for these ``issues`` actions."""

    def register(handler: Handler) -> Handler:
        for action in actions:
            router.register("issues", action=action)(handler)
        return handler

    return register


@dataclass(frozen=True)
class Changed:
    """The issue an ``issues`` event is about, with its repository (``scope``) and that
    repository's configuration."""

    issue: dict[str, Any]
    scope: Scope
    config: Config

    @property
    def is_incident(self) -> bool:
        return is_incident(label_names(self.issue), self.config)


async def changed_issue(event: Event, gh: GitHubAPI, ctx: Context) -> Changed | None:
    """The changed issue, or None when it is a pull request."""
    issue = event.data["issue"]
    scope = Scope.of_payload(gh, ctx, event.data)
    config = (await scope.config()).config
    return None if "pull_request" in issue else Changed(issue, scope, config)


@on_issues("opened", "edited", "labeled", "reopened")
async def on_incident_changed(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """Create the missing items of an incident and re-render its tracking comment."""
    changed = await changed_issue(event, gh, ctx)
    if changed is None or not changed.is_incident:
        return
    issue = changed.issue
    maker = await incident_maker(changed.scope, issue, changed.config)
    if maker is None:
        await _refuse(changed)
        return
    if not same_login(maker, str((issue.get("user") or {}).get("login") or "")):
        await _accepted(changed, maker)
    result = await sync_incident(changed.scope, issue)
    await loop.mark_recurrences(changed.scope, changed.config, result.created)
    await loop.refresh_summary(changed.scope, int(issue["number"]), changed.config)
    ledger.request_update(changed.scope)
    ctx.log.info(
        "incident #%s: %d findings, %d items created, tracking comment %s",
        issue["number"],
        len(result.incident.findings) if result.incident else 0,
        len(result.created),
        "written" if result.comment_written else "unchanged",
    )


@on_issues("opened", "edited", "closed", "reopened", "labeled", "unlabeled", "deleted")
async def on_item_changed(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """Re-render the tracking comment of the incident a changed hardening issue belongs to."""
    changed = await changed_issue(event, gh, ctx)
    if changed is None or changed.is_incident:
        return
    data, issue = event.data, changed.issue
    bodies = [issue.get("body") or ""]
    before = ((data.get("changes") or {}).get("body") or {}).get("from")
    if isinstance(before, str):
        bodies.append(before)
    lost = str((data.get("label") or {}).get("name") or "")
    numbers = incidents_touched(
        label_names(issue),
        bodies,
        changed.config.labels.hardening,
        lost_label=lost if data.get("action") == "unlabeled" else None,
    )
    for number in sorted(numbers - {issue["number"]}):
        await refresh_incident_tracking(changed.scope, number)
        await loop.refresh_summary(changed.scope, number, changed.config)
    if numbers or changed.config.labels.hardening.lower() in {
        name.lower() for name in label_names(issue)
    }:
        ledger.request_update(changed.scope)
    by_person = not is_bot_account(data.get("sender"), ctx.bot_login)
    if (
        by_person
        and isinstance(before, str)
        and _owner_of(before) != _owner_of(issue.get("body") or "")
    ):
        # A hand edit of the owner: hardening/controls names the owner on open linked PRs.
        from bot.handlers.pulls import refresh_controls

        await refresh_controls(changed.scope, int(issue["number"]))


async def _refuse(changed: Changed) -> None:
    """Answer once that the issue is no incident for the bot until someone who may makes it one."""
    scope, issue = changed.scope, changed.issue
    author = str((issue.get("user") or {}).get("login") or "")
    scope.ctx.log.info(
        "#%s not an incident: @%s has no triage access and is not a lead, nor is anyone who "
        "labelled it",
        issue["number"],
        author,
    )
    await upsert_comment(
        scope.gh,
        scope.owner,
        scope.repo,
        int(issue["number"]),
        markers.INCIDENT_ACCESS,
        incident_refused(author, changed.config.labels.incident),
        bot_login=scope.ctx.bot_login,
    )


async def _accepted(changed: Changed, maker: str) -> None:
    """Turn the refusal, if there is one, into a note of who made the issue an incident."""
    scope, number = changed.scope, int(changed.issue["number"])
    mark, bot = markers.INCIDENT_ACCESS, scope.ctx.bot_login
    if await find_comment(scope.gh, scope.owner, scope.repo, number, mark, bot_login=bot):
        body = incident_made(maker)
        await upsert_comment(scope.gh, scope.owner, scope.repo, number, mark, body, bot_login=bot)


def _owner_of(body: str) -> str | None:
    item = parse_item(body).item
    return item.owner.lower() if item is not None and item.owner else None
