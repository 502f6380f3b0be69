"""The sandbox's state and GitHub's rules for changing it.

The HTTP routes and the seeding helpers both go through these operations, so a change looks
the same whichever side made it.
"""

from __future__ import annotations

from .base import DEFAULT_APP_EVENTS, DEFAULT_APP_PERMISSIONS, blob_sha, key_of, node_id
from .checks import CheckRuns
from .issues import IssueTracker, label_names, label_names_from_body


class World(IssueTracker, CheckRuns):
    """All sandbox state plus GitHub's rules for changing it."""


__all__ = [
    "DEFAULT_APP_EVENTS",
    "DEFAULT_APP_PERMISSIONS",
    "World",
    "blob_sha",
    "key_of",
    "label_names",
    "label_names_from_body",
    "node_id",
]
