"""Webhook payloads, GitHub-shaped, built from the sandbox's current state.

Two users: tests build deliveries with the ``Sandbox.*_event`` helpers (a person opened an
issue, clicked "Re-run"), and the :class:`Emitter` announces the changes the bot itself makes, as
GitHub does, to an optional ``webhook_sink``. Every payload carries ``installation``
(``{id, node_id}``), ``repository``, ``sender`` and, for organisation repositories,
``organization``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .model import Comment, Happening, Repo, User
from .render import Renderer

if TYPE_CHECKING:
    from .sandbox import Sandbox

log = logging.getLogger(__name__)

WebhookSink = Callable[..., Awaitable[Any]]


class PayloadBuilder:
    """Builds one event's payload; URLs use the sandbox's ``api_url``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @property
    def render(self) -> Renderer:
        return Renderer(self.sandbox.world, self.sandbox.api_url, self.sandbox.web_url)

    def _common(self, repo: Repo, sender: User) -> dict[str, Any]:
        r = self.render
        world = self.sandbox.world
        out: dict[str, Any] = {
            "repository": r.webhook_repo(repo),
            "sender": r.user(sender),
            "installation": r.installation_ref(world.installation_of(repo)),
        }
        if repo.owner.type == "Organization":
            out["organization"] = r.organization(repo.owner)
        return out

    def _label(self, repo: Repo, name: str) -> dict[str, Any]:
        return self.render.label(repo, self.sandbox.world.ensure_label(repo, name))

    def issues(
        self,
        repo: Repo,
        number: int,
        action: str,
        sender: User,
        *,
        label: str | None = None,
        changes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        issue = self.sandbox.world.issue(repo, number)
        out: dict[str, Any] = {"action": action, "issue": self.render.issue(issue)}
        if label is not None:
            out["label"] = self._label(repo, label)
        if action == "edited":
            out["changes"] = changes or {}
        elif changes is not None:
            out["changes"] = changes
        out.update(self._common(repo, sender))
        return out

    def issue_comment(
        self,
        repo: Repo,
        number: int,
        comment: Comment,
        action: str,
        sender: User,
        *,
        changes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        issue = self.sandbox.world.issue(repo, number)
        out: dict[str, Any] = {
            "action": action,
            "issue": self.render.issue(issue),
            "comment": self._comment(comment),
        }
        if action == "edited":
            out["changes"] = changes or {}
        out.update(self._common(repo, sender))
        return out

    def _comment(self, comment: Comment) -> dict[str, Any]:
        # A deleted comment is no longer in the world; render it from the snapshot we kept.
        world = self.sandbox.world
        if comment.id in world.comments:
            return self.render.comment(comment)
        world.comments[comment.id] = comment
        try:
            return self.render.comment(comment)
        finally:
            del world.comments[comment.id]

    def pull_request(
        self,
        repo: Repo,
        number: int,
        action: str,
        sender: User,
        *,
        label: str | None = None,
        changes: dict[str, Any] | None = None,
        before: str | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        issue = self.sandbox.world.pull(repo, number)
        out: dict[str, Any] = {
            "action": action,
            "number": number,
            "pull_request": self.render.pull(issue),
        }
        if label is not None:
            out["label"] = self._label(repo, label)
        if action == "edited":
            out["changes"] = changes or {}
        if action == "synchronize":
            assert issue.pull is not None
            previous = issue.pull.previous_head_shas
            out["before"] = before or (previous[-1] if previous else issue.pull.base_sha)
            out["after"] = after or issue.pull.head_sha
        out.update(self._common(repo, sender))
        return out

    def check_run(
        self,
        repo: Repo,
        check_run_id: int,
        action: str,
        sender: User,
        *,
        requested_action: str | None = None,
        pull_requests: bool = True,
    ) -> dict[str, Any]:
        world = self.sandbox.world
        run = world.check_run(repo, check_run_id)
        body = self.render.check_run(run, pull_requests=pull_requests)
        body["check_suite"] = self.render.check_suite(run.suite)
        if not pull_requests:
            body["check_suite"]["pull_requests"] = []
        out: dict[str, Any] = {"action": action, "check_run": body}
        if action == "requested_action":
            out["requested_action"] = {"identifier": requested_action or ""}
        out.update(self._common(repo, sender))
        return out

    def check_suite(self, repo: Repo, head_sha: str, action: str, sender: User) -> dict[str, Any]:
        suite = self.sandbox.world.check_suite(repo, head_sha)
        out: dict[str, Any] = {"action": action, "check_suite": self.render.check_suite(suite)}
        out.update(self._common(repo, sender))
        return out

    def for_happening(self, h: Happening) -> dict[str, Any]:
        world = self.sandbox.world
        repo = world.repo(h.repo)
        sender = world.user(h.actor)
        if h.event == "issues":
            assert h.number is not None
            return self.issues(repo, h.number, h.action, sender, label=h.label, changes=h.changes)
        if h.event == "pull_request":
            assert h.number is not None
            changes = h.changes if h.action == "edited" else None
            before = (h.changes or {}).get("before") if h.action == "synchronize" else None
            after = (h.changes or {}).get("after") if h.action == "synchronize" else None
            return self.pull_request(
                repo,
                h.number,
                h.action,
                sender,
                label=h.label,
                changes=changes,
                before=before,
                after=after,
            )
        if h.event == "issue_comment":
            assert h.number is not None and h.comment_id is not None
            comment = h.deleted_comment or world.comment(repo, h.comment_id)
            return self.issue_comment(repo, h.number, comment, h.action, sender, changes=h.changes)
        if h.event == "check_run":
            assert h.check_run_id is not None
            return self.check_run(repo, h.check_run_id, h.action, sender)
        raise ValueError(f"no payload builder for {h.event}")


class Emitter:
    """Announces the bot's own writes the way GitHub does: a delivery after the response."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.builder = PayloadBuilder(sandbox)
        self.emitted: list[tuple[str, dict[str, Any]]] = []
        self.errors: list[BaseException] = []
        self._pending: set[asyncio.Task[None]] = set()

    def announce(self, happenings: list[Happening]) -> None:
        """Build payloads now (state as of this write) and queue their delivery."""
        for h in happenings:
            payload = self.builder.for_happening(h)
            self.emitted.append((h.event, payload))
            if self.sandbox.webhook_sink is not None:
                self.schedule(h.event, payload, guid=str(uuid.uuid4()))

    def schedule(
        self, event: str, payload: dict[str, Any], *, guid: str, redelivery: bool = False
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._deliver(event, payload, guid, redelivery)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(
        self, event: str, payload: dict[str, Any], guid: str, redelivery: bool
    ) -> None:
        sink = self.sandbox.webhook_sink
        if sink is None:
            return
        status = 200
        try:
            if _accepts_delivery_id(sink):
                result = await sink(event, payload, delivery_id=guid)
            else:
                result = await sink(event, payload)
            if isinstance(result, int) and not isinstance(result, bool):
                status = result
        except Exception as exc:  # a sink failure is a failed delivery, as on GitHub
            log.exception("webhook sink failed for %s", event)
            self.errors.append(exc)
            status = 502
        self.sandbox.world.record_delivery(
            event, payload, guid=guid, status_code=status, redelivery=redelivery
        )

    async def settle(self) -> None:
        """Wait until every queued delivery (including ones they cause) has been made."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)


def _accepts_delivery_id(sink: WebhookSink) -> bool:
    try:
        params = inspect.signature(sink).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "delivery_id" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
