"""Sentry, when a DSN is configured: errors go out with every secret this process holds removed.

The scrubber drops values under keys that name a secret (headers, cookies, tokens, keys), the
webhook secret and private key wherever they appear, and text that looks like a GitHub token, a
JWT, a private key block or a webhook signature.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.settings import Settings

_SENSITIVE_KEY = re.compile(
    r"authorization|signature|cookie|token|secret|private.?key|password|jwt|dsn", re.IGNORECASE
)
_SENSITIVE_TEXT = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"\bgh[opusr]_[A-Za-z0-9]{20,}\b"),  # GitHub tokens
    re.compile(r"\bv1\.[0-9a-f]{40}\b"),  # legacy installation tokens
    re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]+"),  # JWTs
    re.compile(r"\b(bearer|token)\s+[\w.~+/=-]{8,}", re.IGNORECASE),
    re.compile(r"sha(1|256)=[0-9a-f]{20,}"),
)
FILTERED = "[Filtered]"


def make_scrubber(settings: Settings) -> Callable[[Any, Any], Any]:
    """A Sentry ``before_send`` that removes the secrets this process knows or can recognise."""
    held = (settings.webhook_secret, settings.previous_webhook_secret, settings.private_key.strip())
    secrets = [s for s in held if s]

    def scrub(value: Any, key: str = "") -> Any:
        if key and _SENSITIVE_KEY.search(key):
            return FILTERED
        if isinstance(value, dict):
            return {k: scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            # Sentry sends headers as [name, value] pairs.
            if len(value) == 2 and isinstance(value[0], str) and _SENSITIVE_KEY.search(value[0]):
                return [value[0], FILTERED]
            return [scrub(v) for v in value]
        if isinstance(value, str):
            for secret in secrets:
                value = value.replace(secret, FILTERED)
            for pattern in _SENSITIVE_TEXT:
                value = pattern.sub(FILTERED, value)
            return value
        return value

    def before_send(event: Any, hint: Any) -> Any:
        return scrub(event)

    return before_send


def init_sentry(settings: Settings) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.aiohttp import AioHttpIntegration

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        before_send=make_scrubber(settings),
        send_default_pii=False,
        integrations=[AioHttpIntegration()],
    )
