"""App registration from a manifest: GitHub's web form and the code it hands back.

GitHub's side of the manifest flow has two halves. On the website, a form posted to
``/settings/apps/new`` (or ``/organizations/ORG/settings/apps/new``) with a ``manifest`` field
shows the registration page; once the person confirms, GitHub creates the App and sends the
browser to the manifest's ``redirect_url`` with a temporary ``code`` (and the ``state`` it was
given). Over the API, ``POST /app-manifests/{code}/conversions`` trades the code, once and
within an hour, for the App's id, private key (``pem``) and webhook secret.

The sandbox plays the person confirming at once. It serves one App, so a registration makes the
new App the sandbox's App: its JWTs are then the ones accepted.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from .keys import generate_app_key
from .manifest import manifest_errors

if TYPE_CHECKING:
    from .sandbox import Sandbox

CODE_LIFETIME = 3600.0
#: The account signed in to the sandbox's website: it owns Apps registered for a person.
WEB_LOGIN = "monalisa"


@dataclass
class Registered:
    """What a conversion code hands back, and until when."""

    app_id: int
    private_key_pem: str
    webhook_secret: str | None
    client_secret: str
    expires_at: float


class ManifestRefused(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class Registrations:
    """Registered-but-not-converted Apps, by code."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.pending: dict[str, Registered] = {}
        self.manifests: list[dict[str, Any]] = []

    def register(self, manifest: Any, *, org: str | None = None) -> str:
        """Create the App ``manifest`` describes, as GitHub does once the person confirms;
        returns the conversion code. ``ManifestRefused`` with GitHub's reasons otherwise."""
        errors = manifest_errors(manifest)
        if errors:
            raise ManifestRefused(errors)
        sb = self.sandbox
        world = sb.world
        if org is not None:
            account = world.find_user(org)
            if account is None or account.type != "Organization":
                raise ManifestRefused([f"Organization {org!r} not found"])
            owner = account
        else:
            owner = world.user(WEB_LOGIN)
        private_pem, public_pem = generate_app_key()
        name = manifest.get("name") or f"{owner.login}'s App"
        hook = manifest.get("hook_attributes") or {}
        secret = secrets.token_hex(20) if hook.get("url") else None
        app_id = world.app_id + 1
        sb.become_app(
            app_id=app_id,
            slug=_slug(name),
            name=name,
            public_key_pem=public_pem,
            private_key_pem=private_pem,
            permissions={"metadata": "read", **(manifest.get("default_permissions") or {})},
            events=manifest.get("default_events") or [],
            owner=owner,
            webhook_url=hook.get("url"),
            webhook_secret=secret,
        )
        code = secrets.token_hex(10)
        self.pending[code] = Registered(
            app_id=app_id,
            private_key_pem=private_pem,
            webhook_secret=secret,
            client_secret=secrets.token_hex(20),
            expires_at=world.now() + CODE_LIFETIME,
        )
        self.manifests.append(manifest)
        return code

    def convert(self, code: str) -> Registered | None:
        """The registration behind ``code``, once; None for an unknown, used or expired code."""
        found = self.pending.pop(code, None)
        if found is None or found.expires_at <= self.sandbox.world.now():
            return None
        if found.app_id != self.sandbox.world.app_id:
            return None  # another App was registered since: this one is gone from the sandbox
        return found

    # --- the website --------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/settings/apps/new", self.new_app),
            web.post("/organizations/{org}/settings/apps/new", self.new_app),
        ]

    async def new_app(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        raw = form.get("manifest")
        try:
            manifest = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            manifest = None
        if manifest is None:
            return _page(400, ["The manifest field is missing or is not JSON"])
        org = request.match_info.get("org")
        try:
            code = self.register(manifest, org=org)
        except ManifestRefused as refused:
            return _page(422, refused.errors)
        redirect = manifest.get("redirect_url")
        if not redirect:
            raise web.HTTPFound(f"{request.scheme}://{request.host}/apps/{self.sandbox.app_slug}")
        params = {"code": code}
        if "state" in request.query:
            params["state"] = request.query["state"]
        raise web.HTTPFound(_with_query(redirect, params))


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&{urlencode(params)}" if parts.query else urlencode(params)
    return urlunsplit(parts._replace(query=query))


def _page(status: int, errors: list[str]) -> web.Response:
    items = "".join(f"<li>{html.escape(e)}</li>" for e in errors)
    body = (
        "<!doctype html><title>Register new GitHub App</title>"
        f'<div class="flash flash-error"><ul>{items}</ul></div>'
    )
    return web.Response(status=status, text=body, content_type="text/html")


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "app"
