"""Which lines of a hunk start in code, and not inside a comment or a string.

A test declaration inside a block comment or a string literal declares nothing: ``/* it('x') */``
in JavaScript, a ``#[test]`` in a Rust ``/* … */``, a Python ``def test_x`` inside a triple-quoted
string (pytester and doctest fixtures hold whole test files), a Go raw string, Ruby
``=begin … =end`` or a heredoc. A declaration is read only on a line that starts in code.

The state is carried across the lines of one side of a hunk, context lines included, so a
comment opened in a context line covers the added lines below it. A comment opened above the
hunk's first line is out of sight; when the first comment delimiter the hunk shows closes one
(``*/`` after nothing but white space or a ``*`` on its line, or Ruby's ``=end``), the hunk is
read again as starting inside that comment.

Single-line strings never carry to the next line: an unbalanced quote (an apostrophe in a
regular expression or in JSX text) ends the line's reading, not the hunk's. Only delimiters that
really span lines carry: block comments, triple-quoted and raw strings, template literals, Rust
strings, Ruby heredocs.

Every pattern here is linear: a run of code is one pass over disjoint one-character alternatives
and complete strings (whose bodies are an escape or one character that is neither the quote nor
a backslash), and each delimiter is found with ``str.find`` or a pattern of the same shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Lexed", "Syntax", "lex", "syntax"]


@dataclass(frozen=True)
class Syntax:
    """How one language writes comments and strings.

    ``run`` consumes plain code and complete one-line strings; it stops at a character that may
    start a delimiter, where ``tokens`` (named groups: ``line`` comment, block comment ``open`` and
    ``close``, one-line ``str``, ``long`` multi-line string with backslash escapes, ``raw``
    multi-line string without, ``verbatim`` C# ``@"…"``, ``heredoc`` with ``hid``) tells which.
    """

    run: re.Pattern[str]
    tokens: re.Pattern[str]
    block: tuple[str, str] = ("", "")
    nested: bool = False
    line_block: tuple[re.Pattern[str], re.Pattern[str]] | None = None
    rust_raw: bool = False


@dataclass(frozen=True)
class Lexed:
    """Per line of the view: ``live`` when it starts in code, ``code`` its text without comments."""

    live: tuple[bool, ...]
    code: tuple[str, ...]


DQ = r'"(?:\\.|[^"\\])*"'
SQ = r"'(?:\\.|[^'\\])*'"
# A one-line string that is not the start of a triple-quoted one.
DQ1 = r'"(?!"")(?:\\.|[^"\\])*"'
SQ1 = r"'(?!'')(?:\\.|[^'\\])*'"
CHAR = r"'(?:\\[^'\\]{1,10}|[^\\'])'"  # a char literal, where a lone ' is a lifetime or a type
C_COMMENTS = r"(?P<line>//)|(?P<open>(?<!\\)/\*)|(?P<close>\*/)"


def syntax(
    stop: str,
    strings: Sequence[str],
    tokens: str,
    *,
    block: tuple[str, str] = ("", ""),
    nested: bool = False,
    line_block: tuple[str, str] | None = None,
    rust_raw: bool = False,
) -> Syntax:
    """A :class:`Syntax` from the characters that may start a delimiter (``stop``, a character
    class body), the complete one-line strings and the delimiter tokens."""
    stops = "".join(re.escape(char) for char in stop)
    # A stop character that starts no token (a ``/`` that divides, a ``<`` that compares) is code
    # too: the run takes it, so only real delimiters come back to the loop.
    quiet = re.sub(r"\(\?P<\w+>", "(?:", tokens).replace("(?P=hq)", "")
    run = re.compile("(?:" + "|".join([*strings, f"[^{stops}]", f"(?!{quiet})[{stops}]"]) + ")*")
    return Syntax(
        run=run,
        tokens=re.compile(tokens),
        block=block,
        nested=nested,
        line_block=((re.compile(line_block[0]), re.compile(line_block[1])) if line_block else None),
        rust_raw=rust_raw,
    )


_REST: dict[str, re.Pattern[str]] = {}


def _rest(closer: str) -> re.Pattern[str]:
    """The rest of a string with backslash escapes, up to and including ``closer``."""
    found = _REST.get(closer)
    if found is None:
        quoted = re.escape(closer)
        found = re.compile(rf"(?:\\.|(?!{quoted})[^\\])*{quoted}")
        _REST[closer] = found
    return found


def _rust_raw_hashes(text: str, at: int) -> str | None:
    """The ``#`` run of a Rust raw string prefix (``r"``, ``r#"``, ``br##"``, at most 255 ``#``)
    that ends at ``at``, or None when the quote there opens no raw string.

    Read back from the quote over its own ``#`` run only, so a line of quotes costs one look
    per quote, not a search over the 258 characters before each."""
    start = at
    while start > 0 and at - start <= 255 and text[start - 1] == "#":
        start -= 1
    if at - start > 255 or start == 0 or text[start - 1] != "r":
        return None
    before = start - 2
    if before >= 0 and text[before] == "b":
        before -= 1
    if before >= 0 and (text[before].isalnum() or text[before] == "_"):
        return None
    return text[start:at]


_NESTED: dict[tuple[str, str], re.Pattern[str]] = {}


class _Restart(Exception):
    def __init__(self, state: tuple[object, ...]) -> None:
        super().__init__()
        self.state = state


_CODE: tuple[object, ...] = ("code",)


def lex(grammar: Syntax, texts: Sequence[str], unchanged: int = 0) -> Lexed:
    """Which of ``texts`` (one side of a hunk, in order) start in code, and their code text.

    ``unchanged``: how many lines at the top are context lines. A string delimiter that opens
    and closes alike (``\"\"\"``, a backtick) cannot tell which it does; when the hunk ends inside
    such a string first opened in those lines, the hunk more likely began inside it (a test
    after a multi-line expected text), and it is read again that way if that ends in code.
    """
    try:
        lexed, end, first = _scan(grammar, texts, _CODE, infer=True)
    except _Restart as restart:
        return _scan(grammar, texts, restart.state, infer=False)[0]
    if end[0] in ("long", "raw") and first is not None and first[0] < unchanged:
        try:
            again, end, _ = _scan(grammar, texts, first[1], infer=False)
        except _Restart:  # pragma: no cover - inference is off
            return lexed
        if end[0] == "code":
            return again
    return lexed


def _comment_before(prefix: str) -> bool:
    stripped = prefix.strip()
    return not stripped or stripped.startswith("*")


def _scan(
    grammar: Syntax, texts: Sequence[str], state: tuple[object, ...], *, infer: bool
) -> tuple[Lexed, tuple[object, ...], tuple[int, tuple[object, ...]] | None]:
    """The lines read from ``state``; the state after the last line; where a string whose
    delimiter opens and closes alike was first opened (line index, state)."""
    live: list[bool] = []
    code: list[str] = []
    opened = False  # a block comment opened in sight: a closer after it proves nothing
    block_open, block_close = grammar.block
    first: tuple[int, tuple[object, ...]] | None = None
    run = grammar.run.match
    line_block = grammar.line_block
    for number, text in enumerate(texts):
        whole = run(text) if state is _CODE and line_block is None else None
        if whole is not None and whole.end() == len(text):
            live.append(True)  # code through and through, the common line
            code.append(text)
            continue
        live.append(state is _CODE)
        if line_block is not None:
            begin, end = line_block
            if state[0] == "line_block":
                if end.match(text):
                    state = _CODE
                code.append("")
                continue
            if state is _CODE:
                if begin.match(text):
                    state, opened = ("line_block",), True
                    code.append("")
                    continue
                if infer and not opened and end.match(text):
                    raise _Restart(("line_block",))
        if state[0] == "heredoc":
            ids = state[1]
            assert isinstance(ids, tuple)
            if text.strip() == ids[0]:
                state = ("heredoc", ids[1:]) if len(ids) > 1 else _CODE
            code.append(text)
            continue
        parts: list[str] = []
        segment: int | None = 0  # start of the code being kept; None inside a comment
        pending: list[str] = []
        pos, size = 0, len(text)
        while pos < size:
            kind = state[0]
            if kind == "code":
                found = run(text, pos)
                pos = found.end() if found else pos
                if pos >= size:
                    break
                token = grammar.tokens.match(text, pos)
                if token is None:
                    pos += 1
                    continue
                group = token.lastgroup
                if group == "line":
                    parts.append(text[segment : token.start()])
                    segment = None
                    break
                if group == "close":
                    if infer and not opened and _comment_before(text[: token.start()]):
                        raise _Restart(("block", 1))
                    pos = token.end()
                    continue
                pos = token.end()
                if group == "open":
                    opened = True
                    parts.append(text[segment : token.start()])
                    segment = None
                    state = ("block", 1)
                elif group == "str":
                    rest = _rest(token.group()[-1]).match(text, pos)
                    pos = rest.end() if rest else size
                elif group == "long":
                    state = ("long", token.group("long"))
                    if grammar.rust_raw:
                        hashes = _rust_raw_hashes(text, token.start())
                        if hashes is not None:
                            state = ("raw", '"' + hashes)
                    if first is None and state[1] == token.group():
                        first = (number, state)
                elif group == "raw":
                    state = ("raw", token.group("raw"))
                    if first is None:
                        first = (number, state)
                elif group == "verbatim":
                    state = ("raw", '"')
                elif group == "heredoc":
                    pending.append(token.group("hid"))
            elif kind == "block":
                depth = state[1]
                assert isinstance(depth, int)
                if grammar.nested:
                    pattern = _NESTED.get(grammar.block)
                    if pattern is None:
                        pattern = re.compile(
                            "|".join(re.escape(delimiter) for delimiter in grammar.block)
                        )
                        _NESTED[grammar.block] = pattern
                    hit = pattern.search(text, pos)
                    if hit is None:
                        break
                    depth += 1 if hit.group() == block_open else -1
                    pos = hit.end()
                else:
                    at = text.find(block_close, pos)
                    if at < 0:
                        break
                    depth, pos = 0, at + len(block_close)
                if depth == 0:
                    state, segment = _CODE, pos
                else:
                    state = ("block", depth)
            elif kind == "long":
                closer = state[1]
                assert isinstance(closer, str)
                rest = _rest(closer).match(text, pos)
                if rest is None:
                    break
                state, pos = _CODE, rest.end()
            else:  # raw
                closer = state[1]
                assert isinstance(closer, str)
                at = text.find(closer, pos)
                if at < 0:
                    break
                state, pos = _CODE, at + len(closer)
        if segment is not None:
            parts.append(text[segment:])
        code.append("".join(parts))
        if pending and state is _CODE:
            state = ("heredoc", tuple(pending))
    return Lexed(tuple(live), tuple(code)), state, first
