"""The tests.tools plugin: a skip for a missing tool is listed loudly, and fails the run in CI.

Each case runs a small fake suite in a fresh pytest process (pytester) with the plugin loaded
and PostgreSQL pointed at a port where nothing listens.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]

FAKE_SUITE = """
import pytest

from tests.tools import needs, require_tool


def test_on_postgresql():
    require_tool("postgresql")


@needs("postgresql")
def test_marked_for_postgresql():
    pass


def test_plain():
    pass


def test_skipped_for_another_reason():
    pytest.skip("not a missing tool")
"""

FAKE_MODULE_SKIPPED_AT_IMPORT = """
from tests.tools import require_tool

require_tool("postgresql")


def test_on_postgresql():
    pass
"""


@pytest.fixture
def fake_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A pytester directory whose tests load tests.tools; yields where PostgreSQL 'is'."""
    pytester.makeconftest('pytest_plugins = ["tests.tools"]\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        monkeypatch.setenv(
            "SKYARCHIVE_TEST_POSTGRES_URL", f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
        )
        yield f"127.0.0.1:{port}"


def test_without_ci_a_postgres_skip_passes_but_is_listed_loudly(
    pytester: pytest.Pytester, fake_suite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    pytester.makepyfile(test_fake=FAKE_SUITE)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(
        [
            "*tests skipped for a missing tool*",
            f"MISSING POSTGRESQL: 2 tests skipped: PostgreSQL at *{fake_suite}/test is not *",
            "With CI=true these skips fail the run.",
        ]
    )
    # the skip for another reason is not listed as a missing tool
    assert len([line for line in result.outlines if line.startswith("MISSING ")]) == 1


def test_with_ci_a_postgres_skip_fails_the_run(
    pytester: pytest.Pytester, fake_suite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_fake=FAKE_SUITE)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # the other skip stays a skip: only missing tools fail (a skip at setup, from a marker or
    # a fixture, fails as pytest reports every failed setup: as an error)
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*tests failed (CI=true) for a missing tool*",
            f"MISSING POSTGRESQL: 2 tests failed (CI=true): PostgreSQL at *{fake_suite}/test*",
            "FAILED test_fake.py::test_on_postgresql*",
            "ERROR test_fake.py::test_marked_for_postgresql*",
        ]
    )


def test_with_ci_a_module_skipped_at_import_fails_the_run(
    pytester: pytest.Pytester, fake_suite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(
        test_fake=FAKE_MODULE_SKIPPED_AT_IMPORT, test_other="def test_plain():\n    pass\n"
    )
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["MISSING POSTGRESQL: 1 module failed (CI=true)*"])


def test_with_ci_skips_in_parallel_processes_fail_the_run_and_are_listed(
    pytester: pytest.Pytester, fake_suite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # make test runs the suite in pytest-xdist processes: the skips happen in a worker, the
    # summary and the exit status are the controlling process's
    monkeypatch.setenv("CI", "true")
    pytester.makepyfile(test_fake=FAKE_SUITE, test_skipped=FAKE_MODULE_SKIPPED_AT_IMPORT)
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=1, failed=1, errors=1, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*tests failed (CI=true) for a missing tool*",
            "MISSING POSTGRESQL: 1 module, 2 tests failed (CI=true): PostgreSQL at *"
            f"{fake_suite}/test*",
        ]
    )
