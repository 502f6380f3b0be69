"""procrastinate's own admin CLI on the bot's PostgreSQL database, for looking at the jobs under
the inbox::

    DATABASE_URL=postgresql://... procrastinate --app=bot.inbox.admin.app healthchecks
    DATABASE_URL=postgresql://... procrastinate --app=bot.inbox.admin.app shell

``app`` connects to ``DATABASE_URL`` (the environment over ``.env``, as ``python -m bot``
reads it). It registers no task: it is for inspecting, not for running workers; the bot's own
``python -m bot failed`` / ``requeue`` are the supported way to see and retry parked deliveries.
"""

from __future__ import annotations

import procrastinate

from bot.settings import process_env

app = procrastinate.App(
    connector=procrastinate.PsycopgConnector(conninfo=process_env().get("DATABASE_URL", ""))
)
