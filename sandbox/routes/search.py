"""Issue and pull request search (``GET /search/issues``), on the search rate limit."""

from __future__ import annotations

from ..errors import GitHubError, validation_failed
from ..model import Issue
from ..routing import Ctx, Reply, RouteTable
from ..search import matcher, parse

routes = RouteTable()

# GitHub returns at most the first 1000 results of any search.
MAX_RESULTS = 1000
NOT_SEARCHABLE = (
    "The listed users and repositories cannot be searched either because the resources do not "
    "exist or you do not have permission to view them."
)


@routes.get("/search/issues", "search/issues-and-pull-requests", resource="search")
def issues_and_pull_requests(ctx: Ctx) -> Reply:
    q = ctx.query.get("q", "").strip()
    if not q:
        raise validation_failed({"resource": "Search", "field": "q", "code": "missing"})
    query = parse(q)
    world = ctx.world
    visible = [
        repo
        for repo in world.repos.values()
        if not repo.private
        or (
            ctx.principal.kind == "installation"
            and repo.installation_id == ctx.principal.installation_id
        )
    ]
    names = {r.full_name.lower() for r in visible}
    if any(name not in names for name in query.repos):
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[
                {
                    "message": NOT_SEARCHABLE,
                    "resource": "Search",
                    "field": "q",
                    "code": "invalid",
                }
            ],
        )

    def comments_of(issue: Issue) -> list[str]:
        return [world.comments[c].body for c in issue.comment_ids]

    keep = matcher(query, comments_of)
    found = [i for repo in visible for i in repo.issues.values() if keep(i)]
    sort = ctx.query.get("sort")
    order = ctx.query.get("order", "desc")
    keys = {
        "created": lambda i: i.created_at,
        "updated": lambda i: i.updated_at,
        "comments": lambda i: len(i.comment_ids),
    }
    found.sort(key=keys.get(sort or "", lambda i: i.created_at), reverse=order != "asc")
    capped = found[:MAX_RESULTS]

    def item(issue: Issue) -> dict:
        out = ctx.render.issue(issue)
        out["score"] = 1.0
        return out

    page = ctx.page(capped, item)
    page.body = {
        "total_count": len(found),
        "incomplete_results": False,
        "items": page.body,
        # Text search here is plain substring matching, i.e. GitHub's lexical search.
        "search_type": "lexical",
    }
    return page
