"""Check runs: create, update, list for a ref.

Validation follows GitHub: ``name`` and ``head_sha`` are required, a ``completed`` run needs a
``conclusion``, and one request carries at most 50 annotations (send more with updates, which
append).
"""

from __future__ import annotations

from ..errors import GitHubError, invalid_field
from ..routing import Ctx, Reply, RouteTable, needs

routes = RouteTable()

READ = needs("checks:read")
WRITE = needs("checks:write")


@routes.post("/repos/{owner}/{repo}/check-runs", "checks/create", permission=WRITE)
def create(ctx: Ctx) -> Reply:
    run, happenings = ctx.world.create_check_run(ctx.need_repo(), ctx.body_dict(), actor=ctx.actor)
    return Reply(201, ctx.render.check_run(run), happenings=happenings)


@routes.patch(
    "/repos/{owner}/{repo}/check-runs/{check_run_id:\\d+}", "checks/update", permission=WRITE
)
def update(ctx: Ctx) -> Reply:
    run, happenings = ctx.world.update_check_run(
        ctx.need_repo(), ctx.int_param("check_run_id"), ctx.body_dict(), actor=ctx.actor
    )
    return Reply(200, ctx.render.check_run(run), happenings=happenings)


@routes.get(
    "/repos/{owner}/{repo}/commits/{ref:.+}/check-runs", "checks/list-for-ref", permission=READ
)
def list_for_ref(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    ref = ctx.match["ref"]
    sha = ctx.world.commit_for(repo, ref)
    if sha is None:
        raise GitHubError(422, f"No commit found for SHA: {ref}")
    runs = [r for r in repo.check_runs.values() if r.head_sha == sha]
    name = ctx.query.get("check_name")
    if name:
        runs = [r for r in runs if r.name == name]
    status = ctx.query.get("status")
    if status:
        if status not in ("queued", "in_progress", "completed"):
            raise invalid_field("CheckRun", "status")
        runs = [r for r in runs if r.status == status]
    wanted = ctx.query.get("filter", "latest")
    if wanted not in ("latest", "all"):
        raise invalid_field("CheckRun", "filter")
    runs.sort(key=lambda r: -r.id)
    if wanted == "latest":
        seen: set[str] = set()
        latest = []
        for run in runs:
            if run.name not in seen:
                seen.add(run.name)
                latest.append(run)
        runs = latest
    page = ctx.page(runs, ctx.render.check_run)
    page.body = {"total_count": len(runs), "check_runs": page.body}
    return page
