"""Issues, comments, labels, the timeline and comment reactions.

Pull requests are issues here as on GitHub: they appear in ``issues/list-for-repo``, take
labels and comments through these routes, and announce changes as ``pull_request`` events.
"""

from __future__ import annotations

from datetime import datetime

from ..errors import GitHubError, invalid_field
from ..model import Issue
from ..routing import Ctx, Reply, RouteTable, needs
from ..world import label_names, label_names_from_body

routes = RouteTable()

READ = needs("issues:read", "pull_requests:read")
WRITE = needs("issues:write", "pull_requests:write")
ISSUES = "/repos/{owner}/{repo}/issues"
ONE = ISSUES + "/{issue_number:\\d+}"
COMMENT = ISSUES + "/comments/{comment_id:\\d+}"


def _since(ctx: Ctx, resource: str) -> float | None:
    raw = ctx.query.get("since")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid_field(resource, "since") from None


def _choice(ctx: Ctx, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = ctx.query.get(name, default) or default
    if value not in allowed:
        raise invalid_field("Issue", name)
    return value


@routes.get(ISSUES, "issues/list-for-repo", permission=READ)
def list_for_repo(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    state = _choice(ctx, "state", ("open", "closed", "all"), "open")
    sort = _choice(ctx, "sort", ("created", "updated", "comments"), "created")
    direction = _choice(ctx, "direction", ("asc", "desc"), "desc")
    since = _since(ctx, "Issue")
    wanted_labels = [
        name.strip().lower() for name in ctx.query.get("labels", "").split(",") if name.strip()
    ]
    creator = ctx.query.get("creator")
    assignee = ctx.query.get("assignee")

    def keep(issue: Issue) -> bool:
        if state != "all" and issue.state != state:
            return False
        names = {label.name.lower() for label in issue.labels}
        if any(name not in names for name in wanted_labels):
            return False
        if since is not None and issue.updated_at < since:
            return False
        if creator and issue.user.login.lower() != creator.lower():
            return False
        if assignee == "none":
            return not issue.assignees
        if assignee == "*":
            return bool(issue.assignees)
        if assignee:
            return any(u.login.lower() == assignee.lower() for u in issue.assignees)
        return True

    def key(issue: Issue) -> tuple[float, int]:
        value = {
            "created": issue.created_at,
            "updated": issue.updated_at,
            "comments": float(len(issue.comment_ids)),
        }[sort]
        return (value, issue.number)

    found = sorted(
        (i for i in repo.issues.values() if keep(i)), key=key, reverse=direction == "desc"
    )
    return ctx.page(found, ctx.render.issue)


@routes.post(ISSUES, "issues/create", permission=needs("issues:write"))
def create(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    body = ctx.body_dict()
    labels = body.get("labels") or []
    assignees = list(body.get("assignees") or [])
    if body.get("assignee"):
        assignees.append(body["assignee"])
    issue, happenings = ctx.world.create_issue(
        repo,
        title=body.get("title"),
        body=body.get("body"),
        user=ctx.actor,
        labels=label_names(labels),
        assignees=[a for a in assignees if isinstance(a, str)],
        via_app=ctx.via_app,
    )
    return Reply(201, ctx.render.issue(issue), happenings=happenings)


@routes.get(ONE, "issues/get", permission=READ)
def get(ctx: Ctx) -> Reply:
    issue = ctx.world.issue(ctx.need_repo(), ctx.int_param("issue_number"))
    return Reply(200, ctx.render.issue(issue))


@routes.patch(ONE, "issues/update", permission=WRITE)
def update(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    body = ctx.body_dict()
    issue, happenings = ctx.world.update_issue(
        repo, ctx.int_param("issue_number"), body, actor=ctx.actor, via_app=ctx.via_app
    )
    return Reply(200, ctx.render.issue(issue), happenings=happenings)


@routes.get(ONE + "/comments", "issues/list-comments", permission=READ)
def list_comments(ctx: Ctx) -> Reply:
    issue = ctx.world.issue(ctx.need_repo(), ctx.int_param("issue_number"))
    since = _since(ctx, "IssueComment")
    comments = [ctx.world.comments[cid] for cid in issue.comment_ids]
    if since is not None:
        comments = [c for c in comments if c.updated_at >= since]
    return ctx.page(comments, ctx.render.comment)


@routes.post(ONE + "/comments", "issues/create-comment", permission=WRITE)
def create_comment(ctx: Ctx) -> Reply:
    body = ctx.body_dict()
    comment, happenings = ctx.world.add_comment(
        ctx.need_repo(),
        ctx.int_param("issue_number"),
        body.get("body"),
        user=ctx.actor,
        via_app=ctx.via_app,
    )
    return Reply(201, ctx.render.comment(comment), happenings=happenings)


@routes.get(COMMENT, "issues/get-comment", permission=READ)
def get_comment(ctx: Ctx) -> Reply:
    comment = ctx.world.comment(ctx.need_repo(), ctx.int_param("comment_id"))
    return Reply(200, ctx.render.comment(comment))


@routes.patch(COMMENT, "issues/update-comment", permission=WRITE)
def update_comment(ctx: Ctx) -> Reply:
    comment, happenings = ctx.world.edit_comment(
        ctx.need_repo(),
        ctx.int_param("comment_id"),
        ctx.body_dict().get("body"),
        actor=ctx.actor,
    )
    return Reply(200, ctx.render.comment(comment), happenings=happenings)


@routes.delete(COMMENT, "issues/delete-comment", permission=WRITE)
def delete_comment(ctx: Ctx) -> Reply:
    happenings = ctx.world.delete_comment(
        ctx.need_repo(), ctx.int_param("comment_id"), actor=ctx.actor
    )
    return Reply(204, None, happenings=happenings)


@routes.post(COMMENT + "/reactions", "reactions/create-for-issue-comment", permission=WRITE)
def create_reaction(ctx: Ctx) -> Reply:
    comment = ctx.world.comment(ctx.need_repo(), ctx.int_param("comment_id"))
    reaction, created = ctx.world.react(comment, ctx.actor, ctx.body_dict().get("content"))
    return Reply(201 if created else 200, ctx.render.reaction(reaction))


@routes.post(ONE + "/labels", "issues/add-labels", permission=WRITE)
def add_labels(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    number = ctx.int_param("issue_number")
    if ctx.body is not None and not isinstance(ctx.body, dict | list):
        raise GitHubError(400, "Problems parsing JSON")
    happenings = ctx.world.add_labels(
        repo, number, label_names_from_body(ctx.body), actor=ctx.actor, via_app=ctx.via_app
    )
    issue = ctx.world.issue(repo, number)
    return Reply(200, [ctx.render.label(repo, lb) for lb in issue.labels], happenings=happenings)


@routes.delete(ONE + "/labels/{name}", "issues/remove-label", permission=WRITE)
def remove_label(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    number = ctx.int_param("issue_number")
    happenings = ctx.world.remove_label(
        repo, number, ctx.match["name"], actor=ctx.actor, via_app=ctx.via_app
    )
    issue = ctx.world.issue(repo, number)
    return Reply(200, [ctx.render.label(repo, lb) for lb in issue.labels], happenings=happenings)


@routes.get("/repos/{owner}/{repo}/labels", "issues/list-labels-for-repo", permission=READ)
def list_labels_for_repo(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    labels = sorted(repo.labels.values(), key=lambda lb: lb.id)
    return ctx.page(labels, lambda lb: ctx.render.label(repo, lb))


@routes.post("/repos/{owner}/{repo}/labels", "issues/create-label", permission=WRITE)
def create_label(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    body = ctx.body_dict()
    label = ctx.world.create_label(
        repo, body.get("name"), body.get("color"), body.get("description")
    )
    return Reply(201, ctx.render.label(repo, label))


@routes.get(ONE + "/timeline", "issues/list-events-for-timeline", permission=READ)
def list_events_for_timeline(ctx: Ctx) -> Reply:
    issue = ctx.world.issue(ctx.need_repo(), ctx.int_param("issue_number"))
    return ctx.page(ctx.render.timeline(issue))
