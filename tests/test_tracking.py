"""rules.tracking: matching findings with items, and the tracking comment, as plain data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from rules.config import default_config
from rules.incident import parse_incident
from rules.item_template import render_marker
from rules.model import Evidence, Finding, HardeningItem, Incident, ItemMarker
from rules.planning import timeline_expectations
from rules.tracking import (
    MAX_TITLE,
    Expectation,
    SyncPlan,
    TrackedItem,
    incidents_touched,
    item_intro,
    item_title,
    judge_timeline,
    plan_incident_sync,
    render_tracking_comment,
    tracking_marker,
)

CONFIG = default_config()
NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
BODY = """### Findings
- missed detection: pager did not fire
- slow recovery: rollback took 35 minutes
- cosmic rays: a bit flipped
"""


def incident(body: str = BODY, number: int = 12) -> Incident:
    return parse_incident(number, "Outage", body, ["incident"], CONFIG)


def tracked(
    number: int,
    finding: Finding | None = None,
    *,
    incident_number: int = 12,
    **fields: object,
) -> TrackedItem:
    item = HardeningItem(
        incident=incident_number,
        failure_class=finding.failure_class if finding else "late-decision",
        priority="P1",
        **fields,  # type: ignore[arg-type]
    )
    marker = ItemMarker(incident_number, finding.key) if finding else None
    return TrackedItem(number=number, title=f"Harden: {number}", item=item, marker=marker)


# --- plan_incident_sync -----------------------------------------------------------------------


def test_every_known_finding_without_an_item_is_to_be_created() -> None:
    plan = plan_incident_sync(incident(), [])
    assert [f.failure_class for f in plan.to_create] == ["missed-detection", "slow-recovery"]
    assert plan.tracked == () and plan.orphans == ()
    assert plan.duplicates == () and plan.linked == ()


def test_findings_with_an_item_are_matched_by_marker_key() -> None:
    inc = incident()
    missed, slow = inc.findings
    plan = plan_incident_sync(inc, [tracked(14, slow), tracked(13, missed)])
    assert plan.to_create == ()
    assert [(f.key, t.number) for f, t in plan.tracked] == [(missed.key, 13), (slow.key, 14)]
    assert [t.number for t in plan.backlog] == [13, 14]


def test_an_added_finding_is_the_only_one_to_create() -> None:
    first = incident()
    items = [tracked(13, first.findings[0]), tracked(14, first.findings[1])]
    plan = plan_incident_sync(incident(BODY + "- late decision: paged the wrong team\n"), items)
    assert [f.text for f in plan.to_create] == ["paged the wrong team"]


def test_a_reworded_finding_leaves_an_orphan_and_needs_a_new_item() -> None:
    first = incident()
    items = [tracked(13, first.findings[0]), tracked(14, first.findings[1])]
    plan = plan_incident_sync(incident(BODY.replace("35 minutes", "an hour")), items)
    assert [t.number for t in plan.orphans] == [14]
    assert [f.text for f in plan.to_create] == ["rollback took an hour"]


def test_case_spacing_and_a_full_stop_do_not_make_a_new_finding() -> None:
    first = incident()
    items = [tracked(13, first.findings[0]), tracked(14, first.findings[1])]
    edited = BODY.replace("pager did not fire", "Pager  did not FIRE.").replace(
        "slow recovery", "Slow_Recovery"
    )
    plan = plan_incident_sync(incident(edited), items)
    assert plan.to_create == () and plan.orphans == ()


def test_a_removed_finding_leaves_an_orphan_and_creates_nothing() -> None:
    first = incident()
    items = [tracked(13, first.findings[0]), tracked(14, first.findings[1])]
    plan = plan_incident_sync(incident(BODY.replace("- slow recovery", "- cosmic dust")), items)
    assert plan.to_create == ()
    assert [t.number for t in plan.orphans] == [14]
    assert [t.number for t in plan.backlog] == [13]


def test_a_second_item_for_one_finding_is_a_duplicate_and_the_first_one_counts() -> None:
    inc = incident()
    missed = inc.findings[0]
    plan = plan_incident_sync(inc, [tracked(20, missed), tracked(13, missed)])
    assert [t.number for _, t in plan.tracked] == [13]
    assert [t.number for t in plan.duplicates] == [20]


def test_items_people_opened_are_linked_not_matched() -> None:
    inc = incident()
    human = tracked(30)
    other_incident = TrackedItem(31, item=HardeningItem(incident=12), marker=ItemMarker(9, "k"))
    plan = plan_incident_sync(inc, [human, other_incident])
    assert [t.number for t in plan.linked] == [30, 31]
    assert len(plan.to_create) == 2
    assert [t.number for t in plan.backlog] == [30, 31]


def test_unknown_findings_are_never_planned() -> None:
    inc = incident("### Findings\n- cosmic rays: a bit flipped\n")
    assert plan_incident_sync(inc, []) == SyncPlan()
    assert [f.type_text for f in inc.unknown_findings] == ["cosmic rays"]


def test_the_same_finding_twice_is_planned_once() -> None:
    finding = Finding("x", "missed detection", "pager", "missed-detection", "k1")
    inc = Incident(12, "t", None, findings=(finding, finding))
    assert len(plan_incident_sync(inc, []).to_create) == 1


# --- the item the bot opens -------------------------------------------------------------------


def test_item_title_names_the_finding_and_the_incident() -> None:
    finding = incident().findings[0]
    assert item_title(finding, 12) == "Harden: pager did not fire (from #12)"
    assert "**missed detection**: pager did not fire" in item_intro(finding, 12)


def test_a_long_finding_is_shortened_to_fit_a_title() -> None:
    finding = Finding("x", "missed detection", "word " * 100, "missed-detection", "k")
    title = item_title(finding, 12345)
    assert len(title) <= MAX_TITLE
    assert title.endswith("… (from #12345)")


# --- render_tracking_comment ------------------------------------------------------------------


def render(**overrides: object) -> str:
    inc = incident()
    args: dict[str, object] = {
        "incident": inc,
        "items": [],
        "unknown": inc.unknown_findings,
        "orphans": [],
        "expectations": [],
        "config_errors": [],
        "now": NOW,
    }
    args.update(overrides)
    return render_tracking_comment(**args)  # type: ignore[arg-type]


def test_the_comment_starts_with_its_marker_and_lists_the_backlog() -> None:
    missed, slow = incident().findings
    items = [
        tracked(13, missed, owner="alice", due=date(2026, 3, 20)),
        tracked(14, slow, status="verified", due=date(2026, 3, 1)),
        tracked(15, due=date(2026, 3, 9), status="in_progress"),
    ]
    text = render(items=items)
    assert text.startswith(tracking_marker(12) + "\n")
    assert tracking_marker(12) == "<!-- hardening-bot:tracking incident=12 -->"
    assert "3 hardening items, 1 verified or retired." in text
    assert "- [ ] #13 · missed-detection · P1 · owner @alice · due 2026-03-20 · open" in text
    # Done items are never overdue; open ones past their date are.
    assert "- [x] #14 · slow-recovery · P1 · no owner · due 2026-03-01 · verified" in text
    assert (
        "- [ ] #15 · late-decision · P1 · no owner · due 2026-03-09 **overdue** · in progress"
    ) in text


def test_an_item_without_fields_or_template() -> None:
    bare = TrackedItem(16, item=HardeningItem(), closed=True)
    gone = TrackedItem(17, marker=ItemMarker(12, "k"))
    text = render(items=[bare, gone])
    assert "- [ ] #16 · no failure class · no priority · no owner · no due date · open" in text
    assert "open (issue closed)" in text
    assert "- [ ] #17 · template missing" in text


def test_unknown_finding_types_are_listed_with_the_allowed_ones() -> None:
    text = render(allowed_types=["missed detection", "late decision"])
    assert "#### Unknown finding types" in text
    assert "- `cosmic rays`: a bit flipped" in text
    assert "Allowed types: `missed detection`, `late decision`." in text


def test_a_finding_without_a_type_says_how_to_write_one() -> None:
    inc = incident("### Findings\n- the pager was silent\n")
    text = render(incident=inc, unknown=inc.unknown_findings)
    assert "- the pager was silent (no finding type: write it as `<finding type>: <text>`)" in text


def test_orphans_duplicates_pending_and_config_errors_each_have_a_section() -> None:
    orphan = TrackedItem(20, title="Harden: old words (from #12)", closed=True)
    text = render(
        orphans=[orphan],
        duplicates=[TrackedItem(21, title="Harden: again")],
        pending=incident().findings[:1],
        config_errors=[".github/hardening.yml:3: mode: 'loud' is not one of shadow, warn"],
    )
    assert "#### Orphaned items" in text
    assert "- #20 Harden: old words (from #12) (closed)" in text
    assert "`/harden retire RATIONALE`" in text
    assert "#### Duplicate items" in text and "- #21 Harden: again" in text
    assert "- [ ] `missed detection`: pager did not fire" in text
    assert "- .github/hardening.yml:3: mode: 'loud' is not one of shadow, warn" in text


def test_no_items_says_how_to_write_findings() -> None:
    text = render(unknown=[])
    assert "No hardening items yet" in text
    assert "####" not in text


def test_rendering_is_deterministic_and_only_overdue_flags_depend_on_now() -> None:
    items = [tracked(13, incident().findings[0], due=date(2026, 3, 12))]
    assert render(items=items) == render(items=items)
    assert render(items=items, now=NOW + timedelta(hours=5)) == render(items=items)
    later = render(items=items, now=NOW + timedelta(days=3))
    assert "**overdue**" in later and "**overdue**" not in render(items=items)


def test_expectations_show_the_deadline_and_what_is_missing() -> None:
    due = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)
    expectations = [
        Expectation("0–24h", "incident timeline + evidence packet", due, True),
        Expectation("24–72h", "one automation control + one regression test", due, False, "x"),
        Expectation("3–14d", "runbook", due + timedelta(days=5), False, "y"),
    ]
    text = render(expectations=expectations)
    assert "#### Timeline" in text
    assert "- [x] 0–24h: incident timeline + evidence packet, by 2026-03-09 12:00 UTC\n" in text
    assert (
        "- [ ] 24–72h: one automation control + one regression test, "
        "by 2026-03-09 12:00 UTC **overdue** — x"
    ) in text
    assert "- [ ] 3–14d: runbook, by 2026-03-14 12:00 UTC — y" in text


# --- judge_timeline ---------------------------------------------------------------------------

OPENED = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
WINDOWS = timeline_expectations(OPENED, NOW, CONFIG)


def test_nothing_done_yet() -> None:
    judged = judge_timeline(WINDOWS, BODY, [])
    assert [e.window for e in judged] == ["0–24h", "24–72h", "3–14d"]
    assert [e.due for e in judged] == [
        OPENED + timedelta(hours=24),
        OPENED + timedelta(hours=72),
        OPENED + timedelta(days=14),
    ]
    assert [e.met for e in judged] == [False, False, False]
    assert "Timeline and evidence packet" in judged[0].missing
    assert "no hardening item yet" in judged[2].missing


def test_an_evidence_packet_section_with_content_meets_the_first_window() -> None:
    empty = "### Timeline and evidence packet\n\n_No response_\n\n" + BODY
    filled = "### Timeline and evidence packet\n\n- 10:02 paged\n\n" + BODY
    assert not judge_timeline(WINDOWS, empty, [])[0].met
    assert judge_timeline(WINDOWS, filled, [])[0].met


def test_control_and_test_evidence_meet_the_second_window() -> None:
    finding = incident().findings[0]
    half = [tracked(13, finding, evidence=(Evidence("https://ci/1", "test"),))]
    assert not judge_timeline(WINDOWS, BODY, half)[1].met
    assert "`/harden evidence URL implementation`" in judge_timeline(WINDOWS, BODY, half)[1].missing
    both = [*half, tracked(14, evidence=(Evidence("https://gh/pr/2", "implementation"),))]
    assert judge_timeline(WINDOWS, BODY, both)[1].met
    assert judge_timeline(WINDOWS, BODY, [tracked(15, status="verified")])[1].met


def test_owners_and_a_runbook_meet_the_third_window() -> None:
    owned = tracked(13, owner="alice", verifier="bob")
    unowned = tracked(14, owner="alice")
    runbook = tracked(15, owner="a", verifier="b", evidence=(Evidence("https://r", "runbook"),))
    third = judge_timeline(WINDOWS, BODY, [owned, unowned])[2]
    assert not third.met
    assert "#14" in third.missing and "#13" not in third.missing
    assert "runbook" in third.missing
    assert judge_timeline(WINDOWS, BODY, [owned, runbook])[2].met
    acked = tracked(16, owner="a", verifier="b", acknowledged_by=("a",))
    assert judge_timeline(WINDOWS, BODY, [acked])[2].met


def test_incidents_touched_by_a_hardening_issue_now_and_before_an_edit() -> None:
    now = "### Hardening Item\n- Incident reference: #12\n"
    before = f"{render_marker(ItemMarker(9, 'ab'))}\n{now}"
    assert incidents_touched(["Hardening"], [now, before], "hardening") == {9, 12}
    assert incidents_touched(["bug"], [now], "hardening") == set()
    # An issue that just lost the hardening label still counts; another lost label does not.
    assert incidents_touched(["bug"], [now], "hardening", lost_label="HARDENING") == {12}
    assert incidents_touched(["bug"], [now], "hardening", lost_label="bug") == set()
    assert incidents_touched(["hardening"], ["no reference"], "hardening") == set()
