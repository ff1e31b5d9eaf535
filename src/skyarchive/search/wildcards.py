"""Wildcard patterns matched in Python, in two syntaxes and by one walk: SQL LIKE (``%``, ``_``
and ``\\`` escapes: ``dataRights`` patterns, :mod:`skyarchive.search.criteria`) and
MastMissions' globs (``*`` alone is special: :mod:`skyarchive.search.missions`).

Not by regular expressions: ``.*`` repeated, as a pattern of many wildcards becomes, backtracks
combinatorially (15 before an ``x`` took 2.4 s against one right, 20 over 17 s), and any client
can send such a pattern. Each syntax is read into the same steps (a literal text, one
character, any run of characters) and :func:`_walk` follows the positions of the text the
pattern can have reached, step by step: at most ``len(pattern) * len(text)`` work, a run of
consecutive wildcards is one step (a pattern of millions of ``*`` costs what one does), and the
walk ends as soon as no position is left.

Matching is exact in case: the callers fold both sides (the databases' LIKE ignores ASCII case,
MastMissions' text matches ignore case).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator


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
    return _walk(_like_steps(pattern), text)


def glob_match(pattern: str, text: str) -> bool:
    """Whether the glob ``pattern``, where only ``*`` is special (any run of characters),
    matches the whole of ``text``."""
    return _walk(_glob_steps(pattern), text)


def _like_steps(pattern: str) -> Iterator[Step]:
    for found in _LIKE_PIECES.finditer(pattern):  # lazily: the walk may end early
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


def _walk(steps: Iterable[Step], text: str) -> bool:
    """Whether ``steps`` lead from the start of ``text`` to its end: each step costs at most
    ``len(text)`` positions times its own length."""
    reached = {0}
    after_run = False
    for step in steps:
        if step is Wildcard.RUN:
            if not after_run:  # a run right after a run reaches nothing more
                reached = set(range(min(reached), len(text) + 1))
            after_run = True
            continue
        after_run = False
        if step is Wildcard.ONE:
            reached = {p + 1 for p in reached if p < len(text)}
        else:
            reached = {p + len(step) for p in reached if text.startswith(step, p)}
        if not reached:
            return False
    return len(text) in reached
