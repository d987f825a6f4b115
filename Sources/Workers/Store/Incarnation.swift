import Broker
import Foundation
import Logging

/// The deployment's incarnation marker: proof that Redis still holds the
/// data the fleet has been building, so that a Redis that lost it (restarted
/// without its append-only file, flushed, restored onto an empty disk) is
/// noticed instead of being worked against.
///
/// Each deployment has an id (`gr:incarnation`, for status and people) and
/// every partition of every type carries it in its own slot
/// (`gr:{T.P}:incarnation`), written when the type is first declared. A
/// lease is only granted while the partition's marker exists
/// (`Leases.acquireScript`), and every commit checks the epoch the lease
/// granted, so after a loss nothing runs against the empty store: running
/// workers are fenced (the epoch is gone), cannot take the partition back,
/// stop consuming and say why; the messages stay in RabbitMQ.
///
/// A worker starting on such a Redis sees a type whose queues exist in
/// RabbitMQ but of which Redis knows nothing (no markers, no partition
/// count): it writes nothing for that type and does not consume it. Only
/// `resetAfterDataLoss` (`enqueue reset-after-data-loss`) marks it again.
struct Incarnation: Sendable {
    let redis: RedisClient

    /// What a worker found for one type at start.
    enum Standing: Equatable {
        /// Every partition carries the marker.
        case intact
        /// Markers were written now: a new type, or one declared before
        /// markers existed (its partition count was still in Redis).
        case marked
        /// Queues exist but Redis has neither markers nor the type: its data is gone.
        case lost
    }

    /// Checks `type`'s markers and writes them where that is safe. `queuesExist`
    /// asks RabbitMQ whether the type's partition queues were declared before.
    ///
    /// A worker writes a type's markers before it declares the type's queues.
    /// So markers read *after* the queues were seen must be there — unless
    /// Redis lost them. Read the other way round, a worker starting beside
    /// one that declares the type at that moment could see no markers, then
    /// the queues just declared, and take a new type for a lost one.
    func establish(type: String, partitions: Int, queuesExist: () async throws -> Bool) async throws -> Standing {
        var unmarked = try await unmarked(type: type, partitions: partitions)
        if unmarked.isEmpty { return .intact }
        if try await queuesExist() {
            unmarked = try await self.unmarked(type: type, partitions: partitions)
            if unmarked.isEmpty { return .intact }  // another worker declared the type meanwhile
            // Unmarked but registered: declared before markers existed (its partition count is still in Redis).
            let registered = try await redis.send("HEXISTS", RedisLayout.types, type).integer == 1
            if !registered { return .lost }
        }
        try await mark(unmarked)
        return .marked
    }

    /// Writes the deployment's id into the markers of `partitions` (those
    /// that lack one), creating the id first if this is a new deployment.
    func mark(_ partitions: [PartitionID]) async throws {
        let id = try await deploymentID(creating: true)!
        _ = try await redis.pipeline(partitions.map { ["SET", RedisLayout.incarnation($0), id, "NX"].map(\.redisBytes) })
            .map { try $0.get() }
    }

    /// The deployment's id; with `creating`, a new one is made if there is none.
    func deploymentID(creating: Bool = false) async throws -> String? {
        if creating {
            var generator = SystemRandomNumberGenerator()
            let fresh = "\(Int64(Date().timeIntervalSince1970))-\(String(generator.next() as UInt64, radix: 36))"
            try await redis.send("SET", RedisLayout.incarnation, fresh, "NX")
        }
        return try await redis.send("GET", RedisLayout.incarnation).string
    }

    /// The partitions of `type` (of `partitions`) whose marker is missing.
    func unmarked(type: String, partitions: Int) async throws -> [PartitionID] {
        let all = PartitionID.all(of: type, partitions: partitions)
        let replies = try await redis.pipeline(all.map { ["EXISTS", RedisLayout.incarnation($0)].map(\.redisBytes) })
        return try zip(all, replies).filter { try $1.get().integer != 1 }.map(\.0)
    }

    /// What a worker logs about a type whose data is gone (at start, and once when a lease is refused).
    static func lossReport(type: String, partitions: Int) -> String {
        "Redis has lost the data of actor type '\(type)': its queues exist in RabbitMQ but Redis has no incarnation marker "
            + "for it (Redis restarted without its append-only file, was flushed, or lost its disk). Not consuming '\(type)': "
            + "its messages stay in RabbitMQ rather than run against an empty store. Restore Redis from a backup (the workers "
            + "resume by themselves), or accept the loss and start '\(type)' from empty with "
            + "`enqueue reset-after-data-loss \(type) --partitions \(partitions) --confirm-data-loss \(type)`"
    }

    /// Whether `type`'s partition queues exist in RabbitMQ (partition 0
    /// exists whatever the count). Uses a channel of its own: a missing
    /// queue closes the channel that asked.
    static func queuesExist(of type: String, on connection: AMQPConnection) async throws -> Bool {
        let channel = try await connection.openChannel()
        do {
            _ = try await channel.inspectQueue(PartitionID(type: type, index: 0).queue)
            try? await channel.close()
            return true
        } catch let error as AMQPError where error.replyCode == 404 {
            return false
        }
    }

    /// A worker's check at start for one hosted type: false when the type's
    /// data is lost and the worker must not declare it; it says so at once
    /// (the worker may own none of the type's partitions, so the refused
    /// leases alone might never tell).
    static func check(type: String, partitions: Int, redis: RedisClient, amqp: AMQPConnection, logger: Logger) async throws -> Bool {
        let standing = try await Incarnation(redis: redis).establish(type: type, partitions: partitions) {
            try await queuesExist(of: type, on: amqp)
        }
        guard standing == .lost else { return true }
        logger.critical("\(lossReport(type: type, partitions: partitions))")
        return false
    }
}

extension GreenroomClient {
    /// The deployment's incarnation id (nil: Redis has none — new, or its data was lost).
    public func incarnation() async throws -> String? {
        try await Incarnation(redis: redis).deploymentID()
    }

    /// Partitions of `type` (of its `partitions`) that lack the incarnation
    /// marker: while any does, workers do not consume them.
    public func unmarkedPartitions(of type: String, partitions: Int) async throws -> [String] {
        try await Incarnation(redis: redis).unmarked(type: type, partitions: partitions).map(\.description)
    }

    /// Accepts that Redis lost `type`'s data: marks its partitions and records
    /// its partition count again, so workers consume it from an empty store —
    /// counters from zero, actors that must be spawned again — while its
    /// queued messages are handled as they come (messages to actors that no
    /// longer exist are dead-lettered). Returns the partitions marked now.
    /// Restoring Redis from a backup is the alternative that loses nothing.
    public func resetAfterDataLoss(type: String, partitions: Int) async throws -> [String] {
        try ActorAddress.validate(type: type)
        let incarnation = Incarnation(redis: redis)
        let unmarked = try await incarnation.unmarked(type: type, partitions: partitions)
        guard !unmarked.isEmpty else { return [] }
        try await store.checkDeclaration(type: type, partitions: partitions)
        try await incarnation.mark(unmarked)
        try await redis.send("HSETNX", RedisLayout.types, type, partitions)
        return unmarked.map(\.description)
    }
}
