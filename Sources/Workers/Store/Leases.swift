import Broker

/// Partition leases with fencing epochs. A lease is a key holding its
/// owner's id with a TTL; every acquisition bumps the partition's epoch, and
/// every turn's commit checks that epoch, so an owner that lost its lease
/// (paused, partitioned) can no longer commit anything.
struct Leases: Sendable {
    let redis: RedisClient

    /// KEYS: lease, epoch, last holder, incarnation marker. ARGV: worker, ttl ms.
    /// Every acquisition bumps the epoch, also one by the lease's holder: a
    /// worker that reconnected takes its own leases back under a new epoch,
    /// so its old session's late commits are fenced.
    /// Returns {1, epoch} already ours (renewed, new epoch), {2, epoch, previous holder}
    /// newly acquired, {0, holder} held by someone else, {3, ''} refused
    /// because the partition's incarnation marker is gone (Redis lost its
    /// data: a fresh epoch would let turns run against an empty store).
    static let acquireScript = RedisScript("""
        if redis.call('EXISTS', KEYS[4]) == 0 then return {3, ''} end
        local holder = redis.call('GET', KEYS[1])
        if holder == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return {1, tostring(redis.call('INCR', KEYS[2]))}
        end
        if holder then return {0, holder} end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
        local previous = redis.call('GET', KEYS[3]) or ''
        redis.call('SET', KEYS[3], ARGV[1])
        return {2, tostring(redis.call('INCR', KEYS[2])), previous}
        """)

    /// KEYS: lease. ARGV: worker, ttl ms (0: release). Returns 1 if it was ours.
    static let renewScript = RedisScript("""
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 1
        """)

    enum Acquisition: Equatable {
        case acquired(epoch: Epoch, previous: String?)
        case alreadyOurs(epoch: Epoch)
        case heldBy(String)
        /// Refused: the partition has no incarnation marker (`Incarnation`).
        case dataLost
    }

    func acquire(_ partition: PartitionID, worker: String, ttlMilliseconds: Int) async throws -> Acquisition {
        let reply = try await redis.run(Self.acquireScript,
            keys: [RedisLayout.lease(partition), RedisLayout.epoch(partition), RedisLayout.lastLeaseHolder(partition),
                   RedisLayout.incarnation(partition)],
            arguments: [worker, ttlMilliseconds])
        guard let parts = reply.array, parts.count >= 2, let code = parts[0].integer, let value = parts[1].string else {
            throw RedisError(code: .server, command: "EVALSHA", message: "unexpected lease reply \(reply)")
        }
        if code == 3 { return .dataLost }
        guard let epoch = Epoch(stored: value) else {
            if code == 0 { return .heldBy(value) }
            throw RedisError(code: .server, command: "EVALSHA", message: "unexpected epoch '\(value)' for \(partition)")
        }
        switch code {
        case 2: return .acquired(epoch: epoch, previous: parts.count > 2 ? parts[2].string.flatMap { $0.isEmpty ? nil : $0 } : nil)
        case 1: return .alreadyOurs(epoch: epoch)
        default: return .heldBy(value)
        }
    }

    /// Extends our lease; false when it is no longer ours.
    func renew(_ partition: PartitionID, worker: String, ttlMilliseconds: Int) async throws -> Bool {
        try await redis.run(Self.renewScript, keys: [RedisLayout.lease(partition)],
                            arguments: [worker, max(1, ttlMilliseconds)]).integer == 1
    }

    /// Gives the lease up (only if it is ours).
    func release(_ partition: PartitionID, worker: String) async throws {
        try await redis.run(Self.renewScript, keys: [RedisLayout.lease(partition)], arguments: [worker, 0])
    }

    func holder(_ partition: PartitionID) async throws -> String? {
        try await redis.send("GET", RedisLayout.lease(partition)).string
    }
}
