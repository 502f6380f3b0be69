"""The App's record on GitHub: its keys, reading it from an issue body, and its last known copy.

The record's shape, signature and merge rules are pure (``rules.record``); this module supplies
what they need from the outside:

- the key: HMAC-SHA256 of a fixed label under the App's webhook secret, so only a process that
  holds the secret can sign or verify a record, and no key is ever written anywhere. Without a
  secret (``replay`` and ``run-job`` may run without one) no record verifies, and gates read
  every item as not done: fail closed;
- the previous key, while the webhook secret is being rotated (``GITHUB_WEBHOOK_SECRET_PREVIOUS``,
  docs/deployment.md "Rotating the webhook secret"): records it signed still verify, and each is
  signed again with the current key when the App next writes it (its last known copy at once);
- the App's last known copy of every record (``bot.copies``): in the database every process
  shares, so a restart or another replica holds it too. When a person removes or breaks the
  record in a body, the copy (or the previous body GitHub sends with ``issues.edited``) is what
  the App writes back. Of several valid records, the one with the highest serial wins, so
  pasting an older record back in changes nothing.

Usage::

    trust = trust_of(ctx)                      # keys, the App's login, the copies
    reading = await read(issue, trust)         # rules.record.Reading, newest of body and copy
    body = sealed(body, record, trust.key)     # body with its one record line, at the end
    await remember(trust, record)              # the App's last known copy is ``record`` now
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.copies import Copies
from bot.settings import Settings
from bot.writes import issue_coordinates
from rules import markers
from rules.record import Reading, Record, seal, subject_of, unseal

if TYPE_CHECKING:
    from bot.context import Context
    from bot.inbox.api import RecordCopies

log = logging.getLogger("bot.records")

_LABEL = b"hardening-bot record key v1"
ROTATION_HINT = (
    "if GITHUB_WEBHOOK_SECRET was changed, set GITHUB_WEBHOOK_SECRET_PREVIOUS to the old secret "
    "until every record is signed again (docs/deployment.md, 'Rotating the webhook secret')"
)


def record_key(settings: Settings) -> bytes | None:
    """The key records are signed with, derived from the webhook secret; None without one."""
    return key_from_secret(settings.webhook_secret)


def previous_keys(settings: Settings) -> tuple[bytes, ...]:
    """Keys of the previous webhook secret, while it is being rotated: read, never signed with."""
    key = key_from_secret(settings.previous_webhook_secret)
    return () if key is None or key == record_key(settings) else (key,)


def key_from_secret(secret: str | None) -> bytes | None:
    if not secret:
        return None
    return hmac.new(secret.encode(), _LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class Trust:
    """What reading an item needs besides the issue: the record key, the App's login (an issue
    the App opened is an item before it has a record; one a person opened is not), the App's
    last known copies, and the keys of a secret being rotated out."""

    key: bytes | None
    bot_login: str
    copies: Copies = field(default_factory=Copies, compare=False)
    previous: tuple[bytes, ...] = field(default=(), repr=False)
    # The repository's immutable id, when known: records carrying it survive a rename.
    repository: int | None = None


def trust_of(ctx: Context) -> Trust:
    return Trust(record_key(ctx.settings), ctx.bot_login, ctx.records, previous_keys(ctx.settings))


def subject(issue: dict[str, Any]) -> str:
    """The record subject of an issue object (API answer or webhook payload)."""
    owner, repo, number = issue_coordinates(issue)
    return subject_of(owner, repo, number)


def unseal_with(text: str, trust: Trust, name: str) -> tuple[Reading, bool]:
    """The newest valid record of ``name`` in ``text``, and whether the current key signed it
    (False: a previous key did, and it is to be signed again)."""
    reading = unseal(text, trust.key, name, trust.repository)
    if reading.record is not None or reading.state != "broken" or trust.key is None:
        return reading, True
    for key in trust.previous:
        older = unseal(text, key, name, trust.repository)
        if older.record is not None:
            return older, False
    return reading, True


async def read(issue: dict[str, Any], trust: Trust, *, body: str | None = None) -> Reading:
    """The issue's record: the newest valid one of its body (or ``body``) and the last known
    copy. A body whose record lines all fail reads as ``broken`` unless a copy is known."""
    return (await read_all([issue], trust, bodies=None if body is None else [body]))[0]


async def read_all(
    issues: Sequence[dict[str, Any]], trust: Trust, *, bodies: Sequence[str] | None = None
) -> list[Reading]:
    """:func:`read` for several issues, their copies fetched at once."""
    names = [subject(issue) for issue in issues]
    held = await trust.copies.lines(names)
    readings = []
    for index, (issue, name) in enumerate(zip(issues, names, strict=True)):
        text = str((issue.get("body") if bodies is None else bodies[index]) or "")
        reading, current = unseal_with(text, trust, name)
        known, known_current = unseal_with(held.get(name, ""), trust, name)
        copy = known.record
        if copy is not None and (reading.record is None or copy.serial > reading.record.serial):
            if not known_current:
                await remember(trust, copy)  # signed again with the current key
            readings.append(
                Reading("valid", copy, reading.problem or "restored from the App's last copy")
            )
            continue
        if reading.record is not None and (
            copy is None or reading.record.serial > copy.serial or not current
        ):
            await remember(trust, reading.record)
        elif reading.state == "broken" and trust.key is not None:
            log.warning(
                "the record of %s does not verify (%s): edited by hand, or %s",
                name,
                reading.problem,
                ROTATION_HINT,
            )
        readings.append(reading)
    return readings


async def remember(trust: Trust, record: Record) -> None:
    """Keep ``record`` as the App's last known copy of its issue's record (newest wins)."""
    if trust.key is not None:
        await trust.copies.keep(record, trust.key)


async def last_copy(trust: Trust, name: str) -> Record | None:
    """The App's last known copy of the record of subject ``name``, if any."""
    held = await trust.copies.lines([name])
    return unseal_with(held.get(name, ""), trust, name)[0].record


KeyCheck = Literal["current", "previous", "mismatch", "none"]


async def check_key(store: RecordCopies, settings: Settings) -> KeyCheck:
    """Which key signed the copy the App wrote last: ``current``; ``previous`` (a rotation in
    progress); ``mismatch`` (no key the App holds: the webhook secret changed without
    ``GITHUB_WEBHOOK_SECRET_PREVIOUS``, so every record reads as not the App's until signed
    again, and the gates fail closed); ``none`` (no copy yet)."""
    newest = await store.newest()
    if newest is None:
        return "none"
    name, line = newest
    trust = Trust(record_key(settings), "", previous=previous_keys(settings))
    reading, current = unseal_with(line, trust, name)
    if reading.record is None:
        log.error(
            "the App's records were signed with another webhook secret: every item reads as "
            "not verified and not retired until it is signed again; %s",
            ROTATION_HINT,
        )
        return "mismatch"
    if not current:
        log.warning(
            "records signed with GITHUB_WEBHOOK_SECRET_PREVIOUS are still held: keep it set "
            "until the weekly review has read every repository's items"
        )
        return "previous"
    return "current"


def sealed(body: str, record: Record, key: bytes) -> str:
    """``body`` with its record lines replaced by ``record``'s one line, at the end."""
    newline = "\r\n" if "\r\n" in body else "\n"
    text = markers.without_records(body).rstrip()
    line = seal(record, key)
    return f"{text}{newline}{newline}{line}{newline}" if text else f"{line}{newline}"
