"""Incident issues become hardening issues, one per finding, and a tracking comment (CONTRACT §3).

Seed: "From incident finding to control design" and "Recovery declared 'done' with no hardening
backlog". An incident issue that is opened, labelled, edited or reopened gets one hardening item
per known finding that has none yet; any change to a hardening issue re-renders its incident's
tracking comment. Both go through ``bot.items``, which writes only what differs: the App's own
writes come back as webhooks too, and re-rendering after them writes nothing, so nothing loops.
"""

from __future__ import annotations

from typing import Any

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.context import Context
from bot.items import refresh_incident_tracking, sync_incident
from bot.writes import label_names
from rules.config import Config
from rules.incident import is_incident
from rules.item import parse_item

router = Router()


@router.register("issues", action="opened")
@router.register("issues", action="edited")
@router.register("issues", action="labeled")
@router.register("issues", action="reopened")
async def on_incident_changed(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """Create the missing items of an incident and re-render its tracking comment."""
    issue = event.data["issue"]
    owner, repo = _repository(event)
    config = (await ctx.config(gh, owner, repo)).config
    if "pull_request" in issue or not is_incident(label_names(issue), config):
        return
    result = await sync_incident(gh, ctx, owner, repo, issue)
    ctx.log.info(
        "incident #%s: %d findings, %d items created, tracking comment %s",
        issue["number"],
        len(result.incident.findings) if result.incident else 0,
        len(result.created),
        "written" if result.comment_written else "unchanged",
    )


@router.register("issues", action="opened")
@router.register("issues", action="edited")
@router.register("issues", action="closed")
@router.register("issues", action="reopened")
@router.register("issues", action="labeled")
@router.register("issues", action="unlabeled")
@router.register("issues", action="deleted")
async def on_item_changed(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """Re-render the tracking comment of the incident a changed hardening issue belongs to."""
    issue = event.data["issue"]
    owner, repo = _repository(event)
    config = (await ctx.config(gh, owner, repo)).config
    if "pull_request" in issue or is_incident(label_names(issue), config):
        return
    for number in sorted(_incidents_of(event.data, config)):
        if number != issue["number"]:
            await refresh_incident_tracking(gh, ctx, owner, repo, number)


def _incidents_of(data: dict[str, Any], config: Config) -> set[int]:
    """The incidents whose backlog this event can change: the one the hardening issue belongs
    to (marker first, then Incident reference), and the one its body named before an edit.
    An issue that just lost its hardening label still counts, so its incident drops it."""
    issue = data["issue"]
    hardening = config.labels.hardening.casefold()
    removed = data.get("action") == "unlabeled" and (
        str((data.get("label") or {}).get("name") or "").casefold() == hardening
    )
    if not removed and all(name.casefold() != hardening for name in label_names(issue)):
        return set()
    bodies = [issue.get("body") or ""]
    before = ((data.get("changes") or {}).get("body") or {}).get("from")
    if isinstance(before, str):
        bodies.append(before)
    return {n for n in (_incident_in(body) for body in bodies) if n is not None}


def _incident_in(body: str) -> int | None:
    parse = parse_item(body)
    if parse.marker is not None:
        return parse.marker.incident
    return parse.item.incident if parse.item is not None else None


def _repository(event: Event) -> tuple[str, str]:
    owner, _, name = str(event.data["repository"]["full_name"]).partition("/")
    return owner, name
