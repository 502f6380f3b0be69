"""Pull requests: the pull itself and its changed files."""

from __future__ import annotations

from ..routing import Ctx, Reply, RouteTable, needs

routes = RouteTable()

READ = needs("pull_requests:read")
PULL = "/repos/{owner}/{repo}/pulls/{pull_number:\\d+}"
# GitHub lists at most 3000 files of a pull request, however many it changes.
MAX_FILES = 3000


@routes.get(PULL, "pulls/get", permission=READ)
def get(ctx: Ctx) -> Reply:
    issue = ctx.world.pull(ctx.need_repo(), ctx.int_param("pull_number"))
    return Reply(200, ctx.render.pull(issue))


@routes.get(PULL + "/files", "pulls/list-files", permission=READ)
def list_files(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    issue = ctx.world.pull(repo, ctx.int_param("pull_number"))
    assert issue.pull is not None
    return ctx.page(
        issue.pull.files, lambda f: ctx.render.diff_entry(repo, issue, f), cap=MAX_FILES
    )
