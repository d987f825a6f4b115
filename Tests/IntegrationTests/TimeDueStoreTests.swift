@testable import Broker
import Foundation
import Testing
@testable import Workers

/// `DueStore`'s scripts driven directly against Redis, as `CommitScriptTests`
/// drives the commit: only the partition's owner (its epoch) writes the due
/// set, and a settle never brings back what was cancelled meanwhile.
@Suite("The due set's scripts: settle and store under the partition's epoch", .timeLimit(.minutes(1)))
struct TimeDueStoreTests {
    struct Scratch {
        let redis: RedisClient
        let store: DueStore
        let partition: PartitionID

        static func make() async throws -> Scratch {
            let redis = try await TestServers.redis()
            for script in DueStore.scripts { try await redis.load(script) }
            var generator = SystemRandomNumberGenerator()
            let partition = PartitionID(type: "probe-due" + String(generator.next() as UInt32, radix: 36), index: 0)
            _ = try await redis.send("SET", RedisLayout.epoch(partition), "2")
            return Scratch(redis: redis, store: DueStore(redis: redis), partition: partition)
        }

        func score(_ id: String) async throws -> String? {
            try await redis.send("ZSCORE", RedisLayout.due(partition), id).string
        }

        func entry(_ id: String) async throws -> String? {
            try await redis.send("HGET", RedisLayout.dueEntries(partition), id).string
        }

        func delete() async {
            _ = try? await redis.send("DEL", RedisLayout.epoch(partition), RedisLayout.due(partition), RedisLayout.dueEntries(partition))
            await redis.close()
        }
    }

    static func entry(_ id: String, due: Int64, every: Int64? = nil) throws -> DueEntry {
        DueEntry(to: try ActorAddress(type: "probe", id: "x"), kind: "tick", payload: Array("{}".utf8), id: id, due: due,
                 schedule: every == nil ? "timer:t" : "reminder:r", every: every)
    }

    @Test("a settle under an old epoch is fenced and writes nothing; under the current one it removes a timer and moves a reminder on")
    func settleUnderEpoch() async throws {
        let scratch = try await Scratch.make()
        defer { Task { await scratch.delete() } }
        let reminder = try Self.entry("g2", due: 1_000, every: 500)
        try await scratch.store.store([try Self.entry("g1", due: 1_000), reminder], in: scratch.partition, epoch: Epoch(2))
        var moved = reminder
        moved.due = 1_500
        let settlements = [
            DueStore.Settlement(id: "g1", dueRead: 1_000, next: nil),
            DueStore.Settlement(id: "g2", dueRead: 1_000, next: (1_500, try moved.encoded())),
        ]
        await #expect(throws: DueStore.Fenced.self) {
            try await scratch.store.settle(settlements, in: scratch.partition, epoch: Epoch(1))
        }
        #expect(try await scratch.score("g1") == "1000")
        #expect(try await scratch.score("g2") == "1000")
        #expect(try await scratch.entry("g1") != nil)

        try await scratch.store.settle(settlements, in: scratch.partition, epoch: Epoch(2))
        #expect(try await scratch.score("g1") == nil)
        #expect(try await scratch.entry("g1") == nil)
        #expect(try await scratch.score("g2") == "1500")
        #expect(try await scratch.entry("g2") == String(decoding: try moved.encoded(), as: UTF8.self))
    }

    @Test("a reminder cancelled after it was read is not brought back by its settle; a client's re-sent delayed message keeps its first time")
    func cancelledStaysCancelled() async throws {
        let scratch = try await Scratch.make()
        defer { Task { await scratch.delete() } }
        let reminder = try Self.entry("g3", due: 1_000, every: 500)
        try await scratch.store.store([reminder], in: scratch.partition, epoch: Epoch(2))
        // A commit cancels it between the dispatcher's read and its settle.
        _ = try await scratch.redis.send("ZREM", RedisLayout.due(scratch.partition), "g3")
        _ = try await scratch.redis.send("HDEL", RedisLayout.dueEntries(scratch.partition), "g3")
        var moved = reminder
        moved.due = 1_500
        try await scratch.store.settle([.init(id: "g3", dueRead: 1_000, next: (1_500, try moved.encoded()))], in: scratch.partition, epoch: Epoch(2))
        #expect(try await scratch.score("g3") == nil)
        #expect(try await scratch.entry("g3") == nil)

        try await scratch.store.store([try Self.entry("c1", due: 5_000)], in: scratch.partition, epoch: Epoch(2))
        try await scratch.store.store([try Self.entry("c1", due: 9_000)], in: scratch.partition, epoch: Epoch(2))
        #expect(try await scratch.score("c1") == "5000")
        await #expect(throws: DueStore.Fenced.self) {
            try await scratch.store.store([try Self.entry("c2", due: 5_000)], in: scratch.partition, epoch: Epoch(3))
        }
        #expect(try await scratch.score("c2") == nil)
    }
}
