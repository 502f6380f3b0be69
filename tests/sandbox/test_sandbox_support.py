"""Helpers shared by the sandbox's own tests (no tests here).

A seeded world, App JWTs minted the way an App mints them, and a thin client that sends
installation-token requests to the sandbox and returns status, headers and JSON. The fixtures
built on them (``clock``, ``sb``, ``client``, ``api``) are in ``conftest.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
from aiohttp.test_utils import TestClient

from sandbox import Sandbox

APP_ID = 1
INSTALLATION = 42
OTHER_INSTALLATION = 77
REPO = "octo/service"
OTHER_REPO = "elsewhere/tool"
HEAD = "a" * 40


def seeded(public_pem: str, clock: Callable[[], float] = time.time) -> Sandbox:
    """Two installations, a repository each, people with roles, a team and a config file."""
    sb = Sandbox(app_id=APP_ID, public_key_pem=public_pem, clock=clock)
    sb.add_installation("octo", id=INSTALLATION)
    sb.add_repo(REPO, installation_id=INSTALLATION)
    sb.add_installation("elsewhere", id=OTHER_INSTALLATION)
    sb.add_repo(OTHER_REPO, installation_id=OTHER_INSTALLATION, private=True)
    sb.add_user("alice")
    sb.add_user("bob")
    sb.set_permission(REPO, "alice", "maintain")
    sb.set_permission(REPO, "bob", "triage")
    sb.add_team("octo", "reliability-leads", members=["carol"])
    sb.put_file(REPO, ".github/hardening.yml", "mode: warn\n")
    return sb


def app_jwt(private_pem: str, *, now: float | None = None, **claims: Any) -> str:
    """An App JWT like gidgethub/githubkit make: iat now, exp in ten minutes, iss = App id."""
    now = time.time() if now is None else now
    payload = {"iat": int(now), "exp": int(now) + 600, "iss": str(APP_ID)}
    payload.update(claims)
    return jwt.encode(payload, private_pem, algorithm="RS256")


class Api:
    """Requests with an installation token; each returns ``(status, headers, json)``."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        out = {
            "Authorization": f"token {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        out.update(extra or {})
        return out

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any, Any]:
        response = await self.client.request(
            method, path, json=body, headers=self.headers(headers), params=params
        )
        raw = await response.read()
        data = await response.json() if raw else None
        return response.status, response.headers, data

    async def get(self, path: str, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("POST", path, body, **kw)

    async def patch(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("PATCH", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any, Any]:
        return await self.call("DELETE", path, **kw)
