"""One repository as a handler or a job works on it: the repository, the installation's client,
the delivery's context, and through them the repository's configuration and the App's trust.

Most of the shell reads or writes one repository at a time. Passing ``gh, ctx, owner, repo``
separately to every helper made long signatures that differ in order; a ``Scope`` is the one
value those helpers take instead, so a helper's own arguments (an issue number, a check run's
output) stand out. It holds nothing that changes during a delivery: the configuration is read
through ``ctx`` (once per delivery, ``Context.config``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gidgethub.abc import GitHubAPI

from bot.context import Context
from bot.records import Trust, trust_of
from bot.writes import repo_coordinates

if TYPE_CHECKING:
    from rules.config import ConfigResult


@dataclass(frozen=True)
class Scope:
    """``owner/repo``, read and written through ``gh``, for the delivery (or job run) ``ctx``."""

    gh: GitHubAPI
    ctx: Context
    owner: str
    repo: str
    # GitHub's immutable ``repository.id`` when the payload gave it: the App's records are
    # bound to it, so they outlive a rename or transfer of the repository.
    repo_id: int | None = field(default=None, kw_only=True)

    @classmethod
    def of_payload(cls, gh: GitHubAPI, ctx: Context, payload: Mapping[str, Any]) -> Scope:
        """The repository a webhook payload is about; KeyError when it names none."""
        owner, repo = repo_coordinates(payload)
        found = (payload.get("repository") or {}).get("id")
        repo_id = found if isinstance(found, int) and not isinstance(found, bool) else None
        return cls(gh, ctx, owner, repo, repo_id=repo_id)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def trust(self) -> Trust:
        """What reading the repository's items needs: the App's record key and login."""
        return replace(trust_of(self.ctx), repository=self.repo_id)

    async def config(self, ref: str | None = None) -> ConfigResult:
        """The repository's merged, validated configuration at ``ref`` (None: the default
        branch), read once per delivery (``Context.config``)."""
        return await self.ctx.config(self.gh, self.owner, self.repo, ref)
