import Broker
import Foundation
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
        func raw(_ body: String, to: String?, kind: String? = "add", id: String? = UUID().uuidString, misroute: Bool = false) async throws {
            var headers: AMQPTable = [:]
            if let to { headers[WireFormat.toHeader] = .string(to) }
            // Each to its actor's own partition queue (a readable target), else to partition 0.
            let home = (to.flatMap { try? ActorAddress(parsing: $0) }).map { PartitionID(of: $0, partitions: partitions) }
            var partition = home ?? PartitionID(type: harness.type("counter"), index: 0)
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
        try await harness.client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8))

        // Why each must die, and its x-greenroom-attempts header: 0 when refused
        // before the turn ran, 1 when the handler rejected it (MessageRejected
        // is not retried, though this test's policy allows 3 attempts).
        let expected: [(reason: String, attempts: Int)] = [
            ("body is not valid JSON", 0), ("unknown message kind 'explode'", 1), ("does not decode as Add", 1),
            ("missing header x-greenroom-to", 0), ("bad header x-greenroom-to", 0), ("never-spawned does not exist", 0),
            ("counter-\(suffix)/gone does not exist", 0), ("missing message_id", 0), ("the limit is \(WireFormat.defaultMaximumBodyBytes)", 0),
            ("belongs to \(PartitionID(of: counter, partitions: partitions).queue)", 0),
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
        #expect(dead.count == 10, "\(reasons)")
        #expect(try await harness.client.ask(counter, kind: "get").text == #"{"count":2}"#)
        await amqp.close()
        try await harness.cleanUp()
    }
}
