"""The App's record: the facts only the App writes, kept where anyone can see but no one can forge.

A gate is only worth what it costs to fake it (docs/commands.md, "Who may change what"). The
facts that decide a hardening item's gates — its status ``verified`` or ``retired``, who verified
it, when and where, the evidence recorded by command, the owners' acknowledgements and the
retirement rationale — are kept in a *record* that the App signs and writes as one hidden line of
the item's body. The body stays the readable, editable view, rendered from the record plus the
plain fields people may edit (proposed control, owners, dates); the gates read gate facts from the
record only, never from text a person typed.

On GitHub anyone with write access can edit any comment or body, the App's included, so a record
is trusted for its signature, not for where it is: an HMAC-SHA256 over its canonical JSON with a
key only the App holds, bound to one issue (``subject``, and the repository's immutable id when
the writer knew it, so a rename or transfer of the repository keeps it), with a ``serial`` that
grows with every write so the newest of several valid copies wins. A record whose signature fails, or that names
another issue, is not the App's: it counts as absent (fail closed).

This module is the pure part: the record's shape, its canonical form, sealing and opening it with
a key the caller supplies, and merging an item's gate facts with the plain fields of a body. The
key, the App's last known copy and all I/O live in ``bot.records``.

API (other kinds of App facts are further *sections* of the same record)::

    record = Record(subject="octo/repo#12", serial=3, sections={"item": {...}, "deferral": {...}})
    record.section("deferral")            # the JSON value of one section, or None
    record.with_section("deferral", v)    # a new record: that section replaced, serial + 1
                                          # (unchanged when v equals what is there)
    line = seal(record, key)              # the hidden line to put in a body (rules.markers)
    reading = unseal(body, key, subject)  # Reading(state, record, problem); never raises
    # state: "valid" (newest valid record), "broken" (record lines, none valid), "absent"

    # The item section (gate facts of a hardening item):
    gate_of(item) -> dict                 # the JSON of an item's gate facts
    with_gate(item, record) -> item       # plain fields of ``item``, gate facts from the record
    recorded(record, subject, item)       # the record with ``item``'s gate facts (serial + 1 if
                                          # they changed; a fresh record when ``record`` is None)
    gate_edits(recorded, typed) -> names  # gate fields a person changed by typing
    plain_edits(before, after) -> names   # plain fields that differ

A section value is plain JSON (dicts with string keys, lists, strings, numbers, booleans, None).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal, cast

from rules import markers
from rules.model import (
    EVIDENCE_KINDS,
    STATUSES,
    Deferral,
    Evidence,
    EvidenceKind,
    HardeningItem,
    Status,
)

FORMAT = 1
ITEM_SECTION = "item"
MAX_RECORD_CHARS = 60_000

# The fields of a hardening item only commands and the App's own writes change, with the
# command that changes each (for the comment that undoes a hand edit).
GATE_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "status": "`/harden verify` (by the verifier owner) or `/harden retire RATIONALE` (by a lead)",
        "evidence": "`/harden evidence URL [kind] [note]`",
        "acknowledged_by": "`/harden ack` (by the execution owner)",
        "verified_by": "`/harden verify` (by the verifier owner)",
        "verified_at": "`/harden verify` (by the verifier owner)",
        "verified_link": "`/harden verify` (by the verifier owner)",
        "retired_rationale": "`/harden retire RATIONALE` (by a lead)",
        "deferral": "`/harden defer YYYY-MM-DD REASON; risk if delayed: RISK` (write access or a lead)",
    }
)
# The fields people with write access (or a lead) may edit by hand; the commands that set them.
PLAIN_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "incident": "",
        "failure_class": "",
        "proposed_control": "",
        "priority": "",
        "owner": "`/harden owner @user`",
        "verifier": "`/harden verifier @user`",
        "due": "`/harden due YYYY-MM-DD`",
        "adoption_check": "",
        "verification_style": "",
        "hypothesis": "",
        "measure": "",
        "guardrail": "",
        "review_date": "",
    }
)


def subject_of(owner: str, repo: str, number: int) -> str:
    """The issue a record belongs to, as ``owner/repo#12`` (GitHub names ignore case)."""
    return f"{owner.lower()}/{repo.lower()}#{int(number)}"


@dataclass(frozen=True)
class Record:
    """One issue's App facts: ``sections`` of plain JSON by name, newest ``serial`` wins.

    ``repository`` is the repository's immutable id (GitHub's ``repository.id``), when the
    writer knew it: a record that carries it stays the issue's record after the repository is
    renamed or transferred, though its ``subject`` still names the old ``owner/repo``."""

    subject: str
    serial: int = 0
    sections: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    repository: int | None = None

    def section(self, name: str) -> Any:
        return self.sections.get(name)

    def with_section(self, name: str, value: Any) -> Record:
        """This record with section ``name`` set to ``value``; the same record when unchanged."""
        if name in self.sections and _canonical(self.sections[name]) == _canonical(value):
            return self
        sections = {**self.sections, name: value}
        return replace(self, serial=self.serial + 1, sections=MappingProxyType(sections))


@dataclass(frozen=True)
class Reading:
    """What a body holds: the newest valid record for the subject, or why there is none."""

    state: Literal["valid", "broken", "absent"]
    record: Record | None = None
    problem: str = ""


def canonical(record: Record) -> bytes:
    """The bytes the signature covers: sorted keys, no spaces, UTF-8."""
    value: dict[str, Any] = {
        "f": FORMAT,
        "s": record.subject,
        "n": record.serial,
        "x": dict(record.sections),
    }
    if record.repository is not None:
        value["r"] = record.repository  # records from before it was kept are signed without
    return _canonical(value).encode()


def bound(record: Record, subject: str, repository: int | None) -> Record:
    """``record`` for ``subject`` in repository ``repository`` (None: unknown, keep what the
    record says): a record read under an older name, or without the repository's id, is
    signed again for the current one at its next write (serial + 1)."""
    wanted = record.repository if repository is None else repository
    if record.subject == subject and record.repository == wanted:
        return record
    return replace(record, subject=subject, repository=wanted, serial=record.serial + 1)


def seal(record: Record, key: bytes) -> str:
    """The record as its hidden line: the format, the MAC and the data, for one body."""
    data = canonical(record)
    mac = hmac.new(key, data, hashlib.sha256).hexdigest()
    return markers.record(FORMAT, mac, base64.urlsafe_b64encode(data).decode())


def unseal(body: str, key: bytes | None, subject: str, repository: int | None = None) -> Reading:
    """The newest valid record in ``body`` for ``subject``. Never raises.

    With ``repository`` (the repository's immutable id), a record of the same issue number that
    carries that id counts too, whatever ``owner/repo`` its subject names: the repository was
    renamed or transferred since it was written. Without a key nothing can be verified, so
    nothing is valid (the caller reports that).
    """
    lines = markers.records_in(body or "")
    if not lines:
        return Reading("absent")
    if key is None:
        return Reading("broken", problem="the App's record key is not configured")
    best: Record | None = None
    problem = ""
    for version, mac, data in lines:
        record, why = _open(version, mac, data, key, subject, repository)
        if record is None:
            problem = problem or why
        elif best is None or record.serial > best.serial:
            best = record
    if best is not None:
        return Reading("valid", best)
    return Reading("broken", problem=problem)


def _open(
    version: int, mac: str, data: str, key: bytes, subject: str, repository: int | None
) -> tuple[Record | None, str]:
    if version != FORMAT or len(data) > MAX_RECORD_CHARS:
        return None, "a record in an unknown format"
    try:
        raw = base64.urlsafe_b64decode(data.encode())
    except (binascii.Error, ValueError):
        return None, "a record that is not base64"
    expected = hmac.new(key, raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac):
        return None, "a record whose signature does not match (edited by hand, or not the App's)"
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None, "a signed record that is not JSON"
    if not isinstance(value, dict):
        return None, "a signed record that is not an object"
    named, held = value.get("s"), value.get("r")
    held = held if isinstance(held, int) and not isinstance(held, bool) else None
    same_repository = (
        repository is not None
        and held == repository
        and isinstance(named, str)
        and named.rpartition("#")[2] == subject.rpartition("#")[2]
    )
    if named != subject and not same_repository:
        return None, "a record of another issue"
    serial, sections = value.get("n"), value.get("x")
    if not isinstance(serial, int) or not isinstance(sections, dict):
        return None, "a signed record without its fields"
    return Record(str(named), serial, MappingProxyType(sections), held), ""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- the item section: a hardening item's gate facts --------------------------------------------


def gate_of(item: HardeningItem) -> dict[str, Any]:
    """The JSON of ``item``'s gate facts."""
    return {
        "status": item.status,
        "evidence": [
            {"url": e.url, "kind": e.kind, "note": e.note, "seconds": e.duration_seconds}
            for e in item.evidence
        ],
        "acknowledged_by": list(item.acknowledged_by),
        "verified_by": item.verified_by,
        "verified_at": item.verified_at.isoformat() if item.verified_at else None,
        "verified_link": item.verified_link,
        "retired_rationale": item.retired_rationale,
        "deferral": _deferral_json(item.deferral),
    }


def with_gate(item: HardeningItem, record: Record | None) -> HardeningItem:
    """``item``'s plain fields with the gate facts of ``record``; none recorded: none at all.

    A missing or unreadable item section gives an open item with no evidence, no
    acknowledgement and no verification: what cannot be proven counts as not done.
    """
    section = record.section(ITEM_SECTION) if record is not None else None
    facts = section if isinstance(section, dict) else {}
    status = facts.get("status")
    return replace(
        item,
        status=cast(Status, status) if status in STATUSES else "open",
        evidence=tuple(_evidence(facts.get("evidence"))),
        acknowledged_by=tuple(
            str(login) for login in facts.get("acknowledged_by") or () if isinstance(login, str)
        ),
        verified_by=_text(facts.get("verified_by")),
        verified_at=_time(facts.get("verified_at")),
        verified_link=_text(facts.get("verified_link")),
        retired_rationale=_text(facts.get("retired_rationale")),
        deferral=_deferral(facts.get("deferral")),
    )


def _deferral_json(deferral: Deferral | None) -> dict[str, Any] | None:
    if deferral is None:
        return None
    return {
        "revisit": deferral.revisit.isoformat(),
        "reason": deferral.reason,
        "risk": deferral.risk,
        "by": deferral.by,
    }


def _deferral(value: Any) -> Deferral | None:
    """A recorded deferral; anything unreadable counts as none (the item is then overdue)."""
    if not isinstance(value, dict):
        return None
    try:
        return Deferral(
            revisit=date.fromisoformat(str(value["revisit"])),
            reason=str(value.get("reason") or ""),
            risk=str(value.get("risk") or ""),
            by=_text(value.get("by")),
        )
    except (KeyError, ValueError):
        return None


def recorded(
    record: Record | None, subject: str, item: HardeningItem, repository: int | None = None
) -> Record:
    """``record`` holding ``item``'s gate facts (a new record for ``subject`` when None), bound
    to ``subject`` and repository ``repository`` (see :func:`bound`)."""
    if record is None:
        base = Record(subject, repository=repository)
    else:
        base = bound(record, subject, repository)
    return base.with_section(ITEM_SECTION, gate_of(item))


def gate_edits(recorded_item: HardeningItem, typed: HardeningItem) -> tuple[str, ...]:
    """The gate fields whose typed value differs from the recorded one."""
    return tuple(
        name for name in GATE_FIELDS if _gate_value(recorded_item, name) != _gate_value(typed, name)
    )


def plain_edits(before: HardeningItem, after: HardeningItem) -> tuple[str, ...]:
    """The plain fields that differ between two readings of a body."""
    return tuple(name for name in PLAIN_FIELDS if getattr(before, name) != getattr(after, name))


def with_plain(item: HardeningItem, source: HardeningItem) -> HardeningItem:
    """``item`` with every plain field taken from ``source``."""
    return replace(item, **{name: getattr(source, name) for name in PLAIN_FIELDS})


def _gate_value(item: HardeningItem, name: str) -> Any:
    value = getattr(item, name)
    if name == "evidence":
        # Compared as the body shows them: a note's spacing is not an edit.
        return tuple(
            (e.url.rstrip("/"), e.kind, " ".join(e.note.split()), e.duration_seconds) for e in value
        )
    if name == "verified_at" and value is not None:
        return value.replace(microsecond=0)
    if isinstance(value, str):
        return " ".join(value.split()) or None
    return value


def _evidence(value: Any) -> list[Evidence]:
    found: list[Evidence] = []
    for entry in value if isinstance(value, list) else ():
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        kind = entry.get("kind")
        seconds = entry.get("seconds")
        found.append(
            Evidence(
                url=entry["url"],
                kind=cast(EvidenceKind, kind) if kind in EVIDENCE_KINDS else None,
                note=str(entry.get("note") or ""),
                duration_seconds=seconds
                if isinstance(seconds, int) and not isinstance(seconds, bool)
                else None,
            )
        )
    return found


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
