"""rules.risk: the hardening loop's Residual Risk block, refusals naming the missing fields."""

from __future__ import annotations

from datetime import date

from rules.risk import RiskEntry, has_risk_block, parse_risk_block, past_target

TODAY = date(2026, 12, 10)
BLOCK = """Context first.

### Residual Risk
- Risk statement: the pager vendor may drop alerts
- Why not fully solved yet: second vendor starts in January
- Temporary control in place: manual status check at handover
- Trigger for re-prioritization: any alert lost
- Owner: @alice
- Target resolution date: 2027-01-31
"""


def test_full_block_is_registered() -> None:
    block = parse_risk_block(BLOCK, author="bob", today=TODAY)
    assert block is not None and block.risk is not None
    assert block.risk.owner == "alice"
    assert block.risk.target == date(2027, 1, 31)
    assert block.risk.trigger == "any alert lost"


def test_no_block_is_none_and_quoted_blocks_do_not_count() -> None:
    assert parse_risk_block("just a comment", author="bob", today=TODAY) is None
    quoted = "\n".join("> " + line for line in BLOCK.splitlines())
    assert not has_risk_block(quoted)
    assert has_risk_block(BLOCK)


def test_missing_trigger_and_date_are_named() -> None:
    text = BLOCK.replace("- Trigger for re-prioritization: any alert lost\n", "").replace(
        "2027-01-31", "TBD"
    )
    block = parse_risk_block(text, author="bob", today=TODAY)
    assert block is not None and block.risk is None
    assert block.missing == ("Trigger for re-prioritization", "Target resolution date")
    assert block.refusal() == (
        "the residual risk is missing `Trigger for re-prioritization`, `Target resolution date` "
        "(a residual risk without a trigger or a target date is unmanaged risk)"
    )


def test_owner_defaults_to_author_and_bad_values_are_problems() -> None:
    block = parse_risk_block(BLOCK.replace("- Owner: @alice\n", ""), author="bob", today=TODAY)
    assert block is not None and block.risk is not None and block.risk.owner == "bob"
    past = parse_risk_block(BLOCK.replace("2027-01-31", "2026-12-01"), author="b", today=TODAY)
    assert past is not None and past.risk is None
    assert "is not in the future" in past.refusal()
    team = parse_risk_block(BLOCK.replace("@alice", "@octo/sre"), author="b", today=TODAY)
    assert team is not None and team.risk is None and "one person" in team.refusal()


def test_past_target_only_while_open() -> None:
    block = parse_risk_block(BLOCK, author="bob", today=TODAY)
    assert block is not None and block.risk is not None
    entry = RiskEntry(1, block.risk, 12, 12, "bob", TODAY)
    assert not past_target(entry, date(2027, 1, 31))
    assert past_target(entry, date(2027, 2, 1))
    resolved = RiskEntry(1, block.risk, 12, 12, "bob", TODAY, "bob", date(2027, 1, 5))
    assert not past_target(resolved, date(2027, 2, 1))
