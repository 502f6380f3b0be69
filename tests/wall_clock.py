"""Run the suite as if it started at another moment: ``TEST_WALL_CLOCK``.

    TEST_WALL_CLOCK=2026-11-30T23:59:40+00:00 .venv/bin/python -m pytest -p wall_clock

The wall clock (``time.time``, which the bot, the sandbox and procrastinate read) is shifted
so it reads that moment when the run starts, then advances as usual; the event loop's clock is
not touched. A test whose result depends on the day it runs (a Monday, the last day of a month,
a date written into it that the calendar has passed) fails this way on any machine. Loaded
with ``-p`` so the shift is in place before any module takes ``time.time`` as its default
clock. Tests that start ``python -m bot`` (marked ``real_clock``) are skipped: that process
keeps the real clock, and the sandbox would refuse its App tokens as issued in the future.
"""

from __future__ import annotations

import os
import time
from datetime import datetime

import pytest

_START = os.environ.get("TEST_WALL_CLOCK")
if _START:
    _offset = datetime.fromisoformat(_START).timestamp() - time.time()
    _real = time.time

    def _shifted() -> float:
        return _real() + _offset

    time.time = _shifted


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not _START:
        return
    skip = pytest.mark.skip(reason="starts python -m bot, which keeps the real clock")
    for item in items:
        if item.get_closest_marker("real_clock") is not None:
            item.add_marker(skip)


def pytest_report_header() -> str | None:
    return f"wall clock shifted: the run started at {_START}" if _START else None
