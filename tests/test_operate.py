"""Operators' commands: list parked deliveries and requeue them beside a running server."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Clock, claim, until

from bot import operate
from bot.inbox import Delivery, Inbox, PermanentError, open_database
from bot.inbox.workers import WorkerPool
from bot.settings import Settings


def env_for(path: Path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{path}"}


async def test_parked_deliveries_are_listed_and_requeued_beside_a_running_pool(
    tmp_path: Path,
) -> None:
    path = tmp_path / "inbox.db"
    # The wall clock, as the server's: the operator's command requeues for "now" by it, and a
    # pool on a fixed clock would never find that due once the real date passed it.
    inbox = Inbox(path)
    await inbox.open()
    fixed = False
    processed: list[str] = []

    async def process(delivery: Delivery) -> None:
        if not fixed:
            raise PermanentError("GitHub answered 422: Validation Failed")
        processed.append(delivery.delivery_id)

    pool = WorkerPool(inbox, process, poll_interval=0.02)
    pool.start()
    try:
        for i in (1, 2):
            await inbox.store(
                f"d{i}", "issues", b"{}", subject=f"o/r#{i}", action="opened", repository="o/r"
            )
        await until(lambda: _failed_count(inbox, 2))

        out = io.StringIO()
        assert await asyncio.to_thread(operate.failed, [], env=env_for(path), out=out) == 0
        lines = out.getvalue().splitlines()
        assert lines[0].split("\t")[:5] == ["d1", "issues.opened", "o/r", "o/r#1", "attempts=1"]
        assert lines[0].endswith("PermanentError: GitHub answered 422: Validation Failed")
        assert lines[1].startswith("d2\t") and lines[2].startswith("2 parked")

        fixed = True
        out = io.StringIO()
        code = await asyncio.to_thread(operate.requeue, ["d2"], env=env_for(path), out=out)
        assert code == 0 and out.getvalue().strip() == "requeued 1 parked deliveries"
        # The running pool finds it on its own, without being told.
        await until(lambda: _done(processed, ["d2"]))
        assert (await inbox.stats()).failed == 1

        code = await asyncio.to_thread(operate.requeue, ["--all"], env=env_for(path), out=out)
        assert code == 0
        await until(lambda: _done(processed, ["d2", "d1"]))
        await until(lambda: _drained(inbox))  # completions are recorded just after
        stored = await inbox.get("d1")
        assert stored is not None and stored.status == "done" and stored.attempts == 1
    finally:
        await pool.stop()
        await inbox.close()


async def _failed_count(inbox: Inbox, count: int) -> bool:
    return (await inbox.stats()).failed == count


async def _drained(inbox: Inbox) -> bool:
    return (await inbox.stats()).pending == 0


async def _done(processed: list[str], expected: list[str]) -> bool:
    return processed == expected


async def test_requeue_leaves_the_servers_in_flight_deliveries_alone(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "inbox.db"
    inbox = Inbox(path, clock=clock)
    await inbox.open()
    try:
        for i in (1, 2):
            await inbox.store(f"d{i}", "issues", b"{}", subject=f"o/r#{i}")
        claimed = await claim(inbox, 2)
        await inbox.park_failed(claimed[0].delivery_id, "boom")
        out = io.StringIO()
        code = await asyncio.to_thread(operate.requeue, ["--all"], env=env_for(path), out=out)
        assert code == 0 and "requeued 1 " in out.getvalue()
        one, two = await inbox.get("d1"), await inbox.get("d2")
        assert one is not None and (one.status, one.attempts) == ("pending", 0)
        assert two is not None and two.status == "processing"  # still the server's
    finally:
        await inbox.close()


async def test_requeue_of_unknown_or_unparked_ids_says_so(
    tmp_path: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "inbox.db"
    inbox = Inbox(path, clock=clock)
    await inbox.open()
    try:
        await inbox.store("pending-one", "issues", b"{}", subject="o/r#1")
    finally:
        await inbox.close()
    out = io.StringIO()
    assert operate.requeue(["pending-one", "nope"], env=env_for(path), out=out) == 1
    assert out.getvalue().strip() == "requeued 0 parked deliveries"
    err = capsys.readouterr().err
    assert "not requeued: pending-one, nope;" in err


async def test_requeue_names_exactly_the_ids_it_could_not_requeue(
    tmp_path: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "inbox.db"
    inbox = Inbox(path, clock=clock)
    await inbox.open()
    try:
        for name in ("parked-a", "parked-b", "still-pending"):
            await inbox.store(name, "issues", b"{}", subject=f"o/r#{name}")
        for claimed in await claim(inbox, 2):
            await inbox.park_failed(claimed.delivery_id, "boom")
    finally:
        await inbox.close()
    out = io.StringIO()
    code = operate.requeue(
        ["parked-a", "still-pending", "parked-b", "unknown"], env=env_for(path), out=out
    )
    assert code == 1
    assert out.getvalue().strip() == "requeued 2 parked deliveries"
    err = capsys.readouterr().err
    assert "not requeued: still-pending, unknown;" in err and "parked-a" not in err


async def test_failed_with_a_limit_says_how_many_are_parked_in_all(
    tmp_path: Path, clock: Clock
) -> None:
    path = tmp_path / "inbox.db"
    inbox = Inbox(path, clock=clock)
    await inbox.open()
    try:
        for i in (1, 2, 3):
            await inbox.store(f"d{i}", "issues", b"{}", subject=f"o/r#{i}")
        for claimed in await claim(inbox, 3):
            await inbox.park_failed(claimed.delivery_id, "boom")
    finally:
        await inbox.close()
    out = io.StringIO()
    assert operate.failed(["--limit", "1"], env=env_for(path), out=out) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("d1\t")
    assert lines[1].startswith("3 parked, the oldest 1 shown;")
    out = io.StringIO()
    assert operate.failed(["--limit", "3"], env=env_for(path), out=out) == 0
    assert out.getvalue().splitlines()[-1].startswith("3 parked;")


def test_commands_without_an_inbox_or_with_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "none.db"
    out = io.StringIO()
    assert operate.failed([], env=env_for(missing), out=out) == 2
    assert f"no inbox at {missing} (check DATABASE_URL)" in capsys.readouterr().err
    assert operate.requeue(["--all"], env=env_for(missing), out=out) == 2
    assert "no inbox at" in capsys.readouterr().err
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a file, but never opened by the server
    assert operate.failed([], env=env_for(empty), out=out) == 0
    assert out.getvalue().strip() == f"no parked deliveries in {empty}"
    assert operate.requeue(["--all"], env=env_for(empty), out=out) == 2
    assert "cannot update the inbox" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    assert operate.failed([], env=env_for(junk), out=out) == 2
    assert "cannot read the inbox" in capsys.readouterr().err
    unreachable = {"DATABASE_URL": "postgresql://hb:secret@127.0.0.1:1/none"}
    assert operate.failed([], env=unreachable, out=out) == 2
    err = capsys.readouterr().err
    assert "cannot reach the database at postgresql://hb:***@127.0.0.1:1/none" in err
    assert operate.failed([], env={"DATABASE_URL": "mysql://x"}, out=out) == 2
    assert "is not supported" in capsys.readouterr().err
    for argv in ([], ["--all", "d1"]):
        with pytest.raises(SystemExit) as exited:
            operate.requeue(argv, env=env_for(missing), out=out)
        assert exited.value.code == 2
        assert "name the deliveries to requeue, or pass --all" in capsys.readouterr().err


def test_the_entry_point_runs_them(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "none.db").close()
    result = subprocess.run(
        [sys.executable, "-m", "bot", "failed"],
        env={
            "DATABASE_URL": f"sqlite:///{tmp_path / 'none.db'}",
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        },
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # not the checkout: a developer's .env there is not the test's
    )
    assert result.returncode == 0, result.stderr
    assert "no parked deliveries" in result.stdout


async def test_failed_and_requeue_on_postgresql(
    make_settings: Callable[..., Settings], postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(
        database_url=postgres_url, queue_poll_interval=0.05, queue_heartbeat=0.5
    )
    db = open_database(settings)
    await db.open()

    async def process(delivery: Delivery) -> None:
        raise PermanentError("GitHub answered 422: Validation Failed")

    workers = db.workers(process)
    workers.start()
    env = {"DATABASE_URL": postgres_url}
    try:
        for i in (1, 2, 3):
            await db.inbox.store(f"d{i}", "issues", b"{}", subject=f"o/r#{i}", repository="o/r")

        async def all_parked() -> bool:
            return (await db.inbox.stats()).failed == 3

        await until(all_parked)
        await workers.stop()
        out = io.StringIO()
        assert await asyncio.to_thread(operate.failed, ["--limit", "2"], env=env, out=out) == 0
        lines = out.getvalue().splitlines()
        assert [line.split("\t")[0] for line in lines[:2]] == ["d1", "d2"]
        assert lines[2].startswith("3 parked, the oldest 2 shown;")
        out = io.StringIO()
        code = await asyncio.to_thread(operate.requeue, ["d2", "nope"], env=env, out=out)
        assert code == 1 and out.getvalue().strip() == "requeued 1 parked deliveries"
        assert "not requeued: nope;" in capsys.readouterr().err
        assert (await db.inbox.stats()).failed == 2
    finally:
        await workers.stop()
        await db.close()
