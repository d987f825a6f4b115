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
        var cursor = "0"
        repeat {
            let reply = try await redis.send("SCAN", cursor, "MATCH", "gr:{\(type).*", "COUNT", 5_000)
            cursor = reply.array?[0].string ?? "0"
            let keys = reply.array?[1].array?.compactMap(\.bytes) ?? []
            if !keys.isEmpty { try await redis.send(arguments: ["UNLINK".redisBytes] + keys) }
        } while cursor != "0"
        try await redis.send("HDEL", RedisLayout.types, type)
    }
}
