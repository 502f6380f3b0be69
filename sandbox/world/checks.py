"""Check runs and suites, with GitHub's validation of what an App may post.

``name`` and ``head_sha`` are required and the commit must exist; ``completed`` needs a
``conclusion`` (and a conclusion implies ``completed``); one request carries at most 50
annotations and updates append to them; at most three actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import GitHubError, invalid_request, not_found
from ..model import CheckRun, CheckSuite, Happening, Repo, User
from .base import WorldBase, node_id

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


class CheckRuns(WorldBase):
    """Check runs and suites of every repository."""

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
            raise invalid_request('"name" wasn\'t supplied.')
        if not isinstance(head_sha, str) or not head_sha:
            raise invalid_request('"head_sha" wasn\'t supplied.')
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
            raise invalid_request("name is not a string.")
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
            raise invalid_request(f"{status!r} is not a member of {list(CHECK_STATUSES)}.")
        if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
            if conclusion == "stale":
                raise invalid_request("Only GitHub can set a conclusion of stale.")
            raise invalid_request(f"{conclusion!r} is not a member of {list(CHECK_CONCLUSIONS)}.")
        if status == "completed" and conclusion is None:
            raise invalid_request(
                'No subschema in "anyOf" matched.\n"conclusion" wasn\'t supplied.'
            )
        if body.get("completed_at") is not None and conclusion is None and run.conclusion is None:
            raise invalid_request(
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


def _parse_time(value: Any, field_name: str) -> float:
    if not isinstance(value, str):
        raise invalid_request(f"{field_name} is not a string.")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid_request(f"{value!r} is not a valid date-time.") from None


def _validate_output(output: Any, needs_title: bool) -> list[dict[str, Any]]:
    if not isinstance(output, Mapping):
        raise invalid_request("For 'properties/output', data is not an object.")
    for key in ("title", "summary"):
        if key not in output and needs_title:
            raise invalid_request(f'"{key}" wasn\'t supplied.')
    for key in ("summary", "text"):
        value = output.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_OUTPUT_TEXT):
            raise invalid_request(
                f"For 'properties/{key}', the value is longer than {MAX_OUTPUT_TEXT} characters"
                " or not a string."
            )
    annotations = output.get("annotations") or []
    if not isinstance(annotations, list):
        raise invalid_request("For 'properties/annotations', data is not an array.")
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
            raise invalid_request("For 'items', data is not an object.")
        for key in ("path", "start_line", "end_line", "annotation_level", "message"):
            if key not in a:
                raise invalid_request(f'"{key}" wasn\'t supplied.')
        if a["annotation_level"] not in ANNOTATION_LEVELS:
            raise invalid_request(
                f"{a['annotation_level']!r} is not a member of {list(ANNOTATION_LEVELS)}."
            )
        if not isinstance(a["start_line"], int) or not isinstance(a["end_line"], int):
            raise invalid_request("start_line and end_line must be integers.")
        if ("start_column" in a or "end_column" in a) and a["start_line"] != a["end_line"]:
            raise invalid_request(
                "start_column and end_column may only be given when start_line equals end_line."
            )
    return [dict(a) for a in annotations]


def _validate_actions(actions: Any) -> None:
    if not isinstance(actions, list) or len(actions) > 3:
        raise invalid_request("For 'properties/actions', at most 3 actions are allowed.")
    limits = {"label": 20, "description": 40, "identifier": 20}
    for action in actions:
        if not isinstance(action, Mapping):
            raise invalid_request("For 'items', data is not an object.")
        for key, limit in limits.items():
            value = action.get(key)
            if not isinstance(value, str):
                raise invalid_request(f'"{key}" wasn\'t supplied.')
            if len(value) > limit:
                raise invalid_request(f"{key} is longer than {limit} characters.")
