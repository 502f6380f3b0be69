"""The App's own endpoints: who am I, installations, installation tokens, webhook deliveries.

All of them take the App JWT, never an installation token.
"""

from __future__ import annotations

from typing import Any

from ..errors import GitHubError, invalid_field, not_found
from ..render import iso
from ..routing import Ctx, Reply, RouteTable

routes = RouteTable()


@routes.get("/app", "apps/get-authenticated", auth="app")
def get_authenticated(ctx: Ctx) -> Reply:
    return Reply(200, ctx.render.app())


@routes.get("/app/installations", "apps/list-installations", auth="app")
def list_installations(ctx: Ctx) -> Reply:
    installs = sorted(ctx.world.installations.values(), key=lambda i: i.id)
    return ctx.page(installs, ctx.render.installation)


@routes.get("/repos/{owner}/{repo}/installation", "apps/get-repo-installation", auth="app")
def get_repo_installation(ctx: Ctx) -> Reply:
    repo = ctx.need_repo()
    return Reply(200, ctx.render.installation(ctx.world.installation_of(repo)))


@routes.post(
    "/app/installations/{installation_id}/access_tokens",
    "apps/create-installation-access-token",
    auth="app",
)
def create_installation_access_token(ctx: Ctx) -> Reply:
    world = ctx.world
    inst = world.installations.get(ctx.int_param("installation_id"))
    if inst is None:
        raise not_found()
    if inst.suspended_at is not None:
        raise GitHubError(403, "This installation has been suspended")
    body = ctx.body_dict()
    repos = world.repos_of(inst.id)
    chosen = None
    if body.get("repositories") is not None or body.get("repository_ids") is not None:
        by_name = {r.name.lower(): r for r in repos}
        by_id = {r.id: r for r in repos}
        chosen = []
        for name in body.get("repositories") or []:
            if not isinstance(name, str) or name.lower() not in by_name:
                raise GitHubError(
                    422,
                    "There is at least one repository that does not exist or is not "
                    "accessible to the parent installation.",
                )
            chosen.append(by_name[name.lower()])
        for rid in body.get("repository_ids") or []:
            if rid not in by_id:
                raise GitHubError(
                    422,
                    "There is at least one repository that does not exist or is not "
                    "accessible to the parent installation.",
                )
            chosen.append(by_id[rid])
    permissions = dict(inst.permissions)
    asked = body.get("permissions")
    if asked is not None:
        if not isinstance(asked, dict):
            raise invalid_field("Installation", "permissions")
        rank = {"read": 1, "write": 2, "admin": 3}
        for name, level in asked.items():
            if rank.get(level, 99) > rank.get(inst.permissions.get(name, ""), 0):
                raise GitHubError(
                    422,
                    f"The permissions requested are not granted to this installation. "
                    f"({name}: {level})",
                )
        permissions = dict(asked)
    issued = ctx.sandbox.auth.mint(
        inst.id, permissions, [r.id for r in chosen] if chosen is not None else None
    )
    out: dict[str, Any] = {
        "token": issued.token,
        "expires_at": iso(issued.expires_at),
        "permissions": permissions,
        "repository_selection": "selected" if chosen is not None else inst.repository_selection,
    }
    if chosen is not None:
        out["repositories"] = [ctx.render.repo(r) for r in chosen]
    return Reply(201, out)


@routes.get("/app/hook/deliveries", "apps/list-webhook-deliveries", auth="app")
def list_webhook_deliveries(ctx: Ctx) -> Reply:
    per_page, _ = ctx.page_params()
    deliveries = sorted(ctx.world.deliveries, key=lambda d: -d.id)
    wanted = ctx.query.get("status")
    if wanted == "success":
        deliveries = [d for d in deliveries if d.status == "OK"]
    elif wanted == "failure":
        deliveries = [d for d in deliveries if d.status != "OK"]
    elif wanted is not None:
        raise invalid_field("HookDelivery", "status")
    cursor = ctx.query.get("cursor")
    if cursor:
        try:
            below = int(cursor)
        except ValueError:
            raise GitHubError(400, "Bad Request") from None
        deliveries = [d for d in deliveries if d.id < below]
    chunk = deliveries[:per_page]
    headers = {}
    if len(deliveries) > per_page:
        base = ctx.url.partition("?")[0]
        extra = f"&status={wanted}" if wanted else ""
        headers["Link"] = f'<{base}?per_page={per_page}&cursor={chunk[-1].id}{extra}>; rel="next"'
    return Reply(200, [ctx.render.delivery(d) for d in chunk], headers)


@routes.get("/app/hook/deliveries/{delivery_id}", "apps/get-webhook-delivery", auth="app")
def get_webhook_delivery(ctx: Ctx) -> Reply:
    wanted = ctx.int_param("delivery_id")
    found = next((d for d in ctx.world.deliveries if d.id == wanted), None)
    if found is None:
        raise not_found()
    out = ctx.render.delivery(found)
    out["url"] = "https://bot.example/webhook"
    out["request"] = {
        "headers": {
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Delivery": found.guid,
            "X-GitHub-Event": found.event,
            "X-GitHub-Hook-ID": "1",
            "X-GitHub-Hook-Installation-Target-Type": "integration",
        },
        "payload": found.payload,
    }
    out["response"] = {"headers": {}, "payload": None}
    return Reply(200, out)


@routes.get("/installation/repositories", "apps/list-repos-accessible-to-installation")
def list_installation_repositories(ctx: Ctx) -> Reply:
    inst = ctx.principal.installation_id
    repos = sorted(ctx.world.repos_of(inst) if inst is not None else [], key=lambda r: r.id)
    allowed = ctx.principal.repository_ids
    if allowed is not None:
        repos = [r for r in repos if r.id in allowed]
    reply = ctx.page(repos, ctx.render.repo)
    installation = ctx.world.installations.get(inst) if inst is not None else None
    selection = installation.repository_selection if installation is not None else "all"
    return Reply(
        reply.status,
        {"total_count": len(repos), "repositories": reply.body, "repository_selection": selection},
        reply.headers,
    )


@routes.post(
    "/app/hook/deliveries/{delivery_id}/attempts",
    "apps/redeliver-webhook-delivery",
    auth="app",
)
def redeliver_webhook_delivery(ctx: Ctx) -> Reply:
    wanted = ctx.int_param("delivery_id")
    found = next((d for d in ctx.world.deliveries if d.id == wanted), None)
    if found is None:
        raise not_found()
    if ctx.sandbox.webhook_sink is not None:
        ctx.sandbox.emitter.schedule(found.event, found.payload, guid=found.guid, redelivery=True)
    else:
        ctx.world.record_delivery(
            found.event,
            found.payload,
            guid=found.guid,
            status_code=found.status_code,
            redelivery=True,
        )
    return Reply(202, {})


@routes.post(
    "/app-manifests/{code}/conversions", "apps/create-from-manifest", auth="none", resource="core"
)
def create_from_manifest(ctx: Ctx) -> Reply:
    found = ctx.sandbox.registrations.convert(ctx.match["code"])
    if found is None:
        raise not_found()
    return Reply(
        201,
        {
            **ctx.render.app(),
            "client_secret": found.client_secret,
            "webhook_secret": found.webhook_secret,
            "pem": found.private_key_pem,
        },
    )


@routes.get("/app/hook/config", "apps/get-webhook-config-for-app", auth="app")
def get_webhook_config(ctx: Ctx) -> Reply:
    sb = ctx.sandbox
    return Reply(
        200,
        {
            "content_type": "json",
            "insecure_ssl": "0",
            "url": sb.webhook_url or "",
            # GitHub never shows the secret, only whether there is one.
            **({"secret": "********"} if sb.webhook_secret else {}),
        },
    )
