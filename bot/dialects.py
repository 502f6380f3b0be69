"""Table definitions written once for both databases the App runs on (``bot.inbox.api.Sql``).

A leaf: the modules keeping a table of their own (``bot.run_records``, ``bot.pull_links``...)
import it without importing the inbox.
"""

from __future__ import annotations

# The column types the two dialects spell differently, for a schema written once for both.
_TYPES = {
    "sqlite": {"real": "REAL", "bigint": "INTEGER"},
    "postgresql": {"real": "DOUBLE PRECISION", "bigint": "BIGINT"},
}


def per_dialect(schema: str) -> dict[str, str]:
    """``schema`` for each ``Sql.dialect``, its ``{real}`` (a float) and ``{bigint}`` (a 64-bit
    integer) spelled as the dialect does."""
    return {dialect: schema.format(**types) for dialect, types in _TYPES.items()}
