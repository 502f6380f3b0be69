"""Who made an issue an incident (docs/incidents.md, "Who makes an incident").

An incident opens up to ``limits.findings_per_incident`` hardening items, marks earlier verified
items as recurrences and holds its own close, so the bot acts on one only when someone who could
have labelled it on GitHub made it one: its author, or a person who added the incident label,
holding triage access or more, or a configured lead. GitHub's issue forms add their labels for
any author, so the label alone proves nothing.

The author's role is asked first (one request). Only when the author may not is the issue's
timeline read, for who added the label: a maintainer who re-applies it vouches for the incident,
and the timeline keeps saying so for every later event.
"""

from __future__ import annotations

from typing import Any

from bot.permissions import collaborator_role, is_lead, leads_of
from bot.scope import Scope
from rules.authorization import TRIAGE, is_app_account, role_rank
from rules.config import Config
from rules.incident import labelled_by
from rules.logins import same_login


async def incident_maker(scope: Scope, issue: dict[str, Any], config: Config) -> str | None:
    """The login that made ``issue`` an incident and may, or None when no one who may did.

    Raises ``bot.permissions.PermissionLookupError`` when GitHub cannot say (the delivery is
    retried: that is not a no)."""
    author = str((issue.get("user") or {}).get("login") or "")
    if author and await _may(scope, author, config):
        return author
    timeline = [
        event
        async for event in scope.gh.getiter(
            "/repos/{owner}/{repo}/issues/{number}/timeline{?per_page}",
            {
                "owner": scope.owner,
                "repo": scope.repo,
                "number": int(issue["number"]),
                "per_page": 100,
            },
        )
    ]
    for login in labelled_by(timeline, config.labels.incident):
        if same_login(login, author) or is_app_account({"login": login}, scope.ctx.bot_login):
            continue
        if await _may(scope, login, config):
            return login
    return None


async def _may(scope: Scope, login: str, config: Config) -> bool:
    # The role first: a lead team is asked only for someone whose role is not enough.
    if role_rank(await collaborator_role(scope, login)) >= TRIAGE:
        return True
    return await is_lead(scope.gh, login, leads_of(config))
