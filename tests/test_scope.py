"""bot.scope: one repository with its client and context, as the handlers and jobs take it."""

from __future__ import annotations

import pytest
from aiohttp import web
from conftest import OWNER, REPO, handler_api

from bot.records import Trust
from bot.scope import Scope
from sandbox import Sandbox


async def test_a_scope_of_a_payload_names_its_repository(
    repo: str, bot_app: web.Application
) -> None:
    gh, ctx = await handler_api(bot_app)
    scope = Scope.of_payload(gh, ctx, {"repository": {"full_name": "Octo/Service"}})
    assert (scope.owner, scope.repo, scope.full_name) == ("Octo", "Service", "Octo/Service")
    assert scope.gh is gh and scope.ctx is ctx
    with pytest.raises(KeyError):
        Scope.of_payload(gh, ctx, {"issue": {"number": 1}})


async def test_a_scope_reads_with_the_apps_trust_and_its_repositorys_config(
    sandbox: Sandbox, repo: str, bot_app: web.Application, trust: Trust
) -> None:
    sandbox.put_file(repo, ".github/hardening.yml", "mode: enforce\n")
    gh, ctx = await handler_api(bot_app)
    scope = Scope(gh, ctx, OWNER, REPO.partition("/")[2])
    assert scope.trust == trust
    result = await scope.config()
    assert result.errors == () and result.config.mode == "enforce"
    # Read once per delivery: the same object again, without asking GitHub.
    reads = len(sandbox.calls)
    assert await scope.config() is result
    assert len(sandbox.calls) == reads
