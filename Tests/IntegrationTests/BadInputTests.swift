import Broker
import Foundation
import GreenroomTestSupport
import Testing
import Workers

@Suite("Bad input is dead-lettered with its reason; the worker goes on", .timeLimit(.minutes(3)))
struct BadInputTests {
    @Test("every kind of bad message lands in greenroom.dead with why, and valid traffic is unaffected")
    func badInput() async throws {
        let harness = try await RuntimeHarness.start()
        let suffix = harness.suffix
        let counter = try await harness.client.spawn(type: harness.type("counter"), id: "good")
        let stopped = try await harness.client.spawn(type: harness.type("counter"), id: "gone")
        try await harness.client.stop(stopped)

        let amqp = try await TestServers.amqp()
        let channel = try await amqp.openChannel()
        try await channel.enableConfirms()
        let partitions = harness.runtime.configuration.partitions
        func raw(_ body: String, to: String?, kind: String? = "add", id: String? = UUID().uuidString, misroute: Bool = false,
                 into queue: PartitionID? = nil, spawn: Bool = false) async throws {
            var headers: AMQPTable = [:]
            if let to { headers[WireFormat.toHeader] = .string(to) }
            if spawn { headers[WireFormat.spawnHeader] = .bool(true) }
            // Each to its actor's own partition queue (a readable target), else to partition 0.
            let home = (to.flatMap { try? ActorAddress(parsing: $0) }).map { PartitionID(of: $0, partitions: partitions) }
            var partition = queue ?? home ?? PartitionID(type: harness.type("counter"), index: 0)
            if misroute { partition = PartitionID(type: partition.type, index: (partition.index + 1) % partitions) }
            let queue = partition.queue
            try await channel.publish(AMQPMessage(body, properties: .init(contentType: "application/json", headers: headers, persistent: true, messageID: id, type: kind)),
                                      exchange: Topology.actorsExchange, routingKey: queue, mandatory: true)
        }

        try await harness.client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8))
        try await raw(#"{"by": \#(suffix)"#, to: counter.description)                                  // not JSON
        try await raw(#"{"by":1,"t":"\#(suffix)"}"#, to: counter.description, kind: "explode")         // unknown kind
        try await raw(#"{"by":"\#(suffix)"}"#, to: counter.description)                               // payload does not decode
        try await raw(#"{"t":"\#(suffix)"}"#, to: nil)                                                // no target
        try await raw(#"{"t":"\#(suffix)"}"#, to: "Not An/Address")                                   // malformed target
        try await raw(#"{"by":1}"#, to: "\(harness.type("counter"))/never-spawned")                   // unknown actor
        try await raw(#"{"by":1}"#, to: stopped.description)                                          // stopped actor
        try await raw(#"{"by":1,"t":"\#(suffix)"}"#, to: counter.description, id: nil)                // no message id
        try await raw(#"{"by":1,"t":"\#(suffix)","pad":"\#(String(repeating: "x", count: WireFormat.defaultMaximumBodyBytes))"}"#,
                      to: counter.description)                                                        // too large
        try await raw(#"{"by":100}"#, to: counter.description, misroute: true)                       // another partition's queue
        // The issue's case: a spawning add for alice published into a partition queue that is not alice's.
        let alice = try harness.address("counter", "alice")
        let aliceHome = PartitionID(of: alice, partitions: partitions)
        let wrongPartition = PartitionID(type: aliceHome.type, index: (aliceHome.index + 1) % partitions)
        try await raw(#"{"by":1000}"#, to: alice.description, into: wrongPartition, spawn: true)
        let echo = try harness.address("echo", "misrouted")
        try await raw(#"{"t":"\#(suffix)"}"#, to: echo.description, kind: "ping", into: PartitionID(of: counter, partitions: partitions)) // another type's queue
        try await harness.client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8))
        try await harness.client.send(to: alice, kind: "add", payload: Array(#"{"by":1}"#.utf8), spawnIfMissing: true)

        // Why each must die, and its x-greenroom-attempts header: 0 when refused
        // before the turn ran, 1 when the handler rejected it (MessageRejected
        // is not retried, though this test's policy allows 3 attempts).
        let expected: [(reason: String, attempts: Int)] = [
            ("body is not valid JSON", 0), ("unknown message kind 'explode'", 1), ("does not decode as Add", 1),
            ("missing header x-greenroom-to", 0), ("bad header x-greenroom-to", 0), ("never-spawned does not exist", 0),
            ("counter-\(suffix)/gone does not exist", 0), ("missing message_id", 0), ("the limit is \(WireFormat.defaultMaximumBodyBytes)", 0),
            ("misrouted: belongs to \(PartitionID(of: counter, partitions: partitions).queue)", 0),
            ("misrouted: belongs to \(aliceHome.queue)", 0),
            ("misrouted: belongs to \(PartitionID(of: echo, partitions: partitions).queue)", 0),
        ]
        let fragments = expected.map(\.reason)
        let dead = try await takeDeadLetters(harness.client, suffix: suffix) { letters in
            fragments.allSatisfy { fragment in letters.contains { $0.reason.contains(fragment) } }
        }
        let reasons = dead.map(\.reason).sorted()
        for (fragment, attempts) in expected {
            let letters = dead.filter { $0.reason.contains(fragment) }
            #expect(letters.count == 1, "dead letters saying '\(fragment)': \(reasons)")
            #expect(letters.map(\.attempts) == [attempts], "'\(fragment)' should carry x-greenroom-attempts \(attempts)")
            #expect(letters.allSatisfy { !$0.reason.contains("failed after") }, "'\(fragment)' must not be retried")
        }
        #expect(dead.count == 12, "\(reasons)")
        #expect(try await harness.client.ask(counter, kind: "get").text == #"{"count":2}"#)
        #expect(try await harness.client.ask(alice, kind: "get").text == #"{"count":1}"#)
        // Nothing was written under the wrong partition's keys.
        let redis = try await TestServers.redis()
        for (address, queue) in [(alice, wrongPartition), (echo, PartitionID(of: counter, partitions: partitions))] {
            let keys = ["a", "c"].map { "gr:\(queue.hashTag):\($0):\(address.id)" }
            #expect(try await redis.send("EXISTS", keys[0], keys[1]).integer == 0, "\(address) written under \(queue.queue)'s keys")
        }
        #expect(try await redis.send("EXISTS", "gr:\(PartitionID(of: echo, partitions: partitions).hashTag):a:\(echo.id)").integer == 0)
        await redis.close()
        await amqp.close()
        try await harness.cleanUp()
    }

    @Test("the probe refuses a pause over its limit with a reason instead of sleeping for a year")
    func probePauseLimit() async throws {
        // What counter, echo, account and tree refuse is in GreenroomTestKitTests.
        try await withHarness { harness in
            let client = harness.client
            let suffix = harness.suffix
            let id = "pause-\(suffix)"
            let probe = try await client.spawn(type: harness.type("probe"), id: "sleepy")
            try await client.send(to: probe, kind: "touch", payload: Array(#"{"pauseMicroseconds": 31536000000000, "t": "\#(suffix)"}"#.utf8), id: id)
            let letters = try await takeDeadLetters(client, suffix: suffix, ids: [id])
            let letter = try #require(letters.first { $0.messageID == id })
            #expect(letter.reason.contains("pauseMicroseconds 31536000000000 is over the limit of \(Probe.maximumPauseMicroseconds)"), "\(letter.reason)")
            #expect(letter.attempts == 1, "refused, not retried")
        }
    }
}
