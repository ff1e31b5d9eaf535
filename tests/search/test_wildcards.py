"""The one wildcard matcher, in its two syntaxes: SQL LIKE as SQLite matches it, MastMissions'
globs (``*`` alone special), and a bounded walk whatever the pattern."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skyarchive.search.wildcards import glob_match, like_match


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(
    pattern=st.text(alphabet="%_\\ab", max_size=8),
    text=st.text(alphabet="_\\ab", max_size=6),
)
def test_like_patterns_are_matched_in_python_as_sqlite_matches_them(
    pattern: str, text: str
) -> None:
    # SQLite is the judge; a pattern ending in a lone escape is an error there, not a pattern.
    if re.search(r"(?<!\\)(?:\\\\)*\\$", pattern):
        return
    with sqlite3.connect(":memory:") as db:
        expected = db.execute("SELECT ? LIKE ? ESCAPE '\\'", (text, pattern)).fetchone()[0]
    assert like_match(pattern, text) == bool(expected)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [("n*", "nircam", True), ("*cam", "nircam", True), ("*r*a*", "nircam", True),
     ("n*x", "nircam", False), ("*", "", True), ("", "", True), ("", "a", False),
     ("a.c", "abc", False), ("[a]*", "[a]b", True), ("a?c", "abc", False),
     # only "*" is special in a glob: LIKE's wildcards and escape are plain characters
     ("a_c", "abc", False), ("a_c", "a_c", True), ("a%", "abc", False), ("a%*", "a%c", True),
     ("a\\*", "a\\bc", True), ("a\\*", "a*", False), ("NIR*", "nircam", False)],
)  # fmt: skip
def test_glob_match(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(pattern=st.text(alphabet="*ab_%\\", max_size=8), text=st.text(alphabet="ab_%\\", max_size=6))
def test_globs_are_matched_as_a_regular_expression_of_their_literal_pieces_would(
    pattern: str, text: str
) -> None:
    # the judge: each "*" a ".*", everything else escaped (short patterns: no long backtrack)
    expected = re.fullmatch(".*".join(re.escape(piece) for piece in pattern.split("*")), text)
    assert glob_match(pattern, text) is (expected is not None)


def _answer_within(seconds: float, match: Callable[[str, str], bool], pattern: str,
                   text: str) -> bool:  # fmt: skip
    """``match(pattern, text)``, failing the test if it has not answered after ``seconds``
    (in a thread: a walk that never ends must not hold the test run)."""
    answers: list[bool] = []
    worker = threading.Thread(target=lambda: answers.append(match(pattern, text)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"no answer after {seconds} s"
    return answers[0]


@pytest.mark.parametrize(
    ("match", "run"), [(glob_match, "*"), (like_match, "%")], ids=["glob", "like"]
)
def test_a_run_of_millions_of_wildcards_is_one_step(
    match: Callable[[str, str], bool], run: str
) -> None:
    # a guard, not a measure: walked one wildcard at a time, 8 million took 1.5 s a text, and
    # the last pattern here 7 s; as runs, each takes milliseconds
    many = run * 5_000_000
    assert _answer_within(2.0, match, many + "x", "public") is False
    assert _answer_within(2.0, match, many + "c", "public") is True
    assert _answer_within(2.0, match, many + many.join("public") + many, "public") is True


@pytest.mark.parametrize(
    ("match", "run"), [(glob_match, "*"), (like_match, "%")], ids=["glob", "like"]
)
def test_many_wildcards_between_literals_answer_at_once(
    match: Callable[[str, str], bool], run: str
) -> None:
    # each step walks at most the text's positions: no backtracking over the earlier runs
    assert _answer_within(5.0, match, f"{run}a" * 900 + f"{run}b", "a" * 2000) is False
    assert _answer_within(5.0, match, f"{run}x" * 200_000, "exclusive_access") is False
