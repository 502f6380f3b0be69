"""The hardening loop's "Control rollout sequencing" (shadow → warn → enforce), decided from data.

Shadow mode observes without blocking, warn surfaces violations with owner attribution, enforce
blocks. Each ``hardening/controls`` evaluation of a pull request is counted per control
(``regression-test``, ``control-change``): judged, and whether it was unmet (would have
blocked in enforce mode). The ledger shows the counts and recommends the next phase once the
data supports it:

- fewer than ``MIN_PULLS`` pull requests judged: not enough data yet;
- shadow: promote to warn (warn blocks nothing, and names the owner of each violation);
- warn: promote to enforce when at most ``MAX_BLOCK_SHARE`` of the judged pull requests would
  have been blocked (the team already meets the control; enforcing costs little), else stay;
- enforce: nothing to promote.

Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MIN_PULLS = 5
MAX_BLOCK_SHARE = 0.2


@dataclass(frozen=True)
class ControlStats:
    """How one control fared on the pull requests it judged (latest evaluation of each)."""

    control: str
    mode: str
    judged: int
    would_block: int


def control_stats(
    modes: Mapping[str, str], evaluations: Mapping[int, Mapping[str, bool]]
) -> list[ControlStats]:
    """Per control in ``modes``: pull requests judged and those where it was unmet.

    ``evaluations`` is pull request number -> control -> met, the latest verdict of each.
    """
    stats = []
    for control, mode in modes.items():
        verdicts = [met[control] for met in evaluations.values() if control in met]
        stats.append(ControlStats(control, mode, len(verdicts), sum(not v for v in verdicts)))
    return stats


def recommendation(stats: ControlStats) -> str:
    """The next rollout phase the data supports, in words."""
    if stats.mode == "enforce":
        return "enforced"
    if stats.judged < MIN_PULLS:
        return f"not enough data yet ({stats.judged} of {MIN_PULLS} pull requests judged)"
    share = stats.would_block / stats.judged
    if stats.mode == "shadow":
        return (
            f"promote to `warn`: {stats.would_block} of {stats.judged} pull requests would have "
            "been flagged; warn names the owner of each without blocking"
        )
    if share <= MAX_BLOCK_SHARE:
        return (
            f"promote to `enforce`: only {stats.would_block} of {stats.judged} pull requests "
            f"would have been blocked (at most {int(MAX_BLOCK_SHARE * 100)}%)"
        )
    return (
        f"stay in `warn`: {stats.would_block} of {stats.judged} pull requests would have been "
        f"blocked (over {int(MAX_BLOCK_SHARE * 100)}%); enforcing now would stall delivery"
    )
