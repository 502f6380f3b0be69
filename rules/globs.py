"""Path globs for the test paths and control paths of `.github/hardening.yml`.

The contract's defaults (``tests/**``, ``**/*_test.go``, ``**/*.spec.*``, ``alerts/**``) are
matched against the repository-relative file names GitHub lists for a pull request. Semantics:

- a pattern is anchored at the repository root and must match the whole path;
  ``*.md`` matches ``README.md`` but not ``docs/x.md`` (write ``**/*.md`` for that);
- ``*`` matches any run of characters except ``/``; ``?`` matches one character except ``/``;
- ``**`` as a whole path segment matches any number of directories, including none:
  ``**/test_*.py`` matches ``test_x.py`` and ``a/b/test_x.py``; ``tests/**`` matches every file
  under ``tests/``; ``a/**/b`` matches ``a/b`` and ``a/x/y/b``. ``**`` inside a segment
  (``foo**``) is an ordinary ``*``;
- ``{a,b}`` matches either alternative (alternatives may hold globs and nest);
- ``[abc]``, ``[a-z]``, ``[!abc]`` / ``[^abc]`` are character classes (never matching ``/``);
- ``\\`` escapes the next character; a ``[`` or ``{`` without its closing bracket is literal;
- matching is case-sensitive, like git; a leading ``/`` or ``./`` is ignored, and a trailing
  ``/`` means "everything under" (``tests/`` is ``tests/**``).

Patterns are translated to regular expressions once and cached; :class:`GlobSet` joins a whole
list into one expression, so a 3,000-file pull request against dozens of globs costs one regex
match per file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["GlobSet", "compile_glob", "glob_match", "glob_problem", "glob_to_regex"]

_SEGMENT_CHARS = "[^/]"


def _normalise(pattern: str) -> str:
    pattern = pattern.strip()
    while pattern.startswith("./"):
        pattern = pattern[2:]
    pattern = pattern.lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    return pattern


def _find_closing(pattern: str, start: int, open_ch: str, close_ch: str) -> int:
    """Index of the bracket closing the one at ``start``, or -1 (nesting and escapes honoured)."""
    depth = 0
    i = start
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == open_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _split_alternatives(body: str) -> list[str]:
    """Split the inside of ``{...}`` on top-level commas."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\" and i + 1 < len(body):
            current.append(body[i : i + 2])
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def _char_class(body: str) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    out = []
    for ch in body:
        # Escape everything that is special inside a regex class, keep ranges.
        out.append(ch if ch == "-" or ch.isalnum() else re.escape(ch))
    inner = "".join(out)
    if negate:
        return f"[^/{inner}]"
    return f"(?![/])[{inner}]"


def _translate(pattern: str) -> str:
    """Regex source for ``pattern`` (already normalised), without anchors."""
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        at_segment_start = i == 0 or pattern[i - 1] == "/"
        if ch == "*" and pattern.startswith("**", i):
            end = i + 2
            while end < n and pattern[end] == "*":
                end += 1
            at_segment_end = end == n or pattern[end] == "/"
            if at_segment_start and at_segment_end:
                if end == n:
                    # "dir/**" or "**": anything below (at least one character).
                    out.append(".+" if i == 0 else "(?:.+)")
                    i = end
                else:
                    # "**/": zero or more whole directories.
                    out.append("(?:[^/]+/)*")
                    i = end + 1
                continue
            out.append(_SEGMENT_CHARS + "*")
            i = end
            continue
        if ch == "*":
            out.append(_SEGMENT_CHARS + "*")
        elif ch == "?":
            out.append(_SEGMENT_CHARS)
        elif ch == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        elif ch == "[":
            close = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^", "]") else i + 1)
            if close == -1 or "/" in pattern[i:close]:
                out.append(re.escape(ch))
            else:
                out.append(_char_class(pattern[i + 1 : close]))
                i = close + 1
                continue
        elif ch == "{":
            close = _find_closing(pattern, i, "{", "}")
            if close == -1:
                out.append(re.escape(ch))
            else:
                alternatives = _split_alternatives(pattern[i + 1 : close])
                out.append("(?:" + "|".join(_translate(alt) for alt in alternatives) + ")")
                i = close + 1
                continue
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def glob_to_regex(pattern: str) -> str:
    """The anchored regular expression source that ``pattern`` stands for."""
    return _translate(_normalise(pattern))


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compiled, cached matcher for one glob; use ``.fullmatch(path)``."""
    return re.compile(glob_to_regex(pattern))


def _clean_path(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def glob_match(pattern: str, path: str) -> bool:
    """Whether the repository-relative ``path`` matches ``pattern``."""
    return compile_glob(pattern).fullmatch(_clean_path(path)) is not None


def glob_problem(pattern: str) -> str | None:
    """A sentence saying why ``pattern`` is likely a mistake, or None when it looks fine.

    Matching never fails (an unclosed ``[`` or ``{`` is taken literally); this is for the
    configuration reader, which can tell the user about it.
    """
    if not isinstance(pattern, str) or not pattern.strip():
        return "an empty path pattern matches nothing"
    if "{" in pattern and _find_closing(pattern, pattern.find("{"), "{", "}") == -1:
        return f"`{pattern}` has a `{{` without its closing `}}`"
    if "[" in pattern and "]" not in pattern[pattern.find("[") + 1 :]:
        return f"`{pattern}` has a `[` without its closing `]`"
    if ".." in pattern.split("/"):
        return f"`{pattern}` uses `..`; paths are relative to the repository root"
    return None


@dataclass(frozen=True)
class GlobSet:
    """A list of globs compiled once, matched as one regular expression.

    >>> tests = GlobSet(("tests/**", "**/*_test.go"))
    >>> tests.match("pkg/queue/lag_test.go")
    True
    """

    patterns: tuple[str, ...]
    _any: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = self.patterns
        if isinstance(patterns, str):
            patterns = (patterns,)
        kept = tuple(p for p in dict.fromkeys(patterns) if isinstance(p, str) and p.strip())
        object.__setattr__(self, "patterns", kept)
        object.__setattr__(self, "_any", _joined(kept))

    @classmethod
    def of(cls, patterns: Iterable[str] | str) -> GlobSet:
        """Compile ``patterns`` (a single string is one pattern); blanks are dropped."""
        if isinstance(patterns, str):
            return cls((patterns,))
        return cls(tuple(patterns))

    def match(self, path: str) -> bool:
        """Whether ``path`` matches at least one of the patterns."""
        if self._any is None:
            return False
        return self._any.fullmatch(_clean_path(path)) is not None

    def matching(self, path: str) -> tuple[str, ...]:
        """The patterns that match ``path``, in configuration order."""
        clean = _clean_path(path)
        return tuple(p for p in self.patterns if compile_glob(p).fullmatch(clean))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __str__(self) -> str:
        return ", ".join(self.patterns)


@lru_cache(maxsize=256)
def _joined(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{glob_to_regex(p)})" for p in patterns))
