"""The sandbox's world: accounts, installations, repositories, files, teams and deliveries.

``WorldBase`` holds all state and the identity rules (ids, node ids, git shas); the issue
tracker and check runs add GitHub's rules for changing it (``issues.py``, ``checks.py``).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..model import (
    LEGACY_PERMISSION,
    ROLES,
    Comment,
    Delivery,
    Installation,
    Issue,
    Repo,
    Role,
    Team,
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
    "push",
]
_SHA = re.compile(r"^[0-9a-f]{40}$")


def node_id(kind: str, number: int) -> str:
    """A node id in GitHub's legacy (base64 ``NN:Kind<id>``) format."""
    raw = f"0{len(kind)}:{kind}{number}".encode()
    return base64.b64encode(raw).decode("ascii")


def blob_sha(content: bytes) -> str:
    """The git blob id of ``content``, as GitHub's contents API reports it."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def key_of(name: str) -> str:
    return name.strip().lower()


class WorldBase:
    """All sandbox state, and the lookups every part of it needs."""

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
        key = key_of(login)
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
        found = self.users.get(key_of(login))
        return found if found is not None else self.add_user(login)

    def find_user(self, login: str) -> User | None:
        return self.users.get(key_of(login.removeprefix("@")))

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
        if key_of(full_name) in self.repos:
            raise ValueError(f"repository {full_name} already exists")
        inst = self.installations[installation_id]
        if key_of(inst.account.login) != key_of(owner_login):
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
        self.repos[key_of(full_name)] = repo
        return repo

    def find_repo(self, full_name: str) -> Repo | None:
        return self.repos.get(key_of(full_name))

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
        repo.collaborators[key_of(user.login)] = role

    def grant_team(self, repo: Repo, org: str, slug: str, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if self.find_team(org, slug) is None:
            raise ValueError(f"no team {org}/{slug}; call add_team first")
        repo.team_roles[(key_of(org), key_of(slug))] = role

    def role_of(self, repo: Repo, user: User) -> Role | None:
        """The user's effective role, as GitHub's permission endpoint reports it: the highest
        of a direct grant and the grants of every team the user belongs to."""
        if user.id == repo.owner.id:
            return "admin"
        roles = [repo.collaborators.get(key_of(user.login))]
        for (org, slug), role in repo.team_roles.items():
            team = self.find_team(org, slug)
            if team is not None and key_of(user.login) in team.members:
                roles.append(role)
        granted = [r for r in roles if r is not None]
        return max(granted, key=ROLES.index) if granted else None

    def can_push(self, repo: Repo, user: User) -> bool:
        """Write access or more: what GitHub asks of someone editing another person's issue, or
        setting labels and assignees when opening one through the API."""
        role = self.role_of(repo, user)
        return role is not None and ROLES.index(role) >= ROLES.index("write")

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
        key = (key_of(org), key_of(slug))
        team = self.teams.get(key)
        if team is None:
            tid = self.next_id("team")
            team = Team(id=tid, node_id=node_id("Team", tid), org=org, slug=slug, name=name or slug)
            self.teams[key] = team
        for login in members:
            team.members[key_of(self.user(login).login)] = "member"
        for login in maintainers:
            team.members[key_of(self.user(login).login)] = "maintainer"
        return team

    def find_team(self, org: str, slug: str) -> Team | None:
        return self.teams.get((key_of(org), key_of(slug)))

    def is_org_member(self, org: str, user: User) -> bool:
        return any(
            t.org.lower() == org.lower() and key_of(user.login) in t.members
            for t in self.teams.values()
        )

    def author_association(self, repo: Repo, user: User) -> str:
        if user.type == "Bot":
            return "NONE"
        if user.id == repo.owner.id:
            return "OWNER"
        if repo.owner.type == "Organization" and self.is_org_member(repo.owner.login, user):
            return "MEMBER"
        if key_of(user.login) in repo.collaborators:
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

    def open_pulls_for(self, repo: Repo, sha: str) -> list[Issue]:
        return [
            i
            for i in repo.issues.values()
            if i.pull is not None and i.state == "open" and i.pull.head_sha == sha
        ]

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
