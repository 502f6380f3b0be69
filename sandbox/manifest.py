"""GitHub's rules for an App manifest, as the registration page applies them.

GitHub refuses the whole manifest when one rule is broken, and shows the reason on the page
instead of creating the App. The rules checked here are the ones GitHub documents for the
manifest and for App registration ("Registering a GitHub App from a manifest", "Choosing
permissions for a GitHub App", "Webhook events and payloads"):

- ``url`` (the App's homepage) is required; every URL is http(s);
- a webhook needs ``hook_attributes.url`` when any default event is subscribed;
- ``default_permissions`` names known permissions with levels they support;
- ``default_events`` names events an App can subscribe to — ``installation``,
  ``installation_repositories`` and the other App-lifecycle events are delivered to every App
  and refused as default events ("Default events unsupported: ...") — and each one is backed by
  a permission the manifest asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

# GitHub's manifest parameters; anything else on the manifest is refused.
PARAMETERS = frozenset(
    {
        "name",
        "url",
        "hook_attributes",
        "redirect_url",
        "callback_urls",
        "setup_url",
        "description",
        "public",
        "default_events",
        "default_permissions",
        "request_oauth_on_install",
        "setup_on_update",
    }
)
NAME_MAX = 34

# Repository, organization and account permissions an App may request, with their levels.
_RW = frozenset({"read", "write"})
PERMISSIONS: Mapping[str, frozenset[str]] = {
    "actions": _RW,
    "administration": _RW,
    "checks": _RW,
    "contents": _RW,
    "deployments": _RW,
    "environments": _RW,
    "issues": _RW,
    "metadata": frozenset({"read"}),
    "packages": _RW,
    "pages": _RW,
    "pull_requests": _RW,
    "repository_hooks": _RW,
    "repository_projects": frozenset({"read", "write", "admin"}),
    "secret_scanning_alerts": _RW,
    "secrets": _RW,
    "security_events": _RW,
    "single_file": _RW,
    "statuses": _RW,
    "vulnerability_alerts": _RW,
    "workflows": frozenset({"write"}),
    "members": _RW,
    "organization_administration": _RW,
    "organization_hooks": _RW,
    "organization_plan": frozenset({"read"}),
    "organization_projects": frozenset({"read", "write", "admin"}),
    "organization_secrets": _RW,
    "organization_self_hosted_runners": _RW,
    "team_discussions": _RW,
    "email_addresses": _RW,
    "followers": _RW,
    "gpg_keys": _RW,
    "starring": _RW,
}

# Which permission backs each event an App can subscribe to (any one of them will do).
EVENT_PERMISSIONS: Mapping[str, tuple[str, ...]] = {
    "branch_protection_rule": ("administration",),
    "check_run": ("checks",),
    "check_suite": ("checks",),
    "code_scanning_alert": ("security_events",),
    "commit_comment": ("contents",),
    "create": ("contents",),
    "delete": ("contents",),
    "deployment": ("deployments",),
    "deployment_status": ("deployments",),
    "fork": ("contents",),
    "gollum": ("contents",),
    "issue_comment": ("issues", "pull_requests"),
    "issues": ("issues",),
    "label": ("metadata",),
    "member": ("members",),
    "membership": ("members",),
    "milestone": ("issues", "pull_requests"),
    "organization": ("members",),
    "public": ("metadata",),
    "pull_request": ("pull_requests",),
    "pull_request_review": ("pull_requests",),
    "pull_request_review_comment": ("pull_requests",),
    "pull_request_review_thread": ("pull_requests",),
    "push": ("contents",),
    "release": ("contents",),
    "repository": ("metadata",),
    "repository_dispatch": ("contents",),
    "star": ("metadata",),
    "status": ("statuses",),
    "team": ("members",),
    "team_add": ("members",),
    "watch": ("metadata",),
    "workflow_dispatch": ("actions",),
    "workflow_job": ("actions",),
    "workflow_run": ("actions",),
}

# Delivered to every App whatever it subscribes to; GitHub refuses them as default events.
ALWAYS_DELIVERED = frozenset(
    {
        "installation",
        "installation_repositories",
        "installation_target",
        "github_app_authorization",
        "meta",
        "ping",
    }
)


def manifest_errors(manifest: Any) -> list[str]:
    """Why GitHub would refuse ``manifest``; empty when it would accept it."""
    if not isinstance(manifest, dict):
        return ["Manifest must be a JSON object"]
    errors: list[str] = []
    unknown = sorted(set(manifest) - PARAMETERS)
    if unknown:
        errors.append(f"Manifest has unknown parameters: {', '.join(unknown)}")
    name = manifest.get("name")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= NAME_MAX):
        errors.append(f"Name must be text of 1 to {NAME_MAX} characters")
    if not _is_url(manifest.get("url")):
        errors.append("Url must be a valid http(s) URL")
    for key in ("redirect_url", "setup_url"):
        if key in manifest and not _is_url(manifest[key]):
            errors.append(f"{key} must be a valid http(s) URL")
    errors += _hook_errors(manifest)
    permissions = manifest.get("default_permissions") or {}
    errors += _permission_errors(permissions)
    events = manifest.get("default_events") or []
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        return [*errors, "Default events must be a list of event names"]
    errors += _event_errors(events, permissions if isinstance(permissions, dict) else {})
    if events and not _is_url((manifest.get("hook_attributes") or {}).get("url")):
        errors.append("Hook url cannot be blank when default events are subscribed")
    return errors


def _hook_errors(manifest: dict[str, Any]) -> list[str]:
    hook = manifest.get("hook_attributes")
    if hook is None:
        return []
    if not isinstance(hook, dict):
        return ["hook_attributes must be an object"]
    errors = []
    if "url" in hook and not _is_url(hook["url"]):
        errors.append("Hook url must be a valid http(s) URL")
    if "active" in hook and not isinstance(hook["active"], bool):
        errors.append("Hook active must be true or false")
    return errors


def _permission_errors(permissions: Any) -> list[str]:
    if not isinstance(permissions, dict):
        return ["Default permissions must be an object"]
    errors = []
    for name, level in permissions.items():
        allowed = PERMISSIONS.get(name)
        if allowed is None:
            errors.append(f"Default permission records resource {name!r} is not included")
        elif level not in allowed:
            errors.append(
                f"Default permission {name!r} cannot be {level!r} ({', '.join(sorted(allowed))})"
            )
    return errors


def _event_errors(events: list[str], permissions: dict[str, Any]) -> list[str]:
    errors = []
    refused = [e for e in events if e in ALWAYS_DELIVERED]
    if refused:
        errors.append(f"Default events unsupported: {' and '.join(refused)}")
    unknown = [e for e in events if e not in ALWAYS_DELIVERED and e not in EVENT_PERMISSIONS]
    if unknown:
        errors.append(f"Default events unknown: {', '.join(unknown)}")
    unbacked = [
        e
        for e in events
        if e in EVENT_PERMISSIONS and not any(p in permissions for p in EVENT_PERMISSIONS[e])
    ]
    if unbacked:
        errors.append(
            "Default events are not supported by the requested permissions: "
            + ", ".join(f"{e} (needs {' or '.join(EVENT_PERMISSIONS[e])})" for e in unbacked)
        )
    return errors


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
