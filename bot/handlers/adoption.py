"""Who makes a hardening item (docs/commands.md, "Who may change what").

The App's own issues are items. An issue a person opens with the hardening label and the
template becomes one only when its author has write access or is a lead (a maintainer filling in
the issue form): the App adopts it at once, writing its record. Anyone else gets one reply saying
that a maintainer can ``/harden adopt`` it, and nothing else happens: no tracking, no gates, no
commands. Without this, an outsider could open a "verified" item naming themselves verifier.

Adopting takes the template's plain fields only; gate facts typed into it (status, verification,
acknowledgements, retirement) never count, and evidence links only when the author could have
recorded them by command. A redelivered ``opened`` finds the record and changes nothing.
"""

from __future__ import annotations

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.context import Context
from bot.item_issues import (
    adopt,
    app_authored,
    get_issue,
    is_hardening,
    load,
    refresh_incident_tracking,
)
from bot.permissions import leads_of, lookup_caller
from bot.scope import Scope
from bot.writes import upsert_comment
from rules import markers
from rules.authorization import WRITE, role_rank
from rules.item_template import parse_item
from rules.replies import adoption_hint

router = Router()


@router.register("issues", action="opened")
@router.register("issues", action="labeled")
async def on_hardening_issue(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    data = event.data
    issue = data["issue"]
    if "pull_request" in issue or app_authored(issue, ctx.bot_login):
        return
    scope = Scope.of_payload(gh, ctx, data)
    config = (await scope.config()).config
    label = str((data.get("label") or {}).get("name") or "")
    if data.get("action") == "labeled" and label.casefold() != config.labels.hardening.casefold():
        return
    fresh = await get_issue(scope, int(issue["number"]))
    if fresh is None or not is_hardening(fresh, config):
        return
    trust = scope.trust
    if await load(fresh, config, trust=trust) is not None:
        return  # adopted already (a redelivery, or the label came back)
    if parse_item(fresh.get("body") or "").item is None:
        return  # no template: an ordinary issue with a label
    author = str((fresh.get("user") or {}).get("login") or "")
    caller = await lookup_caller(scope, author, leads_of(config), need_role=True, need_lead=True)
    number = int(fresh["number"])
    if role_rank(caller.role) >= WRITE or caller.is_lead:
        loaded = await adopt(scope, fresh, config=config, keep_evidence=True)
        ctx.log.info("#%s adopted: opened by @%s (%s)", number, author, caller.role or "lead")
        if loaded is not None and loaded.incident:
            await refresh_incident_tracking(scope, loaded.incident)
        return
    ctx.log.info("#%s not adopted: @%s has no write access and is not a lead", number, author)
    await upsert_comment(
        gh,
        scope.owner,
        scope.repo,
        number,
        markers.ADOPTION,
        adoption_hint(author, config.labels.hardening),
        bot_login=ctx.bot_login,
    )
