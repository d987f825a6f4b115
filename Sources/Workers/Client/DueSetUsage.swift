extension GreenroomClient {
    /// What a type's due sets hold: entries waiting (delayed messages,
    /// timers, reminders' next firings) and the Redis memory of the due sets
    /// and their entries (`MEMORY USAGE`, exact), over all its partitions.
    public struct DueSetUsage: Sendable, Equatable {
        public var entries: Int
        public var bytes: Int
    }

    /// The due sets of `type`, partition by partition (docs/TIME.md, "Costs").
    public func dueSetUsage(of type: String) async throws -> DueSetUsage {
        let partitions = PartitionID.all(of: type, partitions: try await store.partitionCount(of: type))
        let replies = try await redis.pipeline(partitions.flatMap { partition in
            [["ZCARD", RedisLayout.due(partition)],
             ["MEMORY", "USAGE", RedisLayout.due(partition), "SAMPLES", "0"],
             ["MEMORY", "USAGE", RedisLayout.dueEntries(partition), "SAMPLES", "0"]].map { $0.map(\.redisBytes) }
        })
        var usage = DueSetUsage(entries: 0, bytes: 0)
        for (index, reply) in replies.enumerated() {
            let value = Int(try reply.get().integer ?? 0)
            if index % 3 == 0 { usage.entries += value } else { usage.bytes += value }
        }
        return usage
    }
}
