"""bot.pull_links: the pull requests linking each item, recorded by their own deliveries, so a
scorecard shows them without searching GitHub; on both backends, and through the endpoint."""

from __future__ import annotations

from typing import Any

from conftest import MakeWorld
from test_handlers_pulls import ALERT, MISSED, NEW_TEST, SOURCE, open_item

from bot.inbox import Database
from bot.pull_links import Link, PullLinks
from rules.model import PullFacts
from sandbox import Sandbox

SCORECARD = "hardening/scorecard"


def link(pull: int, *, test: bool = False, state: str = "open") -> Link:
    facts = PullFacts(
        number=pull,
        url=f"https://x/pull/{pull}",
        merged=False,
        adds_regression_test=test,
        adds_control=False,
    )
    return Link(pull, state, "missed-detection", "k", facts)


async def test_each_delivery_replaces_what_its_pull_request_links(database: Database) -> None:
    now = [1000.0]
    one = PullLinks(database.sql, clock=lambda: now[0], max_age=60)
    other = PullLinks(database.sql, clock=lambda: now[0], max_age=60)  # another replica
    await one.setup()
    assert await one.linked("o", "r", 1) is None, "never searched: the caller searches"
    await one.searched("o", "r", 1, [link(5), link(6)])
    await other.record("o", "r", 6, {1: link(6, test=True), 2: link(6, test=True)})
    assert [
        (x.pull, x.facts.adds_regression_test) for x in await one.linked("o", "r", 1) or []
    ] == [
        (5, False),
        (6, True),
    ]
    # A search finds what a delivery already recorded: the delivery's facts stay.
    await one.searched("o", "r", 1, [link(6)])
    assert [x.facts.adds_regression_test for x in await other.linked("o", "r", 1) or []] == [
        False,
        True,
    ]
    # Pull request 6 no longer links item 1 (its description was edited).
    await one.record("o", "r", 6, {2: link(6)})
    assert [x.pull for x in await other.linked("o", "r", 1) or []] == [5]
    assert await other.linked("o", "r", 2) is None  # linked, but item 2 was never searched
    now[0] += 60
    assert await one.linked("o", "r", 1) is None, "searched again after max_age"


async def test_a_scorecard_shows_the_other_linked_pull_requests_without_searching(
    sandbox: Sandbox, repo: str, make_world: MakeWorld
) -> None:
    world = await make_world(issue_max_age=3600.0)
    deliver, drain = world.deliver, world.drain
    item = open_item(sandbox, repo)

    async def event(number: int, action: str, **details: Any) -> None:
        await deliver("pull_request", sandbox.pull_request_event(repo, number, action, **details))
        await drain()

    def scorecard(number: int) -> str:
        head = sandbox.pull(repo, number)["head"]["sha"]
        runs = [r for r in sandbox.check_runs(repo, head) if r["name"] == SCORECARD]
        return str(runs[-1]["output"]["summary"])

    def searches() -> list[Any]:
        return [c for c in sandbox.calls if c.path == "/search/issues"]

    first = sandbox.open_pull(
        repo, title="a", body=f"Hardens #{item}", files=[SOURCE, ALERT], labels=MISSED, user="dave"
    )
    await event(first["number"], "opened")  # the item's first scorecard searches once
    second = sandbox.open_pull(
        repo, title="b", body=f"Hardens #{item}", files=[SOURCE], labels=MISSED, user="dave"
    )
    sandbox.reset_calls()
    await event(second["number"], "opened")
    assert searches() == []
    assert f"#{first['number']}" in scorecard(second["number"])
    assert f"PR #{first['number']} adds a regression test" not in scorecard(second["number"])

    # The first pull request gains a regression test: the second's next scorecard shows it,
    # from what the first's own delivery recorded.
    sandbox.push_pull(repo, first["number"], files=[SOURCE, NEW_TEST, ALERT])
    await event(first["number"], "synchronize")
    sandbox.reset_calls()
    await event(second["number"], "reopened")
    assert searches() == []
    assert f"PR #{first['number']} adds a regression test" in scorecard(second["number"])

    # Closed unmerged, it counts no more.
    sandbox.update_issue(repo, first["number"], user="dave", state="closed")
    await event(first["number"], "closed")
    await event(second["number"], "reopened")
    assert f"#{first['number']}" not in scorecard(second["number"])
