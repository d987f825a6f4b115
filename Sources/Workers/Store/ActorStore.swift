import Broker
import Foundation
import Synchronization

/// Actor registry and state in Redis (layout in `RedisLayout`).
final class ActorStore: ActorDirectory, Sendable {
    let redis: RedisClient
    private let partitionCounts = Mutex<[String: Int]>([:])

    init(redis: RedisClient) {
        self.redis = redis
    }

    // MARK: - Types and partitions

    /// Records `type`'s partition count the first time it is declared; later
    /// declarations must agree, or the worker refuses to start.
    func declare(type: String, partitions: Int) async throws {
        try await redis.send("HSETNX", RedisLayout.types, type, partitions)
        try await checkDeclaration(type: type, partitions: partitions)
        partitionCounts.withLock { $0[type] = partitions }
    }

    /// Throws if `type` was declared with another partition count.
    func checkDeclaration(type: String, partitions: Int) async throws {
        if let stored = try await redis.send("HGET", RedisLayout.types, type).integer, stored != Int64(partitions) {
            throw WorkerConfigurationError(
                .partitionCountMismatch(type: type, stored: Int(stored), configured: partitions),
                "actor type '\(type)' has \(stored) partitions in Redis but this worker is configured with \(partitions); "
                    + "the count is fixed when a type is first declared")
        }
    }

    /// The partition count of `type`, as declared by the workers that host it.
    func partitionCount(of type: String) async throws -> Int {
        if let known = partitionCounts.withLock({ $0[type] }) { return known }
        guard let count = try await redis.send("HGET", RedisLayout.types, type).integer, count > 0 else {
            throw UnknownActorType(type: type)
        }
        partitionCounts.withLock { $0[type] = Int(count) }
        return Int(count)
    }

    func partition(of address: ActorAddress) async throws -> PartitionID {
        PartitionID(of: address, partitions: try await partitionCount(of: address.type))
    }

    // MARK: - Actors

    /// Loads many actors of one partition in one pipelined round trip.
    func load(_ addresses: [ActorAddress], in partition: PartitionID) async throws -> [ActorRecord] {
        try await redis.pipeline(addresses.map { Self.loadCommand($0, in: partition) }).map { Self.record(from: try $0.get()) }
    }

    private static func loadCommand(_ address: ActorAddress, in partition: PartitionID) -> [[UInt8]] {
        ["HMGET", RedisLayout.actor(address, in: partition), "status", "parent", "version", "state", "schedules", "parked"].map(\.redisBytes)
    }

    private static func record(from reply: RedisValue) -> ActorRecord {
        guard let fields = reply.array, fields.count == 6, let version = fields[2].integer, version > 0 else {
            // An actor that never existed may still be parked: its first message failed.
            var missing = ActorRecord.missing
            missing.parked = reply.array.flatMap { $0.count == 6 ? $0[5].string : nil }
            return missing
        }
        return ActorRecord(
            status: fields[0].string.flatMap(ActorRecord.Status.init(rawValue:)) ?? .active,
            parent: fields[1].string.flatMap { try? ActorAddress(parsing: $0) },
            version: version,
            state: fields[3].bytes ?? Array("null".utf8),
            schedules: fields[4].bytes.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0)) } ?? [:],
            parked: fields[5].string)
    }

    /// Commits actors' groups of turns in one script (`CommitScript`).
    func commit(_ groups: [CommitScript.Group], in partition: PartitionID, epoch: Epoch, window: CommitScript.DedupWindow) async throws
        -> CommitScript.Outcome {
        let now = Int64(Date().timeIntervalSince1970)
        let (keys, arguments) = CommitScript.call(groups, partition: partition, epoch: epoch, window: window, now: now)
        return try CommitScript.decode(try await redis.run(CommitScript.script, keys: keys, arguments: arguments), groups: groups.count)
    }

    // MARK: - Directory

    func children(of address: ActorAddress) async throws -> [ActorAddress] {
        let partition = try await partition(of: address)
        let members = try await redis.send("SMEMBERS", RedisLayout.children(address, in: partition)).array ?? []
        var live: [ActorAddress] = []
        for member in members {
            guard let text = member.string, let child = try? ActorAddress(parsing: text) else { continue }
            if try await exists(child) { live.append(child) }
        }
        return live.sorted { $0.description < $1.description }
    }

    func exists(_ address: ActorAddress) async throws -> Bool {
        guard let partition = try? await partition(of: address) else { return false }
        return try await redis.send("HGET", RedisLayout.actor(address, in: partition), "status").string == ActorRecord.Status.active.rawValue
    }

    func actors(ofType type: String) async throws -> [ActorAddress] {
        var found: Set<ActorAddress> = []
        try await redis.scanKeys(matching: RedisLayout.actorPattern(type: type)) { keys in
            for key in keys {
                guard let key = String(validating: key, as: UTF8.self), let marker = key.range(of: ":a:") else { continue }
                let id = String(key[marker.upperBound...])
                guard let address = try? ActorAddress(type: type, id: id) else { continue }
                found.insert(address)
            }
        }
        var live: [ActorAddress] = []
        for address in found where try await exists(address) { live.append(address) }
        return live.sorted { $0.description < $1.description }
    }
}

/// A worker whose configuration cannot work: what is wrong (`description`)
/// and, in `code`, which setting — programs add how to change it there.
public struct WorkerConfigurationError: Error, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case noTypes
        case partitionCountOutOfRange
        case leaseTooShort
        /// The behaviour hosted as `type` is written wrong (`HostedType.problems`).
        case faultyBehavior(type: String)
        /// The type was first declared with `stored` partitions.
        case partitionCountMismatch(type: String, stored: Int, configured: Int)
        /// An actor's stored version keeps moving under this worker's turns.
        case actorChangingElsewhere(ActorAddress)
        /// Redis keeps no append-only file (or never flushes it) and the
        /// worker was told to require one (`requireDurableRedis`).
        case redisNotDurable
        /// `queue` exists as an `existing` queue and this program asked for
        /// the other type; RabbitMQ cannot change a queue's type.
        case queueTypeMismatch(queue: String, existing: QueueType, asked: QueueType)
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// No worker has declared this actor type yet.
public struct UnknownActorType: Error, CustomStringConvertible {
    public let type: String
    public var description: String {
        "actor type '\(type)' is unknown: no worker hosting it has started yet (its partition count is not in Redis)"
    }
}
