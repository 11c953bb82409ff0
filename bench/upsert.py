"""Upsert throughput over HTTP against the real web process (gunicorn), single and bulk.

Starts the Procfile's ``web`` process on a fresh database, then:
- single: N ``PUT /v1/tenants/{t}/schedules/sync`` with C requests in flight (threads, keep-alive);
- bulk: N schedules through ``POST /v1/schedules/bulk`` in batches of 10,000.

    python bench/upsert.py --single 20000 --concurrency 50 --bulk 100000
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.db import make_engine, migrate  # noqa: E402
from app.embedded import EmbeddedRedis  # noqa: E402
from app.tokens import TokenService  # noqa: E402


def single(base: str, token: str, n: int, concurrency: int) -> float:
    counter = iter(range(n))
    lock = threading.Lock()
    errors: list[int] = []

    def work() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                response = http.put(
                    f"/v1/tenants/t{i}/schedules/sync", json={"job": "noop", "cron": "0 */6 * * *", "stagger": True}
                )
                if response.status_code not in (200, 201):
                    errors.append(response.status_code)

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} upserts failed, e.g. {errors[:5]}")
    return elapsed


def bulk(base: str, token: str, n: int) -> float:
    started = time.perf_counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300) as http:
        for start in range(0, n, 10_000):
            items = [
                {"tenant_id": f"b{i}", "key": "sync", "job": "noop", "every": "6h", "stagger": True}
                for i in range(start, min(start + 10_000, n))
            ]
            response = http.post("/v1/schedules/bulk", json={"items": items})
            response.raise_for_status()
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="upsert-"))
    url = Settings.from_env({"DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'bench.db'}"}).database_url
    migrate(url)
    token = TokenService(make_engine(url)).create("bench")
    redis = EmbeddedRedis(workdir / "redis")
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis.start(),
        "PORT": "8797",
        "WEB_CONCURRENCY": str(args.workers),
        "LOG_LEVEL": "WARNING",
    }
    web = subprocess.Popen(
        ["gunicorn", "api.wsgi:app", "--config", "python:api.gunicorn_conf", "--access-logfile", "/dev/null"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = "http://127.0.0.1:8797"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        backend = url.split(":", 1)[0].split("+")[0]
        if args.single:
            seconds = single(base, token, args.single, args.concurrency)
            print(
                f"upsert-single n={args.single} db={backend} in_flight={args.concurrency} "
                f"web_workers={args.workers}: {seconds:.1f}s, {args.single / seconds:.0f}/s"
            )
        if args.bulk:
            seconds = bulk(base, token, args.bulk)
            print(
                f"upsert-bulk n={args.bulk} db={backend} batches of 10000: {seconds:.1f}s, {args.bulk / seconds:.0f}/s"
            )
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=30)
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
