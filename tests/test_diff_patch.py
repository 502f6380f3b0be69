"""rules.diff.patch: GitHub's ``patch`` text to hunks with real line numbers."""

from __future__ import annotations

import difflib

from hypothesis import given
from hypothesis import strategies as st

from rules.diff import parse_patch
from rules.diff.patch import changed_lines

PATCH = "\n".join(
    [
        "@@ -10,6 +10,7 @@ def test_lag(broker):",
        "     consumer = Consumer(broker)",
        "     consumer.poll()",
        "-    assert consumer.lag() == 0",
        "+    assert consumer.lag() == 0",
        "+    assert consumer.offset() == 5",
        " ",
        " ",
        " def test_other():",
        "@@ -40 +41,2 @@ class X:",
        "-    pass",
        "+    x = 1",
        "+    y = 2",
        "\\ No newline at end of file",
    ]
)


def test_hunks_carry_real_line_numbers() -> None:
    first, second = parse_patch(PATCH)
    assert (first.old_start, first.old_count, first.new_start, first.new_count) == (10, 6, 10, 7)
    assert first.section == "def test_lag(broker):"
    assert [(x.old, x.new) for x in first.removed] == [(12, None)]
    assert [(x.old, x.new, x.text) for x in first.added] == [
        (None, 12, "    assert consumer.lag() == 0"),
        (None, 13, "    assert consumer.offset() == 5"),
    ]
    assert first.lines[-1].text == "def test_other():"
    assert (first.lines[-1].old, first.lines[-1].new) == (15, 16)
    # "@@ -40 +41,2 @@": an omitted count is 1; the no-newline marker is not a line.
    assert (second.old_start, second.old_count, second.new_start, second.new_count) == (
        40,
        1,
        41,
        2,
    )
    assert [x.kind for x in second.lines] == ["-", "+", "+"]
    assert [x.new for x in second.added] == [41, 42]
    assert len(changed_lines((first, second))) == 6


def test_absent_or_empty_patch_has_no_hunks() -> None:
    assert parse_patch(None) == ()
    assert parse_patch("") == ()
    assert parse_patch("Binary files differ") == ()


def test_new_file_starts_at_line_one() -> None:
    (hunk,) = parse_patch("@@ -0,0 +1,2 @@\n+a\n+b")
    assert [x.new for x in hunk.lines] == [1, 2]


def test_trimmed_blank_context_line_and_crlf() -> None:
    (hunk,) = parse_patch("@@ -1,3 +1,4 @@\r\n a\r\n\r\n+b\r\n c")
    assert [(x.kind, x.text) for x in hunk.lines] == [(" ", "a"), (" ", ""), ("+", "b"), (" ", "c")]
    assert hunk.lines[-1].new == 4


def test_git_file_headers_are_skipped_between_files() -> None:
    text = (
        "diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
        "diff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -5,0 +6 @@\n+c\n"
    )
    first, second = parse_patch(text)
    assert [(x.kind, x.text) for x in first.lines] == [("-", "a"), ("+", "b")]
    assert [(x.kind, x.text, x.new) for x in second.lines] == [("+", "c", 6)]


def test_removed_line_that_looks_like_a_header_is_kept() -> None:
    # Inside a counted hunk, "--- x" is the removed line "-- x" (a SQL comment, say).
    (hunk,) = parse_patch("@@ -1,2 +1,1 @@\n--- comment\n keep")
    assert [(x.kind, x.text) for x in hunk.lines] == [("-", "-- comment"), (" ", "keep")]


@given(st.text())
def test_never_raises_and_numbers_are_consistent(text: str) -> None:
    for hunk in parse_patch(text):
        old, new = hunk.old_start, hunk.new_start
        for line in hunk.lines:
            assert line.kind in ("+", "-", " ")
            if line.kind != "+":
                assert line.old == old
                old += 1
            else:
                assert line.old is None
            if line.kind != "-":
                assert line.new == new
                new += 1
            else:
                assert line.new is None


_LINES = st.lists(st.sampled_from(["a", "b", "c", "def test_x():", "", "  assert x", "}"]))


@given(_LINES, _LINES, st.integers(min_value=0, max_value=3))
def test_line_numbers_point_at_the_right_lines(
    old: list[str], new: list[str], context: int
) -> None:
    """A unified diff made by difflib: every line number we read points at that very line."""
    diff = list(difflib.unified_diff(old, new, lineterm="", n=context))
    patch = "\n".join(diff[2:])  # GitHub's patch has no ---/+++ header
    hunks = parse_patch(patch)
    for hunk in hunks:
        assert hunk.old_count == sum(1 for x in hunk.lines if x.kind != "+")
        assert hunk.new_count == sum(1 for x in hunk.lines if x.kind != "-")
        for line in hunk.lines:
            if line.kind != "+":
                assert line.old is not None and old[line.old - 1] == line.text
            if line.kind != "-":
                assert line.new is not None and new[line.new - 1] == line.text
    added = sum(len(h.added) for h in hunks)
    removed = sum(len(h.removed) for h in hunks)
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    same = sum(block.size for block in matcher.get_matching_blocks())
    assert (added, removed) == (len(new) - same, len(old) - same)
