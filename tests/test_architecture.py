"""The direction of imports, as docs/architecture.md draws it, held against the code.

Faces (api/, portal/, the CLI, web.py) → delivery, ingest, vo → notify → products → search →
access, sky, storage → db. Faces parse and render: they never import db/ or storage/ (they go
through services, or through ``Archive``, the composition object). ``access/`` never imports
ingest or notify. Imports inside functions count too: a lazy import is still a dependency.
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
