"""UWS 1.1 documents: a job, a job list, and a job's parameters and results, as XML.

Elements follow the order of the UWS 1.1 schema (``uws:JobSummary``), with ``xsi:nil`` where
the schema lets a value be absent; clients (pyvo, TOPCAT, STILTS' taplint) read them by that
schema. Links are absolute, built from the base URL a request came through.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree import ElementTree as ET  # noqa: N817  (writing our own documents only)

from skyarchive.vo.uws import COMPLETED, ERROR, RESULT_ID, Job, iso_time

UWS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
VERSION = "1.1"
MEDIA_TYPE = "text/xml"

ET.register_namespace("uws", UWS)
ET.register_namespace("xlink", XLINK)
ET.register_namespace("xsi", XSI)


def _tag(name: str) -> str:
    return f"{{{UWS}}}{name}"


def _add(parent: ET.Element, name: str, text: str | None, *, nillable: bool = True) -> None:
    element = ET.SubElement(parent, _tag(name))
    if text is None:
        if nillable:
            element.set(f"{{{XSI}}}nil", "true")
    else:
        element.text = text


def _document(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def job_url(async_url: str, job_id: str) -> str:
    return f"{async_url.rstrip('/')}/{job_id}"


def job_document(job: Job, *, async_url: str, owner: str | None) -> bytes:
    """``GET /async/<id>``: the whole job."""
    root = ET.Element(_tag("job"), {"version": VERSION})
    _add(root, "jobId", job.job_id)
    if job.run_id is not None:
        _add(root, "runId", job.run_id)
    _add(root, "ownerId", owner)
    _add(root, "phase", job.phase)
    _add(root, "quote", iso_time(job.quote))
    _add(root, "creationTime", iso_time(job.created_at))
    _add(root, "startTime", iso_time(job.started_at))
    _add(root, "endTime", iso_time(job.finished_at))
    _add(root, "executionDuration", str(job.execution_duration))
    _add(root, "destruction", iso_time(job.destruction_at))
    root.append(_parameters(job))
    root.append(_results(job, async_url))
    if job.phase == ERROR:
        summary = ET.SubElement(root, _tag("errorSummary"), {"type": "fatal", "hasDetail": "true"})
        _add(summary, "message", job.error or "The job failed.")
    return _document(root)


def parameters_document(job: Job) -> bytes:
    return _document(_parameters(job, root=True))


def results_document(job: Job, *, async_url: str) -> bytes:
    return _document(_results(job, async_url, root=True))


def _parameters(job: Job, *, root: bool = False) -> ET.Element:
    element = ET.Element(_tag("parameters"), {"version": VERSION} if root else {})
    for name, value in sorted(job.parameters.items()):
        parameter = ET.SubElement(element, _tag("parameter"), {"id": name.lower()})
        parameter.text = value
    return element


def _results(job: Job, async_url: str, *, root: bool = False) -> ET.Element:
    element = ET.Element(_tag("results"), {"version": VERSION} if root else {})
    if job.phase == COMPLETED and job.result_key:
        href = f"{job_url(async_url, job.job_id)}/results/{RESULT_ID}"
        attributes = {"id": RESULT_ID, f"{{{XLINK}}}href": href, f"{{{XLINK}}}type": "simple"}
        if job.result_type:
            attributes["mime-type"] = job.result_type
        if job.result_size is not None:
            attributes["size"] = str(job.result_size)
        ET.SubElement(element, _tag("result"), attributes)
    return element


def job_list_document(jobs: Sequence[Job], *, async_url: str) -> bytes:
    """``GET /async``: references to the caller's jobs."""
    root = ET.Element(_tag("jobs"), {"version": VERSION})
    for job in jobs:
        ref = ET.SubElement(
            root, _tag("jobref"),
            {"id": job.job_id, f"{{{XLINK}}}href": job_url(async_url, job.job_id),
             f"{{{XLINK}}}type": "simple"},
        )  # fmt: skip
        _add(ref, "phase", job.phase)
        if job.run_id is not None:
            _add(ref, "runId", job.run_id)
        _add(ref, "creationTime", iso_time(job.created_at))
    return _document(root)
