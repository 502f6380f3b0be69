"""The durable delivery inbox and the database it lives in, behind one interface.

``open_database(settings)`` picks the backend from ``DATABASE_URL``: the embedded SQLite file
(one process, ``bot.inbox.sqlite``) or PostgreSQL (any number of processes, ``bot.inbox.postgres``
on the procrastinate job engine). Both keep the deliveries, the schedules' tables and the shared
state (``bot.inbox.api.SharedState``) in that one database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.inbox.api import (
    Database,
    Delivery,
    DeliveryInbox,
    InboxStats,
    PermanentError,
    Processor,
    RecordCopies,
    Recovery,
    SharedState,
    Sql,
    Status,
    Workers,
)
from bot.inbox.sqlite import Inbox, SqliteDatabase, connect_wal

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.settings import Settings

__all__ = [
    "Database",
    "Delivery",
    "DeliveryInbox",
    "Inbox",
    "InboxStats",
    "PermanentError",
    "Processor",
    "RecordCopies",
    "Recovery",
    "SharedState",
    "Sql",
    "SqliteDatabase",
    "Status",
    "Workers",
    "connect_wal",
    "open_database",
]


def open_database(settings: Settings, *, clock: Callable[[], float] | None = None) -> Database:
    """The database ``settings`` name (not yet opened: ``await db.open()``)."""
    if settings.database_url and is_postgres_url(settings.database_url):
        from bot.inbox.postgres import PostgresDatabase  # psycopg is only loaded when used

        return PostgresDatabase(settings.database_url, settings=settings)
    kwargs = {"clock": clock} if clock is not None else {}
    return SqliteDatabase(settings.database_path, settings=settings, **kwargs)


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))
