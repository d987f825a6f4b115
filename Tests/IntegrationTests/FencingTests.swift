import Broker
import Foundation
import Testing
import Workers
#if canImport(Glibc)
import Glibc
#endif

@Suite("Fencing: a worker whose epoch has moved on commits nothing, on every commit path", .serialized)
struct FencingTests {
    @Test("spawn, stop, a one-message turn and a batch: under a bumped epoch none is applied; once the worker re-acquires, each is applied exactly once")
    func everyCommitPath() async throws {
        // A long lease, so the heartbeat (every 10 s) cannot be what notices the
        // lost lease: only the commits' epoch check can, within the test's window.
        let fleet = try await ProcessFleet.make(partitions: 4)
        try await fleet.run { workers in
            let client = fleet.client
            let suffix = fleet.suffix
            _ = workers.add(try await fleet.startWorker("a", leaseSeconds: 60))
            let type = fleet.type("counter")
            let redis = try await TestServers.redis()
            defer { Task { await redis.close() } }
            // One commit path per partition (a refusal drops the whole partition).
            let spawned = try ActorAddress(type: type, id: id("spawned", inPartition: 0, of: 4))
            let stopped = try ActorAddress(type: type, id: id("stopped", inPartition: 1, of: 4))
            let single = try ActorAddress(type: type, id: id("single", inPartition: 2, of: 4))
            let batched = try (0..<10).map { try ActorAddress(type: type, id: id("batch\($0)-", inPartition: 3, of: 4)) }
            try await client.spawn(type: type, id: stopped.id)
            for counter in batched { try await client.spawn(type: type, id: counter.id) }
            try await client.send(batched.map { .init(to: $0, kind: "add", payload: Array(#"{"by":1}"#.utf8)) })
            #expect(try await settledCounts(client, batched) == Array(repeating: 1, count: 10))

            // Right after a lease renewal (the next is ≥ 7 s away), another owner
            // takes every partition: a new epoch, and the lease held by an intruder.
            try await eventually(60, "a fresh lease renewal") {
                for partition in 0..<4 {
                    guard let ttl = try await redis.send("PTTL", Keys.lease(type, partition)).integer, ttl > 57_000 else { return false }
                }
                return true
            }
            var epochs: [Int64] = []
            for partition in 0..<4 {
                epochs.append(try #require(try await redis.send("INCR", Keys.epoch(type, partition)).integer))
                try await redis.send("SET", Keys.lease(type, partition), "intruder-\(suffix)")
            }
            var messages: [GreenroomClient.Outgoing] = [
                .init(to: spawned, kind: WireFormat.SystemKind.spawn, payload: Array(#"{"state":{"count":5}}"#.utf8), id: "spawn-\(suffix)"),
                .init(to: stopped, kind: WireFormat.SystemKind.stop, id: "stop-\(suffix)"),
                .init(to: single, kind: "add", payload: Array(#"{"by":1}"#.utf8), id: "single-\(suffix)", spawnIfMissing: true),
            ]
            for round in 0..<5 {
                messages += batched.enumerated().map { index, counter in
                    .init(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), id: "batch-\(suffix)-\(index)-\(round)")
                }
            }
            try await client.send(messages)

            // The worker drops each partition when its commit is refused, and the
            // broker gets the messages back: nothing consumed, nothing unacked.
            let queues = try await within(60, "every partition dropped, its messages back in the queue") {
                while true {
                    let queues = try await RabbitControl.partitionQueues(of: [type])
                    if queues.count == 4, queues.allSatisfy({ $0.consumers == 0 && $0.unacked == 0 }) { return queues }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
            #expect(queues.map(\.ready) == [1, 1, 1, 50], "\(queues)")
            let log = fleet.log("a")
            for partition in 0..<4 {
                let queue = PartitionID(type: type, index: partition).queue
                #expect(log.split(separator: "\n").contains { $0.contains("lost partition") && $0.contains("partition=\(queue) reason=a commit was refused") },
                        "\(queue) should be dropped because a commit was refused")
            }
            // Nothing the worker tried under the old epoch was applied.
            #expect(try await redis.send("EXISTS", Keys.actor(spawned, partitions: 4)).integer == 0, "the spawn was applied")
            #expect(try await client.exists(stopped), "the stop was applied")
            #expect(try await redis.send("EXISTS", Keys.actor(single, partitions: 4)).integer == 0, "the one-message turn was applied")
            #expect(try await committedCounts(client, batched) == Array(repeating: 1, count: 10), "the batch was applied")
            for message in messages {
                let partition = Partitioning.partition(of: message.to.id, partitions: 4)
                #expect(try await redis.send("HEXISTS", Keys.dedup(type: type, partition: partition), message.id!).integer == 0, "\(message.id!) was committed")
            }
            for partition in 0..<4 {
                #expect(try await redis.send("GET", Keys.epoch(type, partition)).integer == epochs[partition])
            }

            // The intruder goes away; the worker re-acquires (a new epoch) and applies everything once.
            for partition in 0..<4 { try await redis.send("DEL", Keys.lease(type, partition)) }
            struct Outcome: Equatable, Sendable {
                var spawned: Int
                var stoppedExists: Bool
                var single: Int
                var batched: [Int]
            }
            let outcome = try await Quiet.settle("every path applied", types: [type], seconds: 120) {
                Outcome(spawned: try await committedCounts(client, [spawned])[0], stoppedExists: try await client.exists(stopped),
                        single: try await committedCounts(client, [single])[0], batched: try await committedCounts(client, batched))
            }
            #expect(outcome == Outcome(spawned: 5, stoppedExists: false, single: 1, batched: Array(repeating: 6, count: 10)))
            for partition in 0..<4 {
                let now = try await redis.send("GET", Keys.epoch(type, partition)).integer ?? 0
                #expect(now > epochs[partition], "partition \(partition) should have been re-acquired under a new epoch")
            }
        }
    }
}
