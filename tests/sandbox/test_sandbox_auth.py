"""The sandbox authenticates like GitHub: App JWTs on /app, installation tokens elsewhere."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from conftest import Clock
from gidgethub import apps
from gidgethub.aiohttp import GitHubAPI
from test_sandbox_support import (
    INSTALLATION,
    OTHER_INSTALLATION,
    OTHER_REPO,
    REPO,
    Api,
    app_jwt,
    seeded,
)

from sandbox import Sandbox, generate_app_key
from sandbox.render import iso


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_token(client: TestClient, jwt_token: str, body: object = None) -> tuple[int, dict]:
    response = await client.post(
        f"/app/installations/{INSTALLATION}/access_tokens", json=body, headers=bearer(jwt_token)
    )
    return response.status, await response.json()


async def test_app_jwt_reads_the_app_and_mints_an_hour_long_token(
    client: TestClient, app_keys: tuple[str, str], clock: Clock
) -> None:
    token = app_jwt(app_keys[0], now=clock.now)
    response = await client.get("/app", headers=bearer(token))
    assert response.status == 200
    assert (await response.json())["slug"] == "hardening-bot"

    status, body = await new_token(client, token)
    assert status == 201
    assert body["token"].startswith("ghs_")
    assert body["expires_at"] == iso(clock.now + 3600)
    assert body["permissions"]["issues"] == "write"

    api = Api(client, body["token"])
    assert (await api.get(f"/repos/{REPO}/issues"))[0] == 200


async def test_tokens_expire_after_an_hour_on_the_sandbox_clock(
    client: TestClient, sb: Sandbox, clock: Clock
) -> None:
    api = Api(client, sb.installation_token(INSTALLATION))
    clock.advance(3599)
    assert (await api.get(f"/repos/{REPO}"))[0] == 200
    clock.advance(2)
    status, _, body = await api.get(f"/repos/{REPO}")
    assert status == 401
    assert body == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }


@pytest.mark.parametrize("scheme", ["token", "Bearer"])
async def test_installation_token_accepted_as_token_or_bearer(
    client: TestClient, sb: Sandbox, scheme: str
) -> None:
    token = sb.installation_token(INSTALLATION)
    response = await client.get(f"/repos/{REPO}", headers={"Authorization": f"{scheme} {token}"})
    assert response.status == 200


async def test_unknown_token_is_bad_credentials(client: TestClient) -> None:
    response = await client.get(f"/repos/{REPO}", headers={"Authorization": "token ghs_nope"})
    assert response.status == 401
    assert (await response.json())["message"] == "Bad credentials"


async def test_installation_token_cannot_call_app_routes(client: TestClient, sb: Sandbox) -> None:
    api = Api(client, sb.installation_token(INSTALLATION))
    status, _, body = await api.get("/app")
    assert status == 401
    assert body["message"] == "A JSON web token could not be decoded"


async def test_jwt_cannot_call_repository_routes(
    client: TestClient, app_keys: tuple[str, str], clock: Clock
) -> None:
    response = await client.get(
        f"/repos/{REPO}/issues", headers=bearer(app_jwt(app_keys[0], now=clock.now))
    )
    assert response.status == 403
    assert (await response.json())["message"] == "Resource not accessible by integration"


async def test_jwt_may_read_a_repositorys_installation(
    client: TestClient, app_keys: tuple[str, str], clock: Clock
) -> None:
    response = await client.get(
        f"/repos/{REPO}/installation", headers=bearer(app_jwt(app_keys[0], now=clock.now))
    )
    assert response.status == 200
    assert (await response.json())["id"] == INSTALLATION


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"iss": "2"}, "'Issuer' claim"),
        ({"exp": 0}, "'Expiration time' claim ('exp') must be"),
        ({"exp": "soon"}, "'Expiration time' claim ('exp') must be"),
        ({"offset_exp": 3600}, "too far in the future"),
        ({"offset_iat": 300}, "'Issued at' claim"),
    ],
)
async def test_bad_jwts_are_refused(
    client: TestClient, app_keys: tuple[str, str], clock: Clock, claims: dict, message: str
) -> None:
    claims = dict(claims)
    if "offset_exp" in claims:
        claims["exp"] = int(clock.now) + claims.pop("offset_exp")
    if "offset_iat" in claims:
        claims["iat"] = int(clock.now) + claims.pop("offset_iat")
    response = await client.get(
        "/app", headers=bearer(app_jwt(app_keys[0], now=clock.now, **claims))
    )
    assert response.status == 401
    assert message in (await response.json())["message"]


async def test_jwt_signed_with_another_key_is_refused(client: TestClient, clock: Clock) -> None:
    other_private, _ = generate_app_key()
    response = await client.get("/app", headers=bearer(app_jwt(other_private, now=clock.now)))
    assert response.status == 401
    assert (await response.json())["message"] == "A JSON web token could not be decoded"


async def test_token_reaches_only_its_installations_repositories(
    client: TestClient, sb: Sandbox
) -> None:
    api = Api(client, sb.installation_token(INSTALLATION))
    status, _, body = await api.get(f"/repos/{OTHER_REPO}/issues")
    assert (status, body["message"]) == (404, "Not Found")
    other = Api(client, sb.installation_token(OTHER_INSTALLATION))
    assert (await other.get(f"/repos/{OTHER_REPO}/issues"))[0] == 200
    assert (await other.post(f"/repos/{REPO}/issues", {"title": "x"}))[0] == 404


async def test_token_limited_to_named_repositories(
    client: TestClient, sb: Sandbox, app_keys: tuple[str, str], clock: Clock
) -> None:
    sb.add_repo("octo/other", installation_id=INSTALLATION)
    status, body = await new_token(
        client, app_jwt(app_keys[0], now=clock.now), {"repositories": ["service"]}
    )
    assert status == 201
    assert body["repository_selection"] == "selected"
    assert [r["full_name"] for r in body["repositories"]] == [REPO]
    api = Api(client, body["token"])
    assert (await api.get(f"/repos/{REPO}"))[0] == 200
    assert (await api.get("/repos/octo/other"))[0] == 404


async def test_token_cannot_ask_for_more_than_the_installation_has(
    client: TestClient, app_keys: tuple[str, str], clock: Clock
) -> None:
    status, body = await new_token(
        client, app_jwt(app_keys[0], now=clock.now), {"permissions": {"workflows": "write"}}
    )
    assert status == 422
    assert "not granted" in body["message"]


async def test_token_for_unknown_installation_is_404(
    client: TestClient, app_keys: tuple[str, str], clock: Clock
) -> None:
    response = await client.post(
        "/app/installations/999/access_tokens", headers=bearer(app_jwt(app_keys[0], now=clock.now))
    )
    assert response.status == 404


async def test_missing_app_permission_is_resource_not_accessible(
    client: TestClient, sb: Sandbox, app_keys: tuple[str, str], clock: Clock
) -> None:
    status, body = await new_token(
        client, app_jwt(app_keys[0], now=clock.now), {"permissions": {"issues": "read"}}
    )
    assert status == 201
    api = Api(client, body["token"])
    assert (await api.get(f"/repos/{REPO}/issues"))[0] == 200
    status, _, err = await api.post(f"/repos/{REPO}/issues", {"title": "x"})
    assert (status, err["message"]) == (403, "Resource not accessible by integration")
    status, _, _ = await api.get("/orgs/octo/teams/reliability-leads/memberships/carol")
    assert status == 403


async def test_anonymous_callers_read_public_repositories_only(client: TestClient) -> None:
    response = await client.get(f"/repos/{REPO}/issues")
    assert response.status == 200
    assert response.headers["x-ratelimit-limit"] == "60"
    response = await client.post(f"/repos/{REPO}/issues", json={"title": "x"})
    assert response.status == 401
    assert (await response.json())["message"] == "Requires authentication"
    assert (await client.get(f"/repos/{OTHER_REPO}")).status == 404


async def test_gidgethub_app_flow_against_a_served_sandbox(
    aiohttp_server: Callable[..., Awaitable[TestServer]], app_keys: tuple[str, str]
) -> None:
    sb = seeded(app_keys[1])
    server = await aiohttp_server(sb.app)
    base = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        gh = GitHubAPI(session, "hardening-bot-test", base_url=base)
        token = await apps.get_installation_access_token(
            gh, installation_id=str(INSTALLATION), app_id="1", private_key=app_keys[0]
        )
        bot = GitHubAPI(session, "hardening-bot-test", oauth_token=token["token"], base_url=base)
        issue = await bot.post(f"/repos/{REPO}/issues", data={"title": "Hardening item"})
    assert issue["user"]["login"] == "hardening-bot[bot]"
    assert issue["url"].startswith(base)
    assert [c.operation for c in sb.calls] == [
        "apps/create-installation-access-token",
        "issues/create",
    ]
