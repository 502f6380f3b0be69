"""JSON objects that also read as attributes: ``issue["number"] == issue.number``.

Seeding and inspection helpers return GitHub's JSON; tests read it either way. The value is a
real ``dict`` (it compares, serialises and copies like one). Nested objects are converted once,
when the record is made, so ``payload["issue"]["title"] = "x"`` changes the payload itself.
"""

from __future__ import annotations

from typing import Any


class Record(dict[str, Any]):
    """A ``dict`` of GitHub JSON whose keys can also be read as attributes."""

    __slots__ = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for key, value in self.items():
            super().__setitem__(key, wrap(value))

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def wrap(value: Any) -> Any:
    """``value`` with every nested dict turned into a :class:`Record`."""
    if isinstance(value, Record):
        return value
    if isinstance(value, dict):
        return Record(value)
    if isinstance(value, list):
        return [wrap(v) for v in value]
    return value
