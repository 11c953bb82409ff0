"""One clock leads; a standby takes over only when the leader's lock is gone."""

import time

from scheduler.leader import LeaderLock


def test_only_one_clock_leads_and_a_standby_takes_over(redis_client) -> None:
    leader, standby = LeaderLock(redis_client, ttl=1), LeaderLock(redis_client, ttl=1)
    assert leader.acquire()
    assert not standby.acquire()
    assert leader.renew()
    assert not standby.renew()
    leader.release()
    assert standby.acquire()
    assert not leader.renew()


def test_lock_expires_when_the_leader_stops_renewing(redis_client) -> None:
    leader, standby = LeaderLock(redis_client, ttl=1), LeaderLock(redis_client, ttl=1)
    assert leader.acquire()
    time.sleep(1.2)
    assert standby.acquire()
    assert not leader.renew()
