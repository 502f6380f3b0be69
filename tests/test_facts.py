"""bot.facts against the sandbox: which pull requests harden an item, and the ItemFacts the
scores are read from."""

from __future__ import annotations

from datetime import date
from typing import Any

from conftest import BOT, OWNED_ITEM, handler_api, open_app_item
from test_linked_pulls import ALERT, NEW_TEST, SOURCE

from bot.scope import Scope
from bot.web import LINKS
from rules.config import default_config
from rules.item_template import render_item
from rules.model import HardeningItem
from sandbox import Sandbox

ITEM = HardeningItem(
    failure_class="missed-detection",
    proposed_control="alert rule",
    owner="carol",
    verifier="bob",
    due=date(2026, 12, 1),
)


async def test_linked_pulls_confirms_each_description(
    sandbox: Sandbox, repo: str, bot_app: Any
) -> None:
    from bot.facts import linked_pulls

    item = sandbox.open_issue(repo, title="Item", body=render_item(ITEM), labels=("hardening",))
    n = item["number"]
    linked = sandbox.open_pull(repo, title="A", body=f"Hardens #{n}", files=[SOURCE])
    several = sandbox.open_pull(repo, title="B", body=f"hardens: #999, #{n}", files=[SOURCE])
    sandbox.open_pull(repo, title="C", body=f"Hardens #{n}0", files=[SOURCE])  # #N0, not #N
    sandbox.open_pull(repo, title="D", body=f"> Hardens #{n}", files=[SOURCE])  # a quote
    sandbox.open_issue(repo, title="E", body=f"Hardens #{n}")  # an issue, not a pull request
    scope = Scope(*await handler_api(bot_app), *repo.split("/"))
    found = await linked_pulls(scope, n)
    assert [p["number"] for p in found] == [linked["number"], several["number"]]
    assert all("head" in p for p in found)  # full pull request objects


async def test_item_facts_from_linked_pulls(sandbox: Sandbox, repo: str, bot_app: Any) -> None:
    from bot.facts import item_facts
    from bot.item_issues import get_item

    item = sandbox.open_issue(
        repo,
        title="Queue lag item",
        body=render_item(ITEM),
        labels=("hardening", "failure-class:missed-detection"),
        user=BOT,
    )
    n = item["number"]
    merged = sandbox.open_pull(
        repo, title="A", body=f"Hardens #{n}", files=[SOURCE, NEW_TEST, ALERT]
    )
    sandbox.merge_pull(repo, merged["number"])
    await bot_app[LINKS].record_merge(*repo.split("/"), merged["number"], [n])  # its close
    open_pull = sandbox.open_pull(repo, title="B", body=f"Hardens #{n}", files=[SOURCE])
    dropped = sandbox.open_pull(repo, title="C", body=f"Hardens #{n}", files=[SOURCE, ALERT])
    sandbox.update_issue(repo, dropped["number"], state="closed")
    scope = Scope(*await handler_api(bot_app), *repo.split("/"))
    loaded = await get_item(scope, n)
    assert loaded is not None
    config = default_config()
    facts = await item_facts(scope, loaded, config)
    assert facts.number == n and facts.title == "Queue lag item" and facts.state == "open"
    assert [p.number for p in facts.pulls] == [merged["number"], open_pull["number"]]
    first, second = facts.pulls
    assert first.merged and first.adds_regression_test and first.adds_control
    assert first.touches_monitoring and first.url == merged["html_url"]
    assert not second.merged and not second.adds_control
    assert facts.control_mode == "warn"


async def test_an_outsiders_pull_requests_do_not_push_out_the_merged_or_a_writers_one(
    sandbox: Any, repo: str, scope: Scope
) -> None:
    """More pull requests link an item than are read: merged ones are kept first, then those
    by people with write access, then the rest; the item says it was cut."""
    from bot.facts import item_facts, linked_pulls
    from bot.item_issues import get_item

    n = open_app_item(sandbox, repo, OWNED_ITEM)
    real = sandbox.open_pull(repo, title="real", body=f"Hardens #{n}", files=[SOURCE, NEW_TEST])
    sandbox.merge_pull(repo, real["number"])
    sandbox.set_permission(repo, "dave", "write")
    writer = sandbox.open_pull(
        repo, title="w", body=f"Hardens #{n}", files=[SOURCE], user="dave", head="w"
    )
    sandbox.add_user("mallory")
    for k in range(31):
        sandbox.open_pull(
            repo,
            title=f"spam {k}",
            body=f"Hardens #{n}",
            files=[SOURCE],
            head=f"s{k}",
            head_sha=f"{k + 1:040x}",
            user="mallory",
        )
    found = await linked_pulls(scope, n)
    numbers = [p["number"] for p in found]
    assert len(numbers) == 30 and found.more
    assert real["number"] in numbers and writer["number"] in numbers
    loaded = await get_item(scope, n)
    assert loaded is not None
    facts = await item_facts(scope, loaded, default_config())
    assert any(p.merged and p.adds_regression_test for p in facts.pulls)
    assert facts.pulls_limit == 30 and len(facts.pulls_left_out) == 3
    assert real["number"] not in facts.pulls_left_out


async def test_a_merged_pull_request_beyond_the_first_page_of_the_search_is_kept(
    sandbox: Any, repo: str, scope: Scope
) -> None:
    from bot.facts import linked_pulls

    n = open_app_item(sandbox, repo, OWNED_ITEM)
    real = sandbox.open_pull(repo, title="real", body=f"Hardens #{n}", files=[SOURCE])
    sandbox.merge_pull(repo, real["number"])
    sandbox.add_user("mallory")
    for k in range(100):  # newer: the search's first page is all theirs
        sandbox.open_pull(repo, title=f"s{k}", body=f"Hardens #{n}", head=f"s{k}", user="mallory")
    found = await linked_pulls(scope, n)
    assert real["number"] in [p["number"] for p in found] and found.more
    searches = [c for c in sandbox.calls if c.path == "/search/issues"]
    assert len(searches) == 2, "one page, then the merged ones"


async def test_a_merged_pull_request_unrecorded_at_its_merge_counts_only_from_before_the_record(
    sandbox: Any, repo: str, bot_app: Any
) -> None:
    """Merges are recorded from the App's first start with this record on: an unrecorded one
    merged since links nothing (its description may have been edited after it); one merged
    before is read from its description, the only source there is."""
    from bot.facts import linked_pulls

    n = open_app_item(sandbox, repo, OWNED_ITEM)
    old = sandbox.open_pull(repo, title="old", body=f"Hardens #{n}", files=[SOURCE])
    sandbox.merge_pull(repo, old["number"])
    scope = Scope(*await handler_api(bot_app), *repo.split("/"))
    links = bot_app[LINKS]
    merges, since = await links.merges(*repo.split("/"), [old["number"]])
    assert merges == {} and since is not None

    async def started_at(when: float) -> None:
        await links.sql.execute(
            (
                "UPDATE pull_merges SET recorded_at = :when WHERE repository = '' AND pull = 0",
                {"when": when},
            )
        )

    await started_at(since - 3600)  # merged after the record began
    assert list(await linked_pulls(scope, n)) == []
    await started_at(since + 3600)  # merged before it
    assert [p["number"] for p in await linked_pulls(scope, n)] == [old["number"]]
    await links.setup()  # a restart keeps when it began
    assert (await links.merges(*repo.split("/"), []))[1] == since + 3600
