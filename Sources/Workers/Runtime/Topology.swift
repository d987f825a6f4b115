import Broker

/// The RabbitMQ names every Greenroom program agrees on (docs/PROTOCOL.md).
public enum Topology {
    /// The direct exchange all actor messages are published to.
    public static let actorsExchange = "greenroom.actors"
    /// Where messages that cannot be handled go, with the reason in headers.
    public static let deadExchange = "greenroom.dead"
    public static let deadQueue = "greenroom.dead"

    /// How `greenroom.dead` is bounded, as queue arguments: at most
    /// `maximumLength` letters (past it the oldest are dropped), each kept at
    /// most `maximumAgeSeconds`.
    public struct DeadLetterBounds: Sendable, Equatable {
        /// 100,000 letters: hundreds of times what a fleet holds in flight
        /// (`--prefetch` per partition), so a bad deploy's failures stay
        /// readable, and at the 1 MiB body limit with oversized bodies
        /// dead-lettered as stubs, typically well under 1 GB on the broker.
        public var maximumLength: Int
        /// Seven days: a week to read and replay them.
        public var maximumAgeSeconds: Int

        public init(maximumLength: Int = 100_000, maximumAgeSeconds: Int = 7 * 86_400) {
            self.maximumLength = maximumLength
            self.maximumAgeSeconds = maximumAgeSeconds
        }

        var arguments: AMQPTable {
            ["x-max-length": .int64(Int64(maximumLength)), "x-message-ttl": .int64(Int64(maximumAgeSeconds) * 1_000),
             "x-overflow": .string("drop-head")]
        }
    }

    /// Declares the exchanges and the dead-letter queue shared by all types.
    /// Idempotent: safe for every worker and client to call at start-up.
    ///
    /// Returns false when `greenroom.dead` already exists with other
    /// arguments — made by an older Greenroom (unbounded) or with other
    /// bounds. RabbitMQ cannot change a queue's arguments; the queue is used
    /// as it is, and docs/PROTOCOL.md ("Dead letters") says how to bound it
    /// with a policy instead.
    @discardableResult
    public static func declareShared(on channel: AMQPChannel, deadLetterBounds: DeadLetterBounds = DeadLetterBounds()) async throws -> Bool {
        try await channel.declareExchange(actorsExchange, kind: .direct, durable: true)
        try await channel.declareExchange(deadExchange, kind: .fanout, durable: true)
        // On a channel of its own: PRECONDITION_FAILED (other arguments) closes the channel.
        let attempt = try await channel.connection.openChannel()
        var bounded = true
        do {
            try await attempt.declareQueue(deadQueue, durable: true, arguments: deadLetterBounds.arguments)
            try await attempt.close()
        } catch let error as AMQPError where error.replyCode == 406 {
            bounded = false
        }
        try await channel.bindQueue(deadQueue, to: deadExchange, routingKey: "")
        return bounded
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
