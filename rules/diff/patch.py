"""Unified-diff hunks as GitHub returns them in a pull request file's ``patch``.

GitHub's ``patch`` is the body of a unified diff for one file: no ``---``/``+++`` header, one or
more hunks each opened by ``@@ -a,b +c,d @@ section``. We keep every line with its real line
number in the old file (context and removed lines) and in the new file (context and added lines),
so proofs and annotations point at the line a reviewer sees in "Files changed".

The parser never raises. Real patches are exact; hand-made ones often are not, so the counts in a
hunk header are not trusted to end a hunk: a hunk runs until the next ``@@`` header, a line that
is not part of a diff body ends it early only when it is a file header (``diff --git``, ``---``,
``+++`` or ``index`` outside a counted hunk). ``\\ No newline at end of file`` is skipped, and an
empty line inside a hunk is a blank context line whose single space an editor trimmed (one
trailing newline at the very end of the patch is not a line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, NamedTuple

__all__ = ["Hunk", "PatchLine", "changed_lines", "parse_patch"]

LineKind = Literal["+", "-", " "]

_HUNK_HEADER = re.compile(r"^@@+ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@+ ?(.*)$")
_FILE_HEADER = re.compile(
    r"^(?:diff --git |index [0-9a-f]|--- |\+\+\+ |new file mode |deleted file mode )"
)


class PatchLine(NamedTuple):
    """One body line of a hunk (a named tuple: a PR can hold hundreds of thousands of them).

    ``old`` is its line number in the old file (None for an added line), ``new`` in the new file
    (None for a removed line).
    """

    kind: LineKind
    text: str
    old: int | None
    new: int | None


@dataclass(frozen=True)
class Hunk:
    """One ``@@ -old_start,old_count +new_start,new_count @@ section`` hunk and its lines.

    ``section`` is git's function context: the nearest line above the hunk that looks like a
    declaration (``def test_x():``, ``func TestX(t *testing.T) {``), often the enclosing test.
    """

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    section: str
    lines: tuple[PatchLine, ...]

    @property
    def added(self) -> tuple[PatchLine, ...]:
        return tuple(line for line in self.lines if line.kind == "+")

    @property
    def removed(self) -> tuple[PatchLine, ...]:
        return tuple(line for line in self.lines if line.kind == "-")


def parse_patch(patch: str | None) -> tuple[Hunk, ...]:
    """The hunks of a GitHub ``patch`` string; an absent or empty patch has none."""
    if not patch or not isinstance(patch, str):
        return ()
    hunks: list[Hunk] = []
    header: re.Match[str] | None = None
    body: list[PatchLine] = []
    old_no = new_no = 0
    # Lines still owed to the current hunk by its header counts; past that a file header ends it.
    owed_old = owed_new = 0

    def close() -> None:
        if header is not None:
            hunks.append(
                Hunk(
                    old_start=int(header.group(1)),
                    old_count=_count(header.group(2)),
                    new_start=int(header.group(3)),
                    new_count=_count(header.group(4)),
                    section=header.group(5).rstrip(),
                    lines=tuple(body),
                )
            )

    if patch.endswith("\n"):
        patch = patch[:-1]
    for raw in patch.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.startswith("@@"):
            match = _HUNK_HEADER.match(line)
            if match is not None:
                close()
                header, body = match, []
                old_no, new_no = int(match.group(1)), int(match.group(3))
                owed_old, owed_new = _count(match.group(2)), _count(match.group(4))
                continue
        if header is None:
            continue  # preamble before the first hunk (file headers, or junk)
        if owed_old <= 0 and owed_new <= 0 and _FILE_HEADER.match(line):
            close()
            header, body = None, []
            continue
        marker = line[:1]
        if marker == "+":
            body.append(PatchLine("+", line[1:], None, new_no))
            new_no += 1
            owed_new -= 1
        elif marker == "-":
            body.append(PatchLine("-", line[1:], old_no, None))
            old_no += 1
            owed_old -= 1
        elif marker == " " or line == "":
            body.append(PatchLine(" ", line[1:], old_no, new_no))
            old_no += 1
            new_no += 1
            owed_old -= 1
            owed_new -= 1
        # "\ No newline at end of file" and anything else carry no line.
    close()
    return tuple(hunks)


def _count(group: str | None) -> int:
    return 1 if group is None else int(group)


def changed_lines(hunks: tuple[Hunk, ...]) -> tuple[PatchLine, ...]:
    """Every added and removed line, in patch order."""
    return tuple(line for hunk in hunks for line in hunk.lines if line.kind != " ")
