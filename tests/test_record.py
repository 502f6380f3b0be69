"""rules.record: the App's signed record, sealed and opened without any I/O."""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from rules import markers
from rules.edits import adopted
from rules.model import Evidence, HardeningItem
from rules.record import (
    GATE_FIELDS,
    Record,
    bound,
    canonical,
    gate_edits,
    gate_of,
    plain_edits,
    recorded,
    seal,
    subject_of,
    unseal,
    with_gate,
)

KEY = b"k" * 32
SUBJECT = subject_of("Octo", "Repo", 7)
VERIFIED = HardeningItem(
    owner="carol",
    verifier="bob",
    evidence=(Evidence("https://ci.example.com/1", "implementation", "green", None),),
    status="verified",
    acknowledged_by=("carol",),
    verified_by="bob",
    verified_at=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    verified_link="https://github.com/octo/repo/issues/7#issuecomment-1",
)


def test_subject_names_one_issue_whatever_the_case() -> None:
    assert SUBJECT == "octo/repo#7"


def test_a_sealed_record_opens_with_its_key_and_subject() -> None:
    record = recorded(None, SUBJECT, VERIFIED)
    body = f"Some text\n\n{seal(record, KEY)}\n"
    reading = unseal(body, KEY, SUBJECT)
    assert reading.state == "valid" and reading.record == record
    assert with_gate(HardeningItem(owner="carol", verifier="bob"), reading.record) == VERIFIED


def test_a_record_fails_closed_when_forged_edited_moved_or_keyless() -> None:
    line = seal(recorded(None, SUBJECT, VERIFIED), KEY)
    # Another key (someone who does not hold the App's secret) cannot sign one.
    assert unseal(seal(recorded(None, SUBJECT, VERIFIED), b"x" * 32), KEY, SUBJECT).state == (
        "broken"
    )
    # Editing the data by hand breaks the signature.
    data = line.split("data=")[1].split(" ")[0]
    raw = json.loads(base64.urlsafe_b64decode(data))
    raw["x"]["item"]["status"] = "retired"
    forged = line.replace(data, base64.urlsafe_b64encode(json.dumps(raw).encode()).decode())
    assert unseal(forged, KEY, SUBJECT).state == "broken"
    # A valid record copied onto another issue is not that issue's.
    assert unseal(line, KEY, subject_of("octo", "repo", 8)).state == "broken"
    # Without the key nothing verifies; without a line there is nothing.
    assert unseal(line, None, SUBJECT).state == "broken"
    assert unseal("no record", KEY, SUBJECT).state == "absent"
    # Only a line of its own counts.
    assert unseal(f"quoted: {line}", KEY, SUBJECT).state == "absent"
    # And what cannot be proven counts as not done.
    assert with_gate(VERIFIED, None) == dataclasses.replace(
        VERIFIED,
        status="open",
        evidence=(),
        acknowledged_by=(),
        verified_by=None,
        verified_at=None,
        verified_link=None,
    )


def test_the_newest_of_several_valid_records_wins() -> None:
    first = recorded(None, SUBJECT, HardeningItem())
    second = recorded(first, SUBJECT, VERIFIED)
    assert second.serial == first.serial + 1
    body = f"{seal(second, KEY)}\n{seal(first, KEY)}\n"  # an old one pasted back below
    assert unseal(body, KEY, SUBJECT).record == second


def test_sections_are_independent_and_an_unchanged_section_changes_nothing() -> None:
    record = recorded(None, SUBJECT, VERIFIED)
    assert recorded(record, SUBJECT, VERIFIED) is record
    deferred = record.with_section("deferral", {"until": "2026-05-01", "reason": "freeze"})
    assert deferred.serial == record.serial + 1
    assert deferred.section("item") == gate_of(VERIFIED)
    assert (
        deferred.with_section("deferral", {"reason": "freeze", "until": "2026-05-01"}) is deferred
    )
    reading = unseal(seal(deferred, KEY), KEY, SUBJECT)
    assert (
        reading.record is not None and reading.record.section("deferral")["until"] == "2026-05-01"
    )


def test_gate_and_plain_edits_are_told_apart() -> None:
    typed = dataclasses.replace(
        VERIFIED, status="retired", retired_rationale="typed", owner="mallory"
    )
    assert gate_edits(VERIFIED, typed) == ("status", "retired_rationale")
    assert plain_edits(VERIFIED, typed) == ("owner",)
    assert gate_edits(VERIFIED, VERIFIED) == ()
    assert set(GATE_FIELDS) >= {"status", "evidence", "acknowledged_by", "verified_by"}


def test_adoption_takes_no_typed_gate_fact() -> None:
    item = adopted(VERIFIED, keep_evidence=False)
    assert item.status == "open" and not item.evidence and not item.verified_by
    assert not item.acknowledged_by and item.owner == "carol"
    kept = adopted(VERIFIED, keep_evidence=True)
    assert kept.status == "in_progress" and kept.evidence == VERIFIED.evidence


@given(st.text(max_size=3000))
def test_unseal_never_raises(text: str) -> None:
    unseal(text, KEY, SUBJECT)
    unseal(text + "\n" + markers.record(1, "0" * 64, "e30=") + "\n" + text, KEY, SUBJECT)


def test_a_record_is_plain_json_in_one_hidden_line() -> None:
    line = seal(Record(SUBJECT), KEY)
    assert line.startswith("<!-- hardening-bot:record v=1 mac=") and "\n" not in line
    assert markers.records_in(line) and markers.without_records(f"a\n{line}\nb") == "a\nb"


def test_a_record_bound_to_the_repository_id_survives_a_rename() -> None:
    record = recorded(None, SUBJECT, VERIFIED, repository=42)
    body = seal(record, KEY)
    renamed = subject_of("octo", "renamed", 7)
    reading = unseal(body, KEY, renamed, repository=42)
    assert reading.state == "valid" and reading.record == record
    # Not for another repository's id, another issue number, or a reader who knows no id.
    assert unseal(body, KEY, renamed, repository=43).state == "broken"
    assert unseal(body, KEY, subject_of("octo", "renamed", 8), repository=42).state == "broken"
    assert unseal(body, KEY, renamed).state == "broken"
    # A record from before the id was kept opens as before, and its next write binds it.
    old = recorded(None, SUBJECT, VERIFIED)
    assert old.repository is None and b'"r"' not in canonical(old)
    opened = unseal(seal(old, KEY), KEY, SUBJECT, repository=42).record
    assert opened == old
    again = recorded(opened, SUBJECT, VERIFIED, repository=42)
    assert (again.repository, again.serial) == (42, old.serial + 1)
    moved = bound(again, renamed, 42)
    assert moved.subject == renamed and moved.serial == again.serial + 1
    assert bound(moved, renamed, None) is moved
