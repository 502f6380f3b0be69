"""bot.jobs against the sandbox: the weekly review and the monthly audit read a repository's
items, write one comment per flagged item per period, and write nothing the second time."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import gidgethub
import pytest
from conftest import INSTALLATION_ID, REPO, ledger_call

from bot.context import Context, bound_log
from bot.github import GitHubAPI, GitHubApp
from bot.item_issues import sync_incident
from bot.jobs import monthly_audit, run_job, weekly_review
from bot.metrics import Metrics
from bot.scope import Scope
from bot.settings import Settings
from rules.item_template import parse_item, replace_item_in_body
from rules.model import Evidence
from sandbox import Sandbox

BOT = "hardening-bot[bot]"
OWNER, NAME = REPO.split("/")
PLANNED = datetime(2026, 11, 2, 10, tzinfo=UTC)  # Monday: P1 items are due Saturday 2026-11-07
INCIDENT = """\
### Findings

- missed detection: pager stayed silent for checkout 5xx
- repeated regression: the cache bug came back
"""
PROOF = Evidence("https://ci.example.com/runs/7/log", "implementation")


def context(settings: Settings, when: datetime) -> Context:
    return Context(
        settings=settings,
        metrics=Metrics(),
        log=bound_log("tests.jobs"),
        bot_login=BOT,
        clock=lambda: when.timestamp(),
    )


def marked(sandbox: Sandbox, number: int, text: str, repo: str = REPO) -> list[dict[str, Any]]:
    return [c for c in sandbox.comments(repo, number) if text in c["body"]]


def writes(sandbox: Sandbox) -> list[tuple[str, str]]:
    """The writes of a job, leaving out the Hardening ledger it brings up to date."""
    return [
        (c.method, c.path)
        for c in sandbox.writes()
        if "/access_tokens" not in c.path and not ledger_call(sandbox, c)
    ]


async def incident_with_items(sandbox: Sandbox, gh: GitHubAPI, settings: Settings) -> list[int]:
    """An incident planned on PLANNED; its two items, by number."""
    issue = sandbox.open_issue(REPO, title="Checkout outage", body=INCIDENT, labels=("incident",))
    result = await sync_incident(Scope(gh, context(settings, PLANNED), OWNER, NAME), dict(issue))
    return sorted(result.created)


def edit_item(sandbox: Sandbox, number: int, **changes: Any) -> None:
    body = sandbox.issue(REPO, number)["body"]
    item = parse_item(body).item
    assert item is not None
    sandbox.update_issue(REPO, number, body=replace_item_in_body(body, replace(item, **changes)))


# --- weekly review ---------------------------------------------------------------------------


async def test_an_overdue_item_gets_one_comment_a_week(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings
) -> None:
    late, fine = await incident_with_items(sandbox, gh, settings)
    edit_item(sandbox, late, owner="alice", verifier="bob", evidence=(PROOF,))
    edit_item(
        sandbox,
        fine,
        owner="carol",
        verifier="dave",
        evidence=(PROOF,),
        due=date(2026, 12, 1),
        adoption_check=date(2026, 12, 15),
        status="in_progress",
    )

    monday = datetime(2026, 11, 9, 9, tzinfo=UTC)
    report = await weekly_review.run(Scope(gh, context(settings, monday), OWNER, NAME))
    assert (report.period, report.flagged, report.written) == ("2026-W46", (late,), (late,))
    (comment,) = marked(sandbox, late, "hardening-bot:weekly-review")
    assert comment["body"].startswith("<!-- hardening-bot:weekly-review 2026-W46 -->")
    assert "@alice: this item came up" in comment["body"]
    assert "**Overdue**: due 2026-11-07, still `open`" in comment["body"]
    assert comment["user"]["login"] == BOT
    assert marked(sandbox, fine, "hardening-bot:weekly-review") == []

    # Again the same day, and later the same week: nothing is written.
    for when in (monday, datetime(2026, 11, 13, 17, tzinfo=UTC)):
        sandbox.reset_calls()
        report = await weekly_review.run(Scope(gh, context(settings, when), OWNER, NAME))
        assert report.written == ()
        assert writes(sandbox) == []

    # A change to the item during the week edits the same comment (and the tracking comment,
    # whose ownership window now misses a verifier).
    edit_item(sandbox, late, verifier=None)
    sandbox.reset_calls()
    await weekly_review.run(Scope(gh, context(settings, monday), OWNER, NAME))
    assert {m for m, _ in writes(sandbox)} == {"PATCH"}
    (edited,) = marked(sandbox, late, "hardening-bot:weekly-review")
    assert edited["id"] == comment["id"] and "**Blocked: ownership**" in edited["body"]

    # Next week, a new comment: the owner hears about it again.
    report = await weekly_review.run(
        Scope(gh, context(settings, datetime(2026, 11, 16, 9, tzinfo=UTC)), OWNER, NAME)
    )
    assert report.period == "2026-W47"
    weeks = marked(sandbox, late, "hardening-bot:weekly-review")
    assert [c["body"].splitlines()[0] for c in weeks] == [
        "<!-- hardening-bot:weekly-review 2026-W46 -->",
        "<!-- hardening-bot:weekly-review 2026-W47 -->",
    ]


async def test_the_tracking_comment_turns_overdue_without_anyone_editing(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings
) -> None:
    items = await incident_with_items(sandbox, gh, settings)
    for number in items:
        edit_item(sandbox, number, owner="alice", verifier="bob", evidence=(PROOF,))
    (tracking,) = marked(sandbox, 1, "hardening-bot:tracking")
    assert "**overdue**" not in tracking["body"]

    friday = datetime(2026, 11, 6, 9, tzinfo=UTC)
    report = await weekly_review.run(Scope(gh, context(settings, friday), OWNER, NAME))
    assert report.tracking == (1,) and report.flagged == ()
    (tracking,) = marked(sandbox, 1, "hardening-bot:tracking")
    assert "**overdue**" not in tracking["body"]

    sunday = datetime(2026, 11, 8, 9, tzinfo=UTC)
    await weekly_review.run(Scope(gh, context(settings, sunday), OWNER, NAME))
    (tracking,) = marked(sandbox, 1, "hardening-bot:tracking")
    assert tracking["body"].count("due 2026-11-07 **overdue**") == 2


async def test_verified_and_retired_items_are_left_alone(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings
) -> None:
    done, retired = await incident_with_items(sandbox, gh, settings)
    edit_item(sandbox, done, status="verified", evidence=())
    edit_item(sandbox, retired, status="retired", retired_rationale="duplicates a gate")
    sandbox.reset_calls()
    report = await weekly_review.run(
        Scope(gh, context(settings, datetime(2026, 11, 9, 9, tzinfo=UTC)), OWNER, NAME)
    )
    assert (report.flagged, report.tracking) == ((), ())
    assert writes(sandbox) == []


# --- monthly audit ---------------------------------------------------------------------------

DECEMBER = datetime(2026, 12, 1, 9, tzinfo=UTC)
LATER = date(2027, 1, 15)  # an adoption check still ahead: not a retire candidate yet


async def test_a_departed_owner_is_flagged_once_a_month(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings
) -> None:
    gone, kept = await incident_with_items(sandbox, gh, settings)
    sandbox.set_permission(REPO, "bob", "write")
    sandbox.set_permission(REPO, "carol", "maintain")
    sandbox.add_user("dave")  # a GitHub user, but no longer a collaborator here: 404
    edit_item(sandbox, gone, owner="dave", verifier="bob")
    edit_item(sandbox, kept, owner="carol", verifier="bob")

    report = await monthly_audit.run(Scope(gh, context(settings, DECEMBER), OWNER, NAME))
    assert (report.period, report.flagged, report.written) == ("2026-12", (gone,), (gone,))
    (comment,) = marked(sandbox, gone, "hardening-bot:monthly-audit")
    body = comment["body"]
    assert body.startswith("<!-- hardening-bot:monthly-audit 2026-12 -->")
    assert "execution owner `dave` is no longer a collaborator" in body
    assert "reassign: `/harden owner @user`" in body
    assert "@bob: this month's control audit" in body and "@dave" not in body

    sandbox.reset_calls()
    report = await monthly_audit.run(
        Scope(gh, context(settings, datetime(2026, 12, 20, tzinfo=UTC)), OWNER, NAME)
    )
    assert report.written == () and writes(sandbox) == []
    # Owners were looked up once each; no verified item, so branch protection was not read.
    looked = [c.path for c in sandbox.calls if "/collaborators/" in c.path]
    assert sorted(looked) == [
        f"/repos/{REPO}/collaborators/{u}/permission" for u in ("bob", "carol", "dave")
    ]
    assert not [c for c in sandbox.calls if "/protection/" in c.path]


def verified_item(sandbox: Sandbox, number: int, repo: str = REPO, **changes: Any) -> None:
    body = sandbox.issue(repo, number)["body"]
    item = parse_item(body).item
    assert item is not None
    item = replace(
        item,
        owner="alice",
        verifier="bob",
        status="verified",
        verified_by="bob",
        evidence=(PROOF,),
        **changes,
    )
    sandbox.update_issue(repo, number, body=replace_item_in_body(body, item))


ANY_SOURCE = "`hardening/controls` is required on `main` from any source"


@pytest.mark.parametrize(
    ("protect", "source", "expected"),
    [
        (None, None, "`main` requires no status checks, so `hardening/controls` is not required"),
        (["ci/test"], None, "`hardening/controls` is not a required status check on `main`"),
        (["ci/test", "hardening/controls"], "app", None),
        # Required, but GitHub accepts it from any source, or from another App.
        (["ci/test", "hardening/controls"], None, ANY_SOURCE),
        (["ci/test", "hardening/controls"], -1, ANY_SOURCE),
        (["ci/test", "hardening/controls"], 999, ANY_SOURCE),
        # A server that lists only contexts says nothing of sources.
        (["ci/test", "hardening/controls"], "unsaid", None),
    ],
)
async def test_required_checks_of_the_default_branch(
    sandbox: Sandbox,
    repo: str,
    gh: GitHubAPI,
    settings: Settings,
    protect: list[str] | None,
    source: int | str | None,
    expected: str | None,
) -> None:
    number, other = await incident_with_items(sandbox, gh, settings)
    for login in ("alice", "bob"):
        sandbox.set_permission(REPO, login, "write")
    verified_item(sandbox, number, adoption_check=LATER)
    edit_item(sandbox, other, status="retired", retired_rationale="duplicate")
    if protect is not None:
        app_id = settings.app_id if source == "app" else source
        checks = [{"context": c, "app_id": app_id} for c in protect]
        sandbox.protect_branch(REPO, "main", contexts=protect, checks=checks)
        if source == "unsaid":
            sandbox.world.repo(REPO).protections["main"]["checks"] = []
    report = await monthly_audit.run(Scope(gh, context(settings, DECEMBER), OWNER, NAME))
    comments = marked(sandbox, number, "hardening-bot:monthly-audit")
    if expected is None:
        assert report.flagged == () and comments == []
    else:
        (comment,) = comments
        assert expected in comment["body"]
        assert "@alice @bob: this month's control audit" in comment["body"]


async def test_unreadable_branch_protection_is_reported_not_failed(
    sandbox: Sandbox, gh: GitHubAPI, settings: Settings, github: GitHubApp
) -> None:
    # An installation that was not granted the optional administration permission.
    sandbox.add_installation(
        "acme",
        id=77,
        permissions={
            "issues": "write",
            "pull_requests": "write",
            "checks": "write",
            "contents": "read",
            "metadata": "read",
            "members": "read",
        },
    )
    sandbox.add_repo("acme/svc", installation_id=77)
    sandbox.set_permission("acme/svc", "alice", "write")
    sandbox.set_permission("acme/svc", "bob", "write")
    issue = sandbox.open_issue(
        "acme/svc", title="Checkout outage", body=INCIDENT, labels=("incident",)
    )
    acme = await github.installation_api(77)
    created = await sync_incident(
        Scope(acme, context(settings, PLANNED), "acme", "svc"), dict(issue)
    )
    first, second = sorted(created.created)
    # Adoption stayed low past the check date: a retire candidate.
    verified_item(sandbox, first, repo="acme/svc", adoption_check=date(2026, 11, 20))
    verified_item(sandbox, second, repo="acme/svc", adoption_check=LATER)

    report = await monthly_audit.run(Scope(acme, context(settings, DECEMBER), "acme", "svc"))
    assert report.flagged == (first,)
    assert report.notes == (
        "Could not read branch protection; grant administration: read to audit required checks.",
    )
    (comment,) = marked(sandbox, first, "hardening-bot:monthly-audit", repo="acme/svc")
    assert "**Retire or re-verify**" in comment["body"]
    assert "`/harden retire RATIONALE`" in comment["body"]
    assert "> Could not read branch protection; grant administration: read" in comment["body"]
    protection = [c for c in sandbox.calls if "/protection/" in c.path]
    assert [c.status for c in protection] == [403]


async def test_other_branch_protection_errors_fail_the_run(
    sandbox: Sandbox, repo: str, settings: Settings
) -> None:
    async def no_wait(seconds: float) -> None:
        return None

    github = GitHubApp(settings, sleep=no_wait)
    try:
        gh = await github.installation_api(INSTALLATION_ID)
        number, _ = await incident_with_items(sandbox, gh, settings)
        verified_item(sandbox, number, adoption_check=LATER)
        sandbox.inject("GET", r"/protection/required_status_checks$", status=500, times=None)
        with pytest.raises(gidgethub.GitHubException):
            await monthly_audit.run(Scope(gh, context(settings, DECEMBER), OWNER, NAME))
    finally:
        await github.close()


async def test_a_failed_owner_lookup_fails_the_run(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings
) -> None:
    from bot.permissions import PermissionLookupError

    number, _ = await incident_with_items(sandbox, gh, settings)
    edit_item(sandbox, number, owner="alice", verifier="bob")
    sandbox.inject(
        "GET",
        r"/collaborators/alice/permission$",
        status=403,
        body={"message": "Resource not accessible by integration"},
    )
    with pytest.raises(PermissionLookupError):
        await monthly_audit.run(Scope(gh, context(settings, DECEMBER), OWNER, NAME))


# --- run-job ---------------------------------------------------------------------------------


async def test_run_job_for_operators(
    sandbox: Sandbox, repo: str, gh: GitHubAPI, settings: Settings
) -> None:
    late, _ = await incident_with_items(sandbox, gh, settings)
    edit_item(sandbox, late, owner="alice", verifier="bob")
    when = datetime(2026, 11, 9, 9, tzinfo=UTC).timestamp()

    out = io.StringIO()
    code = await run_job(
        settings, "weekly-review", OWNER, NAME, dry_run=True, clock=lambda: when, out=out
    )
    assert code == 0
    assert "weekly-review 2026-W46 of octo/repo" in out.getvalue()
    # The tracking comment turns overdue, each item gets its review comment, and the Hardening
    # ledger is opened (its label, then the issue).
    assert "dry run: 5 write(s) not sent" in out.getvalue()
    assert '"title": "Hardening ledger"' in out.getvalue()
    assert marked(sandbox, late, "hardening-bot:weekly-review") == []

    out = io.StringIO()
    assert await run_job(settings, "weekly-review", OWNER, NAME, clock=lambda: when, out=out) == 0
    assert len(marked(sandbox, late, "hardening-bot:weekly-review")) == 1

    out = io.StringIO()
    assert await run_job(settings, "monthly-audit", "octo", "nowhere", out=out) == 1
    assert out.getvalue() == "the App is not installed on octo/nowhere\n"


def test_run_job_is_a_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.__main__ import main

    with pytest.raises(SystemExit) as exit_info:
        main(["run-job", "weekly-review", "not-a-repository"])
    assert exit_info.value.code == 2
    assert "repository must be OWNER/REPO" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["run-job", "quarterly-review", "octo/repo"])
    assert "invalid choice: 'quarterly-review'" in capsys.readouterr().err
