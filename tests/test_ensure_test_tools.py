"""`scripts/ensure-test-tools` (the first step of `make test`) says loudly what it cannot bring.

The script is run for real with a PATH that holds none of the Debian programs the tests drive
and no apt-get, as on a machine where the user cannot install packages: it must name each
missing program with the command that installs it, and still let `make test` go on (exit 0).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ensure-test-tools"
DEBIAN = {"curl": "curl", "wget": "wget", "unzip": "unzip", "stilts": "stilts"}


def test_without_apt_get_each_missing_program_is_named_with_its_install_command(
    tmp_path: Path,
) -> None:
    bare = tmp_path / "bin"  # a PATH with only what the script itself runs
    bare.mkdir()
    (bare / "id").symlink_to("/usr/bin/id")
    venv = tmp_path / "venv"  # a venv that has SeaweedFS already, so nothing is pip-installed
    (venv / "bin").mkdir(parents=True)
    weed = venv / "bin" / "weed"
    weed.write_text("#!/bin/sh\n")
    weed.chmod(0o755)
    done = subprocess.run(
        ["/bin/bash", str(SCRIPT)], capture_output=True, text=True, timeout=120,
        env={"PATH": str(bare), "VENV": str(venv), "HOME": str(tmp_path),
             "LANG": os.environ.get("LANG", "C.UTF-8")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr  # make test goes on; the skips report themselves
    assert "MISSING" in done.stderr and "SKIPPED" in done.stderr
    listed = [line for line in done.stderr.splitlines() if line.startswith("!!   - ")]
    for program, package in DEBIAN.items():
        (line,) = [entry for entry in listed if entry.startswith(f"!!   - {program}:")]
        assert line.endswith(f"apt-get install -y --no-install-recommends {package}"), line
    assert not any("weed" in line for line in listed)  # present in the venv: not missing
    assert "installing" not in done.stdout  # nothing was installed
