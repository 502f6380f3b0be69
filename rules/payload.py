"""The repository a webhook payload is about, read the one way every module reads it.

Payloads come from GitHub, from the delivery log, or from a file an operator replays, so nothing
in them is assumed: a missing or oddly typed ``repository`` gives None, never an exception.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def repository_full_name(payload: Mapping[str, Any]) -> str | None:
    """``owner/name`` as GitHub spells it (``repository.full_name``); None when absent."""
    repository = payload.get("repository")
    if isinstance(repository, Mapping) and isinstance(repository.get("full_name"), str):
        return str(repository["full_name"])
    return None


def repository_owner_and_name(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(owner login, name)`` from ``repository.owner.login`` and ``repository.name``."""
    repository = payload.get("repository")
    if not isinstance(repository, Mapping):
        return None
    owner = repository.get("owner")
    login = owner.get("login") if isinstance(owner, Mapping) else None
    name = repository.get("name")
    if isinstance(login, str) and isinstance(name, str) and login and name:
        return login, name
    return None
