"""The counter workload as a Dramatiq actor: one Redis INCRBY per message.

Imported by `dramatiq` / `dramatiq-gevent` worker processes and by drive.py's
enqueuers. Configured by the environment drive.py sets:
PEERS_QUEUE (the queue, unique per run), PEERS_AMQP_URL, PEERS_REDIS_URL.
"""
import os

import dramatiq
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker

QUEUE = os.environ["PEERS_QUEUE"]

broker = RabbitmqBroker(url=os.environ["PEERS_AMQP_URL"])
dramatiq.set_broker(broker)
# One pool per process, a connection for each of its threads or greenlets
# (PEERS_REDIS_CONNECTIONS, set by drive.py to the concurrency): redis-py's
# default pool refuses a 101st connection, which would fail (and, for Celery's
# early acks, lose) tasks instead of making them wait.
store = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
    os.environ["PEERS_REDIS_URL"], max_connections=int(os.environ.get("PEERS_REDIS_CONNECTIONS", "100"))))


@dramatiq.actor(queue_name=QUEUE, actor_name="add")
def add(key, by):
    store.incrby(key, by)


def enqueue(items):
    """Sends one message per (key, by), in order; used by drive.py."""
    for key, by in items:
        add.send(key, by)
    broker.close()


def queues():
    """Every queue Dramatiq declares for QUEUE (itself, its delay and dead-letter queues)."""
    from dramatiq.common import dq_name, xq_name

    return [QUEUE, dq_name(QUEUE), xq_name(QUEUE)]
