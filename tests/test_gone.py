"""bot.gone: which objects a delivery is about (its 404s finish it instead of retrying)."""

from __future__ import annotations

from bot.gone import own_objects

REPO = {"full_name": "octo/repo"}


def test_a_comment_delivery_is_about_its_comment_then_its_issue():
    payload = {"repository": REPO, "comment": {"id": 9}, "issue": {"number": 4}}
    assert own_objects("issue_comment", payload) == [
        ("comment 9", "/repos/octo/repo/issues/comments/9"),
        ("issue #4", "/repos/octo/repo/issues/4"),
    ]


def test_issue_and_pull_request_deliveries():
    assert own_objects("issues", {"repository": REPO, "issue": {"number": 4}}) == [
        ("issue #4", "/repos/octo/repo/issues/4")
    ]
    assert own_objects("pull_request", {"repository": REPO, "pull_request": {"number": 5}}) == [
        ("pull request #5", "/repos/octo/repo/pulls/5")
    ]


def test_malformed_payloads_name_nothing():
    assert own_objects("issues", {"issue": {"number": 4}}) == []
    assert own_objects("issues", {"repository": REPO, "issue": {"number": "4"}}) == []
    assert own_objects("issue_comment", {"repository": REPO, "comment": {"id": True}}) == []
    assert own_objects("push", {"repository": REPO, "issue": {"number": 4}}) == []
