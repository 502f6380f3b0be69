"""``python -m bot check``: each line says what was verified against the sandbox, and a problem
fails the check with the thing to fix."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import until

from bot.doctor import check
from bot.settings import Settings, redact
from bot.web import CATCH_UP, create_app
from sandbox import Sandbox


async def test_a_working_installation_is_verified_line_by_line(
    sandbox: Sandbox, repo: str, settings: Settings
) -> None:
    sandbox.put_file(repo, ".github/hardening.yml", "mode: enforce\n")
    sandbox.webhook_url, sandbox.webhook_secret = "https://bot.example.com/webhook", "s"
    sandbox.record_delivery("issues", {"action": "opened"})
    out = io.StringIO()
    report = await check(settings, ("octo", "repo"), out=out)
    assert not report.failed, out.getvalue()
    text = out.getvalue()
    assert "ok   credentials: GitHub accepted the key of App 'Hardening Bot'" in text
    assert "ok   permissions: administration: read, checks: write" in text
    assert "ok   events: " in text
    assert "ok   webhook: https://bot.example.com/webhook (with a secret)" in text
    assert "ok   deliveries: the latest 1 were delivered" in text
    assert f"ok   database: {settings.database_path} does not exist yet" in text
    assert "ok   installations: 1: octo (selected repositories)" in text
    assert "ok   octo/repo: installation 4242" in text
    assert "warn octo/.github: not reachable by the App" in text
    assert "ok   config: valid; mode enforce; layers: " in text


async def test_problems_fail_the_check_naming_what_to_fix(
    sandbox: Sandbox, repo: str, settings: Settings, tmp_path: Path, app_keys: tuple[str, str]
) -> None:
    sandbox.world.app_permissions.pop("members")
    sandbox.world.app_events.remove("check_suite")
    sandbox.put_file(repo, ".github/hardening.yml", "mode: loud\n")
    sandbox.webhook_url = "http://localhost:8080/webhook"
    sandbox.record_delivery("issues", {"action": "opened"}, status_code=502)
    out = io.StringIO()
    report = await check(settings, ("octo", "elsewhere"), out=out)
    text = out.getvalue()
    assert report.failed
    assert "FAIL permissions: the App lacks members: read (has none)" in text
    assert "FAIL events: the App is not subscribed to check_suite" in text
    assert "FAIL octo/elsewhere: the App is not installed on it" in text
    assert "warn webhook: http://localhost:8080/webhook: GitHub cannot reach it" in text
    assert "warn deliveries: 1 of the latest 1 failed; latest: issues at " in text

    out = io.StringIO()
    report = await check(settings, ("octo", "repo"), out=out)
    assert "FAIL config: .github/hardening.yml:1: mode:" in out.getvalue()


async def test_refused_credentials_stop_before_the_installations(
    sandbox: Sandbox, settings: Settings
) -> None:
    from dataclasses import replace

    out = io.StringIO()
    report = await check(replace(settings, app_id=99), out=out)
    assert report.failed
    text = out.getvalue()
    assert "FAIL credentials: GITHUB_APP_ID 99 and the private key" in text
    assert "warn installations: not checked: GitHub refused the App" in text
    assert not any(c.path == "/app/installations" for c in sandbox.calls)


async def test_a_postgresql_database_is_checked(
    sandbox: Sandbox, settings: Settings, postgres_url: str
) -> None:
    from dataclasses import replace

    sandbox.webhook_url, sandbox.webhook_secret = "https://bot.example.com/webhook", "s"
    out = io.StringIO()
    report = await check(replace(settings, database_url=postgres_url), out=out)
    assert not report.failed, out.getvalue()
    assert f"ok   database: {redact(postgres_url)}: " in out.getvalue()
    assert ": 0 pending, 0 processing, 0 failed" in out.getvalue()

    out = io.StringIO()
    broken = replace(settings, database_url="postgresql://hb:pw@127.0.0.1:1/none")
    report = await check(broken, out=out)
    assert report.failed
    assert "FAIL database: cannot reach postgresql://hb:***@127.0.0.1:1/none" in out.getvalue()


async def test_a_missing_push_subscription_says_what_it_costs(
    sandbox: Sandbox, repo: str, settings: Settings
) -> None:
    sandbox.world.app_events.remove("push")
    out = io.StringIO()
    report = await check(settings, ("octo", "repo"), out=out)
    assert report.failed
    assert (
        "FAIL events: the App is not subscribed to push: tick them in the App's settings; "
        "without push, configurations are read on every delivery"
    ) in out.getvalue()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_failed_deliveries_the_catch_up_took_in_are_not_reported_missing(
    sandbox: Sandbox,
    repo: str,
    settings: Settings,
    backend: str,
    request: pytest.FixtureRequest,
    aiohttp_client: Any,
) -> None:
    if backend == "postgresql":
        settings = replace(settings, database_url=request.getfixturevalue("postgres_url"))
    settings = replace(settings, catch_up_interval=900.0)
    sandbox.webhook_url = "https://bot.example.com/webhook"
    issue = sandbox.open_issue(repo, title="Outage", body="no findings yet")
    opened = sandbox.issue_event(repo, issue["number"], "opened")
    sandbox.record_delivery("issues", opened, guid="missed", status_code=502)
    sandbox.record_delivery("issues", opened, guid="also-missed", status_code=502)
    client = await aiohttp_client(create_app(settings))

    async def caught_up() -> bool:
        return await client.server.app[CATCH_UP].last() is not None

    await until(caught_up, within=20)
    await client.close()
    # One GitHub could not deliver while the bot was down, and one it failed after the
    # catch-up ran: only the second is missing.
    sandbox.record_delivery("issues", opened, guid="after", status_code=502)
    out = io.StringIO()
    await check(settings, None, out=out)
    [line] = [ln for ln in out.getvalue().splitlines() if " deliveries: " in ln]
    assert line.startswith("warn deliveries: 1 of the latest 3 failed; latest: issues at ")
    assert line.endswith("; 2 that failed were taken in by the catch-up")
