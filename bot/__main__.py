"""Entry points: ``python -m bot`` serves; everything else is a subcommand.

Every subcommand answers ``--help`` with its usage and does nothing else. Every one reads the
environment over ``.env`` (``bot.settings.process_env``), and refuses a bad setting with one
line and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

USAGE = """usage: python -m bot                       serve webhooks on $HOST:$PORT
       python -m bot setup [--url PUBLIC_URL | --webhook-url URL] [--org ORG] [--force] [--manifest app.yml]
       python -m bot check [--repo OWNER/NAME]
       python -m bot replay PAYLOAD.json --event NAME [--delivery-id ID] [--dry-run]
       python -m bot run-job weekly-review|monthly-audit OWNER/REPO [--dry-run]
       python -m bot failed [--limit N]
       python -m bot requeue DELIVERY_ID... | --all
       python -m bot demo [--verbose]

Each command prints its own help with --help."""


def _serve(args: list[str]) -> int:
    from bot.startup import main as serve

    return serve(args)


def _setup(args: list[str]) -> int:
    from bot.setup import main as setup

    return setup(args)


def _check(args: list[str]) -> int:
    from bot.doctor import main as check

    return check(args)


def _replay(args: list[str]) -> int:
    from bot.replay import main as replay

    return replay(args)


def _run_job(args: list[str]) -> int:
    from bot.jobs import main as run_job

    return run_job(args)


def _failed(args: list[str]) -> int:
    from bot import operate

    return operate.failed(args)


def _requeue(args: list[str]) -> int:
    from bot import operate

    return operate.requeue(args)


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "serve": _serve,
    "setup": _setup,
    "check": _check,
    "doctor": _check,
    "replay": _replay,
    "run-job": _run_job,
    "failed": _failed,
    "requeue": _requeue,
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        return _serve([])
    command, rest = args[0], args[1:]
    if command in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if command == "demo":
        return demo(rest)
    runner = COMMANDS.get(command)
    if runner is None:
        print(f"unknown command {command!r}\n{USAGE}", file=sys.stderr)
        return 2
    return runner(rest)


def demo(args: list[str]) -> int:
    """``demo.main`` (imported only here: it pulls in the sandbox)."""
    parser = argparse.ArgumentParser(
        prog="python -m bot demo",
        description="Walk the whole hardening loop against the embedded GitHub sandbox, through "
        "the bot's real HTTP endpoint, and print each step. Exit 0 only if every step behaved. "
        "Needs no GitHub credentials and makes no call outside this machine.",
    )
    parser.add_argument("--verbose", action="store_true", help="show the bot's log lines")
    options = parser.parse_args(args)
    try:
        from demo import main as demo_main
    except ImportError:
        print(
            "python -m bot demo: the demo and its GitHub sandbox live in the source checkout, "
            "not in the installed package; run it from a clone (make demo)",
            file=sys.stderr,
        )
        return 2

    return demo_main("--verbose") if options.verbose else demo_main()


if __name__ == "__main__":
    sys.exit(main())
