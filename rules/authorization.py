"""Who may run which ``/harden`` command (docs/commands.md), as one pure decision.

The hardening loop's ownership rules behind the table: verification is the verifier owner's signoff, so
the execution owner can never verify their own item ("one execution owner and one verifier
owner"), and a signoff is only worth the signer's standing: the verifier owner must hold write
access or more (anyone can be *named* in a body; see docs/commands.md "Who may change what"); retirement follows the sunset protocol and is a lead's call; acknowledging the runbook
update is the execution owner's ownership confirmation.

``role`` is the ``role_name`` of GitHub's collaborator-permission API. The caller does the
lookup (and the lead-team lookup) only when :func:`needs_role` / :func:`needs_lead` say so, and
treats a failed lookup as an error it reports, never as a refusal: this module only ever sees
answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from rules.logins import login_key, mention, same_login
from rules.model import HardeningItem

COMMANDS: tuple[str, ...] = (
    "verify",
    "owner",
    "verifier",
    "due",
    "evidence",
    "ack",
    "retire",
    "adopt",
    "defer",
    "risk",
    "override",
    "status",
    "help",
)

# GitHub's base repository roles, weakest first.
ROLE_RANK: Mapping[str, int] = MappingProxyType(
    {"read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
)
WRITE = ROLE_RANK["write"]
TRIAGE = ROLE_RANK["triage"]  # what it takes to set labels on GitHub

_FIELD_COMMANDS = frozenset({"owner", "verifier", "due"})
_ANYONE = frozenset({"status", "help"})
# Write access or a lead: deferring work and closing a residual risk are a team's decisions.
_WRITE_OR_LEAD = frozenset({"adopt", "defer", "risk"})


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def base_role(role_name: str | None, permission: str | None = None) -> str | None:
    """The base role to authorize with, from the permission API's two fields.

    ``role_name`` is the assigned role; for a custom role it is the custom name, and the legacy
    ``permission`` field (``admin``/``write``/``read``/``none``) carries its base level, which
    is what decides here. Returns None for no access or an unrecognised answer.
    """
    for candidate in (role_name, permission):
        key = (candidate or "").strip().casefold()
        if key in ROLE_RANK:
            return key
    return None


def role_rank(role: str | None) -> int:
    """0 for no access, and for a custom role name the caller did not map with base_role."""
    return ROLE_RANK.get((role or "").strip().casefold(), 0)


def needs_role(
    command: str, *, actor: str | None = None, item: HardeningItem | None = None
) -> bool:
    """Whether deciding ``command`` needs the actor's repository role.

    Given the actor and item, the execution owner's ``/harden evidence`` needs no lookup, and
    ``/harden verify`` needs one only for the verifier owner (for anyone else only a lead may).
    """
    if command in _FIELD_COMMANDS or command in _WRITE_OR_LEAD:
        return True
    if command == "verify":
        if item is None or actor is None:
            return True
        return same_login(actor, item.verifier) and not same_login(actor, item.owner)
    if command == "evidence":
        return not (item is not None and same_login(actor, item.owner))
    return False


def needs_lead(
    command: str,
    *,
    actor: str | None = None,
    item: HardeningItem | None = None,
    role: str | None = None,
) -> bool:
    """Whether deciding ``command`` may need to know if the actor is a configured lead.

    Given the actor and item (and the role, once looked up), the execution owner's ``/harden
    verify`` and a writing verifier owner's are decided without a lead lookup, so a failing team
    lookup never blocks them; so is ``/harden adopt`` by someone with write access.
    """
    writer = role_rank(role) >= WRITE
    if command == "verify" and item is not None:
        if same_login(actor, item.owner):
            return False
        if same_login(actor, item.verifier) and writer:
            return False
    if command in _WRITE_OR_LEAD and writer:
        return False
    return command in ("verify", "retire", "override", *_WRITE_OR_LEAD)


def is_bot_account(user: Mapping[str, Any] | None, bot_login: str | None = None) -> bool:
    """Whether a webhook's user object is this App or any other bot account.

    Bots never run commands and never trip the closing gates: the App's own closes follow a
    passed ``/harden verify`` or ``/harden retire``, and acting on another bot's comments is how
    two bots end up talking to each other forever.
    """
    if not user:
        return False
    login = str(user.get("login") or "").lower()
    if bot_login and login == bot_login.lower():
        return True
    return str(user.get("type") or "") == "Bot" or login.endswith("[bot]")


def is_app_account(user: Mapping[str, Any] | None, bot_login: str | None) -> bool:
    """Whether a webhook's user object is this App itself (not merely some bot)."""
    login = str((user or {}).get("login") or "")
    return bool(bot_login) and login.casefold() == (bot_login or "").casefold()


def who_may(command: str, item: HardeningItem) -> str:
    """Who may run ``command`` on ``item``, in words, for replies and ``/harden help``."""
    owner = mention(item.owner) if login_key(item.owner) else "none set yet"
    verifier = mention(item.verifier) if login_key(item.verifier) else "none set yet"
    if command == "verify":
        return (
            f"the verifier owner ({verifier}) holding write access or more, or a lead; never "
            f"the execution owner ({owner})"
        )
    if command in _FIELD_COMMANDS:
        return "people with write, maintain or admin access to the repository"
    if command == "evidence":
        return f"people with write access or more, or the execution owner ({owner})"
    if command == "ack":
        return f"the execution owner ({owner})"
    if command in ("retire", "override"):
        return "a lead (`leads:` in .github/hardening.yml)"
    if command in _WRITE_OR_LEAD:
        return "people with write access or more, or a lead"
    return "anyone"


def authorize(
    command_name: str,
    *,
    actor: str,
    role: str | None,
    is_lead: bool,
    item: HardeningItem,
    actor_is_bot: bool,
) -> Decision:
    """Whether ``actor`` may run ``/harden <command_name>`` on ``item``, and why.

    ``role`` is the actor's base repository role (see :func:`base_role`), None when not a
    collaborator. Every refusal names who may run the command.
    """
    command = command_name.strip().casefold()
    name = f"`/harden {command}`"
    who = mention(actor)
    if command not in COMMANDS:
        return Decision(False, f"{name} is not a command; `/harden help` lists them")
    if actor_is_bot:
        return Decision(
            False, f"{who} is a bot and bots never run {name}; it is for {who_may(command, item)}"
        )
    if command in _ANYONE:
        return Decision(True, f"{name} is open to anyone")

    may = who_may(command, item)
    is_owner = same_login(actor, item.owner)
    rank = role_rank(role)
    if not role:
        role_text = "is not a collaborator"
    elif rank:
        role_text = f"has {role} access"
    else:
        role_text = f"has the role `{role}`, which is not write access"

    if command == "verify":
        if is_owner:
            return Decision(
                False,
                f"{who} is the execution owner and cannot verify their own "
                f"item; {name} is for {may}",
            )
        if is_lead:
            return Decision(True, f"{who} is a lead")
        if same_login(actor, item.verifier):
            if rank >= WRITE:
                return Decision(True, f"{who} is the verifier owner with {role} access")
            return Decision(
                False,
                f"{who} is the verifier owner but {role_text}; {name} is for {may}. A maintainer "
                "can give them write access, or name another verifier with `/harden verifier @user`",
            )
        return Decision(False, f"{name} is for {may}; {who} is neither")
    if command in _FIELD_COMMANDS:
        if rank >= WRITE:
            return Decision(True, f"{who} has {role} access")
        return Decision(False, f"{name} is for {may}; {who} {role_text}")
    if command == "evidence":
        if is_owner:
            return Decision(True, f"{who} is the execution owner")
        if rank >= WRITE:
            return Decision(True, f"{who} has {role} access")
        return Decision(False, f"{name} is for {may}; {who} {role_text}")
    if command == "ack":
        if is_owner:
            return Decision(True, f"{who} is the execution owner")
        if not login_key(item.owner):
            return Decision(False, f"{name} is for {may}; set one first with `/harden owner @user`")
        return Decision(False, f"{name} is for {may}")
    if command in _WRITE_OR_LEAD:
        if rank >= WRITE:
            return Decision(True, f"{who} has {role} access")
        if is_lead:
            return Decision(True, f"{who} is a lead")
        return Decision(False, f"{name} is for {may}; {who} {role_text} and is not a lead")
    # retire, override
    if is_lead:
        return Decision(True, f"{who} is a lead")
    return Decision(False, f"{name} is for {may}; {who} is not one")
