"""rules.commands: the /harden grammar of docs/commands.md."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.commands import USAGE, Command, CommandError, help_text, parse_commands, usage_for
from rules.model import Evidence


def one(body: str) -> Command | CommandError:
    (result,) = parse_commands(body)
    return result


COMMANDS = [
    ("/harden verify", Command("verify", 1, "/harden verify")),
    ("/harden ack", Command("ack", 1, "/harden ack")),
    ("/harden status", Command("status", 1, "/harden status")),
    ("/harden help", Command("help", 1, "/harden help")),
    ("/harden", Command("help", 1, "/harden")),
    ("   /harden verify   ", Command("verify", 1, "/harden verify")),
    ("/HARDEN Verify", Command("verify", 1, "/HARDEN Verify")),
    ("/harden owner @alice", Command("owner", 1, "/harden owner @alice", login="alice")),
    ("/harden owner alice", Command("owner", 1, "/harden owner alice", login="alice")),
    ("/harden verifier @Bob-2", Command("verifier", 1, "/harden verifier @Bob-2", login="Bob-2")),
    ("/harden due 2026-12-01", Command("due", 1, "/harden due 2026-12-01", due=date(2026, 12, 1))),
    ("/harden due 2028-02-29", Command("due", 1, "/harden due 2028-02-29", due=date(2028, 2, 29))),
    ("/harden retire duplicates the deploy gate",
     Command("retire", 1, "/harden retire duplicates the deploy gate",
             rationale="duplicates the deploy gate")),
]  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), COMMANDS)
def test_commands(body: str, expected: Command):
    assert one(body) == expected


EVIDENCE = [
    ("https://github.com/o/r/pull/7", Evidence("https://github.com/o/r/pull/7")),
    ("https://ci.example/run/1 implementation diff + command output",
     Evidence("https://ci.example/run/1", "implementation", "diff + command output")),
    ("https://drills.example/1 behavioral game day replay",
     Evidence("https://drills.example/1", "behavioral", "game day replay")),
    ("https://drills.example/1 behavioural", Evidence("https://drills.example/1", "behavioral")),
    ("https://ci.example/r/2 rollback took 4m30s",
     Evidence("https://ci.example/r/2", "rollback", "took 4m30s", 270)),
    ("https://ci.example/r/2 rollback duration=270s staging",
     Evidence("https://ci.example/r/2", "rollback", "duration=270s staging", 270)),
    ("https://ci.example/r/2 ROLLBACK rehearsal, no timing",
     Evidence("https://ci.example/r/2", "rollback", "rehearsal, no timing")),
    ("https://grafana.example/d/1 monitoring alert fired in replay",
     Evidence("https://grafana.example/d/1", "monitoring", "alert fired in replay")),
    ("https://wiki.example/runbook runbook", Evidence("https://wiki.example/runbook", "runbook")),
    ("https://ci.example/t test", Evidence("https://ci.example/t", "test")),
    ("https://x.example/a drill took 90s",
     Evidence("https://x.example/a", None, "drill took 90s", 90)),
    ("https://x.example/a test suite 3m faster", Evidence("https://x.example/a", "test",
                                                          "suite 3m faster")),
    ("<https://x.example/a>", Evidence("https://x.example/a")),
    ("https://x.example/a.", Evidence("https://x.example/a")),
    ("http://x.example:8080/a?b=c#d", Evidence("http://x.example:8080/a?b=c#d")),
]  # fmt: skip


@pytest.mark.parametrize(("arguments", "evidence"), EVIDENCE)
def test_evidence(arguments: str, evidence: Evidence):
    result = one(f"/harden evidence {arguments}")
    assert isinstance(result, Command) and result.name == "evidence"
    assert result.evidence == evidence


EVIDENCE_USAGE = (
    "/harden evidence URL [implementation|behavioral|rollback|monitoring|runbook|test] [NOTE]"
)
ERRORS = [
    ("/harden verify now", "verify", "takes nothing after it", "/harden verify"),
    ("/harden ack please", "ack", "takes nothing after it", "/harden ack"),
    ("/harden owner", "owner", "name the execution owner", "/harden owner @LOGIN"),
    ("/harden owner @alice @bob", "owner", "name one execution owner", "/harden owner @LOGIN"),
    ("/harden owner @acme/sre", "owner", "is a team", "/harden owner @LOGIN"),
    ("/harden verifier @acme/sre", "verifier", "verifier owner must be one person",
     "/harden verifier @LOGIN"),
    ("/harden owner -alice", "owner", "not a GitHub login", "/harden owner @LOGIN"),
    ("/harden owner al--ice", "owner", "not a GitHub login", "/harden owner @LOGIN"),
    ("/harden owner " + "a" * 40, "owner", "at most 39", "/harden owner @LOGIN"),
    ("/harden due", "due", "not a date written YYYY-MM-DD", "/harden due YYYY-MM-DD"),
    ("/harden due tomorrow", "due", "not a date written YYYY-MM-DD", "/harden due YYYY-MM-DD"),
    ("/harden due 2026-1-5", "due", "not a date written YYYY-MM-DD", "/harden due YYYY-MM-DD"),
    ("/harden due 2026-02-29", "due", "not a calendar date", "/harden due YYYY-MM-DD"),
    ("/harden due 2026-13-01", "due", "not a calendar date", "/harden due YYYY-MM-DD"),
    ("/harden evidence", "evidence", "give the evidence link", EVIDENCE_USAGE),
    ("/harden evidence ftp://x.example/a", "evidence", "not an http(s) link", EVIDENCE_USAGE),
    ("/harden evidence javascript:alert(1)", "evidence", "not an http(s) link", EVIDENCE_USAGE),
    ("/harden evidence https:///nohost", "evidence", "not an http(s) link", EVIDENCE_USAGE),
    ("/harden evidence see-the-pr", "evidence", "not an http(s) link", EVIDENCE_USAGE),
    ("/harden retire", "retire", "a rationale is required", "/harden retire RATIONALE"),
    ("/harden retire   ", "retire", "a rationale is required", "/harden retire RATIONALE"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "name", "reason", "usage"), ERRORS)
def test_errors_carry_the_usage_line(body: str, name: str, reason: str, usage: str):
    result = one(body)
    assert isinstance(result, CommandError)
    assert result.name == name
    assert reason in result.reason, result.reason
    assert result.usage == usage
    assert result.line == 1 and result.text == body.strip()


def test_unknown_sub_command_suggests_the_closest():
    result = one("/harden verfy")
    assert isinstance(result, CommandError) and result.name is None
    assert result.reason == "`verfy` is not a /harden command; did you mean `/harden verify`?"
    assert result.usage == "/harden verify"
    other = one("/harden launch")
    assert other.reason == "`launch` is not a /harden command" and other.usage == "/harden help"


def test_only_lines_a_person_wrote_as_commands_count():
    body = """\
Thanks! Running the gate now.
/harden owner @alice

> /harden verify
> quoted from the previous comment

```
/harden ack
```
   ~~~text
   /harden retire in an indented fence
   ~~~
````md
```
/harden retire inside a longer fence
```
````
<!-- /harden retire hidden -->
<!--
/harden retire in a multi-line comment
-->
Run `/harden verify` when ready. /harden verify mid-sentence does not count.
/hardening is another word
/harden-verify is not a command
  /harden due 2026-12-01
/harden evidence https://ci.example/run/1 rollback took 2m
"""
    results = parse_commands(body)
    assert [(r.line, r.name) for r in results] == [(2, "owner"), (25, "due"), (26, "evidence")]
    assert all(isinstance(r, Command) for r in results)


def test_unclosed_fence_and_comment_hide_the_rest():
    assert parse_commands("```\n/harden verify") == []
    assert parse_commands("<!--\n/harden verify") == []
    assert [r.name for r in parse_commands("/harden ack\n<!-- x\n/harden verify")] == ["ack"]


def test_crlf_and_several_commands():
    body = "/harden owner @a\r\n/harden verifier @b\r\n/harden due 2026-01-02\r\n"
    results = parse_commands(body)
    assert [(r.name, r.line) for r in results] == [("owner", 1), ("verifier", 2), ("due", 3)]
    assert results[1].login == "b"


@pytest.mark.parametrize("body", ["", "no commands", "/hardenverify", "harden verify"])
def test_no_commands(body: str):
    assert parse_commands(body) == []


def test_usage_table():
    names = [usage.name for usage in USAGE]
    assert names == ["verify", "owner", "verifier", "due", "evidence", "ack", "retire", "adopt",
                     "defer", "risk", "override", "status", "help"]  # fmt: skip
    assert usage_for("due") == "/harden due YYYY-MM-DD"
    assert usage_for("nope") == "/harden help"
    table = help_text()
    lines = table.splitlines()
    assert lines[0] == "| command | who may | effect |"
    assert len(lines) == 2 + len(USAGE)
    # Every row has exactly three cells once escaped pipes are ignored.
    assert all(line.replace("\\|", "").count("|") == 4 for line in lines)
    assert "never the execution owner" in table


@given(st.text(max_size=300))
def test_parse_commands_never_raises(text: str):
    for result in parse_commands(text):
        assert result.text.lower().startswith("/harden")
        assert result.line >= 1


_PIECES = st.sampled_from(
    ["/harden ", "verify", "owner ", "@alice", "due ", "2026-02-30", "2026-12-01", "evidence ",
     "https://x.example/a ", "rollback ", "took 4m30s", "retire ", "\n", "```", "~~~", "> ",
     "<!--", "-->", "  ", "@acme/team", "\r\n", "ack", "help"]
)  # fmt: skip


@given(st.lists(_PIECES, max_size=30).map("".join))
def test_command_like_noise(text: str):
    for result in parse_commands(text):
        if isinstance(result, CommandError):
            assert result.reason and result.usage.startswith("/harden")
        elif result.name == "evidence":
            assert result.evidence is not None and result.evidence.url.startswith("http")


def test_notes_and_rationales_fit_in_an_issue_body():
    long_note = one("/harden evidence https://a.example rollback " + "1" * 20_000)
    assert isinstance(long_note, CommandError)
    assert "keep it under 300" in long_note.reason
    assert isinstance(one("/harden retire " + "x" * 1001), CommandError)
    assert isinstance(one("/harden retire " + "x" * 1000), Command)
