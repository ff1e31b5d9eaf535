"""The direction of imports, as docs/architecture.md draws it, held against the code.

Faces (api/, portal/, the CLI, web.py) → delivery, ingest, vo → notify → products → search →
access, sky, storage → db. Faces parse and render: they never import db/ or storage/ (they go
through services, or through ``Archive``, the composition object). ``access/`` never imports
ingest or notify. Imports inside functions count too: a lazy import is still a dependency.

And one rule on reads: a server-side cursor is opened by ``db/streaming.stream_rows`` alone.
"""

from __future__ import annotations

import ast
from pathlib import Path

import skyarchive

PACKAGE = Path(skyarchive.__file__).parent
FACES = {"api", "portal", "cli", "cli_access", "cli_doi", "web"}
# Higher numbers may import lower ones, never the other way round.
LAYER = {"faces": 6, "delivery": 5, "ingest": 5, "vo": 5, "notify": 4, "doi": 4, "products": 3,
         "search": 2, "access": 1, "sky": 1, "storage": 1, "db": 0}  # fmt: skip


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "skyarchive" or len(parts) < 2:
        return None
    top = parts[1]
    if top in FACES:
        return "faces"
    return top if top in LAYER else None


def _imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def _breaches(package: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        module = "skyarchive." + ".".join(path.relative_to(package).with_suffix("").parts)
        mine = _layer(module)
        if mine is None:
            continue
        for line, imported in _imports(path):
            theirs = _layer(imported)
            if theirs is None or theirs == mine:
                continue
            upward = LAYER[theirs] > LAYER[mine]
            face_reaching_down = mine == "faces" and theirs in ("db", "storage")
            if upward or face_reaching_down:
                out.append(f"{path.relative_to(package)}:{line}: {mine} imports {imported}")
    return out


def test_imports_run_one_way() -> None:
    assert _breaches() == []


def test_the_check_sees_each_kind_of_breach(tmp_path: Path) -> None:
    """A face importing db/, a lazy upward import, and a downward import that is fine."""
    (tmp_path / "api").mkdir()
    (tmp_path / "access").mkdir()
    (tmp_path / "api" / "face.py").write_text("from skyarchive.db.tables import products\n")
    (tmp_path / "access" / "rule.py").write_text(
        "from skyarchive.db import tables\n\ndef f():\n    import skyarchive.notify.events\n"
    )
    assert _breaches(tmp_path) == [
        "access/rule.py:4: access imports skyarchive.notify.events",
        "api/face.py:1: faces imports skyarchive.db.tables",
    ]


# A server-side cursor (SQLAlchemy's ``yield_per``, or ``stream_results`` that it implies) is
# a named cursor on PostgreSQL, which lives only inside a transaction: ``DECLARE`` fails on a
# connection in autocommit, as ``Archive.search_engine``'s are. ``stream_rows`` opens the
# transaction the cursor needs when its connection is in autocommit and does nothing more on
# one already in a transaction, so every stream goes through it, whatever its engine: a stream
# written elsewhere would pass its tests on SQLite and on a transaction, then fail on
# PostgreSQL the day its search moved to ``search_engine``.
STREAMING_OPTIONS = {"yield_per", "stream_results"}
#: The modules (relative to the package) that may name a streaming option: the one that
#: opens every stream. No other use exists today; none is needed (``stream_rows`` serves a
#: connection in a transaction as it is), so an entry added here must say why.
MAY_STREAM = {"db/streaming.py"}


def _streaming_uses(path: Path) -> list[tuple[int, str]]:
    """Where ``path`` names a streaming option: ``.yield_per(...)``, ``yield_per=...`` given to
    a call (``execution_options``), or a ``"yield_per"`` key (``execution_options={...}``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in STREAMING_OPTIONS:
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.keyword) and node.arg in STREAMING_OPTIONS:
            found.append((node.lineno, f"{node.arg}="))
        elif isinstance(node, ast.Constant) and node.value in STREAMING_OPTIONS:
            found.append((node.lineno, repr(node.value)))
    return found


def _streams_elsewhere(package: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        if relative in MAY_STREAM:
            continue
        out += [f"{relative}:{line}: {what}" for line, what in sorted(_streaming_uses(path))]
    return out


def test_server_side_cursors_are_opened_by_stream_rows_alone() -> None:
    assert _streams_elsewhere() == [], (
        "stream through skyarchive.db.streaming.stream_rows: on PostgreSQL a server-side "
        "cursor needs a transaction, and search_engine's connections are in autocommit"
    )


def test_the_check_sees_each_way_of_asking_for_a_stream(tmp_path: Path) -> None:
    """An execution option as a dict key or a keyword, a ``yield_per`` call on a result or a
    statement; ``db/streaming.py`` itself, and words in a docstring, are fine."""
    (tmp_path / "db").mkdir()
    (tmp_path / "search").mkdir()
    (tmp_path / "db" / "streaming.py").write_text(
        'def f(conn, s):\n    return conn.execute(s, execution_options={"yield_per": 9})\n'
    )
    (tmp_path / "search" / "pages.py").write_text(
        '"""Rows read with yield_per."""\n\n'
        "def f(conn, s):\n"
        '    conn.execute(s, execution_options={"yield_per": 9})\n'
        "    conn.execution_options(yield_per=9).execute(s)\n"
        "    conn.execute(s).yield_per(9)\n"
        "    conn.execute(s.execution_options(stream_results=True))\n"
    )
    assert _streams_elsewhere(tmp_path) == [
        "search/pages.py:4: 'yield_per'",
        "search/pages.py:5: yield_per=",
        "search/pages.py:6: .yield_per",
        "search/pages.py:7: stream_results=",
    ]
