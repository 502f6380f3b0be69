"""rules.debt: /harden defer arguments, refusals, the template line, overdue and revisit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from rules.debt import (
    debt_to_revisit,
    deferral_refusal,
    deferred,
    in_debt_ledger,
    is_deferred,
    read_defer_arguments,
)
from rules.item_template import parse_item, render_item
from rules.model import Deferral, HardeningItem
from rules.planning import overdue

TODAY = date(2026, 12, 10)
ITEM = HardeningItem(failure_class="slow-recovery", owner="alice", due=date(2026, 12, 5))


def test_full_request_is_read() -> None:
    request = read_defer_arguments("2026-12-30 vendor contract first;  risk if delayed: outage")
    assert request.revisit == date(2026, 12, 30)
    assert request.reason == "vendor contract first"
    assert request.risk == "outage"
    assert request.missing == ()


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("vendor first; risk if delayed: outage", ["a revisit date (YYYY-MM-DD, first)"]),
        ("2026-12-30 vendor first", ["the risk if delayed (`; risk if delayed: …`)"]),
        ("2026-12-30 risk if delayed: outage", ["why it is deferred"]),
        (
            "",
            [
                "a revisit date (YYYY-MM-DD, first)",
                "why it is deferred",
                "the risk if delayed (`; risk if delayed: …`)",
            ],
        ),
        (
            "2026-02-30 x; risk if delayed: y",
            ["a revisit date that is a calendar date (`2026-02-30` is not)"],
        ),
    ],
)
def test_missing_parts_are_all_named(text: str, missing: list[str]) -> None:
    assert list(read_defer_arguments(text).missing) == missing


def test_past_or_today_revisit_date_is_refused() -> None:
    for day in ("2026-12-10", "2026-12-01"):
        request = read_defer_arguments(f"{day} x; risk if delayed: y")
        reason = deferral_refusal(request, ITEM, TODAY)
        assert reason is not None and "is not in the future" in reason
    ok = read_defer_arguments("2026-12-11 x; risk if delayed: y")
    assert deferral_refusal(ok, ITEM, TODAY) is None


def test_done_items_cannot_be_deferred() -> None:
    request = read_defer_arguments("2026-12-30 x; risk if delayed: y")
    reason = deferral_refusal(request, replace(ITEM, status="verified"), TODAY)
    assert reason == "the item is already verified: there is no work left to defer"


def test_deferred_item_is_not_overdue_until_its_revisit_date() -> None:
    assert overdue(ITEM, TODAY)
    request = read_defer_arguments("2026-12-20 vendor; risk if delayed: outage")
    item = deferred(ITEM, request, "carol")
    assert item.deferral == Deferral(date(2026, 12, 20), "vendor", "outage", by="carol")
    assert is_deferred(item, TODAY) and not overdue(item, TODAY)
    assert in_debt_ledger(item) and not debt_to_revisit(item, TODAY)
    later = date(2026, 12, 21)
    assert overdue(item, later) and debt_to_revisit(item, later)
    assert not in_debt_ledger(replace(item, status="retired"))


def test_deferral_round_trips_through_the_template() -> None:
    item = replace(
        ITEM, deferral=Deferral(date(2027, 1, 2), "waits; on vendor", "a second outage", by="carol")
    )
    text = render_item(item)
    assert (
        "- Deferred until: 2027-01-02 by @carol: waits; on vendor; risk if delayed: a second outage"
        in text
    )
    assert parse_item(text).item == item


def test_unreadable_deferral_line_is_a_problem_not_a_crash() -> None:
    parse = parse_item(render_item(ITEM) + "- Deferred until: someday\n")
    assert parse.item is not None and parse.item.deferral is None
    assert any("Deferred until" in p for p in parse.problems)
