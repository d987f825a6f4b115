#!/usr/bin/env python3
"""Runs Greenroom's drain workload on a peer task queue, on the same RabbitMQ and Redis.

    drive.py dramatiq|celery [--counters 1000] [--messages 100] [--processes 2]
             [--pool threads|gevent|prefork] [--concurrency N] [--prefetch N]
             [--prefetch-multiplier N] [--timeout 600] [--json]

COUNTERS x MESSAGES tasks, each one Redis INCRBY by 1 on its counter's key, are
enqueued by 4 processes (round robin over the counters, like enqueue bench)
while no worker runs. After a 1 s settle (as enqueue bench --drain), the peer's
worker processes start and the clock runs until every counter key holds its
total (Redis polled with one MGET every 50 ms). Then the workers get SIGTERM,
and the run's queues and keys (unique names, greenroom-peers-*) are deleted.

Prints one line (or JSON): messages/s, seconds, the workers' CPU, and how many
counters ended above their total (an INCRBY applied twice). Run it with the
venv scripts/bench --peers creates (.venv-peers/bin/python).
"""
import argparse
import importlib
import json
import os
import resource
import signal
import subprocess
import sys
import time
import uuid
from importlib.metadata import version
from multiprocessing import get_context

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)


def fail(message):
    print(f"peers: {message}", file=sys.stderr)
    sys.exit(1)


def enqueue_share(peer, items):
    # In a fresh (spawned) process: the task module reads PEERS_* from the environment.
    importlib.import_module(f"{peer}_tasks").enqueue(items)


def queue_depth(amqp_url, queue):
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        return connection.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        connection.close()


def worker_commands(args, queue, prefix):
    if args.peer == "dramatiq":
        program = {"threads": "dramatiq", "gevent": "dramatiq-gevent"}[args.pool]
        # The module first: --path and --queues take several values.
        return [[os.path.join(BIN, program), "dramatiq_tasks", "--processes", str(args.processes), "--threads", str(args.concurrency),
                 "--queues", queue]]
    # Celery: one worker process per --processes, each with its own pool.
    return [[os.path.join(BIN, "celery"), "-A", "celery_tasks", "--workdir", HERE, "worker", "-P", args.pool,
             "-c", str(args.concurrency), "-Q", queue, "--prefetch-multiplier", str(args.prefetch_multiplier),
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING", "-n", f"{prefix}-{index}@%h"]
            for index in range(args.processes)]


def settings(args):
    if args.peer == "dramatiq":
        program = {"threads": "dramatiq", "gevent": "dramatiq-gevent"}[args.pool]
        prefetch = f", prefetch {args.prefetch}" if args.prefetch else f", prefetch {2 * args.concurrency} (2 x threads)"
        return f"{program} --processes {args.processes} --threads {args.concurrency}{prefetch}"
    return (f"{args.processes} x celery worker -P {args.pool} -c {args.concurrency} "
            f"--prefetch-multiplier {args.prefetch_multiplier}")


def stop(workers):
    """SIGTERM (a warm shutdown for both), then SIGKILL after 30 s."""
    killed = False
    for process in workers:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 30
    for process in workers:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            killed = True
    return killed


def clean_up(args, module, prefix):
    import pika
    import redis

    connection = pika.BlockingConnection(pika.URLParameters(args.amqp_url))
    channel = connection.channel()
    for queue in module.queues():
        channel.queue_delete(queue)
    for exchange in getattr(module, "exchanges", lambda: [])():
        channel.exchange_delete(exchange)
    connection.close()
    store = redis.Redis.from_url(args.redis_url)
    keys = list(store.scan_iter(match=f"{prefix}:*", count=5000))
    for start in range(0, len(keys), 5000):
        store.unlink(*keys[start:start + 5000])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("peer", choices=["dramatiq", "celery"])
    parser.add_argument("--counters", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100, help="adds per counter")
    parser.add_argument("--enqueuers", type=int, default=4, help="processes enqueueing the backlog")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--pool", help="dramatiq: threads or gevent (dramatiq-gevent); celery: gevent, prefork or threads")
    parser.add_argument("--concurrency", type=int, help="dramatiq: --threads per process (threads or greenlets); celery: -c per process")
    parser.add_argument("--prefetch", type=int, default=0, help="dramatiq: unacked messages per process (0: its default, 2 x threads)")
    parser.add_argument("--prefetch-multiplier", type=int, default=4, help="celery: worker_prefetch_multiplier")
    parser.add_argument("--timeout", type=float, default=600, help="seconds before giving up on the drain")
    parser.add_argument("--amqp-url", default=os.environ.get("GREENROOM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    parser.add_argument("--redis-url", default=os.environ.get("GREENROOM_REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pools = {"dramatiq": ("threads", "gevent"), "celery": ("gevent", "prefork", "threads")}[args.peer]
    args.pool = args.pool or pools[0]
    if args.pool not in pools:
        fail(f"--pool for {args.peer} is one of {', '.join(pools)}, not '{args.pool}'")
    args.concurrency = args.concurrency or (8 if args.peer == "dramatiq" else 500)
    if min(args.counters, args.messages, args.enqueuers, args.processes, args.concurrency, args.prefetch_multiplier) < 1:
        fail("--counters, --messages, --enqueuers, --processes, --concurrency and --prefetch-multiplier must be positive")

    prefix = f"greenroom-peers-{args.peer}-{uuid.uuid4().hex[:8]}"
    queue = prefix.replace("-", "_")  # Dramatiq queue names are identifiers
    os.environ.update(PEERS_QUEUE=queue, PEERS_AMQP_URL=args.amqp_url, PEERS_REDIS_URL=args.redis_url,
                      PEERS_CELERY_PREFETCH=str(args.prefetch_multiplier), PEERS_REDIS_CONNECTIONS=str(args.concurrency))
    if args.prefetch:
        os.environ["dramatiq_queue_prefetch"] = str(args.prefetch)
    sys.path.insert(0, HERE)
    module = importlib.import_module(f"{args.peer}_tasks")
    import redis

    store = redis.Redis.from_url(args.redis_url)
    try:
        store.ping()
    except redis.exceptions.ConnectionError as error:
        fail(f"cannot reach Redis at {args.redis_url}: {error} — is it running? try scripts/services up")

    keys = [f"{prefix}:counter:{index}" for index in range(args.counters)]
    total = args.counters * args.messages
    log_path = f"/tmp/{prefix}.log"
    workers = []
    killed = False
    try:
        started = time.monotonic()
        shares = [[(key, 1) for _ in range(args.messages) for key in keys[index::args.enqueuers]] for index in range(args.enqueuers)]
        with get_context("spawn").Pool(args.enqueuers) as pool:
            pool.starmap(enqueue_share, [(args.peer, share) for share in shares])
        deadline = time.monotonic() + 60
        while (depth := queue_depth(args.amqp_url, queue)) != total:
            if time.monotonic() > deadline:
                fail(f"queue {queue} holds {depth} messages, not the {total} enqueued, 60 s after enqueueing; "
                     "is another worker consuming it? see scripts/peers/drive.py")
            time.sleep(0.1)
        enqueue_rate = total / (time.monotonic() - started)
        time.sleep(1)  # the same settle as enqueue bench --drain

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        log = open(log_path, "w")
        start = time.monotonic()
        workers = [subprocess.Popen(command, cwd=HERE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
                   for command in worker_commands(args, queue, prefix)]
        done = 0
        finished = None
        while time.monotonic() - start < args.timeout:
            values = store.mget(keys)
            done = sum(1 for value in values if value is not None and int(value) >= args.messages)
            if done == len(keys):
                finished = time.monotonic()
                break
            if any(process.poll() is not None for process in workers):
                fail(f"a {args.peer} worker exited during the drain (code {[p.poll() for p in workers]}); see {log_path}")
            time.sleep(0.05)
        elapsed = (finished or time.monotonic()) - start
        applied = sum(int(value or 0) for value in store.mget(keys))
        over = sum(1 for value in store.mget(keys) if int(value or 0) > args.messages)
        killed = stop(workers)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    finally:
        if workers:
            killed = stop(workers) or killed
        clean_up(args, module, prefix)

    result = {
        "peer": args.peer, "version": version(args.peer), "settings": settings(args), "counters": args.counters, "messages": total,
        "finished": finished is not None, "seconds": elapsed, "throughput": (total if finished else applied) / elapsed,
        "enqueueRate": enqueue_rate, "workerCPUSeconds": cpu, "countersAboveTotal": over, "applied": applied,
        "killedAtStop": killed,
    }
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        status = "" if finished else f" — DID NOT FINISH within {args.timeout:.0f} s: {applied:,} of {total:,} adds applied, rate of those"
        print(f"{args.peer} {result['version']} ({result['settings']}): {int(result['throughput']):,} messages/s "
              f"({elapsed:.2f} s){status}; workers' CPU {cpu:.1f} s; counters above their total: {over}"
              + f"; enqueued at {int(enqueue_rate):,}/s")
    if not finished:
        sys.exit(2)


if __name__ == "__main__":
    main()
