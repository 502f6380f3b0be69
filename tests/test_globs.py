"""rules.globs: the path globs of test paths and control paths."""

from __future__ import annotations

import fnmatch
import re
import time
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.globs import GlobSet, compile_glob, glob_match, glob_problem, glob_to_regex


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        # ** matches any number of directories, including none
        ("**/test_*.py", "test_x.py", True),
        ("**/test_*.py", "a/b/test_x.py", True),
        ("**/test_*.py", "a/b/x_test.py", False),
        ("tests/**", "tests/a.py", True),
        ("tests/**", "tests/a/b/c.py", True),
        ("tests/**", "tests", False),
        ("tests/**", "src/tests/a.py", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/xb", False),
        ("**", "anything/at/all", True),
        ("**/*_test.go", "pkg/queue/lag_test.go", True),
        ("**/*_test.go", "lag_test.go", True),
        ("**/*.spec.*", "src/app/x.spec.ts", True),
        ("**/*.test.*", "src/__snapshots__/x.test.tsx.snap", True),
        # * and ? stay inside one segment; patterns are anchored at the root
        ("*.md", "README.md", True),
        ("*.md", "docs/README.md", False),
        ("src/*.py", "src/a/b.py", False),
        ("src/?.py", "src/a.py", True),
        ("src/?.py", "src/ab.py", False),
        ("foo**bar", "fooXbar", True),
        ("foo**bar", "foo/bar", False),
        # alternatives, classes, escapes
        ("{alerts,monitoring}/**", "monitoring/rules/x.yml", True),
        ("{alerts,monitoring}/**", "dashboards/x.json", False),
        ("**/*.{yml,yaml}", "a/b.yaml", True),
        ("{a,b/{c,d}}/x", "b/d/x", True),
        ("{a,b/{c,d}}/x", "b/e/x", False),
        ("src/[ab]*.py", "src/beta.py", True),
        ("src/[!ab]*.py", "src/beta.py", False),
        ("src/[^ab]*.py", "src/gamma.py", True),
        ("src/[a-c].py", "src/b.py", True),
        ("literal\\*.txt", "literal*.txt", True),
        ("literal\\*.txt", "literalX.txt", False),
        ("weird[name", "weird[name", True),
        ("open{brace", "open{brace", True),
        # case-sensitive, and leading ./ or / and trailing / are normalised
        ("Tests/**", "tests/a.py", False),
        ("./tests/**", "tests/a.py", True),
        ("/tests/**", "tests/a.py", True),
        ("tests/", "tests/a.py", True),
        ("tests/**", "./tests/a.py", True),
    ],
)
def test_glob_match(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


def test_compiled_once() -> None:
    assert compile_glob("tests/**") is compile_glob("tests/**")
    assert glob_to_regex("tests/**").startswith("tests/")


def test_globset_matches_any_and_names_matching_patterns() -> None:
    globs = GlobSet.of(["tests/**", "**/*_test.go", "", "tests/**"])
    assert globs.patterns == ("tests/**", "**/*_test.go")
    assert globs.match("tests/x_test.go")
    assert globs.matching("tests/x_test.go") == ("tests/**", "**/*_test.go")
    assert not globs.match("src/x.go")
    assert str(globs) == "tests/**, **/*_test.go"
    assert bool(globs)


def test_globset_accepts_a_single_string_and_nothing() -> None:
    assert GlobSet.of("alerts/**").match("alerts/a.yml")
    empty = GlobSet.of([])
    assert not empty
    assert not empty.match("anything")
    assert GlobSet(("a/**",)).match("a/b")


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("tests/**", None),
        ("", "empty"),
        ("  ", "empty"),
        ("{a,b", "closing"),
        ("[ab", "closing"),
        ("../x/**", "relative"),
    ],
)
def test_glob_problem(pattern: str, problem: str | None) -> None:
    found = glob_problem(pattern)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


# Real repository paths never have "." or ".." segments.
_SEGMENT = st.text(alphabet="ab.", min_size=1, max_size=4).filter(lambda s: s not in (".", ".."))
_PATTERN_SEGMENT = st.text(alphabet="ab.*?", min_size=1, max_size=4).filter(
    lambda s: "**" not in s and s not in (".", "..")
)


@given(
    st.lists(_PATTERN_SEGMENT, min_size=1, max_size=3), st.lists(_SEGMENT, min_size=1, max_size=3)
)
def test_single_star_patterns_agree_with_fnmatch_per_segment(
    pattern_segments: list[str], path_segments: list[str]
) -> None:
    """Without ``**``, a glob is fnmatch applied segment by segment: ``*`` never crosses ``/``."""
    pattern, path = "/".join(pattern_segments), "/".join(path_segments)
    expected = len(pattern_segments) == len(path_segments) and all(
        fnmatch.fnmatchcase(s, p) for s, p in zip(path_segments, pattern_segments, strict=True)
    )
    assert glob_match(pattern, path) is expected


@given(st.lists(_SEGMENT, max_size=4), _SEGMENT)
def test_double_star_matches_any_depth(directories: list[str], name: str) -> None:
    path = "/".join([*directories, f"test_{name}.py"])
    assert glob_match("**/test_*.py", path)
    assert glob_match("**", path)
    assert glob_match("x/**", f"x/{path}")
    assert not glob_match("x/**", path) or path.startswith("x/")


@given(st.text(max_size=30), st.text(max_size=30))
def test_never_raises(pattern: str, path: str) -> None:
    assert glob_match(pattern, path) in (True, False)
    glob_problem(pattern)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="ab/*?.[]{},!-\\", max_size=12), st.text(alphabet="ab/.-", max_size=12))
def test_the_linear_matcher_means_what_the_regular_expression_says(pattern: str, path: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "[[" in a class reads as a set to re
        try:
            meant = re.compile(glob_to_regex(pattern))
        except re.error:
            return
    clean = path
    while clean.startswith("./"):
        clean = clean[2:]
    assert glob_match(pattern, path) is (meant.fullmatch(clean.lstrip("/")) is not None)


@pytest.mark.parametrize(
    "pattern", ["*a*a*a*a*a*a*a*b", "**/**/**/**/**/x", "{*a,a*}{*a,a*}{*a,a*}{*a,a*}b"]
)
def test_no_glob_takes_long_on_a_long_path(pattern: str):
    # As backtracking regular expressions these take seconds at a few hundred characters.
    path = "a" * 4_000
    started = time.process_time()
    assert not GlobSet.of([pattern, "tests/**"]).match(path)
    assert not glob_match(pattern, "/".join(["a"] * 2_000))
    assert time.process_time() - started < 1.0


def test_matching_names_every_matching_pattern_in_order():
    globs = GlobSet.of(["**/*.py", "tests/**", "docs/**", "tests/test_*.py"])
    assert globs.matching("tests/test_x.py") == ("**/*.py", "tests/**", "tests/test_*.py")
    assert globs.matching("src/x.go") == ()
