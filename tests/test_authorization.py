"""Who may run which /harden command: the table of docs/scoring.md, checked exhaustively.

Every command x repository role x relation to the item (execution owner, verifier owner, both,
neither, item without owners) x lead x bot is decided by an independent restatement of the
table below and compared with ``authorize``.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rules import authorization as authz
from rules.model import HardeningItem

ITEM = HardeningItem(owner="alice", verifier="bob")
SAME_PERSON = HardeningItem(owner="alice", verifier="alice")
NO_OWNERS = HardeningItem()

RELATIONS = {
    # name: (actor, item)
    "execution-owner": ("alice", ITEM),
    "execution-owner-other-case": ("@ALICE", ITEM),
    "verifier-owner": ("bob", ITEM),
    "owner-and-verifier": ("alice", SAME_PERSON),
    "other": ("carol", ITEM),
    "other-on-unowned-item": ("carol", NO_OWNERS),
}
ROLES = [None, "read", "triage", "write", "maintain", "admin", "security-reviewer", "Write"]
WRITE_OR_MORE = {"write", "maintain", "admin"}


def expected(command: str, relation: str, role: str | None, lead: bool, bot: bool) -> bool:
    """docs/scoring.md#who-may-run-what, restated."""
    if bot:
        return False
    owner = relation in ("execution-owner", "execution-owner-other-case", "owner-and-verifier")
    verifier = relation in ("verifier-owner", "owner-and-verifier")
    writer = (role or "").lower() in WRITE_OR_MORE
    return {
        "verify": not owner and ((verifier and writer) or lead),
        "owner": writer,
        "verifier": writer,
        "due": writer,
        "evidence": writer or owner,
        "ack": owner,
        "retire": lead,
        "adopt": writer or lead,
        "defer": writer or lead,
        "risk": writer or lead,
        "override": lead,
        "status": True,
        "help": True,
    }[command]


CASES = list(itertools.product(authz.COMMANDS, RELATIONS, ROLES, (False, True), (False, True)))


@pytest.mark.parametrize(
    ("command", "relation", "role", "lead", "bot"),
    CASES,
    ids=["-".join(map(str, c)) for c in CASES],
)
def test_authorization_table(
    command: str, relation: str, role: str | None, lead: bool, bot: bool
) -> None:
    actor, item = RELATIONS[relation]
    decision = authz.authorize(
        command, actor=actor, role=role, is_lead=lead, item=item, actor_is_bot=bot
    )
    assert decision.allowed is expected(command, relation, role, lead, bot)
    assert decision.reason
    if not decision.allowed:
        # every refusal names who may run it
        assert authz.who_may(command, item) in decision.reason


@pytest.mark.parametrize(
    ("command", "relation", "lead", "bot"),
    list(itertools.product(authz.COMMANDS, RELATIONS, (False, True), (False, True))),
)
def test_role_lookup_skipped_only_when_it_cannot_matter(
    command: str, relation: str, lead: bool, bot: bool
) -> None:
    actor, item = RELATIONS[relation]
    if authz.needs_role(command, actor=actor, item=item):
        return
    answers = {
        authz.authorize(
            command, actor=actor, role=role, is_lead=lead, item=item, actor_is_bot=bot
        ).allowed
        for role in ROLES
    }
    assert len(answers) == 1


@pytest.mark.parametrize(
    ("command", "relation", "role", "bot"),
    list(itertools.product(authz.COMMANDS, RELATIONS, ROLES, (False, True))),
)
def test_lead_lookup_skipped_only_when_it_cannot_matter(
    command: str, relation: str, role: str | None, bot: bool
) -> None:
    if authz.needs_lead(command):
        return
    actor, item = RELATIONS[relation]
    answers = {
        authz.authorize(
            command, actor=actor, role=role, is_lead=lead, item=item, actor_is_bot=bot
        ).allowed
        for lead in (False, True)
    }
    assert len(answers) == 1


def test_needs_role() -> None:
    assert [c for c in authz.COMMANDS if authz.needs_role(c)] == [
        "verify",
        "owner",
        "verifier",
        "due",
        "evidence",
        "adopt",
        "defer",
        "risk",
    ]
    # Only the verifier owner's standing decides their /harden verify; anyone else needs a lead.
    assert authz.needs_role("verify", actor="bob", item=ITEM)
    assert not authz.needs_role("verify", actor="carol", item=ITEM)
    assert not authz.needs_role("evidence", actor="@Alice", item=ITEM)
    assert authz.needs_role("evidence", actor="bob", item=ITEM)
    assert [c for c in authz.COMMANDS if authz.needs_lead(c)] == [
        "verify",
        "retire",
        "adopt",
        "defer",
        "risk",
        "override",
    ]


def test_execution_owner_never_verifies_even_as_lead_and_admin() -> None:
    decision = authz.authorize(
        "verify", actor="alice", role="admin", is_lead=True, item=ITEM, actor_is_bot=False
    )
    assert decision == authz.Decision(
        False,
        "@alice is the execution owner and cannot verify their own item; `/harden verify` is "
        "for the verifier owner (@bob) holding write access or more, or a lead; never the "
        "execution owner (@alice)",
    )


@pytest.mark.parametrize(
    ("command", "actor", "role", "reason"),
    [
        (
            "owner",
            "carol",
            "triage",
            "`/harden owner` is for people with write, maintain or admin access to the repository; "
            "@carol has triage access",
        ),
        (
            "due",
            "carol",
            None,
            "`/harden due` is for people with write, maintain or admin access to the repository; "
            "@carol is not a collaborator",
        ),
        (
            "verifier",
            "carol",
            "security-reviewer",
            "`/harden verifier` is for people with write, maintain or admin access to the repository; "
            "@carol has the role `security-reviewer`, which is not write access",
        ),
        (
            "evidence",
            "carol",
            "read",
            "`/harden evidence` is for people with write access or more, or the execution owner "
            "(@alice); @carol has read access",
        ),
        ("ack", "bob", "admin", "`/harden ack` is for the execution owner (@alice)"),
        (
            "retire",
            "bob",
            "admin",
            "`/harden retire` is for a lead (`leads:` in .github/hardening.yml); @bob is not one",
        ),
        (
            "verify",
            "carol",
            "admin",
            "`/harden verify` is for the verifier owner (@bob) holding write access or more, or a "
            "lead; never the execution owner (@alice); @carol is neither",
        ),
        (
            "verify",
            "bob",
            "read",
            "@bob is the verifier owner but has read access; `/harden verify` is for the verifier "
            "owner (@bob) holding write access or more, or a lead; never the execution owner "
            "(@alice). A maintainer can give them write access, or name another verifier with "
            "`/harden verifier @user`",
        ),
        (
            "adopt",
            "carol",
            None,
            "`/harden adopt` is for people with write access or more, or a lead; @carol is not a "
            "collaborator and is not a lead",
        ),
    ],
)
def test_refusal_reasons(command: str, actor: str, role: str | None, reason: str) -> None:
    assert authz.authorize(
        command, actor=actor, role=role, is_lead=False, item=ITEM, actor_is_bot=False
    ) == authz.Decision(False, reason)


def test_bot_refusal_names_who_may() -> None:
    decision = authz.authorize(
        "status", actor="ci[bot]", role="admin", is_lead=True, item=ITEM, actor_is_bot=True
    )
    assert decision == authz.Decision(
        False, "@ci[bot] is a bot and bots never run `/harden status`; it is for anyone"
    )


def test_ack_without_an_owner_says_how_to_get_one() -> None:
    decision = authz.authorize(
        "ack", actor="carol", role="admin", is_lead=True, item=NO_OWNERS, actor_is_bot=False
    )
    assert not decision.allowed
    assert "the execution owner (none set yet)" in decision.reason
    assert "`/harden owner @user`" in decision.reason


def test_unknown_command() -> None:
    decision = authz.authorize(
        "launch", actor="carol", role="admin", is_lead=True, item=ITEM, actor_is_bot=False
    )
    assert decision == authz.Decision(
        False, "`/harden launch` is not a command; `/harden help` lists them"
    )


def test_allowed_reasons_say_why() -> None:
    def reason(command: str, actor: str, role: str | None = None, lead: bool = False) -> str:
        decision = authz.authorize(
            command, actor=actor, role=role, is_lead=lead, item=ITEM, actor_is_bot=False
        )
        assert decision.allowed
        return decision.reason

    assert reason("verify", "bob", "write") == "@bob is the verifier owner with write access"
    assert reason("adopt", "carol", "maintain") == "@carol has maintain access"
    assert reason("verify", "carol", lead=True) == "@carol is a lead"
    assert reason("owner", "carol", "maintain") == "@carol has maintain access"
    assert reason("evidence", "alice") == "@alice is the execution owner"
    assert reason("help", "anyone") == "`/harden help` is open to anyone"


@pytest.mark.parametrize(
    ("role_name", "permission", "base"),
    [
        ("admin", "admin", "admin"),
        ("maintain", "write", "maintain"),
        ("triage", "read", "triage"),
        ("security-reviewer", "write", "write"),
        ("auditor", "read", "read"),
        ("custom", None, None),
        (None, "none", None),
        (None, None, None),
        ("WRITE", None, "write"),
    ],
)
def test_base_role(role_name: str | None, permission: str | None, base: str | None) -> None:
    assert authz.base_role(role_name, permission) == base


def test_role_rank_orders_github_roles() -> None:
    assert sorted(authz.ROLE_RANK, key=authz.ROLE_RANK.__getitem__) == [
        "read",
        "triage",
        "write",
        "maintain",
        "admin",
    ]
    assert authz.role_rank(None) == 0
    assert authz.role_rank("custom") == 0
    with pytest.raises(TypeError):
        authz.ROLE_RANK["owner"] = 9  # type: ignore[index]


@pytest.mark.parametrize(
    ("user", "bot"),
    [
        ({"login": "hardening-bot[bot]", "type": "Bot"}, True),
        ({"login": "Hardening-Bot[bot]", "type": "User"}, True),  # our own login, any case
        ({"login": "dependabot[bot]", "type": "Bot"}, True),
        ({"login": "renovate[bot]", "type": "User"}, True),
        ({"login": "ci-helper", "type": "Bot"}, True),
        ({"login": "alice", "type": "User"}, False),
        ({"login": "robot", "type": "User"}, False),
        (None, False),
        ({}, False),
    ],
)
def test_is_bot_account(user: dict[str, Any] | None, bot: bool) -> None:
    assert authz.is_bot_account(user, "hardening-bot[bot]") is bot


def test_the_owners_verify_needs_no_lead_lookup() -> None:
    # A failing team lookup must never block the verifier (or refuse the owner late).
    assert not authz.needs_lead("verify", actor="@Bob", item=ITEM, role="write")
    assert authz.needs_lead("verify", actor="@Bob", item=ITEM, role="read")
    assert not authz.needs_lead("verify", actor="alice", item=ITEM)
    assert authz.needs_lead("verify", actor="carol", item=ITEM)
    assert authz.needs_lead("retire", actor="alice", item=ITEM)
    assert not authz.needs_lead("owner", actor="carol", item=ITEM)


@pytest.mark.parametrize(
    ("command", "relation", "role", "bot"),
    list(itertools.product(authz.COMMANDS, RELATIONS, ROLES, (False, True))),
)
def test_lead_lookup_for_an_item_skipped_only_when_it_cannot_matter(
    command: str, relation: str, role: str | None, bot: bool
) -> None:
    actor, item = RELATIONS[relation]
    if authz.needs_lead(command, actor=actor, item=item, role=role):
        return
    answers = {
        authz.authorize(
            command, actor=actor, role=role, is_lead=lead, item=item, actor_is_bot=bot
        ).allowed
        for lead in (False, True)
    }
    assert len(answers) == 1
