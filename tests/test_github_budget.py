"""GitHub's budget: in steady state a delivery reads no configuration, and a push that changes
one is seen by the next delivery. Prints the requests each event kind costs (``-s`` to see).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import INSTALLATION_ID, make_deliver, make_drain
from test_handlers_pulls import ALERT, MISSED, NEW_TEST, SOURCE, open_item

from bot.context import changes_config
from bot.settings import Settings
from bot.web import create_app

CONFIG = ".github/hardening.yml"


def push(repo: str, *changed: str, **flags: Any) -> dict[str, Any]:
    owner, name = repo.split("/")
    return {
        "ref": "refs/heads/main",
        "before": "a" * 40,
        "after": "b" * 40,
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": [{"id": "b" * 40, "added": [], "modified": list(changed), "removed": []}],
        "repository": {"full_name": repo, "name": name, "owner": {"login": owner}},
        "installation": {"id": INSTALLATION_ID},
        **flags,
    }


def test_which_pushes_change_a_configuration() -> None:
    assert changes_config("push", push("o/r", CONFIG))
    assert not changes_config("push", push("o/r", "src/app.py", "hardening.yml"))
    assert changes_config("push", push("o/.github", "hardening.yml"))
    assert changes_config("push", push("o/r", "src/app.py", forced=True))
    assert changes_config("push", push("o/r", deleted=True))
    assert changes_config("push", {**push("o/r"), "commits": [{"id": "x"}] * 20})
    assert not changes_config("issues", push("o/r", CONFIG))


def costs(sandbox: Any) -> tuple[int, int]:
    """(requests, those counted against the rate limit: a 304 is free)."""
    calls = [c for c in sandbox.calls if not c.injected]
    return len(calls), sum(1 for c in calls if c.status != 304)


async def test_steady_state_reads_no_configuration_and_a_push_ends_it(
    sandbox: Any,
    repo: str,
    settings: Settings,
    make_settings: Callable[..., Settings],
    aiohttp_client: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    live = make_settings(api_url=settings.api_url, config_max_age=86400.0)
    client = await aiohttp_client(create_app(live))
    deliver, drain = make_deliver(client), make_drain(client.server.app)
    sandbox.put_file(repo, CONFIG, "mode: warn\n")
    item = open_item(sandbox, repo)
    report: dict[str, list[tuple[int, int]]] = {}

    async def pull_request(action: str, number: int) -> None:
        sandbox.reset_calls()
        await deliver("pull_request", sandbox.pull_request_event(repo, number, action))
        await drain()
        report.setdefault(f"pull_request.{action}", []).append(costs(sandbox))

    def config_reads() -> list[Any]:
        return [c for c in sandbox.calls if "/contents/" in c.path]

    for i in range(4):
        pull = sandbox.open_pull(
            repo,
            title=f"q{i}",
            body=f"Hardens #{item}",
            files=[SOURCE, NEW_TEST],
            labels=MISSED,
            user="dave",
        )
        await pull_request("opened", pull["number"])
        if i == 0:
            assert config_reads(), "the first delivery reads the configuration"
        else:
            assert config_reads() == [], "a steady state reads no configuration"
        sandbox.push_pull(repo, pull["number"], files=[SOURCE, NEW_TEST, ALERT])
        await pull_request("synchronize", pull["number"])
        assert config_reads() == []
    last = pull["number"]

    # A push that does not touch the configuration changes nothing.
    sandbox.reset_calls()
    response = await deliver("push", push(repo, "src/app.py"))
    assert response.status == 202
    await drain()
    report.setdefault("push", []).append(costs(sandbox))
    await pull_request("edited", last)
    assert config_reads() == []

    # One that does is seen by the very next delivery: enforce mode fails what warn let pass.
    sandbox.put_file(repo, CONFIG, "mode: enforce\ncontrols: {control-change: enforce}\n")
    sandbox.push_pull(repo, last, files=[SOURCE, NEW_TEST])
    assert (await deliver("push", push(repo, CONFIG))).status == 202
    await pull_request("synchronize", last)
    assert config_reads(), "the pushed configuration is read"
    head = sandbox.pull(repo, last)["head"]["sha"]
    controls = [r for r in sandbox.check_runs(repo, head) if r["name"] == "hardening/controls"]
    assert controls[-1]["conclusion"] == "failure"

    with capsys.disabled():
        print("\nGitHub requests per event (all / counted against the rate limit):")
        for kind, seen in sorted(report.items()):
            total = sum(a for a, _ in seen) / len(seen)
            limited = sum(b for _, b in seen) / len(seen)
            print(f"  {kind:28} {total:5.1f} / {limited:4.1f}   ({len(seen)} deliveries)")
