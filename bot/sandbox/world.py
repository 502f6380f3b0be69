"""The sandbox's world: every account, installation and repository, and the operations on them.

Operations here are what GitHub does when something changes (an issue is closed, a label added,
a check run completed): they update state, keep the timeline, and return the
:class:`~bot.sandbox.model.Happening` list GitHub would announce by webhook. The HTTP routes and
the seeding helpers both go through them, so a state change looks the same whichever side made
it. Validation failures raise :class:`~bot.sandbox.errors.GitHubError` with GitHub's wording.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .errors import GitHubError, invalid_field, missing_field, not_found, validation_failed
from .model import (
    LEGACY_PERMISSION,
    REACTIONS,
    ROLES,
    CheckRun,
    CheckSuite,
    Comment,
    Delivery,
    Happening,
    Installation,
    Issue,
    Label,
    PullData,
    Reaction,
    Repo,
    Role,
    Team,
    TimelineEvent,
    User,
    UserType,
)

DEFAULT_APP_PERMISSIONS: dict[str, str] = {
    "issues": "write",
    "pull_requests": "write",
    "checks": "write",
    "contents": "read",
    "metadata": "read",
    "members": "read",
    "administration": "read",
}
DEFAULT_APP_EVENTS: list[str] = [
    "check_run",
    "check_suite",
    "issue_comment",
    "issues",
    "pull_request",
]

CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CHECK_CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "timed_out",
)
ANNOTATION_LEVELS = ("notice", "warning", "failure")
MAX_ANNOTATIONS_PER_REQUEST = 50
MAX_OUTPUT_TEXT = 65535
STATE_REASONS = ("completed", "not_planned", "duplicate", "reopened")
_HEX_COLOR = re.compile(r"^[0-9a-fA-F]{6}$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_ISSUE_REF = re.compile(r"(?<![\w/])(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<number>\d+)\b")


def node_id(kind: str, number: int) -> str:
    """A node id in GitHub's legacy (base64 ``NN:Kind<id>``) format."""
    raw = f"0{len(kind)}:{kind}{number}".encode()
    return base64.b64encode(raw).decode("ascii")


def blob_sha(content: bytes) -> str:
    """The git blob id of ``content``, as GitHub's contents API reports it."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _lower(name: str) -> str:
    return name.strip().lower()


class World:
    """All sandbox state plus GitHub's rules for changing it."""

    def __init__(
        self,
        *,
        app_id: int,
        app_slug: str,
        app_name: str,
        clock: Callable[[], float],
        app_permissions: Mapping[str, str] | None = None,
        app_events: Sequence[str] | None = None,
    ) -> None:
        self.clock = clock
        self.app_id = app_id
        self.app_slug = app_slug
        self.app_name = app_name
        self.app_permissions = dict(app_permissions or DEFAULT_APP_PERMISSIONS)
        self.app_events = list(app_events or DEFAULT_APP_EVENTS)
        self.app_created_at = clock()
        self.users: dict[str, User] = {}
        self.installations: dict[int, Installation] = {}
        self.repos: dict[str, Repo] = {}
        self.comments: dict[int, Comment] = {}
        self.teams: dict[tuple[str, str], Team] = {}
        self.deliveries: list[Delivery] = []
        self._ids = {
            "user": itertools.count(1001),
            "repo": itertools.count(700001),
            "issue": itertools.count(2000000001),
            "pull": itertools.count(1500000001),
            "comment": itertools.count(3000000001),
            "label": itertools.count(5000000001),
            "event": itertools.count(9000000001),
            "reaction": itertools.count(120000001),
            "check_run": itertools.count(20000000001),
            "check_suite": itertools.count(18000000001),
            "team": itertools.count(4001),
            "delivery": itertools.count(80000000001),
            "sha": itertools.count(1),
        }
        self.owner = self.add_user("hardening-owner", type="Organization")
        self.bot = self.add_user(f"{app_slug}[bot]", type="Bot")

    # --- identities -------------------------------------------------------------------------

    def now(self) -> float:
        return float(self.clock())

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    def new_sha(self, seed: str = "") -> str:
        return hashlib.sha1(f"sandbox-commit-{self.next_id('sha')}-{seed}".encode()).hexdigest()

    def add_user(self, login: str, *, type: UserType = "User", name: str | None = None) -> User:
        key = _lower(login)
        existing = self.users.get(key)
        if existing is not None:
            existing.type = type
            if name is not None:
                existing.name = name
            return existing
        uid = self.next_id("user")
        kind = {"User": "User", "Bot": "Bot", "Organization": "Organization"}[type]
        user = User(login=login, id=uid, node_id=node_id(kind, uid), type=type, name=name)
        self.users[key] = user
        return user

    def user(self, login: str) -> User:
        """The account named ``login``; people the tests mention without seeding are created."""
        login = login.removeprefix("@")
        found = self.users.get(_lower(login))
        return found if found is not None else self.add_user(login)

    def find_user(self, login: str) -> User | None:
        return self.users.get(_lower(login.removeprefix("@")))

    # --- installations and repositories -------------------------------------------------------

    def add_installation(
        self,
        account: str,
        *,
        id: int,
        account_type: UserType = "Organization",
        permissions: Mapping[str, str] | None = None,
        repository_selection: str = "selected",
    ) -> Installation:
        if id in self.installations:
            raise ValueError(f"installation {id} already exists")
        user = self.add_user(account, type=account_type)
        inst = Installation(
            id=id,
            account=user,
            app_id=self.app_id,
            app_slug=self.app_slug,
            permissions=dict(permissions or self.app_permissions),
            events=list(self.app_events),
            created_at=self.now(),
            repository_selection="all" if repository_selection == "all" else "selected",
        )
        self.installations[id] = inst
        return inst

    def add_repo(
        self,
        full_name: str,
        *,
        installation_id: int,
        default_branch: str = "main",
        private: bool = False,
        description: str | None = None,
    ) -> Repo:
        owner_login, sep, name = full_name.partition("/")
        if not sep or not owner_login or not name or "/" in name:
            raise ValueError(f"repository name must be owner/name, got {full_name!r}")
        if installation_id not in self.installations:
            raise ValueError(f"no installation {installation_id}; call add_installation first")
        if _lower(full_name) in self.repos:
            raise ValueError(f"repository {full_name} already exists")
        inst = self.installations[installation_id]
        if _lower(inst.account.login) != _lower(owner_login):
            raise ValueError(
                f"installation {installation_id} belongs to {inst.account.login}, not {owner_login}"
            )
        rid = self.next_id("repo")
        head = self.new_sha(full_name)
        repo = Repo(
            id=rid,
            node_id=node_id("Repository", rid),
            owner=inst.account,
            name=name,
            installation_id=installation_id,
            default_branch=default_branch,
            private=private,
            created_at=self.now(),
            description=description,
            branches={default_branch: head},
            known_shas={head},
            files={default_branch: {}},
            pushed_at=self.now(),
        )
        self.repos[_lower(full_name)] = repo
        return repo

    def find_repo(self, full_name: str) -> Repo | None:
        return self.repos.get(_lower(full_name))

    def repo(self, full_name: str) -> Repo:
        found = self.find_repo(full_name)
        if found is None:
            raise KeyError(f"sandbox has no repository {full_name!r}; call add_repo first")
        return found

    def repos_of(self, installation_id: int) -> list[Repo]:
        return [r for r in self.repos.values() if r.installation_id == installation_id]

    def installation_of(self, repo: Repo) -> Installation:
        return self.installations[repo.installation_id]

    def add_commit(self, repo: Repo, sha: str | None = None, *, branch: str | None = None) -> str:
        sha = sha or self.new_sha(repo.full_name)
        repo.known_shas.add(sha)
        if branch is not None:
            repo.branches[branch] = sha
        return sha

    # --- permissions and teams ----------------------------------------------------------------

    def set_permission(self, repo: Repo, login: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        user = self.user(login)
        repo.collaborators[_lower(user.login)] = role  # type: ignore[assignment]

    def role_of(self, repo: Repo, user: User) -> Role | None:
        if user.id == repo.owner.id:
            return "admin"
        return repo.collaborators.get(_lower(user.login))

    @staticmethod
    def legacy_permission(role: str) -> str:
        return LEGACY_PERMISSION.get(role, role)

    def add_team(
        self,
        org: str,
        slug: str,
        *,
        members: Iterable[str] = (),
        maintainers: Iterable[str] = (),
        name: str | None = None,
    ) -> Team:
        key = (_lower(org), _lower(slug))
        team = self.teams.get(key)
        if team is None:
            tid = self.next_id("team")
            team = Team(id=tid, node_id=node_id("Team", tid), org=org, slug=slug, name=name or slug)
            self.teams[key] = team
        for login in members:
            team.members[_lower(self.user(login).login)] = "member"
        for login in maintainers:
            team.members[_lower(self.user(login).login)] = "maintainer"
        return team

    def find_team(self, org: str, slug: str) -> Team | None:
        return self.teams.get((_lower(org), _lower(slug)))

    def is_org_member(self, org: str, user: User) -> bool:
        return any(
            t.org.lower() == org.lower() and _lower(user.login) in t.members
            for t in self.teams.values()
        )

    def author_association(self, repo: Repo, user: User) -> str:
        if user.type == "Bot":
            return "NONE"
        if user.id == repo.owner.id:
            return "OWNER"
        if repo.owner.type == "Organization" and self.is_org_member(repo.owner.login, user):
            return "MEMBER"
        if _lower(user.login) in repo.collaborators:
            return "COLLABORATOR"
        return "NONE"

    # --- contents -----------------------------------------------------------------------------

    def put_file(self, repo: Repo, path: str, content: str | bytes | None, ref: str | None) -> None:
        ref = ref or repo.default_branch
        data = content.encode("utf-8") if isinstance(content, str) else content
        repo.files.setdefault(ref, {})[path.strip("/")] = data
        if _SHA.match(ref):
            repo.known_shas.add(ref)
        elif ref not in repo.branches:
            repo.branches[ref] = self.add_commit(repo)

    def resolve_ref(self, repo: Repo, ref: str | None) -> str | None:
        """The snapshot key for ``ref``: a branch name or sha the sandbox knows, else None."""
        if ref is None:
            return repo.default_branch
        ref = ref.removeprefix("refs/heads/")
        if ref in repo.files or ref in repo.branches or ref in repo.known_shas:
            return ref
        for issue in repo.issues.values():
            if issue.pull and ref in (issue.pull.head_ref, issue.pull.base_ref):
                return ref
        return None

    def snapshot(self, repo: Repo, ref: str | None) -> dict[str, bytes] | None:
        """Files visible at ``ref``: the default branch overlaid with what was put at ``ref``.

        A branch or commit the test did not write files to therefore looks like the default
        branch, as a fresh feature branch does; ``None`` content hides a file at that ref.
        """
        key = self.resolve_ref(repo, ref)
        if key is None:
            return None
        merged: dict[str, bytes | None] = dict(repo.files.get(repo.default_branch, {}))
        if key != repo.default_branch:
            merged.update(repo.files.get(key, {}))
        return {path: data for path, data in merged.items() if data is not None}

    def commit_for(self, repo: Repo, ref: str) -> str | None:
        """The sha ``ref`` (a sha, branch, or pull request head/base ref) points at."""
        ref = ref.removeprefix("refs/heads/")
        if ref in repo.known_shas:
            return ref
        if ref in repo.branches:
            return repo.branches[ref]
        for issue in sorted(repo.issues.values(), key=lambda i: -i.number):
            if issue.pull and issue.pull.head_ref == ref and issue.state == "open":
                return issue.pull.head_sha
        return None

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
        found = repo.labels.get(_lower(name))
        if found is None:
            found = self.create_label(repo, name)
        return found

    def create_label(
        self,
        repo: Repo,
        name: str,
        color: str | None = None,
        description: str | None = None,
    ) -> Label:
        if not isinstance(name, str) or not name.strip():
            raise missing_field("Label", "name")
        color = (color or "ededed").removeprefix("#")
        if not _HEX_COLOR.match(color):
            raise invalid_field("Label", "color")
        if _lower(name) in repo.labels:
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
        repo.labels[_lower(name)] = label
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
            out += self._set_labels(repo, issue, _label_names(fields["labels"]), actor, via_app)
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
        remaining = [label.name for label in issue.labels if _lower(label.name) != _lower(name)]
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
        if found is None or _lower(found.repo) != _lower(repo.full_name):
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

    def open_pulls_for(self, repo: Repo, sha: str) -> list[Issue]:
        return [
            i
            for i in repo.issues.values()
            if i.pull is not None and i.state == "open" and i.pull.head_sha == sha
        ]

    # --- checks -------------------------------------------------------------------------------

    def check_suite(self, repo: Repo, head_sha: str) -> CheckSuite:
        suite = repo.check_suites.get(head_sha)
        if suite is None:
            sid = self.next_id("check_suite")
            pulls = self.open_pulls_for(repo, head_sha)
            branch = pulls[0].pull.head_ref if pulls and pulls[0].pull else None
            if branch is None:
                branch = next((b for b, s in repo.branches.items() if s == head_sha), None)
            suite = CheckSuite(
                id=sid,
                node_id=node_id("CheckSuite", sid),
                repo=repo.full_name,
                head_sha=head_sha,
                head_branch=branch,
                created_at=self.now(),
                updated_at=self.now(),
            )
            repo.check_suites[head_sha] = suite
        return suite

    def create_check_run(
        self, repo: Repo, body: Mapping[str, Any], *, actor: User
    ) -> tuple[CheckRun, list[Happening]]:
        name = body.get("name")
        head_sha = body.get("head_sha")
        if not isinstance(name, str) or not name:
            raise _invalid_request('"name" wasn\'t supplied.')
        if not isinstance(head_sha, str) or not head_sha:
            raise _invalid_request('"head_sha" wasn\'t supplied.')
        if head_sha not in repo.known_shas:
            raise GitHubError(422, f"No commit found for SHA: {head_sha}")
        cid = self.next_id("check_run")
        now = self.now()
        run = CheckRun(
            id=cid,
            node_id=node_id("CheckRun", cid),
            repo=repo.full_name,
            name=name,
            head_sha=head_sha,
            suite=self.check_suite(repo, head_sha),
            status="queued",
            conclusion=None,
            started_at=now,
            completed_at=None,
        )
        self._apply_check_fields(run, body, creating=True)
        repo.check_runs[cid] = run
        run.suite.updated_at = now
        out = [Happening("check_run", "created", repo.full_name, actor.login, check_run_id=cid)]
        if run.status == "completed":
            out.append(
                Happening("check_run", "completed", repo.full_name, actor.login, check_run_id=cid)
            )
        return run, out

    def check_run(self, repo: Repo, check_run_id: int) -> CheckRun:
        run = repo.check_runs.get(check_run_id)
        if run is None:
            raise not_found()
        return run

    def update_check_run(
        self, repo: Repo, check_run_id: int, body: Mapping[str, Any], *, actor: User
    ) -> tuple[CheckRun, list[Happening]]:
        run = self.check_run(repo, check_run_id)
        was_completed = run.status == "completed"
        if "name" in body and (not isinstance(body["name"], str) or not body["name"]):
            raise _invalid_request("name is not a string.")
        if "name" in body:
            run.name = body["name"]
        self._apply_check_fields(run, body, creating=False)
        run.suite.updated_at = self.now()
        if run.status == "completed" and not was_completed:
            return run, [
                Happening(
                    "check_run", "completed", repo.full_name, actor.login, check_run_id=check_run_id
                )
            ]
        return run, []

    def _apply_check_fields(self, run: CheckRun, body: Mapping[str, Any], creating: bool) -> None:
        status = body.get("status")
        conclusion = body.get("conclusion")
        if status is not None and status not in CHECK_STATUSES:
            raise _invalid_request(f"{status!r} is not a member of {list(CHECK_STATUSES)}.")
        if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
            if conclusion == "stale":
                raise _invalid_request("Only GitHub can set a conclusion of stale.")
            raise _invalid_request(f"{conclusion!r} is not a member of {list(CHECK_CONCLUSIONS)}.")
        if status == "completed" and conclusion is None:
            raise _invalid_request(
                'No subschema in "anyOf" matched.\n"conclusion" wasn\'t supplied.'
            )
        if body.get("completed_at") is not None and conclusion is None and run.conclusion is None:
            raise _invalid_request(
                'No subschema in "anyOf" matched.\n"conclusion" wasn\'t supplied.'
            )
        output = body.get("output")
        annotations: list[dict[str, Any]] = []
        if output is not None:
            annotations = _validate_output(output, creating or run.title is None)
        actions = body.get("actions")
        if actions is not None:
            _validate_actions(actions)
        # Everything validated; apply.
        if "external_id" in body:
            run.external_id = body["external_id"]
        if "details_url" in body:
            run.details_url = body["details_url"]
        if body.get("started_at"):
            run.started_at = _parse_time(body["started_at"], "started_at")
        if status is not None:
            run.status = status
        if conclusion is not None:
            run.status = "completed"
            run.conclusion = conclusion
            run.completed_at = (
                _parse_time(body["completed_at"], "completed_at")
                if body.get("completed_at")
                else self.now()
            )
        if status in ("queued", "in_progress") and conclusion is None:
            run.conclusion = None
            run.completed_at = None
        if output is not None:
            run.title = output.get("title", run.title)
            run.summary = output.get("summary", run.summary)
            if "text" in output:
                run.text = output["text"]
            # GitHub appends annotations on every update; it never replaces them.
            run.annotations.extend(annotations)
        if actions is not None:
            run.actions = list(actions)

    # --- deliveries ---------------------------------------------------------------------------

    def record_delivery(
        self,
        event: str,
        payload: Mapping[str, Any],
        *,
        guid: str,
        status_code: int = 200,
        redelivery: bool = False,
    ) -> Delivery:
        inst = payload.get("installation") or {}
        repo = payload.get("repository") or {}
        delivery = Delivery(
            id=self.next_id("delivery"),
            guid=guid,
            event=event,
            action=payload.get("action"),
            delivered_at=self.now(),
            installation_id=inst.get("id"),
            repository_id=repo.get("id"),
            payload=dict(payload),
            status_code=status_code,
            redelivery=redelivery,
        )
        self.deliveries.append(delivery)
        return delivery


def _label_names(value: Any) -> list[str]:
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
        raise _invalid_request('"labels" wasn\'t supplied.')
    names = _label_names(raw)
    if not names:
        raise _invalid_request('No subschema in "oneOf" matched.\n[] is too short.')
    return names


def _invalid_request(detail: str) -> GitHubError:
    return GitHubError(422, f"Invalid request.\n\n{detail}")


def _parse_time(value: Any, field_name: str) -> float:
    from datetime import datetime

    if not isinstance(value, str):
        raise _invalid_request(f"{field_name} is not a string.")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _invalid_request(f"{value!r} is not a valid date-time.") from None


def _validate_output(output: Any, needs_title: bool) -> list[dict[str, Any]]:
    if not isinstance(output, Mapping):
        raise _invalid_request("For 'properties/output', data is not an object.")
    for key in ("title", "summary"):
        if key not in output and needs_title:
            raise _invalid_request(f'"{key}" wasn\'t supplied.')
    for key in ("summary", "text"):
        value = output.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_OUTPUT_TEXT):
            raise _invalid_request(
                f"For 'properties/{key}', the value is longer than {MAX_OUTPUT_TEXT} characters"
                " or not a string."
            )
    annotations = output.get("annotations") or []
    if not isinstance(annotations, list):
        raise _invalid_request("For 'properties/annotations', data is not an array.")
    if len(annotations) > MAX_ANNOTATIONS_PER_REQUEST:
        raise GitHubError(
            422,
            "Validation Failed",
            errors=[
                {
                    "resource": "CheckRun",
                    "field": "annotations",
                    "code": "too_large",
                    "message": f"Only {MAX_ANNOTATIONS_PER_REQUEST} annotations are allowed "
                    "per request; send the rest in further updates.",
                }
            ],
        )
    for a in annotations:
        if not isinstance(a, Mapping):
            raise _invalid_request("For 'items', data is not an object.")
        for key in ("path", "start_line", "end_line", "annotation_level", "message"):
            if key not in a:
                raise _invalid_request(f'"{key}" wasn\'t supplied.')
        if a["annotation_level"] not in ANNOTATION_LEVELS:
            raise _invalid_request(
                f"{a['annotation_level']!r} is not a member of {list(ANNOTATION_LEVELS)}."
            )
        if not isinstance(a["start_line"], int) or not isinstance(a["end_line"], int):
            raise _invalid_request("start_line and end_line must be integers.")
        if ("start_column" in a or "end_column" in a) and a["start_line"] != a["end_line"]:
            raise _invalid_request(
                "start_column and end_column may only be given when start_line equals end_line."
            )
    return [dict(a) for a in annotations]


def _validate_actions(actions: Any) -> None:
    if not isinstance(actions, list) or len(actions) > 3:
        raise _invalid_request("For 'properties/actions', at most 3 actions are allowed.")
    limits = {"label": 20, "description": 40, "identifier": 20}
    for action in actions:
        if not isinstance(action, Mapping):
            raise _invalid_request("For 'items', data is not an object.")
        for key, limit in limits.items():
            value = action.get(key)
            if not isinstance(value, str):
                raise _invalid_request(f'"{key}" wasn\'t supplied.')
            if len(value) > limit:
                raise _invalid_request(f"{key} is longer than {limit} characters.")


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
