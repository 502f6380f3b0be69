"""``python -m bot setup``: the manifest flow against the sandbox, as a new operator runs it.

The sandbox plays GitHub's side: its registration form applies GitHub's manifest rules
(sandbox/manifest.py), and ``POST /app-manifests/{code}/conversions`` hands out the new App's
credentials once. The bot then starts with the ``.env`` it wrote, and refuses a wrong key at start.
"""

from __future__ import annotations

import asyncio
import html
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer
from conftest import spawn

from bot import setup
from bot.settings import Settings, process_env
from bot.setup import SetupFlow, build_manifest, load_manifest, registration_url, web_url
from bot.startup import verify_app
from sandbox import Sandbox
from sandbox.manifest import EVENT_PERMISSIONS, manifest_errors

ROOT = Path(__file__).resolve().parent.parent
APP_YML = ROOT / "app.yml"
PUBLIC = "https://bot.example.com"


def shipped_manifest() -> dict[str, Any]:
    return build_manifest(
        load_manifest(APP_YML), public_url=PUBLIC, callback="http://localhost:8080/setup/callback"
    )


# --- the manifest ------------------------------------------------------------------------------


def test_the_shipped_manifest_is_one_github_accepts() -> None:
    manifest = shipped_manifest()
    assert manifest_errors(manifest) == []
    assert manifest["hook_attributes"] == {"url": f"{PUBLIC}/webhook", "active": True}
    assert manifest["redirect_url"] == "http://localhost:8080/setup/callback"
    for event in manifest["default_events"]:
        assert any(p in manifest["default_permissions"] for p in EVENT_PERMISSIONS[event])


def test_every_permission_and_event_of_app_yml_is_explained() -> None:
    lines = APP_YML.read_text().splitlines()
    manifest = yaml.safe_load(APP_YML.read_text())
    keys = [*manifest["default_permissions"], *(f"- {e}" for e in manifest["default_events"])]
    for key in keys:
        [at] = [
            i for i, line in enumerate(lines) if line.strip().startswith(key.strip() + ":")
        ] or [i for i, line in enumerate(lines) if line.strip() == key]
        assert lines[at - 1].strip().startswith("#"), f"{key} has no comment saying why"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"default_events": ["issues", "installation", "installation_repositories"]},
            "Default events unsupported: installation and installation_repositories",
        ),
        (
            {"default_events": ["issues", "status"]},
            "not supported by the requested permissions: status (needs statuses)",
        ),
        ({"default_events": ["issue"]}, "Default events unknown: issue"),
        ({"default_permissions": {"issues": "admin"}}, "'issues' cannot be 'admin'"),
        ({"default_permissions": {"isues": "write"}}, "resource 'isues' is not included"),
        ({"hook_attributes": {"active": True}}, "Hook url cannot be blank"),
        ({"url": "ftp://x"}, "Url must be a valid http(s) URL"),
        ({"name": "A name much longer than thirty-four characters"}, "1 to 34 characters"),
        ({"webhook_url": "https://x"}, "unknown parameters: webhook_url"),
    ],
)
def test_the_sandbox_refuses_what_github_refuses(change: dict[str, Any], reason: str) -> None:
    manifest = {**shipped_manifest(), **change}
    assert any(reason in error for error in manifest_errors(manifest)), manifest_errors(manifest)


def test_a_forwarding_channel_is_the_webhook_url_itself() -> None:
    channel = "https://smee.io/AbC123"
    manifest = build_manifest(
        load_manifest(APP_YML),
        public_url="http://localhost:8080",
        callback="x",
        webhook_url=channel,
    )
    assert manifest["hook_attributes"]["url"] == channel
    assert (
        manifest_errors({**manifest, "redirect_url": "http://localhost:8080/setup/callback"}) == []
    )


def test_web_host_of_each_kind_of_api_url() -> None:
    assert web_url("https://api.github.com") == "https://github.com"
    assert web_url("https://ghe.example.com/api/v3") == "https://ghe.example.com"
    assert web_url("https://api.acme.ghe.com") == "https://acme.ghe.com"
    assert web_url("http://127.0.0.1:9000") == "http://127.0.0.1:9000"
    assert (
        registration_url("https://api.github.com", None, "s t")
        == "https://github.com/settings/apps/new?state=s%20t"
    )
    assert (
        registration_url("https://ghe.example.com/api/v3", "acme", "s")
        == "https://ghe.example.com/organizations/acme/settings/apps/new?state=s"
    )


# --- the flow ----------------------------------------------------------------------------------


Serve = Callable[..., Awaitable[TestServer]]


async def start_flow(
    sandbox: Sandbox, tmp_path: Path, aiohttp_server: Serve, **options: Any
) -> tuple[SetupFlow, TestServer]:
    flow = SetupFlow(
        manifest=load_manifest(APP_YML),
        api_url=sandbox.api_url,
        env_path=tmp_path / ".env",
        public_url=PUBLIC,
        **options,
    )
    flow.begin()
    return flow, await aiohttp_server(flow.app())


async def press_the_button(
    browser: aiohttp.ClientSession, server: TestServer
) -> tuple[str, aiohttp.ClientResponse]:
    """Load the setup page and submit its form to GitHub; GitHub's redirect is returned."""
    page = await (await browser.get(server.make_url("/"))).text()
    action = html.unescape(re.search(r'<form action="([^"]+)"', page)[1])  # type: ignore[index]
    manifest = html.unescape(re.search(r'name="manifest" value="([^"]*)"', page)[1])  # type: ignore[index]
    answer = await browser.post(action, data={"manifest": manifest}, allow_redirects=False)
    return action, answer


async def test_register_write_env_and_start_with_it(
    sandbox: Sandbox, tmp_path: Path, aiohttp_server: Serve
) -> None:
    flow, server = await start_flow(sandbox, tmp_path, aiohttp_server)
    try:
        async with aiohttp.ClientSession() as browser:
            action, answer = await press_the_button(browser, server)
            assert action == f"{sandbox.api_url}/settings/apps/new?state={flow.state}"
            assert answer.status == 302
            callback = answer.headers["Location"]
            assert callback.startswith(str(server.make_url("/setup/callback?code=")))
            assert callback.endswith(f"&state={flow.state}")
            done = await browser.get(callback)
            assert done.status == 200
            text = await done.text()
            again = await browser.get(callback)
            assert again.status == 409  # one registration per setup process
    finally:
        await flow.close()

    assert "https://github.com/apps/hardening-bot/installations/new" in text
    assert sandbox.webhook_url == f"{PUBLIC}/webhook"
    assert sandbox.registrations.manifests[0]["redirect_url"].endswith("/setup/callback")
    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    # Bare values: kubectl create secret --from-env-file would keep quotes as part of the value.
    values = [line for line in env_file.read_text().splitlines() if not line.startswith("#")]
    assert [v.split("=")[0] for v in values] == [
        "GITHUB_APP_ID",
        "GITHUB_PRIVATE_KEY",
        "GITHUB_WEBHOOK_SECRET",
        "GITHUB_API_URL",
    ]
    assert not any('"' in v or "'" in v for v in values)
    assert os.listdir(tmp_path) == [".env"]  # no temporary file left behind
    settings = Settings.from_env(process_env({}, env_file))
    assert settings.app_id == sandbox.app_id != 1
    assert settings.webhook_secret == sandbox.webhook_secret
    assert settings.private_key == sandbox.private_key_pem
    assert settings.api_url == sandbox.api_url
    app = await verify_app(settings)
    assert app is not None and app["slug"] == "hardening-bot"
    assert flow.registered is not None
    assert flow.registered.result()["install_url"].endswith("/apps/hardening-bot/installations/new")


async def test_a_callback_with_a_foreign_state_writes_nothing(
    sandbox: Sandbox, tmp_path: Path, aiohttp_server: Serve
) -> None:
    flow, server = await start_flow(sandbox, tmp_path, aiohttp_server)
    try:
        async with aiohttp.ClientSession() as browser:
            _, answer = await press_the_button(browser, server)
            forged = answer.headers["Location"].replace(flow.state, "someone-elses")
            refused = await browser.get(forged)
            assert refused.status == 400
            assert "not started here" in await refused.text()
    finally:
        await flow.close()
    assert not (tmp_path / ".env").exists()
    assert flow.registered is not None and not flow.registered.done()


async def test_a_used_or_expired_code_is_refused_with_a_reason(
    sandbox: Sandbox, tmp_path: Path, aiohttp_server: Serve
) -> None:
    code = sandbox.registrations.register(shipped_manifest())
    sandbox.clock = lambda: 10**10  # more than an hour later
    flow, server = await start_flow(sandbox, tmp_path, aiohttp_server)
    try:
        async with aiohttp.ClientSession() as browser:
            answer = await browser.get(
                server.make_url("/setup/callback").with_query(code=code, state=flow.state)
            )
            assert answer.status == 502
            assert "valid once and for one hour" in await answer.text()
    finally:
        await flow.close()
    assert not (tmp_path / ".env").exists()


async def test_an_organization_registration(
    sandbox: Sandbox, tmp_path: Path, aiohttp_server: Serve
) -> None:
    sandbox.add_user("acme", type="Organization")
    flow, server = await start_flow(sandbox, tmp_path, aiohttp_server, org="acme")
    try:
        async with aiohttp.ClientSession() as browser:
            action, answer = await press_the_button(browser, server)
            assert "/organizations/acme/settings/apps/new?state=" in action
            assert (await browser.get(answer.headers["Location"])).status == 200
    finally:
        await flow.close()
    assert sandbox.world.owner.login == "acme"


def test_an_existing_env_is_never_overwritten_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("GITHUB_APP_ID=7\n")
    assert setup.main(["--manifest", str(APP_YML)], environ={}) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert ".env exists" in line and "--force" in line
    with pytest.raises(FileExistsError):
        setup.write_env(tmp_path / ".env", "GITHUB_APP_ID=8\n", force=False)
    assert (tmp_path / ".env").read_text() == "GITHUB_APP_ID=7\n"
    setup.write_env(tmp_path / ".env", "GITHUB_APP_ID=8\n", force=True)
    assert (tmp_path / ".env").read_text() == "GITHUB_APP_ID=8\n"
    assert stat.S_IMODE(os.stat(tmp_path / ".env").st_mode) == 0o600


def test_the_environment_wins_over_env(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('GITHUB_APP_ID=7\nPORT="9000"\n')
    merged = process_env({"GITHUB_APP_ID": "8"}, env_file)
    assert merged["GITHUB_APP_ID"] == "8" and merged["PORT"] == "9000"
    assert process_env({"A": "1"}, tmp_path / "missing") == {"A": "1"}


# --- the process, as an operator starts it -------------------------------------------------------


def absolute(path: Path) -> str:
    return str(path.resolve())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run_bot(cwd: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await spawn(
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.real_clock
@pytest.mark.usefixtures("reap")
async def test_python_m_bot_starts_with_the_written_env_and_refuses_a_wrong_key(
    sandbox: Sandbox, tmp_path: Path, aiohttp_server: Serve, app_keys: tuple[str, str]
) -> None:
    flow, server = await start_flow(sandbox, tmp_path, aiohttp_server)
    try:
        async with aiohttp.ClientSession() as browser:
            _, answer = await press_the_button(browser, server)
            assert (await browser.get(answer.headers["Location"])).status == 200
    finally:
        await flow.close()

    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port), "DATABASE_URL": "sqlite:///var/bot.db"}
    bot = await run_bot(tmp_path, env)
    try:
        async with aiohttp.ClientSession() as client:
            for _ in range(500):
                try:
                    async with client.get(f"http://127.0.0.1:{port}/healthz") as health:
                        assert health.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    assert bot.returncode is None, await bot.stderr.read()  # type: ignore[union-attr]
                    await asyncio.sleep(0.02)
            else:
                pytest.fail("the bot did not start")
    finally:
        bot.send_signal(signal.SIGTERM)
        await asyncio.wait_for(bot.wait(), 30)
    assert bot.returncode == 0
    assert any(c.path == "/app" and c.status == 200 for c in sandbox.calls)

    # A key of another App, set in the environment (which wins over .env): refused at start.
    wrong = await run_bot(tmp_path, {**env, "GITHUB_PRIVATE_KEY": app_keys[0]})
    _, err = await asyncio.wait_for(wrong.communicate(), 60)
    assert wrong.returncode == 2
    [line] = err.decode().splitlines()
    assert line.startswith("hardening-bot: GITHUB_APP_ID ")
    assert "(GITHUB_PRIVATE_KEY) were refused by GitHub (401" in line


@pytest.mark.usefixtures("reap")
async def test_the_setup_command_serves_until_registered_then_exits_0(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    port = free_port()
    env_file = absolute(tmp_path / ".env")  # the path setup reports
    setup_process = await spawn(
        sys.executable,
        "-m",
        "bot",
        "setup",
        "--url",
        PUBLIC,
        "--manifest",
        str(APP_YML),
        cwd=tmp_path,
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "GITHUB_API_URL": sandbox.api_url,
            "PORT": str(port),
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert setup_process.stdout is not None
    first = await asyncio.wait_for(setup_process.stdout.readline(), 60)
    assert (
        first.decode().strip() == f"Open http://localhost:{port}/ and press 'Register GitHub App'."
    )
    async with aiohttp.ClientSession() as browser:
        page = await (await browser.get(f"http://127.0.0.1:{port}/")).text()
        action = html.unescape(re.search(r'<form action="([^"]+)"', page)[1])  # type: ignore[index]
        manifest = html.unescape(re.search(r'name="manifest" value="([^"]*)"', page)[1])  # type: ignore[index]
        done = await browser.post(action, data={"manifest": manifest})
        assert done.status == 200
    out, err = await asyncio.wait_for(setup_process.communicate(), 60)
    assert setup_process.returncode == 0, err
    lines = out.decode().splitlines()
    assert lines[0] == f"Registered the GitHub App Hardening Bot (id {sandbox.app_id})."
    assert lines[1] == f"Credentials written to {env_file} (mode 0600)."
    assert (
        lines[2]
        == "Install it on your repositories: https://github.com/apps/hardening-bot/installations/new"
    )
    assert stat.S_IMODE(os.stat(tmp_path / ".env").st_mode) == 0o600
