"""Check runs: GitHub's validation, appended annotations, listing for a ref, re-run payloads."""

from __future__ import annotations

import pytest
from conftest import Clock
from test_sandbox_support import HEAD, REPO, Api

from sandbox import Sandbox
from sandbox.render import iso

RUNS = f"/repos/{REPO}/check-runs"


def annotation(n: int) -> dict[str, object]:
    return {
        "path": f"src/f{n}.py",
        "start_line": n + 1,
        "end_line": n + 1,
        "annotation_level": "warning",
        "message": f"finding {n}",
    }


@pytest.fixture
def sb(sb: Sandbox) -> Sandbox:
    """The seeded sandbox with one open pull request whose head is ``HEAD``."""
    sb.open_pull(REPO, title="fix", head_sha=HEAD, head="fix-lag")
    return sb


async def test_create_completed_run(api: Api, clock: Clock) -> None:
    status, _, run = await api.post(
        RUNS,
        {
            "name": "hardening/controls",
            "head_sha": HEAD,
            "conclusion": "failure",
            "output": {"title": "Missing test", "summary": "Add one", "text": "details"},
        },
    )
    assert status == 201
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert run["completed_at"] == iso(clock.now)
    assert run["app"]["slug"] == "hardening-bot"
    assert run["output"]["annotations_count"] == 0
    assert [p["number"] for p in run["pull_requests"]] == [1]
    assert run["pull_requests"][0]["head"]["ref"] == "fix-lag"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"head_sha": HEAD}, '"name" wasn\'t supplied'),
        ({"name": "x"}, '"head_sha" wasn\'t supplied'),
        ({"name": "x", "head_sha": HEAD, "status": "completed"}, '"conclusion" wasn\'t supplied'),
        ({"name": "x", "head_sha": HEAD, "status": "done"}, "is not a member"),
        ({"name": "x", "head_sha": HEAD, "conclusion": "stale"}, "stale"),
        ({"name": "x", "head_sha": HEAD, "output": {"title": "t"}}, '"summary" wasn\'t supplied'),
        ({"name": "x", "head_sha": "f" * 40}, "No commit found for SHA"),
        (
            {"name": "x", "head_sha": HEAD, "completed_at": "2026-01-01T00:00:00Z"},
            '"conclusion" wasn\'t supplied',
        ),
    ],
)
async def test_create_validation(api: Api, body: dict, fragment: str) -> None:
    status, _, err = await api.post(RUNS, body)
    assert status == 422
    assert fragment in err["message"]


async def test_at_most_50_annotations_per_request_and_updates_append(api: Api) -> None:
    too_many = {
        "name": "hardening/controls",
        "head_sha": HEAD,
        "output": {"title": "t", "summary": "s", "annotations": [annotation(n) for n in range(51)]},
    }
    status, _, err = await api.post(RUNS, too_many)
    assert status == 422
    assert err["errors"][0]["field"] == "annotations"

    first = [annotation(n) for n in range(50)]
    status, _, run = await api.post(
        RUNS,
        {
            "name": "hardening/controls",
            "head_sha": HEAD,
            "status": "in_progress",
            "output": {"title": "t", "summary": "s", "annotations": first},
        },
    )
    assert status == 201
    second = [annotation(n) for n in range(50, 80)]
    status, _, updated = await api.patch(
        f"{RUNS}/{run['id']}",
        {"conclusion": "neutral", "output": {"title": "t", "summary": "s", "annotations": second}},
    )
    assert status == 200
    assert updated["output"]["annotations_count"] == 80
    assert updated["status"] == "completed"


async def test_annotation_columns_only_on_one_line(api: Api) -> None:
    bad = annotation(1) | {"end_line": 5, "start_column": 1, "end_column": 2}
    body = {
        "name": "x",
        "head_sha": HEAD,
        "output": {"title": "t", "summary": "s", "annotations": [bad]},
    }
    assert (await api.post(RUNS, body))[0] == 422


async def test_update_unknown_run_is_404(api: Api) -> None:
    assert (await api.patch(f"{RUNS}/123", {"conclusion": "success"}))[0] == 404


async def test_list_for_ref_filters_by_name_and_keeps_the_latest(api: Api, sb: Sandbox) -> None:
    for name, conclusion in [
        ("hardening/controls", "failure"),
        ("hardening/scorecard", "success"),
        ("hardening/controls", "success"),
    ]:
        sb.add_check_run(REPO, head_sha=HEAD, name=name, conclusion=conclusion)
    path = f"/repos/{REPO}/commits/{HEAD}/check-runs"
    _, _, latest = await api.get(path)
    assert latest["total_count"] == 2
    _, _, named = await api.get(path, params={"check_name": "hardening/controls"})
    assert [r["conclusion"] for r in named["check_runs"]] == ["success"]
    _, _, every = await api.get(path, params={"check_name": "hardening/controls", "filter": "all"})
    assert [r["conclusion"] for r in every["check_runs"]] == ["success", "failure"]
    _, _, by_branch = await api.get(f"/repos/{REPO}/commits/fix-lag/check-runs")
    assert by_branch["total_count"] == 2
    status, _, _ = await api.get(f"/repos/{REPO}/commits/nope/check-runs")
    assert status == 422


async def test_rerun_payloads_have_no_pull_requests_like_githubs(sb: Sandbox) -> None:
    run = sb.add_check_run(REPO, head_sha=HEAD, name="hardening/controls", conclusion="failure")
    rerun = sb.check_run_event(REPO, run["id"])
    assert rerun["action"] == "rerequested"
    assert rerun["check_run"]["pull_requests"] == []
    assert rerun["check_run"]["check_suite"]["head_sha"] == HEAD
    assert rerun["sender"]["login"] == "alice"
    created = sb.check_run_event(REPO, run["id"], "created")
    assert [p["number"] for p in created["check_run"]["pull_requests"]] == [1]
    assert created["sender"]["login"] == "hardening-bot[bot]"
    button = sb.check_run_event(REPO, run["id"], "requested_action", requested_action="fix")
    assert button["requested_action"] == {"identifier": "fix"}
    assert sb.check_run_event(REPO, run["id"], pull_requests=True)["check_run"]["pull_requests"]


async def test_check_suite_payload(sb: Sandbox) -> None:
    sb.add_check_run(REPO, head_sha=HEAD, name="hardening/controls", conclusion="failure")
    payload = sb.check_suite_event(REPO, HEAD)
    suite = payload["check_suite"]
    assert (suite["head_sha"], suite["head_branch"]) == (HEAD, "fix-lag")
    assert (suite["status"], suite["conclusion"]) == ("completed", "failure")
    assert [p["number"] for p in suite["pull_requests"]] == [1]


async def test_check_runs_accessor_includes_annotations(api: Api, sb: Sandbox) -> None:
    await api.post(
        RUNS,
        {
            "name": "hardening/controls",
            "head_sha": HEAD,
            "conclusion": "failure",
            "output": {"title": "t", "summary": "s", "annotations": [annotation(0)]},
        },
    )
    (run,) = sb.check_runs(REPO, head_sha=HEAD)
    assert run["annotations"][0]["path"] == "src/f0.py"
    assert sb.check_runs(REPO, head_sha="0" * 40) == []
