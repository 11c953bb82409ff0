"""Leader election among clock replicas: a Redis lock with a TTL, renewed while the leader lives."""

from __future__ import annotations

import uuid

import redis

#: Redis key of the lock (under the service's namespace).
LOCK_KEY = "tenantcron:clock:leader"

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock:
    """One clock at a time holds this lock; the others wait as standbys.

    Parameters:
      client: Redis client.
      ttl: seconds the lock lives unless renewed; a dead leader is replaced within this time.
      key: Redis key of the lock.
    """

    def __init__(self, client: redis.Redis, ttl: int, key: str = LOCK_KEY):
        self.client = client
        self.ttl_ms = ttl * 1000
        self.key = key
        self.token = uuid.uuid4().hex
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def acquire(self) -> bool:
        return bool(self.client.set(self.key, self.token, nx=True, px=self.ttl_ms))

    def renew(self) -> bool:
        return bool(self._renew(keys=[self.key], args=[self.token, self.ttl_ms]))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.token])
