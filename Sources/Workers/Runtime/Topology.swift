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

    /// How `greenroom.dead` turned out in `declareShared`.
    public enum DeadQueueDeclaration: Sendable, Equatable {
        /// It has the bounds and the type asked for (created now, or earlier alike).
        case asAsked
        /// It exists with other bounds (or none: made by an older Greenroom).
        case otherBounds
        /// It exists as a queue of the other type (a classic one made before
        /// the fleet moved to a cluster, say).
        case otherType(existing: QueueType)
    }

    /// Declares the exchanges and the dead-letter queue shared by all types.
    /// Idempotent: safe for every worker and client to call at start-up.
    ///
    /// `greenroom.dead` is a queue of `queueType`, bounded by
    /// `deadLetterBounds` (arguments a quorum queue accepts too). When it
    /// already exists with other arguments — made by an older Greenroom
    /// (unbounded), with other bounds, or of the other type — RabbitMQ cannot
    /// change them: the queue is used as it is, every letter still lands in
    /// it, and the answer says what differs, for the caller to warn about
    /// (docs/PROTOCOL.md, "Dead letters").
    @discardableResult
    public static func declareShared(on channel: AMQPChannel, deadLetterBounds: DeadLetterBounds = DeadLetterBounds(),
                                     queueType: QueueType = .classic) async throws -> DeadQueueDeclaration {
        try await channel.declareExchange(actorsExchange, kind: .direct, durable: true)
        try await channel.declareExchange(deadExchange, kind: .fanout, durable: true)
        var arguments = deadLetterBounds.arguments
        if queueType == .quorum { arguments["x-queue-type"] = .string(QueueType.quorum.rawValue) }
        var outcome = DeadQueueDeclaration.asAsked
        switch try await declareAlone(deadQueue, arguments: arguments, queueType: queueType, on: channel.connection) {
        case .declared: break
        case .otherType(let existing): outcome = .otherType(existing: existing)
        case .otherArguments: outcome = .otherBounds
        }
        try await channel.bindQueue(deadQueue, to: deadExchange, routingKey: "")
        return outcome
    }

    /// Declares one partition queue (durable, single active consumer, dead
    /// letters to `greenroom.dead`) and binds it to `greenroom.actors` under
    /// its own name. A quorum queue's leader is placed by RabbitMQ's
    /// `balanced` locator, so a type's partitions lead from every node of
    /// the cluster; a quorum queue made without a locator (by an older
    /// Greenroom) is used as it is.
    ///
    /// Throws `WorkerConfigurationError` `.queueTypeMismatch` when the queue
    /// exists as the other type: RabbitMQ cannot change a queue's type.
    public static func declarePartition(_ partition: PartitionID, queueType: QueueType = .classic, on channel: AMQPChannel) async throws {
        let queue = partition.queue
        var arguments: AMQPTable = [
            "x-single-active-consumer": true,
            "x-dead-letter-exchange": .string(deadExchange),
            "x-queue-type": .string(queueType.rawValue),
        ]
        if queueType == .quorum {
            arguments[leaderLocator] = .string("balanced")
            // First on a channel of its own: an older queue without the
            // locator (or of the other type) refuses it by closing the channel.
            switch try await declareAlone(queue, arguments: arguments, queueType: queueType, on: channel.connection) {
            case .declared:
                break
            case .otherType(let existing):
                throw mismatch(queue, existing: existing, asked: queueType)
            case .otherArguments:
                arguments[leaderLocator] = nil
                try await declare(queue, arguments: arguments, queueType: queueType, on: channel)
            }
        } else {
            try await declare(queue, arguments: arguments, queueType: queueType, on: channel)
        }
        try await channel.bindQueue(queue, to: actorsExchange, routingKey: partition.routingKey)
    }

    /// RabbitMQ's queue argument (3.10 and later, quorum and stream queues)
    /// naming where a new queue's leader goes: `client-local` (the node the
    /// declaring connection is on) or `balanced` (the node leading the fewest).
    static let leaderLocator = "x-queue-leader-locator"

    private enum AloneOutcome { case declared, otherType(QueueType), otherArguments }

    /// Declares `queue` on a channel opened for it alone, so that a refusal
    /// (PRECONDITION_FAILED: it exists with other arguments) closes only that
    /// channel, and says which.
    private static func declareAlone(_ queue: String, arguments: AMQPTable, queueType: QueueType,
                                     on connection: AMQPConnection) async throws -> AloneOutcome {
        let attempt = try await connection.openChannel()
        do {
            try await attempt.declareQueue(queue, durable: true, arguments: arguments)
            try await attempt.close()
            return .declared
        } catch let error as AMQPError where error.replyCode == 406 {
            if let existing = existingType(in: error, asked: queueType) { return .otherType(existing) }
            return .otherArguments
        }
    }

    /// Declares `queue` on `channel`, turning a type mismatch into an error that says what to do.
    private static func declare(_ queue: String, arguments: AMQPTable, queueType: QueueType, on channel: AMQPChannel) async throws {
        do {
            try await channel.declareQueue(queue, durable: true, arguments: arguments)
        } catch let error as AMQPError where error.replyCode == 406 {
            guard let existing = existingType(in: error, asked: queueType) else { throw error }
            throw mismatch(queue, existing: existing, asked: queueType)
        }
    }

    /// The type a queue has, when RabbitMQ refused a declaration because of
    /// `x-queue-type` ("inequivalent arg 'x-queue-type' … received 'quorum'
    /// but current is 'classic'", or "current is none" for a classic queue
    /// declared without the argument); nil when it refused something else.
    static func existingType(in error: AMQPError, asked: QueueType) -> QueueType? {
        guard let text = error.replyText, text.contains("'x-queue-type'") else { return nil }
        return asked == .quorum ? .classic : .quorum
    }

    private static func mismatch(_ queue: String, existing: QueueType, asked: QueueType) -> WorkerConfigurationError {
        WorkerConfigurationError(.queueTypeMismatch(queue: queue, existing: existing, asked: asked),
                                 "queue '\(queue)' exists as a \(existing) queue, and this program declares its queues \(asked); "
                                     + "RabbitMQ cannot change the type of a queue")
    }
}

extension QueueType {
    /// The queue type when none is asked for: quorum when the AMQP URL
    /// names several nodes (a cluster, where a classic queue lives on one
    /// node and is unreachable, or lost, with it), classic for one broker.
    public static func `default`(for amqp: AMQPConfiguration) -> QueueType {
        amqp.namesSeveralHosts ? .quorum : .classic
    }
}
