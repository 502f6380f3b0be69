"""Issues, pull requests, labels, comments and reactions: GitHub's rules for changing them.

Each operation updates state, keeps the issue's timeline (labeled, closed, reopened, renamed,
cross-referenced...) and returns the :class:`~sandbox.model.Happening` list GitHub would
announce by webhook. Validation failures raise GitHubError with GitHub's wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import (
    GitHubError,
    invalid_field,
    invalid_request,
    missing_field,
    not_found,
    validation_failed,
)
from ..model import (
    REACTIONS,
    Comment,
    Happening,
    Issue,
    Label,
    PullData,
    Reaction,
    Repo,
    TimelineEvent,
    User,
)
from .base import WorldBase, key_of, node_id

STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")
_HEX_COLOR = re.compile(r"^[0-9a-fA-F]{6}$")
_ISSUE_REF = re.compile(r"(?<![\w/])(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<number>\d+)\b")


class IssueTracker(WorldBase):
    """Issues and pull requests of every repository."""

    # --- issues -------------------------------------------------------------------------------

    def issue(self, repo: Repo, number: int) -> Issue:
        found = repo.issues.get(number)
        if found is None:
            raise not_found()
        return found

    def pull(self, repo: Repo, number: int) -> Issue:
        issue = self.issue(repo, number)
        if issue.pull is None:
            raise not_found()
        return issue

    def ensure_label(self, repo: Repo, name: str) -> Label:
        name = name.strip()
        if not name:
            raise invalid_field("Label", "name")
        found = repo.labels.get(key_of(name))
        if found is None:
            found = self.create_label(repo, name)
        return found

    def create_label(
        self,
        repo: Repo,
        name: str | None,
        color: str | None = None,
        description: str | None = None,
    ) -> Label:
        if not isinstance(name, str) or not name.strip():
            raise missing_field("Label", "name")
        color = (color or "ededed").removeprefix("#")
        if not _HEX_COLOR.match(color):
            raise invalid_field("Label", "color")
        if key_of(name) in repo.labels:
            raise validation_failed(
                {"resource": "Label", "code": "already_exists", "field": "name"}
            )
        lid = self.next_id("label")
        label = Label(
            id=lid,
            node_id=node_id("Label", lid),
            name=name.strip(),
            color=color.lower(),
            description=description,
        )
        repo.labels[key_of(name)] = label
        return label

    def _event(self, issue: Issue, event: str, actor: User, via_app: bool, **detail: Any) -> None:
        eid = self.next_id("event")
        prefix = {"labeled": "LabeledEvent", "unlabeled": "UnlabeledEvent"}.get(event, "Event")
        issue.timeline.append(
            TimelineEvent(
                id=eid,
                node_id=node_id(prefix, eid),
                event=event,
                actor=actor,
                created_at=self.now(),
                via_app=via_app,
                detail=detail,
            )
        )

    def _kind(self, issue: Issue) -> str:
        return "pull_request" if issue.is_pull else "issues"

    def _cross_reference(self, repo: Repo, source: Issue, text: str | None, actor: User) -> None:
        """Mentions of ``#N`` add a cross-referenced event to issue N, once per source."""
        if not text:
            return
        for match in _ISSUE_REF.finditer(text):
            target_repo = self.find_repo(match["repo"]) if match["repo"] else repo
            if target_repo is None:
                continue
            if len(match["number"]) > 18:  # no issue has it (and int() refuses 4,300+ digits)
                continue
            target = target_repo.issues.get(int(match["number"]))
            if target is None or (target_repo is repo and target.number == source.number):
                continue
            already = any(
                ev.event == "cross-referenced"
                and ev.detail.get("source") == (repo.full_name, source.number)
                for ev in target.timeline
            )
            if not already:
                self._event(
                    target, "cross-referenced", actor, False, source=(repo.full_name, source.number)
                )

    def create_issue(
        self,
        repo: Repo,
        *,
        title: Any,
        body: str | None,
        user: User,
        labels: Sequence[str] = (),
        assignees: Sequence[str] = (),
        via_app: bool = False,
        pull: PullData | None = None,
    ) -> tuple[Issue, list[Happening]]:
        if title is None or (isinstance(title, str) and not title.strip()):
            raise missing_field("Issue", "title")
        if isinstance(title, int):
            title = str(title)
        if not isinstance(title, str):
            raise invalid_field("Issue", "title")
        now = self.now()
        number = max(repo.issues, default=0) + 1
        iid = self.next_id("issue")
        issue = Issue(
            number=number,
            id=iid,
            node_id=node_id("Issue", iid),
            repo=repo.full_name,
            title=title,
            body=body,
            user=user,
            created_at=now,
            updated_at=now,
            via_app=via_app,
            pull=pull,
            assignees=[self.user(a) for a in assignees],
        )
        repo.issues[number] = issue
        kind = self._kind(issue)
        happenings = [Happening(kind, "opened", repo.full_name, user.login, number=number)]
        for name in labels:
            label = self.ensure_label(repo, name)
            if label not in issue.labels:
                issue.labels.append(label)
                self._event(issue, "labeled", user, via_app, label=label.name, color=label.color)
                happenings.append(
                    Happening(kind, "labeled", repo.full_name, user.login, number, label.name)
                )
        self._cross_reference(repo, issue, body, user)
        return issue, happenings

    def update_issue(
        self,
        repo: Repo,
        number: int,
        fields: Mapping[str, Any],
        *,
        actor: User,
        via_app: bool = False,
    ) -> tuple[Issue, list[Happening]]:
        issue = self.issue(repo, number)
        kind = self._kind(issue)
        out: list[Happening] = []
        changes: dict[str, Any] = {}
        if "title" in fields:
            title = fields["title"]
            if title is None or not str(title).strip():
                raise missing_field("Issue", "title")
            if str(title) != issue.title:
                changes["title"] = {"from": issue.title}
                self._event(
                    issue, "renamed", actor, via_app, rename_from=issue.title, rename_to=str(title)
                )
                issue.title = str(title)
        if "body" in fields:
            body = fields["body"]
            if body is not None and not isinstance(body, str):
                raise invalid_field("Issue", "body")
            if body != issue.body:
                changes["body"] = {"from": issue.body or ""}
                issue.body = body
                self._cross_reference(repo, issue, body, actor)
        if changes:
            out.append(
                Happening(kind, "edited", repo.full_name, actor.login, number, changes=changes)
            )
        if "labels" in fields and fields["labels"] is not None:
            out += self._set_labels(repo, issue, label_names(fields["labels"]), actor, via_app)
        if "assignees" in fields and fields["assignees"] is not None:
            wanted = [self.user(a) for a in fields["assignees"] if isinstance(a, str)]
            issue.assignees = wanted
        elif "assignee" in fields:
            issue.assignees = [self.user(fields["assignee"])] if fields["assignee"] else []
        out += self._apply_state(repo, issue, fields, actor, via_app)
        if out or "assignees" in fields or "assignee" in fields:
            issue.updated_at = self.now()
        return issue, out

    def _apply_state(
        self, repo: Repo, issue: Issue, fields: Mapping[str, Any], actor: User, via_app: bool
    ) -> list[Happening]:
        state = fields.get("state")
        reason = fields.get("state_reason")
        if state is not None and state not in ("open", "closed"):
            raise invalid_field("Issue", "state")
        if reason is not None and reason not in STATE_REASONS:
            raise invalid_field("Issue", "state_reason")
        kind = self._kind(issue)
        if state == "closed" and issue.state == "open":
            issue.state = "closed"
            issue.state_reason = (
                reason if reason in ("completed", "not_planned", "duplicate") else "completed"
            )
            issue.closed_at = self.now()
            issue.closed_by = actor
            self._event(issue, "closed", actor, via_app, state_reason=issue.state_reason)
            return [Happening(kind, "closed", repo.full_name, actor.login, issue.number)]
        if state == "open" and issue.state == "closed":
            if issue.pull is not None and issue.pull.merged:
                raise validation_failed(
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "field": "state",
                        "message": "state cannot be changed. The pull request has been merged.",
                    }
                )
            issue.state = "open"
            issue.state_reason = "reopened"
            issue.closed_at = None
            issue.closed_by = None
            self._event(issue, "reopened", actor, via_app, state_reason="reopened")
            return [Happening(kind, "reopened", repo.full_name, actor.login, issue.number)]
        if reason is not None and issue.state == "closed" and reason != "reopened":
            issue.state_reason = reason
        return []

    def _set_labels(
        self, repo: Repo, issue: Issue, names: Sequence[str], actor: User, via_app: bool
    ) -> list[Happening]:
        wanted = []
        for name in names:
            label = self.ensure_label(repo, name)
            if label not in wanted:
                wanted.append(label)
        out: list[Happening] = []
        kind = self._kind(issue)
        for label in list(issue.labels):
            if label not in wanted:
                issue.labels.remove(label)
                self._event(issue, "unlabeled", actor, via_app, label=label.name, color=label.color)
                out.append(
                    Happening(
                        kind, "unlabeled", repo.full_name, actor.login, issue.number, label.name
                    )
                )
        for label in wanted:
            if label not in issue.labels:
                issue.labels.append(label)
                self._event(issue, "labeled", actor, via_app, label=label.name, color=label.color)
                out.append(
                    Happening(
                        kind, "labeled", repo.full_name, actor.login, issue.number, label.name
                    )
                )
        return out

    def add_labels(
        self, repo: Repo, number: int, names: Sequence[str], *, actor: User, via_app: bool = False
    ) -> list[Happening]:
        issue = self.issue(repo, number)
        current = [label.name for label in issue.labels]
        happenings = self._set_labels(repo, issue, [*current, *names], actor, via_app)
        if happenings:
            issue.updated_at = self.now()
        return happenings

    def remove_label(
        self, repo: Repo, number: int, name: str, *, actor: User, via_app: bool = False
    ) -> list[Happening]:
        issue = self.issue(repo, number)
        remaining = [label.name for label in issue.labels if key_of(label.name) != key_of(name)]
        if len(remaining) == len(issue.labels):
            raise GitHubError(404, "Label does not exist")
        happenings = self._set_labels(repo, issue, remaining, actor, via_app)
        issue.updated_at = self.now()
        return happenings

    # --- comments and reactions ---------------------------------------------------------------

    def add_comment(
        self, repo: Repo, number: int, body: Any, *, user: User, via_app: bool = False
    ) -> tuple[Comment, list[Happening]]:
        issue = self.issue(repo, number)
        if not isinstance(body, str) or not body:
            raise missing_field("IssueComment", "body")
        now = self.now()
        cid = self.next_id("comment")
        comment = Comment(
            id=cid,
            node_id=node_id("IssueComment", cid),
            repo=repo.full_name,
            issue_number=number,
            user=user,
            body=body,
            created_at=now,
            updated_at=now,
            via_app=via_app,
        )
        self.comments[cid] = comment
        issue.comment_ids.append(cid)
        issue.updated_at = now
        self._cross_reference(repo, issue, body, user)
        return comment, [
            Happening(
                "issue_comment", "created", repo.full_name, user.login, number, comment_id=cid
            )
        ]

    def comment(self, repo: Repo, comment_id: int) -> Comment:
        found = self.comments.get(comment_id)
        if found is None or key_of(found.repo) != key_of(repo.full_name):
            raise not_found()
        return found

    def edit_comment(
        self, repo: Repo, comment_id: int, body: Any, *, actor: User
    ) -> tuple[Comment, list[Happening]]:
        comment = self.comment(repo, comment_id)
        if not isinstance(body, str) or not body:
            raise missing_field("IssueComment", "body")
        if body == comment.body:
            return comment, []
        old = comment.body
        comment.body = body
        comment.updated_at = self.now()
        return comment, [
            Happening(
                "issue_comment",
                "edited",
                repo.full_name,
                actor.login,
                comment.issue_number,
                changes={"body": {"from": old}},
                comment_id=comment_id,
            )
        ]

    def delete_comment(self, repo: Repo, comment_id: int, *, actor: User) -> list[Happening]:
        comment = self.comment(repo, comment_id)
        del self.comments[comment_id]
        issue = repo.issues[comment.issue_number]
        issue.comment_ids.remove(comment_id)
        return [
            Happening(
                "issue_comment",
                "deleted",
                repo.full_name,
                actor.login,
                comment.issue_number,
                comment_id=comment_id,
                deleted_comment=comment,
            )
        ]

    def react(self, comment: Comment, user: User, content: Any) -> tuple[Reaction, bool]:
        """Add ``content`` by ``user``; returns the reaction and whether it is new."""
        if content not in REACTIONS:
            raise invalid_field("Reaction", "content")
        for reaction in comment.reactions:
            if reaction.user.id == user.id and reaction.content == content:
                return reaction, False
        rid = self.next_id("reaction")
        reaction = Reaction(
            id=rid,
            node_id=node_id("Reaction", rid),
            user=user,
            content=content,
            created_at=self.now(),
        )
        comment.reactions.append(reaction)
        return reaction, True

    # --- pull requests ------------------------------------------------------------------------

    def open_pull(
        self,
        repo: Repo,
        *,
        title: str,
        body: str | None,
        user: User,
        head_sha: str | None,
        base: str,
        head: str,
        labels: Sequence[str],
        files: Sequence[Mapping[str, Any]],
        draft: bool,
    ) -> tuple[Issue, list[Happening]]:
        base_sha = repo.branches.get(base) or self.add_commit(repo, branch=base)
        head_sha = head_sha or self.new_sha(head)
        repo.known_shas.add(head_sha)
        pid = self.next_id("pull")
        pull = PullData(
            head_ref=head,
            head_sha=head_sha,
            base_ref=base,
            base_sha=base_sha,
            files=[_diff_entry(f) for f in files],
            id=pid,
            node_id=node_id("PullRequest", pid),
            draft=draft,
        )
        return self.create_issue(repo, title=title, body=body, user=user, labels=labels, pull=pull)

    def push_pull(
        self,
        repo: Repo,
        number: int,
        *,
        head_sha: str | None,
        files: Sequence[Mapping[str, Any]] | None,
        actor: User,
    ) -> list[Happening]:
        issue = self.pull(repo, number)
        assert issue.pull is not None
        before = issue.pull.head_sha
        after = head_sha or self.new_sha(issue.pull.head_ref)
        repo.known_shas.add(after)
        issue.pull.previous_head_shas.append(before)
        issue.pull.head_sha = after
        issue.pull.commits += 1
        if files is not None:
            issue.pull.files = [_diff_entry(f) for f in files]
        issue.updated_at = self.now()
        return [
            Happening(
                "pull_request",
                "synchronize",
                repo.full_name,
                actor.login,
                number,
                changes={"before": before, "after": after},
            )
        ]

    def merge_pull(self, repo: Repo, number: int, *, actor: User) -> list[Happening]:
        issue = self.pull(repo, number)
        assert issue.pull is not None
        if issue.pull.merged or issue.state == "closed":
            raise GitHubError(405, "Pull Request is not mergeable")
        now = self.now()
        sha = self.add_commit(repo, branch=issue.pull.base_ref)
        issue.pull.merged = True
        issue.pull.merged_at = now
        issue.pull.merged_by = actor
        issue.pull.merge_commit_sha = sha
        issue.state = "closed"
        issue.closed_at = now
        issue.closed_by = actor
        issue.updated_at = now
        self._event(issue, "merged", actor, False, commit_id=sha)
        self._event(issue, "closed", actor, False, state_reason=None, commit_id=sha)
        return [Happening("pull_request", "closed", repo.full_name, actor.login, number)]


def label_names(value: Any) -> list[str]:
    """Label names from a request body: strings or ``{"name": ...}`` objects."""
    if not isinstance(value, list):
        raise invalid_field("Issue", "labels")
    names = []
    for item in value:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, Mapping) and isinstance(item.get("name"), str):
            names.append(item["name"])
        else:
            raise invalid_field("Issue", "labels")
    return names


def label_names_from_body(body: Any) -> list[str]:
    """``issues/add-labels`` accepts ``{"labels": [...]}`` or a bare array."""
    raw = body.get("labels") if isinstance(body, Mapping) else body
    if raw is None:
        raise invalid_request('"labels" wasn\'t supplied.')
    names = label_names(raw)
    if not names:
        raise invalid_request('No subschema in "oneOf" matched.\n[] is too short.')
    return names


def _diff_entry(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A seeded file of a pull request, normalised to what ``pulls/list-files`` needs."""
    if "filename" not in spec:
        raise ValueError("every pull request file needs a 'filename'")
    entry = {
        "filename": spec["filename"],
        "status": spec.get("status", "modified"),
        "additions": int(spec.get("additions", 0)),
        "deletions": int(spec.get("deletions", 0)),
    }
    for key in ("patch", "previous_filename", "sha"):
        if spec.get(key) is not None:
            entry[key] = spec[key]
    return entry
