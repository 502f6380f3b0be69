"""Every reader of text people type never raises and reads GitHub-sized text in linear time.

Bodies, titles and comments reach 65,536 characters. A regular expression that backtracks
(nested or adjacent unbounded repetition) turns a crafted body into seconds of blocked event
loop, and ``int()`` refuses digit runs over 4,300 digits. The inputs here are "pumped": a prefix
that leads a pattern into its interesting part, then one short unit repeated to the full size,
which is how such blow-ups are found. The bound is CPU time (not wall time, so other load on the
machine does not matter), generous for linear work and far below what a quadratic reader needs
at this size; `python -m bench.hostile_bench` prints the actual figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.subjects import incident_of, subject_for
from rules.commands import parse_commands
from rules.config import default_config
from rules.debt import read_defer_arguments, read_deferral
from rules.diff.languages import LANGUAGES
from rules.diff.syntax import lex
from rules.incident import incident_summary, parse_findings, severity_from_body
from rules.item_template import parse_item, visible_lines
from rules.linked_pulls import hardens_numbers
from rules.override import parse_marker as parse_override_marker
from rules.record import subject_of, unseal
from rules.risk import parse_risk_block
from rules.scores import parse_duration
from rules.text import ZWSP, bounded_int, inert, inert_line

GITHUB_MAX = 65_536
CPU_BOUND_SECONDS = 3.0
CONFIG = default_config()


def _issue_payload(body: str) -> dict[str, Any]:
    return {
        "action": "edited",
        "issue": {"number": 7, "body": body, "title": body[:256]},
        "repository": {"full_name": "acme/web"},
    }


READERS: dict[str, Callable[[str], object]] = {
    "item": parse_item,
    "findings": lambda text: parse_findings(text, CONFIG),
    "incident summary": incident_summary,
    "severity": severity_from_body,
    "commands": parse_commands,
    "hardens": hardens_numbers,
    "duration": parse_duration,
    "visible lines": visible_lines,
    "incident of": incident_of,
    "subject": lambda text: subject_for("issues", _issue_payload(text)),
    "inert": inert,
    "defer arguments": read_defer_arguments,
    "deferral": read_deferral,
    "residual risk": lambda text: parse_risk_block(text, author="alice", today=date(2026, 3, 2)),
    "override marker": parse_override_marker,
    "record": lambda text: unseal(text, b"k" * 32, subject_of("acme", "web", 7), repository=42),
}

PREFIXES = [
    "",
    "Hardens #1",
    "### Hardening Item\n- Incident reference: ",
    "### Hardening Item\n- Evidence link(s): ",
    "## Findings\n- ",
    "severity: ",
    "/harden evidence https://ci.example/1 rollback ",
    "<!-- hardening-bot:item incident=",
    "took ",
    "### Residual Risk\n- Risk statement: ",
    "2026-12-01 deferred; risk if delayed: ",
]
UNITS = [
    "\t", " ", "9", "#1", "#1 ", "hardens ", "<!--", "-->", "```", "`", "**", "__", "- ", ":",
    "@a", "[", "](", "https://a", "\n", "> ", ", ", "1h", "1.", "(", "*", "-", "x/y#", "\r\n",
    "and ", "&", " #", "Incident reference: ", "/harden ",
]  # fmt: skip


def pumped(prefix: str, unit: str, size: int = GITHUB_MAX) -> str:
    return (prefix + unit * (size // len(unit) + 1))[:size]


def within_bound(reader: Callable[[str], object], text: str) -> float:
    started = time.process_time()
    reader(text)
    return time.process_time() - started


# The inputs that used to hang or crash, each through every reader.
KNOWN = {
    "hardens then 65,000 tabs": "Hardens #1" + "\t" * 65_000,
    "hardens then 65,000 spaces": "hardens: #1" + " " * 65_000,
    "5,000-digit incident reference": "### Hardening Item\n- Incident reference: #" + "9" * 5_000,
    "5,000-digit marker": "<!-- hardening-bot:item incident=" + "9" * 5_000 + " finding=a -->",
    "5,000-digit hardens": "Hardens #" + "9" * 5_000,
    "5,000-digit duration": "rollback took " + "9" * 5_000 + "h",
    "400-digit duration": "took " + "9" * 400 + "h",
    "unclosed comments": "<!--" * 16_000,
    "unclosed fences": "```a\n" * 13_000,
    "timed evidence": "- Evidence link(s): https://a/b (rollback, timed " + "9" * 5_000 + "h)",
}


@pytest.mark.parametrize("name", sorted(READERS))
@pytest.mark.parametrize("case", sorted(KNOWN))
def test_known_hostile_bodies_are_read_quickly_without_raising(name: str, case: str):
    assert within_bound(READERS[name], KNOWN[case]) < CPU_BOUND_SECONDS


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    st.sampled_from(sorted(READERS)),
    st.sampled_from(PREFIXES),
    st.lists(st.sampled_from(UNITS), min_size=1, max_size=3).map("".join),
)
def test_pumped_bodies_of_github_size_never_raise_and_stay_linear(
    name: str, prefix: str, unit: str
):
    assert within_bound(READERS[name], pumped(prefix, unit)) < CPU_BOUND_SECONDS


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=0, max_size=2_000).map(lambda t: t * (GITHUB_MAX // max(len(t), 1))))
def test_any_text_repeated_to_github_size_never_raises(text: str):
    for reader in READERS.values():
        reader(text[:GITHUB_MAX])


@pytest.mark.parametrize(
    "unit",
    [
        "<!-- hardening-bot:record v=1 mac=" + "a" * 64 + " data=",
        "<!-- hardening-bot:record v=1 mac=" + "a" * 64 + " data=" + "A" * 60_000 + " -->\n",
        "hardening-bot:record \n",
    ],
)
def test_record_lines_of_github_size_are_read_in_linear_time(unit: str):
    assert within_bound(READERS["record"], pumped("", unit)) < CPU_BOUND_SECONDS


# Comments and strings of every language the test reading knows (rules.diff.syntax): pumped
# repeats of their delimiters, on one line or one a line, openers that never close.
SYNTAXES = {lang.name: lang.syntax for lang in LANGUAGES if lang.syntax is not None}
DELIMITERS = [
    "/*", "*/", "x*/", '"', "`", '"""', "'''", "\\", "'", 'r#"', "#", "(*", "*)", "{-", "-}",
    "--[[", "]]", "#=", "=#", "#[", "]#", "=begin", "<<~A", '<<"A', '@"', "%", ";", "--", "<",
]  # fmt: skip


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(SYNTAXES)),
    st.lists(st.sampled_from(DELIMITERS), min_size=1, max_size=3).map("".join),
    st.booleans(),
)
def test_comments_and_strings_of_github_size_are_read_in_linear_time(
    name: str, unit: str, one_line: bool
):
    text = pumped("", unit if one_line else unit + "\n")
    lines = text.split("\n")
    assert within_bound(lambda _: lex(SYNTAXES[name], lines, len(lines) // 2), text) < (
        CPU_BOUND_SECONDS
    )


# -- rules.text ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["@acme/everyone", "cc @alice", "(@bob)", "x.@carol", "é@dave", "@a-b", "line\n@team/x"],
)
def test_inert_leaves_no_mention(text: str):
    out = inert(text)
    assert "@" + ZWSP in out
    # What GitHub links: an "@" not after a word character, followed by a login character.
    for i, ch in enumerate(out):
        if ch == "@" and (i == 0 or not (out[i - 1].isascii() and out[i - 1].isalnum())):
            assert i + 1 == len(out) or not out[i + 1].isalnum()


def test_inert_keeps_email_addresses_and_plain_at_signs():
    assert inert("mail ops@example.com at 5 @ noon") == "mail ops@example.com at 5 @ noon"


def test_inert_breaks_comment_delimiters_and_marker_look_alikes():
    out = inert("<!-- hardening-bot:tracking incident=1 --> done")
    assert "<!--" not in out and "-->" not in out
    assert out.replace(ZWSP, "") == "<!-- hardening-bot:tracking incident=1 --> done"


@given(st.text(alphabet=st.sampled_from(["@", "a", "<", "!", "-", ">", "_", " ", ZWSP, "\n"])))
def test_inert_is_idempotent_and_only_adds_zero_width_spaces(text: str):
    once = inert(text)
    assert inert(once) == once
    assert once.replace(ZWSP, "") == text.replace(ZWSP, "")
    assert "<!--" not in once and "-->" not in once


def test_inert_line_joins_lines():
    assert inert_line(" a\n\n> @x \t b ") == f"a > @{ZWSP}x b"


@pytest.mark.parametrize(
    ("digits", "expected"),
    [("12", 12), ("0", 0), ("9" * 18, int("9" * 18)), ("9" * 19, None), ("9" * 5000, None),
     ("", None), ("1a", None), ("١٢", None), ("-1", None)],
)  # fmt: skip
def test_bounded_int(digits: str, expected: int | None):
    assert bounded_int(digits) == expected
