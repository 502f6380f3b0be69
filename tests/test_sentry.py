"""The Sentry scrubber: no secret this process holds or can recognise leaves it."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.sentry import FILTERED, make_scrubber
from bot.settings import Settings


def test_sentry_scrubber_removes_secrets(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        webhook_secret="hook-secret-value", previous_webhook_secret="old-hook-secret"
    )
    scrub = make_scrubber(settings)
    key_line = settings.private_key.strip().splitlines()[1]
    event = {
        "message": "failed with hook-secret-value and ghs_abcdefghijklmnopqrstuvwxyz0123",
        "logentry": {"message": "was old-hook-secret"},
        "request": {
            "headers": [
                ["Authorization", "token ghs_abcdefghijklmnopqrstuvwxyz0123"],
                ["X-Hub-Signature-256", "sha256=" + "a" * 64],
                ["User-Agent", "GitHub-Hookshot/1"],
            ],
            "data": {"private_key": "x", "note": settings.private_key},
        },
        "extra": {"jwt": "eyJa.eyJb.c", "text": "bearer eyJhbGciOi.eyJpc3MiOi.sig", "n": 3},
    }
    cleaned = scrub(event, {})
    flat = json.dumps(cleaned)
    for secret in (
        "hook-secret-value",
        "old-hook-secret",
        "ghs_abcdefghijklmnopqrstuvwxyz0123",
        "a" * 64,
        key_line,
        "eyJhbGciOi",
    ):
        assert secret not in flat
    assert ["User-Agent", "GitHub-Hookshot/1"] in cleaned["request"]["headers"]
    assert cleaned["request"]["data"]["private_key"] == FILTERED
    assert cleaned["extra"]["n"] == 3
