"""``python -m bot replay PAYLOAD.json --event NAME [--dry-run]``: one saved delivery, same path.

The payload goes through the very processing the workers use (``bot.web.make_processor``):
the installation token, the handlers, the writes. With ``--dry-run`` the reads still go to
GitHub (the handlers need real state to decide), but every write is printed instead of sent.
Useful to see what the bot would do with a delivery GitHub shows in the App's "Advanced" tab.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path
from typing import TextIO

from gidgethub import sansio

from bot import handlers
from bot.github import GitHubApp
from bot.inbox import Delivery
from bot.logs import configure_logging
from bot.metrics import Metrics
from bot.settings import Settings, SettingsError, from_process_env
from bot.subjects import subject_for
from bot.web import make_processor


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot replay", description="Run one saved webhook delivery."
    )
    parser.add_argument("payload", type=Path, help="the delivery's JSON body, as saved")
    parser.add_argument("--event", required=True, help="its X-GitHub-Event, e.g. issues")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the writes instead of making them"
    )
    parser.add_argument("--delivery-id", default=None, help="X-GitHub-Delivery (default: new)")
    args = parser.parse_args(argv)

    try:
        # The webhook secret is the key of the App's records (docs/commands.md): without it no
        # item could be read as verified or retired, so replay needs it like the server.
        settings = from_process_env()
    except SettingsError as exc:
        print(f"hardening-bot: {exc}", file=sys.stderr)
        return 2
    try:
        body = args.payload.read_bytes()
        payload = json.loads(body)
    except (OSError, ValueError) as exc:
        print(f"hardening-bot: cannot read {args.payload}: {exc}", file=sys.stderr)
        return 2
    if not isinstance(payload, dict):
        print(f"hardening-bot: {args.payload} is not a JSON object", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    delivery_id = args.delivery_id or f"replay-{uuid.uuid4()}"
    return asyncio.run(replay(settings, args.event, body, delivery_id, dry_run=args.dry_run))


async def replay(
    settings: Settings,
    event: str,
    body: bytes,
    delivery_id: str,
    *,
    dry_run: bool = False,
    github: GitHubApp | None = None,
    out: TextIO | None = None,
) -> int:
    """Process one delivery now; print the recorded writes of a dry run. 0 on success."""
    out = out or sys.stdout
    payload = json.loads(body)
    metrics = Metrics()
    own_client = github is None
    github = github or GitHubApp(settings, metrics=metrics, dry_run=dry_run)
    installation = payload.get("installation")
    now = time.time()
    delivery = Delivery(
        seq=0,
        delivery_id=delivery_id,
        event=event,
        action=payload.get("action") if isinstance(payload.get("action"), str) else None,
        payload=body,
        installation_id=installation.get("id") if isinstance(installation, dict) else None,
        repository=(payload.get("repository") or {}).get("full_name"),
        subject=subject_for(event, payload),
        status="processing",
        attempts=1,
        next_attempt_at=now,
        last_error=None,
        received_at=now,
    )
    if not handlers.handles(sansio.Event(payload, event=event, delivery_id=delivery_id)):
        name = f"{event}.{delivery.action}" if delivery.action else event
        print(
            f"nothing handles {name}: replaying it would do nothing, so nothing was done "
            f"(handled: {', '.join(handlers.handled())})",
            file=out,
        )
        if own_client:
            await github.close()
        return 0
    try:
        await make_processor(settings, github, github.metrics)(delivery)
    except Exception as exc:
        print(f"replay of {event} {delivery_id} failed: {type(exc).__name__}: {exc}", file=out)
        return 1
    finally:
        if own_client:
            await github.close()
    if github.dry_run:
        calls = github.recorded
        print(f"dry run of {event} {delivery_id}: {len(calls)} write(s) not sent", file=out)
        for call in calls:
            print(f"  {call}", file=out)
        if any(c.method == "POST" and c.path.endswith("/issues") for c in calls):
            print(
                "  (issues it would create have no number yet: later writes show them as #0)",
                file=out,
            )
    else:
        print(f"replayed {event} {delivery_id}", file=out)
    return 0
