"""Send to and ask a Greenroom actor from Python, with nothing but pika.

    apt-get install python3-pika   # Debian 12 (its pip refuses: PEP 668); elsewhere pip install pika
    python3 examples/send.py [ADDRESS [PARTITIONS]]   # a worker must be running (scripts/demo starts one)

The partition function is docs/PROTOCOL.md's: FNV-1a 64, then jump consistent hash.
"""
import json
import os
import sys
import uuid

import pika


def fnv1a_64(data: bytes) -> int:
    h = 14695981039346656037
    for byte in data:
        h ^= byte
        h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def jump_consistent_hash(key: int, buckets: int) -> int:
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def routing_key(address: str, partitions: int = 16) -> str:
    actor_type, actor_id = address.split("/", 1)
    return f"greenroom.{actor_type}.{jump_consistent_hash(fnv1a_64(actor_id.encode()), partitions)}"


def properties(address: str, kind: str, **extra) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type="application/json", delivery_mode=2, type=kind,
        message_id=str(uuid.uuid4()), headers={"x-greenroom-to": address}, **extra)


def main() -> None:
    address = sys.argv[1] if len(sys.argv) > 1 else "counter/from-python"
    partitions = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    url = os.environ.get("GREENROOM_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()

    # Create on first message, then add 5.
    props = properties(address, "add")
    props.headers["x-greenroom-spawn"] = True
    channel.basic_publish("greenroom.actors", routing_key(address, partitions), json.dumps({"by": 5}), props, mandatory=True)

    # Ask for the count over direct reply-to.
    replies = []
    channel.basic_consume("amq.rabbitmq.reply-to", lambda ch, m, p, body: replies.append((p, body)), auto_ack=True)
    correlation = str(uuid.uuid4())
    channel.basic_publish("greenroom.actors", routing_key(address, partitions), "{}",
                          properties(address, "get", reply_to="amq.rabbitmq.reply-to", correlation_id=correlation),
                          mandatory=True)
    while not replies:
        connection.process_data_events(time_limit=1)
    props, body = replies[0]
    assert props.correlation_id == correlation
    print(f"{address}: {body.decode()} ({props.type})")
    connection.close()


if __name__ == "__main__":
    main()
