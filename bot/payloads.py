"""The one JSON decoder of webhook payloads, at intake and in the workers.

Intake answers 400 to what it cannot decode; a delivery it stored must decode the same way when
a worker takes it, or a payload accepted with a 202 would fail on every attempt and be parked
(a 5,000-digit number, for instance, is a float to orjson and an error to ``json.loads``, which
refuses ints over 4,300 digits). So both read through :func:`loads` (orjson: strict RFC 8259,
no ``NaN``, no lone surrogates, no byte-order mark; several times faster than ``json``).
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["PayloadError", "loads"]

PayloadError = orjson.JSONDecodeError  # a ValueError


def loads(body: bytes | str) -> Any:
    """The decoded JSON document; :data:`PayloadError` when ``body`` is not one."""
    return orjson.loads(body)
