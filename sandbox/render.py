"""GitHub's JSON shapes, built from sandbox state.

One function per REST schema the bot meets (``simple-user``, ``issue``, ``pull-request``,
``check-run``, ...), carrying every field GitHub's description marks required, with GitHub's URL
layout. URLs start at :attr:`Renderer.api` — the address the client used, so a client that follows
``comments_url`` stays inside the sandbox — and web links at ``https://github.com``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from .model import (
    REACTIONS,
    CheckRun,
    CheckSuite,
    Comment,
    Delivery,
    Installation,
    Issue,
    Label,
    Reaction,
    Repo,
    Team,
    TimelineEvent,
    User,
)
from .world import World, blob_sha, node_id

WEB = "https://github.com"


def iso(ts: float | None) -> str | None:
    """Epoch seconds as GitHub writes times: ``2026-01-02T03:04:05Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Renderer:
    """Turns state into JSON for one API base URL."""

    def __init__(self, world: World, api: str, web: str = WEB) -> None:
        self.world = world
        self.api = api.rstrip("/")
        self.web = web.rstrip("/")

    # --- accounts -----------------------------------------------------------------------------

    def user(self, user: User) -> dict[str, Any]:
        login_q = quote(user.login, safe="")
        api_user = f"{self.api}/users/{login_q}"
        html = (
            f"{self.web}/apps/{user.login.removesuffix('[bot]')}"
            if user.type == "Bot"
            else f"{self.web}/{user.login}"
        )
        return {
            "login": user.login,
            "id": user.id,
            "node_id": user.node_id,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": api_user,
            "html_url": html,
            "followers_url": f"{api_user}/followers",
            "following_url": f"{api_user}/following{{/other_user}}",
            "gists_url": f"{api_user}/gists{{/gist_id}}",
            "starred_url": f"{api_user}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{api_user}/subscriptions",
            "organizations_url": f"{api_user}/orgs",
            "repos_url": f"{api_user}/repos",
            "events_url": f"{api_user}/events{{/privacy}}",
            "received_events_url": f"{api_user}/received_events",
            "type": user.type,
            "user_view_type": "public",
            "site_admin": False,
        }

    def maybe_user(self, user: User | None) -> dict[str, Any] | None:
        return None if user is None else self.user(user)

    def organization(self, org: User) -> dict[str, Any]:
        base = f"{self.api}/orgs/{org.login}"
        return {
            "login": org.login,
            "id": org.id,
            "node_id": org.node_id,
            "url": base,
            "repos_url": f"{base}/repos",
            "events_url": f"{base}/events",
            "hooks_url": f"{base}/hooks",
            "issues_url": f"{base}/issues",
            "members_url": f"{base}/members{{/member}}",
            "public_members_url": f"{base}/public_members{{/member}}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{org.id}?v=4",
            "description": None,
        }

    def app(self) -> dict[str, Any]:
        w = self.world
        return {
            "id": w.app_id,
            "slug": w.app_slug,
            "node_id": node_id("Integration", w.app_id),
            "client_id": f"Iv1.{w.app_id:016x}",
            "owner": self.user(w.owner),
            "name": w.app_name,
            "description": "Turns incident findings into hardening items.",
            "external_url": f"https://{w.app_slug}.example.com",
            "html_url": f"{self.web}/apps/{w.app_slug}",
            "created_at": iso(w.app_created_at),
            "updated_at": iso(w.app_created_at),
            "permissions": dict(w.app_permissions),
            "events": list(w.app_events),
            "installations_count": len(w.installations),
        }

    def installation(self, inst: Installation) -> dict[str, Any]:
        return {
            "id": inst.id,
            "client_id": f"Iv1.{inst.app_id:016x}",
            "account": self.user(inst.account),
            "repository_selection": inst.repository_selection,
            "access_tokens_url": f"{self.api}/app/installations/{inst.id}/access_tokens",
            "repositories_url": f"{self.api}/installation/repositories",
            "html_url": (
                f"{self.web}/organizations/{inst.account.login}/settings/installations/{inst.id}"
                if inst.account.type == "Organization"
                else f"{self.web}/settings/installations/{inst.id}"
            ),
            "app_id": inst.app_id,
            "app_slug": inst.app_slug,
            "target_id": inst.account.id,
            "target_type": inst.account.type,
            "permissions": dict(inst.permissions),
            "events": list(inst.events),
            "created_at": iso(inst.created_at),
            "updated_at": iso(inst.created_at),
            "single_file_name": None,
            "has_multiple_single_files": False,
            "single_file_paths": [],
            "suspended_by": None,
            "suspended_at": iso(inst.suspended_at),
        }

    def installation_ref(self, inst: Installation) -> dict[str, Any]:
        """The short ``installation`` object inside webhook payloads."""
        return {"id": inst.id, "node_id": node_id("Integration::Installation", inst.id)}

    # --- repositories -------------------------------------------------------------------------

    def repo(self, repo: Repo) -> dict[str, Any]:
        """The ``repository`` schema (minimal-but-complete repository)."""
        a = f"{self.api}/repos/{repo.full_name}"
        html = f"{self.web}/{repo.full_name}"
        open_issues = sum(1 for i in repo.issues.values() if i.state == "open")
        return {
            "id": repo.id,
            "node_id": repo.node_id,
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": self.user(repo.owner),
            "html_url": html,
            "description": repo.description,
            "fork": False,
            "url": a,
            "archive_url": f"{a}/{{archive_format}}{{/ref}}",
            "assignees_url": f"{a}/assignees{{/user}}",
            "blobs_url": f"{a}/git/blobs{{/sha}}",
            "branches_url": f"{a}/branches{{/branch}}",
            "collaborators_url": f"{a}/collaborators{{/collaborator}}",
            "comments_url": f"{a}/comments{{/number}}",
            "commits_url": f"{a}/commits{{/sha}}",
            "compare_url": f"{a}/compare/{{base}}...{{head}}",
            "contents_url": f"{a}/contents/{{+path}}",
            "contributors_url": f"{a}/contributors",
            "deployments_url": f"{a}/deployments",
            "downloads_url": f"{a}/downloads",
            "events_url": f"{a}/events",
            "forks_url": f"{a}/forks",
            "git_commits_url": f"{a}/git/commits{{/sha}}",
            "git_refs_url": f"{a}/git/refs{{/sha}}",
            "git_tags_url": f"{a}/git/tags{{/sha}}",
            "git_url": f"git://github.com/{repo.full_name}.git",
            "issue_comment_url": f"{a}/issues/comments{{/number}}",
            "issue_events_url": f"{a}/issues/events{{/number}}",
            "issues_url": f"{a}/issues{{/number}}",
            "keys_url": f"{a}/keys{{/key_id}}",
            "labels_url": f"{a}/labels{{/name}}",
            "languages_url": f"{a}/languages",
            "merges_url": f"{a}/merges",
            "milestones_url": f"{a}/milestones{{/number}}",
            "notifications_url": f"{a}/notifications{{?since,all,participating}}",
            "pulls_url": f"{a}/pulls{{/number}}",
            "releases_url": f"{a}/releases{{/id}}",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "stargazers_url": f"{a}/stargazers",
            "statuses_url": f"{a}/statuses/{{sha}}",
            "subscribers_url": f"{a}/subscribers",
            "subscription_url": f"{a}/subscription",
            "tags_url": f"{a}/tags",
            "teams_url": f"{a}/teams",
            "trees_url": f"{a}/git/trees{{/sha}}",
            "clone_url": f"{html}.git",
            "mirror_url": None,
            "hooks_url": f"{a}/hooks",
            "svn_url": html,
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "size": 0,
            "default_branch": repo.default_branch,
            "open_issues_count": open_issues,
            "open_issues": open_issues,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": True,
            "has_wiki": True,
            "has_pages": False,
            "has_downloads": True,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "pushed_at": iso(repo.pushed_at),
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.created_at),
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "license": None,
        }

    def full_repo(self, repo: Repo) -> dict[str, Any]:
        """The ``full-repository`` schema of ``repos/get``."""
        out = self.repo(repo)
        out.update(
            {
                "network_count": 0,
                "subscribers_count": 0,
                "allow_rebase_merge": True,
                "allow_squash_merge": True,
                "allow_merge_commit": True,
                "allow_auto_merge": False,
                "delete_branch_on_merge": False,
                "allow_update_branch": False,
                "use_squash_pr_title_as_default": False,
                "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
                "squash_merge_commit_message": "COMMIT_MESSAGES",
                "merge_commit_title": "MERGE_MESSAGE",
                "merge_commit_message": "PR_TITLE",
                "security_and_analysis": None,
                "custom_properties": {},
            }
        )
        if repo.owner.type == "Organization":
            out["organization"] = self.user(repo.owner)
        return out

    def webhook_repo(self, repo: Repo) -> dict[str, Any]:
        """The ``repository`` object of webhook payloads (REST shape plus merge settings)."""
        out = self.full_repo(repo)
        for key in ("network_count", "subscribers_count", "organization", "security_and_analysis"):
            out.pop(key, None)
        return out

    def minimal_repo(self, repo: Repo) -> dict[str, Any]:
        return {"id": repo.id, "url": f"{self.api}/repos/{repo.full_name}", "name": repo.name}

    # --- issues, labels, comments -------------------------------------------------------------

    def label(self, repo: Repo, label: Label) -> dict[str, Any]:
        return {
            "id": label.id,
            "node_id": label.node_id,
            "url": f"{self.api}/repos/{repo.full_name}/labels/{quote(label.name, safe='')}",
            "name": label.name,
            "color": label.color,
            "default": label.default,
            "description": label.description,
            "archived_at": None,
            "archived_by": None,
        }

    def reaction_rollup(self, url: str, reactions: list[Reaction]) -> dict[str, Any]:
        out: dict[str, Any] = {"url": url, "total_count": len(reactions)}
        for content in REACTIONS:
            out[content] = sum(1 for r in reactions if r.content == content)
        return out

    def issue(self, issue: Issue) -> dict[str, Any]:
        w = self.world
        repo = w.repo(issue.repo)
        a = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        kind = "pull" if issue.is_pull else "issues"
        out: dict[str, Any] = {
            "url": a,
            "repository_url": f"{self.api}/repos/{repo.full_name}",
            "labels_url": f"{a}/labels{{/name}}",
            "comments_url": f"{a}/comments",
            "events_url": f"{a}/events",
            "html_url": f"{self.web}/{repo.full_name}/{kind}/{issue.number}",
            "id": issue.id,
            "node_id": issue.node_id,
            "number": issue.number,
            "title": issue.title,
            "user": self.user(issue.user),
            "labels": [self.label(repo, label) for label in issue.labels],
            "state": issue.state,
            "locked": issue.locked,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(u) for u in issue.assignees],
            "milestone": None,
            "comments": len(issue.comment_ids),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "author_association": w.author_association(repo, issue.user),
            "type": None,
            "active_lock_reason": None,
            "sub_issues_summary": {"total": 0, "completed": 0, "percent_completed": 0},
            "issue_dependencies_summary": {
                "blocked_by": 0,
                "total_blocked_by": 0,
                "blocking": 0,
                "total_blocking": 0,
            },
            "body": issue.body,
            "closed_by": self.maybe_user(issue.closed_by),
            "reactions": self.reaction_rollup(f"{a}/reactions", []),
            "timeline_url": f"{a}/timeline",
            "performed_via_github_app": self.app() if issue.via_app else None,
            "state_reason": issue.state_reason,
        }
        if issue.pull is not None:
            pulls = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
            html = f"{self.web}/{repo.full_name}/pull/{issue.number}"
            out["draft"] = issue.pull.draft
            out["pull_request"] = {
                "url": pulls,
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": iso(issue.pull.merged_at),
            }
        return out

    def comment(self, comment: Comment) -> dict[str, Any]:
        repo = self.world.repo(comment.repo)
        a = f"{self.api}/repos/{repo.full_name}/issues/comments/{comment.id}"
        issue = repo.issues.get(comment.issue_number)
        kind = "pull" if issue is not None and issue.is_pull else "issues"
        return {
            "url": a,
            "html_url": (
                f"{self.web}/{repo.full_name}/{kind}/{comment.issue_number}"
                f"#issuecomment-{comment.id}"
            ),
            "issue_url": f"{self.api}/repos/{repo.full_name}/issues/{comment.issue_number}",
            "id": comment.id,
            "node_id": comment.node_id,
            "user": self.user(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "author_association": self.world.author_association(repo, comment.user),
            "body": comment.body,
            "reactions": self.reaction_rollup(f"{a}/reactions", comment.reactions),
            "performed_via_github_app": self.app() if comment.via_app else None,
            "pin": None,
            "minimized": None,
        }

    def reaction(self, reaction: Reaction) -> dict[str, Any]:
        return {
            "id": reaction.id,
            "node_id": reaction.node_id,
            "user": self.user(reaction.user),
            "content": reaction.content,
            "created_at": iso(reaction.created_at),
        }

    def timeline_event(self, issue: Issue, ev: TimelineEvent) -> dict[str, Any]:
        repo = self.world.repo(issue.repo)
        if ev.event == "cross-referenced":
            src_repo_name, src_number = ev.detail["source"]
            src_repo = self.world.repo(src_repo_name)
            source_issue = self.issue(src_repo.issues[src_number])
            source_issue["repository"] = self.repo(src_repo)
            return {
                "event": "cross-referenced",
                "actor": self.user(ev.actor),
                "created_at": iso(ev.created_at),
                "updated_at": iso(ev.created_at),
                "source": {"type": "issue", "issue": source_issue},
            }
        out: dict[str, Any] = {
            "id": ev.id,
            "node_id": ev.node_id,
            "url": f"{self.api}/repos/{repo.full_name}/issues/events/{ev.id}",
            "actor": self.user(ev.actor),
            "event": ev.event,
            "commit_id": ev.detail.get("commit_id"),
            "commit_url": (
                f"{self.api}/repos/{repo.full_name}/commits/{ev.detail['commit_id']}"
                if ev.detail.get("commit_id")
                else None
            ),
            "created_at": iso(ev.created_at),
            "performed_via_github_app": self.app() if ev.via_app else None,
        }
        if ev.event in ("labeled", "unlabeled"):
            out["label"] = {"name": ev.detail["label"], "color": ev.detail["color"]}
        elif ev.event in ("closed", "reopened"):
            out["state_reason"] = ev.detail.get("state_reason")
        elif ev.event == "renamed":
            out["rename"] = {"from": ev.detail["rename_from"], "to": ev.detail["rename_to"]}
        return out

    def timeline_comment(self, comment: Comment) -> dict[str, Any]:
        out = self.comment(comment)
        out["event"] = "commented"
        out["actor"] = self.user(comment.user)
        return out

    def timeline(self, issue: Issue) -> list[dict[str, Any]]:
        """Events and comments in time order, as ``issues/list-events-for-timeline`` returns."""
        entries: list[tuple[float, int, dict[str, Any]]] = []
        for ev in issue.timeline:
            entries.append((ev.created_at, ev.id, self.timeline_event(issue, ev)))
        for cid in issue.comment_ids:
            comment = self.world.comments[cid]
            entries.append((comment.created_at, cid, self.timeline_comment(comment)))
        entries.sort(key=lambda e: (e[0], e[1]))
        return [e[2] for e in entries]

    # --- pull requests ------------------------------------------------------------------------

    def _branch(self, repo: Repo, ref: str, sha: str, user: User) -> dict[str, Any]:
        return {
            "label": f"{repo.owner.login}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(user),
            "repo": self.repo(repo),
        }

    def pull(self, issue: Issue) -> dict[str, Any]:
        assert issue.pull is not None
        p = issue.pull
        repo = self.world.repo(issue.repo)
        a = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
        ia = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        html = f"{self.web}/{repo.full_name}/pull/{issue.number}"
        statuses = f"{self.api}/repos/{repo.full_name}/statuses/{p.head_sha}"

        def link(href: str) -> dict[str, str]:
            return {"href": href}

        return {
            "url": a,
            "id": p.id,
            "node_id": p.node_id,
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": ia,
            "number": issue.number,
            "state": issue.state,
            "locked": issue.locked,
            "title": issue.title,
            "user": self.user(issue.user),
            "body": issue.body,
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "merged_at": iso(p.merged_at),
            "merge_commit_sha": p.merge_commit_sha,
            "assignee": self.user(issue.assignees[0]) if issue.assignees else None,
            "assignees": [self.user(u) for u in issue.assignees],
            "requested_reviewers": [],
            "requested_teams": [],
            "labels": [self.label(repo, label) for label in issue.labels],
            "milestone": None,
            "draft": p.draft,
            "commits_url": f"{a}/commits",
            "review_comments_url": f"{a}/comments",
            "review_comment_url": f"{self.api}/repos/{repo.full_name}/pulls/comments{{/number}}",
            "comments_url": f"{ia}/comments",
            "statuses_url": statuses,
            "head": self._branch(repo, p.head_ref, p.head_sha, issue.user),
            "base": self._branch(repo, p.base_ref, p.base_sha, repo.owner),
            "_links": {
                "self": link(a),
                "html": link(html),
                "issue": link(ia),
                "comments": link(f"{ia}/comments"),
                "review_comments": link(f"{a}/comments"),
                "review_comment": link(
                    f"{self.api}/repos/{repo.full_name}/pulls/comments{{/number}}"
                ),
                "commits": link(f"{a}/commits"),
                "statuses": link(statuses),
            },
            "author_association": self.world.author_association(repo, issue.user),
            "auto_merge": None,
            "active_lock_reason": None,
            "merged": p.merged,
            "mergeable": None if p.merged else True,
            "rebaseable": None if p.merged else True,
            "mergeable_state": "unknown" if p.merged else "clean",
            "merged_by": self.maybe_user(p.merged_by),
            "comments": len(issue.comment_ids),
            "review_comments": 0,
            "maintainer_can_modify": False,
            "commits": p.commits,
            "additions": sum(f["additions"] for f in p.files),
            "deletions": sum(f["deletions"] for f in p.files),
            "changed_files": len(p.files),
        }

    def diff_entry(self, repo: Repo, issue: Issue, entry: dict[str, Any]) -> dict[str, Any]:
        assert issue.pull is not None
        sha = issue.pull.head_sha
        name = entry["filename"]
        quoted = quote(name)
        out: dict[str, Any] = {
            "sha": entry.get("sha") or blob_sha(f"{sha}:{name}".encode()),
            "filename": name,
            "status": entry["status"],
            "additions": entry["additions"],
            "deletions": entry["deletions"],
            "changes": entry["additions"] + entry["deletions"],
            "blob_url": f"{self.web}/{repo.full_name}/blob/{sha}/{quoted}",
            "raw_url": f"{self.web}/{repo.full_name}/raw/{sha}/{quoted}",
            "contents_url": f"{self.api}/repos/{repo.full_name}/contents/{quoted}?ref={sha}",
        }
        if "patch" in entry:
            out["patch"] = entry["patch"]
        if "previous_filename" in entry:
            out["previous_filename"] = entry["previous_filename"]
        return out

    def pull_minimal(self, issue: Issue) -> dict[str, Any]:
        assert issue.pull is not None
        repo = self.world.repo(issue.repo)
        return {
            "url": f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}",
            "id": issue.pull.id,
            "number": issue.number,
            "head": {
                "ref": issue.pull.head_ref,
                "sha": issue.pull.head_sha,
                "repo": self.minimal_repo(repo),
            },
            "base": {
                "ref": issue.pull.base_ref,
                "sha": issue.pull.base_sha,
                "repo": self.minimal_repo(repo),
            },
        }

    # --- checks -------------------------------------------------------------------------------

    def check_run(self, run: CheckRun, *, pull_requests: bool = True) -> dict[str, Any]:
        repo = self.world.repo(run.repo)
        a = f"{self.api}/repos/{repo.full_name}/check-runs/{run.id}"
        pulls = self.world.open_pulls_for(repo, run.head_sha) if pull_requests else []
        return {
            "id": run.id,
            "name": run.name,
            "node_id": run.node_id,
            "head_sha": run.head_sha,
            "external_id": run.external_id if run.external_id is not None else "",
            "url": a,
            "html_url": f"{self.web}/{repo.full_name}/runs/{run.id}",
            "details_url": run.details_url or f"https://{self.world.app_slug}.example.com",
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at),
            "output": {
                "title": run.title,
                "summary": run.summary,
                "text": run.text,
                "annotations_count": len(run.annotations),
                "annotations_url": f"{a}/annotations",
            },
            "check_suite": {"id": run.suite.id},
            "app": self.app(),
            "pull_requests": [self.pull_minimal(p) for p in pulls],
        }

    def check_suite(self, suite: CheckSuite) -> dict[str, Any]:
        repo = self.world.repo(suite.repo)
        runs = [r for r in repo.check_runs.values() if r.suite.id == suite.id]
        done = runs and all(r.status == "completed" for r in runs)
        conclusion = None
        if done:
            order = [
                "action_required",
                "cancelled",
                "timed_out",
                "failure",
                "neutral",
                "skipped",
                "success",
            ]
            conclusion = min((r.conclusion or "success" for r in runs), key=order.index)
        a = f"{self.api}/repos/{repo.full_name}/check-suites/{suite.id}"
        pulls = self.world.open_pulls_for(repo, suite.head_sha)
        return {
            "id": suite.id,
            "node_id": suite.node_id,
            "head_branch": suite.head_branch,
            "head_sha": suite.head_sha,
            "status": "completed" if done else "queued",
            "conclusion": conclusion,
            "url": a,
            "before": pulls[0].pull.base_sha if pulls and pulls[0].pull else None,
            "after": suite.head_sha,
            "pull_requests": [self.pull_minimal(p) for p in pulls],
            "app": self.app(),
            "created_at": iso(suite.created_at),
            "updated_at": iso(suite.updated_at),
            "rerequestable": True,
            "runs_rerequestable": True,
            "latest_check_runs_count": len(runs),
            "check_runs_url": f"{a}/check-runs",
            "head_commit": {
                "id": suite.head_sha,
                "tree_id": blob_sha(suite.head_sha.encode()),
                "message": "Sandbox commit",
                "timestamp": iso(suite.created_at),
                "author": {"name": "Sandbox", "email": "sandbox@example.com"},
                "committer": {"name": "GitHub", "email": "noreply@github.com"},
            },
        }

    # --- everything else ----------------------------------------------------------------------

    def permission(self, repo: Repo, user: User, role: str) -> dict[str, Any]:
        legacy = self.world.legacy_permission(role)
        rank = ["read", "triage", "write", "maintain", "admin"].index(role)
        collaborator = self.user(user)
        collaborator["permissions"] = {
            "pull": rank >= 0,
            "triage": rank >= 1,
            "push": rank >= 2,
            "maintain": rank >= 3,
            "admin": rank >= 4,
        }
        collaborator["role_name"] = role
        return {"permission": legacy, "role_name": role, "user": collaborator}

    def team_membership(self, team: Team, login: str) -> dict[str, Any]:
        return {
            "url": f"{self.api}/teams/{team.id}/memberships/{login}",
            "role": team.members[login.lower()],
            "state": "active",
        }

    def content_file(self, repo: Repo, path: str, data: bytes, ref: str | None) -> dict[str, Any]:
        sha = blob_sha(data)
        ref_q = f"?ref={ref}" if ref else ""
        branch = ref or repo.default_branch
        api_url = f"{self.api}/repos/{repo.full_name}/contents/{quote(path)}{ref_q}"
        git_url = f"{self.api}/repos/{repo.full_name}/git/blobs/{sha}"
        html = f"{self.web}/{repo.full_name}/blob/{branch}/{quote(path)}"
        encoded = base64.b64encode(data).decode("ascii")
        # GitHub wraps the base64 text at 60 characters with newlines.
        wrapped = "\n".join(encoded[i : i + 60] for i in range(0, len(encoded), 60))
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(data),
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "content": wrapped + "\n" if wrapped else "",
            "sha": sha,
            "url": api_url,
            "git_url": git_url,
            "html_url": html,
            "download_url": (
                f"https://raw.githubusercontent.com/{repo.full_name}/{branch}/{quote(path)}"
            ),
            "_links": {"self": api_url, "git": git_url, "html": html},
        }

    def content_entry(
        self, repo: Repo, path: str, kind: str, data: bytes | None, ref: str | None
    ) -> dict[str, Any]:
        """One entry of a directory listing (``content-directory`` items)."""
        ref_q = f"?ref={ref}" if ref else ""
        branch = ref or repo.default_branch
        sha = blob_sha(data) if data is not None else blob_sha(f"tree:{path}".encode())
        api_url = f"{self.api}/repos/{repo.full_name}/contents/{quote(path)}{ref_q}"
        git_kind = "blobs" if kind == "file" else "trees"
        git_url = f"{self.api}/repos/{repo.full_name}/git/{git_kind}/{sha}"
        html = f"{self.web}/{repo.full_name}/{'blob' if kind == 'file' else 'tree'}/{branch}/{path}"
        return {
            "type": kind,
            "size": len(data) if data is not None else 0,
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "url": api_url,
            "git_url": git_url,
            "html_url": html,
            "download_url": (
                f"https://raw.githubusercontent.com/{repo.full_name}/{branch}/{path}"
                if kind == "file"
                else None
            ),
            "_links": {"self": api_url, "git": git_url, "html": html},
        }

    def status_check_policy(
        self, repo: Repo, branch: str, policy: dict[str, Any]
    ) -> dict[str, Any]:
        base = f"{self.api}/repos/{repo.full_name}/branches/{branch}/protection"
        base += "/required_status_checks"
        contexts = list(policy.get("contexts", []))
        checks = policy.get("checks")
        if checks is None:
            checks = [{"context": c, "app_id": None} for c in contexts]
        return {
            "url": base,
            "strict": bool(policy.get("strict", False)),
            "contexts": contexts,
            "contexts_url": f"{base}/contexts",
            "checks": checks,
        }

    def delivery(self, delivery: Delivery) -> dict[str, Any]:
        return {
            "id": delivery.id,
            "guid": delivery.guid,
            "delivered_at": iso(delivery.delivered_at),
            "redelivery": delivery.redelivery,
            "duration": delivery.duration,
            "status": delivery.status,
            "status_code": delivery.status_code,
            "event": delivery.event,
            "action": delivery.action,
            "installation_id": delivery.installation_id,
            "repository_id": delivery.repository_id,
            "throttled_at": None,
        }
