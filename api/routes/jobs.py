"""Jobs: URL batches too large to answer within one request run in a thread; `GET /v1/jobs/{id}`.

Jobs live in the memory of the process that took them (a restart forgets them; with several workers
ask the worker that answered, or use `newsrag ingest URL...` for big batches).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, FastAPI, Request

from api.deps import require_reader
from api.schemas import ERRORS, JobOut, JobStatus, UrlIngestResult
from rag.errors import NotFound

router = APIRouter(tags=["articles"])
log = logging.getLogger("newsrag.api")
KEEP_JOBS = 200  # finished jobs kept for their results, oldest forgotten first


class Job:
    """One batch; its fields change under the registry's lock while the thread runs."""

    def __init__(self, urls: int) -> None:
        self.id = secrets.token_hex(8)
        self.urls = urls
        self.status: JobStatus = "queued"
        self.created_at = datetime.now(UTC)
        self.finished_at: datetime | None = None
        self.done_urls = 0
        self.articles = 0
        self.result: UrlIngestResult | None = None
        self.error: str | None = None

    def view(self) -> JobOut:
        """The job as clients see it: JobOut's fields are this job's attributes."""
        return JobOut.model_validate(self, from_attributes=True)


class JobProgress:
    """What a running job reports back: articles processed and URLs finished."""

    def __init__(self, registry: JobRegistry, job: Job) -> None:
        self._registry = registry
        self._job = job

    def articles(self, n: int) -> None:
        with self._registry.lock:
            self._job.articles += n

    def url_done(self) -> None:
        with self._registry.lock:
            self._job.done_urls += 1


class JobRegistry:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()

    def submit(self, urls: int, work: Callable[[JobProgress], UrlIngestResult]) -> JobOut:
        job = Job(urls)
        with self.lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                self._jobs.popitem(last=False)
        threading.Thread(target=self._run, args=(job, work), name=f"newsrag-job-{job.id}", daemon=True).start()
        return self.get(job.id)

    def _run(self, job: Job, work: Callable[[JobProgress], UrlIngestResult]) -> None:
        with self.lock:
            job.status = "running"
        try:
            result = work(JobProgress(self, job))
        except Exception as exc:
            log.warning("job %s failed", job.id, exc_info=True)
            with self.lock:
                job.status, job.error = "failed", getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                job.finished_at = datetime.now(UTC)
            return
        with self.lock:
            job.status, job.result, job.finished_at = "done", result, datetime.now(UTC)

    def get(self, job_id: str) -> JobOut:
        with self.lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFound(f"no job with id {job_id!r} (jobs are kept in memory by the process that ran them)")
            return job.view()


def jobs_of(app: FastAPI) -> JobRegistry:
    registry = getattr(app.state, "jobs", None)
    if registry is None:
        registry = app.state.jobs = JobRegistry()
    return registry


@router.get(
    "/v1/jobs/{job_id}",
    response_model=JobOut,
    summary="A URL ingest job: status, progress and, once done, its results",
    dependencies=[Depends(require_reader)],
    responses=ERRORS,
)
async def get_job(job_id: str, request: Request) -> JobOut:
    return jobs_of(request.app).get(job_id)
