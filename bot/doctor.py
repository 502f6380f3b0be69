"""``python -m bot check [--repo OWNER/NAME]``: what works, verified against GitHub, one line each.

For an operator wondering why nothing happens: it checks the settings, the App's credentials
(``GET /app`` with its JWT) and whether the App has the permissions and events ``app.yml`` asks
for, the database, the installations, and — with ``--repo`` — that the App is installed on that
repository, which configuration files it reads there (the organization's ``.github`` repository
is read only when the App is installed on it too) and whether they are valid.

Every line starts with ``ok``, ``warn`` or ``FAIL``. Exit status: 0 when nothing failed, 1 when
something did, 2 when the settings themselves are refused. It only reads: safe beside a server.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlsplit

import gidgethub

from bot.settings import Settings, SettingsError, from_process_env, redact
from bot.startup import StartupError, verify_app

_RANK = {"read": 1, "write": 2, "admin": 3}


@dataclass
class Report:
    out: TextIO
    failed: bool = False
    lines: list[str] = field(default_factory=list)

    def ok(self, what: str, text: str) -> None:
        self._line("ok  ", what, text)

    def warn(self, what: str, text: str) -> None:
        self._line("warn", what, text)

    def fail(self, what: str, text: str) -> None:
        self.failed = True
        self._line("FAIL", what, text)

    def _line(self, mark: str, what: str, text: str) -> None:
        line = f"{mark} {what}: {text}"
        self.lines.append(line)
        print(line, file=self.out, flush=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot check",
        description="Verify the settings, the App's credentials and permissions, the database, "
        "the installations and (with --repo) one repository's configuration. Reads only.",
    )
    parser.add_argument("--repo", metavar="OWNER/NAME", help="also check this repository")
    args = parser.parse_args(argv)
    coordinates = None
    if args.repo is not None:
        owner, _, name = args.repo.partition("/")
        if not owner or not name or "/" in name:
            parser.error(f"--repo must be OWNER/NAME, got {args.repo!r}")
        coordinates = (owner, name)
    try:
        settings = from_process_env(require_webhook_secret=False)
    except SettingsError as exc:
        print(f"FAIL settings: {exc}", file=sys.stderr)
        return 2
    report = asyncio.run(check(settings, coordinates, out=sys.stdout))
    return 1 if report.failed else 0


async def check(
    settings: Settings,
    repo: tuple[str, str] | None = None,
    *,
    out: TextIO,
    manifest: Mapping[str, Any] | None = None,
) -> Report:
    """Run every check in order; later ones that need GitHub are skipped once it refuses."""
    from bot.github import GitHubApp

    report = Report(out)
    secret = "set" if settings.webhook_secret else "NOT SET (the server refuses to start)"
    report.ok(
        "settings",
        f"App id {settings.app_id}, key from {settings.private_key_source}, "
        f"API {settings.api_url}, webhook secret {secret}",
    )
    if not settings.webhook_secret:
        report.fail("settings", "GITHUB_WEBHOOK_SECRET is not set")
    try:
        app = await verify_app(settings)
    except StartupError as exc:
        report.fail("credentials", str(exc))
        app = None
    else:
        if app is None:
            report.fail("credentials", "GitHub did not answer GET /app (see the log line above)")
        else:
            owner = (app.get("owner") or {}).get("login", "?")
            report.ok(
                "credentials",
                f"GitHub accepted the key of App {app.get('name')!r} (slug {app.get('slug')}, "
                f"id {app.get('id')}, owned by {owner})",
            )
            _grants(report, app, manifest if manifest is not None else _shipped_manifest())
    if settings.database_url:
        await _postgres(report, settings)
    else:
        _database(report, settings)
    if app is None:
        report.warn("installations", "not checked: GitHub refused the App")
        return report
    github = GitHubApp(settings)
    try:
        await _webhook(report, github, settings)
        await _installations(report, github)
        if repo is not None:
            await _repository(report, github, *repo)
    finally:
        await github.close()
    return report


def _shipped_manifest() -> Mapping[str, Any]:
    from bot.setup import SetupError, load_manifest, manifest_path

    try:
        return load_manifest(manifest_path())
    except SetupError:
        return {}


def _grants(report: Report, app: Mapping[str, Any], manifest: Mapping[str, Any]) -> None:
    """The App's permissions and events against what app.yml asks for."""
    granted = app.get("permissions") or {}
    wanted = manifest.get("default_permissions") or {}
    short = [
        f"{name}: {level} (has {granted.get(name, 'none')})"
        for name, level in wanted.items()
        if _RANK.get(str(granted.get(name)), 0) < _RANK.get(str(level), 0)
    ]
    events = [e for e in manifest.get("default_events") or [] if e not in (app.get("events") or [])]
    if short:
        report.fail(
            "permissions",
            "the App lacks " + ", ".join(short) + "; grant them in the App's settings "
            "(Permissions & events), then accept them on each installation",
        )
    else:
        report.ok("permissions", ", ".join(f"{k}: {v}" for k, v in sorted(granted.items())))
    if events:
        without_push = (
            "; without push, configurations are read on every delivery" if "push" in events else ""
        )
        report.fail(
            "events",
            f"the App is not subscribed to {', '.join(events)}: tick them in the App's settings"
            + without_push,
        )
    else:
        report.ok("events", ", ".join(app.get("events") or []) or "none")


def _database(report: Report, settings: Settings) -> None:
    path = settings.database_path
    if not path.exists():
        directory = path.parent if str(path.parent) else None
        where = f"{path} does not exist yet; the server creates it"
        if directory is not None and directory.exists() and not directory.is_dir():
            report.fail("database", f"{path}: {directory} is not a directory (DATABASE_URL)")
        else:
            report.ok("database", where)
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            counts = dict(
                conn.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall()
            )
        finally:
            conn.close()
    except sqlite3.Error as exc:
        report.fail("database", f"{path} cannot be read ({exc}) (DATABASE_URL)")
        return
    text = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("pending", "processing", "done", "failed"))
    if counts.get("failed"):
        report.warn("database", f"{path}: {text}; see python -m bot failed")
    else:
        report.ok("database", f"{path}: {text}")


async def _postgres(report: Report, settings: Settings) -> None:
    import psycopg

    from bot.inbox.postgres import PostgresDatabase

    assert settings.database_url is not None
    where = redact(settings.database_url)
    try:
        conn = await psycopg.AsyncConnection.connect(settings.database_url, connect_timeout=5)
    except psycopg.Error as exc:
        report.fail("database", f"cannot reach {where}: {_first_line(exc)} (DATABASE_URL)")
        return
    await conn.close()
    db = PostgresDatabase(settings.database_url, settings=settings)
    try:
        await db.open()  # connects and creates what is missing; takes nothing from a server
        stats = await db.inbox.stats()
    except Exception as exc:
        report.fail("database", f"{where}: {_first_line(exc)} (DATABASE_URL)")
        return
    finally:
        await db.close()
    text = f"{where}: {stats.pending} pending, {stats.processing} processing, {stats.failed} failed"
    if stats.failed:
        report.warn("database", f"{text}; see python -m bot failed")
    else:
        report.ok("database", text)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


async def _webhook(report: Report, github: Any, settings: Settings) -> None:
    """Where GitHub sends deliveries, and how the latest ones went (GitHub's delivery log)."""
    api = github.app_api()
    try:
        config = await api.getitem("/app/hook/config")
        recent = await api.getitem("/app/hook/deliveries?per_page=50")
    except gidgethub.HTTPException as exc:
        report.fail("webhook", f"GitHub's webhook settings could not be read: {exc}")
        return
    url = str(config.get("url") or "")
    host = urlsplit(url).hostname or ""
    if not url:
        report.fail("webhook", "the App has no webhook URL: set https://<your host>/webhook")
    elif not url.startswith("https://") or host in ("localhost", "127.0.0.1", "::1"):
        report.warn("webhook", f"{url}: GitHub cannot reach it; use an https:// public address")
    elif not config.get("secret"):
        report.fail("webhook", f"{url}, but no secret: set one and GITHUB_WEBHOOK_SECRET")
    else:
        report.ok("webhook", f"{url} (with a secret)")
    failed = [d for d in recent if d.get("status") != "OK"]
    # GitHub's log keeps a failed attempt as failed for 3 days, also once the catch-up read the
    # delivery and the bot processed it (or GitHub redelivered it): those are not missing.
    delivered = {d.get("guid") for d in recent if d.get("status") == "OK"}
    held = await _held(settings, [str(d.get("guid")) for d in failed if d.get("guid")])
    taken = [d for d in failed if d.get("guid") in held and d.get("guid") not in delivered]
    failed = [d for d in failed if d.get("guid") not in held and d.get("guid") not in delivered]
    caught = f"; {len(taken)} that failed were taken in by the catch-up" if taken else ""
    if not recent:
        report.ok("deliveries", "GitHub has sent none yet")
    elif failed:
        latest = failed[0]
        report.warn(
            "deliveries",
            f"{len(failed)} of the latest {len(recent)} failed; latest: {latest.get('event')} "
            f"at {latest.get('delivered_at')}, {latest.get('status_code')} "
            f"{latest.get('status')} (the App's Advanced tab shows each){caught}",
        )
    else:
        report.ok("deliveries", f"the latest {len(recent)} were delivered{caught}")


async def _held(settings: Settings, delivery_ids: list[str]) -> set[str]:
    """Which of ``delivery_ids`` the inbox holds (read only; empty when it cannot be read)."""
    if not delivery_ids:
        return set()
    try:
        if settings.database_url:
            import psycopg

            async with await psycopg.AsyncConnection.connect(
                settings.database_url, connect_timeout=5
            ) as conn:
                cur = await conn.execute(
                    "SELECT delivery_id FROM hardening_deliveries WHERE delivery_id = ANY(%s)",
                    (delivery_ids,),
                )
                return {row[0] for row in await cur.fetchall()}
        path = settings.database_path
        if not path.exists():
            return set()
        conn3 = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            conn3.execute("PRAGMA busy_timeout=5000")
            marks = ",".join("?" * len(delivery_ids))
            rows = conn3.execute(
                f"SELECT delivery_id FROM deliveries WHERE delivery_id IN ({marks})",
                delivery_ids,
            ).fetchall()
        finally:
            conn3.close()
        return {row[0] for row in rows}
    except Exception:  # the database line above already said what is wrong with it
        return set()


async def _installations(report: Report, github: Any) -> None:
    try:
        found = [i async for i in github.app_api().getiter("/app/installations")]
    except gidgethub.HTTPException as exc:
        report.fail("installations", f"GET /app/installations failed: {exc}")
        return
    if not found:
        report.warn(
            "installations",
            "none: install the App (its page's Install App tab) on the repositories to harden",
        )
        return
    accounts = ", ".join(
        f"{i['account']['login']} ({i.get('repository_selection', '?')} repositories"
        f"{', suspended' if i.get('suspended_at') else ''})"
        for i in found
    )
    report.ok("installations", f"{len(found)}: {accounts}")


async def _repository(report: Report, github: Any, owner: str, name: str) -> None:
    from bot.context import ORG_CONFIG_PATH, ORG_CONFIG_REPO, REPO_CONFIG_PATH, ConfigCache

    where = f"{owner}/{name}"
    try:
        installation = await github.repo_installation_id(owner, name)
    except gidgethub.HTTPException as exc:
        report.fail(where, f"cannot look up the App's installation: {exc}")
        return
    if installation is None:
        report.fail(where, "the App is not installed on it (or it does not exist)")
        return
    report.ok(where, f"installation {installation}")
    gh = await github.installation_api(installation)
    try:
        await gh.getitem("/repos/{owner}/{repo}", {"owner": owner, "repo": ORG_CONFIG_REPO})
    except gidgethub.BadRequest as exc:
        if int(exc.status_code) != 404:
            raise
        report.warn(
            f"{owner}/{ORG_CONFIG_REPO}",
            f"not reachable by the App (not installed on it, or it does not exist): an "
            f"organization-wide {ORG_CONFIG_PATH} there is not read",
        )
    try:
        result = await ConfigCache().get(gh, owner, name)
    except gidgethub.HTTPException as exc:
        report.fail("config", f"cannot read {REPO_CONFIG_PATH}: {exc}")
        return
    layers = " <- ".join(result.sources)
    if result.errors:
        for error in result.errors:
            report.fail("config", str(error))
        return
    report.ok("config", f"valid; mode {result.config.mode}; layers: {layers}")
