"""The counter workload as a Celery task: one Redis INCRBY per message.

Imported by `celery worker` processes and by drive.py's enqueuers. Configured
by the environment drive.py sets: PEERS_QUEUE (the queue, unique per run),
PEERS_AMQP_URL, PEERS_REDIS_URL, PEERS_CELERY_PREFETCH (the prefetch
multiplier).
"""
import os

import redis
from celery import Celery

QUEUE = os.environ["PEERS_QUEUE"]

app = Celery("greenroom_peers", broker=os.environ["PEERS_AMQP_URL"])
app.conf.update(
    task_default_queue=QUEUE,
    task_default_exchange=QUEUE,
    task_default_routing_key=QUEUE,
    task_ignore_result=True,  # no result backend: the effect is the INCRBY
    task_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=int(os.environ.get("PEERS_CELERY_PREFETCH", "4")),
    worker_enable_remote_control=False,  # no pidbox queue per worker: nobody sends it commands here
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
# One pool per process, a connection for each of its threads or greenlets
# (PEERS_REDIS_CONNECTIONS, set by drive.py to the concurrency): redis-py's
# default pool refuses a 101st connection, which would fail (and, for Celery's
# early acks, lose) tasks instead of making them wait.
store = redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
    os.environ["PEERS_REDIS_URL"], max_connections=int(os.environ.get("PEERS_REDIS_CONNECTIONS", "100"))))


@app.task(name="add")
def add(key, by):
    store.incrby(key, by)


def enqueue(items):
    """Sends one message per (key, by), in order; used by drive.py."""
    with app.producer_or_acquire() as producer:
        for key, by in items:
            add.apply_async((key, by), producer=producer)


def queues():
    return [QUEUE]


def exchanges():
    return [QUEUE]
