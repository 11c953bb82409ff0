"""``python -m actors``: the worker process.

Runs Dramatiq workers over the actors of this package, like ``dramatiq actors``, with one difference
that matters on a PaaS: a platform sends SIGTERM to every process of the dyno/container at once, and
Dramatiq's CLI children treat a second SIGTERM (the one their parent forwards) as "kill now", dropping
in-flight work. Here every process treats any number of SIGTERMs as one graceful stop: stop fetching,
finish or hand back in-flight messages within the shutdown timeout, exit 0.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys

from app.shutdown import stop_on_signals

log = logging.getLogger("actors.worker")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m actors", description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=int(os.environ.get("WORKER_PROCESSES", "2")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("WORKER_THREADS", "16")))
    parser.add_argument("--queues", nargs="*", default=None, help="consume only these queues (default: all)")
    parser.add_argument(
        "--shutdown-timeout",
        type=float,
        default=float(os.environ.get("WORKER_SHUTDOWN_TIMEOUT", "20")),
        help="seconds in-flight messages get to finish on SIGTERM before they are handed back",
    )
    return parser.parse_args(argv)


def run_worker(args: argparse.Namespace) -> int:
    """One worker process: consume until SIGTERM, then stop gracefully."""
    import dramatiq

    import actors

    actors.broker.renew_identity()  # forked siblings must not share one identity (see actors.broker)
    # As Dramatiq's CLI does: middleware starts its per-process parts here (TimeLimit's watchdog).
    actors.broker.emit_after("process_boot")
    stop = stop_on_signals("worker")
    worker = dramatiq.Worker(
        actors.broker, queues=set(args.queues) if args.queues else None, worker_threads=args.threads
    )
    worker.start()
    log.info("worker ready", extra={"event": "worker_ready", "pid": os.getpid(), "threads": args.threads})
    stop.wait()
    worker.stop(timeout=int(args.shutdown_timeout * 1000))
    actors.broker.close()
    log.info("worker stopped", extra={"event": "worker_stopped", "pid": os.getpid()})
    return 0


def main(argv: list[str]) -> int:
    args = _parse(argv)
    if args.processes <= 1:
        return run_worker(args)
    import actors  # noqa: F401 - logging and broker set up once, before forking

    context = multiprocessing.get_context("fork")
    stop = stop_on_signals("worker")
    children = [context.Process(target=lambda: sys.exit(run_worker(args)), daemon=False) for _ in range(args.processes)]
    for child in children:
        child.start()
    while not stop.wait(0.5):
        for i, child in enumerate(children):
            if not child.is_alive() and not stop.is_set():
                log.error(
                    "worker process died; restarting",
                    extra={"event": "worker_died", "pid": child.pid, "exit_code": child.exitcode},
                )
                children[i] = context.Process(target=lambda: sys.exit(run_worker(args)), daemon=False)
                children[i].start()
    for child in children:
        if child.is_alive():
            os.kill(child.pid, signal.SIGTERM)  # harmless if the platform already signalled it
    codes = []
    for child in children:
        child.join(args.shutdown_timeout + 5)
        codes.append(child.exitcode)
    return 0 if all(code == 0 for code in codes) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
