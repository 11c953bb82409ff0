"""The Dramatiq Redis broker, with what workers on a PaaS need from it.

Dramatiq's ``RedisBroker`` redelivers the unacknowledged messages of a worker whose heartbeat
stopped, but only during "maintenance", which runs on 0.1% of broker commands: minutes after the
worker died, or never on a quiet queue. Its heartbeat is only sent by those commands too, so a
worker whose threads are all busy on long jobs can look dead. And every process forked from one
broker shares its broker id, so a SIGKILLed child's messages stay "owned" while its siblings live.
"""

from __future__ import annotations

import threading
import uuid

from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name
from dramatiq.message import Message


class ServiceBroker(RedisBroker):
    """A ``RedisBroker`` whose owner can renew its identity, beat its heartbeat and run maintenance on
    demand, and which puts ``priority: high`` messages at the front of their queue.

    Parameters:
      url: Redis URL.
      namespace: key prefix (Dramatiq's ``namespace``).
      heartbeat_timeout: milliseconds without a heartbeat after which a worker counts as gone.
      dead_message_ttl: milliseconds a dead-lettered message is kept.
    """

    def __init__(self, *, url: str, namespace: str, heartbeat_timeout: int, dead_message_ttl: int):
        super().__init__(
            url=url, namespace=namespace, heartbeat_timeout=heartbeat_timeout, dead_message_ttl=dead_message_ttl
        )
        self._forced = threading.local()

    def renew_identity(self) -> None:
        """Give this process a broker id of its own (call it in each forked worker process)."""
        self.broker_id = str(uuid.uuid4())

    def heartbeat(self) -> None:
        """Tell other workers this one is alive, whether or not its consumers are fetching."""
        self.client.zadd(f"{self.namespace}:__heartbeats__", {self.broker_id: current_millis()})

    def maintain(self) -> None:
        """Redeliver the unacknowledged messages of gone workers and expire old dead letters, for
        every declared queue and its delay queue (Dramatiq does this per queue)."""
        self._forced.active = True
        try:
            for queue in sorted(self.get_declared_queues()):
                self.do_qsize(queue)
                self.do_qsize(dq_name(queue))
        finally:
            self._forced.active = False

    def _should_do_maintenance(self, command: str) -> int:
        if getattr(self._forced, "active", False):
            return 1
        return super()._should_do_maintenance(command)

    def enqueue(self, message: Message, *, delay: int | None = None) -> Message:
        if delay is not None or message.options.get("priority") != "high":
            return super().enqueue(message, delay=delay)
        message = message.copy(options={"redis_message_id": str(uuid.uuid4())})
        self.emit_before("enqueue", message, delay)
        base = f"{self.namespace}:{message.queue_name}"
        rid = message.options["redis_message_id"]
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(f"{base}.msgs", rid, message.encode())
        pipe.lpush(base, rid)
        pipe.execute()
        self.emit_after("enqueue", message, delay)
        return message
