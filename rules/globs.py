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

Patterns are compiled once and cached into a matcher that is linear in the path whatever the
pattern (see :class:`GlobMatcher`; a backtracking regular expression is not: ``*a*a*a*a*b``
took seconds on one path). :class:`GlobSet` joins a whole list into one matcher, so a 3,000-file
pull request against dozens of globs costs one pass per file. :func:`glob_to_regex` says what a
glob means as a regular expression (documentation and tests); it is not used to match.
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
def compile_glob(pattern: str) -> GlobMatcher:
    """Compiled, cached matcher for one glob; use ``.fullmatch(path)``."""
    return GlobMatcher((pattern,))


def _clean_path(path: str) -> str:
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def glob_match(pattern: str, path: str) -> bool:
    """Whether the repository-relative ``path`` matches ``pattern``."""
    return compile_glob(pattern).fullmatch(_clean_path(path))


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
    _any: GlobMatcher | None = field(init=False, repr=False, compare=False)

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
        return self._any.fullmatch(_clean_path(path))

    def matching(self, path: str) -> tuple[str, ...]:
        """The patterns that match ``path``, in configuration order."""
        if self._any is None:
            return ()
        found = self._any.which(_clean_path(path))
        return tuple(p for i, p in enumerate(self.patterns) if i in found)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def __str__(self) -> str:
        return ", ".join(self.patterns)


@lru_cache(maxsize=256)
def _joined(patterns: tuple[str, ...]) -> GlobMatcher | None:
    return GlobMatcher(patterns) if patterns else None


# ---------------------------------------------------------------------------------------------
# A linear matcher. Globs come from configuration, which anyone with write access to the default
# branch (or the organisation's .github repository) writes. As a backtracking regular expression
# a glob such as ``*a*a*a*a*a*b`` takes seconds on one long path; here a glob is a Thompson NFA
# run as a DFA built lazily, one state set per character: time linear in the path's length
# whatever the pattern, and after the first few paths one dictionary lookup per character.

_NOT_SLASH = "not-slash"
_ANY = "any"
# A matcher: one character, _NOT_SLASH, _ANY, or a class (ranges, negated) that never holds "/".
_Test = str | tuple[tuple[tuple[str, str], ...], bool]
_MAX_CACHED_STEPS = 20_000


def _accepts(test: _Test, ch: str) -> bool:
    if isinstance(test, tuple):
        ranges, negate = test
        if ch == "/":
            return False
        inside = any(lo <= ch <= hi for lo, hi in ranges)
        return inside is not negate
    if test == _NOT_SLASH:
        return ch != "/"
    if test == _ANY:
        return True
    return ch == test


def _class_ranges(body: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    ranges: list[tuple[str, str]] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            ranges.append((body[i], body[i + 2]))
            i += 3
        else:
            ranges.append((body[i], body[i]))
            i += 1
    return tuple(ranges), negate


class _Nfa:
    """States with character edges and empty (epsilon) edges; ``accept`` maps final states to
    the index of the pattern they finish."""

    def __init__(self) -> None:
        self.edges: list[list[tuple[_Test, int]]] = []
        self.empty: list[list[int]] = []
        self.accept: dict[int, int] = {}

    def state(self) -> int:
        self.edges.append([])
        self.empty.append([])
        return len(self.edges) - 1

    def add(self, pattern: str, start: int, index: int) -> None:
        """Add ``pattern`` (normalised) from ``start``; its end accepts for ``index``. Each
        pattern starts in a state of its own: a ``**/`` loops back to where it began."""
        own = self.state()
        self.empty[start].append(own)
        self.accept[self._build(pattern, own)] = index

    def _build(self, pattern: str, state: int) -> int:
        """Build ``pattern`` from ``state``; return the state after it (same rules as
        :func:`_translate`)."""
        i, n = 0, len(pattern)
        while i < n:
            ch = pattern[i]
            at_segment_start = i == 0 or pattern[i - 1] == "/"
            if ch == "*":
                end = i + 1
                while end < n and pattern[end] == "*":
                    end += 1
                whole = end - i >= 2 and at_segment_start and (end == n or pattern[end] == "/")
                if whole and end == n:  # "dir/**" or "**": at least one character
                    nxt = self.state()
                    self.edges[state].append((_ANY, nxt))
                    self.edges[nxt].append((_ANY, nxt))
                    state, i = nxt, end
                    continue
                if whole:  # "**/": zero or more whole directories
                    inside = self.state()
                    self.edges[state].append((_NOT_SLASH, inside))
                    self.edges[inside].append((_NOT_SLASH, inside))
                    self.edges[inside].append(("/", state))
                    i = end + 1
                    continue
                loop = self.state()  # "*": any run within the segment
                self.empty[state].append(loop)
                self.edges[loop].append((_NOT_SLASH, loop))
                state, i = loop, end
                continue
            if ch == "?":
                state = self._step(state, _NOT_SLASH)
            elif ch == "\\" and i + 1 < n:
                state = self._step(state, pattern[i + 1])
                i += 2
                continue
            elif ch == "[":
                close = pattern.find(
                    "]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^", "]") else i + 1
                )
                if close == -1 or "/" in pattern[i:close]:
                    state = self._step(state, ch)
                else:
                    state = self._step(state, _class_ranges(pattern[i + 1 : close]))
                    i = close + 1
                    continue
            elif ch == "{":
                close = _find_closing(pattern, i, "{", "}")
                if close == -1:
                    state = self._step(state, ch)
                else:
                    after = self.state()
                    for alternative in _split_alternatives(pattern[i + 1 : close]):
                        branch = self.state()
                        self.empty[state].append(branch)
                        self.empty[self._build(alternative, branch)].append(after)
                    state, i = after, close + 1
                    continue
            else:
                state = self._step(state, ch)
            i += 1
        return state

    def _step(self, state: int, test: _Test) -> int:
        nxt = self.state()
        self.edges[state].append((test, nxt))
        return nxt


class GlobMatcher:
    """Compiled globs, matched in time linear in the path (see above)."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._nfa = _Nfa()
        start = self._nfa.state()
        for index, pattern in enumerate(patterns):
            self._nfa.add(_normalise(pattern), start, index)
        self._start = self._closure({start})
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}

    def _closure(self, states: Iterable[int]) -> frozenset[int]:
        seen = set(states)
        todo = list(seen)
        while todo:
            for nxt in self._nfa.empty[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def _run(self, path: str) -> frozenset[int]:
        current = self._start
        steps = self._steps
        for ch in path:
            key = (current, ch)
            found = steps.get(key)
            if found is None:
                targets = [
                    nxt
                    for state in current
                    for test, nxt in self._nfa.edges[state]
                    if _accepts(test, ch)
                ]
                found = self._closure(targets)
                if len(steps) >= _MAX_CACHED_STEPS:
                    steps.clear()  # bounded memory; the next paths rebuild what they use
                steps[key] = found
            current = found
            if not current:
                break
        return current

    def fullmatch(self, path: str) -> bool:
        """Whether one of the patterns matches the whole ``path``."""
        accept = self._nfa.accept
        return any(state in accept for state in self._run(path))

    def which(self, path: str) -> set[int]:
        """The indexes of the patterns that match the whole ``path``."""
        accept = self._nfa.accept
        return {accept[state] for state in self._run(path) if state in accept}
