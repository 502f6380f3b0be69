"""The App's record on GitHub: its key, reading it from an issue body, and its last known copy.

The record's shape, signature and merge rules are pure (``rules.record``); this module supplies
what they need from the outside:

- the key: HMAC-SHA256 of a fixed label under the App's webhook secret, so only a process that
  holds the secret can sign or verify a record, and no key is ever written anywhere. Without a
  secret (``replay`` and ``run-job`` may run without one) no record verifies, and gates read
  every item as not done: fail closed;
- the App's last known copy: every record the App read or wrote, by issue, for this process's
  lifetime (bounded). When a person removes or breaks the record in a body, the copy (or the
  previous body GitHub sends with ``issues.edited``) is what the App writes back. Of several
  valid records, the one with the highest serial wins, so pasting an older record back in
  changes nothing.

Usage::

    trust = trust_of(ctx)                      # key + the App's login, for bot.item_issues
    reading = read(issue, trust.key)                # rules.record.Reading, newest of body and copy
    body = sealed(body, record, key)           # body with its one record line, at the end
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cachetools import LRUCache

from bot.settings import Settings
from bot.writes import issue_coordinates
from rules import markers
from rules.record import Reading, Record, seal, subject_of, unseal

if TYPE_CHECKING:
    from bot.context import Context

_LABEL = b"hardening-bot record key v1"
_LAST: LRUCache[str, Record] = LRUCache(maxsize=20_000)


def record_key(settings: Settings) -> bytes | None:
    """The key records are signed with, derived from the webhook secret; None without one."""
    return key_from_secret(settings.webhook_secret)


def key_from_secret(secret: str | None) -> bytes | None:
    if not secret:
        return None
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class Trust:
    """What reading an item needs besides the issue: the record key and the App's login (an
    issue the App opened is an item before it has a record; one a person opened is not)."""

    key: bytes | None
    bot_login: str


def trust_of(ctx: Context) -> Trust:
    return Trust(record_key(ctx.settings), ctx.bot_login)


def subject(issue: dict[str, Any]) -> str:
    """The record subject of an issue object (API answer or webhook payload)."""
    owner, repo, number = issue_coordinates(issue)
    return subject_of(owner, repo, number)


def read(issue: dict[str, Any], key: bytes | None, *, body: str | None = None) -> Reading:
    """The issue's record: the newest valid one of its body (or ``body``) and the last known
    copy. A body whose record lines all fail reads as ``broken`` unless a copy is known."""
    name = subject(issue)
    text = issue.get("body") if body is None else body
    reading = unseal(str(text or ""), key, name)
    known = _LAST.get(name)
    if known is not None and (reading.record is None or known.serial > reading.record.serial):
        return Reading("valid", known, reading.problem or "restored from the App's last copy")
    if reading.record is not None:
        remember(reading.record)
    return reading


def remember(record: Record) -> None:
    """Keep ``record`` as the App's last known copy of its issue's record (newest wins)."""
    known = _LAST.get(record.subject)
    if known is None or record.serial >= known.serial:
        _LAST[record.subject] = record


def last_copy(name: str) -> Record | None:
    """The App's last known copy of the record of subject ``name``, if any."""
    return _LAST.get(name)


def forget_all() -> None:
    """Drop every last known copy (tests: a restarted process knows nothing)."""
    _LAST.clear()


def sealed(body: str, record: Record, key: bytes) -> str:
    """``body`` with its record lines replaced by ``record``'s one line, at the end."""
    newline = "\r\n" if "\r\n" in body else "\n"
    text = markers.without_records(body).rstrip()
    line = seal(record, key)
    return f"{text}{newline}{newline}{line}{newline}" if text else f"{line}{newline}"
