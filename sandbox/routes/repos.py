"""Repository reads: the repository, a collaborator's permission, file contents, required status
checks, and team membership (which the bot uses to resolve ``@org/team`` leads)."""

from __future__ import annotations

from ..errors import GitHubError, not_found
from ..routing import Ctx, Reply, RouteTable, needs

routes = RouteTable()

METADATA = needs("metadata:read")


@routes.get("/repos/{owner}/{repo}", "repos/get", permission=METADATA)
def get(ctx: Ctx) -> Reply:
    return Reply(200, ctx.render.full_repo(ctx.need_repo()))


@routes.get(
    "/repos/{owner}/{repo}/collaborators/{username}/permission",
    "repos/get-collaborator-permission-level",
    permission=METADATA,
)
def get_collaborator_permission_level(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    user = ctx.world.find_user(ctx.match["username"])
    if user is None:
        raise GitHubError(404, f"{ctx.match['username']} is not a user")
    role = ctx.world.role_of(repo, user)
    if role is None:
        raise not_found()
    return Reply(200, ctx.render.permission(repo, user, role))


@routes.get(
    "/repos/{owner}/{repo}/contents/{path:.*}",
    "repos/get-content",
    permission=needs("contents:read"),
)
def get_content(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    ref = ctx.query.get("ref") or None
    files = ctx.world.snapshot(repo, ref)
    if files is None:
        raise GitHubError(404, f"No commit found for the ref {ref}")
    path = ctx.match["path"].strip("/")
    if path in files:
        return Reply(200, ctx.render.content_file(repo, path, files[path], ref))
    prefix = f"{path}/" if path else ""
    entries: dict[str, tuple[str, bytes | None]] = {}
    for name, data in files.items():
        if not name.startswith(prefix):
            continue
        head, sep, _ = name[len(prefix) :].partition("/")
        entries[prefix + head] = ("dir", None) if sep else ("file", data)
    if not entries:
        raise not_found()
    return Reply(
        200,
        [
            ctx.render.content_entry(repo, name, kind, data, ref)
            for name, (kind, data) in sorted(entries.items())
        ],
    )


@routes.get(
    "/repos/{owner}/{repo}/branches/{branch:.+}/protection/required_status_checks",
    "repos/get-status-checks-protection",
    permission=needs("administration:read"),
)
def get_status_checks_protection(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    branch = ctx.match["branch"]
    if branch not in repo.branches:
        raise GitHubError(404, "Branch not found")
    policy = repo.protections.get(branch)
    if policy is None:
        raise GitHubError(404, "Branch not protected")
    if policy.get("required_status_checks") is False:
        raise GitHubError(404, "Required status checks not enabled")
    return Reply(200, ctx.render.status_check_policy(repo, branch, policy))


@routes.get(
    "/orgs/{org}/teams/{team_slug}/memberships/{username}",
    "teams/get-membership-for-user-in-org",
    permission=needs("members:read"),
)
def get_membership_for_user_in_org(ctx: Ctx) -> Reply:
    org = ctx.match["org"]
    inst = ctx.world.installations.get(ctx.principal.installation_id or -1)
    if inst is None or inst.account.login.lower() != org.lower():
        raise not_found()
    team = ctx.world.find_team(org, ctx.match["team_slug"])
    login = ctx.match["username"]
    if team is None or login.lower() not in team.members:
        raise not_found()
    return Reply(200, ctx.render.team_membership(team, login))
