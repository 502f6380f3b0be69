"""``/harden`` slash commands in a comment on a hardening issue (docs/commands.md).

Grammar, one command per line::

    /harden verify
    /harden owner @LOGIN
    /harden verifier @LOGIN
    /harden due YYYY-MM-DD
    /harden evidence URL [implementation|behavioral|rollback|monitoring|runbook|test] [NOTE]
    /harden ack
    /harden retire RATIONALE
    /harden adopt
    /harden defer YYYY-MM-DD REASON; risk if delayed: RISK
    /harden risk resolve N
    /harden override REASON [for Nh]     (on a pull request)
    /harden status
    /harden help

A command is a line that starts with ``/harden`` (leading spaces allowed), outside fenced code
blocks, block quotes and HTML comments, so quoting or pasting an earlier command never runs it
again. ``/harden`` alone is ``/harden help``. Sub-commands are case-insensitive; ``behavioural``
is accepted for ``behavioral``. A timed run in an evidence note (``took 4m30s``,
``duration=270s``) is recorded in seconds for rollback and behavioral evidence, or for any kind
when the note says ``took``, ``duration`` or ``timed``. Who may run which command is decided by
``rules.authorization``; this module only reads what was asked.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal, cast
from urllib.parse import urlsplit

from rules.debt import DEFER_SYNTAX, DeferRequest, read_defer_arguments
from rules.item_template import visible_lines
from rules.logins import parse_team, parse_user
from rules.model import EVIDENCE_KINDS, Evidence, EvidenceKind
from rules.scores import parse_duration
from rules.text import inert

CommandName = Literal[
    "verify",
    "owner",
    "verifier",
    "due",
    "evidence",
    "ack",
    "retire",
    "adopt",
    "defer",
    "risk",
    "override",
    "status",
    "help",
]


# Break-glass lasts this long unless the lead says otherwise, and never longer than the maximum.
DEFAULT_OVERRIDE_HOURS = 24
MAX_OVERRIDE_HOURS = 72


@dataclass(frozen=True)
class Usage:
    """One row of the ``/harden help`` table."""

    name: CommandName
    syntax: str
    who: str
    effect: str


USAGE: tuple[Usage, ...] = (
    Usage(
        "verify",
        "/harden verify",
        "the verifier owner with write access or more, or a lead; never the execution owner",
        "runs the QA gate; on pass marks the item verified, closes it and posts the "
        "completion evidence bundle, else lists what fails",
    ),
    Usage("owner", "/harden owner @LOGIN", "write access or more", "sets the execution owner"),
    Usage("verifier", "/harden verifier @LOGIN", "write access or more", "sets the verifier owner"),
    Usage("due", "/harden due YYYY-MM-DD", "write access or more", "sets the due date"),
    Usage(
        "evidence",
        "/harden evidence URL [implementation|behavioral|rollback|monitoring|runbook|test] [NOTE]",
        "write access, or the execution owner",
        "adds an evidence link; a rollback note like `took 4m30s` records the timing",
    ),
    Usage("ack", "/harden ack", "the execution owner", "acknowledges the runbook update"),
    Usage(
        "retire",
        "/harden retire RATIONALE",
        "a lead",
        "retires the item with its rationale (the control sunset protocol)",
    ),
    Usage(
        "adopt",
        "/harden adopt",
        "write access or more, or a lead",
        "makes an issue a person opened with the hardening label and the template an item",
    ),
    Usage(
        "defer",
        DEFER_SYNTAX,
        "write access or more, or a lead",
        "moves the item into the reliability debt ledger until the revisit date; it is not "
        "overdue before then",
    ),
    Usage(
        "risk",
        "/harden risk resolve N",
        "write access or more, or a lead",
        "closes entry RN of the residual risk register (register one by commenting a "
        "`### Residual Risk` block)",
    ),
    Usage(
        "override",
        "/harden override REASON [for Nh]",
        "a lead, on a pull request",
        f"break-glass: `hardening/controls` passes for the current head commit only, for "
        f"{DEFAULT_OVERRIDE_HOURS}h (at most {MAX_OVERRIDE_HOURS}h); a new push ends it",
    ),
    Usage("status", "/harden status", "anyone", "replies with the item's state"),
    Usage("help", "/harden help", "anyone", "replies with this list"),
)

# Notes and rationales are written into the issue body, which GitHub caps at 65,536 characters.
MAX_NOTE_LENGTH = 300
MAX_RATIONALE_LENGTH = 1000

_BY_NAME: dict[str, Usage] = {usage.name: usage for usage in USAGE}


@dataclass(frozen=True)
class Command:
    """A well-formed command. Only the fields of its sub-command are set."""

    name: CommandName
    line: int  # 1-based line of the comment it was on
    text: str  # the command as written, without leading/trailing space
    login: str | None = None  # owner, verifier: without "@"
    due: date | None = None
    evidence: Evidence | None = None
    rationale: str | None = None  # retire: the rationale; override: the reason
    defer: DeferRequest | None = None
    risk_number: int | None = None  # risk resolve: the register entry
    hours: int | None = None  # override: how long it lasts at most


@dataclass(frozen=True)
class CommandError:
    """A ``/harden`` line that could not be read, with the reason and the right usage."""

    line: int
    text: str
    name: str | None  # the sub-command, when it was recognised
    reason: str
    usage: str


def usage_for(name: str) -> str:
    """The syntax line of a sub-command (of ``/harden help`` for an unknown one)."""
    usage = _BY_NAME.get(name)
    return usage.syntax if usage else _BY_NAME["help"].syntax


def help_text() -> str:
    """The ``/harden help`` reply: a Markdown table of every command."""
    rows = ["| command | who may | effect |", "|---|---|---|"]
    for usage in USAGE:
        syntax = usage.syntax.replace("|", "\\|")  # a table cell needs "|" escaped, even in code
        rows.append(f"| `{syntax}` | {usage.who} | {usage.effect} |")
    return "\n".join(rows)


def parse_commands(comment_body: str) -> list[Command | CommandError]:
    """Every ``/harden`` line of a comment, in order, read or refused. Never raises."""
    results: list[Command | CommandError] = []
    for index, line in enumerate(visible_lines(comment_body or "")):
        if line is None:
            continue
        match = _COMMAND_RE.match(line)
        if match is None:
            continue
        results.append(_parse_one(index + 1, line.strip(), match.group("rest").strip()))
    return results


_Error = Callable[[str], CommandError]  # builds a CommandError carrying the command's usage
_COMMAND_RE = re.compile(r"[ \t]*/harden(?![\w-])(?P<rest>.*)", re.IGNORECASE)
_NO_ARGUMENTS: tuple[CommandName, ...] = ("verify", "ack", "adopt", "status", "help")
_KIND_WORDS: dict[str, EvidenceKind] = {
    **{kind: kind for kind in EVIDENCE_KINDS},
    "behavioural": "behavioral",
}
_TIMED_KINDS: tuple[EvidenceKind, ...] = ("rollback", "behavioral")


def _parse_one(line: int, text: str, rest: str) -> Command | CommandError:
    word, arguments = _split_word(rest)
    name = word.lower() if word else "help"
    if name not in _BY_NAME:
        close = difflib.get_close_matches(name, list(_BY_NAME), n=1, cutoff=0.6)
        hint = f"; did you mean `/harden {close[0]}`?" if close else ""
        return CommandError(
            line,
            text,
            None,
            f"{_quoted(word)} is not a /harden command{hint}",
            usage_for(close[0] if close else "help"),
        )
    command = cast(CommandName, name)

    def error(reason: str) -> CommandError:
        return CommandError(line, text, command, reason, usage_for(command))

    if command in _NO_ARGUMENTS:
        if arguments:
            return error(f"`/harden {command}` takes nothing after it")
        return Command(command, line, text)
    if command in ("owner", "verifier"):
        return _person(command, line, text, arguments, error)
    if command == "due":
        return _due(line, text, arguments, error)
    if command == "evidence":
        return _evidence(line, text, arguments, error)
    if command == "defer":
        request = read_defer_arguments(arguments)
        if request.missing:
            return error("a deferral needs " + _and(request.missing))
        return Command("defer", line, text, defer=request)
    if command == "risk":
        return _risk(line, text, arguments, error)
    if command == "override":
        return _override(line, text, arguments, error)
    if not arguments:  # retire
        return error("a rationale is required: say why the control is retired")
    if len(arguments) > MAX_RATIONALE_LENGTH:
        return error(
            f"the rationale is {len(arguments)} characters; keep it under {MAX_RATIONALE_LENGTH} "
            "and link to a longer write-up"
        )
    return Command("retire", line, text, rationale=inert(arguments))


def _person(
    command: CommandName, line: int, text: str, arguments: str, error: _Error
) -> Command | CommandError:
    role = "execution owner" if command == "owner" else "verifier owner"
    tokens = arguments.split()
    if not tokens:
        return error(f"name the {role}, like `/harden {command} @alice`")
    if len(tokens) > 1:
        return error(f"name one {role}; got {_quoted(arguments)}")
    if parse_team(tokens[0]):
        return error(f"{_quoted(tokens[0])} is a team; the {role} must be one person")
    login = parse_user(tokens[0])
    if login is None:
        return error(
            f"{_quoted(tokens[0])} is not a GitHub login (letters, digits and single hyphens, "
            "at most 39 characters)"
        )
    return Command(command, line, text, login=login)


def _due(line: int, text: str, arguments: str, error: _Error) -> Command | CommandError:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", arguments):
        return error(f"{_quoted(arguments or '(nothing)')} is not a date written YYYY-MM-DD")
    try:
        due = date.fromisoformat(arguments)
    except ValueError:
        return error(f"{_quoted(arguments)} is not a calendar date")
    return Command("due", line, text, due=due)


def _evidence(line: int, text: str, arguments: str, error: _Error) -> Command | CommandError:
    url, rest = _split_word(arguments)
    if url.startswith("<") and url.endswith(">"):
        url = url[1:-1]
    url = url.rstrip(".,;:!?")  # punctuation typed after a link is not part of it
    if not url:
        return error("give the evidence link, like `/harden evidence https://… rollback took 4m`")
    parts = urlsplit(url) if re.fullmatch(r"[^\s\x00-\x1f]+", url) else None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return error(f"{_quoted(url)} is not an http(s) link")
    if _LINK_BREAKERS.intersection(url) or not _balanced(url):
        return error(
            f"{_quoted(url)} would break out of a Markdown link (it holds one of "
            '`< > [ ] " | \\` or a backtick, or an unbalanced parenthesis); percent-encode '
            "those characters"
        )
    kind_word, after_kind = _split_word(rest)
    kind = _KIND_WORDS.get(kind_word.lower())
    note = after_kind if kind else rest
    if len(note) > MAX_NOTE_LENGTH:
        return error(f"the note is {len(note)} characters; keep it under {MAX_NOTE_LENGTH}")
    duration = None
    if kind in _TIMED_KINDS or re.search(r"\b(?:took|duration|timed)\b", note, re.IGNORECASE):
        duration = parse_duration(note)
    return Command(
        "evidence",
        line,
        text,
        evidence=Evidence(url=url, kind=kind, note=inert(note), duration_seconds=duration),
    )


def _risk(line: int, text: str, arguments: str, error: _Error) -> Command | CommandError:
    match = re.fullmatch(r"resolve\s+(?:R|#)?(\d{1,9})", arguments, re.IGNORECASE)
    if match is None:
        return error(
            "say which register entry to close, like `/harden risk resolve 3` (entries are "
            "numbered R1, R2, … in the Hardening ledger)"
        )
    return Command("risk", line, text, risk_number=int(match.group(1)))


def _override(line: int, text: str, arguments: str, error: _Error) -> Command | CommandError:
    hours = DEFAULT_OVERRIDE_HOURS
    found = re.search(r"(?:^|\s)for\s+(\d{1,6})\s*h(?:ours?)?\s*$", arguments, re.IGNORECASE)
    if found:
        hours = int(found.group(1))
        arguments = arguments[: found.start()].strip()
        if not 1 <= hours <= MAX_OVERRIDE_HOURS:
            return error(f"an override lasts 1 to {MAX_OVERRIDE_HOURS} hours, not {hours}")
    if not arguments:
        return error("a reason is required: say why the controls check must be bypassed")
    if len(arguments) > MAX_RATIONALE_LENGTH:
        return error(
            f"the reason is {len(arguments)} characters; keep it under {MAX_RATIONALE_LENGTH}"
        )
    return Command("override", line, text, rationale=inert(arguments), hours=hours)


def _and(parts: tuple[str, ...]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


# Characters that end or escape a Markdown link destination, a code span or a table cell: an
# evidence link is written into the item, the bundle and replies as a link.
_LINK_BREAKERS = frozenset('<>[]"|\\`')


def _balanced(url: str) -> bool:
    depth = 0
    for ch in url:
        depth += 1 if ch == "(" else -1 if ch == ")" else 0
        if depth < 0:
            return False
    return depth == 0


def _quoted(text: str) -> str:
    """What a person typed, quoted in a reply as a code span that mentions no one."""
    return "`" + inert(text.replace("`", "'")) + "`"


def _split_word(text: str) -> tuple[str, str]:
    """(first word, the rest stripped) of ``text``."""
    parts = text.strip().split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1].strip() if len(parts) > 1 else ""
