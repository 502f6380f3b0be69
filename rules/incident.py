"""Incident issues: the incident label, severity, and the Findings section.

Implements the first half of the hardening loop's "From incident finding to control design": each
finding of an incident is ``<finding type>: <text>``, and its type (or an alias from the
configuration) names a failure class. Unknown types are reported back, never guessed.

Severity comes from a ``sev-1`` … ``sev-4`` label (case-insensitive; the most severe wins when
there are several) or else a ``Severity:`` field in the body. The field accepts ``SEV1``,
``sev-2``, ``sev 2``, ``S2``, ``2``, ``SEV0`` (read as 1, the most severe), and the words
critical (1), major / high (2), moderate / medium / minor (3) and low (4).

A finding's key is its identity: the first 12 hex digits of the SHA-1 of its failure class and
its text, with case, runs of white space and a trailing full stop ignored. Rewording a finding
therefore makes a new finding (and a new hardening item); the handler lists the item of the old
text as orphaned instead of deleting anything. Changing only the type to another alias of the
same class keeps the key.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping

from rules.config import Config, failure_class_for_finding_type
from rules.item_template import markdown_heading, visible_lines
from rules.model import Finding, Incident

_SEVERITY_WORDS = {
    "critical": 1,
    "major": 2,
    "high": 2,
    "moderate": 3,
    "medium": 3,
    "minor": 3,
    "low": 4,
}

_BOLD_LINE_RE = re.compile(r"[ \t]*(?P<b>\*\*|__)(?P<title>[^*_]+?)(?P=b)[ \t]*(?::[ \t]*)?")
_FINDINGS_TITLE_RE = re.compile(r"(?:key |incident )?findings?\b[ \t:]*(?:\(.*\))?", re.I)
_LIST_ITEM_RE = re.compile(
    r"(?P<indent>[ \t]*)(?:[-*+•]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\](?:[ \t]+|$))?(?P<content>.*)"
)
# No two white-space runs touch, so a long line cannot cost quadratic time.
_SEVERITY_FIELD_RE = re.compile(
    r"[ \t]*(?:[-*+•][ \t]+)?(?:(?:\*\*|__)[ \t]*)?severity(?:[ \t]*(?:\*\*|__))?"
    r"[ \t]*(?::|-(?=[ \t])|–|—)(?:[ \t]*(?:\*\*|__))?[ \t]*(?P<value>.*)",
    re.IGNORECASE,
)

BOLD_LEVEL = 7  # a "**Findings**" line ranks below every heading

# The summary is the prose before the Findings: headings and a Severity field are skipped.
_SUMMARY_HEADING_RE = re.compile(r"[ \t]{0,3}#{1,6}[ \t]")
_SUMMARY_FINDINGS_RE = re.compile(
    r"[ \t]{0,3}(?:#{1,6}[ \t]+|\*\*|__)?[ \t]*(?:key |incident )?findings?\b", re.IGNORECASE
)
_SUMMARY_FIELD_RE = re.compile(r"[ \t]*(?:[-*+][ \t]+)?(?:\*\*)?severity\b", re.IGNORECASE)
SUMMARY_LIMIT = 400


def is_incident(labels: Iterable[str], config: Config) -> bool:
    """Whether the labels include the configured incident label (case-insensitive)."""
    wanted = config.labels.incident.casefold()
    return any(label.strip().casefold() == wanted for label in labels)


def labelled_by(timeline: Iterable[object], label: str, *, limit: int = 5) -> list[str]:
    """Who added ``label`` to an issue, from its timeline: the latest first, each login once,
    at most ``limit`` of them."""
    wanted = label.strip().casefold()
    found: list[str] = []
    for event in timeline:
        if not isinstance(event, Mapping) or event.get("event") != "labeled":
            continue
        name = str((event.get("label") or {}).get("name") or "")
        login = str((event.get("actor") or {}).get("login") or "")
        if name.strip().casefold() != wanted or not login:
            continue
        found = [who for who in found if who.casefold() != login.casefold()]
        found.append(login)
    return list(reversed(found))[:limit]


def severity_from_labels(labels: Iterable[str], config: Config) -> int | None:
    """The most severe ``sev-N`` label's N, or None."""
    found = [s for s in (config.labels.severity_of(label) for label in labels) if s is not None]
    return min(found) if found else None


def parse_severity(text: str) -> int | None:
    """A severity value as people write it (see the module docstring) -> 1..4, or None."""
    value = text.strip().strip("*_`").strip().casefold()
    match = re.match(r"(?:sev(?:erity)?|s)?[ \t_-]*([0-4])(?!\d)", value)
    if match:
        return max(int(match.group(1)), 1)
    word = re.match(r"[a-z]+", value)
    return _SEVERITY_WORDS.get(word.group(0)) if word else None


def severity_from_body(body: str) -> int | None:
    """The ``Severity:`` field of a body (a list item, a bold name, or a ``### Severity``
    heading followed by the value), outside code and quotes."""
    lines = visible_lines(body)
    for index, line in enumerate(lines):
        if line is None:
            continue
        if "severity" not in line.casefold():
            continue
        field = _SEVERITY_FIELD_RE.fullmatch(line)
        if field:
            return parse_severity(field.group("value"))
        heading = markdown_heading(line)
        if heading and heading[1].strip("*_ :").casefold() == "severity":
            for below in lines[index + 1 :]:
                if below is None or not below.strip():
                    continue
                return parse_severity(below.strip().lstrip("-*+ ").strip())
    return None


def normalize_text(text: str) -> str:
    """A finding's text as its key sees it: case-folded, single-spaced, no trailing full stop."""
    return " ".join(text.casefold().split()).rstrip(".").strip()


def finding_key(failure_class: str | None, type_text: str, text: str) -> str:
    """Stable identity of a finding; the type only counts when it names no failure class."""
    subject = failure_class if failure_class else "?" + " ".join(type_text.casefold().split())
    digest = hashlib.sha1(f"{subject}\0{normalize_text(text)}".encode())
    return digest.hexdigest()[:12]


def parse_findings(body: str, config: Config) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
    """(known findings, findings whose type names no failure class), each once, in body order."""
    known: dict[str, Finding] = {}
    unknown: dict[str, Finding] = {}
    for content in _finding_items(body):
        finding = _finding(content, config)
        # A known type with nothing after the colon (an untouched template line) describes no
        # finding yet: reported, never turned into an empty item.
        target = known if finding.failure_class and finding.text else unknown
        target.setdefault(finding.key, finding)
    return tuple(known.values()), tuple(unknown.values())


def parse_incident(
    number: int, title: str, body: str, labels: Iterable[str], config: Config
) -> Incident:
    """An incident issue as the hardening loop needs it. Never raises on any body."""
    labels = list(labels)
    severity = severity_from_labels(labels, config)
    if severity is None:
        severity = severity_from_body(body or "")
    findings, unknown = parse_findings(body or "", config)
    return Incident(
        number=number,
        title=title,
        severity=severity,
        findings=findings,
        unknown_findings=unknown,
    )


def incident_summary(body: str) -> str:
    """The incident's short summary: its first paragraph of prose before the Findings."""
    paragraph: list[str] = []
    under_severity = False  # an issue form's `### Severity` section holds a value, not prose
    for line in visible_lines(body):
        if line is None:
            continue
        if _SUMMARY_FINDINGS_RE.match(line):
            break
        if not line.strip():
            if paragraph:
                break
            continue
        if _SUMMARY_HEADING_RE.match(line):
            if paragraph:
                break
            under_severity = bool(_SUMMARY_FIELD_RE.match(line.lstrip(" \t#")))
            continue
        if _SUMMARY_FIELD_RE.match(line) or under_severity:
            if paragraph:
                break
            continue
        paragraph.append(line.strip())
    text = " ".join(paragraph)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1].rstrip() + "…"


def _finding_items(body: str) -> list[str]:
    """The top-level list items of every Findings section, in order."""
    items: list[str] = []
    section_level: int | None = None
    base_indent: int | None = None
    for line in visible_lines(body):
        if line is None:
            continue
        level, title = _heading(line)
        if level is not None:
            if _FINDINGS_TITLE_RE.fullmatch(title.strip("*_ ")):
                section_level, base_indent = level, None
                continue
            if section_level is not None and level <= section_level:
                section_level = None
            continue
        if section_level is None:
            continue
        item = _LIST_ITEM_RE.fullmatch(line)
        if item is None:
            continue
        indent = len(item.group("indent").expandtabs(4))
        if base_indent is None:
            base_indent = indent
        if indent <= base_indent + 1 and item.group("content").strip():
            items.append(item.group("content").strip())
    return items


def _heading(line: str) -> tuple[int | None, str]:
    """(level, title) of a heading or a bold-only line; (None, "") otherwise."""
    heading = markdown_heading(line)
    if heading:
        return heading
    bold = _BOLD_LINE_RE.fullmatch(line)
    if bold:
        return BOLD_LEVEL, bold.group("title")
    if re.fullmatch(r"[ \t]*findings[ \t]*:[ \t]*", line, re.IGNORECASE):
        return BOLD_LEVEL, "findings"
    return None, ""


def _finding(content: str, config: Config) -> Finding:
    type_text, text = _split_finding(content)
    failure_class = failure_class_for_finding_type(config, type_text) if type_text else None
    slug = failure_class.slug if failure_class else None
    return Finding(
        raw=content,
        type_text=type_text,
        text=text,
        failure_class=slug,
        key=finding_key(slug, type_text, text if type_text else content),
    )


def _split_finding(content: str) -> tuple[str, str]:
    """``<type>: <text>`` -> (type, text); also ``**type**: text`` and ``**type:** text``."""
    bold = re.fullmatch(r"(\*\*|__)(?P<type>[^:\n]+?):(?:\1)[ \t]*(?P<text>.*)", content)
    if bold is None:
        bold = re.fullmatch(r"(\*\*|__)(?P<type>[^:\n]+?)\1[ \t]*:[ \t]*(?P<text>.*)", content)
    if bold:
        return bold.group("type").strip(), bold.group("text").strip()
    head, colon, rest = content.partition(":")
    if colon and head.strip() and "://" not in content[: len(head) + 3]:
        return head.strip().strip("*_`").strip(), rest.strip()
    dashed = re.fullmatch(r"(?P<type>.+?)\s[–—-]\s(?P<text>.*)", content)
    if dashed:
        return dashed.group("type").strip().strip("*_`").strip(), dashed.group("text").strip()
    return "", content.strip()
