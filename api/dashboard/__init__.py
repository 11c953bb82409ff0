"""The operator's dashboard under ``/dashboard``: server-rendered pages (Jinja2), no front-end build.

Schedules (filter, pause, resume, trigger), runs (filter; one run's attempts, errors and progress),
queues and dead letters (retry, purge), and processes (the clock and the workers, healthy or stale).
Each page is a thin resource over the same services the API uses.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import falcon
import redis
from jinja2 import Environment, PackageLoader, select_autoescape

from api.dashboard.access import DashboardAccess
from api.params import whole_number
from app.deadletters import DeadLetterService
from app.errors import NotFound, ValidationError
from app.jobs import QUEUES, TENANT_JOBS
from app.models import RUN_STATUSES
from app.processes import (
    CLOCKS_KEY,
    WORKER_STALE_AFTER,
    WORKERS_KEY,
    clock_stale_after,
    read,
    recent_fires,
)
from app.queues import queue_depths
from app.runs import RunStore
from app.schedules import ScheduleService

#: Rows per dashboard page.
PAGE = 50


def _when(value: str | None) -> str:
    """An ISO instant as ``2026-11-23 12:00:05`` (UTC)."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ago(value: str | float | None) -> str:
    """How far an instant (ISO text or Unix seconds) is from now: ``in 5m``, ``3h ago``."""
    if value in (None, ""):
        return ""
    then = datetime.fromisoformat(value) if isinstance(value, str) else datetime.fromtimestamp(value, UTC)
    seconds = (then - datetime.now(UTC)).total_seconds()
    size = abs(seconds)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if size >= span:
            text = f"{int(size // span)}{unit}"
            break
    else:
        text = f"{int(size)}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def environment() -> Environment:
    env = Environment(loader=PackageLoader("api.dashboard", "templates"), autoescape=select_autoescape())
    env.filters["when"] = _when
    env.filters["ago"] = _ago
    return env


def _safe_next(value: str | None, default: str) -> str:
    """Where to go after an action: only a dashboard path (never another site)."""
    if value and value.startswith("/dashboard") and not value.startswith("//"):
        return value
    return default


class Page:
    """Shared by the dashboard's resources: access, CSRF, rendering, redirects."""

    nav = ""

    def __init__(self, access: DashboardAccess, templates: Environment):
        self.access = access
        self.templates = templates

    def identify(self, req: falcon.Request) -> str:
        identity = self.access.identify(req)
        req.context.dashboard_identity = identity
        return identity

    def render(self, req: falcon.Request, resp: falcon.Response, template: str, **context: Any) -> None:
        identity = req.context.get("dashboard_identity") or self.identify(req)
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header("Cache-Control", "no-store")
        resp.set_header("X-Frame-Options", "DENY")
        resp.text = self.templates.get_template(template).render(
            identity=identity,
            csrf=self.access.csrf_token(identity),
            nav=self.nav,
            done=req.get_param("done"),
            here=req.relative_uri,
            **context,
        )

    def form(self, req: falcon.Request) -> dict[str, str]:
        """The POSTed form, after the access and CSRF checks."""
        identity = self.identify(req)
        form = {k: v for k, v in (req.get_media() or {}).items() if isinstance(v, str)}
        self.access.check_post(req, identity, form.get("csrf"))
        return form

    @staticmethod
    def redirect(form: dict[str, str], default: str, done: str) -> None:
        target = _safe_next(form.get("next"), default)
        joiner = "&" if "?" in target else "?"
        raise falcon.HTTPSeeOther(f"{target}{joiner}{urlencode({'done': done})}")


def _params(req: falcon.Request, *names: str) -> dict[str, str]:
    return {name: value for name in names if (value := (req.get_param(name) or "").strip())}


class SchedulesPage(Page):
    """``/dashboard/schedules``: filter by tenant, job and state; pause, resume, trigger."""

    nav = "schedules"

    def __init__(self, access, templates, schedules: ScheduleService):
        super().__init__(access, templates)
        self.schedules = schedules

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.identify(req)
        filters = _params(req, "tenant", "job", "state")
        cursor = whole_number(req.get_param("cursor")) or 0
        items, next_cursor = self.schedules.list(
            tenant_id=filters.get("tenant"),
            job=filters.get("job"),
            state=filters.get("state") if filters.get("state") in ("active", "paused", "finished") else None,
            after_id=cursor,
            limit=PAGE,
        )
        next_url = f"?{urlencode({**filters, 'cursor': next_cursor})}" if next_cursor else None
        self.render(
            req,
            resp,
            "schedules.html",
            items=items,
            filters=filters,
            jobs=TENANT_JOBS,
            states=("active", "paused", "finished"),
            next_url=next_url,
        )

    def on_post_action(self, req: falcon.Request, resp: falcon.Response, tenant_id: str, key: str, action: str):
        form = self.form(req)
        actor = f"dashboard:{req.context.dashboard_identity}"
        try:
            if action == "pause":
                self.schedules.pause(tenant_id, key, form.get("note") or None, actor)
            elif action == "resume":
                self.schedules.resume(tenant_id, key, actor)
            elif action == "trigger":
                self.schedules.trigger(tenant_id, key, actor)
            else:
                raise falcon.HTTPNotFound()
        except NotFound as exc:
            raise falcon.HTTPNotFound(title="Not found", description=str(exc)) from None
        self.redirect(form, "/dashboard/schedules", f"{action}: {tenant_id}/{key}")


class RunsPage(Page):
    """``/dashboard/runs``: filter by tenant, schedule, status and fire time; one run in detail."""

    nav = "runs"

    def __init__(self, access, templates, runs: RunStore, schedules: ScheduleService):
        super().__init__(access, templates)
        self.runs = runs
        self.schedules = schedules

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.identify(req)
        filters = _params(req, "tenant", "schedule_key", "status", "since", "until")
        problems = []
        bounds = {}
        for name in ("since", "until"):
            if name in filters:
                try:
                    value = datetime.fromisoformat(filters[name].replace("Z", "+00:00"))
                    bounds[name] = value if value.tzinfo else value.replace(tzinfo=UTC)
                except ValueError:
                    problems.append(f"{name}: use a date and time such as 2026-11-23 08:00 (UTC)")
        status = filters.get("status")
        if status is not None and status not in RUN_STATUSES:
            problems.append(f"status: one of {', '.join(RUN_STATUSES)}")
            status = None
        schedule_id = None
        if "schedule_key" in filters:
            try:
                schedule_id = self.schedules.get(filters.get("tenant", ""), filters["schedule_key"])["id"]
            except NotFound:
                problems.append("schedule: no such schedule for that tenant (give both tenant and key)")
                schedule_id = -1
        items, next_cursor = self.runs.search(
            tenant_id=filters.get("tenant"),
            schedule_id=schedule_id,
            status=status,
            since=bounds.get("since"),
            until=bounds.get("until"),
            before_id=whole_number(req.get_param("cursor")),
            limit=PAGE,
        )
        next_url = f"?{urlencode({**filters, 'cursor': next_cursor})}" if next_cursor else None
        self.render(
            req,
            resp,
            "runs.html",
            items=items,
            filters=filters,
            statuses=RUN_STATUSES,
            problems=problems,
            next_url=next_url,
        )

    def on_get_one(self, req: falcon.Request, resp: falcon.Response, run_id: str) -> None:
        self.identify(req)
        number = whole_number(run_id)
        run = self.runs.get_by_id(number) if number is not None else None
        if run is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"no run {run_id}")
        self.render(req, resp, "run.html", run=run)

    def on_post_cancel(self, req: falcon.Request, resp: falcon.Response, run_id: str) -> None:
        form = self.form(req)
        number = whole_number(run_id)
        if number is None or self.runs.get_by_id(number) is None:
            raise falcon.HTTPNotFound(title="Not found", description=f"no run {run_id}")
        outcome = self.runs.cancel(number, f"cancelled by dashboard:{req.context.dashboard_identity}")
        self.redirect(form, f"/dashboard/runs/{number}", f"run {number}: {outcome}")


class QueuesPage(Page):
    """``/dashboard/queues``: per queue waiting, delayed, in progress and dead; dead letters with retry
    and purge (one, or all after a confirmation)."""

    nav = "queues"

    def __init__(
        self, access, templates, client: redis.Redis | None, namespace: str, letters: DeadLetterService | None
    ):
        super().__init__(access, templates)
        self.client = client
        self.namespace = namespace
        self.letters = letters

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.identify(req)
        filters = _params(req, "tenant", "queue")
        if filters.get("queue") not in (None, *QUEUES):
            filters.pop("queue")
        depths, letters, total, problem = [], [], 0, None
        try:
            if self.client is None or self.letters is None:
                raise redis.ConnectionError("REDIS_URL is not set")
            depths = queue_depths(self.client, self.namespace)
            letters, total = self.letters.list(tenant_id=filters.get("tenant"), queue=filters.get("queue"), limit=PAGE)
        except redis.RedisError as exc:
            problem = f"Redis unreachable: {exc}"
        self.render(
            req,
            resp,
            "queues.html",
            depths=depths,
            letters=[letter.as_dict() for letter in letters],
            total=total,
            filters=filters,
            queues=QUEUES,
            problem=problem,
        )

    def _letters_of(self, form: dict[str, str]):
        if self.letters is None:
            raise ValidationError([{"field": "redis", "message": "REDIS_URL is not set"}])
        if form.get("id"):
            letter = self.letters.get(form["id"])
            return [letter] if letter is not None else []
        queue = form.get("queue") if form.get("queue") in QUEUES else None
        found, _ = self.letters.list(tenant_id=form.get("tenant") or None, queue=queue, limit=None)
        return found

    def on_post_retry(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = self.form(req)
        retried = self.letters.retry(self._letters_of(form)) if self.letters else 0
        self.redirect(form, "/dashboard/queues", f"retried {retried} dead letter{'s' * (retried != 1)}")

    def on_post_purge(self, req: falcon.Request, resp: falcon.Response) -> None:
        form = self.form(req)
        purged = self.letters.purge(self._letters_of(form)) if self.letters else 0
        self.redirect(form, "/dashboard/queues", f"purged {purged} dead letter{'s' * (purged != 1)}")


class ProcessesPage(Page):
    """``/dashboard/processes``: clocks (leader or standby, last beat, recent fire lateness) and workers."""

    nav = "processes"

    def __init__(self, access, templates, client: redis.Redis | None, namespace: str, leader_ttl: int):
        super().__init__(access, templates)
        self.client = client
        self.namespace = namespace
        self.leader_ttl = leader_ttl

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.identify(req)
        clocks, workers, fires, problem = [], [], [], None
        try:
            if self.client is None:
                raise redis.ConnectionError("REDIS_URL is not set")
            clocks = read(self.client, CLOCKS_KEY, clock_stale_after(self.leader_ttl))
            workers = read(self.client, WORKERS_KEY, WORKER_STALE_AFTER)
            beats = dict(self.client.zrange(f"{self.namespace}:__heartbeats__", 0, -1, withscores=True))
            for worker in workers:
                beat = beats.get(worker["id"].encode())
                worker["dramatiq_beat_age"] = round(datetime.now(UTC).timestamp() - beat / 1000, 1) if beat else None
            fires = recent_fires(self.client)
        except redis.RedisError as exc:
            problem = f"Redis unreachable: {exc}"
        lateness = sorted(f["lateness_ms"] for f in fires)
        self.render(
            req,
            resp,
            "processes.html",
            clocks=clocks,
            workers=workers,
            fires=fires,
            worst_lateness=lateness[-1] if lateness else None,
            median_lateness=lateness[len(lateness) // 2] if lateness else None,
            problem=problem,
        )


class IndexPage(Page):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        self.identify(req)
        raise falcon.HTTPSeeOther("/dashboard/schedules")


def install(
    app: falcon.App,
    access: DashboardAccess,
    *,
    schedules: ScheduleService,
    runs: RunStore,
    letters: DeadLetterService | None,
    client: redis.Redis | None,
    namespace: str,
    leader_ttl: int,
) -> None:
    """Add the dashboard's routes to ``app``."""
    templates = environment()
    app.add_route("/dashboard", IndexPage(access, templates))
    page = SchedulesPage(access, templates, schedules)
    app.add_route("/dashboard/schedules", page)
    app.add_route("/dashboard/schedules/{tenant_id}/{key}/{action}", page, suffix="action")
    page = RunsPage(access, templates, runs, schedules)
    app.add_route("/dashboard/runs", page)
    app.add_route("/dashboard/runs/{run_id}", page, suffix="one")
    app.add_route("/dashboard/runs/{run_id}/cancel", page, suffix="cancel")
    page = QueuesPage(access, templates, client, namespace, letters)
    app.add_route("/dashboard/queues", page)
    app.add_route("/dashboard/dead-letters/retry", page, suffix="retry")
    app.add_route("/dashboard/dead-letters/purge", page, suffix="purge")
    app.add_route("/dashboard/processes", ProcessesPage(access, templates, client, namespace, leader_ttl))
