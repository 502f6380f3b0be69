"""``python -m bot setup``: register the GitHub App with GitHub's manifest flow.

1. A page on ``HOST:PORT`` (loopback unless ``HOST`` is set) shows what will be registered and a
   "Register GitHub App" button. The button posts ``app.yml`` as the manifest — its webhook URL
   set to ``PUBLIC_URL/webhook``, its ``redirect_url`` to this server's ``/setup/callback`` — to
   GitHub's ``/settings/apps/new`` (``/organizations/ORG/settings/apps/new`` with ``--org``),
   with a ``state`` only this process knows.
2. GitHub registers the App and sends the browser back to ``/setup/callback?code=…&state=…``.
   A callback whose ``state`` is not ours is refused: otherwise anyone could make this process
   store the credentials of an App *they* control.
3. The code is exchanged (``POST /app-manifests/{code}/conversions``, once, within an hour) for
   the App's id, private key and webhook secret, written to ``.env`` — created with mode 0600
   in one step, and never over an existing file without ``--force``.
4. The page links to the App's installation page; the process exits 0.

See README "Quick start" and docs/deploying.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import html
import json
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import yaml
from aiohttp import web

from bot.settings import (
    DEFAULT_API_URL,
    ENV_FILE,
    SettingsError,
    api_url_from,
    integer_from,
    process_env,
)
from bot.startup import bind

# Keys GitHub accepts in a manifest; app.yml may hold comments and nothing else.
MANIFEST_KEYS = (
    "name",
    "url",
    "hook_attributes",
    "redirect_url",
    "callback_urls",
    "setup_url",
    "description",
    "public",
    "default_events",
    "default_permissions",
    "request_oauth_on_install",
    "setup_on_update",
)
CALLBACK_PATH = "/setup/callback"
# Loopback unless the operator asks otherwise: whoever can load the page can read its state.
SETUP_HOST = "127.0.0.1"
_ORG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


class SetupError(Exception):
    """One line an operator can act on (exit status 2)."""


def manifest_path() -> Path:
    """``app.yml`` in the working directory, else the one beside this checkout's package."""
    here = Path("app.yml")
    return here if here.is_file() else Path(__file__).resolve().parent.parent / "app.yml"


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SetupError(f"cannot read the App manifest {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SetupError(f"the App manifest {path} is not a mapping")
    unknown = sorted(set(data) - set(MANIFEST_KEYS))
    if unknown:
        raise SetupError(f"the App manifest {path} has keys GitHub refuses: {', '.join(unknown)}")
    return data


def build_manifest(
    template: Mapping[str, Any], *, public_url: str, callback: str, webhook_url: str | None = None
) -> dict[str, Any]:
    """The manifest to post: ``template`` with this deployment's webhook and callback URLs.

    The webhook is ``public_url/webhook`` unless ``webhook_url`` names it exactly (a forwarding
    channel such as smee.io takes deliveries at its own URL, with no path after it).
    """
    manifest = dict(template)
    manifest["hook_attributes"] = {
        **dict(template.get("hook_attributes") or {}),
        "url": webhook_url or public_url.rstrip("/") + "/webhook",
        "active": True,
    }
    manifest["redirect_url"] = callback
    manifest.setdefault("url", public_url)
    return manifest


def web_url(api_url: str) -> str:
    """GitHub's website for a REST base: api.github.com → github.com, ``https://HOST/api/v3`` →
    ``https://HOST`` (Enterprise Server), ``api.SUB.ghe.com`` → ``SUB.ghe.com``; any other base
    is taken to serve both (a stand-in such as the test sandbox)."""
    parts = urlsplit(api_url.rstrip("/"))
    if parts.netloc == "api.github.com":
        return "https://github.com"
    if parts.path.endswith("/api/v3"):
        return f"{parts.scheme}://{parts.netloc}{parts.path.removesuffix('/api/v3')}"
    if parts.netloc.startswith("api.") and parts.netloc.endswith(".ghe.com"):
        return f"{parts.scheme}://{parts.netloc.removeprefix('api.')}"
    return api_url.rstrip("/")


def registration_url(api_url: str, org: str | None, state: str) -> str:
    base = web_url(api_url)
    where = (
        f"/organizations/{quote(org, safe='')}/settings/apps/new" if org else "/settings/apps/new"
    )
    return f"{base}{where}?state={quote(state, safe='')}"


# --- .env -------------------------------------------------------------------------------------


def env_text(app: Mapping[str, Any], api_url: str, now: datetime) -> str:
    """The ``.env`` lines for a converted App, in the format every reader of such files shares:
    ``KEY=value`` with the key's line breaks written as backslash-n (the settings accept that), so
    python-dotenv, docker compose's ``env_file`` and ``kubectl create secret --from-env-file``
    (which takes quotes literally) all read the same values."""
    lines = [
        f"# Written by `python -m bot setup` on {now.isoformat(timespec='seconds')} for the GitHub",
        f"# App {(str(app.get('name') or '?').splitlines() or ['?'])[0]!r} (id {app['id']}). "
        "Keep it secret (mode 0600).",
        "# `python -m bot` reads this file; variables set in the environment win over it.",
        f"GITHUB_APP_ID={int(app['id'])}",
        f"GITHUB_PRIVATE_KEY={_value(str(app['pem']).strip())}",
        f"GITHUB_WEBHOOK_SECRET={_value(str(app['webhook_secret']))}",
    ]
    if api_url != DEFAULT_API_URL:
        lines.append(f"GITHUB_API_URL={api_url}")
    return "\n".join(lines) + "\n"


_PLAIN = re.compile(r"^[A-Za-z0-9 +/=._:-]*$")


def _value(value: str) -> str:
    """``value`` written bare, line breaks as backslash-n; GitHub's keys and secrets always can."""
    flat = value.replace("\n", "\\n")
    if not _PLAIN.match(flat.replace("\\n", "")):
        raise SetupError("GitHub returned a credential with characters .env cannot hold bare")
    return flat


def write_env(path: Path, text: str, *, force: bool) -> None:
    """Create ``path`` holding ``text`` with mode 0600 in one step: the secret is never readable
    by others, not even for an instant, and a reader never sees half a file. Without ``force``
    an existing file is left alone (``FileExistsError``)."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=".env.", suffix=".tmp", dir=directory)  # mode 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if path exists: no check-then-write race
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


# --- the setup server ---------------------------------------------------------------------------


@dataclass
class SetupFlow:
    """One registration: the manifest, the state it travels with, and the result."""

    manifest: dict[str, Any]
    api_url: str
    env_path: Path
    public_url: str | None = None
    webhook_url: str | None = None
    org: str | None = None
    force: bool = False
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    registered: asyncio.Future[dict[str, Any]] | None = None
    session: aiohttp.ClientSession | None = None

    def begin(self) -> None:
        """Ready to receive the callback (inside the running event loop)."""
        self.registered = asyncio.get_running_loop().create_future()
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self.page)
        app.router.add_get(CALLBACK_PATH, self.callback)
        return app

    def manifest_for(self, request: web.Request) -> dict[str, Any]:
        origin = _origin(request)
        return build_manifest(
            self.manifest,
            public_url=self.public_url or origin,
            callback=origin + CALLBACK_PATH,
            webhook_url=self.webhook_url,
        )

    async def page(self, request: web.Request) -> web.Response:
        manifest = self.manifest_for(request)
        webhook = manifest["hook_attributes"]["url"]
        target = registration_url(self.api_url, self.org, self.state)
        warning = ""
        if not webhook.startswith("https://") or _is_local(webhook):
            warning = (
                f"<p><strong>GitHub cannot deliver to {html.escape(webhook)}.</strong> Run "
                "setup with <code>--url https://your-public-address</code> (your deployment) or "
                "<code>--webhook-url https://smee.io/CHANNEL</code> (a forwarding channel) so "
                "deliveries reach the bot.</p>"
            )
        rows = "".join(
            f"<li><code>{html.escape(k)}: {html.escape(str(v))}</code></li>"
            for k, v in sorted((manifest.get("default_permissions") or {}).items())
        )
        events = ", ".join(manifest.get("default_events") or [])
        owner = f"the organization {self.org}" if self.org else "your personal account"
        body = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Register {html.escape(str(manifest.get("name")))}</title></head>
<body>
<h1>Register {html.escape(str(manifest.get("name")))} as a GitHub App</h1>
<p>The App will belong to {html.escape(owner)} on {html.escape(web_url(self.api_url))}.</p>
<p>Webhook URL: <code>{html.escape(webhook)}</code></p>
{warning}
<p>Permissions:</p><ul>{rows}</ul>
<p>Events: {html.escape(events)}</p>
<form action="{html.escape(target)}" method="post">
<input type="hidden" name="manifest" value="{html.escape(json.dumps(manifest))}">
<button type="submit">Register GitHub App</button>
</form>
<p>GitHub asks you to confirm the name, then sends you back here; the App's credentials are
written to <code>{html.escape(str(self.env_path.resolve()))}</code>.</p>
</body></html>"""
        return web.Response(text=body, content_type="text/html")

    async def callback(self, request: web.Request) -> web.Response:
        state = request.query.get("state", "")
        if not hmac.compare_digest(state.encode(), self.state.encode()):
            return _result(
                400,
                "This registration was not started here",
                "The link's state does not match this setup process. Open the setup page and "
                "press the button again.",
            )
        assert self.registered is not None
        if self.registered.done():
            return _result(409, "Already registered", "This setup process has finished.")
        code = request.query.get("code", "")
        if not _CODE.match(code):
            return _result(400, "No code", "GitHub's answer carried no registration code.")
        try:
            app = await self.convert(code)
        except SetupError as exc:
            return _result(502, "The registration could not be completed", str(exc))
        try:
            written = self.write(app)
        except (OSError, SetupError) as exc:
            return _result(
                500,
                "The credentials could not be written",
                f"{exc}. The App {app.get('slug')} exists on GitHub: generate a new private key "
                "on its settings page and set GITHUB_APP_ID, GITHUB_PRIVATE_KEY and "
                "GITHUB_WEBHOOK_SECRET by hand.",
            )
        install = str(app.get("html_url", "")).rstrip("/") + "/installations/new"
        self.registered.set_result({**app, "env_path": str(written), "install_url": install})
        return _result(
            200,
            f"{app.get('name')} is registered",
            f"Its id, private key and webhook secret are in <code>{html.escape(str(written))}"
            "</code> (readable only by you). Next: "
            f'<a href="{html.escape(install)}">install the App on your repositories</a>, then '
            "start the bot with <code>python -m bot</code>.",
            escape=False,
        )

    async def convert(self, code: str) -> dict[str, Any]:
        url = f"{self.api_url}/app-manifests/{quote(code, safe='')}/conversions"
        headers = {"Accept": "application/vnd.github+json", "User-Agent": "hardening-bot"}
        assert self.session is not None
        try:
            async with self.session.post(url, headers=headers) as response:
                status = response.status
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SetupError(
                f"GitHub could not be asked for the App's credentials: {exc}"
            ) from None
        if status != 201 or not isinstance(body, dict):
            message = body.get("message") if isinstance(body, dict) else None
            raise SetupError(
                f"GitHub refused the registration code ({status} {message or ''}): it is valid "
                "once and for one hour; press the button on the setup page again"
            )
        missing = [k for k in ("id", "pem", "webhook_secret") if not body.get(k)]
        if missing:
            raise SetupError(f"GitHub's answer lacks {', '.join(missing)}")
        return body

    def write(self, app: Mapping[str, Any]) -> Path:
        text = env_text(app, self.api_url, datetime.now(UTC))
        try:
            write_env(self.env_path, text, force=self.force)
            return self.env_path.resolve()
        except FileExistsError:
            # Appeared since setup started: the code cannot be exchanged twice, so keep these
            # credentials beside it rather than lose them.
            aside = self.env_path.with_name(f"{self.env_path.name}.{app.get('slug', 'app')}")
            write_env(aside, text, force=False)
            return aside.resolve()


def _origin(request: web.Request) -> str:
    scheme = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    return f"{scheme if scheme in ('http', 'https') else 'http'}://{request.host}"


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "0.0.0.0", "::1") or host.startswith("127.")


def _result(status: int, title: str, text: str, *, escape: bool = True) -> web.Response:
    shown = html.escape(text) if escape else text
    body = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1><p>{shown}</p></body></html>"
    )
    return web.Response(status=status, text=body, content_type="text/html")


# --- command line -------------------------------------------------------------------------------


def main(argv: list[str], *, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot setup",
        description="Register the GitHub App from app.yml with GitHub's manifest flow and write "
        "its credentials to .env. Serves a page on HOST:PORT (default 127.0.0.1:8080); open it "
        "in a browser and press 'Register GitHub App'.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--url",
        metavar="PUBLIC_URL",
        help="your deployment's public address; GitHub delivers to PUBLIC_URL/webhook",
    )
    where.add_argument(
        "--webhook-url",
        metavar="URL",
        help="the exact URL GitHub delivers to, for a forwarding channel such as "
        "https://smee.io/AbC123 (which forwards to http://localhost:8080/webhook)",
    )
    parser.add_argument("--org", help="register the App for this organization")
    parser.add_argument("--force", action="store_true", help="replace an existing .env")
    parser.add_argument("--manifest", type=Path, help="the App manifest (default: app.yml)")
    args = parser.parse_args(argv)
    try:
        flow, host, port = prepare(args, process_env(environ))
    except (SetupError, SettingsError) as exc:
        print(f"hardening-bot setup: {exc}", file=sys.stderr)
        return 2
    from bot.startup import StartupError

    try:
        registered = asyncio.run(run(flow, host, port))
    except StartupError as exc:
        print(f"hardening-bot setup: {exc}", file=sys.stderr)
        return 2
    if registered is None:
        print("setup stopped before the App was registered", file=sys.stderr)
        return 1
    print(f"Registered the GitHub App {registered.get('name')} (id {registered['id']}).")
    print(f"Credentials written to {registered['env_path']} (mode 0600).")
    print(f"Install it on your repositories: {registered['install_url']}")
    print("Then start the bot: python -m bot")
    return 0


def prepare(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[SetupFlow, str, int]:
    if args.org is not None and not _ORG.match(args.org):
        raise SetupError(f"--org {args.org!r} is not a GitHub organization name")
    for option, value in (("--url", args.url), ("--webhook-url", args.webhook_url)):
        if value is None:
            continue
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise SetupError(
                f"{option} {value!r} must be an http(s) address such as https://bot.example.com"
            )
    env_path = ENV_FILE
    if env_path.exists() and not args.force:
        raise SetupError(
            f"{env_path.resolve()} exists and may hold an App's credentials already: "
            "move it away or pass --force to replace it once the new App is registered"
        )
    manifest = load_manifest(args.manifest or manifest_path())
    host = (env.get("HOST") or SETUP_HOST).strip()
    port = integer_from(env, "PORT", default=8080, minimum=1, maximum=65535)
    flow = SetupFlow(
        manifest=manifest,
        api_url=api_url_from(env),
        env_path=env_path,
        public_url=args.url.rstrip("/") if args.url else None,
        webhook_url=args.webhook_url,
        org=args.org,
        force=args.force,
    )
    return flow, host, port


async def run(flow: SetupFlow, host: str, port: int) -> dict[str, Any] | None:
    """Serve the setup page until the App is registered (its details) or SIGINT (None)."""
    import signal

    sock = bind(host, port)
    loop = asyncio.get_running_loop()
    flow.begin()
    assert flow.registered is not None
    runner = web.AppRunner(flow.app(), access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0", "::", "") else host
    print(
        f"Open http://{shown}:{sock.getsockname()[1]}/ and press 'Register GitHub App'.",
        flush=True,
    )
    finished = asyncio.Event()  # registered, or interrupted
    flow.registered.add_done_callback(lambda _: finished.set())
    loop.add_signal_handler(signal.SIGINT, finished.set)
    loop.add_signal_handler(signal.SIGTERM, finished.set)
    try:
        await finished.wait()
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
        await runner.cleanup()  # lets the success page reach the browser first
        await flow.close()
    return flow.registered.result() if flow.registered.done() else None
