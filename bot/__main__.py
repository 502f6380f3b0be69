"""Entry points (CONTRACT §1): ``python -m bot`` serves; ``replay``, ``demo`` and ``run-job`` are
subcommands.

``python -m bot``                                          serve on $PORT until SIGTERM
``python -m bot replay PAYLOAD.json --event NAME [--dry-run]``  run one saved delivery
``python -m bot demo``                                     the whole loop against the sandbox
``python -m bot run-job weekly-review|monthly-audit OWNER/REPO [--dry-run]``  one scheduled job now
``python -m bot failed [--limit N]``                       list deliveries parked as failed
``python -m bot requeue DELIVERY_ID... | --all``            retry parked deliveries
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys

USAGE = """usage: python -m bot                       serve webhooks on $PORT
       python -m bot replay PAYLOAD.json --event NAME [--dry-run]
       python -m bot demo
       python -m bot run-job weekly-review|monthly-audit OWNER/REPO [--dry-run]
       python -m bot failed [--limit N]
       python -m bot requeue DELIVERY_ID... | --all"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        return serve()
    command, rest = args[0], args[1:]
    if command == "replay":
        from bot.replay import main as replay

        return replay(rest)
    if command == "demo":
        return demo(rest)
    if command == "run-job":
        from bot.jobs import main as run_job

        return run_job(rest)
    if command in ("failed", "requeue"):
        from bot import operate

        return operate.failed(rest) if command == "failed" else operate.requeue(rest)
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
    return 2


def serve() -> int:
    """Serve until SIGTERM/SIGINT; then stop claiming and let in-flight deliveries finish."""
    from aiohttp import web

    from bot.logs import configure_logging
    from bot.settings import SettingsError, from_process_env
    from bot.web import create_app

    try:
        settings = from_process_env()
    except SettingsError as exc:
        print(f"hardening-bot: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    logging.getLogger("bot").info(
        "starting",
        extra={
            "port": settings.port,
            "api_url": settings.api_url,
            "database": str(settings.database_path),
            "workers": settings.worker_concurrency,
        },
    )
    # run_app turns SIGTERM into a graceful exit, which runs the app's cleanup: the worker pool
    # drains within HARDENING_SHUTDOWN_GRACE_SECONDS and the inbox is closed cleanly.
    web.run_app(
        create_app(settings, freeze_heap=True),
        port=settings.port,
        access_log=None,
        print=None,
        # Requests finish in milliseconds; the grace period is for the workers, in cleanup.
        shutdown_timeout=5.0,
    )
    return 0


def demo(args: list[str]) -> int:
    """``demo.main`` (imported only here: it pulls in the sandbox)."""
    try:
        from demo import main as demo_main
    except ImportError:
        print(
            "python -m bot demo: the demo and its GitHub sandbox live in the source checkout, "
            "not in the installed package; run it from a clone (make demo)",
            file=sys.stderr,
        )
        return 2

    result = demo_main(*args) if args else demo_main()
    if inspect.isawaitable(result):
        result = asyncio.run(_await(result))
    return int(result or 0)


async def _await(awaitable: object) -> object:
    return await awaitable  # type: ignore[misc]


if __name__ == "__main__":
    sys.exit(main())
