"""How much of the unauthenticated request bodies the web shell holds at once.

A body has to be read whole before its signature can be checked, so anyone who can reach
``POST /webhook`` can make the process buffer bodies: each is capped at 25 MiB, and
:class:`BodyBudget` caps them all together. A request whose body does not fit while others are
being read is answered ``503`` with ``Retry-After`` (GitHub's own deliveries are small and
rarely concurrent; docs/hostile-input.md).
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["DEFAULT_BUDGET_BYTES", "BodyBudget", "Overloaded", "TooLarge", "read_body"]

DEFAULT_BUDGET_BYTES = 100 * 1024 * 1024
_CHUNK = 64 * 1024


class TooLarge(Exception):
    """The body is larger than one delivery may be."""


class Overloaded(Exception):
    """The bodies being read already fill the budget."""


class BodyBudget:
    """Bytes of request bodies held at once, across all requests (one event loop, no lock)."""

    def __init__(self, limit: int = DEFAULT_BUDGET_BYTES) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


async def read_body(request: web.Request, budget: BodyBudget, max_bytes: int) -> tuple[bytes, int]:
    """The request's body and the bytes it holds of ``budget``; the caller gives them back
    when it is done with the body, whatever happens. Raises :class:`TooLarge` or
    :class:`Overloaded` (with nothing held)."""
    declared = request.content_length
    if declared is not None and declared > max_bytes:
        raise TooLarge
    held = size = 0
    chunks: list[bytes] = []
    try:
        if declared is not None:
            # Known up front: hold it all at once, so a refused request reads nothing.
            if not budget.take(declared):
                raise Overloaded
            held = declared
        async for chunk in request.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge
            extra = max(0, size - held)
            if extra and not budget.take(extra):
                raise Overloaded
            held += extra
            chunks.append(chunk)
    except BaseException:
        budget.give(held)
        raise
    return b"".join(chunks), held
