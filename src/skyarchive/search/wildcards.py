"""Wildcard patterns matched in Python, in two syntaxes and by one walk: SQL LIKE (``%``, ``_``
and ``\\`` escapes: ``dataRights`` patterns, :mod:`skyarchive.search.criteria`) and
MastMissions' globs (``*`` alone is special: :mod:`skyarchive.search.missions`).

Not by one regular expression: ``.*`` repeated, as a pattern of many wildcards becomes,
backtracks combinatorially (15 before an ``x`` took 2.4 s against one right, 20 over 17 s),
and any client can send such a pattern. Each syntax is read into the same steps (a literal
text, one character, any run of characters); the runs cut the pattern into segments of fixed
length, and a text matches when the first segment begins it, the last ends it, and each one
between is found, leftmost, after the one before (the leftmost place never loses a match that
a later place would give). A segment is found by ``str.find``, or, holding one-character
wildcards, by a regular expression without repetition: at most ``len(pattern) * len(text)``
work, in C, and a run of consecutive wildcards (millions of ``*``) is one cut.

A pattern is read once (:func:`glob_matcher`), so a search testing many values reads it once.
Matching is exact in case: the callers fold both sides (the databases' LIKE ignores ASCII case,
MastMissions' text matches ignore case).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Iterator


class Wildcard(enum.Enum):
    ONE = "any one character"
    RUN = "any run of characters, maybe none"


#: A step of a pattern: a literal text, or a wildcard.
Step = str | Wildcard

#: A LIKE pattern's pieces: an escaped character, a run of ``%``, ``_``, plain text. A lone
#: ``\\`` at the end is no piece (the databases refuse such a pattern; the escaping criteria
#: write never ends so), so it is passed over.
_LIKE_PIECES = re.compile(r"\\.|%+|_|[^%_\\]+", re.DOTALL)
#: A glob's pieces: a run of ``*``, plain text.
_GLOB_PIECES = re.compile(r"\*+|[^*]+", re.DOTALL)


def like_match(pattern: str, text: str) -> bool:
    """Whether the SQL LIKE ``pattern`` (escaped with ``\\``) matches the whole of ``text``, as
    the database would on texts of one case."""
    return _Matcher(_like_steps(pattern), longest=len(text))(text)


def glob_match(pattern: str, text: str) -> bool:
    """Whether the glob ``pattern``, where only ``*`` is special (any run of characters),
    matches the whole of ``text``."""
    return _Matcher(_glob_steps(pattern), longest=len(text))(text)


def glob_matcher(pattern: str) -> Callable[[str], bool]:
    """:func:`glob_match` of ``pattern``, read once, for many texts (each segment of the
    pattern is made ready when first needed)."""
    return _Matcher(_glob_steps(pattern))


def _like_steps(pattern: str) -> Iterator[Step]:
    for found in _LIKE_PIECES.finditer(pattern):
        piece = found.group()
        if piece.startswith("%"):
            yield Wildcard.RUN
        elif piece == "_":
            yield Wildcard.ONE
        else:
            yield piece[1:] if piece.startswith("\\") else piece


def _glob_steps(pattern: str) -> Iterator[Step]:
    for found in _GLOB_PIECES.finditer(pattern):
        piece = found.group()
        yield Wildcard.RUN if piece.startswith("*") else piece


class _Segment:
    """Steps between two runs: a fixed number of characters, each literal or any."""

    def __init__(self, steps: list[Step]) -> None:
        self._steps = steps
        texts = [step for step in steps if isinstance(step, str)]
        self.length = len(steps) - len(texts) + sum(map(len, texts))  # a wildcard: one
        self._literal = "".join(texts) if len(texts) == len(steps) else None
        self._regex: re.Pattern[str] | None = None  # compiled when first needed

    def at(self, text: str, position: int) -> bool:
        """Whether the segment lies in ``text`` at ``position``."""
        if self._literal is not None:
            return text.startswith(self._literal, position)
        return self._compiled().match(text, position) is not None

    def find(self, text: str, start: int, end: int) -> int:
        """Where the segment first lies wholly in ``text[start:end]``, or -1."""
        if self._literal is not None:
            return text.find(self._literal, start, end)
        found = self._compiled().search(text, start, end)
        return -1 if found is None else found.start()

    def _compiled(self) -> re.Pattern[str]:
        # no repetition in it: tried position by position, never backtracking
        if self._regex is None:
            parts = [re.escape(step) if isinstance(step, str) else "." for step in self._steps]
            self._regex = re.compile("".join(parts), re.DOTALL)
        return self._regex


class _Matcher:
    """A pattern cut at its runs into segments, matched against whole texts.

    With ``longest``, for texts of at most that length: the pattern is read only until its
    fixed characters outnumber it (then nothing matches), so a huge pattern sent to be tried
    on short texts costs what those texts do.
    """

    def __init__(self, steps: Iterable[Step], *, longest: int | None = None) -> None:
        cut: list[list[Step]] = [[]]
        fixed = 0
        for step in steps:
            if step is Wildcard.RUN:
                if cut[-1] or len(cut) == 1:  # a run right after a run cuts nothing more
                    cut.append([])
                continue
            cut[-1].append(step)
            fixed += 1 if step is Wildcard.ONE else len(step)  # type: ignore[arg-type]
            if longest is not None and fixed > longest:
                cut = [[Wildcard.ONE] * (longest + 1)]  # matches no text that short
                break
        self._segments = [_Segment(steps) for steps in cut]

    def __call__(self, text: str) -> bool:
        segments = self._segments
        if len(segments) == 1:  # no run: the one segment is the whole text
            return len(text) == segments[0].length and segments[0].at(text, 0)
        first, last = segments[0], segments[-1]
        end = len(text) - last.length
        if end < first.length or not first.at(text, 0) or not last.at(text, end):
            return False
        position = first.length
        for segment in segments[1:-1]:  # each at least a character: at most len(text) found
            found = segment.find(text, position, end)
            if found < 0:
                return False
            position = found + segment.length
        return True
