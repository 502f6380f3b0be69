"""Idempotent writes: every change the bot makes on GitHub goes through these helpers.

A delivery is processed at least once (a retry, a crash, GitHub sending the same event twice),
so each helper first compares with what is already on GitHub and writes only the difference.
Running a handler twice therefore changes nothing the second time, and every helper returns a
``Write`` saying what it did, so a test can assert ``not result.wrote``.

The bot finds its own earlier output by hidden HTML markers (``<!-- hardening-bot:NAME -->``)
and edits it in place instead of posting again: one tracking comment per incident, kept current.
Every marker format lives in ``rules.markers``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import gidgethub
from gidgethub.abc import GitHubAPI

from rules.markers import carries, with_marker
from rules.payload import repository_full_name

_ISSUE_URL = re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues/(?P<number>\d+)/?$")

Action = Literal["created", "updated", "unchanged", "removed", "absent"]


@dataclass(frozen=True)
class Write:
    """What a helper did. ``data`` is the resulting GitHub object when there is one."""

    action: Action
    data: Any = None
    changed: tuple[str, ...] = field(default=())

    @property
    def wrote(self) -> bool:
        return self.action in ("created", "updated", "removed")


def same_text(a: str | None, b: str | None) -> bool:
    """Equal as GitHub would show them: it stores CRLF from browsers and keeps trailing space."""
    return _normal(a) == _normal(b)


async def find_comment(
    gh: GitHubAPI,
    owner: str,
    repo: str,
    number: int,
    mark: str,
    *,
    bot_login: str | None = None,
) -> dict[str, Any] | None:
    """The bot's oldest comment on an issue or PR that starts with ``mark``, if any.

    Only comments written by the bot count (``bot_login`` when given, else any Bot account),
    and only a marker on their first line (``rules.markers.carries``), so neither a person
    quoting the marker nor a title or finding the bot copied into another comment can hijack it.
    """
    async for comment in gh.getiter(
        "/repos/{owner}/{repo}/issues/{number}/comments{?per_page}",
        {"owner": owner, "repo": repo, "number": number, "per_page": 100},
    ):
        if carries(comment.get("body"), mark) and _written_by_app(comment.get("user"), bot_login):
            return dict(comment)
    return None


async def upsert_comment(
    gh: GitHubAPI,
    owner: str,
    repo: str,
    number: int,
    mark: str,
    body: str,
    *,
    bot_login: str | None = None,
) -> Write:
    """Create the marked comment, or edit the existing one only if its text differs."""
    body = with_marker(body, mark)
    existing = await find_comment(gh, owner, repo, number, mark, bot_login=bot_login)
    if existing is None:
        created = await gh.post(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            {"owner": owner, "repo": repo, "number": number},
            data={"body": body},
        )
        return Write("created", created, ("body",))
    if same_text(existing.get("body"), body):
        return Write("unchanged", existing)
    updated = await gh.patch(
        "/repos/{owner}/{repo}/issues/comments/{comment_id}",
        {"owner": owner, "repo": repo, "comment_id": existing["id"]},
        data={"body": body},
    )
    return Write("updated", updated, ("body",))


async def update_issue(gh: GitHubAPI, issue: dict[str, Any], **fields: Any) -> Write:
    """PATCH only the fields of ``issue`` that differ from ``fields``.

    ``issue`` is the issue as last read from GitHub (an API response or a webhook payload's
    ``issue``). Supported: ``title``, ``body``, ``state``, ``state_reason``, ``labels`` (names),
    ``assignees`` (logins), ``milestone`` (number or None). Labels and assignees compare as sets,
    case-insensitively, as GitHub does.
    """
    changes: dict[str, Any] = {}
    for name, wanted in fields.items():
        if not _field_equal(name, issue.get(name), wanted):
            changes[name] = list(wanted) if name in ("labels", "assignees") else wanted
    # Setting only a state_reason that already matches, or one without a state change, is noise.
    if set(changes) == {"state_reason"}:
        changes.clear()
    if not changes:
        return Write("unchanged", issue)
    owner, repo, number = issue_coordinates(issue)
    updated = await gh.patch(
        "/repos/{owner}/{repo}/issues/{number}",
        {"owner": owner, "repo": repo, "number": number},
        data=changes,
    )
    return Write("updated", updated, tuple(sorted(changes)))


async def repo_labels(gh: GitHubAPI, owner: str, repo: str) -> dict[str, dict[str, Any]]:
    """The repository's labels by lower-cased name: one listing to share among several
    :func:`ensure_label` calls of one handler run."""
    # Listing (ETag-cached, one page for most repositories) rather than GET-by-name: GitHub
    # matches label names case-insensitively, and so must we.
    return {
        str(label.get("name", "")).lower(): dict(label)
        async for label in gh.getiter(
            "/repos/{owner}/{repo}/labels{?per_page}",
            {"owner": owner, "repo": repo, "per_page": 100},
        )
    }


async def ensure_label(
    gh: GitHubAPI,
    owner: str,
    repo: str,
    name: str,
    color: str,
    description: str = "",
    *,
    existing: dict[str, dict[str, Any]] | None = None,
) -> Write:
    """Create the repository label ``name`` if it does not exist.

    An existing label is left as people made it (colour and description included): the bot only
    needs it to exist. Two workers racing to create it both succeed. ``existing`` is what
    :func:`repo_labels` returned earlier in the same run (without it the labels are listed);
    a label created here is added to it.
    """
    if existing is None:
        existing = await repo_labels(gh, owner, repo)
    found = existing.get(name.lower())
    if found is not None:
        return Write("unchanged", found)
    try:
        created = await gh.post(
            "/repos/{owner}/{repo}/labels",
            {"owner": owner, "repo": repo},
            data={"name": name, "color": color.lstrip("#"), "description": description},
        )
    except (gidgethub.InvalidField, gidgethub.ValidationError) as exc:
        if not _already_exists(exc):
            raise
        existing[name.lower()] = {"name": name}
        return Write("unchanged", {"name": name})
    existing[name.lower()] = dict(created)
    return Write("created", created, ("label",))


async def add_labels(gh: GitHubAPI, issue: dict[str, Any], names: Iterable[str]) -> Write:
    """Add the labels of ``names`` that ``issue`` does not carry yet (one request, or none)."""
    present = {n.lower() for n in label_names(issue)}
    missing: list[str] = []
    for name in names:
        if name.lower() not in present:
            present.add(name.lower())
            missing.append(name)
    if not missing:
        return Write("unchanged", issue.get("labels"))
    owner, repo, number = issue_coordinates(issue)
    labels = await gh.post(
        "/repos/{owner}/{repo}/issues/{number}/labels",
        {"owner": owner, "repo": repo, "number": number},
        data={"labels": missing},
    )
    return Write("updated", labels, tuple(missing))


async def remove_label(gh: GitHubAPI, issue: dict[str, Any], name: str) -> Write:
    """Remove ``name`` from ``issue`` if it carries it; already gone (404) is fine."""
    if name.lower() not in {n.lower() for n in label_names(issue)}:
        return Write("absent")
    owner, repo, number = issue_coordinates(issue)
    try:
        await gh.delete(
            "/repos/{owner}/{repo}/issues/{number}/labels/{name}",
            {"owner": owner, "repo": repo, "number": number, "name": name},
        )
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 404:
            raise
        return Write("absent")
    return Write("removed", None, (name,))


def label_names(issue: dict[str, Any]) -> list[str]:
    """Names of the labels on an issue or pull request (objects or plain names)."""
    names = []
    for label in issue.get("labels") or ():
        name = label.get("name") if isinstance(label, dict) else label
        if isinstance(name, str):
            names.append(name)
    return names


def repo_coordinates(payload: Mapping[str, Any]) -> tuple[str, str]:
    """(owner, repo) of the repository a webhook payload is about."""
    full_name = repository_full_name(payload)
    if full_name is None:
        raise KeyError("the payload names no repository")
    owner, _, name = full_name.partition("/")
    return owner, name


def issue_coordinates(issue: dict[str, Any]) -> tuple[str, str, int]:
    """(owner, repo, number) of an issue or pull request object.

    Taken from its API ``url`` rather than joined from a host, so it works unchanged against
    github.com, GitHub Enterprise Server and the sandbox.
    """
    url = str(issue.get("url") or "")
    match = _ISSUE_URL.search(url.replace("/pulls/", "/issues/"))
    if match is None:
        repo_url = str(issue.get("repository_url") or "")
        found = re.search(r"/repos/([^/]+)/([^/]+)/?$", repo_url)
        if found is None or "number" not in issue:
            raise ValueError(f"cannot tell which repository issue {issue.get('number')} is in")
        return found.group(1), found.group(2), int(issue["number"])
    return match["owner"], match["repo"], int(match["number"])


def _field_equal(name: str, current: Any, wanted: Any) -> bool:
    if name == "labels":
        return {n.lower() for n in label_names({"labels": current})} == {
            (w["name"] if isinstance(w, dict) else str(w)).lower() for w in wanted
        }
    if name == "assignees":
        have = {(a["login"] if isinstance(a, dict) else str(a)).lower() for a in current or ()}
        return have == {str(w).lstrip("@").lower() for w in wanted}
    if name == "milestone":
        number = current.get("number") if isinstance(current, dict) else current
        return number == wanted
    if name in ("body", "title"):
        return same_text(current, wanted)
    return current == wanted


def _normal(text: str | None) -> str:
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _written_by_app(user: Any, bot_login: str | None) -> bool:
    """Whether a comment's author is this App: its own login when known, else any bot account.

    Not ``rules.authorization.is_bot_account``, which asks whether someone is *any* bot (bots
    never run commands); here only the App's own comments may be edited in place."""
    if not isinstance(user, dict):
        return False
    if bot_login is not None:
        return str(user.get("login", "")).lower() == bot_login.lower()
    return user.get("type") == "Bot"


def _already_exists(exc: gidgethub.HTTPException) -> bool:
    errors = getattr(exc, "errors", None) or []
    if isinstance(errors, list):
        return any(isinstance(e, dict) and e.get("code") == "already_exists" for e in errors)
    return "already_exists" in str(errors)
