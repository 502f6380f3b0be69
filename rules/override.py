"""Break-glass: a lead's audited, time-boxed way through an enforced ``hardening/controls``.

Enforce mode blocks merges (docs/hardening-loop.md: "Enforce mode — block on defined high-risk conditions"). In an
emergency a lead comments ``/harden override REASON [for Nh]`` on the pull request: the check
passes for the pull request's current head commit only, naming who, why and until when (24
hours unless said, never more than 72). A new push ends it: the new head is judged as usual.
Every override is listed in the Hardening ledger and counted by the monthly audit, so the
escape hatch stays visible instead of becoming the way work is done.

Pure: ``now`` is passed in.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rules import markers
from rules.check_output import CheckOutput
from rules.text import inert_line


@dataclass(frozen=True)
class Override:
    """One break-glass grant on one head commit of one pull request."""

    pull: int
    head_sha: str
    by: str
    reason: str
    at: datetime
    until: datetime

    def covers(self, pull: int, head_sha: str, now: datetime) -> bool:
        """Whether it passes the controls check of pull request ``pull`` at ``head_sha`` at
        ``now``. Another pull request with the same head commit (the same branch into another
        base) is not covered: the lead overrode one merge, not every merge of that commit."""
        return pull == self.pull and head_sha == self.head_sha and now < self.until


def not_covered_output(output: CheckOutput, override: Override) -> CheckOutput:
    """``hardening/controls`` of another pull request whose head commit ``override`` passes on
    its own pull request: the verdict stands, and the summary says why no override applies."""
    note = (
        f"A break-glass override by @{override.by} passes commit `{override.head_sha[:12]}` "
        f"on pull request #{override.pull} only; it does not apply to this pull request. A lead "
        "can override this one with its own `/harden override REASON`."
    )
    if note in output.summary:
        return output
    return replace(output, summary=f"{note}\n\n{output.summary}"[:65535])


def grant(pull: int, head_sha: str, *, by: str, reason: str, hours: int, now: datetime) -> Override:
    at = now.replace(microsecond=0)
    return Override(pull, head_sha, by, " ".join(reason.split()), at, at + timedelta(hours=hours))


def overridden_output(output: CheckOutput, override: Override) -> CheckOutput:
    """``hardening/controls`` passed by ``override``, with what it would have said below.

    Annotations are dropped: the requirements are not met, and the run now says why it passes
    all the same; the would-be verdict stays readable in the summary.
    """
    if output.conclusion == "success":
        return output
    until = override.until.strftime("%Y-%m-%d %H:%M UTC")
    summary = "\n".join(
        [
            render_marker(override),
            f"**Break-glass override** by @{override.by} at "
            f"{override.at.strftime('%Y-%m-%d %H:%M UTC')}, for commit `{override.head_sha[:12]}` "
            f"only, until {until}.",
            "",
            f"**Reason:** {_quiet(override.reason)}",
            "",
            "A new push ends the override: the new commit is judged as usual. The override is "
            "listed in the Hardening ledger and counted by the monthly control audit.",
            "",
            f"### Without the override this check would be `{output.conclusion}`: {output.title}",
            "",
            output.summary,
        ]
    )
    return replace(
        output,
        conclusion="success",
        title=f"Overridden by {override.by} until {until}"[:255],
        summary=summary[:65535],
        annotations=(),
    )


def render_marker(override: Override) -> str:
    """The override as a hidden line of the App's own check run, read back on re-evaluation."""
    data = {
        "pull": override.pull,
        "sha": override.head_sha,
        "by": override.by,
        "reason": override.reason,
        "at": override.at.isoformat(),
        "until": override.until.isoformat(),
    }
    text = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return markers.override(base64.urlsafe_b64encode(text).decode())


def parse_marker(summary: str) -> Override | None:
    """The override recorded in an App-written check run summary, if any. Never raises."""
    found = markers.override_in(summary)
    if found is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(found.encode()))
        return Override(
            pull=int(data["pull"]),
            head_sha=str(data["sha"]),
            by=str(data["by"]),
            reason=str(data["reason"]),
            at=datetime.fromisoformat(str(data["at"])),
            until=datetime.fromisoformat(str(data["until"])),
        )
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None


def _quiet(text: str) -> str:
    """Text a person wrote, copied: one line, no hidden markers, no mentions."""
    return inert_line(text)
