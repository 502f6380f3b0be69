"""GitHub's primary rate limits, per caller and resource, on the sandbox clock.

Installation tokens and the App JWT get 5000 core requests an hour, search 30 a minute;
anonymous callers 60 and 10. Every response carries the ``x-ratelimit-*`` headers; a ``304 Not
Modified`` answer does not count, as on GitHub. Tests can drain a bucket with :meth:`set`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import GitHubError

WINDOWS = {"core": 3600.0, "search": 60.0}
LIMITS = {
    ("installation", "core"): 5000,
    ("installation", "search"): 30,
    ("app", "core"): 5000,
    ("app", "search"): 30,
    ("anonymous", "core"): 60,
    ("anonymous", "search"): 10,
}


@dataclass
class Bucket:
    limit: int
    used: int
    reset: float

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def headers(self, resource: str) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(int(self.reset)),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-resource": resource,
        }


class RateLimiter:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.buckets: dict[tuple[str, str], Bucket] = {}

    def bucket(self, key: str, resource: str) -> Bucket:
        now = float(self.clock())
        found = self.buckets.get((key, resource))
        if found is None or now >= found.reset:
            kind = key.split(":", 1)[0]
            found = Bucket(LIMITS[(kind, resource)], 0, now + WINDOWS[resource])
            self.buckets[(key, resource)] = found
        return found

    def check(self, key: str, resource: str, who: str) -> Bucket:
        """The caller's bucket; raises GitHub's 403 when it is empty."""
        bucket = self.bucket(key, resource)
        if bucket.remaining <= 0:
            raise GitHubError(
                403,
                f"API rate limit exceeded for {who}. If you reach out to GitHub Support for "
                "help, please include the request ID.",
                documentation_url="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                headers=bucket.headers(resource),
            )
        return bucket

    def set(
        self,
        key: str,
        resource: str = "core",
        *,
        remaining: int | None = None,
        limit: int | None = None,
        reset_in: float | None = None,
    ) -> Bucket:
        bucket = self.bucket(key, resource)
        if limit is not None:
            bucket.limit = limit
        if remaining is not None:
            bucket.used = max(0, bucket.limit - remaining)
        if reset_in is not None:
            bucket.reset = float(self.clock()) + reset_in
        return bucket
