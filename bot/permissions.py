"""Who is asking: a commenter's repository role and whether they are a configured lead.

The slash commands (docs/commands.md) are gated on the caller's repository role and on the leads
named in `.github/hardening.yml`. Both come from GitHub:

* the role from ``GET /repos/{owner}/{repo}/collaborators/{username}/permission``. We read
  ``role_name`` (read, triage, write, maintain, admin), never the legacy ``permission`` field,
  which reports ``maintain`` as ``write`` and ``triage`` as ``read``. The legacy field is only a
  floor for custom repository roles, whose ``role_name`` is their own name. Access granted through
  a team shows up here too, so team-granted writers need no special case;
* lead teams (``@org/team-slug``) from ``GET /orgs/{org}/teams/{team_slug}/memberships/{username}``
  (200 with state ``active`` is a member, 404 is not), cached briefly because a comment thread
  can fire several commands in a row.

A 404 from the collaborator endpoint means "not a collaborator" and is an answer. Anything else
that goes wrong (a 5xx the client already retried, a 403 because the App lacks a permission, a
timeout) is *not* an answer: it raises :class:`PermissionLookupError`, is logged at error level
(which the Sentry logging integration reports) and the caller must say "could not check your
permission" instead of a silent "no" (bedevere#584 is the cautionary tale).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING

import aiohttp
import gidgethub
import gidgethub.abc
from cachetools import TTLCache

from bot.scope import Scope
from rules.authorization import base_role

if TYPE_CHECKING:
    from rules.config import Config

log = logging.getLogger(__name__)

TEAM_CACHE_SECONDS = 60
# One cache per client: bot.github keeps one client per installation across deliveries, so the
# answers are shared by that installation's deliveries, never by another installation or another
# GitHub host, and go with the client.
_team_caches: weakref.WeakKeyDictionary[
    gidgethub.abc.GitHubAPI, TTLCache[tuple[str, str, str], bool]
] = weakref.WeakKeyDictionary()


class PermissionLookupError(Exception):
    """GitHub could not tell us who the caller is; never to be read as "not allowed"."""

    def __init__(self, what: str, cause: BaseException) -> None:
        self.what = what
        self.cause = cause
        self.reason = describe_error(cause)
        super().__init__(f"could not check {what}: {self.reason}")


@dataclass(frozen=True)
class Caller:
    """The person behind a command, as far as authorization cares."""

    login: str
    role: str | None  # read, triage, write, maintain or admin; None when not a collaborator
    is_lead: bool


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, gidgethub.HTTPException):
        return f"GitHub answered {int(exc.status_code)} {exc.status_code.phrase}"
    if isinstance(exc, TimeoutError):
        return "GitHub did not answer in time"
    return f"{type(exc).__name__}: {exc}"


def _is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, gidgethub.HTTPException) and exc.status_code == HTTPStatus.NOT_FOUND


# What a failed lookup can raise once the client has given up retrying.
_LOOKUP_ERRORS = (gidgethub.GitHubException, aiohttp.ClientError, TimeoutError)


async def collaborator_role(scope: Scope, login: str) -> str | None:
    """The caller's role on the repository; None when they are not a collaborator."""
    owner, repo = scope.owner, scope.repo
    try:
        data = await scope.gh.getitem(
            "/repos/{owner}/{repo}/collaborators/{username}/permission",
            {"owner": owner, "repo": repo, "username": login},
        )
    except _LOOKUP_ERRORS as exc:
        if _is_not_found(exc):
            return None
        log.error(
            "permission lookup failed for %s on %s/%s: %s",
            login,
            owner,
            repo,
            describe_error(exc),
            exc_info=exc,
        )
        raise PermissionLookupError(f"the repository role of @{login}", exc) from exc
    # Custom repository roles report their own name in role_name; base_role then falls back to
    # the legacy field, which still carries the base level they inherit.
    return base_role(data.get("role_name"), data.get("permission"))


def _team_cache(gh: gidgethub.abc.GitHubAPI) -> TTLCache[tuple[str, str, str], bool]:
    cache = _team_caches.get(gh)
    if cache is None:
        cache = _team_caches[gh] = TTLCache(maxsize=4096, ttl=TEAM_CACHE_SECONDS)
    return cache


async def is_team_member(gh: gidgethub.abc.GitHubAPI, org: str, slug: str, login: str) -> bool:
    key = (org.lower(), slug.lower(), login.lower())
    cached = _team_cache(gh).get(key)
    if cached is not None:
        return cached
    try:
        data = await gh.getitem(
            "/orgs/{org}/teams/{team_slug}/memberships/{username}",
            {"org": org, "team_slug": slug, "username": login},
        )
    except _LOOKUP_ERRORS as exc:
        if not _is_not_found(exc):
            log.error(
                "team membership lookup failed for %s in @%s/%s: %s",
                login,
                org,
                slug,
                describe_error(exc),
                exc_info=exc,
            )
            raise PermissionLookupError(f"membership of @{org}/{slug}", exc) from exc
        member = False
    else:
        # A pending invitation is not membership yet.
        member = str(data.get("state", "")).lower() == "active"
    _team_cache(gh)[key] = member
    return member


def split_team(lead: str) -> tuple[str, str] | None:
    """``@org/team`` -> (org, team); a plain login -> None."""
    text = lead.strip().lstrip("@")
    if "/" not in text:
        return None
    org, _, slug = text.partition("/")
    if not org or not slug:
        return None
    return org, slug


def leads_of(config: Config) -> tuple[str, ...]:
    """The configuration's leads, as :func:`is_lead` and mentions take them: logins and
    ``org/team`` handles."""
    return (*config.leads.users, *config.leads.teams)


async def is_lead(gh: gidgethub.abc.GitHubAPI, login: str, leads: Iterable[str]) -> bool:
    """True when ``login`` is a lead by name or through a lead team.

    Named users are checked first so a lead never waits on (or is blocked by) a team lookup.
    """
    entries = [str(lead) for lead in leads]
    wanted = login.lower()
    teams: list[tuple[str, str]] = []
    for entry in entries:
        team = split_team(entry)
        if team is None:
            if entry.strip().lstrip("@").lower() == wanted:
                return True
        else:
            teams.append(team)
    for org, slug in teams:
        if await is_team_member(gh, org, slug, login):
            return True
    return False


async def lookup_caller(
    scope: Scope,
    login: str,
    leads: Iterable[str],
    *,
    need_role: bool = True,
    need_lead: bool = True,
) -> Caller:
    """Role and lead status of ``login``; raises :class:`PermissionLookupError`."""
    role = await collaborator_role(scope, login) if need_role else None
    lead = await is_lead(scope.gh, login, leads) if need_lead else False
    return Caller(login=login, role=role, is_lead=lead)
