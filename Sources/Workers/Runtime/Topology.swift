import Broker

/// The RabbitMQ names every Greenroom program agrees on (docs/PROTOCOL.md).
public enum Topology {
    /// The direct exchange all actor messages are published to.
    public static let actorsExchange = "greenroom.actors"
    /// Where messages that cannot be handled go, with the reason in headers.
    public static let deadExchange = "greenroom.dead"
    public static let deadQueue = "greenroom.dead"

    /// Declares the exchanges and the dead-letter queue shared by all types.
    /// Idempotent: safe for every worker and client to call at start-up.
    public static func declareShared(on channel: AMQPChannel) async throws {
        try await channel.declareExchange(actorsExchange, kind: .direct, durable: true)
        try await channel.declareExchange(deadExchange, kind: .fanout, durable: true)
        try await channel.declareQueue(deadQueue, durable: true)
        try await channel.bindQueue(deadQueue, to: deadExchange, routingKey: "")
    }

    /// Declares one partition queue (durable, single active consumer, dead
    /// letters to `greenroom.dead`) and binds it to `greenroom.actors` under
    /// its own name.
    public static func declarePartition(_ partition: PartitionID, queueType: QueueType = .classic, on channel: AMQPChannel) async throws {
        let queue = partition.queue
        try await channel.declareQueue(queue, durable: true, arguments: [
            "x-single-active-consumer": true,
            "x-dead-letter-exchange": .string(deadExchange),
            "x-queue-type": .string(queueType.rawValue),
        ])
        try await channel.bindQueue(queue, to: actorsExchange, routingKey: partition.routingKey)
    }
}
