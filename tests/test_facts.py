"""bot.facts: which pull requests harden an item, and the ItemFacts the scores are read from."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from bot.facts import hardens_numbers, pull_facts
from rules.config import default_config
from rules.item import render_item
from rules.model import HardeningItem

INSTALLATION_ID = 4242  # the `repo` fixture's installation (tests/conftest.py)
SOURCE = {"filename": "src/app.py", "status": "modified", "additions": 1,
          "patch": "@@ -1 +1,2 @@\n x = 1\n+y = 2"}
NEW_TEST = {"filename": "tests/test_app.py", "status": "added", "additions": 1,
            "patch": "@@ -0,0 +1 @@\n+def test_pages_on_lag():"}
ALERT = {"filename": "alerts/lag.yml", "status": "added", "additions": 1,
         "patch": "@@ -0,0 +1 @@\n+alert: Lag"}
RUNBOOK = {"filename": "runbooks/queue.md", "status": "modified", "additions": 1,
           "patch": "@@ -1 +1,2 @@\n # Queue\n+Page the commander after 10 minutes."}
ESCALATION = {"filename": "escalation/policy.yml", "status": "added", "additions": 1,
              "patch": "@@ -0,0 +1 @@\n+after: 10m"}
ROLLBACK = {"filename": "deploy/rollback.sh", "status": "added", "additions": 1,
            "patch": "@@ -0,0 +1 @@\n+kubectl rollout undo"}


@pytest.mark.parametrize(
    ("body", "numbers"),
    [
        ("Hardens #12", (12,)),
        ("hardens #12", (12,)),
        ("HARDENS: #3, #4 and #5", (3, 4, 5)),
        ("Hardens #7 & #8\nAlso hardens #9", (7, 8, 9)),
        ("Hardens #1\nHardens #1", (1,)),
        ("This hardens #2.", (2,)),
        ("Fixes #4", ()),
        ("```\nHardens #5\n```\nHardens #6", (6,)),
        ("> Hardens #5\n<!-- Hardens #7 -->\n`Hardens #8`", ()),
        ("unhardens #3 pre-hardens #4", ()),
        ("Hardens#10", (10,)),
        (None, ()),
        ("", ()),
    ],
)
def test_hardens_numbers(body: str | None, numbers: tuple[int, ...]) -> None:
    assert hardens_numbers(body) == numbers


def _pull(number: int = 5, merged: bool = False) -> dict[str, Any]:
    return {"number": number, "html_url": f"https://github.com/o/r/pull/{number}",
            "merged": merged, "state": "closed" if merged else "open"}


def test_pull_facts_read_test_control_and_paths() -> None:
    config = default_config()
    facts = pull_facts(_pull(merged=True), [SOURCE, NEW_TEST, ALERT], False, config,
                       "missed-detection")
    assert facts.merged and facts.adds_regression_test and facts.adds_control
    assert facts.touches_monitoring and not facts.touches_runbook
    assert facts.new_tests == ("`test_pages_on_lag` in tests/test_app.py:1",)
    facts = pull_facts(_pull(), [RUNBOOK, ESCALATION, ROLLBACK], False, config, "late-decision")
    assert not facts.merged and not facts.adds_regression_test and facts.adds_control
    assert facts.touches_runbook and facts.touches_escalation and facts.touches_rollback
    assert not facts.touches_monitoring
    facts = pull_facts(_pull(), [RUNBOOK], False, config, "late-decision")
    assert facts.touches_runbook and not facts.touches_escalation
    facts = pull_facts(_pull(), [SOURCE, NEW_TEST, ALERT], False, config, None)
    assert not facts.adds_control and not facts.adds_regression_test


# --- against the sandbox ---------------------------------------------------------------------

ITEM = HardeningItem(failure_class="missed-detection", proposed_control="alert rule",
                     owner="carol", verifier="bob", due=date(2026, 12, 1))


async def _api(bot_app: Any) -> tuple[Any, Any]:
    from bot.context import Context, bound_log
    from bot.web import GITHUB, METRICS, SETTINGS

    github = bot_app[GITHUB]
    gh = await github.installation_api(INSTALLATION_ID)
    ctx = Context(settings=bot_app[SETTINGS], metrics=bot_app[METRICS], log=bound_log("test"),
                  bot_login=await github.bot_login())
    return gh, ctx


async def test_linked_pulls_confirms_each_description(sandbox: Any, repo: str,
                                                      bot_app: Any) -> None:
    from bot.facts import linked_pulls

    item = sandbox.open_issue(repo, title="Item", body=render_item(ITEM), labels=("hardening",))
    n = item["number"]
    linked = sandbox.open_pull(repo, title="A", body=f"Hardens #{n}", files=[SOURCE])
    several = sandbox.open_pull(repo, title="B", body=f"hardens: #999, #{n}", files=[SOURCE])
    sandbox.open_pull(repo, title="C", body=f"Hardens #{n}0", files=[SOURCE])  # #N0, not #N
    sandbox.open_pull(repo, title="D", body=f"> Hardens #{n}", files=[SOURCE])  # a quote
    sandbox.open_issue(repo, title="E", body=f"Hardens #{n}")  # an issue, not a pull request
    gh, _ = await _api(bot_app)
    owner, name = repo.split("/")
    found = await linked_pulls(gh, owner, name, n)
    assert [p["number"] for p in found] == [linked["number"], several["number"]]
    assert all("head" in p for p in found)  # full pull request objects


async def test_item_facts_from_linked_pulls(sandbox: Any, repo: str, bot_app: Any) -> None:
    from bot.facts import item_facts
    from bot.items import get_item

    item = sandbox.open_issue(repo, title="Queue lag item", body=render_item(ITEM),
                              labels=("hardening", "failure-class:missed-detection"))
    n = item["number"]
    merged = sandbox.open_pull(repo, title="A", body=f"Hardens #{n}",
                               files=[SOURCE, NEW_TEST, ALERT])
    sandbox.merge_pull(repo, merged["number"])
    open_pull = sandbox.open_pull(repo, title="B", body=f"Hardens #{n}", files=[SOURCE])
    dropped = sandbox.open_pull(repo, title="C", body=f"Hardens #{n}", files=[SOURCE, ALERT])
    sandbox.update_issue(repo, dropped["number"], state="closed")
    gh, ctx = await _api(bot_app)
    owner, name = repo.split("/")
    loaded = await get_item(gh, owner, name, n)
    config = default_config()
    facts = await item_facts(gh, ctx, owner, name, loaded, config)
    assert facts.number == n and facts.title == "Queue lag item" and facts.state == "open"
    assert [p.number for p in facts.pulls] == [merged["number"], open_pull["number"]]
    first, second = facts.pulls
    assert first.merged and first.adds_regression_test and first.adds_control
    assert first.touches_monitoring and first.url == merged["html_url"]
    assert not second.merged and not second.adds_control
    assert facts.control_mode == "warn"
