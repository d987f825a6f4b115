import Broker

/// Counts, per partition, how often a redelivered message started its turn
/// without that turn being committed: the evidence that the message kills the
/// worker process (docs/RUNTIME.md, "Messages that crash the process").
///
/// Only redelivered deliveries are marked, so the normal path pays nothing.
/// The count lives in a hash in the partition's slot (`RedisLayout.crashMarks`,
/// message id → marked starts); `CommitScript` deletes the field of every id
/// it commits, refuses or finds already committed, so a message that finishes
/// leaves nothing behind. The hash's TTL is renewed on every mark: a mark
/// whose message never finishes (a purged queue) goes with the whole hash
/// once the partition has had no redelivery for that long.
enum CrashMarks {
    /// How long the marks of a partition outlive its last redelivery.
    static let seconds = 86_400

    static let script = RedisScript("""
        local marks = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        return marks
        """)
}

extension ActorStore {
    /// Marks that the redelivered message `messageID` starts a turn in
    /// `partition` (one round trip); returns how many marked starts it has
    /// had, this one included.
    func markStart(of messageID: String, in partition: PartitionID) async throws -> Int {
        let reply = try await redis.run(CrashMarks.script, keys: [RedisLayout.crashMarks(partition)],
                                        arguments: [messageID, CrashMarks.seconds])
        guard let marks = reply.integer else {
            throw RedisError(code: .server, command: "EVALSHA", message: "unexpected crash-mark reply \(reply)")
        }
        return Int(marks)
    }
}
