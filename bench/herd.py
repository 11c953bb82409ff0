"""Thundering herd: N schedules due at one instant, fired by the real clock process.

Loads N schedules (job ``noop``, distinct tenants, one shared 6-field pattern) due a few seconds
ahead, starts ``python -m scheduler`` as a subprocess, waits until all N messages are in Redis (no
worker runs), then reads every message back and prints the lateness of each enqueue (message
timestamp minus fire time): p50, p99 and max, plus missed and duplicated schedule counts.

    python bench/herd.py --n 100000                      # SQLite file + throwaway Redis
    python bench/herd.py --n 10000 --database-url postgresql://root@127.0.0.1:5432/herd

With DATABASE_URL/--database-url pointing at PostgreSQL the database must exist and be empty (or
already migrated by this script); REDIS_URL/--redis-url is flushed before the run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from sqlalchemy import delete, func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.cron import trigger_key  # noqa: E402
from app.db import make_engine, migrate  # noqa: E402
from app.embedded import EmbeddedRedis  # noqa: E402
from app.models import apscheduler_jobs, runs, schedules  # noqa: E402
from app.system import SYSTEM_TENANT  # noqa: E402


def load(database_url: str, n: int, fire_at: datetime) -> float:
    """Insert n schedules all due at ``fire_at``; returns seconds taken."""
    started = time.perf_counter()
    migrate(database_url)
    engine = make_engine(database_url)
    expression = f"{fire_at.second} {fire_at.minute} {fire_at.hour} * * *"
    key = trigger_key(expression, "UTC")
    since = fire_at - timedelta(hours=1)
    with engine.begin() as conn:
        for table in (runs, schedules, apscheduler_jobs):
            conn.execute(delete(table))
        rows = [
            {
                "tenant_id": f"tenant-{i}",
                "key": "sync",
                "job": "noop",
                "cron": expression,
                "timezone": "UTC",
                "payload": '{"shop":"example"}',
                "paused": False,
                "trigger_key": key,
                "active_since": since,
                "version": 1,
                "created_at": since,
                "updated_at": since,
                "fire_count": 0,
                "jitter_seconds": 0,
                "stagger": False,
                "offset_seconds": 0,
            }
            for i in range(n)
        ]
        for start in range(0, n, 10_000):
            conn.execute(insert(schedules), rows[start : start + 10_000])
    engine.dispose()
    return time.perf_counter() - started


def clock_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def finished_runs(database_url: str) -> int:
    engine = make_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(runs)
            .where(runs.c.status == "succeeded", runs.c.tenant_id != SYSTEM_TENANT)
        ).scalar()
    engine.dispose()
    return count


def measure_runs(database_url: str, n: int, fire_at: datetime) -> dict:
    """Fire -> run started (claimed by a worker) lateness, and when the last run finished."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        # The herd's runs only (the system's own cron jobs may run meanwhile).
        mine = runs.c.tenant_id != SYSTEM_TENANT
        rows = conn.execute(
            select(runs.c.schedule_id, runs.c.status, runs.c.started_at, runs.c.finished_at).where(mine)
        ).all()
        per_schedule = conn.execute(
            select(runs.c.schedule_id, func.count()).where(mine).group_by(runs.c.schedule_id).having(func.count() > 1)
        ).all()
    engine.dispose()
    started = sorted((r.started_at - fire_at).total_seconds() for r in rows if r.started_at)
    done = [(r.finished_at - fire_at).total_seconds() for r in rows if r.finished_at]
    return {
        "runs": len(rows),
        "succeeded": sum(1 for r in rows if r.status == "succeeded"),
        "missed": n - len({r.schedule_id for r in rows}),
        "duplicated": len(per_schedule),
        "p50": statistics.median(started) if started else float("nan"),
        "p99": started[int(len(started) * 0.99) - 1] if started else float("nan"),
        "all_done": max(done) if done else float("nan"),
    }


def measure(client: redis.Redis, n: int, fire_at: datetime) -> dict:
    fire_ms = fire_at.timestamp() * 1000
    lateness: list[float] = []
    seen: dict[int, int] = {}
    for _, data in client.hscan_iter("dramatiq:default.msgs", count=10_000):
        message = json.loads(data)
        lateness.append((message["message_timestamp"] - fire_ms) / 1000)
        sid = message["kwargs"]["schedule_id"]
        seen[sid] = seen.get(sid, 0) + 1
    lateness.sort()
    return {
        "enqueued": len(lateness),
        "missed": n - len(seen),
        "duplicated": sum(1 for c in seen.values() if c > 1),
        "p50": statistics.median(lateness) if lateness else float("nan"),
        "p99": lateness[int(len(lateness) * 0.99) - 1] if lateness else float("nan"),
        "max": lateness[-1] if lateness else float("nan"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"))
    parser.add_argument("--lead", type=float, default=0, help="seconds between load and fire (default: auto)")
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="also run `python -m actors` with this many processes and measure fire -> run started/finished",
    )
    parser.add_argument("--threads", type=int, default=16, help="threads per worker process (with --workers)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="herd-"))
    database_url = Settings.from_env({"DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'herd.db'}"})
    database_url = database_url.database_url
    embedded = None
    redis_url = args.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(workdir / "redis")
        redis_url = embedded.start()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()

    lead = args.lead or max(8.0, args.n / 8_000)
    fire_at = (datetime.now(UTC) + timedelta(seconds=lead)).replace(microsecond=0)
    load_s = load(database_url, args.n, fire_at)
    if datetime.now(UTC) > fire_at - timedelta(seconds=3):
        print(f"loading took {load_s:.1f}s, past the planned fire time: raise --lead", file=sys.stderr)
        return 2

    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "LOG_LEVEL": "INFO"}
    clock_log = workdir / "clock.log"
    rss = None
    workers = None
    with open(clock_log, "wb") as log:
        if args.workers:
            worker_cmd = [
                sys.executable,
                "-m",
                "actors",
                "--processes",
                str(args.workers),
                "--threads",
                str(args.threads),
            ]
            workers = subprocess.Popen(worker_cmd, cwd=ROOT, env={**env, "LOG_LEVEL": "WARNING"}, stderr=log)
        clock = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=env, stderr=log, stdout=log)
        try:
            deadline = time.monotonic() + lead + 300
            if workers:
                while finished_runs(database_url) < args.n and time.monotonic() < deadline:
                    time.sleep(0.5)
            else:
                while client.hlen("dramatiq:default.msgs") < args.n and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.5)  # anything duplicated would arrive now
            rss = clock_rss_mib(clock.pid)
        finally:
            for proc in (clock, workers):
                if proc:
                    proc.send_signal(signal.SIGTERM)
                    proc.wait(timeout=30)
    backend = database_url.split(":", 1)[0].split("+")[0]
    if workers:
        figures = measure_runs(database_url, args.n, fire_at)
        print(
            f"herd-e2e n={args.n} db={backend} workers={args.workers}x{args.threads} "
            f"started p50={figures['p50']:.2f}s p99={figures['p99']:.2f}s; all finished {figures['all_done']:.2f}s "
            f"after the fire time; runs={figures['runs']} succeeded={figures['succeeded']} "
            f"missed={figures['missed']} duplicated={figures['duplicated']}"
        )
        return 0 if figures["missed"] == 0 and figures["duplicated"] == 0 else 1
    figures = measure(client, args.n, fire_at)
    fired = [json.loads(line) for line in clock_log.read_text().splitlines() if '"trigger_fired"' in line]
    print(f"loaded {args.n} schedules in {load_s:.1f}s; fire at {fire_at.isoformat()}")
    for event in fired:
        print(
            f"clock: trigger_fired messages={event['messages']} fan-out {event['duration_ms']} ms "
            f"(started {event['lateness_ms']} ms after the fire time)"
        )
    print(
        f"herd n={args.n} db={backend} p50={figures['p50']:.3f}s p99={figures['p99']:.3f}s "
        f"max={figures['max']:.3f}s enqueued={figures['enqueued']} missed={figures['missed']} "
        f"duplicated={figures['duplicated']}" + (f" clock_rss={rss:.0f}MiB" if rss else "")
    )
    client.flushdb()
    if embedded:
        embedded.stop()
    return 0 if figures["missed"] == 0 and figures["duplicated"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
