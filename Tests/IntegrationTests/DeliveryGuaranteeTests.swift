import Broker
import Foundation
import Testing
import GreenroomTestSupport
import Workers

@Suite("Guarantees at the edges: sends nobody can route, and state moved under the cache")
struct DeliveryGuaranteeTests {
    @Test("a handler's send to an unknown type, or to a type without queues, is dead-lettered with the reason; the sender goes on")
    func unroutableSends() async throws {
        let harness = try await RuntimeHarness.start()
        let suffix = harness.suffix
        let redis = try await TestServers.redis()
        // Known in Redis (4 partitions) but no worker ever declared its queues.
        let queueless = "queueless-\(suffix)"
        let ghost = "ghost-\(suffix)"
        try await withCleanup({
            _ = try? await redis.send("HDEL", "gr:types", queueless)
            await redis.close()
        }) {
            try await harness.run {
                try await redis.send("HSET", "gr:types", queueless, 4)
                let sender = try await harness.client.spawn(type: harness.type("probe"), id: "sender")
                try await harness.client.send([
                    .init(to: sender, kind: "send", payload: Array(#"{"to":"\#(ghost)/x","kind":"hello"}"#.utf8), id: "to-ghost-\(suffix)"),
                    .init(to: sender, kind: "send", payload: Array(#"{"to":"\#(queueless)/x","kind":"hello"}"#.utf8), id: "to-queueless-\(suffix)"),
                    .init(to: sender, kind: "touch", payload: Array(#"{"seq":1}"#.utf8)),
                ])
                // A turn's n-th send has the id MESSAGE_ID/n.
                let dead = try await takeDeadLetters(harness.client, suffix: suffix, ids: ["to-ghost-\(suffix)/0", "to-queueless-\(suffix)/0"])
                let toGhost = dead.first { $0.messageID == "to-ghost-\(suffix)/0" }
                #expect(toGhost?.target == "\(ghost)/x")
                #expect(toGhost?.kind == "hello")
                #expect(toGhost?.reason.contains("actor type '\(ghost)' is unknown") == true, "\(String(describing: toGhost))")
                #expect(toGhost?.attempts == 0)
                let toQueueless = dead.first { $0.messageID == "to-queueless-\(suffix)/0" }
                #expect(toQueueless?.target == "\(queueless)/x")
                #expect(toQueueless?.reason.contains("unroutable") == true, "\(String(describing: toQueueless))")
                #expect(toQueueless?.reason.contains("NO_ROUTE") == true, "\(String(describing: toQueueless))")
                #expect(dead.count == 2, "\(dead.map { ($0.messageID, $0.reason) })")
                // The sending turns committed, and the sender went on to its next message.
                let state = try await settledProbe(harness.client, sender, runtimes: [harness.runtime])
                #expect(state.touches == 1)
            }
        }
    }

    @Test("a version moved under the worker's cache: the turn runs again on the stored state")
    func movedVersion() async throws {
        let harness = try await RuntimeHarness.start()
        let redis = try await TestServers.redis()
        try await withCleanup({ await redis.close() }) {
            try await harness.run {
                let counter = try await harness.client.spawn(type: harness.type("counter"), id: "moved")
                try await harness.client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8))
                // Committed, so the worker now holds the actor in its activation cache.
                #expect(try await settledCounts(harness.client, [counter], runtimes: [harness.runtime]) == [1])
                let key = Keys.actor(counter, partitions: 4)
                let version = try #require(try await redis.send("HGET", key, "version").string.flatMap { Int($0) })
                // Someone else committed meanwhile (here: written directly, as docs/PROTOCOL.md lays it out).
                try await redis.send("HSET", key, "state", #"{"count":100}"#, "version", "\(version + 1)")

                try await harness.client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8))
                #expect(try await settledCounts(harness.client, [counter], runtimes: [harness.runtime]) == [101],
                        "the add must build on the stored state (100), not on the cached one (1)")
                #expect(try await redis.send("HGET", key, "version").string == "\(version + 2)")
            }
        }
    }
}
