"""The ordering key of a delivery: which deliveries must be processed one after another.

Deliveries that share a subject are processed strictly in the order they arrived; different
subjects run concurrently. The hardening loop ties hardening items to their incident (the incident's
tracking checklist, its close gate and the item's closure gate all read and write the same
objects), so an incident and every hardening issue that references it share the incident's key,
and so do comments on any of them. A key that groups too much only costs concurrency; one that
groups too little lets two workers edit the same issue at once, so ambiguity resolves to the
broader key.

Keys look like ``owner/repo#12`` (an issue or pull request), ``owner/repo@<sha>`` (checks not
attached to a pull request), ``owner/repo`` (repository-wide events) and ``installation:42``.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from typing import Any

from rules import markers
from rules.payload import repository_full_name
from rules.text import bounded_int

# Written by the bot into every hardening issue it opens; survives people editing the text.
_ITEM_MARKER = markers.ITEM_SEARCH
# The template line people write by hand or via the issue form. Accepts "#12", "owner/repo#12"
# and a link to the incident issue.
_INCIDENT_LINE = re.compile(
    r"^[ \t]*(?:[-*+][ \t]+)?(?:\*\*)?Incident[ \t]+reference(?:\*\*)?[ \t]*:(?:\*\*)?[ \t]*"
    r"(?:(?P<repo>[\w.-]+/[\w.-]+)#(?P<n1>[0-9]+)"
    r"|#(?P<n2>[0-9]+)"
    r"|https?://[^/\s]+/(?P<urlrepo>[\w.-]+/[\w.-]+)/(?:issues|pull)/(?P<n3>[0-9]+))",
    re.IGNORECASE | re.MULTILINE,
)

# A longer digit run names no issue (the item marker allows 18; int() refuses over 4,300).
_MAX_ISSUE_DIGITS = 18


def subject_for(event: str, payload: dict[str, Any]) -> str:
    """Return the ordering key of one delivery of ``event`` with ``payload``."""
    repo = _repo(payload)
    installation = _installation(payload)

    installation_events = ("installation", "installation_repositories", "github_app_authorization")
    if event in installation_events and installation is not None:
        return f"installation:{installation}"

    if repo is not None:
        if event in ("issues", "issue_comment"):
            issue = payload.get("issue")
            if isinstance(issue, dict):
                return _issue_key(repo, issue)
        if event in (
            "pull_request",
            "pull_request_review",
            "pull_request_review_comment",
            "pull_request_review_thread",
        ):
            number = _number(payload.get("pull_request")) or _int(payload.get("number"))
            if number is not None:
                return f"{repo}#{number}"
        if event in ("check_run", "check_suite"):
            return _check_key(repo, payload.get(event))
        return repo

    if installation is not None:
        return f"installation:{installation}"
    return event


def incident_of(body: str | None) -> tuple[str | None, int] | None:
    """The incident a hardening issue body points at, as (``owner/repo`` or None, number).

    The bot's hidden marker wins over the human-edited template line, because people edit the
    text but rarely the marker. None when the body names no incident.
    """
    if not body:
        return None
    # Case-insensitive regexes cannot skip ahead on a literal, so rule out the common body
    # without either form cheaply: this runs for every issue delivery before its 202.
    lowered = body.lower()
    for needle, pattern in ((markers.PREFIX + "item", _ITEM_MARKER), ("reference", _INCIDENT_LINE)):
        if needle not in lowered:
            continue
        match = pattern.search(body)
        if match is None:
            continue
        groups = match.groupdict()
        digits = next(groups[g] for g in ("n", "n1", "n2", "n3") if groups.get(g))
        number = bounded_int(digits, _MAX_ISSUE_DIGITS)
        if not number:
            continue  # no issue has that number: the broader key of the issue itself
        other = groups.get("repo") or groups.get("urlrepo")
        return (other.lower() if other else None), number
    return None


def _issue_key(repo: str, issue: dict[str, Any]) -> str:
    number = _number(issue)
    found = incident_of(issue.get("body"))
    if found is not None:
        other_repo, incident = found
        return f"{other_repo or repo}#{incident}"
    if number is None:
        return repo
    return f"{repo}#{number}"


def _check_key(repo: str, check: Any) -> str:
    if not isinstance(check, dict):
        return repo
    pulls = [
        n
        for n in (_number(p) for p in check.get("pull_requests") or () if isinstance(p, dict))
        if n is not None
    ]
    if pulls:
        # A head commit can be in several PRs; the lowest number is stable across deliveries.
        return f"{repo}#{min(pulls)}"
    sha = check.get("head_sha")
    if isinstance(sha, str) and sha:
        return f"{repo}@{sha}"
    return repo


def _repo(payload: dict[str, Any]) -> str | None:
    name = repository_full_name(payload)
    if name is not None and "/" in name:
        # GitHub names are case-insensitive; one spelling per repository keeps one key.
        return name.lower()
    return None


def _installation(payload: dict[str, Any]) -> int | None:
    installation = payload.get("installation")
    if isinstance(installation, dict):
        return _int(installation.get("id"))
    return None


def _number(obj: Any) -> int | None:
    if isinstance(obj, dict):
        return _int(obj.get("number"))
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None
