"""The pipelined enqueue writes exactly what Dramatiq's broker would, readable by Dramatiq."""

import json
from datetime import UTC, datetime

from dramatiq import Message

from app.dispatch import Dispatcher, Fire, message_id, message_options


class RecordingPipeline:
    def __init__(self, log: list):
        self.log = log

    def hset(self, key, mapping):
        self.log.append(("hset", key, dict(mapping)))

    def rpush(self, key, *values):
        self.log.append(("rpush", key, list(values)))

    def lpush(self, key, *values):
        self.log.append(("lpush", key, list(values)))

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
        "run_id": None,
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


def test_execution_settings_become_the_options_dramatiq_reads() -> None:
    """Dramatiq's Retries and TimeLimit middleware read these option names from each message."""
    client = RecordingClient()
    options = message_options(max_attempts=5, backoff_ms=2000, backoff_max_ms=30000, time_limit_ms=9000)
    Dispatcher(client).enqueue([Fire(1, "t", "k", "noop", "{}", options=options)], FIRE, ROUTES)
    (data,) = next(e for e in client.log if e[0] == "hset")[2].values()
    message = Message.decode(data.encode())
    assert {k: message.options[k] for k in ("max_retries", "min_backoff", "max_backoff", "time_limit")} == {
        "max_retries": 4,
        "min_backoff": 2000,
        "max_backoff": 30000,
        "time_limit": 9000,
    }
    assert message_options() == ""


def test_ad_hoc_runs_carry_their_run_id_wait_in_the_delay_queue_and_high_priority_jumps_the_queue() -> None:
    client = RecordingClient()
    later = datetime(2999, 1, 1, tzinfo=UTC)
    fires = [
        Fire(None, "t", None, "noop", "{}", run_id=7, options=message_options(priority="high"), high_priority=True),
    ]
    Dispatcher(client, namespace="ns").enqueue(fires, FIRE, ROUTES, triggered_by="api")
    Dispatcher(client, namespace="ns").enqueue([Fire(None, "t", None, "noop", "{}", run_id=8)], later, ROUTES)
    pushes = [(e[0], e[1]) for e in client.log if e[0] in ("lpush", "rpush")]
    assert pushes == [("lpush", "ns:default"), ("rpush", "ns:default.DQ")]
    first, second = (Message.decode(next(iter(e[2].values())).encode()) for e in client.log if e[0] == "hset")
    assert first.kwargs["run_id"] == 7 and first.kwargs["schedule_id"] is None and first.message_id == "run-7"
    assert first.options["priority"] == "high" and "eta" not in first.options
    assert second.options["eta"] == int(later.timestamp() * 1000) and second.queue_name == "default.DQ"
