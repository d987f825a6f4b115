import Broker
import Foundation
import Testing
import Workers

/// The body limit (1 MiB) is checked from the content header's declared size,
/// before the body is read: an oversized message is skipped frame by frame,
/// never held in the worker's memory, and dead-lettered as a stub.
@Suite("Oversized messages are dead-lettered unread, as stubs", .timeLimit(.minutes(3)))
struct OversizedMessageTests {
    @Test("three 5 MiB messages: stubs in greenroom.dead with their size, worker peak RSS barely moves, other messages flow")
    func fiveMebibytes() async throws {
        try await withFleet { fleet in
            let worker = try await fleet.startWorker("w")
            let counter = try await fleet.client.spawn(type: fleet.type("counter"), id: "c")
            // Warm up, so the peak RSS measured next is the worker's steady state.
            try await fleet.client.send((0..<200).map { _ in .init(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8)) })
            #expect(try await fleet.client.ask(counter, kind: "get", timeout: .seconds(30)).text == #"{"count":200}"#)
            let before = try peakResidentKiB(of: worker.pid)

            let amqp = try await TestServers.amqp()
            let channel = try await amqp.openChannel()
            try await channel.enableConfirms()
            let pad = String(repeating: "x", count: 5 << 20)
            let body = #"{"by":1000,"t":"\#(fleet.suffix)","pad":"\#(pad)"}"#
            let ids = (0..<3).map { "big-\($0)-\(fleet.suffix)" }
            for id in ids {
                try await channel.publish(
                    AMQPMessage(body, properties: .init(
                        contentType: "application/json", headers: [WireFormat.toHeader: .string(counter.description)],
                        persistent: true, messageID: id, type: "add")),
                    exchange: Topology.actorsExchange, routingKey: PartitionID(of: counter, partitions: fleet.partitions).routingKey,
                    mandatory: true)
            }
            await amqp.close()
            try await fleet.client.send(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8))
            #expect(try await fleet.client.ask(counter, kind: "get", timeout: .seconds(30)).text == #"{"count":201}"#)

            let letters = try await takeDeadLetters(fleet.client, suffix: fleet.suffix, ids: Set(ids))
            for id in ids {
                let letter = try #require(letters.first { $0.messageID == id })
                #expect(letter.reason == "body is \(body.utf8.count) bytes; the limit is \(WireFormat.defaultMaximumBodyBytes)")
                #expect(letter.body.utf8.count == 0, "a stub, not a copy of the \(body.utf8.count) bytes")
            }
            let after = try peakResidentKiB(of: worker.pid)
            #expect(after - before < 3_072, "peak RSS grew from \(before) KiB to \(after) KiB")
            #expect(worker.poll() == nil)
        }
    }

    /// VmHWM: the process's peak resident set, in KiB.
    private func peakResidentKiB(of pid: pid_t) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kib = Int(line.split(separator: " ").dropFirst().first ?? "") else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return kib
    }
}
