import Broker
import Workers

/// A one-partition type no worker hosts, its queue bound as a worker would
/// bind it and consumed by the test: what is sent there stays there to be
/// read, headers and all. The type and its queue are deleted afterwards.
struct GhostQueue {
    /// An actor of the type (`<prefix><random>/x`).
    let address: ActorAddress
    let consumer: AMQPConsumer
    /// A client of the test servers, open while the queue exists.
    let client: GreenroomClient

    var type: String { address.type }

    static func with(prefix: String = "ghost-", _ body: (GhostQueue) async throws -> Void) async throws {
        var generator = SystemRandomNumberGenerator()
        let type = prefix + String(generator.next() as UInt32, radix: 36)
        let client = try await GreenroomClient.connect(amqp: try AMQPConfiguration(url: TestServers.amqpURL),
                                                       redis: try RedisConfiguration(url: TestServers.redisURL))
        let redis = try await TestServers.redis()
        let amqp = try await TestServers.amqp()
        try await withCleanUp((client, redis, amqp), "delete \(type)", cleanUp: { client, redis, amqp in
            try await client.deleteType(type)
            await client.close()
            await redis.close()
            await amqp.close()
        }) { client, redis, amqp in
            try await redis.send("HSET", "gr:types", type, 1)
            let partition = PartitionID.all(of: type, partitions: 1)[0]
            let channel = try await amqp.openChannel()
            try await channel.declareQueue(partition.queue, durable: true)
            try await channel.bindQueue(partition.queue, to: Topology.actorsExchange, routingKey: partition.routingKey)
            try await body(GhostQueue(address: try ActorAddress(type: type, id: "x"),
                                      consumer: try await channel.consume(queue: partition.queue, noAck: true), client: client))
        }
    }
}
