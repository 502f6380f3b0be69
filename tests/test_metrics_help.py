"""``/metrics``: the HELP text of hardening_deliveries_total names exactly the outcomes that the
code emits, no more and no fewer."""

from __future__ import annotations

import re
from pathlib import Path

from bot.metrics import DELIVERY_OUTCOMES, Metrics

BOT = Path(__file__).resolve().parent.parent / "bot"
EMITTED = re.compile(r"deliveries\.inc\([^)]*outcome=\"(\w+)\"", re.S)


def emitted_outcomes() -> set[str]:
    found: set[str] = set()
    for source in BOT.rglob("*.py"):
        found.update(EMITTED.findall(source.read_text()))
    return found


def test_every_emitted_outcome_is_documented_and_every_documented_one_emitted() -> None:
    emitted = emitted_outcomes()
    assert emitted, "the pattern no longer finds the counter's increments"
    assert emitted == set(DELIVERY_OUTCOMES)


def test_help_text_names_the_outcomes() -> None:
    text = Metrics().render()
    [help_line] = [
        line for line in text.splitlines() if line.startswith("# HELP hardening_deliveries_total")
    ]
    named = set(re.findall(r"(\w+): ", help_line.split(" outcome: ", 1)[1]))
    assert named == set(DELIVERY_OUTCOMES)
    assert "ignored" not in help_line
