"""rules.item_template: the hardening loop's Hardening Item template, read tolerantly and written canonically."""

from __future__ import annotations

import string
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.item_template import (
    FIELD_NAMES,
    parse_item,
    parse_marker,
    render_item,
    render_marker,
    replace_item_in_body,
    visible_lines,
)
from rules.model import EVIDENCE_KINDS, PRIORITIES, STATUSES, Evidence, HardeningItem, ItemMarker

# The template as docs/rules.md shows it, with real links.
TEMPLATE_BODY = """\
### Hardening Item
- Incident reference: #12
- Failure class: missed-detection
- Proposed control: alert rule + routing update
- Priority band: P1
- Execution owner: @alice
- Verifier owner: @bob
- Due date: 2026-12-01
- Evidence link(s): https://github.com/octo/repo/pull/7, https://grafana.example/d/checkout
- Adoption check date: 2026-12-15
- Status: open
"""

TEMPLATE_ITEM = HardeningItem(
    incident=12,
    failure_class="missed-detection",
    proposed_control="alert rule + routing update",
    priority="P1",
    owner="alice",
    verifier="bob",
    due=date(2026, 12, 1),
    evidence=(
        Evidence("https://github.com/octo/repo/pull/7"),
        Evidence("https://grafana.example/d/checkout"),
    ),
    adoption_check=date(2026, 12, 15),
    status="open",
)

MARKER = ItemMarker(incident=12, finding_key="0123456789ab")


def test_contract_template_reads_and_renders_identically():
    parsed = parse_item(TEMPLATE_BODY)
    assert parsed.item == TEMPLATE_ITEM
    assert parsed.problems == ()
    assert parsed.span == (0, len(TEMPLATE_BODY))
    assert render_item(TEMPLATE_ITEM) == TEMPLATE_BODY


def test_the_blank_template_reads_as_an_empty_item_with_problems():
    blank_template = """\
### Hardening Item
- Incident reference:
- Failure class:
- Proposed control:
- Priority band: P0/P1/P2/P3
- Execution owner:
- Verifier owner:
- Due date:
- Evidence link(s):
- Adoption check date:
- Status: open | in_progress | verified | retired"""
    parsed = parse_item(blank_template)
    assert parsed.item == HardeningItem()
    assert parsed.problems == (
        "Priority band: choose one of P0, P1, P2, P3",
        "Status: choose one of open, in_progress, verified, retired; reading it as open",
    )


# One line of the template as people rewrite it -> the field it sets.
LINES = [
    ("- Execution owner: @alice", {"owner": "alice"}),
    ("- Execution owner: alice", {"owner": "alice"}),
    ("-   Execution owner:    @alice   ", {"owner": "alice"}),
    ("* Execution owner: @alice", {"owner": "alice"}),
    ("+ Execution owner: @alice", {"owner": "alice"}),
    ("• Execution owner: @alice", {"owner": "alice"}),
    ("1. Execution owner: @alice", {"owner": "alice"}),
    ("- [x] Execution owner: @alice", {"owner": "alice"}),
    ("Execution owner: @alice", {"owner": "alice"}),
    ("- Execution owner - @alice", {"owner": "alice"}),
    ("- Execution owner – @alice", {"owner": "alice"}),
    ("- Execution owner — @alice", {"owner": "alice"}),
    ("- Execution owner—@alice", {"owner": "alice"}),
    ("- **Execution owner:** @alice", {"owner": "alice"}),
    ("- **Execution owner**: @alice", {"owner": "alice"}),
    ("- __Execution owner__: @alice", {"owner": "alice"}),
    ("- execution OWNER: @alice", {"owner": "alice"}),
    ("- Owner: @alice", {"owner": "alice"}),
    ("- Execution owner: `@alice`", {"owner": "alice"}),
    ("- Execution owner: @alice (SRE)", {"owner": "alice"}),
    ("- Execution owner:", {"owner": None}),
    ("- Execution owner: TBD", {"owner": None}),
    ("- Execution owner: n/a", {"owner": None}),
    ("- Verifier owner: @bob-smith", {"verifier": "bob-smith"}),
    ("- Verifier: bob", {"verifier": "bob"}),
    ("- Incident reference: #12", {"incident": 12}),
    ("- Incident reference: 12", {"incident": 12}),
    ("- Incident reference: https://github.com/octo/repo/issues/12", {"incident": 12}),
    ("- Incident reference: https://github.com/octo/repo/issues/12#issuecomment-1",
     {"incident": 12}),
    ("- Incident reference: octo/repo#12", {"incident": 12}),
    ("- Incident reference: [#12](https://github.com/octo/repo/issues/12)", {"incident": 12}),
    ("- Incident reference: #12 (checkout outage)", {"incident": 12}),
    ("- Incident: #12", {"incident": 12}),
    ("- Failure class: missed-detection", {"failure_class": "missed-detection"}),
    ("- Failure class: Missed detection", {"failure_class": "missed-detection"}),
    ("- Failure class: failure-class:slow-recovery", {"failure_class": "slow-recovery"}),
    ("- Failure class: `late_decision`", {"failure_class": "late-decision"}),
    ("- Priority band: P0", {"priority": "P0"}),
    ("- Priority band: p2", {"priority": "P2"}),
    ("- Priority: priority:P3", {"priority": "P3"}),
    ("- Priority band: **P1**", {"priority": "P1"}),
    ("- Priority band: P1 (raised by sev-1)", {"priority": "P1"}),
    ("- Due date: 2026-12-01", {"due": date(2026, 12, 1)}),
    ("- Due date: 2026-12-01 (sprint day 5)", {"due": date(2026, 12, 1)}),
    ("- Due: 2026-12-01", {"due": date(2026, 12, 1)}),
    ("- **Due date:** 2026-12-01", {"due": date(2026, 12, 1)}),
    ("- Adoption check date: 2026-12-15", {"adoption_check": date(2026, 12, 15)}),
    ("- Adoption check: 2026-12-15", {"adoption_check": date(2026, 12, 15)}),
    ("- Status: open", {"status": "open"}),
    ("- Status: In Progress", {"status": "in_progress"}),
    ("- Status: in-progress", {"status": "in_progress"}),
    ("- Status: in_progress", {"status": "in_progress"}),
    ("- Status: VERIFIED", {"status": "verified"}),
    ("- Status: **retired**", {"status": "retired"}),
    ("- Proposed control: alert rule + routing update",
     {"proposed_control": "alert rule + routing update"}),
    ("- Proposed control: page on 5xx > 2% - route to payments",
     {"proposed_control": "page on 5xx > 2% - route to payments"}),
    ("- Control: x: y", {"proposed_control": "x: y"}),
    ("- Verification style: timed rollback run", {"verification_style": "timed rollback run"}),
    ("- Runbook acknowledged by: @alice, @bob", {"acknowledged_by": ("alice", "bob")}),
    ("- Runbook acknowledged by: alice bob", {"acknowledged_by": ("alice", "bob")}),
    ("- Verified by: @bob", {"verified_by": "bob"}),
    ("- Verified by: @bob at 2026-12-10T09:30:00+00:00 via https://github.com/o/r/issues/5#c",
     {"verified_by": "bob", "verified_at": datetime(2026, 12, 10, 9, 30, tzinfo=UTC),
      "verified_link": "https://github.com/o/r/issues/5#c"}),
    ("- Retirement rationale: duplicates the stronger deploy gate",
     {"retired_rationale": "duplicates the stronger deploy gate"}),
    ("- Rationale: ", {"retired_rationale": None}),
]  # fmt: skip


@pytest.mark.parametrize(("line", "fields"), LINES)
def test_human_edited_lines(line: str, fields: dict):
    body = f"### Hardening Item\n{line}\n- Status: open\n"
    if "Status" in line:
        body = f"### Hardening Item\n- Incident reference: #1\n{line}\n"
    parsed = parse_item(body)
    assert parsed.item is not None
    assert parsed.problems == ()
    for name, value in fields.items():
        assert getattr(parsed.item, name) == value, name


# Values that cannot be read become problems that name the field and the value.
PROBLEMS = [
    ("- Execution owner: @acme/sre", "Execution owner: '@acme/sre' is a team"),
    ("- Execution owner: alice and bob",
     "Execution owner: 'alice and bob' is not one GitHub login"),
    ("- Verifier owner: bad--login", "Verifier owner: 'bad--login' is not one GitHub login"),
    ("- Due date: 2026-02-30", "Due date: '2026-02-30' is not a calendar date"),
    ("- Due date: next friday", "Due date: 'next friday' is not a date like 2026-12-01"),
    ("- Due date: 12/01/2026", "Due date: '12/01/2026' is not a date like 2026-12-01"),
    ("- Incident reference: INC-4", "Incident reference: 'INC-4' is not an issue reference"),
    ("- Priority band: P7", "Priority band: 'P7' is not one of P0, P1, P2, P3"),
    ("- Priority band: urgent", "Priority band: 'urgent' is not one of P0, P1, P2, P3"),
    ("- Status: done", "Status: 'done' is not one of open, in_progress, verified, retired"),
    ("- Failure class: ???", "Failure class: '???' is not a failure class"),
    ("- Evidence link(s): see the PR", "Evidence link(s): 'see the PR' is not an http(s) link"),
    ("- Runbook acknowledged by: @alice, x--y",
     "Runbook acknowledged by: 'x--y' not a GitHub login"),
    ("- Verified by: @bob at yesterday", "Verified by: 'yesterday' is not an ISO date and time"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "problem"), PROBLEMS)
def test_unreadable_values_are_problems_not_exceptions(line: str, problem: str):
    parsed = parse_item(f"### Hardening Item\n- Proposed control: x\n{line}\n")
    assert parsed.item is not None
    assert any(p.startswith(problem) for p in parsed.problems), parsed.problems


def test_status_that_cannot_be_read_stays_open():
    parsed = parse_item("### Hardening Item\n- Status: done\n")
    assert parsed.item is not None and parsed.item.status == "open"


def test_a_field_given_twice_uses_the_first_and_says_so():
    parsed = parse_item("### Hardening Item\n- Due date: 2026-01-02\n- Due date: 2026-03-04\n")
    assert parsed.item.due == date(2026, 1, 2)
    assert parsed.problems == ("'Due date' is given more than once; the first one is used",)


EVIDENCE = [
    ("- Evidence link(s): https://a.example/1", [Evidence("https://a.example/1")]),
    ("- Evidence link(s): https://a.example/1, https://b.example/2",
     [Evidence("https://a.example/1"), Evidence("https://b.example/2")]),
    ("- Evidence link(s): https://a.example/1 https://b.example/2",
     [Evidence("https://a.example/1"), Evidence("https://b.example/2")]),
    ("- Evidence link(s): https://a.example/1,https://b.example/2",
     [Evidence("https://a.example/1"), Evidence("https://b.example/2")]),
    ("- Evidence link(s): <https://a.example/1>; https://b.example/2.",
     [Evidence("https://a.example/1"), Evidence("https://b.example/2")]),
    ("- Evidence link(s): https://a.example/1 (behavioral: drill replay), https://b.example/2",
     [Evidence("https://a.example/1", "behavioral", "drill replay"), Evidence("https://b.example/2")]),
    ("- Evidence link(s): https://a.example/1 (behavioural)",
     [Evidence("https://a.example/1", "behavioral")]),
    ("- Evidence link(s): https://a.example/1 rollback took 4m30s",
     [Evidence("https://a.example/1", "rollback", "took 4m30s")]),
    ("- Evidence link(s): https://a.example/1 (staging drill)",
     [Evidence("https://a.example/1", None, "staging drill")]),
    ("- Evidence link(s): [PR 7](https://github.com/o/r/pull/7)",
     [Evidence("https://github.com/o/r/pull/7", None, "PR 7")]),
    ("- Evidence link(s): [test](https://ci.example/run/9)",
     [Evidence("https://ci.example/run/9", "test")]),
    ("- Evidence link(s): https://en.wikipedia.org/wiki/Canary_(disambiguation)",
     [Evidence("https://en.wikipedia.org/wiki/Canary_(disambiguation)")]),
    ("- Evidence link(s):\n  - https://a.example/1 (implementation: diff + command output)\n"
     "  - https://b.example/2 (rollback, timed 4m30s: staging rehearsal)\n"
     "  * https://c.example/3",
     [Evidence("https://a.example/1", "implementation", "diff + command output"),
      Evidence("https://b.example/2", "rollback", "staging rehearsal", 270),
      Evidence("https://c.example/3")]),
    ("- Evidence link(s):\n- https://a.example/1\n- https://b.example/2 (runbook)",
     [Evidence("https://a.example/1"), Evidence("https://b.example/2", "runbook")]),
    ("- Evidence link(s): https://a.example/1\n    https://b.example/2 (monitoring: dashboard)",
     [Evidence("https://a.example/1"), Evidence("https://b.example/2", "monitoring", "dashboard")]),
    ("- Evidence link(s): none", []),
    ("- Evidence link(s): -", []),
]  # fmt: skip


@pytest.mark.parametrize(("text", "evidence"), EVIDENCE)
def test_evidence_links(text: str, evidence: list[Evidence]):
    parsed = parse_item(f"### Hardening Item\n- Incident reference: #1\n{text}\n- Status: open\n")
    assert parsed.problems == () and parsed.item is not None
    assert list(parsed.item.evidence) == evidence
    assert parsed.item.status == "open"


HUMAN_BODY = """\
Follow-up from the checkout outage. Context: https://status.example/incidents/42

## hardening item
* **Incident reference:** https://github.com/octo/repo/issues/12
+ Failure class – Missed detection
- Priority band - p0
- Execution owner:   alice
- **Verifier owner**: @bob
- Notes: keep the old alert until the new one has fired once
- Due date: 2026-12-01
- Evidence link(s):
  - https://github.com/octo/repo/pull/7 (implementation)
  - [drill](https://drills.example/2026-11-30)
- Status: In Progress

```
- Status: verified
```

Thanks, @carol!
"""


def test_a_realistic_human_edited_body():
    parsed = parse_item(HUMAN_BODY)
    assert parsed.problems == ()
    assert parsed.item == HardeningItem(
        incident=12,
        failure_class="missed-detection",
        priority="P0",
        owner="alice",
        verifier="bob",
        due=date(2026, 12, 1),
        evidence=(
            Evidence("https://github.com/octo/repo/pull/7", "implementation"),
            Evidence("https://drills.example/2026-11-30", None, "drill"),
        ),
        status="in_progress",
    )
    start, end = parsed.span
    assert HUMAN_BODY[start:].startswith("## hardening item")
    assert HUMAN_BODY[:end].endswith("- Status: In Progress\n")


def test_replace_keeps_human_text_and_extra_lines():
    item = replace(parse_item(HUMAN_BODY).item, owner="dave")
    new_body = replace_item_in_body(HUMAN_BODY, item, MARKER)
    assert new_body.startswith(
        "Follow-up from the checkout outage. Context: https://status.example/incidents/42\n\n"
        + render_marker(MARKER)
        + "\n### Hardening Item\n"
    )
    assert "- Execution owner: @dave\n" in new_body
    assert "- Notes: keep the old alert until the new one has fired once\n" in new_body
    assert new_body.endswith(
        "- Status: in_progress\n- Notes: keep the old alert until the new one has fired once\n"
        "\n```\n- Status: verified\n```\n\nThanks, @carol!\n"
    )
    again = parse_item(new_body)
    assert again.item == item and again.marker == MARKER and again.problems == ()
    assert replace_item_in_body(new_body, item, MARKER) == new_body


def test_no_heading_and_text_around():
    body = "Intro.\n\n- Incident reference: #5\n- Status: verified\n- Due date: 2026-01-02\n\nBye."
    parsed = parse_item(body)
    assert parsed.item == HardeningItem(incident=5, status="verified", due=date(2026, 1, 2))
    assert body[parsed.span[0] : parsed.span[1]] == (
        "- Incident reference: #5\n- Status: verified\n- Due date: 2026-01-02\n"
    )


@pytest.mark.parametrize(
    "heading", ["# Hardening Item", "#### Hardening item", "**Hardening Item**", "Hardening Item:",
                "### Hardening Item #3", "## **Hardening Item**"]
)  # fmt: skip
def test_any_heading_level(heading: str):
    parsed = parse_item(f"{heading}\n\n- Status: retired\n")
    assert parsed.item == HardeningItem(status="retired")


def test_one_field_without_a_heading_is_not_a_block():
    parsed = parse_item("We discussed it.\n- Status: blocked on vendor\n")
    assert parsed.item is None
    assert parsed.problems == ("No Hardening Item block found",)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "just text",
        "```\n### Hardening Item\n- Status: open\n```",
        "<!--\n### Hardening Item\n- Status: open\n- Due: 2026-01-01\n-->",
    ],
)
def test_no_block(body: str):
    assert parse_item(body).item is None


def test_issue_form_layout():
    body = (
        "### Incident reference\n\n#12\n\n### Failure class\n\nslow-recovery\n\n"
        "### Execution owner\n\n_No response_\n\n### Due date\n\n2026-12-01\n\n"
        "### Evidence link(s)\n\nhttps://a.example/1\nhttps://b.example/2 (rollback)\n\n"
        "### Status\n\nopen\n\n### Anything else?\n\nNope.\n"
    )
    parsed = parse_item(body)
    assert parsed.problems == ()
    assert parsed.item == HardeningItem(
        incident=12,
        failure_class="slow-recovery",
        due=date(2026, 12, 1),
        evidence=(Evidence("https://a.example/1"), Evidence("https://b.example/2", "rollback")),
    )
    rewritten = replace_item_in_body(body, parsed.item)
    assert rewritten.startswith("### Hardening Item\n")
    assert rewritten.endswith("- Status: open\n\n### Anything else?\n\nNope.\n")


def test_crlf_bodies_keep_crlf():
    body = TEMPLATE_BODY.replace("\n", "\r\n")
    parsed = parse_item(body)
    assert parsed.item == TEMPLATE_ITEM
    new = replace_item_in_body("Intro\r\n\r\n" + body + "\r\nBye\r\n", TEMPLATE_ITEM)
    assert new == "Intro\r\n\r\n" + body + "\r\nBye\r\n"


def test_render_adds_bot_fields_only_when_set():
    assert render_item(HardeningItem()).count("\n") == 11
    full = replace(
        TEMPLATE_ITEM,
        status="verified",
        verification_style="synthetic alert replay",
        acknowledged_by=("alice",),
        verified_by="bob",
        verified_at=datetime(2026, 12, 10, 9, 30, tzinfo=UTC),
        verified_link="https://github.com/octo/repo/issues/20#issuecomment-9",
        evidence=(
            Evidence("https://github.com/octo/repo/pull/7", "implementation", "diff + tests"),
            Evidence("https://ci.example/run/1", "rollback", "staging", 270),
            Evidence("https://x.example/a", None, "screenshot of the page"),
        ),
    )
    assert render_item(full, MARKER) == (
        "<!-- hardening-bot:item incident=12 finding=0123456789ab -->\n"
        "### Hardening Item\n"
        "- Incident reference: #12\n"
        "- Failure class: missed-detection\n"
        "- Proposed control: alert rule + routing update\n"
        "- Priority band: P1\n"
        "- Execution owner: @alice\n"
        "- Verifier owner: @bob\n"
        "- Due date: 2026-12-01\n"
        "- Evidence link(s):\n"
        "  - https://github.com/octo/repo/pull/7 (implementation: diff + tests)\n"
        "  - https://ci.example/run/1 (rollback, timed 4m30s: staging)\n"
        "  - https://x.example/a (note: screenshot of the page)\n"
        "- Adoption check date: 2026-12-15\n"
        "- Status: verified\n"
        "- Verification style: synthetic alert replay\n"
        "- Runbook acknowledged by: @alice\n"
        "- Verified by: @bob at 2026-12-10T09:30:00+00:00 via "
        "https://github.com/octo/repo/issues/20#issuecomment-9\n"
    )
    assert parse_item(render_item(full, MARKER)).item == full
    retired = replace(TEMPLATE_ITEM, status="retired", retired_rationale="duplicate of #30")
    assert render_item(retired).endswith("- Retirement rationale: duplicate of #30\n")


def test_render_keeps_every_field_name_of_the_template():
    rendered = render_item(HardeningItem())
    for key in list(FIELD_NAMES)[:10]:
        assert f"- {FIELD_NAMES[key]}:" in rendered


def test_append_when_there_is_no_block():
    assert replace_item_in_body("", TEMPLATE_ITEM) == TEMPLATE_BODY
    assert replace_item_in_body("Context.\n\n", TEMPLATE_ITEM, MARKER) == (
        "Context.\n\n" + render_item(TEMPLATE_ITEM, MARKER)
    )


def test_marker_is_kept_once():
    body = f"Intro\n{render_marker(MARKER)}\n\n{TEMPLATE_BODY}"
    assert parse_item(body).marker == MARKER
    new = replace_item_in_body(body, TEMPLATE_ITEM)  # no marker given: the existing one stays
    assert new.count("hardening-bot:item") == 1
    assert new == "Intro\n" + render_item(TEMPLATE_ITEM, MARKER)
    moved = f"{render_marker(MARKER)}\nText\n\n{TEMPLATE_BODY}"
    assert replace_item_in_body(moved, TEMPLATE_ITEM).count("hardening-bot:item") == 1


@pytest.mark.parametrize(
    ("text", "marker"),
    [("<!-- hardening-bot:item incident=12 finding=abc123 -->", ItemMarker(12, "abc123")),
     ("  <!-- hardening-bot:item incident=3 finding=ff -->  ", ItemMarker(3, "ff")),
     # Only a line of its own counts: a title or finding quoted mid-line cannot plant one.
     ("x <!-- hardening-bot:item incident=3 finding=ff -->", None),
     ("<!-- hardening-bot:item incident=x finding=abc -->", None),
     ("<!-- hardening-bot:item incident=" + "9" * 5000 + " finding=abc -->", None),
     ("no marker", None)],
)  # fmt: skip
def test_parse_marker(text: str, marker: ItemMarker | None):
    assert parse_marker(text) == marker


def test_the_marker_names_the_incident_before_the_template():
    assert parse_item(TEMPLATE_BODY).incident == 12
    assert parse_item(f"{render_marker(ItemMarker(7, 'ab'))}\n{TEMPLATE_BODY}").incident == 7
    assert parse_item(render_marker(ItemMarker(7, "ab"))).incident == 7
    assert parse_item("no block").incident is None


def test_two_blocks_reads_the_first_and_says_so():
    body = TEMPLATE_BODY + "\n" + TEMPLATE_BODY.replace("#12", "#13")
    parsed = parse_item(body)
    assert parsed.item.incident == 12
    assert parsed.problems == ("Found 2 Hardening Item blocks; only the first one is read",)


def test_visible_lines_hide_code_quotes_and_comments():
    text = "a\n```py\nb\n```\n> c\n  ~~~\nd\n  ~~~\ne <!-- f -->\n<!--\ng\n-->h"
    assert visible_lines(text) == [
        "a",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "e" + " " * 11,
        "    ",
        " ",
        "   h",
    ]


# --- properties ------------------------------------------------------------------------------

# The same languages as the regular expressions in the comments, built from plain draws:
# st.from_regex spent most of these tests' time generating them.
ALNUM = string.ascii_letters + string.digits
LOWER_ALNUM = string.ascii_lowercase + string.digits
# [A-Za-z0-9](?:-?[A-Za-z0-9]){0,15}
LOGINS = st.builds(
    lambda first, rest: first + "".join(rest),
    st.sampled_from(ALNUM),
    st.lists(
        st.builds(str.__add__, st.sampled_from(["", "-"]), st.sampled_from(ALNUM)), max_size=15
    ),
)
# [a-z0-9]{1,8}(?:-[a-z0-9]{1,8}){0,2}
SLUGS = st.lists(st.text(LOWER_ALNUM, min_size=1, max_size=8), min_size=1, max_size=3).map("-".join)
LINE_CHARACTERS = st.characters(exclude_categories=["Cs"], exclude_characters="\r\n")
TEXT = st.text(LINE_CHARACTERS, max_size=40).map(str.strip)
URLS = st.builds(
    lambda scheme, host, path, suffix: f"{scheme}://{host}/{path}{suffix}",
    st.sampled_from(["http", "https", "HTTPS"]),
    # [a-z0-9]{1,10}(?:\.[a-z]{2,5}){1,2}
    st.builds(
        lambda name, tlds: ".".join([name, *tlds]),
        st.text(LOWER_ALNUM, min_size=1, max_size=10),
        st.lists(st.text(string.ascii_lowercase, min_size=2, max_size=5), min_size=1, max_size=2),
    ),
    # (?:[A-Za-z0-9_~%=&#?*'+$/,-]*[A-Za-z0-9/_=-])?
    st.just("")
    | st.builds(str.__add__, st.text(ALNUM + "_~%=&#?*'+$/,-"), st.sampled_from(ALNUM + "/_=-")),
    st.sampled_from(["", "", "_(x)", "(1)/a"]),
)
EVIDENCE_ITEMS = st.builds(
    Evidence,
    url=URLS,
    kind=st.none() | st.sampled_from(EVIDENCE_KINDS),
    note=st.just("") | TEXT,
    duration_seconds=st.none() | st.integers(0, 10**6),
)
DATETIMES = st.datetimes(
    min_value=datetime(1, 1, 2),
    timezones=st.none() | st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                           timezone(timedelta(hours=-8))]),
)  # fmt: skip
ITEMS = st.builds(
    HardeningItem,
    incident=st.none() | st.integers(1, 10**9),
    failure_class=st.none() | SLUGS,
    proposed_control=TEXT,
    priority=st.none() | st.sampled_from(PRIORITIES),
    owner=st.none() | LOGINS,
    verifier=st.none() | LOGINS,
    due=st.none() | st.dates(),
    evidence=st.lists(EVIDENCE_ITEMS, max_size=4).map(tuple),
    adoption_check=st.none() | st.dates(),
    status=st.sampled_from(STATUSES),
    verification_style=TEXT,
    acknowledged_by=st.lists(LOGINS, max_size=3).map(tuple),
    verified_by=st.none() | LOGINS,
    verified_at=st.none() | DATETIMES,
    verified_link=st.none() | URLS,
    retired_rationale=st.none() | TEXT.filter(bool),
)
MARKERS = st.none() | st.builds(ItemMarker, st.integers(1, 10**6),
                                st.text("0123456789abcdef", min_size=12, max_size=12))  # fmt: skip
HUMAN_TEXT = st.lists(
    st.sampled_from([
        "Context: the checkout outage.", "", "## Notes", "> quoted: - Status: verified",
        "```\n- Due date: 2020-01-01\n```", "<!-- a comment -->", "Thanks!", "---",
        "Some **bold** text with a link https://x.example/y",
    ]),
    max_size=4,
).map("\n".join)  # fmt: skip


@given(ITEMS, MARKERS)
def test_render_then_parse_is_identity(item: HardeningItem, marker: ItemMarker | None):
    parsed = parse_item(render_item(item, marker))
    assert parsed.item == item
    assert parsed.problems == ()
    assert parsed.marker == marker


@given(ITEMS, HUMAN_TEXT, HUMAN_TEXT, MARKERS)
def test_replace_in_place_keeps_the_text_around(
    item: HardeningItem, before: str, after: str, marker: ItemMarker | None
):
    body = f"{before}\n\n{render_item(HardeningItem(incident=1, status='open'))}\n{after}"
    new = replace_item_in_body(body, item, marker)
    assert new.startswith(f"{before}\n\n")
    assert new.endswith(f"\n{after}")
    assert parse_item(new).item == item
    assert replace_item_in_body(new, item, marker) == new


@given(st.text(max_size=400))
def test_parse_item_never_raises(text: str):
    parsed = parse_item(text)
    if parsed.span is not None:
        assert 0 <= parsed.span[0] <= parsed.span[1] <= len(text)


_FIELDISH = st.lists(
    st.sampled_from([
        "### Hardening Item", "- Status: ", "- Due date: ", "- Evidence link(s): ", "  - ",
        "https://a.b/c", "(rollback, timed 4m: x)", "@alice", "#12", "P1", "in progress", "\n",
        "**", "- Execution owner —", "<!--", "-->", "```", "\r\n", ", ", "(", ")", "[x](",
    ]),
    max_size=30,
).map("".join)  # fmt: skip


@given(_FIELDISH, ITEMS)
def test_template_like_noise_never_raises_and_replace_is_stable(text: str, item: HardeningItem):
    parse_item(text)
    new = replace_item_in_body(text, item)
    assert parse_item(new).item == item


LONG = 20_000
PATHOLOGICAL = [
    "a" + " " * LONG,
    "# a" + " " * LONG + "x",
    "- Status" + " " * LONG,
    "hardening item" + " " * LONG + "x",
    "### Hardening Item\n- Evidence link(s): " + "[" * LONG,
    "### Hardening Item\n- Evidence link(s): " + "https://a.b/c (" * 2000,
    "### Hardening Item\n- Failure class: " + "(" * LONG + "x)",
    "<!--" * LONG,
    "\n".join(["- Status: open"] * 3000),
]


@pytest.mark.parametrize("body", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_long_lines_take_linear_time(body: str):
    started = time.perf_counter()
    replace_item_in_body(body, TEMPLATE_ITEM)
    assert time.perf_counter() - started < 1.5
