"""The Python examples of docs/vo.md run as written against the real server (its address put
in place of ``http://127.0.0.1:8000``), so the page's examples keep working."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[3] / "docs" / "vo.md"
#: The sections whose examples need nothing but the demo archive (the token one needs a token).
SECTIONS = ("SIAv2", "Simple Cone Search", "DataLink and SODA cutouts", "MOC coverage")


def examples(section: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", body, flags=re.DOTALL)


@pytest.mark.parametrize("section", SECTIONS)
def test_the_example_runs(vo_server, section: str, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    found = examples(section)
    assert found, f"docs/vo.md has no Python example under {section!r}"
    for code in found:
        exec(code.replace("http://127.0.0.1:8000", vo_server.url), {})  # noqa: S102
