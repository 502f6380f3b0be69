"""Event handlers, one module per concern, each with its own ``gidgethub.routing.Router``.

A handler module declares ``router = gidgethub.routing.Router()`` and registers coroutines
``async def on_x(event, gh, ctx) -> None`` (see ARCHITECTURE.md). To plug one in, import it here
and add its router to ``ROUTERS``; ``router`` merges them all and ``dispatch`` runs every handler
registered for an event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from gidgethub.abc import GitHubAPI
from gidgethub.routing import Router
from gidgethub.sansio import Event

if TYPE_CHECKING:
    from bot.context import Context

# Handler modules' routers. Add each new module's router here.
from bot.handlers import adoption, closing, commands, edits, incidents, loop, pulls

ROUTERS: tuple[Router, ...] = (
    adoption.router,
    closing.router,
    commands.router,
    edits.router,
    incidents.router,
    loop.router,
    pulls.router,
)

router = Router(*ROUTERS)


def handles(event: Event) -> bool:
    """Whether any handler is registered for ``event`` (if not, processing needs no GitHub)."""
    return bool(router.fetch(event))


def handled() -> list[str]:
    """``event`` or ``event.action`` names with a handler, sorted (for operators' messages)."""
    names: set[str] = set()
    for merged in ROUTERS:
        # gidgethub keeps routes by event name, then (for action filters) by data key and value.
        names.update(merged._shallow_routes)
        for event_name, keyed in merged._deep_routes.items():
            for values in keyed.values():
                names.update(f"{event_name}.{value}" for value in values)
    return sorted(names)


async def dispatch(event: Event, gh: GitHubAPI, ctx: Context) -> None:
    """Run every handler registered for ``event``, one after another.

    gidgethub's ``Router.dispatch`` walks a set, whose order changes between runs; a fixed order
    (module, then function name) keeps two handlers touching one issue reproducible.
    """
    for callback in _in_stable_order(router.fetch(event)):
        await callback(event, gh, ctx)


def _in_stable_order(callbacks: Iterable[Callable[..., Any]]) -> list[Callable[..., Any]]:
    return sorted(callbacks, key=lambda cb: (cb.__module__, cb.__qualname__))
