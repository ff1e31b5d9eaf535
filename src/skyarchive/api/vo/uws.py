"""``/vo/tap/async``: asynchronous TAP jobs as UWS 1.1 resources.

Parameters come as a query string or a form body (``application/x-www-form-urlencoded`` or
``multipart/form-data``), names in any case; every change answers 303 to the job (or to the job
list after a delete), as UWS says. The rules (who sees a job, how its phase moves, limits) are
``vo/uws.py``'s; this module only reads requests and writes UWS documents.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse

from skyarchive.access.policy import Caller
from skyarchive.api.deps import ArchiveDep, CallerDep, ClientAddressDep, PublicUrlDep
from skyarchive.api.errors import VoRoute
from skyarchive.api.vo.params import DaliParams, dali_params
from skyarchive.errors import BadQuery, NotFound
from skyarchive.vo import uws, uws_xml
from skyarchive.vo.identifiers import TAP_PATH
from skyarchive.vo.votable_errors import MEDIA_TYPE as VOTABLE_MEDIA_TYPE
from skyarchive.vo.votable_errors import error_votable

ASYNC_PATH = f"{TAP_PATH}/async"
router = APIRouter(prefix=ASYNC_PATH, tags=["VO: TAP async (UWS)"], route_class=VoRoute)
#: Chunk size of a result read from storage.
CHUNK = 256 * 1024


ParametersDep = Annotated[DaliParams, Depends(dali_params)]


def _xml(body: bytes) -> Response:
    return Response(body, media_type=uws_xml.MEDIA_TYPE)


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _enqueue(request: Request) -> uws.Enqueue:
    return request.app.state.enqueue_tap_job  # type: ignore[no-any-return]


@router.get("", summary="The caller's asynchronous TAP jobs (UWS job list)")
def job_list(archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
             parameters: ParametersDep) -> Response:  # fmt: skip
    jobs = uws.list_jobs(
        archive.engine, caller, phases=parameters.all("PHASE"),
        after=parameters.first("AFTER"), last=parameters.first("LAST"),
    )  # fmt: skip
    return _xml(uws_xml.job_list_document(jobs, async_url=base + ASYNC_PATH))


@router.post("", summary="Submit an asynchronous TAP query (303 to the new job)")
def create(request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
           client: ClientAddressDep, parameters: ParametersDep) -> Response:  # fmt: skip
    job = uws.create_job(
        archive.engine, archive.settings, caller=caller, client=client,
        parameters=parameters.items(), base_url=base,
    )  # fmt: skip
    if job.phase == uws.QUEUED:
        _enqueue(request)(job.job_id)
    return _see(uws_xml.job_url(base + ASYNC_PATH, job.job_id))


@router.get("/{job_id}", summary="One job (UWS 1.1 WAIT blocks until its phase changes)")
async def job(archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep, job_id: str,
              parameters: ParametersDep) -> Response:  # fmt: skip
    # async for WAIT's sake (a blocked client holds no worker thread); the reads go to threads
    found = await asyncio.to_thread(uws.job_for, archive.engine, job_id, caller)
    wait = parameters.first("WAIT")
    if wait is not None:
        try:
            seconds = float(wait)
        except ValueError:
            raise BadQuery(f"WAIT {wait[:20]!r} is not a number of seconds.") from None
        found = await uws.wait_for_change(
            archive.engine, found, seconds=seconds, phase=parameters.first("PHASE")
        )
    owner = _owner(caller, found)
    return _xml(uws_xml.job_document(found, async_url=base + ASYNC_PATH, owner=owner))


def _owner(caller: Caller, job: uws.Job) -> str | None:
    """Who the job belongs to, as the owner reads it (their e-mail); anonymous jobs: none."""
    if job.owner_id is None:
        return None
    return caller.email if caller.user_id == job.owner_id else f"user {job.owner_id}"


@router.post("/{job_id}", summary="PHASE=RUN|ABORT, or ACTION=DELETE")
def change(request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
           job_id: str, parameters: ParametersDep) -> Response:  # fmt: skip
    found = uws.job_for(archive.engine, job_id, caller)
    action = parameters.first("ACTION")
    if action is not None:
        if action.strip().upper() != "DELETE":
            raise BadQuery(f"ACTION={action[:20]!r} is not known; the one action is DELETE.")
        return _delete(archive, found, base)
    phase = parameters.first("PHASE")
    if phase is not None:
        uws.change_phase(archive.engine, found, phase, enqueue=_enqueue(request))
    changes = {name: value for name in ("DESTRUCTION", "EXECUTIONDURATION")
               if (value := parameters.first(name)) is not None}  # fmt: skip
    uws.set_limits(archive.engine, archive.settings, found, **changes)
    return _see(uws_xml.job_url(base + ASYNC_PATH, job_id))


@router.delete("/{job_id}", summary="Delete a job and its result (303 to the job list)")
def remove(archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep, job_id: str) -> Response:
    return _delete(archive, uws.job_for(archive.engine, job_id, caller), base)


def _delete(archive: ArchiveDep, job: uws.Job, base: str) -> Response:
    uws.delete_job(archive.engine, job, remove_result=archive.storage.delete)
    return _see(base + ASYNC_PATH)


@router.get("/{job_id}/phase", summary="The job's phase, as text")
def phase(archive: ArchiveDep, caller: CallerDep, job_id: str) -> Response:
    return PlainTextResponse(uws.job_for(archive.engine, job_id, caller).phase)


@router.post("/{job_id}/phase", summary="PHASE=RUN starts the job, PHASE=ABORT ends it")
def set_phase(request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
              job_id: str, parameters: ParametersDep) -> Response:  # fmt: skip
    found = uws.job_for(archive.engine, job_id, caller)
    uws.change_phase(archive.engine, found, parameters.first("PHASE") or "",
                     enqueue=_enqueue(request))  # fmt: skip
    return _see(uws_xml.job_url(base + ASYNC_PATH, job_id))


@router.get("/{job_id}/quote", summary="When the job should be done by, at the latest")
def quote(archive: ArchiveDep, caller: CallerDep, job_id: str) -> Response:
    return PlainTextResponse(uws.iso_time(uws.job_for(archive.engine, job_id, caller).quote) or "")


@router.get("/{job_id}/executionduration", summary="The job's run-time limit, in seconds")
def execution_duration(archive: ArchiveDep, caller: CallerDep, job_id: str) -> Response:
    found = uws.job_for(archive.engine, job_id, caller)
    return PlainTextResponse(str(found.execution_duration))


@router.get("/{job_id}/destruction", summary="When the job and its result are deleted")
def destruction(archive: ArchiveDep, caller: CallerDep, job_id: str) -> Response:
    found = uws.job_for(archive.engine, job_id, caller)
    return PlainTextResponse(uws.iso_time(found.destruction_at) or "")


@router.post("/{job_id}/executionduration", summary="Set the run-time limit (PENDING jobs)")
@router.post("/{job_id}/destruction", summary="Set an earlier destruction time")
def set_time(request: Request, archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep,
             job_id: str, parameters: ParametersDep) -> Response:  # fmt: skip
    found = uws.job_for(archive.engine, job_id, caller)
    name = request.url.path.rstrip("/").rsplit("/", 1)[1].upper()
    value = parameters.first(name)
    if value is None:
        raise BadQuery(f"Give the new value as {name}=...")
    uws.set_limits(archive.engine, archive.settings, found, **{name: value})
    return _see(uws_xml.job_url(base + ASYNC_PATH, job_id))


@router.get("/{job_id}/error", summary="Why the job failed (a DALI error VOTable)")
def error(archive: ArchiveDep, caller: CallerDep, job_id: str) -> Response:
    found = uws.job_for(archive.engine, job_id, caller)
    if found.phase != uws.ERROR:
        raise NotFound(f"Job {job_id} has no error: it is {found.phase}.")
    return Response(error_votable(found.error or "The job failed."),
                    media_type=VOTABLE_MEDIA_TYPE)  # fmt: skip


@router.get("/{job_id}/parameters", summary="The job's parameters")
def parameters(archive: ArchiveDep, caller: CallerDep, job_id: str) -> Response:
    return _xml(uws_xml.parameters_document(uws.job_for(archive.engine, job_id, caller)))


@router.post("/{job_id}/parameters", summary="Add or change parameters (PENDING jobs)")
def set_parameters(archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep, job_id: str,
                   given: ParametersDep) -> Response:  # fmt: skip
    uws.set_parameters(archive.engine, uws.job_for(archive.engine, job_id, caller), given.items())
    return _see(uws_xml.job_url(base + ASYNC_PATH, job_id))


@router.get("/{job_id}/results", summary="The job's results (one, `result`, once COMPLETED)")
def results(archive: ArchiveDep, caller: CallerDep, base: PublicUrlDep, job_id: str) -> Response:
    found = uws.job_for(archive.engine, job_id, caller)
    return _xml(uws_xml.results_document(found, async_url=base + ASYNC_PATH))


@router.get("/{job_id}/results/result", summary="The query's result table")
def result(archive: ArchiveDep, caller: CallerDep, job_id: str) -> Response:
    found = uws.job_for(archive.engine, job_id, caller)
    key = uws.result_of(found)
    return StreamingResponse(
        archive.storage.open_range(key), media_type=found.result_type or "application/octet-stream",
        headers={"Content-Length": str(found.result_size)} if found.result_size is not None
        else {},
    )  # fmt: skip


@router.get("/{job_id}/owner", summary="Who the job belongs to")
def owner(archive: ArchiveDep, caller: CallerDep, job_id: str) -> Response:
    return PlainTextResponse(_owner(caller, uws.job_for(archive.engine, job_id, caller)) or "")
