"""``python -m sandbox [--port 9000]``: the GitHub stand-in on loopback, for walking the
README's Quick start on one machine with no GitHub account (see sandbox/site.py).

    python -m sandbox --port 9000 &
    GITHUB_API_URL=http://127.0.0.1:9000 python -m bot setup --url http://localhost:8080
    python -m bot            # .env now names the stand-in's App and GITHUB_API_URL
    # then open http://127.0.0.1:9000/apps/hardening-bot/installations/new
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from aiohttp import web

from .sandbox import Sandbox
from .site import Site


async def serve(port: int) -> None:
    sandbox = Sandbox()
    site = Site(sandbox)
    sandbox.webhook_sink = site.deliver
    runner = web.AppRunner(sandbox.make_app(site.routes()))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    base = f"http://127.0.0.1:{port}"
    sandbox.api_url = sandbox.web_url = base
    print(f"GitHub stand-in at {base} (REST API and the pages of sandbox/site.py)", flush=True)
    print(f"  GITHUB_API_URL={base} python -m bot setup --url http://localhost:8080", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await site.close()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description=__doc__.split("\n\n", 1)[0].replace("``", ""),
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=9000, help="port on 127.0.0.1 (default 9000)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
