"""Graceful stop on SIGTERM/SIGINT, safely.

A signal handler runs on the main thread between two bytecodes, possibly while that thread holds
the very lock the handler would take: ``threading.Event.set`` from a handler can deadlock a main
thread that is inside ``Event.wait``, and logging from one can too. So the handler here only
records the signal, and a daemon thread turns it into an Event (and a log line) a moment later.
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)

#: Seconds between the watcher's looks at the recorded signal.
POLL = 0.1


def stop_on_signals(process: str) -> threading.Event:
    """An Event set within POLL seconds of the first SIGTERM or SIGINT (any number count as one)."""
    received: list[str] = []
    stop = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)  # list.append: atomic, takes no lock

    def watch() -> None:
        while not received:
            threading.Event().wait(POLL)
        log.info("stop requested", extra={"event": f"{process}_stopping", "signal": received[0]})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    threading.Thread(target=watch, name="stop-on-signals", daemon=True).start()
    return stop
