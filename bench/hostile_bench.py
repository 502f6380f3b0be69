"""How long hostile text holds the event loop: ``python -m bench.hostile_bench``.

Every reader of text people type runs on the worker's event loop, so the longest single read of
a GitHub-sized body (65,536 characters) is the longest a concurrent ``ping`` (or any other
acknowledgement) can wait behind it. This times each reader on the bodies that used to hang or
crash it and on "pumped" bodies (a prefix, then one unit repeated to full size), plus the glob
matcher on patterns that backtrack as regular expressions, and prints the worst figure.

Exits 1 when any single read takes a second or more (the contract's bound for delaying another
delivery's acknowledgement).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial

from bot.subjects import incident_of
from rules.commands import parse_commands
from rules.config import default_config
from rules.globs import GlobSet
from rules.incident import incident_summary, parse_findings, severity_from_body
from rules.item_template import parse_item
from rules.linked_pulls import hardens_numbers
from rules.scores import parse_duration

SIZE = 65_536
BOUND_SECONDS = 1.0
CONFIG = default_config()

READERS: dict[str, Callable[[str], object]] = {
    "item template": parse_item,
    "findings": lambda text: parse_findings(text, CONFIG),
    "incident summary": incident_summary,
    "severity": severity_from_body,
    "commands": parse_commands,
    "Hardens #N": hardens_numbers,
    "duration": parse_duration,
    "subject": incident_of,
}

BODIES = {
    "Hardens #1 + 65,000 tabs": "Hardens #1" + "\t" * 65_000,
    "5,000-digit reference": "### Hardening Item\n- Incident reference: #" + "9" * 5_000,
    "unclosed comments": "<!--" * (SIZE // 4),
    "unclosed fences": "```a\n" * (SIZE // 5),
    "blank lines": "\n" * SIZE,
    "mentions": "@a " * (SIZE // 3),
    "list items": "## Findings\n" + "- missed detection: x\n" * (SIZE // 22),
    "commands": "/harden evidence https://a.example/1 rollback took 1h\n" * (SIZE // 54),
}

GLOBS = ["*a*a*a*a*a*a*a*b", "**/**/**/**/**/x", "{*a,a*}{*a,a*}{*a,a*}{*a,a*}b"]


def _time(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run() -> float:
    """Print each figure; return the worst single read in seconds."""
    worst = 0.0
    print(f"{'reader':<18} {'body':<28} {'ms':>9}")
    for name, reader in READERS.items():
        for body_name, body in BODIES.items():
            elapsed = _time(partial(reader, body[:SIZE]))
            worst = max(worst, elapsed)
            print(f"{name:<18} {body_name:<28} {elapsed * 1000:9.2f}")
    path = "a" * 4_000
    for pattern in GLOBS:
        globs = GlobSet.of([pattern])
        elapsed = _time(partial(globs.match, path))
        worst = max(worst, elapsed)
        print(f"{'glob':<18} {pattern[:28]:<28} {elapsed * 1000:9.2f}")
    print(f"worst single read: {worst * 1000:.1f} ms (bound {BOUND_SECONDS * 1000:.0f} ms)")
    return worst


if __name__ == "__main__":
    sys.exit(0 if run() < BOUND_SECONDS else 1)
