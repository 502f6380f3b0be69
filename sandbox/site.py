"""The few website pages a person uses between registering the App and its first incident.

``python -m sandbox`` serves them beside the REST API so that the whole path of the README's
Quick start — register (``python -m bot setup``), run, install, open an incident — can be
walked on one machine with no GitHub account. The person is the signed-in user ``monalisa``.

- ``GET /apps/{slug}/installations/new``: installs the App on ``monalisa/service`` (created on
  first use) and delivers ``installation.created`` to the App's webhook.
- ``GET /{owner}/{repo}/issues``: the repository's issues with their labels, and a form to open
  one; ``POST`` opens it as ``monalisa`` and delivers ``issues.opened``.
- ``GET /{owner}/{repo}/issues/{number}``: one issue, its body and comments.

Deliveries (these and the App's own writes) go to the webhook URL the App was registered with,
signed with its secret, as GitHub sends them.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import uuid
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .registration import WEB_LOGIN

if TYPE_CHECKING:
    from .sandbox import Sandbox

DEMO_REPOSITORY = "service"


class Site:
    """The pages, and the webhook sender that gives the App its deliveries."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.session: aiohttp.ClientSession | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/apps/{slug}/installations/new", self.install),
            web.get("/{owner}/{repo}/issues", self.issues),
            web.post("/{owner}/{repo}/issues", self.open_issue),
            web.get("/{owner}/{repo}/issues/{number:\\d+}", self.issue),
        ]

    # --- deliveries -------------------------------------------------------------------------

    async def deliver(self, event: str, payload: dict[str, Any], delivery_id: str) -> int:
        """POST one delivery to the App's webhook as GitHub does; its status code."""
        sb = self.sandbox
        if not sb.webhook_url:
            return 0
        body = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sandbox",
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(sb.app_id),
        }
        if sb.webhook_secret:
            digest = hmac.new(sb.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Hub-Signature-256"] = "sha256=" + digest
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self.session.post(sb.webhook_url, data=body, headers=headers) as answer:
            return answer.status

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def _send(self, event: str, payload: dict[str, Any]) -> None:
        self.sandbox.emitter.schedule(event, payload, guid=str(uuid.uuid4()))

    # --- pages ------------------------------------------------------------------------------

    async def install(self, request: web.Request) -> web.StreamResponse:
        sb = self.sandbox
        world = sb.world
        if request.match_info["slug"] != sb.app_slug:
            return _page(404, "Not Found", "<p>No such App.</p>")
        full_name = f"{WEB_LOGIN}/{DEMO_REPOSITORY}"
        if world.find_repo(full_name) is None:
            installation_id = max(world.installations, default=0) + 1
            inst = world.add_installation(WEB_LOGIN, id=installation_id, account_type="User")
            repo = world.add_repo(full_name, installation_id=inst.id)
            render = sb._render
            self._send(
                "installation",
                {
                    "action": "created",
                    "installation": render.installation(inst),
                    "repositories": [
                        {
                            "id": repo.id,
                            "node_id": render.repo(repo)["node_id"],
                            "name": repo.name,
                            "full_name": repo.full_name,
                            "private": repo.private,
                        }
                    ],
                    "requester": None,
                    "sender": render.user(world.user(WEB_LOGIN)),
                },
            )
        raise web.HTTPFound(f"/{full_name}/issues")

    async def issues(self, request: web.Request) -> web.StreamResponse:
        repo = self._repo(request)
        rows = "".join(
            f'<li><a href="/{repo.full_name}/issues/{i.number}">#{i.number} '
            f"{html.escape(i.title)}</a> [{html.escape(_labels(i))}] {i.state}</li>"
            for i in sorted(repo.issues.values(), key=lambda i: i.number)
        )
        form = (
            f'<form method="post" action="/{repo.full_name}/issues">'
            '<p><input name="title" placeholder="Title" size="60"></p>'
            '<p><textarea name="body" rows="8" cols="60">### Findings\n'
            "- missed detection: the pager did not fire</textarea></p>"
            '<p><input name="labels" value="incident"> (labels, comma-separated)</p>'
            '<button type="submit">Submit new issue</button></form>'
        )
        return _page(200, f"Issues · {repo.full_name}", f"<ul>{rows}</ul><h2>New issue</h2>{form}")

    async def open_issue(self, request: web.Request) -> web.StreamResponse:
        repo = self._repo(request)
        form = await request.post()
        title = str(form.get("title") or "").strip() or "Untitled"
        labels = [x.strip() for x in str(form.get("labels") or "").split(",") if x.strip()]
        sb = self.sandbox
        issue = sb.open_issue(
            repo.full_name,
            title=title,
            body=str(form.get("body") or ""),
            labels=labels,
            user=WEB_LOGIN,
        )
        self._send("issues", sb.issue_event(repo.full_name, issue["number"], "opened", WEB_LOGIN))
        raise web.HTTPFound(f"/{repo.full_name}/issues/{issue['number']}")

    async def issue(self, request: web.Request) -> web.StreamResponse:
        repo = self._repo(request)
        found = repo.issues.get(int(request.match_info["number"]))
        if found is None:
            raise web.HTTPNotFound()
        comments = "".join(
            f"<li><b>{html.escape(c.user.login)}</b><pre>{html.escape(c.body)}</pre></li>"
            for c in self.sandbox.world.comments.values()
            if c.repo.lower() == repo.full_name.lower() and c.issue_number == found.number
        )
        body = (
            f"<p>[{html.escape(_labels(found))}] {found.state}</p>"
            f"<pre>{html.escape(found.body or '')}</pre><h2>Comments</h2><ul>{comments}</ul>"
            f'<p><a href="/{repo.full_name}/issues">All issues</a></p>'
        )
        return _page(200, f"#{found.number} {found.title}", body)

    def _repo(self, request: web.Request) -> Any:
        found = self.sandbox.world.find_repo(
            f"{request.match_info['owner']}/{request.match_info['repo']}"
        )
        if found is None:
            raise web.HTTPNotFound()
        return found


def _labels(issue: Any) -> str:
    return ", ".join(label.name for label in issue.labels)


def _page(status: int, title: str, body: str) -> web.Response:
    text = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(status=status, text=text, content_type="text/html")
