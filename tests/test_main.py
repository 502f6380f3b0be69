"""``python -m bot``: every subcommand answers --help with its usage and does nothing else."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import COMMANDS, main


@pytest.mark.parametrize("command", ["", *sorted(COMMANDS), "demo"])
def test_help_prints_usage_and_runs_nothing(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import demo

    def must_not_run(*args: object) -> int:
        raise AssertionError("--help ran the command")

    monkeypatch.setattr(demo, "main", must_not_run)
    argv = [command, "--help"] if command else ["--help"]
    with pytest.raises(SystemExit) as exited:
        main(argv) if command else main(["serve", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    name = command or "serve"
    prog = "python -m bot" if name == "serve" else f"python -m bot {name}"
    if name == "doctor":
        prog = "python -m bot check"
    assert out.startswith(f"usage: {prog}")


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("setup", "check", "replay", "run-job", "failed", "requeue", "demo"):
        assert f"python -m bot {command}" in out


def test_an_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sevre"]) == 2
    assert "unknown command 'sevre'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["setup", "check", "replay", "run-job", "failed", "requeue"])
def test_top_level_help_shows_every_option_of_each_command(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    own = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", capsys.readouterr().out)) - {"--help"}
    assert main(["--help"]) == 0
    [line] = [
        ln for ln in capsys.readouterr().out.splitlines() if f"python -m bot {command} " in ln
    ]
    assert sorted(o for o in own if o not in line) == [], line


def test_the_sandbox_help_says_what_it_is_in_whole_sentences() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    text = " ".join(done.stdout.split())
    assert "for walking the README's Quick start on one machine with no GitHub account" in text
