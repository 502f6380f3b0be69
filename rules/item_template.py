"""The hardening loop's "Hardening backlog template": read, write and re-write a Hardening Item block.

People edit hardening issues by hand, so reading is tolerant: any bullet (``-``, ``*``, ``+``,
``•``) or none, ``:`` / `` - `` / ``–`` / ``—`` after the field name, bold field names, any
heading level or no heading, text around the block, several evidence links on one line or one
per line, ``@alice`` or ``alice``, ``#12`` or an issue URL, status in any case with
``in progress`` / ``in-progress``, and the issue-form layout (``### Due date`` followed by the
value). A value that cannot be read becomes a human-readable problem, never an exception.

Writing is canonical: ``render_item`` produces the hardening loop's template plus the bot-managed lines
(verification style, runbook acknowledgement, verification, retirement rationale) when they are
set, and ``parse_item(render_item(item)).item == item`` for every well-formed item (single-line,
stripped texts; valid logins; http(s) links without spaces). ``replace_item_in_body`` re-renders
the block in place and keeps every line of human text around (and inside) it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import cast

from rules import markers
from rules.debt import read_deferral, render_deferral
from rules.logins import parse_team, parse_user
from rules.model import (
    EVIDENCE_KINDS,
    PRIORITIES,
    STATUSES,
    Evidence,
    EvidenceKind,
    HardeningItem,
    ItemMarker,
)
from rules.text import bounded_int

HEADING = "### Hardening Item"

# Field key -> the name the template uses for it, in template order. The last four are written
# by the bot when set.
FIELD_NAMES: dict[str, str] = {
    "incident": "Incident reference",
    "failure_class": "Failure class",
    "proposed_control": "Proposed control",
    "priority": "Priority band",
    "owner": "Execution owner",
    "verifier": "Verifier owner",
    "due": "Due date",
    "evidence": "Evidence link(s)",
    "adoption_check": "Adoption check date",
    "status": "Status",
    "verification_style": "Verification style",
    "acknowledged_by": "Runbook acknowledged by",
    "verified": "Verified by",
    "retired_rationale": "Retirement rationale",
    "hypothesis": "Hypothesis",
    "measure": "Measure",
    "guardrail": "Guardrail",
    "review_date": "Review date",
    "deferral": "Deferred until",
}

_FIELD_ALIASES: dict[str, str] = {
    "incident reference": "incident",
    "incident ref": "incident",
    "incident": "incident",
    "failure class": "failure_class",
    "proposed control": "proposed_control",
    "control": "proposed_control",
    "priority band": "priority",
    "priority": "priority",
    "execution owner": "owner",
    "owner": "owner",
    "verifier owner": "verifier",
    "verifier": "verifier",
    "due date": "due",
    "due": "due",
    "evidence links": "evidence",
    "evidence link": "evidence",
    "evidence": "evidence",
    "adoption check date": "adoption_check",
    "adoption check": "adoption_check",
    "status": "status",
    "verification style": "verification_style",
    "runbook acknowledged by": "acknowledged_by",
    "acknowledged by": "acknowledged_by",
    "verified by": "verified",
    "retirement rationale": "retired_rationale",
    "retired rationale": "retired_rationale",
    "rationale": "retired_rationale",
    "hypothesis": "hypothesis",
    "measure": "measure",
    "guardrail": "guardrail",
    "review date": "review_date",
    "deferred until": "deferral",
}

# In the issue-form layout only the template's own names count: "## Status" or "## Owner" are
# too common as ordinary section headings.
_HEADING_FIELDS: dict[str, str] = {
    " ".join(re.sub(r"[^a-z]+", " ", name.lower().replace("(s)", "s")).split()): key
    for key, name in FIELD_NAMES.items()
}

# Words a human (or GitHub's issue forms) write for "not filled in yet".
_PLACEHOLDERS = frozenset(
    {"", "-", "–", "—", "n/a", "na", "none", "tbd", "todo", "unassigned", "?", "...", "…"}
    | {"_no response_", "no response", "@"}
)

_KIND_WORDS: dict[str, EvidenceKind | None] = {
    **{kind: kind for kind in EVIDENCE_KINDS},
    "behavioural": "behavioral",
    "note": None,
}


@dataclass(frozen=True)
class ItemParse:
    """What ``parse_item`` read: the item (None when the body has no block), problems a person
    can fix, the bot's hidden marker if any, and the ``(start, end)`` of the block in the body."""

    item: HardeningItem | None
    problems: tuple[str, ...] = ()
    marker: ItemMarker | None = None
    span: tuple[int, int] | None = None

    @property
    def incident(self) -> int | None:
        """The incident this item belongs to: the bot's marker wins over the template line."""
        if self.marker is not None:
            return self.marker.incident
        return self.item.incident if self.item is not None else None


# ---------------------------------------------------------------------------------------------
# Markers (the format lives in rules.markers)


def render_marker(marker: ItemMarker) -> str:
    return markers.item(marker)


def parse_marker(body: str) -> ItemMarker | None:
    """The hardening-bot item marker of ``body`` (a line of its own), or None."""
    return markers.item_in(body)


# ---------------------------------------------------------------------------------------------
# Public API


def parse_item(body: str) -> ItemParse:
    """Read the Hardening Item block of an issue body. Never raises."""
    marker = parse_marker(body)
    located = _locate(body)
    if located is None:
        return ItemParse(item=None, problems=("No Hardening Item block found",), marker=marker)
    item, problems = _read_fields(located.run)
    return ItemParse(
        item=item,
        problems=tuple(located.problems + problems),
        marker=marker,
        span=(located.start, located.end),
    )


def render_item(item: HardeningItem, marker: ItemMarker | None = None) -> str:
    """The canonical block for ``item``, ending with a newline."""
    lines = [render_marker(marker)] if marker is not None else []
    lines.append(HEADING)
    lines.append(_line("incident", f"#{item.incident}" if item.incident is not None else ""))
    lines.append(_line("failure_class", item.failure_class or ""))
    lines.append(_line("proposed_control", _one_line(item.proposed_control)))
    lines.append(_line("priority", item.priority or ""))
    lines.append(_line("owner", f"@{item.owner}" if item.owner else ""))
    lines.append(_line("verifier", f"@{item.verifier}" if item.verifier else ""))
    lines.append(_line("due", item.due.isoformat() if item.due else ""))
    lines.extend(_evidence_lines(item.evidence))
    lines.append(
        _line("adoption_check", item.adoption_check.isoformat() if item.adoption_check else "")
    )
    lines.append(_line("status", item.status))
    if _one_line(item.verification_style):
        lines.append(_line("verification_style", _one_line(item.verification_style)))
    if item.acknowledged_by:
        lines.append(_line("acknowledged_by", ", ".join(f"@{u}" for u in item.acknowledged_by)))
    if item.verified_by or item.verified_at or item.verified_link:
        parts = [f"@{item.verified_by}"] if item.verified_by else []
        if item.verified_at is not None:
            parts.append(f"at {item.verified_at.isoformat()}")
        if item.verified_link:
            parts.append(f"via {item.verified_link}")
        lines.append(_line("verified", " ".join(parts)))
    if item.retired_rationale and _one_line(item.retired_rationale):
        lines.append(_line("retired_rationale", _one_line(item.retired_rationale)))
    for key in ("hypothesis", "measure", "guardrail"):
        if _one_line(getattr(item, key)):
            lines.append(_line(key, _one_line(getattr(item, key))))
    if item.review_date is not None:
        lines.append(_line("review_date", item.review_date.isoformat()))
    if item.deferral is not None:
        lines.append(_line("deferral", render_deferral(item.deferral)))
    return "\n".join(lines) + "\n"


def replace_item_in_body(body: str, item: HardeningItem, marker: ItemMarker | None = None) -> str:
    """``body`` with its Hardening Item block re-rendered in place (appended when absent).

    Human text before and after the block is kept byte for byte; lines inside the block that are
    not template fields (a person's extra bullets) are kept right after the re-rendered block.
    When ``marker`` is None an existing marker is kept; the marker always ends up in the block,
    and only once.
    """
    marker = marker or parse_marker(body)
    newline = "\r\n" if "\r\n" in body else "\n"
    located = _locate(body)
    block = render_item(item, marker)
    if located is None:
        before = (_drop_markers(body) if marker else body).rstrip()
        if not before.strip():
            return block.replace("\n", newline)
        # A comment or code fence left open would swallow the block: close it first.
        closer = _scan(_split_lines(before))[1]
        if closer:
            before += newline + closer
        return before + newline + newline + block.replace("\n", newline)
    extras = "".join(located.lines[index].text + newline for index in located.run.extras)
    before, after = body[: located.start], body[located.end :]
    if marker:
        before, after = _drop_markers(before), _drop_markers(after)
    return before + block.replace("\n", newline) + extras + after


def visible_lines(text: str) -> list[str | None]:
    """The lines of a Markdown text as a reader sees them, for finding commands and sections.

    Lines inside fenced code blocks (```` ``` ```` or ``~~~``, indented or not), block quotes
    (``>``) and HTML comments (which may start and end mid-line) are None; comments inside a
    visible line are blanked out. Line numbers are kept: element ``i`` is line ``i + 1``.
    """
    text = text.replace("\r\n", "\n")
    text = _COMMENT_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    out: list[str | None] = []
    fence: tuple[str, int] | None = None
    for line in text.split("\n"):
        if fence is not None:
            out.append(None)
            closing = re.fullmatch(r"[ \t]*(`{3,}|~{3,})[ \t]*\r?", line)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= fence[1]:
                fence = None
            continue
        opening = _FENCE_RE.match(line)
        if opening:
            fence = (opening.group(1)[0], len(opening.group(1)))
            out.append(None)
        elif re.match(r"[ \t]*>", line):
            out.append(None)
        else:
            out.append(line.rstrip("\r"))
    return out


_COMMENT_RE = re.compile(r"<!--.*?(?:-->|\Z)", re.DOTALL)


# ---------------------------------------------------------------------------------------------
# Rendering helpers


def _line(key: str, value: str) -> str:
    return f"- {FIELD_NAMES[key]}: {value}" if value else f"- {FIELD_NAMES[key]}:"


def _one_line(text: str) -> str:
    return re.sub(r"\s*[\r\n]+\s*", " ", text).strip()


_INLINE_SAFE_URL = re.compile(r"https?://[^\s,()<>\[\]]*[^\s,()<>\[\].;:!?]\Z", re.IGNORECASE)


def _evidence_lines(evidence: tuple[Evidence, ...]) -> list[str]:
    if not evidence:
        return [_line("evidence", "")]
    if all(
        e.kind is None
        and not _one_line(e.note)
        and e.duration_seconds is None
        and _INLINE_SAFE_URL.match(e.url)
        for e in evidence
    ):
        return [_line("evidence", ", ".join(e.url for e in evidence))]
    return [_line("evidence", "")] + [f"  - {_render_evidence(e)}" for e in evidence]


def _render_evidence(evidence: Evidence) -> str:
    note = _one_line(evidence.note)
    head: str = evidence.kind or "note"
    if evidence.duration_seconds is not None and evidence.duration_seconds >= 0:
        head += f", timed {_compact_duration(evidence.duration_seconds)}"
    elif evidence.kind is None and not note:
        return evidence.url
    return f"{evidence.url} ({head}: {note})" if note else f"{evidence.url} ({head})"


def _drop_markers(text: str) -> str:
    """Remove item-marker lines: the block gets its one marker back, in place."""
    return markers.without_item_markers(text)


# ---------------------------------------------------------------------------------------------
# Locating the block


@dataclass(frozen=True)
class _Line:
    start: int
    end: int  # after the line's newline
    text: str  # without the line ending


@dataclass
class _Field:
    key: str
    value: str
    indent: int
    heading: bool  # issue-form layout: "### Due date" with the value below
    more: list[str] = field(default_factory=list)  # continuation lines, bullet stripped


@dataclass
class _Run:
    first: int
    last: int = -1
    fields: list[_Field] = field(default_factory=list)
    extras: list[int] = field(default_factory=list)

    @property
    def distinct(self) -> int:
        return len({f.key for f in self.fields})


@dataclass(frozen=True)
class _Located:
    lines: list[_Line]
    run: _Run
    start: int
    end: int
    problems: list[str]


_FENCE_RE = re.compile(r"[ \t]*(`{3,}|~{3,})")
_HEADING_RE = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|$)")
_BULLET = r"[ \t]*(?:(?:[-*+•]|\d{1,3}[.)])[ \t]+)?(?:\[[ xX]\][ \t]+)?"
_NAME = r"(?P<name>[A-Za-z][A-Za-z ()/'’]{0,40}?)"  # bounded: no quadratic work on long lines
_SEP = r"(?:[ \t]*[:–—]|[ \t]+-(?=[ \t]|$))"
_PLAIN_FIELD_RE = re.compile(rf"(?P<prefix>{_BULLET}){_NAME}{_SEP}[ \t]*(?P<value>.*)")
_BOLD_FIELD_RE = re.compile(
    rf"(?P<prefix>{_BULLET})(?P<b>\*\*|__)[ \t]*{_NAME}"
    rf"(?:[ \t]*(?P=b){_SEP}|{_SEP}[ \t]*(?P=b))[ \t]*(?P<value>.*)"
)
_LIST_ITEM_RE = re.compile(r"(?P<indent>[ \t]*)(?:[-*+•]|\d{1,3}[.)])(?:[ \t]+(?P<content>.*)|$)")
_LINK_START_RE = re.compile(r"\s*(?:<?https?://|\[[^\]]*\]\(https?://)", re.IGNORECASE)


def markdown_heading(line: str) -> tuple[int, str] | None:
    """``(level, title)`` of an ATX heading line (``## Title ##``), else None. Linear time."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or not stripped.startswith("#"):
        return None
    level = len(stripped) - len(stripped.lstrip("#"))
    rest = stripped[level:]
    if level > 6 or (rest and rest[0] not in " \t"):
        return None
    title = rest.strip(" \t")
    closing = title.rstrip("#")
    if closing != title and (not closing or closing[-1] in " \t"):
        title = closing.rstrip(" \t")  # an optional closing sequence of #s
    return level, title


def _is_item_heading(line: str) -> bool:
    """``### Hardening Item``, ``**Hardening Item**``, or a line saying just that."""
    heading = markdown_heading(line)
    if heading is not None:
        title = heading[1]
    else:
        title = line.strip()
        bold = len(title) > 4 and title[:2] in ("**", "__") and title.endswith(title[:2])
        if not bold and not re.fullmatch(r"hardening\s+item\s*:?", title, re.IGNORECASE):
            return False
    return re.match(r"hardening\s+item\b", title.strip("*_ \t"), re.IGNORECASE) is not None


def _split_lines(body: str) -> list[_Line]:
    lines: list[_Line] = []
    position = 0
    for raw in body.split("\n"):
        end = position + len(raw)
        after = end + 1 if end < len(body) else end
        lines.append(_Line(position, after, raw[:-1] if raw.endswith("\r") else raw))
        position = after
    return lines


def _hidden(lines: list[_Line]) -> list[bool]:
    """Lines inside fenced code blocks or HTML comments (the marker line included)."""
    return _scan(lines)[0]


def _scan(lines: list[_Line]) -> tuple[list[bool], str | None]:
    """(hidden lines, the closer of a comment or fence still open at the end, if any)."""
    hidden: list[bool] = []
    fence: tuple[str, int] | None = None
    in_comment = False
    for line in lines:
        text = line.text
        if in_comment:
            hidden.append(True)
            in_comment = "-->" not in text
            continue
        if fence is not None:
            hidden.append(True)
            closing = re.fullmatch(r"[ \t]*(`{3,}|~{3,})[ \t]*", text)
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= fence[1]:
                fence = None
            continue
        opening = _FENCE_RE.match(text)
        if opening:
            fence = (opening.group(1)[0], len(opening.group(1)))
            hidden.append(True)
            continue
        stripped = text.lstrip()
        if stripped.startswith("<!--"):
            hidden.append(True)
            in_comment = "-->" not in stripped[4:]
            continue
        hidden.append(False)
    closer = "-->" if in_comment else (fence[0] * fence[1] if fence else None)
    return hidden, closer


def _normalize_name(name: str) -> str:
    name = name.casefold().replace("(s)", "s").replace("’", "'")
    return " ".join(re.sub(r"[^a-z]+", " ", name).split())


def _indent(text: str) -> int:
    """Width of the leading whitespace, a tab counting as four spaces."""
    expanded = text.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def _field_at(text: str) -> _Field | None:
    heading = markdown_heading(text)
    if heading is not None:
        name = heading[1].strip("*_ \t").rstrip(":").strip("*_ \t")
        key = _HEADING_FIELDS.get(_normalize_name(name))
        return _Field(key, "", 0, heading=True) if key else None
    for regex in (_BOLD_FIELD_RE, _PLAIN_FIELD_RE):
        match = regex.fullmatch(text)
        if match is None:
            continue
        key = _FIELD_ALIASES.get(_normalize_name(match.group("name")))
        if key:
            indent = _indent(match.group("prefix"))
            return _Field(key, match.group("value").strip(), indent, heading=False)
    return None


def _consume(lines: list[_Line], hidden: list[bool], first: int) -> _Run:
    run = _Run(first=first)
    current: _Field | None = None
    index = first
    while index < len(lines):
        text = lines[index].text
        if hidden[index]:
            break
        if not text.strip():
            index += 1
            continue
        found = _field_at(text)
        if found is not None:
            run.fields.append(found)
            current = found
            run.last = index
        elif _HEADING_RE.match(text):
            break
        elif current is not None and current.heading:
            current.more.append(_strip_bullet(text))
            run.last = index
        elif _LIST_ITEM_RE.match(text) or _indent(text) >= 2:
            content = _strip_bullet(text)
            nested = current is not None and _indent(text) > current.indent
            link_list = current is not None and current.key == "evidence"
            if current is not None and (nested or (link_list and _LINK_START_RE.match(content))):
                current.more.append(content)
                run.last = index
            else:
                run.extras.append(index)
                current = None
        else:
            break
        index += 1
    run.extras = [extra for extra in run.extras if extra < run.last]
    return run


def _strip_bullet(text: str) -> str:
    match = _LIST_ITEM_RE.match(text)
    if match:
        return (match.group("content") or "").strip()
    return text.strip()


def _locate(body: str) -> _Located | None:
    lines = _split_lines(body)
    hidden = _hidden(lines)
    runs: list[_Run] = []
    index = 0
    while index < len(lines):
        if not hidden[index] and _field_at(lines[index].text) is not None:
            run = _consume(lines, hidden, index)
            runs.append(run)
            index = run.last + 1
        else:
            index += 1

    def preceding(index: int) -> int | None:
        index -= 1
        while index >= 0 and not hidden[index] and not lines[index].text.strip():
            index -= 1
        return index if index >= 0 else None

    headed = []
    for run in runs:
        before = preceding(run.first)
        if before is not None and not hidden[before] and _is_item_heading(lines[before].text):
            headed.append((run, before))
    problems: list[str] = []
    if headed:
        run, start_line = headed[0]
        if len(headed) > 1:
            problems.append(
                f"Found {len(headed)} Hardening Item blocks; only the first one is read"
            )
    else:
        candidates = [run for run in runs if run.distinct >= 2]
        if not candidates:
            return None
        run = max(candidates, key=lambda r: r.distinct)  # the first of the fullest
        start_line = run.first
    marker_line = preceding(start_line)
    if marker_line is not None and markers.item_on_line(lines[marker_line].text):
        start_line = marker_line
    return _Located(lines, run, lines[start_line].start, lines[run.last].end, problems)


# ---------------------------------------------------------------------------------------------
# Reading the fields


def _clean(value: str) -> str:
    """A value without surrounding emphasis or code marks."""
    value = value.strip()
    while len(value) >= 2 and value[0] == value[-1] and value[0] in "`*_":
        value = value[1:-1].strip()
    return value


def _is_placeholder(value: str) -> bool:
    return _clean(value).casefold() in _PLACEHOLDERS


def _read_fields(run: _Run) -> tuple[HardeningItem, list[str]]:
    problems: list[str] = []
    chosen: dict[str, _Field] = {}
    for found in run.fields:
        if found.key in chosen:
            name = FIELD_NAMES[found.key]
            message = f"'{name}' is given more than once; the first one is used"
            if message not in problems:
                problems.append(message)
            continue
        chosen[found.key] = found

    def text_of(key: str) -> str:
        found = chosen.get(key)
        if found is None:
            return ""
        parts = [found.value, *found.more] if not found.heading else found.more
        joined = " ".join(part for part in parts if part).strip()
        return "" if found.heading and _is_placeholder(joined) else joined

    item = HardeningItem()
    values: dict[str, object] = {}
    for key, reader in _READERS.items():
        if key not in chosen:
            continue
        result, problem = reader(text_of(key))
        if problem:
            problems.append(f"{FIELD_NAMES[key]}: {problem}")
        if result is not _UNSET:
            values[key] = result
    if "evidence" in chosen:
        evidence, evidence_problems = _read_evidence(chosen["evidence"])
        values["evidence"] = evidence
        problems.extend(f"{FIELD_NAMES['evidence']}: {p}" for p in evidence_problems)
    verified = values.pop("verified", None)
    if verified is not None:
        values.update(cast(dict[str, object], verified))
    return replace(item, **values), problems  # type: ignore[arg-type]


_UNSET = object()
Reading = tuple[object, str | None]


def _read_incident(value: str) -> Reading:
    value = _clean(value).lstrip("[<")
    if _is_placeholder(value):
        return None, None
    for pattern in (
        r"#?([0-9]+)",
        r"[\w.-]+/[\w.-]+#([0-9]+)",
        r"https?://[^\s/]+/[^\s/]+/[^\s/]+/(?:issues|pull)/([0-9]+)",
    ):
        match = re.match(pattern + r"(?![\w/])", value, re.IGNORECASE)
        number = bounded_int(match.group(1)) if match else None
        if number:
            return number, None
    return None, f"'{value}' is not an issue reference like #12 or an issue URL"


def _read_failure_class(value: str) -> Reading:
    # A slug is read before placeholders: "none" is a possible slug, the class list decides.
    value = _clean(value)
    if value.endswith(")") and "(" in value:  # "missed-detection (from finding 2)"
        value = value[: value.index("(")].strip()
    slug = value.rsplit(":", 1)[-1]
    slug = re.sub(r"[\s_]+", "-", _clean(slug).lower())
    if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
        return slug, None
    if _is_placeholder(value):
        return None, None
    return None, f"'{value}' is not a failure class like missed-detection"


def _read_text(value: str) -> Reading:
    return value.strip(), None


def _read_priority(value: str) -> Reading:
    value = _clean(value)
    if _is_placeholder(value):
        return None, None
    token = value.split()[0].upper().rsplit(":", 1)[-1] if value.split() else ""
    if token in PRIORITIES:
        return token, None
    if "/" in value or "|" in value:
        return None, "choose one of P0, P1, P2, P3"
    return None, f"'{value}' is not one of P0, P1, P2, P3"


def _read_login(value: str, *, what: str) -> Reading:
    value = _clean(value)
    if _is_placeholder(value):
        return None, None
    first, _, rest = value.partition(" ")
    if parse_team(first):
        return None, f"'{first}' is a team; the {what} must be one person, like @alice"
    login = parse_user(first)
    if login and (not rest.strip() or rest.strip().startswith("(")):
        return login, None
    return None, f"'{value}' is not one GitHub login like @alice"


def _read_date(value: str) -> Reading:
    value = _clean(value)
    if _is_placeholder(value):
        return None, None
    match = re.match(r"(\d{4})-(\d{1,2})-(\d{1,2})(?=$|[\sT(,])", value)
    if match is None:
        return None, f"'{value}' is not a date like 2026-12-01"
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3))), None
    except ValueError:
        return None, f"'{match.group(0)}' is not a calendar date"


def _read_status(value: str) -> Reading:
    value = _clean(value)
    if not value:
        return "open", None
    status = re.sub(r"[\s\-]+", "_", value.lower())
    if status in STATUSES:
        return status, None
    if "|" in value or "/" in value:
        return "open", "choose one of open, in_progress, verified, retired; reading it as open"
    return (
        "open",
        f"'{value}' is not one of open, in_progress, verified, retired; reading it as open",
    )


def _read_logins(value: str) -> Reading:
    value = _clean(value)
    if _is_placeholder(value):
        return (), None
    logins: list[str] = []
    bad: list[str] = []
    for token in re.split(r"[,\s]+", value):
        if not token:
            continue
        login = parse_user(token)
        if login:
            logins.append(login)
        else:
            bad.append(token)
    problem = f"{', '.join(repr(b) for b in bad)} not a GitHub login" if bad else None
    return tuple(logins), problem


def _read_verified(value: str) -> Reading:
    value = _clean(value)
    if _is_placeholder(value):
        return _UNSET, None
    out: dict[str, object] = {}
    tokens = value.split()
    problems: list[str] = []
    index = 0
    if tokens and tokens[0].lower() not in ("at", "via"):
        login = parse_user(tokens[0])
        if login:
            out["verified_by"] = login
        else:
            problems.append(f"'{tokens[0]}' is not a GitHub login")
        index = 1
    while index < len(tokens):
        word = tokens[index].lower()
        argument = tokens[index + 1] if index + 1 < len(tokens) else ""
        if word == "at" and argument:
            try:
                out["verified_at"] = datetime.fromisoformat(argument)
            except ValueError:
                problems.append(f"'{argument}' is not an ISO date and time")
            index += 2
        elif word == "via" and argument:
            out["verified_link"] = argument
            index += 2
        else:
            problems.append(f"unexpected '{tokens[index]}' (write @login at TIME via LINK)")
            break
    return out, "; ".join(problems) or None


def _read_rationale(value: str) -> Reading:
    value = value.strip()
    return (value or None), None


_READERS = {
    "incident": _read_incident,
    "failure_class": _read_failure_class,
    "proposed_control": _read_text,
    "priority": _read_priority,
    "owner": lambda v: _read_login(v, what="execution owner"),
    "verifier": lambda v: _read_login(v, what="verifier owner"),
    "due": _read_date,
    "adoption_check": _read_date,
    "status": _read_status,
    "verification_style": _read_text,
    "acknowledged_by": _read_logins,
    "verified": _read_verified,
    "retired_rationale": _read_rationale,
    "hypothesis": _read_text,
    "measure": _read_text,
    "guardrail": _read_text,
    "review_date": _read_date,
    "deferral": read_deferral,
}


# ---------------------------------------------------------------------------------------------
# Evidence links


_URL_RE = re.compile(r"<?(https?://(?:[^\s<>,]|,(?!\s*<?https?://))+)>?", re.IGNORECASE)
_MARKDOWN_LINK_RE = re.compile(
    r"\[([^\]\[\n]*)\]\(\s*<?(https?://[^\s()<>]*(?:\([^\s()]*\)[^\s()<>]*)*)>?\s*\)"
)
_TRAILING = ".,;:!?"


def _read_evidence(found: _Field) -> tuple[tuple[Evidence, ...], list[str]]:
    evidence: list[Evidence] = []
    problems: list[str] = []
    if found.value:
        entries, entry_problems = _evidence_in_text(found.value)
        evidence.extend(entries)
        problems.extend(entry_problems)
    for line in found.more:
        entries, entry_problems = _evidence_in_line(line)
        evidence.extend(entries)
        problems.extend(entry_problems)
    return tuple(evidence), problems


def _evidence_in_line(line: str) -> tuple[list[Evidence], list[str]]:
    """One evidence entry per line (the canonical layout): ``URL (kind: note)``."""
    line = line.strip()
    token, _, rest = line.partition(" ")
    rest = rest.strip()
    if token.startswith("<") and token.endswith(">"):
        token = token[1:-1]
    is_url = re.match(r"https?://\S", token, re.IGNORECASE) is not None
    if is_url and (not rest or (rest.startswith("(") and rest.endswith(")"))):
        kind, note, duration = _annotation(rest[1:-1]) if rest else (None, "", None)
        return [Evidence(_trim_url(token), kind, note, duration)], []
    return _evidence_in_text(line)


def _evidence_in_text(text: str) -> tuple[list[Evidence], list[str]]:
    """Any number of links with optional ``(kind: note)`` or trailing words each."""

    def unwrap(match: re.Match[str]) -> str:
        label, url = match.group(1).strip(), match.group(2)
        return f"{url} ({label})" if label and label != url else url

    text = _MARKDOWN_LINK_RE.sub(unwrap, text)
    evidence: list[Evidence] = []
    problems: list[str] = []
    match = _URL_RE.search(text)
    leading = (text[: match.start()] if match else text).strip(" \t,;")
    if leading and not _is_placeholder(leading):
        problems.append(f"'{leading}' is not an http(s) link")
    while match is not None:
        url = _trim_url(match.group(1))
        position = match.end()
        while position < len(text) and text[position] in " \t":
            position += 1
        annotation: str | None = None
        if position < len(text) and text[position] == "(":
            close = _closing_paren(text, position)
            annotation = text[position + 1 : close]
            position = close + 1
        match = _URL_RE.search(text, position)
        extra = text[position : match.start() if match else len(text)].strip(" \t,;")
        if annotation is not None:
            kind, note, duration = _annotation(annotation)
            note = f"{note} {extra}".strip() if extra else note
        else:
            kind, note, duration = _annotation(extra) if extra else (None, "", None)
        evidence.append(Evidence(url, kind, note, duration))
    return evidence, problems


def _trim_url(url: str) -> str:
    url = url.rstrip(_TRAILING)
    while url.endswith(")") and url.count(")") > url.count("("):
        url = url[:-1].rstrip(_TRAILING)
    return url


def _closing_paren(text: str, start: int) -> int:
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(text)


_TIMED_RE = re.compile(r"\s*,\s*timed\s+(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?!\w)", re.IGNORECASE)


def _annotation(text: str) -> tuple[EvidenceKind | None, str, int | None]:
    """``rollback, timed 4m30s: drill`` -> (rollback, "drill", 270); ``note: x`` -> (None, x).

    Text that does not start with an evidence kind is all note.
    """
    text = text.strip()
    match = re.match(r"([A-Za-z]+)(.*)\Z", text, re.DOTALL)
    if match is None or match.group(1).lower() not in _KIND_WORDS:
        return None, text, None
    word, rest = match.group(1).lower(), match.group(2)
    duration = None
    timed = _TIMED_RE.match(rest)
    if timed and any(timed.groups()):
        hours, minutes, seconds = (bounded_int(part or "0", 9) or 0 for part in timed.groups())
        duration = hours * 3600 + minutes * 60 + seconds
        rest = rest[timed.end() :]
    separated = re.match(r"\s*:\s*|\s+[-–—](?=\s)\s*", rest)
    if word == "note" and duration is None and not (separated and ":" in separated.group(0)):
        return None, text, None
    if rest and not separated and rest[0] not in " \t":
        return None, text, None
    note = rest[separated.end() :] if separated else rest
    return _KIND_WORDS[word], note.strip(), duration


def _compact_duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    return text + (f"{secs}s" if secs or not text else "")
