"""Which repositories the App serves, as one delivery tells it.

The scheduler keeps a list of repositories to run its jobs for (``bot.schedules``); this reads
the installation events and every other delivery's ``repository`` for additions and removals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RegistrationChange:
    """What one delivery says about the repositories the App serves."""

    add: tuple[tuple[str, int], ...] = ()  # (owner/name, installation id)
    remove: tuple[str, ...] = ()
    remove_installation: int | None = None


def registration_change(event: str, payload: Mapping[str, Any]) -> RegistrationChange:
    """Read a delivery for repositories to register or forget.

    ``installation`` created / unsuspended / new permissions accepted: its ``repositories``;
    deleted or suspended: the whole installation goes. ``installation_repositories``: the
    ``repositories_added`` and ``repositories_removed``. Any other event: its ``repository``.
    """
    installation = payload.get("installation")
    inst = installation.get("id") if isinstance(installation, Mapping) else None
    if not isinstance(inst, int) or isinstance(inst, bool):
        return RegistrationChange()
    action = payload.get("action")
    if event == "installation":
        if action in ("deleted", "suspend"):
            return RegistrationChange(remove_installation=inst)
        if action in ("created", "unsuspend", "new_permissions_accepted"):
            return RegistrationChange(add=_with(inst, _names(payload.get("repositories"))))
        return RegistrationChange()
    if event == "installation_repositories":
        return RegistrationChange(
            add=_with(inst, _names(payload.get("repositories_added"))),
            remove=_names(payload.get("repositories_removed")),
        )
    return RegistrationChange(add=_with(inst, _names([payload.get("repository")])))


def _names(repositories: Any) -> tuple[str, ...]:
    if not isinstance(repositories, list):
        return ()
    return tuple(
        str(r["full_name"])
        for r in repositories
        if isinstance(r, Mapping) and isinstance(r.get("full_name"), str) and "/" in r["full_name"]
    )


def _with(installation_id: int, names: Iterable[str]) -> tuple[tuple[str, int], ...]:
    return tuple((name, installation_id) for name in names)
