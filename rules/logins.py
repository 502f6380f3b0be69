"""GitHub logins and team handles: how they are written, read and compared.

Every place that reads a login a person typed (``/harden owner @alice``, the template's owner
lines, ``leads:`` in the configuration) or compares two logins goes through here, so ``@Alice``
and ``alice`` are the same person everywhere.
"""

from __future__ import annotations

import re

MAX_LOGIN_LENGTH = 39

_LOGIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*")
_TEAM_SLUG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")


def is_login(text: str) -> bool:
    """GitHub login rules: letters, digits and single inner hyphens, at most 39 characters."""
    return len(text) <= MAX_LOGIN_LENGTH and _LOGIN_RE.fullmatch(text) is not None


def parse_user(text: str) -> str | None:
    """``alice`` or ``@alice`` -> ``alice``; None when it is not a valid login."""
    text = text.strip()
    if text.startswith("@"):
        text = text[1:]
    return text if is_login(text) else None


def parse_team(text: str) -> str | None:
    """``@org/team`` or ``org/team`` -> ``org/team``; None when it is not a team handle."""
    text = text.strip()
    if text.startswith("@"):
        text = text[1:]
    org, sep, team = text.partition("/")
    if sep and is_login(org) and _TEAM_SLUG_RE.fullmatch(team):
        return text
    return None


def login_key(login: str | None) -> str:
    """A login as GitHub compares it: without ``@``, case-insensitive."""
    return (login or "").strip().lstrip("@").casefold()


def same_login(a: str | None, b: str | None) -> bool:
    return bool(login_key(a)) and login_key(a) == login_key(b)


def mention(login: str | None) -> str:
    return f"@{(login or '').strip().lstrip('@')}"
