"""An incident's hardening backlog: which findings still need an item, and the tracking comment.

From docs/hardening-loop.md: "Recovery declared 'done' with no hardening backlog … guarantees recurring incidents" and
"From incident finding to control design". Every known finding of an incident gets exactly one
hardening item, tied to it by the hidden marker ``<!-- hardening-bot:item incident=N
finding=KEY -->`` (``rules.item_template``); the incident gets one tracking comment, found by its own
marker and edited in place, listing the backlog as a checklist, what could not be turned into an
item and what the timeline model expects next.

Pure: the shell reads GitHub, calls :func:`plan_incident_sync` and
:func:`render_tracking_comment`, and writes only what differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from rules import markers
from rules.debt import is_deferred
from rules.item_template import parse_item, visible_lines
from rules.model import Finding, HardeningItem, Incident, ItemMarker
from rules.planning import TimelineExpectation
from rules.text import inert_line

TITLE_FORMAT = "Harden: {text} (from #{incident})"
MAX_TITLE = 256  # GitHub's limit on an issue title
DONE_STATUSES = frozenset({"verified", "retired"})


@dataclass(frozen=True)
class TrackedItem:
    """A hardening issue as the backlog sees it.

    ``item`` is None when the bot's marker is there but a person removed the template: the issue
    still belongs to its finding (so nothing is created twice), it just has no fields to show.
    """

    number: int
    title: str = ""
    item: HardeningItem | None = None
    marker: ItemMarker | None = None
    closed: bool = False

    @property
    def done(self) -> bool:
        return self.item is not None and self.item.status in DONE_STATUSES


@dataclass(frozen=True)
class SyncPlan:
    """What to do about one incident's findings, given the items that already exist.

    ``tracked``   each known finding with its item (the lowest-numbered one carrying its key)
    ``to_create`` known findings with no item yet, in the incident's order
    ``orphans``   the bot's items whose finding is no longer in the incident (text edited or
                  removed); never closed or deleted by the bot, only listed
    ``duplicates`` further items carrying a key that an earlier item already carries
    ``linked``    items people opened that name the incident by its Incident reference
    ``beyond``    known findings with no item past ``limits.findings_per_incident``: reported
                  in the tracking comment, never planned
    """

    tracked: tuple[tuple[Finding, TrackedItem], ...] = ()
    to_create: tuple[Finding, ...] = ()
    orphans: tuple[TrackedItem, ...] = ()
    duplicates: tuple[TrackedItem, ...] = ()
    linked: tuple[TrackedItem, ...] = ()
    beyond: tuple[Finding, ...] = ()

    @property
    def backlog(self) -> tuple[TrackedItem, ...]:
        """The items of the checklist: one per finding, then people's items, by number."""
        items = [item for _, item in self.tracked] + list(self.linked)
        return tuple(sorted(items, key=lambda t: t.number))


@dataclass(frozen=True)
class Expectation:
    """One window of the hardening loop's timeline model, judged against what exists."""

    window: str  # "0–24h"
    artifact: str  # "incident timeline + evidence packet"
    due: datetime
    met: bool = False
    missing: str = ""  # what to do while it is not met


def tracking_marker(incident: int) -> str:
    return markers.tracking(incident)


def plan_incident_sync(
    incident: Incident, existing_items: Iterable[TrackedItem], limit: int | None = None
) -> SyncPlan:
    """Match the incident's findings with the items that exist for it.

    ``existing_items`` are the hardening issues that point at this incident, by the bot's marker
    or by their Incident reference. Matching is by the marker's finding key only: a finding's
    key changes when its type or text changes, so an edited finding gets a new item and its old
    one is reported as an orphan, never silently reused for different words.

    Only the first ``limit`` known findings (in the incident's order) are planned; a later one
    keeps the item it already has, and one without an item is ``beyond``.
    """
    by_key: dict[str, TrackedItem] = {}
    duplicates: list[TrackedItem] = []
    linked: list[TrackedItem] = []
    for tracked in sorted(existing_items, key=lambda t: t.number):
        marker = tracked.marker
        if marker is None or marker.incident != incident.number:
            linked.append(tracked)
        elif marker.finding_key in by_key:
            duplicates.append(tracked)
        else:
            by_key[marker.finding_key] = tracked

    matched: list[tuple[Finding, TrackedItem]] = []
    to_create: list[Finding] = []
    beyond: list[Finding] = []
    seen: set[str] = set()
    for finding in incident.findings:
        if finding.failure_class is None or finding.key in seen:
            continue
        seen.add(finding.key)
        if finding.key in by_key:
            matched.append((finding, by_key[finding.key]))
        elif limit is not None and len(seen) > limit:
            beyond.append(finding)
        else:
            to_create.append(finding)
    orphans = [t for key, t in by_key.items() if key not in seen]
    return SyncPlan(
        tracked=tuple(matched),
        to_create=tuple(to_create),
        orphans=tuple(sorted(orphans, key=lambda t: t.number)),
        duplicates=tuple(duplicates),
        linked=tuple(linked),
        beyond=tuple(beyond),
    )


# ---------------------------------------------------------------------------------------------
# The hardening issue the bot opens for a finding


def incidents_touched(
    labels: Iterable[str],
    bodies: Iterable[str],
    hardening_label: str,
    *,
    lost_label: str | None = None,
) -> set[int]:
    """The incidents whose backlog a change to an issue can change: the one each of ``bodies``
    (the body now, and before an edit) says its hardening item belongs to, marker first, then
    the Incident reference. Only a hardening issue counts, and one that just lost its hardening
    label (``lost_label``) still does, so its incident drops it."""
    hardening = hardening_label.casefold()
    lost = lost_label is not None and lost_label.casefold() == hardening
    if not lost and all(name.casefold() != hardening for name in labels):
        return set()
    return {n for n in (parse_item(body).incident for body in bodies) if n is not None}


def item_title(finding: Finding, incident: int) -> str:
    """``Harden: <finding text> (from #12)``, shortened to fit GitHub's title limit."""
    text = inert_line(finding.text) or inert_line(finding.type_text)
    room = MAX_TITLE - len(TITLE_FORMAT.format(text="", incident=incident))
    if len(text) > room:
        text = text[: room - 1].rstrip() + "…"
    return TITLE_FORMAT.format(text=text, incident=incident)


def item_intro(finding: Finding, incident: int) -> str:
    """The human text above the template of an item the bot opens."""
    kind = inert_line(finding.type_text)
    text = inert_line(finding.text)
    return f"Hardening item for a finding of incident #{incident}: **{kind}**: {text}"


ITEM_FOOTER = (
    "Fill in the owners, the due date and the evidence by editing the template above, or with "
    "`/harden owner @user`, `/harden verifier @user`, `/harden due YYYY-MM-DD` and "
    "`/harden evidence URL [kind]` in a comment; `/harden help` lists every command."
)


# ---------------------------------------------------------------------------------------------
# The tracking comment


def render_tracking_comment(
    incident: Incident,
    items: Sequence[TrackedItem],
    unknown: Sequence[Finding],
    orphans: Sequence[TrackedItem],
    expectations: Sequence[Expectation],
    config_errors: Sequence[object],
    now: datetime,
    *,
    allowed_types: Sequence[str] = (),
    pending: Sequence[Finding] = (),
    duplicates: Sequence[TrackedItem] = (),
    beyond: Sequence[Finding] = (),
    findings_limit: int = 0,
) -> str:
    """The tracking comment of ``incident``, marker first.

    The text depends only on its inputs, and on ``now`` only through "overdue" flags, so
    rendering it again after nothing changed gives the same text and the shell writes nothing.
    ``pending`` are findings that have no item yet (creation failed or is held back by a
    configuration problem); ``config_errors`` are shown as ``str(error)``; ``beyond`` are the
    findings past ``findings_limit`` (``limits.findings_per_incident``). Long lists of findings
    show their first :data:`MAX_LISTED` entries and a count of the rest, so the comment stays
    within GitHub's size limit whatever the incident holds.
    """
    today = now.date()
    lines = [tracking_marker(incident.number), "### Hardening backlog", ""]
    done = sum(1 for t in items if t.done)
    if items:
        noun = "item" if len(items) == 1 else "items"
        lines.append(f"{len(items)} hardening {noun}, {done} verified or retired.")
        lines.append("")
        lines.extend(_backlog_line(t, today) for t in items)
    else:
        lines.append(
            "No hardening items yet. Add a `Findings` section to the incident, one list item per "
            "finding: `- <finding type>: <what happened>`."
        )
    if pending:
        lines += ["", "Findings still waiting for their item:"]
        lines.extend(_listed([f"- [ ] {_finding_text(f)}" for f in pending]))

    if beyond:
        lines += ["", "#### Findings beyond the limit", ""]
        lines.append(
            f"Items are made for the first {findings_limit} findings of an incident "
            "(`limits.findings_per_incident` in `.github/hardening.yml`); "
            f"{len(beyond)} more have no item. Split the incident, or raise the limit:"
        )
        lines.extend(_listed([f"- {_finding_text(f)}" for f in beyond]))

    if unknown:
        lines += ["", "#### Unknown finding types", ""]
        lines.append("Nothing was created for these findings:")
        lines.extend(_listed([f"- {_finding_text(f)}" for f in unknown]))
        if allowed_types:
            allowed = ", ".join(f"`{t}`" for t in allowed_types)
            lines += ["", f"Allowed types: {allowed}. Edit the finding to use one of them."]

    if orphans:
        lines += ["", "#### Orphaned items", ""]
        lines.append(
            "Their finding was edited or removed from the incident. They are kept as they are: "
            "retire one with `/harden retire RATIONALE`, or put its finding back."
        )
        lines.extend(_other_line(t) for t in orphans)

    if duplicates:
        lines += ["", "#### Duplicate items", ""]
        lines.append(
            "These carry the same finding as an earlier item; close the one you do not need."
        )
        lines.extend(_other_line(t) for t in duplicates)

    if config_errors:
        lines += ["", "#### Configuration problems", ""]
        lines.append(
            "`.github/hardening.yml` could not be applied, so no item is created until it is "
            "fixed (then edit this incident):"
        )
        lines.extend(f"- {error}" for error in config_errors)

    if expectations:
        lines += ["", "#### Timeline", ""]
        lines.extend(_expectation_line(e, now) for e in expectations)
    return "\n".join(lines) + "\n"


MAX_LISTED = 20


def _listed(lines: Sequence[str]) -> list[str]:
    if len(lines) <= MAX_LISTED:
        return list(lines)
    return [*lines[:MAX_LISTED], f"- … and {len(lines) - MAX_LISTED} more"]


def _backlog_line(tracked: TrackedItem, today: date) -> str:
    item = tracked.item
    box = "[x]" if tracked.done else "[ ]"
    if item is None:
        return f"- {box} #{tracked.number} · template missing"
    parts = [
        f"#{tracked.number}",
        item.failure_class or "no failure class",
        item.priority or "no priority",
        f"owner @{item.owner}" if item.owner else "no owner",
    ]
    if item.due is None:
        parts.append("no due date")
    elif item.deferral is not None and is_deferred(item, today) and not tracked.done:
        parts.append(f"due {item.due.isoformat()}, deferred to {item.deferral.revisit.isoformat()}")
    elif item.due < today and not tracked.done:
        parts.append(f"due {item.due.isoformat()} **overdue**")
    else:
        parts.append(f"due {item.due.isoformat()}")
    status = item.status.replace("_", " ")
    parts.append(f"{status} (issue closed)" if tracked.closed and not tracked.done else status)
    return f"- {box} " + " · ".join(parts)


def _other_line(tracked: TrackedItem) -> str:
    title = f" {inert_line(tracked.title)}" if tracked.title else ""
    state = " (closed)" if tracked.closed else ""
    return f"- #{tracked.number}{title}{state}"


def _finding_text(finding: Finding) -> str:
    kind, text = inert_line(finding.type_text), inert_line(finding.text)
    if not kind:
        return f"{text} (no finding type: write it as `<finding type>: <text>`)"
    if finding.failure_class and not text:
        return f"`{kind}`: (nothing after the colon: describe what happened)"
    return f"`{kind}`: {text}"


def _expectation_line(expectation: Expectation, now: datetime) -> str:
    box = "[x]" if expectation.met else "[ ]"
    when = expectation.due.strftime("%Y-%m-%d %H:%M UTC")
    line = f"- {box} {expectation.window}: {expectation.artifact}, by {when}"
    if expectation.met:
        return line
    if expectation.due < now:
        line += " **overdue**"
    return f"{line} — {expectation.missing}" if expectation.missing else line


# ---------------------------------------------------------------------------------------------
# The timeline model, judged


def judge_timeline(
    windows: Sequence[TimelineExpectation], incident_body: str, items: Sequence[TrackedItem]
) -> tuple[Expectation, ...]:
    """Whether each window's mandatory artifact exists, from what GitHub shows.

    - incident timeline + evidence packet: a non-empty section of the incident whose heading
      names a timeline or an evidence packet (the incident form's "Timeline and evidence packet");
    - one automation control + one regression test: an item verified, or evidence links of kind
      ``implementation`` and ``test`` on the backlog;
    - runbook/process update + ownership confirmation: every item has an execution owner and a
      verifier owner, and a ``runbook`` evidence link or a runbook acknowledgement exists.
    """
    judged = []
    for index, window in enumerate(windows):
        met, missing = (_evidence_packet, _control_and_test, _runbook_and_owners)[min(index, 2)](
            incident_body, items
        )
        judged.append(Expectation(window.window, window.artifact, window.due_at, met, missing))
    return tuple(judged)


_SECTION_TITLE = re.compile(r"\b(?:timeline|evidence)\b", re.IGNORECASE)
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}[ \t]+(?P<title>.*?)[ \t]*#*[ \t]*")
_EMPTY_ANSWERS = frozenset({"", "_no response_", "no response", "tbd", "todo", "-", "n/a"})


def _evidence_packet(body: str, items: Sequence[TrackedItem]) -> tuple[bool, str]:
    inside = False
    for line in visible_lines(body or ""):
        if line is None:
            continue
        heading = _HEADING.fullmatch(line)
        if heading is not None:
            inside = _SECTION_TITLE.search(heading.group("title")) is not None
            continue
        if inside and line.strip().strip("*_").strip().casefold() not in _EMPTY_ANSWERS:
            return True, ""
    return False, (
        "add a `### Timeline and evidence packet` section to the incident: decisions with "
        "timestamps, links to logs, dashboards and chat"
    )


def _control_and_test(body: str, items: Sequence[TrackedItem]) -> tuple[bool, str]:
    fields = [t.item for t in items if t.item is not None]
    if any(item.status == "verified" for item in fields):
        return True, ""
    kinds = {e.kind for item in fields for e in item.evidence}
    wanted = [kind for kind in ("implementation", "test") if kind not in kinds]
    if not wanted:
        return True, ""
    commands = " and ".join(f"`/harden evidence URL {kind}`" for kind in wanted)
    return False, f"link the merged control and regression test on an item with {commands}"


def _runbook_and_owners(body: str, items: Sequence[TrackedItem]) -> tuple[bool, str]:
    fields = [t.item for t in items if t.item is not None]
    unowned = [
        f"#{t.number}"
        for t in items
        if t.item is not None and not (t.item.owner and t.item.verifier) and not t.done
    ]
    runbook = any(
        item.acknowledged_by or any(e.kind == "runbook" for e in item.evidence) for item in fields
    )
    missing = []
    if not fields:
        missing.append("no hardening item yet")
    if unowned:
        missing.append(
            f"owners to confirm on {', '.join(unowned)} (`/harden owner @user`, "
            "`/harden verifier @user`)"
        )
    if not runbook:
        missing.append("a runbook update to link (`/harden evidence URL runbook`) and acknowledge")
    return not missing, "; ".join(missing)
