"""Every hidden marker the App writes, and the one place each is recognised.

The App finds its own earlier output by HTML comments (``<!-- hardening-bot:NAME -->``) and
edits it instead of posting again; its items carry a marker naming their incident and finding;
its check runs carry a digest; its issue bodies carry the App's signed record
(:mod:`rules.record`). Text copied from people (finding text, titles, notes) can contain anything,
so a marker counts only at its fixed place in something the App wrote:

- a comment's marker is its **first line** (:func:`carries`), never a line further down where a
  quoted title could put one;
- an item's marker is a **line of its own** in the App's item body, right above the template;
- a check run's marker is the **last line** of its summary;
- the record is a **line of its own** in the item body (its signature, not its place, is what
  makes it trusted; see :mod:`rules.record`).

Whether the comment, body or run is the App's own is the shell's check (the author's login);
these functions only look at the text. Every format lives here and nowhere else.
"""

from __future__ import annotations

import re

from rules.model import ItemMarker

PREFIX = "hardening-bot:"
_FORMAT = "<!-- " + PREFIX + "{name} -->"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:=#/ -]{0,200}")


def comment_marker(name: str) -> str:
    """The hidden marker for ``name``, e.g. ``comment_marker("tracking incident=12")``.

    Names are plain words (letters, digits, ``_ . : = # / -`` and spaces) so that a marker can
    never close the HTML comment early.
    """
    if not _NAME.fullmatch(name) or "--" in name:
        raise ValueError(f"marker name {name!r} must be plain text without '--' or '>'")
    return _FORMAT.format(name=name)


# --- comments: the marker is the first line ---------------------------------------------------

RETIREMENT = comment_marker("retirement")
CONFIG_ERRORS = comment_marker("config-errors")
CLOSURE_GATE = comment_marker("closure-gate")
INCIDENT_CLOSE_GATE = comment_marker("incident-close-gate")
ITEM_BUNDLE = comment_marker("bundle")
INCIDENT_BUNDLE = comment_marker("incident-bundle")
HAND_EDIT = comment_marker("hand-edit")
ADOPTION = comment_marker("adoption")
INCIDENT_ACCESS = comment_marker("incident-access")
# The Hardening ledger issue's body (its first line) and the incident's sprint summary.
LEDGER = comment_marker("ledger")
ORG_LEDGER = comment_marker("org-ledger")
SPRINT_SUMMARY = comment_marker("sprint-summary")


def ledger_reply(comment_id: int) -> str:
    """The App's answer to a comment that registered or resolved a residual risk."""
    return comment_marker(f"ledger-reply comment={int(comment_id)}")


def recurrence(incident: int) -> str:
    """The one comment on a verified item that incident ``incident`` repeated its failure class
    (however many of that incident's items repeat it)."""
    return comment_marker(f"recurrence incident={int(incident)}")


def recurrence_of(earlier: int) -> str:
    """The one comment on a new item linking the verified item ``earlier`` it repeats."""
    return comment_marker(f"recurrence-of earlier={int(earlier)}")


def tracking(incident: int) -> str:
    """The incident's one tracking comment."""
    return comment_marker(f"tracking incident={int(incident)}")


def reply(comment_id: int) -> str:
    """The App's one reply to the command comment ``comment_id``."""
    return comment_marker(f"reply comment={int(comment_id)}")


def weekly_review(week: str) -> str:
    """One item's weekly review comment for ISO week ``week`` (``2026-W10``)."""
    return comment_marker(f"weekly-review {week}")


def monthly_audit(month: str) -> str:
    """One item's monthly control audit comment for ``month`` (``2026-03``)."""
    return comment_marker(f"monthly-audit {month}")


def first_line(text: str | None) -> str:
    """The first line of ``text`` without surrounding blanks (GitHub keeps CRLF from browsers)."""
    return (text or "").lstrip("\r\n").split("\n", 1)[0].strip()


def carries(body: str | None, mark: str) -> bool:
    """Whether a comment body starts with ``mark``: the only place a comment marker counts."""
    return first_line(body) == mark


def with_marker(body: str, mark: str) -> str:
    """``body`` starting with ``mark`` (added as the first line when it does not)."""
    return body if carries(body, mark) else f"{mark}\n{body}"


# --- items: a line of its own above the template ----------------------------------------------

_ITEM = re.compile(
    r"<!-- " + PREFIX + r"item incident=(\d{1,18}) finding=([A-Za-z0-9_.:-]{1,200}) -->"
)
ITEM_LINE = re.compile(r"[ \t]*" + _ITEM.pattern + r"[ \t]*\r?")
# What bot.subjects looks for before the 202 (it must not parse the whole body twice).
ITEM_SEARCH = re.compile(
    r"<!--\s*" + PREFIX + r"item\b[^>]{0,300}?\bincident=(?:(?P<repo>[\w.-]{1,100}/[\w.-]{1,100}))?"
    r"#?(?P<n>\d{1,18})",
    re.IGNORECASE,
)


def item(marker: ItemMarker) -> str:
    return f"<!-- {PREFIX}item incident={marker.incident} finding={marker.finding_key} -->"


def item_on_line(line: str) -> ItemMarker | None:
    """The item marker when ``line`` is that marker alone, else None."""
    match = ITEM_LINE.fullmatch(line.rstrip("\n"))
    if match is None:
        return None
    return ItemMarker(incident=int(match.group(1)), finding_key=match.group(2))


def item_in(body: str) -> ItemMarker | None:
    """The first line of ``body`` that is an item marker alone, or None."""
    for line in body.split("\n"):
        if PREFIX in line:
            found = item_on_line(line)
            if found is not None:
                return found
    return None


def without_item_markers(text: str) -> str:
    """``text`` without item-marker lines (the renderer puts the one marker back in place)."""
    return "".join(
        line
        for line in text.splitlines(keepends=True)
        if not ITEM_LINE.fullmatch(line.rstrip("\n"))
    )


# --- check runs: the last line of the summary -------------------------------------------------

_CHECK = re.compile(r"<!-- " + PREFIX + r"check (?P<fields>[^<>]{0,2000}?) -->")


def check(fields: dict[str, str]) -> str:
    """A check run's marker from its ``name=value`` fields (values without spaces)."""
    return comment_marker("check " + " ".join(f"{k}={v}" for k, v in fields.items()))


def check_fields(summary: str) -> dict[str, str] | None:
    """The fields of the check marker ending ``summary``, or None when its last line is not one."""
    last = (summary or "").rstrip().rsplit("\n", 1)[-1].strip()
    found = _CHECK.fullmatch(last)
    if found is None:
        return None
    return dict(part.partition("=")[::2] for part in found.group("fields").split())


# --- the App's record: a signed line in the item body -----------------------------------------

# A break-glass override, a line of the App's own ``hardening/controls`` summary.
_OVERRIDE = re.compile(r"<!-- " + PREFIX + r"override ([A-Za-z0-9_=-]{1,4000}) -->")


def override(data: str) -> str:
    """The override line; ``data`` is its base64url JSON (rules.override)."""
    return f"<!-- {PREFIX}override {data} -->"


def override_in(summary: str) -> str | None:
    """The data of the override line of a check run summary the App wrote, if any.

    The App writes it as the summary's first line; anywhere else it is copied text.
    """
    first = (summary or "").split("\n", 1)[0].rstrip("\r")
    found = _OVERRIDE.fullmatch(first)
    return found.group(1) if found else None


_RECORD = re.compile(
    r"[ \t]*<!-- " + PREFIX + r"record v=(?P<v>\d{1,3}) mac=(?P<mac>[0-9a-f]{64}) "
    r"data=(?P<data>[A-Za-z0-9_-]{1,60000}={0,2}) -->[ \t]*\r?"
)
RECORD_NEEDLE = PREFIX + "record "


def record(version: int, mac: str, data: str) -> str:
    """The record line: format version, hex MAC, and the base64url of its canonical JSON."""
    return f"<!-- {PREFIX}record v={version} mac={mac} data={data} -->"


def records_in(body: str) -> list[tuple[int, str, str]]:
    """``(version, mac, data)`` of every line of ``body`` that is a record line alone."""
    found: list[tuple[int, str, str]] = []
    if RECORD_NEEDLE not in body:
        return found
    for line in body.split("\n"):
        if RECORD_NEEDLE in line:
            match = _RECORD.fullmatch(line)
            if match is not None:
                found.append((int(match["v"]), match["mac"], match["data"]))
    return found


def without_records(body: str) -> str:
    """``body`` without its record lines (the App writes the one record back at the end)."""
    if RECORD_NEEDLE not in body:
        return body
    return "".join(
        line for line in body.splitlines(keepends=True) if not _RECORD.fullmatch(line.rstrip("\n"))
    )
