"""The hardening loop's "Reliability debt ledger": hardening work deferred honestly, with a revisit date.

"Deferred work without revisit dates tends to become permanent risk." So a deferral
(``/harden defer YYYY-MM-DD REASON; risk if delayed: RISK``) needs all three of the ledger's
other columns: why it was deferred, the risk if delayed, and a revisit date in the future. A
deferred item is not overdue before its revisit date; once that date has passed, the weekly
review flags it as debt to revisit. Verifying or retiring an item settles its debt.

The deferral is one line under the item's template, written by the App::

    - Deferred until: 2026-12-20 by @carol: waiting for the new pager vendor; risk if delayed: a second silent outage

Pure: ``today`` is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from rules.horizon import beyond_horizon
from rules.logins import parse_user
from rules.model import Deferral, HardeningItem

MAX_TEXT_LENGTH = 500
DEFER_SYNTAX = "/harden defer YYYY-MM-DD REASON; risk if delayed: RISK"

_RISK_RE = re.compile(r";?\s*risk\s+if\s+delayed\s*:", re.IGNORECASE)
_DATE_RE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}")


@dataclass(frozen=True)
class DeferRequest:
    """What ``/harden defer`` asked for, or the parts it lacks (``missing``, in words)."""

    revisit: date | None
    reason: str
    risk: str
    missing: tuple[str, ...] = ()


def read_defer_arguments(arguments: str) -> DeferRequest:
    """Read ``YYYY-MM-DD REASON; risk if delayed: RISK``; never raises.

    Every missing part is named at once, so one reply tells the whole fix.
    """
    text = " ".join(arguments.split())
    first, _, rest = text.partition(" ")
    revisit: date | None = None
    missing: list[str] = []
    if _DATE_RE.fullmatch(first):
        try:
            revisit = date.fromisoformat(_zero_padded(first))
        except ValueError:
            missing.append(f"a revisit date that is a calendar date (`{first}` is not)")
    else:
        rest = text
        missing.append("a revisit date (YYYY-MM-DD, first)")
    found = _RISK_RE.search(rest)
    reason = (rest[: found.start()] if found else rest).strip(" ;")
    risk = rest[found.end() :].strip(" ;") if found else ""
    if not reason:
        missing.append("why it is deferred")
    if not risk:
        missing.append("the risk if delayed (`; risk if delayed: …`)")
    for what, value in (("the reason", reason), ("the risk if delayed", risk)):
        if len(value) > MAX_TEXT_LENGTH:
            missing.append(f"{what} under {MAX_TEXT_LENGTH} characters (it is {len(value)})")
    return DeferRequest(revisit, reason, risk, tuple(missing))


def deferral_refusal(request: DeferRequest, item: HardeningItem, today: date) -> str | None:
    """Why the deferral cannot be recorded, or None when it can."""
    if request.missing:
        return "a deferral needs " + _and(request.missing)
    assert request.revisit is not None
    if request.revisit <= today:
        return (
            f"the revisit date {request.revisit.isoformat()} is not in the future (today is "
            f"{today.isoformat()}); a deferral without a revisit date ahead is permanent risk"
        )
    too_far = beyond_horizon(request.revisit, today, "revisit date")
    if too_far:
        return too_far + " (a deferral that never comes up again is permanent risk)"
    if item.status in ("verified", "retired"):
        return f"the item is already {item.status}: there is no work left to defer"
    return None


def deferred(item: HardeningItem, request: DeferRequest, by: str) -> HardeningItem:
    """``item`` carrying the deferral (a later ``/harden defer`` replaces an earlier one)."""
    assert request.revisit is not None
    return replace(item, deferral=Deferral(request.revisit, request.reason, request.risk, by=by))


def is_deferred(item: HardeningItem, today: date) -> bool:
    """An unfinished item whose deferral's revisit date has not passed: not overdue."""
    return (
        item.deferral is not None
        and item.status in ("open", "in_progress")
        and today <= item.deferral.revisit
    )


def debt_to_revisit(item: HardeningItem, today: date) -> bool:
    """An unfinished item whose revisit date has passed: the weekly review flags it."""
    return (
        item.deferral is not None
        and item.status in ("open", "in_progress")
        and today > item.deferral.revisit
    )


def in_debt_ledger(item: HardeningItem) -> bool:
    """Deferred and not settled (verified or retired work is no longer debt)."""
    return item.deferral is not None and item.status in ("open", "in_progress")


# --- the template line -------------------------------------------------------------------------


def render_deferral(deferral: Deferral) -> str:
    """The value of the ``Deferred until`` line."""
    by = f" by @{deferral.by}" if deferral.by else ""
    reason, risk = _one_line(deferral.reason), _one_line(deferral.risk)
    return f"{deferral.revisit.isoformat()}{by}: {reason}; risk if delayed: {risk}"


def read_deferral(value: str) -> tuple[Deferral | None, str | None]:
    """The ``Deferred until`` line's value back as a Deferral, or a problem a person can fix."""
    value = value.strip()
    if not value:
        return None, None
    match = re.match(r"(\d{4}-\d{1,2}-\d{1,2})(?:\s+by\s+@?(\S+?))?\s*:\s*(.*)\Z", value, re.S)
    if match is None:
        return None, f"'{value[:80]}' is not 'YYYY-MM-DD by @login: reason; risk if delayed: …'"
    try:
        revisit = date.fromisoformat(_zero_padded(match.group(1)))
    except ValueError:
        return None, f"'{match.group(1)}' is not a calendar date"
    by = parse_user(match.group(2)) if match.group(2) else None
    rest = match.group(3)
    found = _RISK_RE.search(rest)
    reason = (rest[: found.start()] if found else rest).strip(" ;")
    risk = rest[found.end() :].strip(" ;") if found else ""
    return Deferral(revisit, reason, risk, by=by), None


def _zero_padded(text: str) -> str:
    year, month, day = text.split("-")
    return f"{year}-{int(month):02d}-{int(day):02d}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _and(parts: tuple[str, ...]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
