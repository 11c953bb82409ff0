"""The dashboard in a real browser: headless Chromium (Debian's; bin/test finds or installs it), driven
by Playwright, against the Procfile's web, worker and clock processes. Screenshots of each page are
saved under var/artifacts/dashboard/ (or $ARTIFACTS_DIR/dashboard/)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from app.config import ROOT
from tests.conftest import BACKENDS
from tests.e2e.processes import Processes, create_token, free_port, http_status, service_env
from tests.helpers import WebhookReceiver, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "dashboard-e2e"

#: Chromium flags for a sandbox without a display or network (see the machine notes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("no Chromium: run the suite with bin/test (which installs it) or set CHROMIUM=/path")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    base = Path(os.environ.get("ARTIFACTS_DIR") or ROOT / "var" / "artifacts")
    folder = base / "dashboard" / request.node.callspec.id
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _flash(page: Page, text: str) -> None:
    expect(page.locator(".flash")).to_contain_text(text)


@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
def test_an_operator_sees_pauses_triggers_and_retries_from_the_dashboard(
    fresh_database_url: str, redis_url: str, redis_client, tmp_path: Path, browser: Browser, artifacts: Path
) -> None:
    port = free_port()
    env = service_env(
        fresh_database_url,
        redis_url,
        port,
        WEB_CONCURRENCY="1",
        WORKER_PROCESSES="1",
        WORKER_THREADS="2",
        DASHBOARD_PASSWORD=PASSWORD,
        LOCAL_MODE="false",
    )
    procs = Processes(env, tmp_path)
    procs.run("release")
    token = create_token(env, "e2e")
    base = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    context = browser.new_context(
        base_url=base,
        http_credentials={"username": "admin", "password": PASSWORD},
        viewport={"width": 1440, "height": 900},
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    with WebhookReceiver(status=500) as receiver:
        for name in ("web", "worker", "clock"):
            procs.start(name)
        try:
            wait_for(lambda: http_status(f"{base}/ready") == 200, timeout=40, what="web, worker and clock ready")
            ticker = {"job": "noop", "cron": "*/2 * * * * *"}  # fires during the test: recent fires, lateness
            assert api.put("/v1/tenants/7/schedules/ticker", json=ticker).status_code == 201
            nightly = {"job": "noop", "cron": "0 3 * * *", "timezone": "Europe/Berlin"}
            assert api.put("/v1/tenants/42/schedules/nightly", json=nightly).status_code == 201
            for key in ("hook", "hook2", "hook3"):
                hook = {
                    "job": "webhook",
                    "cron": "0 4 * * *",
                    "payload": {"url": receiver.url},
                    "retry": {"max_attempts": 1},
                }
                assert api.put(f"/v1/tenants/42/schedules/{key}", json=hook).status_code == 201

            # Schedules: the row with its pattern, zone and next fire; filters; pause, resume, trigger.
            page.goto("/dashboard")
            row = page.locator('tr[data-schedule="42/nightly"]')
            expect(row).to_contain_text("0 3 * * *")
            expect(row).to_contain_text("Europe/Berlin")
            expect(row.locator(".pill")).to_have_text("active")
            page.screenshot(path=artifacts / "schedules.png", full_page=True)
            page.fill('input[name="tenant"]', "42")
            page.select_option('select[name="job"]', "noop")
            page.click('form.filters button[type="submit"]')
            expect(page.locator("tr[data-schedule]")).to_have_count(1)

            row.get_by_role("button", name="Pause").click()
            _flash(page, "pause: 42/nightly")
            expect(row.locator(".pill").first).to_have_text("paused")
            assert api.get("/v1/tenants/42/schedules/nightly").json()["paused"] is True
            page.screenshot(path=artifacts / "schedules-paused.png", full_page=True)
            row.get_by_role("button", name="Resume").click()
            _flash(page, "resume: 42/nightly")
            row.get_by_role("button", name="Trigger now").click()
            _flash(page, "trigger: 42/nightly")

            # Runs: the triggered run appears and succeeds; its page shows its attempts.
            page.goto("/dashboard/runs?tenant=42&schedule_key=nightly")
            wait_for(
                lambda: page.reload() and page.locator("tr[data-run] .pill", has_text="succeeded").count(), timeout=20
            )
            page.screenshot(path=artifacts / "runs.png", full_page=True)
            page.locator("tr[data-run] a").first.click()
            expect(page.locator("h1")).to_contain_text("succeeded")
            expect(page.locator("table tbody tr").first).to_contain_text("succeeded")
            page.screenshot(path=artifacts / "run.png", full_page=True)

            # Queues: a failed webhook's dead letter, retried from the dashboard once the receiver is back.
            page.goto("/dashboard/schedules?tenant=42&job=webhook")
            page.locator('tr[data-schedule="42/hook"]').get_by_role("button", name="Trigger now").click()
            _flash(page, "trigger: 42/hook")
            page.goto("/dashboard/queues")
            wait_for(lambda: page.reload() and page.locator("tr[data-letter]").count() == 1, timeout=20)
            letter = page.locator("tr[data-letter]")
            expect(letter).to_contain_text("answered 500")
            expect(page.locator('tr[data-queue="webhooks"]')).to_contain_text("1")
            page.screenshot(path=artifacts / "queues.png", full_page=True)
            receiver.status = 200
            letter.get_by_role("button", name="Retry").click()
            _flash(page, "retried 1 dead letter")
            wait_for(
                lambda: (
                    api.get("/v1/runs", params={"tenant": "42", "schedule_key": "hook"}).json()["items"][0]["status"]
                    == "succeeded"
                ),
                timeout=20,
            )

            # Retry all, after one confirmation.
            receiver.status = 500
            for key in ("hook2", "hook3"):
                assert api.post(f"/v1/tenants/42/schedules/{key}/trigger").status_code == 202
            wait_for(lambda: page.reload() and page.locator("tr[data-letter]").count() == 2, timeout=20)
            receiver.status = 200
            confirmations = []
            page.once("dialog", lambda dialog: (confirmations.append(dialog.message), dialog.accept()))
            page.get_by_role("button", name="Retry all 2").click()
            _flash(page, "retried 2 dead letters")
            assert confirmations and "Retry all 2" in confirmations[0]
            for key in ("hook2", "hook3"):
                wait_for(
                    lambda key=key: (
                        api.get("/v1/runs", params={"tenant": "42", "schedule_key": key}).json()["items"][0]["status"]
                        == "succeeded"
                    ),
                    timeout=20,
                )
            expect(page.locator("tr[data-letter]")).to_have_count(0)

            # Processes: the leading clock and the worker, both healthy, and the clock's recent fires.
            page.goto("/dashboard/processes")
            expect(page.locator("tr[data-clock] .pill").first).to_have_text("leader")
            expect(page.locator("tr[data-clock]")).to_contain_text("healthy")
            expect(page.locator("tr[data-worker]")).to_contain_text("healthy")
            expect(page.locator("tr[data-fire]").first).to_contain_text("*/2 * * * * *")
            page.screenshot(path=artifacts / "processes.png", full_page=True)

            # Without credentials, nothing.
            assert httpx.get(f"{base}/dashboard/schedules").status_code == 401
        finally:
            context.close()
            results = procs.stop_all()
    assert all(code == 0 for code, _ in results.values()), {n: procs.output(n)[-2000:] for n in results}
    assert sorted(p.name for p in artifacts.glob("*.png")) == [
        "processes.png",
        "queues.png",
        "run.png",
        "runs.png",
        "schedules-paused.png",
        "schedules.png",
    ]
