import Broker
import Logging

/// How Redis keeps its data across a crash, as the server reports it
/// (`CONFIG GET appendonly appendfsync save`), and whether that is enough
/// for Greenroom: a commit is acknowledged to RabbitMQ once Redis has
/// answered it, so a Redis that forgets answered writes loses acknowledged
/// turns (docs/RELIABILITY.md, "Storage durability").
public struct RedisPersistence: Sendable, Equatable {
    /// `appendonly yes`: every write is appended to a file before Redis answers it.
    public var appendOnly: Bool
    /// `always`, `everysec` or `no`: how often the file is flushed to disk.
    public var appendFsync: String
    /// RDB snapshot rules (`3600 1 300 100`); empty when there are none.
    public var save: String

    /// What is missing for durable storage, in words; nil when Redis keeps
    /// every answered write across a process crash and loses at most about
    /// a second of them on a host crash.
    public var shortfall: String? {
        guard appendOnly else {
            let snapshots = save.isEmpty ? "no snapshots either" : "only snapshots (save \(save))"
            return "Redis runs without its append-only file (appendonly no, \(snapshots)): a Redis crash loses "
                + "every commit since the last snapshot, although RabbitMQ was told they were done"
        }
        guard appendFsync == "everysec" || appendFsync == "always" else {
            return "Redis flushes its append-only file only when the OS decides (appendfsync \(appendFsync)): "
                + "a host crash can lose many seconds of commits"
        }
        return nil
    }

    /// Reads the settings; nil when the server refuses `CONFIG` (managed
    /// Redis often does, or an ACL user may not run it). In a cluster, reads
    /// every master's and returns the first that falls short, if any.
    public static func read(from redis: RedisClient) async throws -> RedisPersistence? {
        // One name per CONFIG GET: Redis before 7 takes only one.
        var settings: [RedisEndpoint: [String: String]] = [:]
        var masters: [RedisEndpoint] = []
        for name in ["appendonly", "appendfsync", "save"] {
            let replies: [(node: RedisEndpoint, reply: RedisValue)]
            do {
                replies = try await redis.eachMaster("CONFIG", "GET", name)
            } catch let error as RedisError where error.code == .server {
                return nil
            }
            for (node, reply) in replies {
                if settings[node] == nil { masters.append(node) }
                let parts = reply.array ?? []
                settings[node, default: [:]][name] = parts.count == 2 ? parts[1].string : nil
            }
        }
        var found: [RedisPersistence] = []
        for node in masters {
            guard let nodeSettings = settings[node], let appendOnly = nodeSettings["appendonly"] else { return nil }
            found.append(RedisPersistence(appendOnly: appendOnly == "yes", appendFsync: nodeSettings["appendfsync"] ?? "everysec",
                                          save: nodeSettings["save"] ?? ""))
        }
        return found.first { $0.shortfall != nil } ?? found.first
    }

    /// The check a worker makes at start: warns when Redis is not durable,
    /// or throws when `required`. A server that will not say goes on with a
    /// warning either way: only its operator knows how it persists.
    static func check(_ redis: RedisClient, endpoint: String, required: Bool, logger: Logger) async throws {
        guard let persistence = try await read(from: redis) else {
            logger.warning("""
                cannot check how Redis persists its data: it refused CONFIG GET (managed Redis often does); \
                make sure it keeps an append-only file (appendonly yes, appendfsync everysec or always)
                """,
                metadata: ["redis": "\(endpoint)"])
            return
        }
        guard let shortfall = persistence.shortfall else { return }
        if required {
            throw WorkerConfigurationError(.redisNotDurable, "\(shortfall) (Redis at \(endpoint))")
        }
        logger.warning("""
            \(shortfall); turn the append-only file on (CONFIG SET appendonly yes and appendfsync everysec, \
            and in redis.conf), or start workers with --require-durable-redis to refuse such a Redis
            """,
            metadata: ["redis": "\(endpoint)"])
    }
}
