import Broker

extension GreenroomClient {
    /// Removes an actor type entirely: its partition queues (and the messages
    /// in them), every actor's state, dedup records, leases, and its partition
    /// count. For test, benchmark and staging types; stop its workers first.
    public func deleteType(_ type: String) async throws {
        try ActorAddress.validate(type: type)
        if let partitions = try await redis.send("HGET", RedisLayout.types, type).integer {
            let channel = try await amqp.openChannel()
            for partition in PartitionID.all(of: type, partitions: Int(partitions)) {
                try await channel.deleteQueue(partition.queue)
            }
            try await channel.close()
        }
        // One UNLINK per slot (a partition's keys share one): a command may
        // not span slots, and a cluster spreads the partitions over nodes.
        try await redis.scanKeys(matching: "gr:{\(type).*", count: 5_000) { keys in
            let bySlot = Dictionary(grouping: keys, by: RedisSlot.of)
            for reply in try await redis.pipeline(bySlot.values.map { ["UNLINK".redisBytes] + $0 }) { _ = try reply.get() }
        }
        try await redis.send("HDEL", RedisLayout.types, type)
    }
}
