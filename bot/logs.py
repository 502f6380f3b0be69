"""The process's logs: one JSON object per line on stderr, with the fields bound to a delivery.

``configure_logging`` is called by the entry points (``python -m bot``, ``run-job``, ``replay``,
the bench), never at import.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson


def _dumps(doc: dict[str, Any]) -> str:
    try:
        return orjson.dumps(doc, default=str).decode()
    except TypeError:  # what orjson refuses and json takes: int keys, ints over 64 bits
        return json.dumps(doc, default=str, separators=(",", ":"))


_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the bound fields
    (delivery, event, action, repository, subject, ...).

    Every delivery writes a line before its 202, so this is on the acknowledgement's path:
    the date part of the timestamp is formatted once per second, and orjson encodes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._cached = (-1, "")  # (epoch second, its date and time text)

    def _timestamp(self, created: float) -> str:
        # As datetime.isoformat(timespec="milliseconds") would: round to microseconds, then cut.
        second = int(created)
        micros = round((created - second) * 1_000_000)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        cached_second, text = self._cached  # one tuple: a reader never sees half an update
        if second != cached_second:
            text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._cached = (second, text)
        return f"{text}.{micros // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if value is not None and key not in _RECORD_FIELDS and key[:1] != "_":
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return _dumps(doc)


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines on stderr for the whole process (entry points only, never at import)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Fields our lines never show, skipped as the logging docs' "Optimization" section suggests:
    # every delivery logs, and the caller lookup walks the stack for each record.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # aiohttp's access log would duplicate every delivery line without its fields.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
