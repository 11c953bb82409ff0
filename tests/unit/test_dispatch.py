"""The pipelined enqueue writes exactly what Dramatiq's broker would, readable by Dramatiq."""

import json
from datetime import UTC, datetime

from dramatiq import Message

from app.dispatch import Dispatcher, Fire, message_id


class RecordingPipeline:
    def __init__(self, log: list):
        self.log = log

    def hset(self, key, mapping):
        self.log.append(("hset", key, dict(mapping)))

    def rpush(self, key, *values):
        self.log.append(("rpush", key, list(values)))

    def execute(self):
        self.log.append(("exec",))


class RecordingClient:
    def __init__(self):
        self.log: list = []

    def pipeline(self, transaction: bool):
        assert transaction, "hash and list writes must be atomic per batch"
        return RecordingPipeline(self.log)


FIRE = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
ROUTES = {"webhook": ("webhooks", "webhook"), "noop": ("default", "noop")}


def test_messages_decode_as_dramatiq_messages_with_the_fire_identity() -> None:
    client = RecordingClient()
    fires = [
        Fire(1, 'tenant "quoted"', "k/1", "webhook", '{"url":"https://x.test","n":[1,2]}'),
        Fire(2, "t2", "k2", "noop", "{}"),
        Fire(3, "t3", "k3", "retired-job", "{}"),  # no longer in the catalogue: not sent
    ]
    assert Dispatcher(client, namespace="ns").enqueue(fires, FIRE, ROUTES) == 2

    hsets = {entry[1]: entry[2] for entry in client.log if entry[0] == "hset"}
    rpushes = {entry[1]: entry[2] for entry in client.log if entry[0] == "rpush"}
    assert set(hsets) == {"ns:webhooks.msgs", "ns:default.msgs"}
    assert {k: list(v) for k, v in hsets.items()} == {k + ".msgs": v for k, v in rpushes.items()}

    ((rid, data),) = hsets["ns:webhooks.msgs"].items()
    message = Message.decode(data.encode())
    assert message.actor_name == "webhook" and message.queue_name == "webhooks"
    assert message.options["redis_message_id"] == rid
    assert message.message_id == message_id(1, FIRE) == "1@20260329T013000"
    assert message.kwargs == {
        "schedule_id": 1,
        "tenant_id": 'tenant "quoted"',
        "key": "k/1",
        "fire_time": "2026-03-29T01:30:00+00:00",
        "triggered_by": "scheduled",
        "payload": {"url": "https://x.test", "n": [1, 2]},
    }
    assert datetime.fromisoformat(message.kwargs["fire_time"]) == FIRE


def test_batches_are_bounded_and_ids_unique() -> None:
    client = RecordingClient()
    fires = [Fire(i, f"t{i}", "k", "noop", "{}") for i in range(12)]
    Dispatcher(client, batch_size=5).enqueue(fires, FIRE, ROUTES)
    assert [entry[0] for entry in client.log].count("exec") == 3
    ids = [rid for entry in client.log if entry[0] == "rpush" for rid in entry[2]]
    assert len(ids) == 12 == len(set(ids))
    assert [
        json.loads(v)["kwargs"]["schedule_id"] for e in client.log if e[0] == "hset" for v in e[2].values()
    ] == list(range(12))
