"""Download/file's blocking look-up runs in the app's file threads: a standard pool, whose
hand-off costs a fraction of the one FastAPI makes for a synchronous route (anyio's)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from skyarchive.access.rights import now_mjd
from skyarchive.api.mast import downloads
from skyarchive.archive import Archive
from skyarchive.db.tables import observations, products
from skyarchive.web import create_app


def test_a_download_is_looked_up_in_the_file_threads(
    demo_archive_copy: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_archive_copy.engine.connect() as conn:
        uri = conn.scalar(
            select(products.c.dataURI)
            .join(observations, observations.c.obsid == products.c.owner_obsid)
            .where(observations.c.t_obs_release <= now_mjd())
            .order_by(products.c.size)
            .limit(1)
        )
    looked_up_in: list[str] = []
    real_answer = downloads.file_answer

    def noted(*args: Any, **kwargs: Any) -> Any:
        looked_up_in.append(threading.current_thread().name)
        return real_answer(*args, **kwargs)

    monkeypatch.setattr(downloads, "file_answer", noted)
    app = create_app(demo_archive_copy)

    async def download() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/api/v0.1/Download/file", params={"uri": uri})

    answer = asyncio.run(download())
    assert answer.status_code == 200 and answer.content
    assert len(looked_up_in) == 1 and looked_up_in[0].startswith("skyarchive-files")
