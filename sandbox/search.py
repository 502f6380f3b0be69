"""GitHub's issue search syntax, for the qualifiers a bot uses.

Supported: free words and ``"quoted phrases"``; ``repo:``, ``org:``/``user:``; ``is:``
(``issue``, ``pr``, ``pull-request``, ``open``, ``closed``, ``merged``, ``unmerged``); ``type:``;
``state:``; ``label:`` (quoted, repeatable, all required) and ``-label:``; ``no:label``,
``no:assignee``; ``author:``, ``assignee:``; ``in:title``/``in:body``/``in:comments`` (comma
lists). Unknown qualifiers are searched as text, as GitHub does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .model import Issue

_TOKEN = re.compile(r'(-?)(?:([A-Za-z_-]+):)?("([^"]*)"|\S+)')
_KNOWN = {"repo", "org", "user", "is", "type", "state", "label", "no", "author", "assignee", "in"}


@dataclass
class Query:
    repos: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    kind: str | None = None  # "issue" | "pr"
    state: str | None = None
    merged: bool | None = None
    labels: list[str] = field(default_factory=list)
    not_labels: list[str] = field(default_factory=list)
    no: list[str] = field(default_factory=list)
    author: str | None = None
    assignee: str | None = None
    scopes: set[str] = field(default_factory=set)
    terms: list[str] = field(default_factory=list)
    not_terms: list[str] = field(default_factory=list)


def parse(q: str) -> Query:
    query = Query()
    for match in _TOKEN.finditer(q):
        negate, key, raw, quoted = match.group(1), match.group(2), match.group(3), match.group(4)
        value = quoted if quoted is not None else raw
        key = (key or "").lower()
        if key not in _KNOWN:
            text = (f"{key}:{value}" if key else value).lower()
            if text.strip() and text not in ("and", "or"):
                (query.not_terms if negate else query.terms).append(text)
            continue
        low = value.lower()
        if key == "repo":
            query.repos.append(low)
        elif key in ("org", "user"):
            query.owners.append(low)
        elif key in ("is", "type"):
            if low in ("issue",):
                query.kind = "issue"
            elif low in ("pr", "pull-request"):
                query.kind = "pr"
            elif low in ("open", "closed"):
                query.state = low
            elif low == "merged":
                query.merged = True
            elif low == "unmerged":
                query.merged = False
        elif key == "state":
            query.state = low
        elif key == "label":
            (query.not_labels if negate else query.labels).append(low)
        elif key == "no":
            query.no.append(low)
        elif key == "author":
            query.author = low
        elif key == "assignee":
            query.assignee = low
        elif key == "in":
            query.scopes.update(part.strip() for part in low.split(",") if part.strip())
    return query


def matcher(query: Query, comments_of: Callable[[Issue], list[str]]) -> Callable[[Issue], bool]:
    """A predicate for ``query``; ``comments_of`` gives an issue's comment bodies."""
    scopes = query.scopes or {"title", "body", "comments"}

    def haystack(issue: Issue) -> str:
        parts = []
        if "title" in scopes:
            parts.append(issue.title)
        if "body" in scopes:
            parts.append(issue.body or "")
        if "comments" in scopes:
            parts.extend(comments_of(issue))
        return "\n".join(parts).lower()

    def keep(issue: Issue) -> bool:
        owner, _, _ = issue.repo.partition("/")
        if query.repos and issue.repo.lower() not in query.repos:
            return False
        if query.owners and owner.lower() not in query.owners:
            return False
        if query.kind == "issue" and issue.is_pull:
            return False
        if query.kind == "pr" and not issue.is_pull:
            return False
        if query.state and issue.state != query.state:
            return False
        if query.merged is not None and (issue.pull is None or issue.pull.merged != query.merged):
            return False
        names = {label.name.lower() for label in issue.labels}
        if any(name not in names for name in query.labels):
            return False
        if any(name in names for name in query.not_labels):
            return False
        if "label" in query.no and names:
            return False
        if "assignee" in query.no and issue.assignees:
            return False
        if query.author and issue.user.login.lower() != query.author:
            return False
        if query.assignee and all(u.login.lower() != query.assignee for u in issue.assignees):
            return False
        if query.terms or query.not_terms:
            text = haystack(issue)
            if any(term not in text for term in query.terms):
                return False
            return all(term not in text for term in query.not_terms)
        return True

    return keep
