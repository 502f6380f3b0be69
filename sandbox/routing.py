"""How a route is declared and what its handler receives.

Each REST operation is one small handler ``(ctx) -> Reply`` registered with its GitHub operation
id, the credential it needs and the App permission it uses. Everything common to all of them —
authentication, repository access, rate limits, ETags, faults, recording — happens once in
``pipeline.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

from multidict import MultiMapping

from .errors import GitHubError, invalid_field
from .model import Happening, Repo, User
from .render import Renderer

if TYPE_CHECKING:
    from .auth import Principal
    from .sandbox import Sandbox
    from .world import World

# "none": a route GitHub serves without credentials (the manifest code is the credential).
AuthKind = Literal["app", "installation", "none"]
Permission = tuple[tuple[str, str], ...]

DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


@dataclass
class Reply:
    """A handler's answer; ``happenings`` are the webhooks the change causes."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    happenings: list[Happening] = field(default_factory=list)


@dataclass
class Ctx:
    """What a handler gets: the sandbox, the caller, the repository (if any) and the request."""

    sandbox: Sandbox
    principal: Principal
    render: Renderer
    match: dict[str, str]
    query: MultiMapping[str]
    body: Any
    url: str
    repo: Repo | None = None

    @property
    def world(self) -> World:
        return self.sandbox.world

    @property
    def actor(self) -> User:
        """The account a write is attributed to: the App's bot user for installation tokens."""
        return self.sandbox.world.bot

    @property
    def via_app(self) -> bool:
        return self.principal.kind == "installation"

    def need_repo(self) -> Repo:
        assert self.repo is not None, "route declared without {owner}/{repo}"
        return self.repo

    def int_param(self, name: str) -> int:
        try:
            return int(self.match[name])
        except ValueError:
            raise GitHubError(404, "Not Found") from None

    def query_int(self, name: str, default: int, *, resource: str = "Issue") -> int:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise invalid_field(resource, name) from None

    def body_dict(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if not isinstance(self.body, dict):
            raise GitHubError(400, "Problems parsing JSON")
        return self.body

    def page(
        self,
        items: Sequence[Any],
        render: Callable[[Any], Any] | None = None,
        *,
        cap: int | None = None,
    ) -> Reply:
        """One page of ``items`` with GitHub's ``Link`` header (``per_page`` ≤ 100).

        ``render`` turns each item of the page (only those) into JSON.
        """
        per_page, page = self.page_params()
        if cap is not None:
            items = items[:cap]
        start = (page - 1) * per_page
        chunk = list(items[start : start + per_page])
        if render is not None:
            chunk = [render(item) for item in chunk]
        last = max(1, -(-len(items) // per_page))
        headers = {}
        link = self.link_header(page, last, per_page)
        if link:
            headers["Link"] = link
        return Reply(200, chunk, headers)

    def page_params(self) -> tuple[int, int]:
        per_page = min(max(self.query_int("per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
        return per_page, max(self.query_int("page", 1), 1)

    def link_header(self, page: int, last: int, per_page: int) -> str:
        if last <= 1:
            return ""
        base, _, _ = self.url.partition("?")

        def url_for(n: int) -> str:
            params = [(k, v) for k, v in self.query.items() if k not in ("page", "per_page")]
            params += [("per_page", str(per_page)), ("page", str(n))]
            return f"{base}?{urlencode(params)}"

        rels = []
        if page > 1:
            rels.append((url_for(min(page - 1, last)), "prev"))
        if page < last:
            rels.append((url_for(page + 1), "next"))
            rels.append((url_for(last), "last"))
        if page > 1:
            rels.append((url_for(1), "first"))
        return ", ".join(f'<{u}>; rel="{r}"' for u, r in rels)


Handler = Callable[[Ctx], Reply]


@dataclass(frozen=True)
class Endpoint:
    """One REST operation the sandbox implements."""

    method: str
    path: str
    operation: str
    handler: Handler
    auth: AuthKind = "installation"
    permission: Permission = ()
    resource: str = "core"
    allow_anonymous_read: bool = True


class RouteTable:
    """Collects endpoints declared with the ``get``/``post``/... decorators of a module."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        auth: AuthKind = "installation",
        permission: Permission = (),
        resource: str = "core",
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(method, path, operation, handler, auth, permission, resource)
            )
            return handler

        return register

    def get(self, path: str, operation: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, operation, **kw)

    def post(self, path: str, operation: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, operation, **kw)

    def patch(self, path: str, operation: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, operation, **kw)

    def delete(self, path: str, operation: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, operation, **kw)


def needs(*pairs: str) -> Permission:
    """``needs("issues:write", "pull_requests:write")``: any one of the permissions will do."""
    out = []
    for pair in pairs:
        name, _, level = pair.partition(":")
        out.append((name, level))
    return tuple(out)
