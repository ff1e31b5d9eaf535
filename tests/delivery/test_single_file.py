"""A single file's access decision asks who calls only when the answer depends on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from skyarchive.access.policy import ANONYMOUS, Caller
from skyarchive.access.rights import now_mjd
from skyarchive.archive import Archive
from skyarchive.db.tables import observations
from skyarchive.delivery.service import file_answer
from skyarchive.errors import Forbidden, Unauthorized
from tests.delivery.helpers import make_archive, write_manifest

PUBLIC_FILE, EXCLUSIVE_FILE = "public_preview.jpg", "exclusive_preview.jpg"


@pytest.fixture
def two_files(tmp_path: Path) -> Archive:
    """One public file and one of a program still in its exclusive-access period."""
    write_manifest(tmp_path / "src" / "a", {PUBLIC_FILE: 100}, obs_id="obs-public")
    write_manifest(tmp_path / "src" / "b", {EXCLUSIVE_FILE: 100}, obs_id="obs-exclusive",
                   proposal_id="90002")  # fmt: skip
    archive = make_archive(tmp_path / "home", tmp_path / "src")
    with archive.engine.begin() as conn:
        conn.execute(
            update(observations)
            .where(observations.c.obs_id == "obs-exclusive")
            .values(t_obs_release=now_mjd() + 100)
        )
    return archive


def _never() -> Caller:
    raise AssertionError("the caller was looked up for a public file")


def test_a_public_file_is_answered_without_looking_the_caller_up(two_files: Archive) -> None:
    answer = file_answer(two_files, caller=_never, uri=PUBLIC_FILE, range_header=None)
    assert answer.product.filename == PUBLIC_FILE
    assert (answer.first, answer.last) == (0, 99)


def test_an_exclusive_file_asks_who_calls_and_applies_the_rule(two_files: Archive) -> None:
    asked: list[str] = []

    def who(caller: Caller, name: str):  # type: ignore[no-untyped-def]
        def lookup() -> Caller:
            asked.append(name)
            return caller

        return lookup

    with pytest.raises(Unauthorized):
        file_answer(two_files, caller=who(ANONYMOUS, "anonymous"), uri=EXCLUSIVE_FILE,
                    range_header=None)  # fmt: skip
    outsider = Caller(user_id=7, email="outsider@example.org")
    with pytest.raises(Forbidden):
        file_answer(two_files, caller=who(outsider, "outsider"), uri=EXCLUSIVE_FILE,
                    range_header=None)  # fmt: skip
    granted = Caller(user_id=8, email="coi@example.org", programs=frozenset({"90002"}))
    answer = file_answer(two_files, caller=who(granted, "granted"), uri=EXCLUSIVE_FILE,
                         range_header="bytes=10-19")  # fmt: skip
    assert (answer.first, answer.last, answer.partial) == (10, 19, True)
    assert asked == ["anonymous", "outsider", "granted"]
