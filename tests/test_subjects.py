"""subject_for: an incident and its hardening issues share one ordering key."""

from __future__ import annotations

from typing import Any

import pytest

from bot.subjects import incident_of, subject_for

REPO = {"full_name": "Octo/Repo"}
INSTALLATION = {"id": 7}


def issue_payload(number: int, body: str | None = None, **extra: Any) -> dict[str, Any]:
    issue = {"number": number, "body": body, **extra}
    return {"action": "opened", "issue": issue, "repository": REPO, "installation": INSTALLATION}


def test_plain_issue_keyed_by_its_number() -> None:
    assert subject_for("issues", issue_payload(5, "Something broke")) == "octo/repo#5"


def test_issue_with_empty_body() -> None:
    assert subject_for("issues", issue_payload(5, None)) == "octo/repo#5"


HARDENING_BODY = """### Hardening Item
- Incident reference: #12
- Failure class: missed-detection
- Status: open
"""


def test_hardening_issue_shares_the_incident_key() -> None:
    assert subject_for("issues", issue_payload(31, HARDENING_BODY)) == "octo/repo#12"
    incident = issue_payload(12, "## Findings\n- missed detection: no alert")
    assert subject_for("issues", incident) == "octo/repo#12"


def test_marker_wins_over_the_edited_template_line() -> None:
    body = (
        "<!-- hardening-bot:item incident=12 finding=abc123 -->\n"
        "### Hardening Item\n- Incident reference: #99\n"
    )
    assert subject_for("issues", issue_payload(31, body)) == "octo/repo#12"


def test_marker_alone() -> None:
    body = "<!-- hardening-bot:item incident=8 finding=missed-detection:1 -->"
    assert subject_for("issues", issue_payload(40, body)) == "octo/repo#8"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("- Incident reference: #12", "octo/repo#12"),
        ("* incident reference:#12", "octo/repo#12"),
        ("- **Incident reference:** #12", "octo/repo#12"),
        ("- Incident reference: Octo/Other#3", "octo/other#3"),
        ("- Incident reference: https://github.com/octo/ops/issues/77", "octo/ops#77"),
        ("- Incident reference: TBD", "octo/repo#31"),
        ("Incident commander: #12", "octo/repo#31"),
        ("See incident reference #12 in prose", "octo/repo#31"),
    ],
)
def test_incident_reference_forms(line: str, key: str) -> None:
    assert subject_for("issues", issue_payload(31, f"### Hardening Item\n{line}\n")) == key


def test_comment_on_hardening_issue_goes_to_the_incident() -> None:
    payload = issue_payload(31, HARDENING_BODY)
    payload["comment"] = {"body": "/harden verify"}
    payload["action"] = "created"
    assert subject_for("issue_comment", payload) == "octo/repo#12"


def test_comment_on_pull_request_goes_to_the_pull_request() -> None:
    payload = issue_payload(9, "Hardens #31", pull_request={"url": "x"})
    payload["comment"] = {"body": "lgtm"}
    assert subject_for("issue_comment", payload) == "octo/repo#9"
    assert (
        subject_for(
            "pull_request", {"number": 9, "pull_request": {"number": 9}, "repository": REPO}
        )
        == "octo/repo#9"
    )


def test_pull_request_without_pull_request_object() -> None:
    assert subject_for("pull_request", {"number": 4, "repository": REPO}) == "octo/repo#4"


def test_check_run_with_pull_request() -> None:
    payload = {
        "check_run": {"head_sha": "abc", "pull_requests": [{"number": 8}, {"number": 3}]},
        "repository": REPO,
    }
    assert subject_for("check_run", payload) == "octo/repo#3"


def test_check_suite_without_pull_request_keyed_by_sha() -> None:
    payload = {"check_suite": {"head_sha": "deadbeef", "pull_requests": []}, "repository": REPO}
    assert subject_for("check_suite", payload) == "octo/repo@deadbeef"
    assert subject_for("check_suite", {"repository": REPO}) == "octo/repo"


def test_installation_events() -> None:
    assert subject_for("installation", {"installation": {"id": 42}}) == "installation:42"
    payload = {"installation": {"id": 42}, "repositories_added": []}
    assert subject_for("installation_repositories", payload) == "installation:42"


def test_repository_wide_and_unknown_events() -> None:
    assert subject_for("push", {"ref": "refs/heads/main", "repository": REPO}) == "octo/repo"
    assert subject_for("meta", {"installation": {"id": 3}}) == "installation:3"
    assert subject_for("weird", {}) == "weird"


def test_example_payloads_shapes() -> None:
    # Shapes as GitHub sends them (numbers as ints, bools are not numbers).
    assert subject_for("issues", {"issue": {"number": True}, "repository": REPO}) == "octo/repo"


def test_incident_of() -> None:
    assert incident_of(None) is None
    assert incident_of("nothing here") is None
    assert incident_of("- Incident reference: #4") == (None, 4)
    assert incident_of("<!-- hardening-bot:item incident=octo/x#4 finding=f -->") == ("octo/x", 4)
