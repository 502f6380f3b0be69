"""JSON objects that also read as attributes: ``issue["number"] == issue.number``.

Seeding and inspection helpers return GitHub's JSON; tests read it either way. The value is a
real ``dict`` (it compares, serialises and copies like one); nested objects read the same way.
"""

from __future__ import annotations

from typing import Any


class Record(dict[str, Any]):
    """A ``dict`` of GitHub JSON whose keys can also be read as attributes."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return wrap(self[name])
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: str) -> Any:
        return wrap(super().__getitem__(key))


def wrap(value: Any) -> Any:
    """``value`` with every dict turned into a :class:`Record` (lists are copied shallowly)."""
    if isinstance(value, dict) and not isinstance(value, Record):
        return Record(value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value
