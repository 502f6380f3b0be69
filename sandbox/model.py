"""The sandbox's state: the GitHub objects a test seeds and the bot reads and writes.

Plain mutable dataclasses; times are epoch seconds from the sandbox clock and are rendered as
ISO 8601 only when an object is turned into JSON (``render.py``). Issues and pull requests share
one number sequence per repository, as on GitHub: a pull request is an :class:`Issue` whose
``pull`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

UserType = Literal["User", "Bot", "Organization"]
Role = Literal["read", "triage", "write", "maintain", "admin"]
ROLES: tuple[Role, ...] = ("read", "triage", "write", "maintain", "admin")

# GitHub's collaborator-permission API reports a legacy base role beside ``role_name``.
LEGACY_PERMISSION: dict[str, str] = {
    "read": "read",
    "triage": "read",
    "write": "write",
    "maintain": "write",
    "admin": "admin",
}

REACTIONS: tuple[str, ...] = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass
class User:
    login: str
    id: int
    node_id: str
    type: UserType = "User"
    name: str | None = None


@dataclass
class Installation:
    id: int
    account: User
    app_id: int
    app_slug: str
    permissions: dict[str, str]
    events: list[str]
    created_at: float
    repository_selection: Literal["all", "selected"] = "selected"
    suspended_at: float | None = None


@dataclass
class Label:
    id: int
    node_id: str
    name: str
    color: str = "ededed"
    description: str | None = None
    default: bool = False


@dataclass
class PullData:
    """What a pull request has beyond its issue."""

    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    files: list[dict[str, Any]]
    id: int
    node_id: str
    draft: bool = False
    merged: bool = False
    merged_at: float | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    commits: int = 1
    previous_head_shas: list[str] = field(default_factory=list)


@dataclass
class TimelineEvent:
    """One entry of an issue's timeline; ``detail`` holds the per-event fields."""

    id: int
    node_id: str
    event: str
    actor: User
    created_at: float
    via_app: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Issue:
    number: int
    id: int
    node_id: str
    repo: str
    title: str
    body: str | None
    user: User
    created_at: float
    updated_at: float
    state: Literal["open", "closed"] = "open"
    state_reason: str | None = None
    labels: list[Label] = field(default_factory=list)
    assignees: list[User] = field(default_factory=list)
    closed_at: float | None = None
    closed_by: User | None = None
    locked: bool = False
    via_app: bool = False
    pull: PullData | None = None
    comment_ids: list[int] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)

    @property
    def is_pull(self) -> bool:
        return self.pull is not None


@dataclass
class Reaction:
    id: int
    node_id: str
    user: User
    content: str
    created_at: float


@dataclass
class Comment:
    id: int
    node_id: str
    repo: str
    issue_number: int
    user: User
    body: str
    created_at: float
    updated_at: float
    via_app: bool = False
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class CheckSuite:
    id: int
    node_id: str
    repo: str
    head_sha: str
    head_branch: str | None
    created_at: float
    updated_at: float


@dataclass
class CheckRun:
    id: int
    node_id: str
    repo: str
    name: str
    head_sha: str
    suite: CheckSuite
    status: str
    conclusion: str | None
    started_at: float | None
    completed_at: float | None
    external_id: str | None = None
    details_url: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Team:
    id: int
    node_id: str
    org: str
    slug: str
    name: str
    members: dict[str, Literal["member", "maintainer"]] = field(default_factory=dict)


@dataclass
class Delivery:
    """One webhook delivery as the App's delivery log (``/app/hook/deliveries``) lists it."""

    id: int
    guid: str
    event: str
    action: str | None
    delivered_at: float
    installation_id: int | None
    repository_id: int | None
    payload: dict[str, Any]
    status_code: int = 200
    redelivery: bool = False
    duration: float = 0.05

    @property
    def status(self) -> str:
        if 200 <= self.status_code < 300:
            return "OK"
        return f"Invalid HTTP Response: {self.status_code}"


@dataclass
class Repo:
    id: int
    node_id: str
    owner: User
    name: str
    installation_id: int
    default_branch: str
    private: bool
    created_at: float
    description: str | None = None
    branches: dict[str, str] = field(default_factory=dict)
    known_shas: set[str] = field(default_factory=set)
    # ref (branch name or sha) -> path -> content; None marks a file deleted at that ref.
    files: dict[str, dict[str, bytes | None]] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    collaborators: dict[str, Role] = field(default_factory=dict)
    # (org, team slug) -> the role the team grants on this repository
    team_roles: dict[tuple[str, str], Role] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    check_suites: dict[str, CheckSuite] = field(default_factory=dict)
    protections: dict[str, dict[str, Any]] = field(default_factory=dict)
    pushed_at: float | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass(frozen=True)
class Happening:
    """A change GitHub would announce with a webhook, captured when it happens.

    The payload is built from state right away (``webhooks.py``), so later writes cannot leak
    into it; only the delivery to ``webhook_sink`` is deferred.
    """

    event: str
    action: str
    repo: str
    actor: str
    number: int | None = None
    label: str | None = None
    changes: dict[str, Any] | None = None
    comment_id: int | None = None
    check_run_id: int | None = None
    deleted_comment: Comment | None = None
