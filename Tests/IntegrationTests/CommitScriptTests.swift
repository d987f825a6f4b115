@testable import Broker
import Foundation
import Testing
@testable import Workers

/// `CommitScript` driven directly against Redis: each answer it can give,
/// and the edges of the dedup window (docs/DESIGN.md, "Deduplication").
@Suite("The commit script: committed, duplicate, stale, fenced, and the dedup window", .timeLimit(.minutes(2)))
struct CommitScriptTests {
    /// A scratch partition of a fresh type, deleted afterwards.
    struct Scratch {
        let redis: RedisClient
        let store: ActorStore
        let partition: PartitionID
        let counter: ActorAddress

        static func make() async throws -> Scratch {
            let redis = try await TestServers.redis()
            var generator = SystemRandomNumberGenerator()
            let type = "counter-cs" + String(generator.next() as UInt32, radix: 36)
            let store = ActorStore(redis: redis)
            try await redis.load(CommitScript.script)
            let counter = try ActorAddress(type: type, id: "c")
            return Scratch(redis: redis, store: store, partition: PartitionID(type: type, index: 0), counter: counter)
        }

        func group(expected: Int64, count: Int, ids: [String], checked: [String] = []) -> CommitScript.Group {
            CommitScript.Group(address: counter, expectedVersion: expected, state: Array(#"{"count":\#(count)}"#.utf8),
                               status: expected == 0 ? .active : nil,
                               applied: ids.map { ($0, Array(#"[{"sent-by":"\#($0)"}]"#.utf8)) }, checked: checked)
        }

        func commit(_ groups: [CommitScript.Group], epoch: Int64 = 0, window: CommitScript.DedupWindow = .init(seconds: 3_600, capacity: 100),
                    now: Int64 = 1_000_000) async throws -> CommitScript.Outcome {
            let (keys, arguments) = CommitScript.call(groups, partition: partition, epoch: Epoch(epoch), window: window, now: now)
            return try CommitScript.decode(try await redis.run(CommitScript.script, keys: keys, arguments: arguments), groups: groups.count)
        }

        func state() async throws -> String {
            String(decoding: try await store.load([counter], in: partition)[0].state, as: UTF8.self)
        }

        func remembered() async throws -> [String] {
            (try await redis.send("LRANGE", RedisLayout.dedupLog(partition), 0, -1).array ?? []).compactMap(\.string)
        }

        func cleanUp() async throws {
            let keys = try await redis.send("KEYS", "gr:\(partition.hashTag):*").array?.compactMap(\.bytes) ?? []
            if !keys.isEmpty { try await redis.send(arguments: ["DEL".redisBytes] + keys) }
            await redis.close()
        }
    }

    @Test("a group commits all its turns at once; the same ids again are duplicates with their stored sends, and nothing is written")
    func committedThenDuplicate() async throws {
        let scratch = try await Scratch.make()
        #expect(try await scratch.commit([scratch.group(expected: 0, count: 2, ids: ["a", "b"])]) == .groups([.committed(version: 2)]))
        #expect(try await scratch.state() == #"{"count":2}"#)
        // "b" again, after a new id: the group is refused as a duplicate at position 1 (0-based) with b's sends.
        let again = try await scratch.commit([scratch.group(expected: 2, count: 4, ids: ["c", "b"])])
        #expect(again == .groups([.duplicate([1: Array(#"[{"sent-by":"b"}]"#.utf8)])]))
        #expect(try await scratch.state() == #"{"count":2}"#)
        // A refused ("checked") id that was committed is a duplicate too.
        #expect(try await scratch.commit([scratch.group(expected: 2, count: 2, ids: [], checked: ["a"])])
            == .groups([.duplicate([0: Array(#"[{"sent-by":"a"}]"#.utf8)])]))
        #expect(try await scratch.commit([scratch.group(expected: 2, count: 2, ids: [], checked: ["z"])]) == .groups([.checked]))
        try await scratch.cleanUp()
    }

    @Test("a moved version is stale; a newer epoch fences the whole call")
    func staleAndFenced() async throws {
        let scratch = try await Scratch.make()
        #expect(try await scratch.commit([scratch.group(expected: 0, count: 1, ids: ["a"])]) == .groups([.committed(version: 1)]))
        #expect(try await scratch.commit([scratch.group(expected: 0, count: 9, ids: ["b"])]) == .groups([.stale(storedVersion: 1)]))
        try await scratch.redis.send("SET", RedisLayout.epoch(scratch.partition), 3)
        #expect(try await scratch.commit([scratch.group(expected: 1, count: 2, ids: ["c"])], epoch: 2) == .fenced(currentEpoch: "3"))
        #expect(try await scratch.commit([scratch.group(expected: 1, count: 2, ids: ["c"])], epoch: 3) == .groups([.committed(version: 2)]))
        #expect(try await scratch.state() == #"{"count":2}"#)
        try await scratch.cleanUp()
    }

    @Test("the dedup window: the newest `capacity` ids are remembered, older ones forgotten; ids older than `seconds` go too")
    func windowEdges() async throws {
        let scratch = try await Scratch.make()
        let window = CommitScript.DedupWindow(seconds: 60, capacity: 5)
        var version: Int64 = 0
        for index in 0..<7 {
            let outcome = try await scratch.commit([scratch.group(expected: version, count: index + 1, ids: ["m\(index)"])], window: window)
            #expect(outcome == .groups([.committed(version: version + 1)]))
            version += 1
        }
        // Capacity 5: m0 and m1 are forgotten, m2…m6 remembered.
        #expect(try await scratch.remembered().map { $0.split(separator: " ")[1] } == ["m2", "m3", "m4", "m5", "m6"])
        #expect(try await scratch.commit([scratch.group(expected: version, count: 0, ids: [], checked: ["m2"])], window: window)
            == .groups([.duplicate([0: Array(#"[{"sent-by":"m2"}]"#.utf8)])]))
        #expect(try await scratch.commit([scratch.group(expected: version, count: 0, ids: [], checked: ["m1"])], window: window) == .groups([.checked]))
        // Exactly `seconds` old is still remembered; one second more is not.
        _ = try await scratch.commit([scratch.group(expected: version, count: 0, ids: [], checked: [])], window: window, now: 1_000_060)
        #expect(try await scratch.remembered().count == 5)
        _ = try await scratch.commit([scratch.group(expected: version, count: 0, ids: [], checked: [])], window: window, now: 1_000_061)
        #expect(try await scratch.remembered().isEmpty)
        #expect(try await scratch.redis.send("HLEN", RedisLayout.dedup(scratch.partition)).integer == 0)
        try await scratch.cleanUp()
    }

    @Test("groups of several actors in one call are decided each on its own")
    func independentGroups() async throws {
        let scratch = try await Scratch.make()
        let other = try ActorAddress(type: scratch.counter.type, id: "other")
        var second = scratch.group(expected: 5, count: 1, ids: ["x"])
        second.address = other
        let outcome = try await scratch.commit([scratch.group(expected: 0, count: 1, ids: ["y"]), second])
        #expect(outcome == .groups([.committed(version: 1), .stale(storedVersion: 0)]))
        try await scratch.cleanUp()
    }

    @Test("crash marks: the commit clears the marks of the ids it commits, refuses or finds committed, and keeps them on a stale group")
    func crashMarksCleared() async throws {
        let scratch = try await Scratch.make()
        for id in ["a", "r", "s"] { #expect(try await scratch.store.markStart(of: id, in: scratch.partition) == 1) }
        #expect(try await scratch.store.markStart(of: "s", in: scratch.partition) == 2)
        #expect(try await scratch.redis.send("TTL", RedisLayout.crashMarks(scratch.partition)).integer ?? 0 > 0)
        #expect(try await scratch.commit([scratch.group(expected: 0, count: 1, ids: ["a"], checked: ["r"])]) == .groups([.committed(version: 1)]))
        // Stale: expected version 0, stored 1 — the message runs again, its mark stays.
        #expect(try await scratch.commit([scratch.group(expected: 0, count: 1, ids: ["s"])]) == .groups([.stale(storedVersion: 1)]))
        let marks = try await scratch.redis.send("HKEYS", RedisLayout.crashMarks(scratch.partition)).array?.compactMap(\.string) ?? []
        #expect(marks == ["s"])
        // A duplicate clears it too.
        #expect(try await scratch.commit([scratch.group(expected: 1, count: 2, ids: ["s"])]) == .groups([.committed(version: 2)]))
        _ = try await scratch.store.markStart(of: "s", in: scratch.partition)
        let again = try await scratch.commit([scratch.group(expected: 2, count: 3, ids: ["s"])])
        #expect(again == .groups([.duplicate([0: Array(#"[{"sent-by":"s"}]"#.utf8)])]))
        #expect(try await scratch.redis.send("EXISTS", RedisLayout.crashMarks(scratch.partition)).integer == 0)
        try await scratch.cleanUp()
    }
}
