"""Does a pull request change a control? (the hardening loop's "one automation control").

A control change is a real change to a file under the failure class's control paths (for
missed detection ``alerts/**``, ``**/prometheus/**``, ``**/monitors/**``…: alert rules, monitors
and routing): a file added, copied, modified, or renamed into the control paths, whose diff
changes what the control does. The proof is the file and the first line that changes it.

Not a control change, and reported apart (see docs/checks.md, "What counts as a control
change"):

- a control file deleted, or renamed out of the control paths (``removals``): deleting a
  control does not add one;
- a control file renamed without changes, or whose diff changes only comments and blank lines,
  only whitespace or layout (the same text re-indented or re-wrapped), or an
  added file holding nothing but comments (``ignored``);
- documentation beside the controls (Markdown, text, images, ``LICENSE``…), unless the failure
  class's controls are documents themselves (runbooks, escalation policies:
  ``documents=True``) (``ignored``).

A control file whose diff GitHub did not send (too large) still counts when GitHub reports
changed lines: the requirement is the change, not its line (the proof then has no line).

Every test here is a fixed-prefix or fixed-suffix string test or a linear scan: no regular
expression runs on the text of a pull request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from rules.diff.cases import as_globset, as_pull_files
from rules.diff.model import ControlChange, ControlVerdict, Outcome, PullFile
from rules.diff.patch import Hunk, PatchLine
from rules.globs import GlobSet

__all__ = ["comment_style", "find_control_changes", "first_change", "is_document"]

# How comments are written in a file, by kind:
#   hash      `# …` lines (YAML, shell, Rego, PromQL rule files, CODEOWNERS, HCL…)
#   slash     `// …` lines and `/* … */` blocks (Go, JavaScript, Groovy pipelines…)
#   both      hash and slash (Terraform/HCL, Jsonnet)
#   markup    `<!-- … -->` (Markdown and HTML runbooks)
#   template  Go template comments `{{/* … */}}` (Helm templates), besides hash
CommentStyle = Literal["hash", "slash", "both", "markup", "template"]

_STYLE_BY_SUFFIX: dict[str, CommentStyle] = {
    **dict.fromkeys(
        (
            ".yml",
            ".yaml",
            ".py",
            ".sh",
            ".bash",
            ".toml",
            ".rb",
            ".conf",
            ".cfg",
            ".rules",
            ".promql",
            ".ini",
            ".env",
            ".nomad",
            ".rego",
            ".sentinel",
            ".properties",
            ".service",
        ),
        "hash",
    ),
    **dict.fromkeys(
        (
            ".go",
            ".js",
            ".mjs",
            ".cjs",
            ".ts",
            ".java",
            ".kt",
            ".kts",
            ".rs",
            ".cs",
            ".c",
            ".cc",
            ".cpp",
            ".h",
            ".swift",
            ".scala",
            ".groovy",
            ".gradle",
            ".cue",
        ),
        "slash",
    ),
    **dict.fromkeys((".tf", ".tfvars", ".hcl", ".jsonnet", ".libsonnet"), "both"),
    **dict.fromkeys((".md", ".markdown", ".mdx", ".html", ".htm"), "markup"),
    **dict.fromkeys((".tpl", ".gotmpl"), "template"),
}
_STYLE_BY_BASENAME: dict[str, CommentStyle] = {
    **dict.fromkeys(
        (
            "Dockerfile",
            "Makefile",
            "Procfile",
            "CODEOWNERS",
            ".gitignore",
            ".helmignore",
            ".dockerignore",
            "OWNERS",
            "Tiltfile",
        ),
        "hash",
    ),
    "Jenkinsfile": "slash",
}

# Documentation beside the controls: it describes a control, it is not one (unless the class's
# controls are documents). Matched on the file name, case-insensitively.
_DOCUMENT_SUFFIXES = (
    ".md",
    ".markdown",
    ".mdx",
    ".rst",
    ".txt",
    ".adoc",
    ".asciidoc",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".webp",
)
_DOCUMENT_NAMES = ("license", "licence", "notice", "authors", "changelog", "readme", "copying")


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def comment_style(path: str) -> CommentStyle | None:
    """How comments are written in ``path`` (None: a kind without comments, such as JSON)."""
    base = _basename(path)
    if base in _STYLE_BY_BASENAME:
        return _STYLE_BY_BASENAME[base]
    if base.startswith("Dockerfile.") or base.endswith(".Dockerfile"):
        return "hash"
    dot = base.rfind(".")
    if dot <= 0:
        return None
    style = _STYLE_BY_SUFFIX.get(base[dot:].lower())
    if style == "hash" and "/templates/" in f"/{path}":
        return "template"  # a Helm chart's templates: YAML with Go template comments
    return style


def is_document(path: str) -> bool:
    """Whether ``path`` is documentation (Markdown, text, images, LICENSE, README…)."""
    base = _basename(path).lower()
    return base.endswith(_DOCUMENT_SUFFIXES) or _about_the_folder(base)


def _about_the_folder(base: str) -> bool:
    """README, LICENSE, CHANGELOG…: about the folder, never a control, even a runbook one."""
    return base.split(".", 1)[0] in _DOCUMENT_NAMES


# Block comments: (openings, closings) by style.
_BLOCKS: dict[CommentStyle, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "slash": (("/*",), ("*/",)),
    "both": (("/*",), ("*/",)),
    "markup": (("<!--",), ("-->",)),
    "template": (("{{/*", "{{- /*"), ("*/}}", "*/ -}}")),
}


def _is_comment(text: str, style: CommentStyle | None) -> bool:
    """Whether a line is blank or a whole-line comment in ``style`` (seen on its own)."""
    s = text.strip()
    if not s:
        return True
    if style is None:
        return False
    if style in ("hash", "both", "template") and s.startswith("#"):
        return True
    if style in ("slash", "both"):
        return s.startswith(("//", "/*", "*")) or s.endswith("*/")
    if style == "template":
        return s.startswith(("{{/*", "{{- /*")) and s.endswith(("*/}}", "*/ -}}"))
    if style == "markup":
        return s.startswith("<!--") and s.endswith("-->")
    return False


class _Comments:
    """Which lines of a file's patch are blank or comments, following block comments
    (``/* … */``, ``<!-- … -->``, ``{{/* … */}}``) across lines: one pass, each side of the
    diff (old and new file) with its own state. A hunk that starts inside a block comment is
    read as code: the patch does not say, and reading code is the safe side."""

    def __init__(self, style: CommentStyle | None) -> None:
        self.style = style
        self.block = _BLOCKS.get(style) if style else None
        self.old_open = self.new_open = False

    def reset(self) -> None:
        self.old_open = self.new_open = False

    def _step(self, text: str, inside: bool) -> tuple[bool, bool]:
        """(is the line a comment, is a block comment open after it)."""
        if self.block is None:
            return _is_comment(text, self.style), False
        openings, closings = self.block
        s = text.strip()
        closes = any(closing in s for closing in closings)
        if inside:
            return True, not closes
        if s.startswith(openings):
            if not closes:
                return True, True
            return s.endswith(closings), False
        return _is_comment(text, self.style), False

    def is_comment(self, line: PatchLine) -> bool:
        if line.kind == "+":
            comment, self.new_open = self._step(line.text, self.new_open)
        elif line.kind == "-":
            comment, self.old_open = self._step(line.text, self.old_open)
        else:
            comment, self.new_open = self._step(line.text, self.new_open)
            _, self.old_open = self._step(line.text, self.old_open)
        return comment


def first_change(
    hunks: tuple[Hunk, ...], style: CommentStyle | None = None
) -> tuple[int, int] | None:
    """New-file lines (first, last) of the first run of changed lines that are not comments or
    blank lines in ``style`` (with no such line: of the first run of changed lines).

    A run that only removes lines is placed at the new-file line where the removal happened.
    """
    for real_only in (True, False):
        span = _first_run(hunks, _Comments(style if real_only else None), real_only)
        if span is not None:
            return span
    return None


def _first_run(
    hunks: tuple[Hunk, ...], comments: _Comments, real_only: bool
) -> tuple[int, int] | None:
    for hunk in hunks:
        comments.reset()
        anchor = hunk.new_start
        start: int | None = None
        end = 0
        for line in hunk.lines:
            comment = real_only and comments.is_comment(line)
            if line.kind == " ":
                if start is not None:
                    return start, end
                anchor = (line.new or anchor) + 1
                continue
            here = line.new if line.kind == "+" and line.new is not None else anchor
            if line.kind == "+":
                anchor = here + 1
            if comment:
                if start is not None:
                    return start, end
                continue
            if start is None:
                start = max(here, 1)
            end = max(end, here, start)
        if start is not None:
            return start, end
    return None


def _why_not_a_change(pull_file: PullFile, documents: bool) -> str | None:
    """Why a touched control file does not change the control, or None when it does."""
    if is_document(pull_file.filename) and (
        not documents or _about_the_folder(_basename(pull_file.filename).lower())
    ):
        return "documentation, not a control"
    if not pull_file.content_changed:
        if pull_file.status in ("added", "copied"):
            return "an empty file"
        return "renamed without changes"
    if not pull_file.has_patch:
        return None  # changed, but GitHub did not show how: it counts
    style = comment_style(pull_file.filename)
    comments = _Comments(style)
    before: list[str] = []
    after: list[str] = []
    real = False
    for hunk in pull_file.hunks:
        comments.reset()
        for line in hunk.lines:
            if comments.is_comment(line):
                continue
            squeezed = "".join(line.text.split())
            if line.kind != "+":
                before.append(squeezed)
            if line.kind != "-":
                after.append(squeezed)
            real = real or line.kind != " "
    if not real:
        return "only comments or blank lines changed"
    # Each side of every hunk, context included, without whitespace: equal means the same
    # characters in the same order, re-indented, re-wrapped or re-aligned. Quotes are kept: in
    # YAML `1.20` is a number and `"1.20"` a string.
    old, new = "".join(before), "".join(after)
    if style in ("slash", "both"):
        old, new = _without_trailing_commas(old), _without_trailing_commas(new)
    if old == new:
        return "only whitespace or layout changed"
    return None


_CLOSERS = frozenset("]})")


def _without_trailing_commas(text: str) -> str:
    """``text`` (without whitespace) minus every comma right before a closing bracket: a
    formatter's trailing commas (jsonnetfmt, terraform fmt, prettier) change nothing."""
    if "," not in text:
        return text
    kept = [
        ch
        for i, ch in enumerate(text)
        if ch != "," or i + 1 == len(text) or text[i + 1] not in _CLOSERS
    ]
    return "".join(kept)


def _change(
    pull_file: PullFile, globs: GlobSet, reason: str = "", *, proof: bool = True
) -> ControlChange:
    span = None
    if pull_file.status != "removed":
        style = comment_style(pull_file.filename) if proof else None
        span = first_change(pull_file.hunks, style)
    return ControlChange(
        path=pull_file.filename,
        line=span[0] if span else None,
        end_line=span[1] if span else None,
        status=pull_file.status,
        matched=globs.matching(pull_file.filename)
        or globs.matching(pull_file.previous_filename or ""),
        previous_path=pull_file.previous_filename,
        reason=reason,
    )


def find_control_changes(
    files: Iterable[PullFile | Mapping[str, Any]],
    control_paths: Iterable[str] | str | GlobSet,
    *,
    truncated: bool = False,
    documents: bool = False,
) -> ControlVerdict:
    """Whether the pull request really changes a file under ``control_paths``.

    ``truncated`` says GitHub's file list stopped at its limit: with no change found, the
    outcome is "unknown" rather than "missing". ``documents`` says the class's controls are
    documents (runbooks), so Markdown and text files under the control paths count.
    """
    globs = as_globset(control_paths)
    changes: list[ControlChange] = []
    removals: list[ControlChange] = []
    ignored: list[ControlChange] = []
    for pull_file in as_pull_files(files):
        status = pull_file.status
        if status == "unchanged":
            continue
        inside = globs.match(pull_file.filename)
        if status == "removed":
            if inside:
                removals.append(_change(pull_file, globs, "deleted"))
            continue
        if not inside:
            came_from_inside = bool(pull_file.previous_filename) and globs.match(
                pull_file.previous_filename or ""
            )
            if status == "renamed" and came_from_inside:
                removals.append(
                    _change(
                        pull_file, globs, f"moved out of the control paths to {pull_file.filename}"
                    )
                )
            continue
        why = _why_not_a_change(pull_file, documents)
        if why is None:
            changes.append(_change(pull_file, globs))
        else:
            ignored.append(_change(pull_file, globs, why, proof=False))
    outcome: Outcome
    if changes:
        outcome = "met"
    elif truncated:
        outcome = "unknown"
    else:
        outcome = "missing"
    return ControlVerdict(
        outcome=outcome,
        changes=tuple(changes),
        removals=tuple(removals),
        ignored=tuple(ignored),
        control_paths=globs.patterns,
    )
