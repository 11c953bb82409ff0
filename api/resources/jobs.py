"""``/v1/jobs``: the job catalogue; ``POST /v1/tenants/{tenant_id}/jobs``: enqueue an ad-hoc job."""

from __future__ import annotations

import falcon

from api.auth import require_tenant
from app.adhoc import AdHocJobs
from app.jobs import JOBS, TENANT_JOBS


class JobCatalogueResource:
    """``GET /v1/jobs``: the jobs tenants may schedule or enqueue, with their queue and defaults."""

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {
            "items": [
                {
                    "name": name,
                    "description": JOBS[name].description,
                    "queue": JOBS[name].queue,
                    "max_attempts": JOBS[name].max_attempts,
                    "backoff": JOBS[name].backoff_ms / 1000,
                    "backoff_max": JOBS[name].backoff_max_ms / 1000,
                    "time_limit": JOBS[name].time_limit_ms / 1000,
                }
                for name in TENANT_JOBS
            ]
        }


class AdHocJobsResource:
    """``POST /v1/tenants/{tenant_id}/jobs`` ``{"job", "payload", "delay", "priority", "max_attempts"}``:
    202 with the queued run; follow it at ``/v1/runs/{id}``."""

    def __init__(self, jobs: AdHocJobs):
        self.jobs = jobs

    def on_post(self, req: falcon.Request, resp: falcon.Response, tenant_id: str) -> None:
        require_tenant(req, tenant_id)
        run = self.jobs.enqueue(tenant_id, req.get_media())
        resp.status = falcon.HTTP_202
        resp.location = f"/v1/runs/{run['id']}"
        resp.media = run
