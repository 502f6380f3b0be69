"""What happens to every request before and after its handler, as on api.github.com.

Order: parse the body → injected fault → authenticate → find the repository and check the caller
may see it → App permission → primary rate limit → handler → ETag / ``304`` → headers → record the
call → queue the webhooks the change causes. A route the sandbox does not implement answers
``501`` with the method and path and is recorded in ``unknown_calls``, so a test can assert that
the bot never strayed off the map.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .auth import Principal
from .errors import GitHubError
from .model import Repo
from .render import Renderer
from .routing import Ctx, Endpoint, Reply

if TYPE_CHECKING:
    from .sandbox import Sandbox

API_VERSION = "2022-11-28"
_PATTERN = re.compile(r"\{(\w+):[^}]*\}")


@dataclass(frozen=True)
class Call:
    """One request the sandbox answered. ``json`` is the request body, ``response`` the answer."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    json: Any
    headers: dict[str, str]
    response: Any = None
    operation: str | None = None
    injected: bool = False


def _api_base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _etag(payload: bytes) -> str:
    return f'W/"{hashlib.sha256(payload).hexdigest()[:40]}"'


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    return any(
        candidate.strip() == "*" or candidate.strip().removeprefix("W/") == wanted
        for candidate in header.split(",")
    )


class Pipeline:
    """Turns HTTP requests into handler calls for one :class:`Sandbox`."""

    def __init__(self, sandbox: Sandbox, endpoints: list[Endpoint]) -> None:
        self.sandbox = sandbox
        self.endpoints = endpoints

    def build_app(self, pages: Iterable[web.RouteDef] = ()) -> web.Application:
        """The REST API, plus ``pages`` of GitHub's website (the App registration form)."""
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_routes(list(pages))
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, self._bind(endpoint))
        app.router.add_route("*", "/{tail:.*}", self.unknown)
        return app

    def _bind(self, endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.handle(request, endpoint)

        return handle

    # --- the pipeline -------------------------------------------------------------------------

    async def handle(self, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
        sb = self.sandbox
        raw = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        body: Any = None
        problem: GitHubError | None = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                problem = GitHubError(400, "Problems parsing JSON")

        fault = sb.faults.take(request.method, request.path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                fbody = fault.body if fault.body is not None else fault.default_body()
                response = self._respond(fault.status, fbody, dict(fault.headers))
                self._record(request, endpoint, headers, body, fault.status, fbody, injected=True)
                return response

        principal = Principal("anonymous")
        bucket = None
        extra: dict[str, str] = {}
        happenings = []
        try:
            if problem is not None:
                raise problem
            principal = sb.auth.identify(headers.get("authorization"))
            self._check_credential(endpoint, principal)
            repo = self._resolve_repo(request, endpoint, principal)
            self._check_permission(request, endpoint, principal)
            who = (
                f"installation ID {principal.installation_id}"
                if principal.kind == "installation"
                else "your IP address"
            )
            bucket = sb.limiter.check(principal.rate_key, endpoint.resource, who)
            ctx = Ctx(
                sandbox=sb,
                principal=principal,
                render=Renderer(sb.world, _api_base(request), sb.web_url),
                match=dict(request.match_info),
                query=request.query,
                body=body,
                url=str(request.url),
                repo=repo,
            )
            reply = endpoint.handler(ctx)
            happenings = reply.happenings
        except GitHubError as err:
            reply = Reply(err.status, err.body(), dict(err.headers))

        status, payload = reply.status, reply.body
        out_headers = dict(reply.headers)
        encoded = b"" if payload is None else json.dumps(payload).encode()
        if request.method == "GET" and status == 200:
            etag = _etag(encoded)
            out_headers["ETag"] = etag
            out_headers["Cache-Control"] = "private, max-age=60, s-maxage=60"
            out_headers["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
            if _etag_matches(headers.get("if-none-match"), etag):
                status, payload, encoded = 304, None, b""
        if bucket is None:
            bucket = sb.limiter.bucket(principal.rate_key, endpoint.resource)
        elif status != 304 and "x-ratelimit-remaining" not in out_headers:
            bucket.used += 1
        extra.update(bucket.headers(endpoint.resource))
        extra.update(out_headers)
        response = self._respond_bytes(status, encoded, extra, request)
        self._record(request, endpoint, headers, body, status, payload)
        if happenings:
            sb.emitter.announce(happenings)
        return response

    async def unknown(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        known = sorted({e.method + " " + _PATTERN.sub(r"{\1}", e.path) for e in self.endpoints})
        message = (
            f"GitHub sandbox: no route for {request.method} {request.path}. "
            "This call is not implemented by sandbox, so the test cannot know how GitHub "
            "would answer. Implement the operation in sandbox/routes/ or avoid the call. "
            f"Known routes: {'; '.join(known)}"
        )
        payload = {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": "501",
        }
        headers = {k.lower(): v for k, v in request.headers.items()}
        call = self._record(request, None, headers, body, 501, payload)
        self.sandbox.unknown_calls.append(call)
        return self._respond(501, payload, {})

    # --- steps --------------------------------------------------------------------------------

    def _check_credential(self, endpoint: Endpoint, principal: Principal) -> None:
        if endpoint.auth == "none":
            return
        if endpoint.auth == "app":
            if principal.kind != "app":
                raise GitHubError(
                    401,
                    "A JSON web token could not be decoded",
                    documentation_url="https://docs.github.com/rest",
                )
            return
        if principal.kind == "app":
            raise GitHubError(403, "Resource not accessible by integration")

    def _resolve_repo(
        self, request: web.Request, endpoint: Endpoint, principal: Principal
    ) -> Repo | None:
        match = request.match_info
        if "owner" not in match or "repo" not in match:
            return None
        repo = self.sandbox.world.find_repo(f"{match['owner']}/{match['repo']}")
        if repo is None:
            raise GitHubError(404, "Not Found")
        if principal.kind == "app":
            return repo
        if principal.kind == "anonymous":
            if repo.private:
                raise GitHubError(404, "Not Found")
            if request.method != "GET":
                raise GitHubError(401, "Requires authentication")
            return repo
        if repo.installation_id != principal.installation_id or (
            principal.repository_ids is not None and repo.id not in principal.repository_ids
        ):
            raise GitHubError(404, "Not Found")
        return repo

    def _check_permission(
        self, request: web.Request, endpoint: Endpoint, principal: Principal
    ) -> None:
        if principal.kind != "installation" or not endpoint.permission:
            return
        rank = {"read": 1, "write": 2, "admin": 3}
        for name, level in endpoint.permission:
            granted = principal.permissions.get(name)
            if granted is not None and rank.get(granted, 0) >= rank.get(level, 0):
                return
        raise GitHubError(403, "Resource not accessible by integration")

    # --- output -------------------------------------------------------------------------------

    def _respond(self, status: int, payload: Any, headers: dict[str, str]) -> web.Response:
        if isinstance(payload, str | bytes):
            data = payload.encode() if isinstance(payload, str) else payload
            content_type = "text/html; charset=utf-8"
        else:
            data = json.dumps(payload).encode()
            content_type = "application/json; charset=utf-8"
        out = {"Content-Type": content_type, "X-GitHub-Request-Id": self._request_id()}
        out.update(headers)
        return web.Response(status=status, body=data, headers=out)

    def _respond_bytes(
        self, status: int, data: bytes, headers: dict[str, str], request: web.Request
    ) -> web.Response:
        out = {
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Api-Version-Selected": request.headers.get(
                "X-GitHub-Api-Version", API_VERSION
            ),
            "X-GitHub-Request-Id": self._request_id(),
        }
        if status not in (204, 304):
            out["Content-Type"] = "application/json; charset=utf-8"
        out.update(headers)
        if status in (204, 304):
            return web.Response(status=status, headers=out)
        return web.Response(status=status, body=data, headers=out)

    @staticmethod
    def _request_id() -> str:
        return ":".join(secrets.token_hex(2).upper() for _ in range(5))

    def _record(
        self,
        request: web.Request,
        endpoint: Endpoint | None,
        headers: dict[str, str],
        body: Any,
        status: int,
        response: Any,
        *,
        injected: bool = False,
    ) -> Call:
        call = Call(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            status=status,
            json=body,
            headers=headers,
            response=response,
            operation=endpoint.operation if endpoint else None,
            injected=injected,
        )
        self.sandbox.calls.append(call)
        return call
