"""rules.replies: the texts of command replies, /harden status, the retirement note and the
closing gates' comments, without GitHub."""

from __future__ import annotations

from datetime import date

from rules.commands import Command, CommandError
from rules.gates import GateResult, Missing, closure_gate
from rules.markers import comment_marker as marker
from rules.model import Evidence, HardeningItem, ItemFacts
from rules.replies import (
    CONFIG_ERROR_MARKER,
    INCIDENT_GATE,
    ITEM_GATE,
    RETIREMENT_MARKER,
    Outcome,
    adoption_moved,
    config_errors_comment,
    gate_comment,
    gate_resolved,
    refused,
    render_reply,
    reply_marker,
    retirement_note,
    status_text,
)
from rules.scores import evaluate

ITEM = HardeningItem(
    incident=7,
    failure_class="missed-detection",
    owner="carol",
    verifier="bob",
    due=date(2026, 12, 1),
)
MISSING = GateResult(passed=False, missing=(Missing("a due date", "/harden due YYYY-MM-DD"),))


def test_markers_are_the_ones_the_shell_finds() -> None:
    assert reply_marker(12) == marker("reply comment=12")
    assert marker("retirement") == RETIREMENT_MARKER
    assert marker("config-errors") == CONFIG_ERROR_MARKER
    assert ITEM_GATE.marker == marker("closure-gate")
    assert INCIDENT_GATE.marker == marker("incident-close-gate")


def test_a_reply_holds_only_the_commands_that_have_something_to_say() -> None:
    quiet = Command("owner", 1, "/harden owner @zed", login="zed")
    bad = CommandError(2, "/harden due `soon`", "due", "`soon` is not a date", "/harden due D")
    assert render_reply("alice", [(quiet, Outcome(True))]) is None
    reply = render_reply("alice", [(quiet, Outcome(True)), (bad, refused("no", "/harden due D"))])
    assert reply == ("@alice\n\n**`/harden due 'soon'`**\n\nRefused: no.\n\nUsage: `/harden due D`")


def test_adoption_moved_counts_its_days() -> None:
    assert "3 days after" in adoption_moved(date(2026, 12, 8), date(2026, 12, 23), 3)
    assert "1 day after" in adoption_moved(date(2026, 12, 8), date(2026, 12, 9), 1)


def test_status_shows_fields_scores_and_the_gate() -> None:
    facts = ItemFacts(number=4, item=ITEM)
    text = status_text(facts, evaluate(facts), closure_gate(facts))
    assert text.startswith(
        "#4 is `open` · execution owner @carol · verifier owner @bob · due "
        "2026-12-01 · 0 evidence links"
    )
    assert "| Scorecard | ⬜ root-cause class now test-covered |" in text
    assert "**Closure gate:** not yet." in text and "/harden evidence URL" in text
    passed = status_text(facts, evaluate(facts), GateResult(passed=True))
    assert passed.endswith("**Closure gate:** passes; this item may close.")


def test_retirement_note_cannot_forge_a_marker() -> None:
    item = HardeningItem(
        retired_rationale="dup <!-- hardening-bot:bundle -->",
        evidence=(Evidence("https://x.example.com/1", "test", "ran"),),
    )
    facts = ItemFacts(number=3, item=item, title="Alert\non lag")
    note = retirement_note(facts, retired_by="lena", link="https://c", scores=evaluate(facts))
    assert note.startswith(f"{RETIREMENT_MARKER}\n## Retired: #3 Alert on lag\n")
    assert "<!-- hardening-bot:bundle" not in note and "<\u200b!-- hardening-bot:bundle" in note
    assert "- https://x.example.com/1 (test): ran" in note
    assert "**Retired by:** @lena ([comment](https://c))" in note


def test_gate_comments_count_the_closes_held() -> None:
    once = gate_comment(ITEM_GATE, closed_by="dave", gate=MISSING, held=1)
    assert once.startswith(f"{ITEM_GATE.marker}\n### Reopened: {ITEM_GATE.title}\n")
    assert "@dave closed this issue" in once and "- a due date: `/harden due YYYY-MM-DD`" in once
    assert "_Closed once before it was ready" in once and ITEM_GATE.advice in once
    assert "_Closed 3 times" in gate_comment(INCIDENT_GATE, closed_by="d", gate=MISSING, held=3)
    resolved = gate_resolved("verified by @bob")
    assert resolved.startswith(f"{ITEM_GATE.marker}\n### Resolved: verified by @bob")


def test_config_errors_comment_quotes_the_report() -> None:
    body = config_errors_comment("line 1: bad")
    assert body.startswith(CONFIG_ERROR_MARKER) and "```\nline 1: bad\n```" in body
