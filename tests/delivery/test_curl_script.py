"""The cURL script text: valid bash, streamed, nothing can escape a comment or a quote."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from skyarchive.delivery.curl_script import ScriptEntry, comment_line, curl_script


def _script(entries) -> str:  # type: ignore[no-untyped-def]
    return "".join(curl_script(entries, base_url="http://127.0.0.1:1/"))


def test_comment_lines_cannot_break_out() -> None:
    line = comment_line("not in this archive: x\nrm -rf /")
    assert line.count("\n") == 1 and line.startswith("# ")


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash missing")
def test_script_is_valid_bash_for_hostile_names() -> None:
    entries = [
        ScriptEntry("mast:JWST/product/a'$(x).fits", "a'$(x).fits", "JWST", "o b", 5, "0" * 64,
                    restricted=True),
        "unknown: `reboot`\n echo pwned",
    ]  # fmt: skip
    text = _script(entries)
    subprocess.run(["bash", "-n"], input=text.encode(), check=True)
    assert "MAST_API_TOKEN" in text and "SKYARCHIVE_CURL_RATE" in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash missing")
def test_restricted_file_without_token_says_what_to_do(tmp_path) -> None:  # type: ignore[no-untyped-def]
    entry = ScriptEntry("mast:JWST/product/x.fits", "x.fits", "JWST", "o", 5, "0" * 64, True)
    script = tmp_path / "s.sh"
    script.write_text(_script([entry]))
    done = subprocess.run(
        ["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 1
    assert "export MAST_API_TOKEN" in done.stderr
    assert "1 need MAST_API_TOKEN" in done.stdout
