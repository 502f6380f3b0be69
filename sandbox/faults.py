"""Injected faults: answers GitHub gives on a bad day.

``Sandbox.inject`` arms a fault for requests whose method and path match; it fires ``times``
times (or forever with ``times=None``), after ``delay`` seconds. ``status=None`` makes a slow but
otherwise normal answer. Without an explicit ``body`` the sandbox sends what GitHub sends for that
status — including the secondary-rate-limit message on 403 and 429.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

SECONDARY_RATE_LIMIT = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID."
)


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int | None
    times: int | None
    headers: dict[str, str]
    delay: float
    body: Any
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.fired >= self.times:
            return False
        return self.method in ("*", method.upper()) and bool(self.pattern.search(path))

    def default_body(self) -> dict[str, Any]:
        assert self.status is not None
        if self.status in (403, 429):
            message = SECONDARY_RATE_LIMIT
        else:
            try:
                message = HTTPStatus(self.status).phrase
            except ValueError:
                message = "Error"
        return {
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": str(self.status),
        }


class Faults:
    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def arm(self, fault: Fault) -> Fault:
        self.armed.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed fault matching this request, counted as fired."""
        for fault in self.armed:
            if fault.matches(method, path):
                fault.fired += 1
                return fault
        return None

    def clear(self) -> None:
        self.armed.clear()
