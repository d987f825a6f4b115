import Broker
import Testing
@testable import Workers

/// `Leases.acquireScript` against the shared Redis, under a unique type.
@Suite("Lease acquisition: every acquisition starts a new epoch", .timeLimit(.minutes(1)))
struct LeaseEpochTests {
    @Test("the holder taking its own lease again (a reconnected worker) gets a new epoch, so its old session's commits are fenced")
    func ownLeaseTakenAgain() async throws {
        let redis = try await TestServers.redis()
        let partition = PartitionID(type: TestServers.unique("lease"), index: 0)
        let keys = [RedisLayout.lease(partition), RedisLayout.epoch(partition), RedisLayout.lastLeaseHolder(partition), RedisLayout.incarnation(partition)]
        defer { Task { _ = try? await redis.send("DEL", arguments: keys); await redis.close() } }
        try await redis.send("SET", RedisLayout.incarnation(partition), "test")
        let leases = Leases(redis: redis)

        let first = try await leases.acquire(partition, worker: "w", ttlMilliseconds: 60_000)
        #expect(first == .acquired(epoch: Epoch(1), previous: nil))
        let again = try await leases.acquire(partition, worker: "w", ttlMilliseconds: 60_000)
        #expect(again == .alreadyOurs(epoch: Epoch(2)))
        #expect(try await leases.acquire(partition, worker: "other", ttlMilliseconds: 60_000) == .heldBy("w"))
        // Renewal keeps the epoch: only acquisitions move it.
        #expect(try await leases.renew(partition, worker: "w", ttlMilliseconds: 60_000))
        #expect(try await redis.send("GET", RedisLayout.epoch(partition)).string == "2")
    }
}
