"""Text people typed, made safe to read and to copy (docs/hostile-input.md).

Anyone who can open an issue or a pull request can send the App text; the App copies some of it
(finding text, titles, evidence notes, rationales) into the issues, comments and check runs it
writes. Two rules keep that copy inert:

- **No mentions.** GitHub notifies ``@login`` and ``@org/team`` when an ``@`` that does not
  follow a letter, digit or ``_`` is directly followed by a letter or digit. :func:`inert` puts a
  zero-width space (U+200B) right after such an ``@``: the text reads the same, GitHub links and
  notifies no one, and applying it again changes nothing. Mentions the App means to make (an
  item's owner, the person who closed an issue) are written by the App from logins it parsed,
  never from copied text.
- **No hidden markup.** ``<!--`` and ``-->`` get the same zero-width space inside them, so
  copied text can neither open an HTML comment that hides the rest of the App's message nor pass
  for one of the App's hidden markers (``rules/markers.py``).

The zero-width space works alike in titles (plain text, where an HTML entity would show as
``&lt;``), in Markdown, and inside code spans. :func:`bounded_int` reads a digit run typed by a
person: Python refuses ``int()`` of more than 4,300 digits, and no issue number, count or
duration we read needs more than a handful.

Every pattern here is linear: fixed-width look-arounds around one character.
"""

from __future__ import annotations

import re

__all__ = ["ZWSP", "bounded_int", "inert", "inert_line", "inert_url"]

ZWSP = "\u200b"
# GitHub's mention filter: an "@" after a non-word character (or at the start) followed by a
# login's first character. Logins and team slugs start with a letter or digit.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
_COMMENT_OPEN = "<!--"
_COMMENT_CLOSE = "-->"


def inert(text: str) -> str:
    """``text`` with every mention neutralised and every HTML comment delimiter broken.

    Idempotent, and the result reads the same as ``text``.
    """
    if "@" in text:
        text = _MENTION.sub("@" + ZWSP, text)
    if _COMMENT_OPEN in text:
        text = text.replace(_COMMENT_OPEN, "<" + ZWSP + "!--")
    if _COMMENT_CLOSE in text:
        text = text.replace(_COMMENT_CLOSE, "--" + ZWSP + ">")
    return text


def inert_url(url: str) -> str:
    """A link copied from a person: only its comment delimiters are broken. A mention inside
    a link is not one (GitHub does not look inside links), and a zero-width space would break
    the link."""
    return url.replace(_COMMENT_OPEN, "<" + ZWSP + "!--").replace(_COMMENT_CLOSE, "--" + ZWSP + ">")


def inert_line(text: str) -> str:
    """:func:`inert` text on one line: runs of white space (newlines included) become one space,
    so a copied title or note cannot start a Markdown block of its own."""
    return inert(" ".join(text.split()))


def bounded_int(digits: str, max_digits: int = 18) -> int | None:
    """The value of an ASCII digit run of at most ``max_digits`` digits, else None.

    For numbers read from text people type (issue references, durations, counts): a longer
    run is no number we could act on, and ``int()`` of more than 4,300 digits raises.
    """
    if not digits or len(digits) > max_digits or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)
