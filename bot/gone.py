"""Whether a delivery's own comment, issue or pull request is gone from GitHub.

A delivery can outlive its subject: a ``/harden`` comment deleted before the workers reach it,
an issue deleted or a pull request's repository gone. Its handlers then meet a 404 that no
retry can change, and retrying would hold every later delivery of the same subject (an
incident's whole queue) behind it for minutes. When a handler meets a 404, the web shell asks
here whether the delivery's own object is still there: if not, the delivery is finished, with
nothing to act on. A 404 for anything else still retries (docs/hostile-input.md).
"""

from __future__ import annotations

from typing import Any

import gidgethub
from gidgethub.abc import GitHubAPI

__all__ = ["own_object_gone", "own_objects"]


def own_objects(event: str, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """``(what, API path)`` of the objects a delivery is about, the most specific first."""
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    if not isinstance(name, str) or "/" not in name:
        return []
    found: list[tuple[str, str]] = []
    comment = payload.get("comment")
    if event == "issue_comment" and isinstance(comment, dict) and _id(comment.get("id")):
        found.append((f"comment {comment['id']}", f"/repos/{name}/issues/comments/{comment['id']}"))
    issue = payload.get("issue")
    if (
        event in ("issues", "issue_comment")
        and isinstance(issue, dict)
        and _id(issue.get("number"))
    ):
        found.append((f"issue #{issue['number']}", f"/repos/{name}/issues/{issue['number']}"))
    pull = payload.get("pull_request")
    if event == "pull_request" and isinstance(pull, dict) and _id(pull.get("number")):
        found.append((f"pull request #{pull['number']}", f"/repos/{name}/pulls/{pull['number']}"))
    return found


async def own_object_gone(gh: GitHubAPI, event: str, payload: dict[str, Any]) -> str | None:
    """What of the delivery's own objects GitHub answers 404 or 410 for, or None."""
    for what, path in own_objects(event, payload):
        try:
            await gh.getitem(path)
        except gidgethub.BadRequest as exc:
            if int(exc.status_code) in (404, 410):
                return what
            raise
    return None


def _id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
