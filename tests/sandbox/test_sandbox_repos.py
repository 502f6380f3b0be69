"""Repository reads: contents at a ref, collaborator permission, team membership, protection."""

from __future__ import annotations

import base64
import hashlib

import pytest
from aiohttp.test_utils import TestClient
from test_sandbox_support import HEAD, OTHER_REPO, REPO, Api

from sandbox import Sandbox

CONTENTS = f"/repos/{REPO}/contents"


def decoded(body: dict) -> str:
    assert body["encoding"] == "base64"
    return base64.b64decode(body["content"]).decode()


async def test_file_content_is_base64_with_the_git_blob_sha(api: Api) -> None:
    status, _, body = await api.get(f"{CONTENTS}/.github/hardening.yml")
    assert status == 200
    assert decoded(body) == "mode: warn\n"
    blob = b"mode: warn\n"
    assert body["sha"] == hashlib.sha1(b"blob %d\0" % len(blob) + blob).hexdigest()
    assert (body["type"], body["name"], body["size"]) == ("file", "hardening.yml", 11)


async def test_content_at_a_ref(api: Api, sb: Sandbox) -> None:
    sb.put_file(REPO, ".github/hardening.yml", "mode: enforce\n", ref="loosen")
    sb.put_file(REPO, "alerts/lag.yml", "x", ref=HEAD)
    _, _, main = await api.get(f"{CONTENTS}/.github/hardening.yml", params={"ref": "main"})
    _, _, branch = await api.get(f"{CONTENTS}/.github/hardening.yml", params={"ref": "loosen"})
    _, _, at_sha = await api.get(f"{CONTENTS}/.github/hardening.yml", params={"ref": HEAD})
    assert decoded(main) == "mode: warn\n"
    assert decoded(branch) == "mode: enforce\n"
    assert decoded(at_sha) == "mode: warn\n"  # unchanged files show through from the default
    assert (await api.get(f"{CONTENTS}/alerts/lag.yml"))[0] == 404
    assert (await api.get(f"{CONTENTS}/alerts/lag.yml", params={"ref": HEAD}))[0] == 200


async def test_missing_file_and_unknown_ref_are_404(api: Api, sb: Sandbox) -> None:
    status, _, body = await api.get(f"{CONTENTS}/nope.yml")
    assert (status, body["message"]) == (404, "Not Found")
    status, _, body = await api.get(f"{CONTENTS}/.github/hardening.yml", params={"ref": "gone"})
    assert (status, body["message"]) == (404, "No commit found for the ref gone")
    sb.put_file(REPO, ".github/hardening.yml", None, ref="deleted")
    status, _, _ = await api.get(f"{CONTENTS}/.github/hardening.yml", params={"ref": "deleted"})
    assert status == 404


async def test_directory_listing(api: Api, sb: Sandbox) -> None:
    sb.put_file(REPO, ".github/workflows/ci.yml", "on: push\n")
    status, _, body = await api.get(f"{CONTENTS}/.github")
    assert status == 200
    assert [(e["name"], e["type"]) for e in body] == [
        ("hardening.yml", "file"),
        ("workflows", "dir"),
    ]
    _, _, root = await api.get(f"{CONTENTS}/")
    assert [e["path"] for e in root] == [".github"]


@pytest.mark.parametrize(
    ("login", "permission", "role"),
    [("alice", "write", "maintain"), ("bob", "read", "triage"), ("dave", "admin", "admin")],
)
async def test_collaborator_permission_legacy_and_role(
    api: Api, sb: Sandbox, login: str, permission: str, role: str
) -> None:
    sb.set_permission(REPO, "dave", "admin")
    status, _, body = await api.get(f"/repos/{REPO}/collaborators/{login}/permission")
    assert status == 200
    assert (body["permission"], body["role_name"]) == (permission, role)
    assert body["user"]["login"] == login
    assert body["user"]["permissions"]["push"] is (permission in ("write", "admin"))


async def test_non_collaborators_are_404(api: Api, sb: Sandbox) -> None:
    sb.add_user("eve")
    assert (await api.get(f"/repos/{REPO}/collaborators/eve/permission"))[0] == 404
    status, _, body = await api.get(f"/repos/{REPO}/collaborators/ghost/permission")
    assert (status, body["message"]) == (404, "ghost is not a user")


async def test_owner_of_a_personal_repository_is_admin(client: TestClient, sb: Sandbox) -> None:
    sb.add_installation("zoe", id=5, account_type="User")
    sb.add_repo("zoe/dotfiles", installation_id=5)
    api = Api(client, sb.installation_token(5))
    _, _, body = await api.get("/repos/zoe/dotfiles/collaborators/zoe/permission")
    assert (body["permission"], body["role_name"]) == ("admin", "admin")


async def test_team_membership(api: Api, sb: Sandbox) -> None:
    sb.add_team("octo", "reliability-leads", maintainers=["frank"])
    path = "/orgs/octo/teams/reliability-leads/memberships"
    status, _, body = await api.get(f"{path}/carol")
    assert (status, body["role"], body["state"]) == (200, "member", "active")
    assert (await api.get(f"{path}/frank"))[2]["role"] == "maintainer"
    assert (await api.get(f"{path}/alice"))[0] == 404
    assert (await api.get("/orgs/octo/teams/nobody/memberships/carol"))[0] == 404
    sb.add_team("elsewhere", "leads", members=["carol"])
    assert (await api.get("/orgs/elsewhere/teams/leads/memberships/carol"))[0] == 404


async def test_required_status_checks(api: Api, sb: Sandbox) -> None:
    path = f"/repos/{REPO}/branches/main/protection/required_status_checks"
    status, _, body = await api.get(path)
    assert (status, body["message"]) == (404, "Branch not protected")
    sb.protect_branch(REPO, "main", contexts=["hardening/controls"], strict=True)
    status, _, body = await api.get(path)
    assert status == 200
    assert body["contexts"] == ["hardening/controls"]
    assert body["checks"] == [{"context": "hardening/controls", "app_id": None}]
    assert body["strict"] is True
    status, _, body = await api.get(
        f"/repos/{REPO}/branches/nope/protection/required_status_checks"
    )
    assert (status, body["message"]) == (404, "Branch not found")


async def test_repository(api: Api) -> None:
    status, _, body = await api.get(f"/repos/{REPO}")
    assert status == 200
    assert (body["full_name"], body["default_branch"], body["private"]) == (REPO, "main", False)
    assert body["owner"]["type"] == "Organization"
    assert (await api.get(f"/repos/{OTHER_REPO}"))[0] == 404
    assert (await api.get("/repos/octo/missing"))[0] == 404
