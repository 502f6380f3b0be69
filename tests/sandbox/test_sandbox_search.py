"""Issue search with the qualifiers the bot uses."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient
from test_sandbox_support import HEAD, OTHER_INSTALLATION, OTHER_REPO, REPO, Api

from sandbox import Sandbox
from sandbox.search import parse


@pytest.fixture
def sb(sb: Sandbox) -> Sandbox:
    sb.open_issue(REPO, title="DB outage", body="Root cause: late decision", labels=["incident"])
    sb.open_issue(
        REPO,
        title="Hardening: alert on lag",
        body="- Incident reference: #1\n- Failure class: missed-detection",
        labels=["hardening", "failure-class:missed-detection"],
        user="bob",
    )
    sb.open_issue(REPO, title="Unlabelled question", body="how do I?")
    sb.open_pull(
        REPO,
        title="Add lag alert",
        body="Hardens #2",
        head_sha=HEAD,
        labels=["failure-class:missed-detection"],
    )
    sb.update_issue(REPO, 3, state="closed")
    sb.open_issue(OTHER_REPO, title="secret incident", labels=["incident"])
    return sb


async def found(api: Api, q: str, **params: str) -> list[int]:
    status, _, body = await api.get("/search/issues", params={"q": q, **params})
    assert status == 200, body
    assert body["total_count"] >= len(body["items"])
    assert body["incomplete_results"] is False
    return sorted(i["number"] for i in body["items"])


@pytest.mark.parametrize(
    ("q", "numbers"),
    [
        (f"repo:{REPO}", [1, 2, 3, 4]),
        (f"repo:{REPO} is:issue", [1, 2, 3]),
        (f"repo:{REPO} is:pr", [4]),
        (f"repo:{REPO} type:pr is:open", [4]),
        (f"repo:{REPO} state:closed", [3]),
        (f"repo:{REPO} is:issue is:open label:incident", [1]),
        (f'repo:{REPO} label:"failure-class:missed-detection"', [2, 4]),
        (f"repo:{REPO} label:hardening label:failure-class:missed-detection", [2]),
        (f"repo:{REPO} -label:incident is:issue", [2, 3]),
        (f"repo:{REPO} no:label", [3]),
        (f'repo:{REPO} in:body "Incident reference: #1"', [2]),
        (f'repo:{REPO} in:body "late decision"', [1]),
        (f'repo:{REPO} in:title "late decision"', []),
        (f"repo:{REPO} lag alert", [2, 4]),
        (f"repo:{REPO} lag -hardening", [4]),
        (f"repo:{REPO} author:bob", [2]),
        ("org:octo label:incident", [1]),
        ("label:incident", [1]),
    ],
)
async def test_qualifiers(api: Api, q: str, numbers: list[int]) -> None:
    assert await found(api, q) == numbers


async def test_comments_are_searched_unless_scoped_out(api: Api, sb: Sandbox) -> None:
    sb.add_comment(REPO, 3, "/harden verify please")
    assert await found(api, f'repo:{REPO} "harden verify"') == [3]
    assert await found(api, f'repo:{REPO} in:body "harden verify"') == []


async def test_private_repositories_of_other_installations_are_invisible(
    api: Api, client: TestClient, sb: Sandbox
) -> None:
    status, _, body = await api.get("/search/issues", params={"q": f"repo:{OTHER_REPO}"})
    assert status == 422
    assert body["errors"][0]["field"] == "q"
    other = Api(client, sb.installation_token(OTHER_INSTALLATION))
    assert await found(other, "label:incident") == [1, 1]  # its own private one, and octo's


async def test_missing_query_is_422(api: Api) -> None:
    status, _, body = await api.get("/search/issues")
    assert status == 422
    assert body["errors"] == [{"resource": "Search", "field": "q", "code": "missing"}]


async def test_results_are_paginated_and_sorted(api: Api) -> None:
    status, headers, body = await api.get(
        "/search/issues",
        params={"q": f"repo:{REPO}", "per_page": "3", "sort": "created", "order": "asc"},
    )
    assert status == 200
    assert body["total_count"] == 4
    assert [i["number"] for i in body["items"]] == [1, 2, 3]
    assert 'rel="next"' in headers["Link"]
    assert body["items"][0]["score"] == 1.0


def test_parse_keeps_quoted_values_and_negations() -> None:
    query = parse('repo:Octo/Service label:"a b" -label:c in:title,body "x y" z')
    assert query.repos == ["octo/service"]
    assert query.labels == ["a b"]
    assert query.not_labels == ["c"]
    assert query.scopes == {"title", "body"}
    assert query.terms == ["x y", "z"]
