"""rules.edits: the changes commands and merged pull requests make to a hardening item."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from rules.edits import (
    acknowledged,
    in_progress,
    owner_conflict,
    retired,
    verified,
    verifier_conflict,
    with_evidence,
    with_merge_evidence,
)
from rules.model import Evidence, HardeningItem, ItemFacts, Status
from rules.scores import ROLLBACK_TIMED, evaluate

ITEM = HardeningItem(owner="carol", verifier="bob")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("open", "in_progress"),
        ("in_progress", "in_progress"),
        ("verified", "verified"),
        ("retired", "retired"),
    ],
)
def test_work_starts_only_on_an_open_item(before: Status, after: Status) -> None:
    assert in_progress(HardeningItem(status=before)).status == after


def test_evidence_is_added_once_and_starts_the_work() -> None:
    first = with_evidence(HardeningItem(), Evidence("https://x.example.com/r/1"))
    assert first.status == "in_progress"
    again = with_evidence(first, Evidence("https://x.example.com/r/1/", "rollback", "took 90s", 90))
    assert again.evidence == (Evidence("https://x.example.com/r/1", "rollback", "took 90s", 90),)
    other = with_evidence(again, Evidence("https://x.example.com/r/2"))
    assert [e.url for e in other.evidence] == [
        "https://x.example.com/r/1",
        "https://x.example.com/r/2",
    ]


def test_refiling_a_link_under_another_kind_does_not_carry_its_timing() -> None:
    url = "https://x.example.com/drill/1"
    paged = with_evidence(HardeningItem(), Evidence(url, "behavioral", "paged in 1m", 60))
    refiled = with_evidence(paged, Evidence(url, "rollback"))
    assert refiled.evidence == (Evidence(url, "rollback"),)
    [row] = [
        r
        for r in evaluate(ItemFacts(number=1, item=refiled)).scorecard.rows
        if r.name == ROLLBACK_TIMED
    ]
    assert row.points == 0
    # the same kind again keeps what was recorded
    timed = with_evidence(HardeningItem(), Evidence(url, "rollback", "took 90s", 90))
    assert with_evidence(timed, Evidence(url + "/", "rollback")).evidence == timed.evidence


def test_merge_evidence_adds_only_new_links() -> None:
    known = Evidence("https://github.com/o/r/pull/3", "implementation")
    item = HardeningItem(evidence=(known,))
    test = Evidence("https://github.com/o/r/blob/abc/tests/test_x.py#L4", "test")
    updated, added = with_merge_evidence(item, [known, test])
    assert added == (test,)
    assert updated.evidence == (known, test) and updated.status == "in_progress"
    assert with_merge_evidence(updated, [known, test]) == (updated, ())


def test_an_acknowledgement_is_recorded_once() -> None:
    once = acknowledged(ITEM, "carol")
    assert once.acknowledged_by == ("carol",) and once.status == "in_progress"
    assert acknowledged(once, "@Carol").acknowledged_by == ("carol",)


def test_owner_and_verifier_must_be_two_people() -> None:
    assert owner_conflict(ITEM, "zed") is None
    assert owner_conflict(ITEM, "carol") is None  # already the owner: nothing changes
    assert "@Bob is the verifier owner" in (owner_conflict(ITEM, "Bob") or "")
    assert verifier_conflict(ITEM, "yan") is None
    assert "@carol is the execution owner" in (verifier_conflict(ITEM, "carol") or "")


def test_verified_and_retired() -> None:
    at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
    done = verified(ITEM, by="bob", at=at, link="https://github.com/o/r/issues/1#c")
    assert (done.status, done.verified_by, done.verified_link) == (
        "verified",
        "bob",
        "https://github.com/o/r/issues/1#c",
    )
    assert done.verified_at == at.replace(microsecond=0)
    gone = retired(ITEM, "duplicates the canary gate")
    assert (gone.status, gone.retired_rationale) == ("retired", "duplicates the canary gate")


def test_a_hand_edit_puts_gate_fields_back_and_plain_fields_by_who_edited() -> None:
    from rules.edits import judge_hand_edit

    recorded = HardeningItem(owner="carol", verifier="bob", status="in_progress")
    typed = replace(recorded, status="verified", verified_by="bob", owner="mallory")
    by_writer = judge_hand_edit(recorded, recorded, typed, may_edit_plain=True)
    assert by_writer.undone_gate == ("status", "verified_by")
    assert by_writer.item == replace(recorded, owner="mallory")
    assert by_writer.taken_plain == ("owner",) and by_writer.undone
    by_reader = judge_hand_edit(recorded, recorded, typed, may_edit_plain=False)
    assert by_reader.item == recorded and by_reader.undone_plain == ("owner",)
    untouched = judge_hand_edit(recorded, recorded, recorded, may_edit_plain=False)
    assert not untouched.undone and untouched.item == recorded
