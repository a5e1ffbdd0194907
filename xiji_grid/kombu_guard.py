"""A narrow guard against the worker crash after a Redis restart (celery 5.7.0 with kombu 5.7.0).

Root cause (read in celery/worker/consumer/consumer.py and kombu/transport/redis.py of those versions):
when the broker connection is lost, ``Consumer.on_connection_error_after_connected`` first calls
``connection.collect()`` and then closes the same connection again (``ignore_errors(connection,
connection.close)``). ``collect()`` tries to close the default channel, but that close is cut short by the
connection error (the channel is still marked open), and ``collect()`` then detaches the transport
(``Transport.client = None``). The second close runs the Redis channel's ``close()`` for real; it requeues
the unacknowledged messages (``restore_unacked``) through a new connection pool, built by
``Channel._connparams`` from ``self.connection.client`` — which is now None. The result is
``AttributeError: 'NoneType' object has no attribute 'hostname'``, which is not a connection error, so
``ignore_errors`` lets it through and the worker stops with "Unrecoverable error". It happens only when
the channel holds unacknowledged messages: an ``acks_late`` task running (the deadline sweep) or a
prefetched one — hence "7 of 9 trials". The same AttributeError is raised later when the finished task is
acknowledged on the dead channel.

The guard makes ``Channel._connparams`` raise ``redis.exceptions.ConnectionError`` when the channel's
transport has been detached (or the channel has no transport), instead of reading attributes of None.
That is the error every caller on these paths already handles: ``ignore_errors`` swallows it, the
consumer reconnects, and the acknowledgement is logged as failed. Nothing is lost: an unacknowledged
message stays in Redis' unacked set and is delivered again after the visibility timeout; our tasks are
idempotent (``acks_late``). With a live transport the original method runs unchanged.
``tests/test_worker_redis_restart.py`` kills and restarts a real Redis under a live worker with a sweep in
flight and sees the next sweep run. Remove this module once a celery/kombu release no longer closes a
collected connection again (check with that test, after deleting ``install()``'s call).
"""
import functools


def install() -> bool:
    """Wrap ``kombu.transport.redis.Channel._connparams`` once per process (idempotent).

    Returns True when the guard is in place (also when installed before), False when kombu's Redis
    transport cannot be imported (no ``redis`` package: nothing to guard).
    """
    try:
        from kombu.transport import redis as kombu_redis
    except ImportError:  # pragma: no cover - redis-py is a requirement
        return False
    if kombu_redis.redis is None:  # pragma: no cover
        return False
    channel = kombu_redis.Channel
    if getattr(channel._connparams, "xiji_guarded", False):
        return True
    original = channel._connparams

    @functools.wraps(original)
    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport is None or transport.client is None:
            raise kombu_redis.redis.exceptions.ConnectionError(
                "the broker connection of this channel has been closed"
            )
        return original(self, asynchronous=asynchronous)

    _connparams.xiji_guarded = True
    channel._connparams = _connparams
    return True
