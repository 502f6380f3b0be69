"""Errors the sandbox answers with, in GitHub's error body shape.

GitHub's REST errors are ``{"message": ..., "documentation_url": ..., "status": "404"}``, with an
``errors`` list on ``422 Validation Failed``. State operations raise :class:`GitHubError`; the HTTP
layer renders it, and seeding calls let it propagate so a test that seeds nonsense hears about it.
"""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class GitHubError(Exception):
    """An answer GitHub gives instead of the resource: status, message, optional ``errors``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[Any] | None = None,
        documentation_url: str = DOCS,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.documentation_url = documentation_url
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message}
        if self.errors is not None:
            out["errors"] = self.errors
        out["documentation_url"] = self.documentation_url
        out["status"] = str(self.status)
        return out


def not_found() -> GitHubError:
    return GitHubError(404, "Not Found")


def validation_failed(*errors: dict[str, Any], message: str = "Validation Failed") -> GitHubError:
    return GitHubError(422, message, errors=list(errors))


def invalid_field(resource: str, field: str, code: str = "invalid", **extra: Any) -> GitHubError:
    return validation_failed({"resource": resource, "field": field, "code": code, **extra})


def missing_field(resource: str, field: str) -> GitHubError:
    return invalid_field(resource, field, "missing_field")


def invalid_request(detail: str) -> GitHubError:
    """GitHub's answer to a body that fails its JSON schema: ``422 Invalid request.``"""
    return GitHubError(422, f"Invalid request.\n\n{detail}")
