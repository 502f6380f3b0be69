"""A commit of a fetched repository as GitHub's pull request file list would present it.

``pull_files(repo, parent, commit)`` reads ``git diff parent commit`` from a bare clone and gives
the diff-entries of ``GET /repos/{o}/{r}/pulls/{n}/files``: ``filename``, ``status``
(added/removed/modified/renamed), ``previous_filename`` for renames (git's default 50% similarity,
as GitHub uses), ``additions``/``deletions``/``changes`` and ``patch`` (the hunks only, no file
header). As GitHub does, there is no ``patch`` for a binary file, for a pure rename, or for a
file whose diff is too large to show (here: over 20,000 lines or 1 MB), and the list stops at
3,000 files (``truncated``).

``materialize(...)`` caches that list as JSON in ``HARDENING_CORPUS_CACHE`` (default: a folder
under the system temporary directory), outside the repository. Bare clones are looked up as
``$HARDENING_MIRRORS/<owner>+<name>/repo``.

Used by ``bench.diff_corpus`` (tests) and the control corpus alike::

    from bench.corpus.materialize import materialize, read_rows
    for row in read_rows(Path("bench/corpus/tests.csv")):
        files, truncated = materialize(row["repo"], row["parent"], row["commit"])
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_FILES",
    "cache_dir",
    "git",
    "git_dir",
    "materialize",
    "pull_files",
    "read_rows",
    "split_for",
]

MAX_FILES = 3000
MAX_PATCH_LINES = 20_000
MAX_PATCH_BYTES = 1_000_000
_STATUS = {"A": "added", "D": "removed", "M": "modified", "R": "renamed", "C": "copied"}
_STATUS.update({"T": "changed", "U": "modified"})


def mirrors() -> Path:
    return Path(os.environ.get("HARDENING_MIRRORS", "/work/.mirror"))


def cache_dir() -> Path:
    default = Path(tempfile.gettempdir()) / "hardening-corpus"
    return Path(os.environ.get("HARDENING_CORPUS_CACHE", default))


def git_dir(repo: str) -> Path:
    """The bare clone of ``owner/name``."""
    return mirrors() / repo.replace("/", "+") / "repo"


def git(repo: str, *args: str) -> bytes:
    return subprocess.run(
        ["git", "--git-dir", str(git_dir(repo)), "-c", "core.quotepath=false", *args],
        check=True,
        capture_output=True,
    ).stdout


def split_for(repo: str, commit: str) -> str:
    """``holdout`` for a third of the cases, fixed by a hash of repository and commit."""
    digest = hashlib.sha256(f"{repo}@{commit}".encode()).digest()
    return "holdout" if digest[0] % 3 == 0 else "train"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


def _raw_entries(repo: str, parent: str, commit: str) -> list[tuple[str, str, str | None]]:
    """(status letter, path, previous path) per file, in git's (path) order."""
    out = git(repo, "diff", "--raw", "-z", "-M", "--no-abbrev", parent, commit)
    fields = out.decode("utf-8", "replace").split("\0")
    entries: list[tuple[str, str, str | None]] = []
    i = 0
    while i < len(fields) - 1:
        meta = fields[i]
        if not meta.startswith(":"):
            i += 1
            continue
        letter = meta.split()[-1][:1]
        if letter in ("R", "C"):
            entries.append((letter, fields[i + 2], fields[i + 1]))
            i += 3
        else:
            entries.append((letter, fields[i + 1], None))
            i += 2
    return entries


def _patches(repo: str, parent: str, commit: str) -> list[str | None]:
    """Each file's hunks as GitHub's ``patch`` (None for binary or header-only diffs)."""
    out = git(
        repo, "diff", "-p", "-M", "--no-color", "--no-ext-diff", "--no-textconv", parent, commit
    )
    text = out.decode("utf-8", "replace")
    sections: list[list[str]] = []
    for line in text.split("\n"):
        if line.startswith("diff --git "):
            sections.append([])
        elif sections:
            sections[-1].append(line)
    patches: list[str | None] = []
    for lines in sections:
        start = next((i for i, line in enumerate(lines) if line.startswith("@@")), None)
        if start is None:
            patches.append(None)
            continue
        body = lines[start:]
        while body and body[-1] == "":
            body.pop()
        patches.append("\n".join(body))
    return patches


def pull_files(repo: str, parent: str, commit: str) -> tuple[list[dict[str, Any]], bool]:
    """The diff-entries GitHub would list for a pull request from ``parent`` to ``commit``."""
    entries = _raw_entries(repo, parent, commit)
    patches = _patches(repo, parent, commit)
    if len(patches) != len(entries):
        raise RuntimeError(f"{repo} {commit}: {len(entries)} files but {len(patches)} diffs")
    files: list[dict[str, Any]] = []
    for (letter, path, previous), patch in zip(entries, patches, strict=True):
        additions = deletions = 0
        if patch is not None:
            for line in patch.split("\n"):
                if line.startswith("+"):
                    additions += 1
                elif line.startswith("-"):
                    deletions += 1
            too_large = len(patch) > MAX_PATCH_BYTES or additions + deletions > MAX_PATCH_LINES
            if too_large:
                patch = None
        entry: dict[str, Any] = {
            "filename": path,
            "status": _STATUS.get(letter, "modified"),
            "additions": additions,
            "deletions": deletions,
            "changes": additions + deletions,
        }
        if patch is not None:
            entry["patch"] = patch
        if previous is not None:
            entry["previous_filename"] = previous
        files.append(entry)
    truncated = len(files) > MAX_FILES
    return files[:MAX_FILES], truncated


def materialize(repo: str, parent: str, commit: str) -> tuple[list[dict[str, Any]], bool]:
    """``pull_files`` through the cache folder (outside the repository)."""
    path = cache_dir() / repo.replace("/", "+") / f"{parent[:12]}..{commit}.json"
    if path.exists():
        data = json.loads(path.read_text())
        return data["files"], data["truncated"]
    files, truncated = pull_files(repo, parent, commit)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"files": files, "truncated": truncated}))
    return files, truncated
