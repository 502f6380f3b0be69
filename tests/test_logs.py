"""JSON log lines: the delivery's fields, any value, exact milliseconds."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from datetime import datetime, timedelta

from bot.logs import JsonFormatter


def test_json_log_lines_carry_the_delivery_fields() -> None:
    from bot.context import bound_log

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.jsonlog")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        log = bound_log("test.jsonlog", delivery="d-9", event="issues", subject="o/r#1")
        log.info("stored %s", "ok", extra={"action": "opened"})
        try:
            raise ValueError("boom")
        except ValueError:
            log.bind(attempt=2).exception("failed")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "stored ok" and first["level"] == "info"
    assert (first["delivery"], first["event"], first["subject"], first["action"]) == (
        "d-9",
        "issues",
        "o/r#1",
        "opened",
    )
    assert second["attempt"] == 2 and "ValueError: boom" in second["exc"]
    stamp = datetime.fromisoformat(first["ts"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs(stamp.timestamp() - time.time()) < 60
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["ts"])


def test_json_log_lines_survive_fields_the_fast_encoder_refuses() -> None:
    record = logging.LogRecord("t", logging.INFO, "", 0, "odd fields", None, None)
    record.labels = {1: "x"}
    record.big = 2**70
    record.raw = b"bytes"
    line = json.loads(JsonFormatter().format(record))
    assert line["labels"] == {"1": "x"} and line["big"] == 2**70 and line["raw"] == "b'bytes'"


def test_json_log_timestamps_keep_their_milliseconds_across_seconds() -> None:
    formatter = JsonFormatter()
    for created, expected in [
        (1_764_000_000.0, "2025-11-24T16:00:00.000+00:00"),
        (1_764_000_000.9996, "2025-11-24T16:00:00.999+00:00"),
        (1_764_000_001.25, "2025-11-24T16:00:01.250+00:00"),
        (1_764_000_000.5, "2025-11-24T16:00:00.500+00:00"),  # back in time: recomputed
        (1_764_000_001.9999996, "2025-11-24T16:00:02.000+00:00"),  # rounds up into the next
    ]:
        record = logging.LogRecord("t", logging.INFO, "", 0, "m", None, None)
        record.created = created
        assert json.loads(formatter.format(record))["ts"] == expected
