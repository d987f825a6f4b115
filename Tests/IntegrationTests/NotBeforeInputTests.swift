import Broker
import Foundation
import GreenroomTestSupport
import Testing
import Workers

@Suite("A delayed message from a program other than Greenroom's client", .timeLimit(.minutes(5)))
struct NotBeforeInputTests {
    /// Publishes `tick` to `probe` with the not-before header `value`, as another program could.
    static func publish(_ harness: RuntimeHarness, to probe: ActorAddress, id: String, notBefore value: AMQPFieldValue) async throws {
        let amqp = try await TestServers.amqp()
        defer { Task { await amqp.close() } }
        let channel = try await amqp.openChannel()
        try await channel.enableConfirms()
        let headers: AMQPTable = [WireFormat.toHeader: .string(probe.description), WireFormat.notBeforeHeader: value]
        let partitions = 4  // RuntimeHarness's default
        try await channel.publish(
            AMQPMessage(body: Array("{}".utf8), properties: .init(contentType: WireFormat.contentType, headers: headers, persistent: true,
                                                            messageID: id, type: "tick")),
            exchange: Topology.actorsExchange, routingKey: PartitionID(of: probe, partitions: partitions).routingKey, mandatory: true)
    }

    @Test("due more than a year ahead: dead-lettered with the reason; Int64.min or a past time: run at once, the worker unharmed")
    func hostileTimes() async throws {
        try await withHarness { harness in
            let probe = try await harness.client.spawn(type: harness.type("probe"), id: "hostile")
            let far = "far-\(harness.suffix)"
            try await Self.publish(harness, to: probe, id: far, notBefore: .int64(Schedules.milliseconds(Date()) + 2 * 365 * 86_400_000))
            try await Self.publish(harness, to: probe, id: "min-\(harness.suffix)", notBefore: .int64(.min))
            try await Self.publish(harness, to: probe, id: "max-\(harness.suffix)", notBefore: .int64(.max))
            try await Self.publish(harness, to: probe, id: "past-\(harness.suffix)", notBefore: .string("1000"))
            let letters = try await takeDeadLetters(harness.client, suffix: harness.suffix, ids: [far, "max-\(harness.suffix)"])
            for id in [far, "max-\(harness.suffix)"] {
                let reason = letters.first { $0.messageID == id }?.reason ?? "no dead letter"
                #expect(reason.contains("more than one year ahead"), "\(id): \(reason)")
            }
            try await eventually(30, "the messages due in the past ran") {
                let ids = Set(try await TimeTests.fired(harness, probe).map(\.id))
                return ids.isSuperset(of: ["min-\(harness.suffix)", "past-\(harness.suffix)"])
            }
            #expect(try await TimeTests.fired(harness, probe).count == 2)
        }
    }
}
