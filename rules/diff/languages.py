"""Test case declarations per language, read from the lines of a diff.

This is the "one regression test" half of the hardening loop's 24–72h artifact: which added lines declare
a new test case. A declaration is recognised on one side of a hunk (the new file's lines for
additions, the old file's lines for removals) by the line that carries its name:

=========== ================================================================================
language    test case declarations
=========== ================================================================================
Python      ``def test*(`` / ``async def test*(`` at any depth (pytest functions and methods,
            unittest ``TestCase`` methods, ``@given`` hypothesis tests); a hypothesis state
            machine's ``TestX = Machine.TestCase``. ``conftest.py`` holds fixtures, not tests.
JS / TS     ``it(`` ``test(`` ``specify(`` ``fit(`` with ``.only`` ``.concurrent`` ``.failing``
            ``.each``; ``Deno.test(``; node/Deno subtests ``t.test(`` ``t.step(``. ``describe``
            is a group, not a case.
Go          ``func TestX(t *testing.T)``, ``func FuzzX(f *testing.F)``, testify suite methods
            ``func (s *S) TestX()``, a ``t.Run("literal name", …)`` subtest, Ginkgo ``It("…"``,
            and ``func ExampleX()`` when its ``// Output:`` comment is in sight (``go test``
            checks it; an example without one is only compiled).
Java,       a method after ``@Test`` ``@ParameterizedTest`` ``@RepeatedTest`` ``@TestFactory``
Kotlin,     ``@TestTemplate`` (jqwik ``@Property`` ``@Example``); JUnit 3 ``public void testX()``;
Groovy,     Kotlin ``fun`` (backticked names too); Kotest ``test("…")``, ``"…" {``, ``Then("…")``; Spock
Scala       ``def "feature"()``; ScalaTest/munit ``test("…")`` and ``"…" in {``.
Rust        a ``fn`` after ``#[test]`` ``#[tokio::test]`` ``#[rstest]`` ``#[test_case(…)]`` …
Ruby        RSpec ``it`` ``specify`` ``example`` ``scenario`` ``its``; minitest ``def test_x``
            and ``test "…" do``.
C#          a method after ``[Fact]`` ``[Theory]`` ``[Test]`` ``[TestMethod]`` ``[TestCase(…)]``
            ``[TestCaseSource]`` ``[DataTestMethod]`` (also inside ``[Test, Category("x")]``).
Prometheus  promtool rule unit tests (a YAML file named ``*test*``): each ``alertname:``
            under ``alert_rule_test:`` and ``- expr:`` under ``promql_expr_test:``.
also        PHPUnit/Pest, XCTest and Swift Testing, ExUnit, GoogleTest/Catch2/Boost, Dart,
            Gherkin ``Scenario:``, Bats ``@test "…"``; by one or two shapes each: Haskell
            (hspec, tasty), OCaml (Alcotest, OUnit), Clojure, Erlang (EUnit), Lua (busted),
            R (testthat), Julia, Perl (Test::More ``.t``), Zig, Nim, Crystal.
=========== ================================================================================

A changed source file under the test paths in another language (``unread_language``) is
reported as unreadable: "unknown", never "no new test".

Decisions:

- The name line decides. A case is new only when the line holding its name is an added line: a
  ``@Test`` added above an existing method, or a new ``[TestCase(…)]``/``[InlineData]``/
  ``parametrize``/``it.each``/Go table row on an existing test, adds parameters to an existing
  case, not a case. Diff alignment that keeps an old ``@Test`` as context above a new method
  still counts the new method.
- A Go ``t.Run`` subtest (and a node/Deno ``t.test``/``t.step``) with a literal name inside a
  test is a case of its own: it runs and fails on its own (``go test -run TestX/name``).
  ``t.Run(tc.name, …)`` is the driver of a table and declares nothing, and so is a literal
  ``t.Run("Value", …)`` in a helper outside any test. A JS ``it(name, …)`` without a literal name
  likewise.
- Skipped declarations (``it.skip`` ``xit`` ``@Disabled`` ``@Ignore`` ``#[ignore]``
  ``[Fact(Skip = …)]`` ``@pytest.mark.skip`` ``@unittest.skip`` ``t.Skip`` is not seen) are
  recognised and reported, never counted: a skipped test guards nothing.
- A declaration counts only on a line that starts in code: inside a block comment or a
  multi-line string it declares nothing, and a marker (``@Test``, ``#[test]``, ``[Fact]``) in a
  comment marks nothing (``rules.diff.syntax``).
- Rust tests may live in source files (``#[cfg(test)] mod tests``); a ``#[test]`` function only
  exists under ``cargo test``, so it is a real test wherever it is, and ``.rs`` files outside the
  test paths are read for it (the ``mod tests`` line is usually out of the hunk's sight).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from rules.diff.patch import Hunk, PatchLine
from rules.diff.syntax import C_COMMENTS, CHAR, DQ, DQ1, SQ, SQ1, Lexed, Syntax, lex, syntax

__all__ = [
    "LANGUAGES",
    "Declaration",
    "Language",
    "declarations_in_hunk",
    "language_for",
    "section_declaration",
    "unread_language",
]

Side = Literal["new", "old"]

# The alternatives are disjoint (an escape, or one character that is neither the quote nor a
# backslash), so a long run of backslashes cannot make the match backtrack.
_LITERAL = r"""(?P<q>['"`])(?P<lit>(?:\\.|(?!(?P=q))[^\\])*)(?P=q)"""
_DQ_LITERAL = r'"(?P<lit>(?:\\.|[^"\\])*)"'
_LITERAL_RE = re.compile(r"^\s*" + _LITERAL)


@dataclass(frozen=True)
class Declaration:
    """A test case declaration seen on one side of a hunk.

    ``line`` is a new-file line number for added and context declarations and an old-file line
    number for removed ones. ``index`` is the position in that side's view of the hunk and
    ``preamble`` the index where its decorators/annotations start (``== index`` if none), which
    lets a changed parameter row above an existing test be attributed to that test.
    """

    name: str
    line: int
    kind: Literal["+", "-", " "]
    language: str
    family: str
    what: str
    index: int
    preamble: int
    skipped: bool = False
    parent: str | None = None
    indent: int = 0


NameFn = Callable[[re.Match[str], Sequence[PatchLine], int], "str | None"]


@dataclass(frozen=True)
class Rule:
    """One way of declaring a test case.

    ``decl`` matches the line holding the name (after leading annotations are stripped when the
    language has ``inline_marker``). When ``marker`` is set, it must be found on that line or in
    the declaration's preamble. ``skip`` searched on the line (and ``Language.skip`` on the
    preamble) marks the declaration skipped.
    """

    what: str
    decl: re.Pattern[str]
    marker: re.Pattern[str] | None = None
    skip: re.Pattern[str] | None = None
    name: NameFn | None = None
    subtest: bool = False
    exclude: frozenset[str] = frozenset()
    orphan: bool = False  # a subtest that only exists inside a test (Catch2 ``SECTION``)


@dataclass(frozen=True)
class Language:
    name: str
    family: str
    extensions: tuple[str, ...]
    rules: tuple[Rule, ...]
    trigger: re.Pattern[str]
    preamble: Literal["indent", "braces", "none"] = "braces"
    skip: re.Pattern[str] | None = None
    inline_marker: re.Pattern[str] | None = None
    in_source: bool = False  # test cases may live outside the test paths (Rust)
    file_name: re.Pattern[str] | None = None  # when set, the base name must match it too
    scope_reset: re.Pattern[str] | None = None  # a line that ends the enclosing test
    excluded_files: tuple[str, ...] = ()
    syntax: Syntax | None = None  # comments and strings, where nothing is declared


def _c(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _group_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    groups = match.groupdict()
    for key in ("name", "lit"):
        value = groups.get(key)
        if value:
            return value.strip("`") if key == "name" else value
    return None


def _literal_or_next(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    """The literal name on the line, or on one of the next lines for a call split over lines."""
    if match.groupdict().get("lit") is not None:
        return match.group("lit")
    rest = view[index].text[match.end() :]
    found = _LITERAL_RE.match(rest)
    if found:
        return found.group("lit")
    if rest.strip():
        return None  # a variable or expression: the driver of a table, not a declaration
    for line in view[index + 1 : index + 4]:
        found = _LITERAL_RE.match(line.text)
        if found:
            return found.group("lit")
        if line.text.strip():
            return None
    return None


_EACH_NAME = re.compile(r"(?:^\s*`|\))\s*\(\s*" + _LITERAL)


def _each_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    """``it.each(table)('name', …)`` or a tagged template table closed by ```('name', …)``."""
    for offset, line in enumerate(view[index : index + 60]):
        text = line.text if offset else line.text[match.end() - 1 :]
        found = _EACH_NAME.search(text)
        if found:
            return found.group("lit")
    return f"each@{view[index].new or view[index].old}"


_DENO_OBJECT_NAME = re.compile(r"\bname\s*:\s*" + _LITERAL)
_DENO_FUNCTION_NAME = re.compile(r"^\s*(?:async\s+)?function\s*\*?\s*(?P<name>\w+)")


def _deno_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    rest = view[index].text[match.end() :]
    for text in [rest] + [line.text for line in view[index + 1 : index + 7]]:
        for pattern in (_LITERAL_RE, _DENO_OBJECT_NAME, _DENO_FUNCTION_NAME):
            found = pattern.search(text) if pattern is _DENO_OBJECT_NAME else pattern.match(text)
            if found:
                return found.groupdict().get("lit") or found.groupdict().get("name")
    return None


def _ruby_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    if match.group("lit") is not None:
        return match.group("lit")
    # A nameless example, ``it { is_expected.to be_valid }``: its body is its name.
    return view[index].text.strip()


def _gtest_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    return f"{match.group('suite')}.{match.group('name')}"


def _section_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    return f"{match.group('kind')} {match.group('lit')}"


_DOC_LINE = re.compile(r"^\s*//[/!]")
_DOC_FENCE = re.compile(r"^\s*//[/!]\s*```")
_DOC_PREFIX = re.compile(r"^\s*//[/!] ?")
# Fence info strings that make a doc comment's code block something rustdoc does not run.
_DOC_NOT_RUST = frozenset(
    {"ignore", "text", "txt", "plain", "console", "sh", "shell", "bash", "toml", "json", "yaml"}
    | {"notrust", "sql", "html", "c", "python", "js", "diff", "markdown", "md", "ebnf"}
)


def _doctest_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    """A code block in a ``///`` or ``//!`` comment is a doc test (``cargo test`` runs it).

    The fence line names it only when it opens the block: an even number of fences above it in
    the same comment. When the comment runs off the top of the hunk, it is taken as an opening
    fence only if the whole block, closing fence included, is added.
    """
    info = {word for word in match.group("info").split(",") if word}
    if info & _DOC_NOT_RUST:
        return None
    above, top_seen = 0, False
    for j in range(index - 1, max(-1, index - 400), -1):
        text = view[j].text
        if not _DOC_LINE.match(text):
            top_seen = True
            break
        if _DOC_FENCE.match(text):
            above += 1
    if top_seen and above % 2:
        return None
    code: list[str] = []
    closing = None
    for k in range(index + 1, min(len(view), index + 400)):
        text = view[k].text
        if not _DOC_LINE.match(text):
            break
        if _DOC_FENCE.match(text):
            closing = k
            break
        code.append(_DOC_PREFIX.sub("", text).strip())
    if not top_seen and (
        closing is None or any(view[x].kind != "+" for x in range(index, closing + 1))
    ):
        return None
    shown = [line for line in code if line and line != "#" and not line.startswith("# ")]
    first = next((line for line in shown if line), "")
    return f"doc test: {first[:80]}" if first else None


_GO_OUTPUT = re.compile(r"^\s*//\s*(?:Unordered output|Output):")


def _go_example_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    """An ``Example`` is a test only when ``go test`` checks its ``// Output:`` comment."""
    for line in view[index + 1 :]:
        if _GO_OUTPUT.match(line.text):
            return match.group("name")
        if line.text.startswith("}"):
            return None
    return None


_PROMTOOL_SECTION = re.compile(r"^\s*(?P<section>alert_rule_test|promql_expr_test):")
_PROMTOOL_GROUP = re.compile(r"^(?:\S|\s*-\s+interval:)")
_PROMTOOL_EVAL_TIME = re.compile(r"^\s*(?:-\s+)?eval_time:\s*(?P<time>\S+)")


def _promtool_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    """``alertname: X`` under ``alert_rule_test:`` (or ``expr:`` under ``promql_expr_test:``)."""
    wanted = "alert_rule_test" if "alertname" in match.group(0) else "promql_expr_test"
    for line in reversed(view[max(0, index - 12) : index]):
        section = _PROMTOOL_SECTION.match(line.text)
        if section:
            if section.group("section") != wanted:
                return None
            break
        if _PROMTOOL_GROUP.match(line.text):
            return None
    else:
        return None
    name = match.group("name").strip().strip("'\"")
    for line in view[max(0, index - 2) : index + 3]:
        when = _PROMTOOL_EVAL_TIME.match(line.text)
        if when:
            return f"{name} at {when.group('time')}"
    return name


# --- languages -------------------------------------------------------------------------------

# Comments and strings per language (rules.diff.syntax): ``stop`` characters, complete one-line
# strings, and the delimiter tokens.
_C_BLOCK = ("/*", "*/")
_STR = r"|(?P<str>[\"'])"
_C_SYNTAX = syntax("/*\"'", [DQ, SQ], C_COMMENTS + _STR, block=_C_BLOCK)
_PY_SYNTAX = syntax("#\"'", [DQ1, SQ1], r"(?P<line>#)|(?P<long>\"\"\"|''')" + _STR)
_JS_SYNTAX = syntax("/*\"'`", [DQ, SQ], C_COMMENTS + r"|(?P<long>`)" + _STR, block=_C_BLOCK)
_GO_SYNTAX = syntax("/*\"'`", [DQ, SQ], C_COMMENTS + r"|(?P<raw>`)" + _STR, block=_C_BLOCK)
_JAVA_SYNTAX = syntax("/*\"'", [DQ1, SQ], C_COMMENTS + r"|(?P<long>\"\"\")" + _STR, block=_C_BLOCK)
# Kotlin and Scala raw strings take no escapes, and their block comments nest.
_KOTLIN_SYNTAX = syntax(
    "/*\"'", [DQ1, SQ], C_COMMENTS + r"|(?P<raw>\"\"\")" + _STR, block=_C_BLOCK, nested=True
)
_GROOVY_SYNTAX = syntax(
    "/*\"'", [DQ1, SQ1], C_COMMENTS + r"|(?P<long>\"\"\"|''')" + _STR, block=_C_BLOCK
)
# Rust strings span lines, raw ones included; a lone ' is a lifetime.
_RUST_SYNTAX = syntax(
    '/*"', [CHAR], C_COMMENTS + r"|(?P<long>\")", block=_C_BLOCK, nested=True, rust_raw=True
)
_CSHARP_SYNTAX = syntax(
    "/*\"'@",
    [DQ1, SQ],
    C_COMMENTS + r"|(?P<raw>\"{3,})|(?P<verbatim>@\$?\")" + _STR,
    block=_C_BLOCK,
)
_FSHARP_SYNTAX = syntax(
    '/(*"',
    [CHAR],
    r"(?P<line>//)|(?P<open>\(\*(?!\)))|(?P<close>\*\))|(?P<raw>\"\"\")|(?P<long>\")",
    block=("(*", "*)"),
    nested=True,
)
_PHP_SYNTAX = syntax(
    "/*#\"'", [DQ, SQ], r"(?P<line>//|#(?!\[))|(?P<open>/\*)|(?P<close>\*/)" + _STR, block=_C_BLOCK
)
_SWIFT_SYNTAX = syntax(
    '/*"', [DQ1], C_COMMENTS + r"|(?P<long>\"\"\")|(?P<str>\")", block=_C_BLOCK, nested=True
)
_ELIXIR_SYNTAX = syntax("#\"'", [DQ1, SQ1], r"(?P<line>#)|(?P<long>\"\"\"|''')" + _STR)
_DART_SYNTAX = syntax(
    "/*\"'", [DQ1, SQ1], C_COMMENTS + r"|(?P<long>\"\"\"|''')" + _STR, block=_C_BLOCK, nested=True
)
_RUBY_SYNTAX = syntax(
    "#\"'<",
    [DQ, SQ],
    r"(?P<line>#)|(?P<heredoc><<[~-]?(?P<hq>[\"'`]?)(?P<hid>[A-Z_][A-Z0-9_]*)(?P=hq))" + _STR,
    line_block=(r"=begin\b", r"=end\b"),
)
_GHERKIN_SYNTAX = syntax('"`', [], r"(?P<raw>\"\"\"|```)")

# ``\b`` keeps ``skipif``/``skipIf``/``skipUnless`` out: a conditional skip still runs somewhere.
_PY_SKIP = _c(r"@(?:pytest\.mark\.skip|unittest\.skip|skip)\b")
PYTHON = Language(
    syntax=_PY_SYNTAX,
    name="python",
    family="python",
    extensions=(".py",),
    trigger=_c(r"def\s+test|TestCase\b"),
    preamble="indent",
    skip=_PY_SKIP,
    excluded_files=("conftest.py",),
    rules=(
        Rule("test function", _c(r"^\s*(?:async\s+)?def\s+(?P<name>test\w*)\s*\(")),
        Rule(
            "hypothesis state machine",
            _c(r"^\s*(?P<name>Test\w*)\s*=\s*[\w.]+\.TestCase\s*$"),
        ),
    ),
)

_JS_NAME_SUFFIX = (
    r"(?:\.(?:only|concurrent|failing|fails|sequential|serial|cb"
    r"|runIf\([^()]*\)|skipIf\([^()]*\)))*"
)
JAVASCRIPT = Language(
    syntax=_JS_SYNTAX,
    name="javascript",
    family="javascript",
    extensions=(".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"),
    trigger=_c(r"\b(?:it|test|specify|fit|xit|xtest|xspecify|Deno\.test|t\.(?:test|step))\b"),
    preamble="none",
    rules=(
        Rule(
            "test (.each)",
            _c(r"^\s*(?:it|test)" + _JS_NAME_SUFFIX + r"\.each\b"),
            name=_each_name,
        ),
        Rule(
            "test",
            _c(r"^\s*(?:it|test|specify|fit)" + _JS_NAME_SUFFIX + r"\s*\(\s*(?:" + _LITERAL + ")?"),
            name=_literal_or_next,
        ),
        Rule(
            "skipped test",
            _c(
                r"^\s*(?:(?:xit|xtest|xspecify)\s*\(|(?:it|test|specify)\.(?:skip|todo|fixme)\b)"
                r"(?:\.each\b[^'\"`]*)?\s*(?:\(\s*)?(?:" + _LITERAL + ")?"
            ),
            skip=_c(r"."),
            name=_literal_or_next,
        ),
        Rule(
            "Deno test",
            _c(r"^\s*Deno\.test(?P<variant>\.only|\.ignore)?\s*\("),
            skip=_c(r"Deno\.test\.ignore"),
            name=_deno_name,
        ),
        Rule(
            "subtest",
            _c(r"^\s*(?:await\s+)?t\.(?:test|step)\(\s*(?:" + _LITERAL + ")?"),
            name=_literal_or_next,
            subtest=True,
        ),
    ),
)

GO = Language(
    syntax=_GO_SYNTAX,
    name="go",
    family="go",
    extensions=(".go",),
    trigger=_c(r"func|\.Run\(|It\(|Specify\("),
    preamble="none",
    scope_reset=_c(r"^func\b"),
    rules=(
        Rule(
            "test function",
            _c(r"^func\s+(?:\([^)]*\)\s*)?(?P<name>(?:Test|Fuzz)(?![a-z])\w*)\s*\("),
            exclude=frozenset({"TestMain"}),
        ),
        Rule(
            "example with output",
            _c(r"^func\s+(?P<name>Example\w*)\s*\(\s*\)"),
            name=_go_example_name,
        ),
        Rule(
            "subtest",
            _c(r"^\s*(?P<recv>\w+)\.Run\(\s*" + _DQ_LITERAL + r"\s*,"),
            subtest=True,
        ),
        Rule(
            "Ginkgo spec",
            _c(r"^\s*(?P<variant>F|P|X)?(?:It|Specify)\(\s*" + _DQ_LITERAL),
            skip=_c(r"^\s*[PX](?:It|Specify)\("),
        ),
    ),
)

_JVM_MARKER = _c(
    r"@(?:org\.junit\.(?:jupiter\.api\.|jupiter\.params\.)?)?(?:Test|ParameterizedTest|RepeatedTest"
    r"|TestFactory|TestTemplate|Property|Example)\b"
)
_JVM_SKIP = _c(r"@(?:Disabled|Ignore)\b|\benabled\s*=\s*false")
_JVM_INLINE = _c(r"^\s*(?:@[\w.]+(?:\((?:[^()]|\([^()]*\))*\))?\s+)+")
_JAVA_METHOD = _c(
    r"^\s*(?:(?:public|protected|private|static|final|synchronized|abstract|default)\s+)*"
    r"(?:<[^>]*>\s+)?[\w$.]+(?:<[^()]*>)?(?:\[\])*\s+(?P<name>[\w$]+)\s*\("
)
_KOTLIN_FUN = _c(
    r"^\s*(?:(?:public|private|internal|protected|override|open|suspend|inline)\s+)*fun\s+"
    r"(?:<[^>]*>\s*)?(?P<name>`[^`]+`|\w+)\s*\("
)
_NOT_METHODS = frozenset(
    {"if", "for", "while", "switch", "catch", "return", "new", "else", "throw"}
)

JAVA = Language(
    syntax=_JAVA_SYNTAX,
    name="java",
    family="jvm",
    extensions=(".java",),
    trigger=_c(r"\(|@"),
    skip=_JVM_SKIP,
    inline_marker=_JVM_INLINE,
    rules=(
        Rule("JUnit test method", _JAVA_METHOD, marker=_JVM_MARKER, exclude=_NOT_METHODS),
        Rule("JUnit 3 test method", _c(r"^\s*public\s+void\s+(?P<name>test\w*)\s*\(\s*\)")),
    ),
)

KOTLIN = Language(
    syntax=_KOTLIN_SYNTAX,
    name="kotlin",
    family="jvm",
    extensions=(".kt", ".kts"),
    trigger=_c(r"fun|\""),
    skip=_JVM_SKIP,
    inline_marker=_JVM_INLINE,
    rules=(
        Rule("test function", _KOTLIN_FUN, marker=_JVM_MARKER),
        Rule(
            "kotest case",
            _c(
                r"^\s*(?P<variant>x)?(?:test|should|it|expect|scenario|Then|then)\(\s*"
                + _DQ_LITERAL
            ),
            skip=_c(r"^\s*x"),
        ),
        # StringSpec, and the leaves of WordSpec and FreeSpec: a string literal invoked with a
        # block, which only Kotest's DSL makes valid Kotlin.
        Rule(
            "kotest case",
            _c(r"^\s*" + _DQ_LITERAL + r"(?:\.config\([^()]*\))?\s*\{"),
            skip=_c(r"\.config\([^()]*\benabled\s*=\s*false"),
        ),
    ),
)

GROOVY = Language(
    syntax=_GROOVY_SYNTAX,
    name="groovy",
    family="jvm",
    extensions=(".groovy",),
    trigger=_c(r"def|void|@"),
    skip=_JVM_SKIP,
    inline_marker=_JVM_INLINE,
    rules=(
        Rule("Spock feature", _c(r"^\s*(?:def|void)\s+" + _LITERAL + r"\s*\(")),
        Rule("JUnit test method", _JAVA_METHOD, marker=_JVM_MARKER, exclude=_NOT_METHODS),
    ),
)

SCALA = Language(
    syntax=_KOTLIN_SYNTAX,
    name="scala",
    family="jvm",
    extensions=(".scala",),
    trigger=_c(r"test|ignore|property|\bin\b|def"),
    skip=_JVM_SKIP,
    inline_marker=_JVM_INLINE,
    rules=(
        Rule(
            "test",
            _c(r"^\s*(?P<variant>ignore|test|property)\(\s*" + _DQ_LITERAL),
            skip=_c(r"^\s*ignore"),
        ),
        Rule(
            "spec",
            _c(
                r"^\s*(?:(?:it|they)|" + _DQ_LITERAL + r")\s+(?:should|must|can)\s+"
                r'"(?P<name>[^"]*)"\s+in\b'
            ),
        ),
        Rule("spec", _c(r"^\s*" + _DQ_LITERAL + r"\s+in\s*\{")),
        Rule("JUnit test method", _c(r"^\s*def\s+(?P<name>\w+)\s*\("), marker=_JVM_MARKER),
    ),
)

RUST = Language(
    syntax=_RUST_SYNTAX,
    name="rust",
    family="rust",
    extensions=(".rs",),
    trigger=_c(r"\bfn\b|```"),
    skip=_c(r"#\[\s*ignore\b"),
    inline_marker=_c(r"^\s*(?:#\[[^\]]*\]\s*)+"),
    in_source=True,
    rules=(
        Rule(
            "doc test",
            _c(r"^\s*//[/!]\s*```\s*(?P<info>[\w,-]*)\s*$"),
            name=_doctest_name,
        ),
        Rule(
            "test function",
            _c(
                r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?"
                r"(?:extern\s+\"[^\"]*\"\s+)?fn\s+(?P<name>\w+)"
            ),
            marker=_c(
                r"#\[\s*(?:\w+::)*(?:test|rstest|test_case|quickcheck|wasm_bindgen_test"
                r"|proptest)\b"
            ),
        ),
    ),
)

RUBY = Language(
    syntax=_RUBY_SYNTAX,
    name="ruby",
    family="ruby",
    extensions=(".rb",),
    trigger=_c(
        r"\b(?:it|its|specify|example|scenario|test|def|should|xit|xspecify|xexample|xscenario)\b"
    ),
    preamble="none",
    rules=(
        Rule(
            "example",
            _c(
                r"^\s*(?P<variant>x|f)?(?:it|its|specify|example|scenario)(?:\s+|\s*\()"
                r"(?:" + _LITERAL + r"|(?=\{|do\b|:\w|\())"
            ),
            skip=_c(r"^\s*x"),
            name=_ruby_name,
        ),
        Rule("minitest test", _c(r"^\s*def\s+(?P<name>test_\w+[?!]?)")),
        Rule(
            "bacon / shoulda case",
            _c(r"^\s*should\s*(?:\(\s*)?" + _LITERAL + r"\s*(?:\)\s*)?(?:do\b|\{)"),
        ),
        Rule(
            "minitest test",
            _c(r"^\s*test\s*(?:\(\s*)?" + _LITERAL + r"\s*(?:\)\s*)?(?:do\b|\{)"),
        ),
    ),
)

_CS_MARKER = _c(
    r"(?:\[|,)\s*(?:[\w.]+\.)?(?:Fact|Theory|Test|TestMethod|DataTestMethod|TestCase"
    r"|TestCaseSource|SkippableFact|SkippableTheory|Property)(?:Attribute)?\s*(?=[(\],])"
)
CSHARP = Language(
    syntax=_CSHARP_SYNTAX,
    name="csharp",
    family="csharp",
    extensions=(".cs",),
    trigger=_c(r"\("),
    skip=_c(r"\bSkip\s*=|(?:\[|,)\s*Ignore\b"),
    inline_marker=_c(r"^\s*(?:\[[^\]]*\]\s*)+"),
    rules=(
        Rule(
            "test method",
            _c(
                r"^\s*(?:(?:public|private|protected|internal|static|async|override|virtual"
                r"|sealed|unsafe|new)\s+)*[\w.]+(?:<[^()]*>)?(?:\[\])?\??\s+(?P<name>\w+)"
                r"\s*(?:<[^()]*>\s*)?\("
            ),
            marker=_CS_MARKER,
            exclude=_NOT_METHODS,
        ),
    ),
)

_FS_MARKER = _c(
    r"\[<\s*(?:[\w.]+\.)?(?:Fact|Theory|Test|TestMethod|DataTestMethod|TestCase|TestCaseSource"
    r"|Property|SkippableFact)(?:Attribute)?\b"
)
FSHARP = Language(
    syntax=_FSHARP_SYNTAX,
    name="fsharp",
    family="fsharp",
    extensions=(".fs", ".fsx"),
    trigger=_c(r"\blet\b|\bmember\b|test"),
    skip=_c(r"\bSkip\s*=|\[<\s*Ignore\b"),
    inline_marker=_c(r"^\s*(?:\[<[^\]]*>\]\s*)+"),
    rules=(
        Rule(
            "test function",
            _c(
                r"^\s*(?:let\s+|member\s+\w+\.)(?:(?:private|internal|public|rec|inline)\s+)*"
                r"(?P<name>``[^`]+``|\w+)"
            ),
            marker=_FS_MARKER,
        ),
        Rule(
            "Expecto test",
            _c(
                r"^\s*(?P<variant>[fp])?(?:testCase|testCaseAsync|testCaseTask|testProperty"
                r"|testTask|testAsync|test)\s+" + _DQ_LITERAL
            ),
            skip=_c(r"^\s*p"),
        ),
    ),
)

PHP = Language(
    syntax=_PHP_SYNTAX,
    name="php",
    family="php",
    extensions=(".php",),
    trigger=_c(r"function|it\(|test\("),
    skip=_c(r"@skip\b|markTestSkipped"),
    inline_marker=_c(r"^\s*(?:#\[[^\]]*\]\s*)+"),
    rules=(
        Rule(
            "PHPUnit test method",
            _c(
                r"^\s*(?:(?:public|protected|private|static|final)\s+)*function\s+(?P<name>test\w*)\s*\("
            ),
        ),
        Rule(
            "PHPUnit test method",
            _c(
                r"^\s*(?:(?:public|protected|private|static|final)\s+)*function\s+(?P<name>\w+)\s*\("
            ),
            marker=_c(r"@test\b|#\[\s*(?:\\?PHPUnit\\Framework\\Attributes\\)?Test\b"),
        ),
        Rule("Pest test", _c(r"^\s*(?:it|test)\(\s*" + _LITERAL)),
    ),
)

SWIFT = Language(
    syntax=_SWIFT_SYNTAX,
    name="swift",
    family="swift",
    extensions=(".swift",),
    trigger=_c(r"func"),
    inline_marker=_c(r"^\s*(?:@\w+(?:\((?:[^()]|\([^()]*\))*\))?\s+)+"),
    skip=_c(r"\.disabled\("),
    rules=(
        Rule(
            "XCTest method",
            _c(
                r"^\s*(?:(?:public|private|internal|open|override|final|@\w+)\s+)*func\s+"
                r"(?P<name>test\w*)\s*\("
            ),
        ),
        Rule(
            "Swift Testing test",
            _c(r"^\s*(?:(?:public|private|internal|static|mutating)\s+)*func\s+(?P<name>\w+)\s*\("),
            marker=_c(r"@Test\b"),
        ),
    ),
)

ELIXIR = Language(
    syntax=_ELIXIR_SYNTAX,
    name="elixir",
    family="elixir",
    extensions=(".ex", ".exs"),
    trigger=_c(r"test|property"),
    preamble="indent",
    skip=_c(r"@tag\s+:skip\b|@tag\s+skip:"),
    rules=(Rule("ExUnit test", _c(r"^\s*(?:test|property)\s+" + _DQ_LITERAL)),),
)

CPP = Language(
    syntax=_C_SYNTAX,
    name="cpp",
    family="cpp",
    extensions=(".c", ".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp"),
    trigger=_c(r"TEST|SCENARIO|SECTION|SUBCASE|GIVEN|WHEN|THEN"),
    preamble="none",
    rules=(
        Rule(
            "GoogleTest test",
            _c(
                r"^\s*(?:TEST|TEST_F|TEST_P|TYPED_TEST|TYPED_TEST_P)\s*\(\s*(?P<suite>\w+)\s*,"
                r"\s*(?P<name>\w+)\s*\)"
            ),
            skip=_c(r"\bDISABLED_"),
            name=_gtest_name,
        ),
        Rule(
            "Catch2 / doctest case",
            _c(
                r"^\s*(?:TEST_CASE|SCENARIO|TEMPLATE_TEST_CASE|TEMPLATE_PRODUCT_TEST_CASE"
                r"|TEST_CASE_TEMPLATE|TEMPLATE_LIST_TEST_CASE"
                r"|(?:TEST_CASE|TEMPLATE_TEST_CASE)_METHOD\s*\([^,]*,)\s*(?:\(\s*)?" + _DQ_LITERAL
            ),
        ),
        Rule("Boost test case", _c(r"^\s*BOOST_(?:AUTO|FIXTURE)_TEST_CASE\s*\(\s*(?P<name>\w+)")),
        Rule(
            "Catch2 / doctest section",
            _c(
                r"^\s*(?P<kind>SECTION|SUBCASE|GIVEN|AND_GIVEN|WHEN|AND_WHEN|THEN|AND_THEN)\s*\(\s*"
                + _DQ_LITERAL
            ),
            name=_section_name,
            subtest=True,
            orphan=True,
        ),
    ),
)

DART = Language(
    syntax=_DART_SYNTAX,
    name="dart",
    family="dart",
    extensions=(".dart",),
    trigger=_c(r"test"),
    preamble="none",
    rules=(
        Rule(
            "test",
            _c(r"^\s*(?:test|testWidgets|testGoldens|blocTest(?:<[^>]*>)?)\(\s*" + _LITERAL),
            skip=_c(r"skip\s*:\s*true"),
        ),
    ),
)

GHERKIN = Language(
    syntax=_GHERKIN_SYNTAX,
    name="gherkin",
    family="gherkin",
    extensions=(".feature",),
    trigger=_c(r"Scenario|Example"),
    preamble="none",
    rules=(
        Rule(
            "scenario",
            _c(r"^\s*(?:Scenario(?: Outline| Template)?|Example):\s*(?P<name>\S(?:.*\S)?)\s*$"),
        ),
    ),
)

BATS = Language(
    name="bats",
    family="bats",
    extensions=(".bats",),
    trigger=_c(r"@test"),
    preamble="none",
    rules=(Rule("Bats test", _c(r"^\s*@test\s+" + _LITERAL)),),
)

PROMTOOL = Language(
    name="promtool",
    family="promtool",
    extensions=(".yml", ".yaml"),
    file_name=_c(r"(?i)test"),
    trigger=_c(r"alertname|expr:"),
    preamble="none",
    rules=(
        Rule(
            "alert rule test",
            _c(r"^\s*(?:-\s+)?alertname:\s*[\"']?(?P<name>[A-Za-z_:][\w:]*)"),
            name=_promtool_name,
        ),
        Rule("PromQL expression test", _c(r"^\s*-\s+expr:\s*(?P<name>\S.*)$"), name=_promtool_name),
    ),
)

# Languages read by one or two shapes each: the common frameworks' test case lines, each a
# literal name after a word that only a test framework uses at the start of a line.


def _few(
    *,
    name: str,
    extensions: tuple[str, ...],
    trigger: re.Pattern[str],
    rules: tuple[Rule, ...],
    syntax: Syntax,
    in_source: bool = False,
) -> Language:
    """A language read by one or two shapes: a family of its own, and no preamble (no marker
    line above a case decides it)."""
    return Language(
        name=name,
        family=name,
        extensions=extensions,
        rules=rules,
        trigger=trigger,
        preamble="none",
        in_source=in_source,
        syntax=syntax,
    )


_HS_SYNTAX = syntax(
    '{-"',
    [DQ],
    r'(?P<line>--)|(?P<open>\{-)|(?P<close>-\})|(?P<str>")',
    block=("{-", "-}"),
    nested=True,
)
HASKELL = _few(
    syntax=_HS_SYNTAX,
    name="haskell",
    extensions=(".hs",),
    trigger=_c(r"\b(?:it|prop|specify|testCase|testProperty)\b"),
    rules=(
        Rule(
            "hspec example",
            _c(r"^\s*(?P<variant>x)?(?:it|prop|specify)\s+" + _DQ_LITERAL),
            skip=_c(r"^\s*x"),
        ),
        Rule("tasty test", _c(r"^\s*(?:,\s*)?(?:testCase|testProperty)\s+" + _DQ_LITERAL)),
    ),
)
_LUA_SYNTAX = syntax(
    "-\"'", [DQ, SQ], r"(?P<open>--\[\[)|(?P<line>--)|(?P<close>\]\])" + _STR, block=("--[[", "]]")
)
LUA = _few(
    syntax=_LUA_SYNTAX,
    name="lua",
    extensions=(".lua",),
    trigger=_c(r"\b(?:it|test|pending)\b"),
    rules=(Rule("busted test", _c(r"^\s*(?:it|test)\s*\(\s*" + _LITERAL)),),
)
_R_SYNTAX = syntax("#\"'", [DQ, SQ], r"(?P<line>#)" + _STR)
R = _few(
    syntax=_R_SYNTAX,
    name="r",
    extensions=(".r", ".R"),
    trigger=_c(r"test_that|it\("),
    rules=(Rule("testthat test", _c(r"^\s*(?:testthat::)?(?:test_that|it)\s*\(\s*" + _LITERAL)),),
)
_ZIG_SYNTAX = syntax('/"', [DQ], r'(?P<line>//)|(?P<str>")')
ZIG = _few(
    syntax=_ZIG_SYNTAX,
    name="zig",
    extensions=(".zig",),
    trigger=_c(r"\btest\b"),
    in_source=True,  # ``test "name" { … }`` blocks live beside the code and run under zig test
    rules=(Rule("test block", _c(r"^\s*test\s+" + _DQ_LITERAL + r"\s*\{")),),
)
_JULIA_SYNTAX = syntax(
    '#"',
    [DQ1],
    r'(?P<open>#=)|(?P<line>#)|(?P<close>=#)|(?P<long>""")|(?P<str>")',
    block=("#=", "=#"),
)
JULIA = _few(
    syntax=_JULIA_SYNTAX,
    name="julia",
    extensions=(".jl",),
    trigger=_c(r"@testset"),
    rules=(Rule("test set", _c(r"^\s*@testset\s+(?:\w+\s+)?" + _DQ_LITERAL)),),
)
_ERLANG_SYNTAX = syntax('%"', [DQ], r'(?P<line>%)|(?P<str>")')
ERLANG = _few(
    syntax=_ERLANG_SYNTAX,
    name="erlang",
    extensions=(".erl",),
    trigger=_c(r"_test_?\s*\("),
    rules=(Rule("EUnit test", _c(r"^(?P<name>[a-z]\w*_test_?)\s*\(\s*\)\s*->")),),
)
_PERL_SYNTAX = syntax("#\"'", [DQ, SQ], r"(?P<line>#)" + _STR, line_block=(r"=\w", r"=cut\b"))


def _tap_name(match: re.Match[str], view: Sequence[PatchLine], index: int) -> str | None:
    """A Test::More assertion is a test point of its own; the line is its name."""
    return match.groupdict().get("lit") or view[index].text.strip()


PERL = _few(
    syntax=_PERL_SYNTAX,
    name="perl",
    extensions=(".t",),
    trigger=_c(r"\b(?:ok|is|isnt|like|unlike|is_deeply|cmp_ok|subtest)\b"),
    rules=(
        Rule("subtest", _c(r"^\s*subtest\s*(?:\(\s*)?" + _LITERAL)),
        Rule(
            "test point",
            _c(r"^\s*(?:ok|is|isnt|like|unlike|is_deeply|cmp_ok)\s*\("),
            name=_tap_name,
        ),
    ),
)
_NIM_SYNTAX = syntax(
    '#"',
    [DQ1],
    r'(?P<open>#\[)|(?P<line>#)|(?P<close>\]#)|(?P<long>""")|(?P<str>")',
    block=("#[", "]#"),
    nested=True,
)
NIM = _few(
    syntax=_NIM_SYNTAX,
    name="nim",
    extensions=(".nim",),
    trigger=_c(r"\btest\b"),
    rules=(Rule("unittest test", _c(r"^\s*test\s+" + _DQ_LITERAL + r"\s*:")),),
)
CRYSTAL = _few(
    syntax=_RUBY_SYNTAX,
    name="crystal",
    extensions=(".cr",),
    trigger=_c(r"\b(?:it|pending)\b"),
    rules=(
        Rule(
            "spec example",
            _c(r"^\s*(?P<variant>p)?(?:it)\s*(?:\(\s*)?" + _LITERAL),
            skip=_c(r"^\s*p"),
        ),
    ),
)
_CLOJURE_SYNTAX = syntax(';"', [DQ], r'(?P<line>;)|(?P<str>")')
CLOJURE = _few(
    syntax=_CLOJURE_SYNTAX,
    name="clojure",
    extensions=(".clj", ".cljs", ".cljc"),
    trigger=_c(r"deftest|defspec"),
    rules=(Rule("deftest", _c(r"^\s*\((?:deftest|defspec)\s+(?P<name>[^\s()\[\]{}\"]+)")),),
)
_OCAML_SYNTAX = syntax(
    '(*"', [DQ], r'(?P<open>\(\*(?!\)))|(?P<close>\*\))|(?P<str>")', block=("(*", "*)"), nested=True
)
OCAML = _few(
    syntax=_OCAML_SYNTAX,
    name="ocaml",
    extensions=(".ml",),
    trigger=_c(r"test_case|>::"),
    rules=(
        Rule("Alcotest case", _c(r"^\s*(?:[\[;,]\s*)?(?:Alcotest\.)?test_case\s+" + _DQ_LITERAL)),
        Rule("OUnit case", _c(r"^\s*(?:[\[;,]\s*)?" + _DQ_LITERAL + r"\s*>::")),
    ),
)

LANGUAGES: tuple[Language, ...] = (
    PYTHON,
    JAVASCRIPT,
    GO,
    JAVA,
    KOTLIN,
    GROOVY,
    SCALA,
    RUST,
    RUBY,
    CSHARP,
    FSHARP,
    PHP,
    SWIFT,
    ELIXIR,
    CPP,
    DART,
    GHERKIN,
    BATS,
    PROMTOOL,
    HASKELL,
    LUA,
    R,
    ZIG,
    JULIA,
    ERLANG,
    PERL,
    NIM,
    CRYSTAL,
    CLOJURE,
    OCAML,
)
_BY_EXTENSION = {ext: lang for lang in LANGUAGES for ext in lang.extensions}


# Source files of languages whose test cases we do not read. A changed one in the test paths
# makes the regression-test outcome "unknown", never "missing": we cannot tell.
_UNREAD = {
    ".mli": "OCaml", ".hrl": "Erlang", ".pl": "Perl", ".ps1": "PowerShell", ".vb": "Visual Basic",
    ".elm": "Elm", ".purs": "PureScript", ".rkt": "Racket", ".scm": "Scheme", ".lisp": "Common Lisp",
    ".el": "Emacs Lisp", ".sol": "Solidity", ".gleam": "Gleam", ".res": "ReScript", ".hx": "Haxe",
    ".pas": "Pascal", ".f90": "Fortran", ".adb": "Ada", ".tcl": "Tcl", ".cob": "COBOL",
    ".lhs": "Haskell", ".coffee": "CoffeeScript", ".mojo": "Mojo", ".odin": "Odin",
    ".mm": "Objective-C", ".fsi": "F#",
}  # fmt: skip


def unread_language(path: str) -> str | None:
    """The language of ``path`` when it is source code whose test cases we cannot read."""
    if language_for(path) is not None:
        return None
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    if dot <= 0:
        return None
    return _UNREAD.get(base[dot:].lower())


def language_for(path: str) -> Language | None:
    """The language whose tests ``path`` may declare, by file name; None when we read none."""
    base = path.rsplit("/", 1)[-1]
    dot = base.rfind(".")
    if dot <= 0 and not base.startswith("."):
        return None
    language = _BY_EXTENSION.get(base[dot:].lower())
    if language is None or base in language.excluded_files:
        return None
    if language.file_name is not None and not language.file_name.search(base):
        return None
    return language


# --- scanning --------------------------------------------------------------------------------


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" \t"))


def _preamble_start(language: Language, view: Sequence[PatchLine], index: int) -> int:
    """First index of the decorators/annotations/comments right above ``view[index]``."""
    if language.preamble == "none":
        return index
    start = index
    if language.preamble == "indent":
        own = _indent(view[index].text)
        for j in range(index - 1, max(-1, index - 16), -1):
            text = view[j].text
            stripped = text.strip()
            if not stripped:
                break
            if _indent(text) <= own and not stripped.startswith(("@", ")", "]", "#")):
                break
            start = j
        return start
    for j in range(index - 1, max(-1, index - 16), -1):
        stripped = view[j].text.strip()
        if not stripped:
            break
        opener = stripped.startswith(("@", "#[", "[", "//", "/*", "*", "#"))
        if not opener and stripped.endswith((";", "{", "}")):
            break
        start = j
    return start


def _number(line: PatchLine, side: Side) -> int:
    number = line.new if side == "new" else line.old
    return number if number is not None else 0


def section_declaration(language: Language, hunk: Hunk) -> Declaration | None:
    """The test named by the hunk header's function context (git's ``@@ … @@ def test_x():``).

    Only declarations that need no marker are recognised there: a JUnit method header alone
    cannot tell a test from a helper.
    """
    section = hunk.section
    if not section or not language.trigger.search(section):
        return None
    text = section
    if language.inline_marker is not None:
        prefix = language.inline_marker.match(text)
        if prefix:
            text = text[prefix.end() :]
    probe = (PatchLine(" ", text, 0, 0),)
    for rule in language.rules:
        if rule.marker is not None or rule.subtest:
            continue
        match = rule.decl.match(text)
        if match:
            name = (rule.name or _group_name)(match, probe, 0)
            if name and name not in rule.exclude:
                return Declaration(
                    name=name,
                    line=0,
                    kind=" ",
                    language=language.name,
                    family=language.family,
                    what=rule.what,
                    index=-1,
                    preamble=-1,
                    indent=_indent(section),
                )
    return None


def declarations_in_hunk(
    language: Language, hunk: Hunk, side: Side
) -> tuple[tuple[Declaration, ...], tuple[PatchLine, ...]]:
    """Declarations on one side of ``hunk`` and that side's lines (the view they index)."""
    hidden = "-" if side == "new" else "+"
    view = tuple(line for line in hunk.lines if line.kind != hidden)
    found: list[Declaration] = []
    enclosing = section_declaration(language, hunk)
    parent: str | None = enclosing.name if enclosing is not None else None
    # Comments and strings are read only once a changed line looks like a declaration: most
    # hunks of a large pull request have none.
    lexed: Lexed | None = None
    for index, line in enumerate(view):
        text = line.text
        if language.scope_reset is not None and language.scope_reset.match(text):
            parent = None
        if not language.trigger.search(text):
            continue
        marker_text = ""
        body = text
        if language.inline_marker is not None:
            prefix = language.inline_marker.match(text)
            if prefix:
                marker_text, body = text[: prefix.end()], text[prefix.end() :]
        for rule in language.rules:
            match = rule.decl.match(body)
            if match is None:
                continue
            if language.syntax is not None and lexed is None and line.kind != " ":
                # An unchanged declaration is never counted as new: it only names the test
                # that changed lines belong to, so it needs no reading of comments.
                unchanged = next((i for i, v in enumerate(view) if v.kind != " "), len(view))
                lexed = lex(language.syntax, [v.text for v in view], unchanged)
            if lexed is not None and not lexed.live[index]:
                break  # inside a block comment or a string: it declares nothing
            name = (rule.name or _group_name)(match, view, index)
            if not name or name in rule.exclude:
                continue
            preamble = _preamble_start(language, view, index)
            if lexed is not None:
                # A marker counts only in code: ``/* @Test */`` or ``// #[test]`` marks nothing.
                own = lexed.code[index]
                context = "\n".join(lexed.code[preamble : index + 1])
            else:
                own = text
                context = marker_text + "\n".join(v.text for v in view[preamble:index])
            if (
                rule.marker is not None
                and not (rule.marker.search(context) or rule.marker.search(own))
                and not (line.kind == " " and preamble == 0 < index)
            ):
                # No marker in sight. An unchanged declaration whose attributes run off the top
                # of the hunk is still taken (its marker is likely above): it only names the
                # test that a changed parameter row belongs to, it is never counted as new.
                continue
            skipped = bool(rule.skip is not None and rule.skip.search(text)) or bool(
                language.skip is not None and language.skip.search(context + "\n" + text)
            )
            if rule.subtest:
                if rule.orphan:
                    # Named by itself: its test is often out of the hunk's sight, and a section
                    # moved between hunks must keep its name to be paired.
                    decl_parent = parent
                elif parent is None:
                    # Outside any test: ``b.Run`` in a benchmark, or the ``t.Run("Value", …)``
                    # of a helper that drives a table; the helper's callers are the cases.
                    continue
                else:
                    decl_parent = parent
                    name = f"{parent}/{name}" if parent else name
            else:
                decl_parent = None
                parent = name
            found.append(
                Declaration(
                    name=name,
                    line=_number(line, side),
                    kind=line.kind,
                    language=language.name,
                    family=language.family,
                    what=rule.what,
                    index=index,
                    preamble=preamble,
                    skipped=skipped,
                    parent=decl_parent,
                    indent=_indent(text),
                )
            )
            break
    return tuple(found), view
