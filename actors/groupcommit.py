"""Group commit: the run bookkeeping of a worker's concurrent threads, done together.

Each run costs two transactions (claim before the job, finish after it), and on a busy worker
most of a thread's time is spent waiting for them. A GroupCommit lets the threads hand their
requests to one thread that runs all the waiting ones at once (one statement or one transaction,
one commit), then wakes each caller with its own result. A lone request goes through alone, so
an idle worker pays only the hand-off.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Pending(Generic[T, R]):
    __slots__ = ("item", "done", "result", "error")

    def __init__(self, item: T):
        self.item = item
        self.done = threading.Event()
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Batches concurrent calls of ``run_batch``.

    Parameters:
      run_batch: takes a list of requests and returns one result per request, in order; if it
        raises, every caller of that batch gets the exception (and should do its request alone).
      max_batch: most requests run together.
      name: the thread's name.
    """

    def __init__(self, run_batch: Callable[[list[T]], list[R]], max_batch: int = 64, name: str = "group-commit"):
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.name = name
        self._queue: queue.SimpleQueue[_Pending[T, R]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid: int | None = None

    def submit(self, item: T) -> R:
        """Run ``item`` with whatever else is waiting; return its result (or raise its batch's error)."""
        self._ensure_thread()
        pending: _Pending[T, R] = _Pending(item)
        self._queue.put(pending)
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.result  # type: ignore[return-value]

    def _ensure_thread(self) -> None:
        # Started on first use in each process: a forked worker process does not inherit threads.
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                threading.Thread(target=self._loop, name=self.name, daemon=True).start()
                self._pid = os.getpid()

    def _loop(self) -> None:
        own = self._queue
        while True:
            batch = [own.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(own.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self.run_batch([pending.item for pending in batch])
            except BaseException as exc:  # handed to the callers, who do their requests alone
                for pending in batch:
                    pending.error = exc
                    pending.done.set()
                continue
            for pending, result in zip(batch, results, strict=True):
                pending.result = result
                pending.done.set()
