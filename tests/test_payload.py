"""rules.payload: the repository of a webhook payload, whatever shape the payload has."""

from __future__ import annotations

from typing import Any

import pytest

from rules.payload import repository_full_name, repository_owner_and_name

REPOSITORY = {"full_name": "Octo/Repo", "name": "Repo", "owner": {"login": "Octo"}}


def test_a_payload_names_its_repository() -> None:
    payload = {"action": "opened", "repository": REPOSITORY}
    assert repository_full_name(payload) == "Octo/Repo"
    assert repository_owner_and_name(payload) == ("Octo", "Repo")


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"repository": None},
        {"repository": "octo/repo"},
        {"repository": {"full_name": 7, "name": 7, "owner": "octo"}},
        {"repository": {"name": "", "owner": {"login": "octo"}}},
    ],
)
def test_a_payload_without_a_readable_repository_names_none(payload: dict[str, Any]) -> None:
    assert repository_full_name(payload) is None
    assert repository_owner_and_name(payload) is None
