"""The keyword tables' columns stored ready (schemas 0043-0045), through the real server on
both databases: an archive whose files have none (ingested before 0043), or lack the archive
columns (before 0045), answers keyword queries exactly as one that has them, and
``skyarchive keyword-columns`` stores them for every file, changing no answer; so does the
worker's periodic job, by itself, after an upgrade."""

from __future__ import annotations

from datetime import datetime

import httpx
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from skyarchive.archive import Archive
from skyarchive.cli import app
from skyarchive.db.tables import product_keywords
from skyarchive.jobs.queue import build_queue
from skyarchive.search.keyword_rows import stored_stamp
from skyarchive.search.keyword_store import keyword_columns_behind, write_keyword_columns
from tests.e2e.conftest import LiveServer
from tests.search.test_query_plans import _invoke

QUERIES = {
    "NIRCam images": ("Mast.Jwst.Filtered.Nircam",
                      {"columns": "*", "filters": [{"paramName": "exp_type",
                                                    "values": ["NRC_IMAGE"]}]}),
    "MIRI, chosen columns": ("Mast.Jwst.Filtered.Miri",
                             {"columns": "filename, targname, date_obs, nints, band",
                              "filters": []}),
    "every NIRSpec file": ("Mast.Jwst.Filtered.Nirspec", {"columns": "*", "filters": []}),
}  # fmt: skip


def _stamped(archive: Archive) -> tuple[int, int]:
    k = product_keywords
    with archive.engine.connect() as conn:
        files = conn.execute(select(func.count()).select_from(k)).scalar_one()
        ready = conn.execute(
            select(func.count()).where(k.c.keyword_columns_stamp == stored_stamp())
        ).scalar_one()
    return files, ready


def test_files_without_stored_columns_answer_the_same(demo_archive_copy: Archive) -> None:
    archive = demo_archive_copy
    files, ready = _stamped(archive)
    assert files > 100 and ready == files  # the writer stores every file's columns

    def answers(client: httpx.Client) -> dict[str, bytes]:
        found = {}
        for name, (service, params) in QUERIES.items():
            method, path, options = _invoke(service, params)
            answer = client.request(method, path, **options)
            assert answer.status_code == 200, answer.text[:300]
            assert answer.json()["data"], name
            found[name] = answer.content
        return found

    with LiveServer(archive) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        server.app.state.answer_cache = None  # every request runs its search
        stored = answers(client)
        with archive.engine.begin() as conn:  # as an archive of schema 0044 upgraded
            conn.execute(update(product_keywords).values(archive_members=None))
        assert answers(client) == stored  # written from the products rows, the same bytes
        with archive.engine.begin() as conn:  # as an archive of schema 0043 upgraded
            conn.execute(update(product_keywords).values(
                keyword_column_set=None, keyword_columns_stamp="0043-code"))  # fmt: skip
        assert _stamped(archive) == (files, 0)
        assert answers(client) == stored  # shaped from the headers, the same bytes
        with archive.engine.begin() as conn:  # as an archive of schema 0042 upgraded
            conn.execute(update(product_keywords).values(keyword_columns=None,
                                                         keyword_columns_stamp=None))  # fmt: skip
        assert _stamped(archive) == (files, 0)
        assert answers(client) == stored  # shaped from the headers, the same bytes

        url = archive.settings.resolved_database_url
        run = CliRunner().invoke(app, ["--home", str(archive.settings.home), "keyword-columns"],
                                 env={"SKYARCHIVE_DATABASE_URL": url})  # fmt: skip
        assert run.exit_code == 0, run.output
        assert f"{files:,} files" in run.output
        assert _stamped(archive) == (files, files)
        with archive.engine.connect() as conn:  # every file's archive columns stored again
            kept = select(func.count()).where(product_keywords.c.archive_members.is_not(None))
            assert conn.execute(kept).scalar_one() == files
        assert answers(client) == stored
        again = CliRunner().invoke(app, ["--home", str(archive.settings.home), "keyword-columns"],
                                   env={"SKYARCHIVE_DATABASE_URL": url})  # fmt: skip
        assert again.exit_code == 0 and "of 0 files" in again.output


def _strip(archive: Archive, *files: int) -> None:
    """The stored columns taken away, as from files of an archive upgraded from 0042."""
    k = product_keywords
    with archive.engine.begin() as conn:
        conn.execute(update(k).where(k.c.product_id.in_(files) if files else True)
                     .values(keyword_columns=None, keyword_column_set=None,
                             keyword_columns_stamp=None, archive_members=None))  # fmt: skip


def test_the_worker_stores_missing_columns_by_itself(demo_archive_copy: Archive) -> None:
    archive = demo_archive_copy
    files, _ = _stamped(archive)
    with LiveServer(archive) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        server.app.state.answer_cache = None
        method, path, options = _invoke(*QUERIES["NIRCam images"])
        before = client.request(method, path, **options).content
        _strip(archive)
        assert keyword_columns_behind(archive.engine)

        queue = build_queue(archive.settings)
        due = [t for t in queue.huey.read_periodic(datetime(2026, 12, 6, 9, 20))
               if t.name == "keyword-columns"]  # fmt: skip
        assert len(due) == 1  # every ten minutes
        due[0].execute()
        assert _stamped(archive) == (files, files)
        assert not keyword_columns_behind(archive.engine)
        assert client.request(method, path, **options).content == before

        # Once done, a tick reads one fact, not the table: a file stripped behind its back
        # stays so (shaped per search, the same answer) until the code's stamp changes or
        # the command is run.
        with archive.engine.connect() as conn:
            some = conn.execute(select(func.min(product_keywords.c.product_id))).scalar_one()
        _strip(archive, some)
        due[0].execute()
        assert _stamped(archive) == (files, files - 1)
        assert client.request(method, path, **options).content == before
        assert write_keyword_columns(archive.engine) == 1
        assert _stamped(archive) == (files, files)
