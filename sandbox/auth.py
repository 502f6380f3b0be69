"""Who is calling: App JWTs, installation tokens, or nobody — checked the way GitHub checks them.

An App authenticates as itself with an RS256 JWT (``iss`` = App id, ``exp`` at most ten minutes
ahead) only on ``/app/*`` and ``/repos/{owner}/{repo}/installation``; everything else wants an
installation token (``ghs_...``, sent as ``token`` or ``Bearer``) that lasts one hour and reaches
only its installation's repositories. Times come from the sandbox clock so tests can let tokens
expire. Failures are 401s with GitHub's messages.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt

from .errors import GitHubError

TOKEN_LIFETIME = 3600.0
JWT_MAX_LIFETIME = 600.0
# GitHub tolerates a little clock drift between the App and itself.
CLOCK_LEEWAY = 60.0
_TOKEN_ALPHABET = string.ascii_letters + string.digits

PrincipalKind = Literal["app", "installation", "anonymous"]


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of one request."""

    kind: PrincipalKind
    installation_id: int | None = None
    repository_ids: frozenset[int] | None = None
    permissions: Mapping[str, str] = field(default_factory=dict)
    token: str | None = None

    @property
    def rate_key(self) -> str:
        if self.kind == "installation":
            return f"installation:{self.installation_id}"
        return self.kind


ANONYMOUS = Principal("anonymous")


@dataclass
class IssuedToken:
    token: str
    installation_id: int
    expires_at: float
    permissions: dict[str, str]
    repository_ids: frozenset[int] | None


def bad_credentials() -> GitHubError:
    return GitHubError(401, "Bad credentials")


def _jwt_error(message: str) -> GitHubError:
    return GitHubError(401, message)


class Authenticator:
    """Issues installation tokens and resolves ``Authorization`` headers to principals."""

    def __init__(self, app_id: int, public_key_pem: str, clock: Callable[[], float]) -> None:
        self.app_id = app_id
        self.public_key_pem = public_key_pem
        self.clock = clock
        self.tokens: dict[str, IssuedToken] = {}

    def mint(
        self,
        installation_id: int,
        permissions: Mapping[str, str],
        repository_ids: Iterable[int] | None = None,
    ) -> IssuedToken:
        token = "ghs_" + "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(36))
        issued = IssuedToken(
            token=token,
            installation_id=installation_id,
            expires_at=float(self.clock()) + TOKEN_LIFETIME,
            permissions=dict(permissions),
            repository_ids=frozenset(repository_ids) if repository_ids is not None else None,
        )
        self.tokens[token] = issued
        return issued

    def identify(self, authorization: str | None) -> Principal:
        """The caller named by an ``Authorization`` header; raises a 401 for bad credentials."""
        if not authorization:
            return ANONYMOUS
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        scheme = scheme.lower()
        if scheme not in ("token", "bearer") or not credential:
            raise bad_credentials()
        if credential.count(".") == 2 and scheme == "bearer":
            self.verify_jwt(credential)
            return Principal("app")
        issued = self.tokens.get(credential)
        if issued is None or issued.expires_at <= float(self.clock()):
            raise bad_credentials()
        return Principal(
            "installation",
            installation_id=issued.installation_id,
            repository_ids=issued.repository_ids,
            permissions=issued.permissions,
            token=credential,
        )

    def verify_jwt(self, token: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            raise _jwt_error("A JSON web token could not be decoded") from None
        now = float(self.clock())
        iss = claims.get("iss")
        if iss is None or str(iss) != str(self.app_id):
            raise _jwt_error("'Issuer' claim ('iss') must be the ID of this GitHub App")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise _jwt_error(
                "'Issued at' claim ('iat') must be an Integer representing the time that the "
                "assertion was issued."
            )
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= now:
            raise _jwt_error(
                "'Expiration time' claim ('exp') must be a numeric value representing the future "
                "time at which the assertion expires."
            )
        if iat > now + CLOCK_LEEWAY:
            raise _jwt_error("'Issued at' claim ('iat') must be an Integer in the past.")
        if (
            exp > now + JWT_MAX_LIFETIME + CLOCK_LEEWAY
            or exp - iat > JWT_MAX_LIFETIME + CLOCK_LEEWAY
        ):
            raise _jwt_error("'Expiration time' claim ('exp') is too far in the future.")
        return claims
