import Broker
import Foundation
import Testing
import GreenroomTestSupport
import Workers

/// The worker runs ordinary deliveries in batches (one commit, one publish,
/// one ack frame per batch) and leaves the unusual to the one-message path.
/// These send whole batches at once so both paths meet inside one batch.
@Suite("Batches of turns: duplicates, failures and stops inside one batch", .timeLimit(.minutes(5)))
struct BatchPathTests {
    @Test("the same message ids sent again, fresh (not redelivered), are applied once")
    func freshDuplicates() async throws {
        let harness = try await RuntimeHarness.start()
        let counters = try (0..<20).map { try harness.address("counter", "dup\($0)") }
        for counter in counters { try await harness.client.spawn(type: counter.type, id: counter.id) }
        var messages: [GreenroomClient.Outgoing] = []
        for round in 0..<5 {
            for (index, counter) in counters.enumerated() {
                messages.append(.init(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), id: "dup-\(harness.suffix)-\(index)-\(round)"))
            }
        }
        // Every message twice: the second copies meet dedup records in the
        // batch commit, or the first copies in the same batch.
        try await harness.client.send(messages)
        try await harness.client.send(messages)
        // New ids, each twice in one publish: both copies likely in one batch.
        let fresh = messages.map { message in
            var copy = message
            copy.id = (message.id ?? "") + "-b"
            return copy
        }
        try await harness.client.send(fresh + fresh)
        for counter in counters {
            #expect(try await harness.client.ask(counter, kind: "get", timeout: .seconds(60)).text == #"{"count":10}"#)
        }
        try await harness.cleanUp()
    }

    @Test("a turn that fails mid-batch is retried in order: the actor's later messages wait for it")
    func failureKeepsOrder() async throws {
        let harness = try await RuntimeHarness.start()
        let probe = try await harness.client.spawn(type: harness.type("probe"), id: "order")
        var messages: [GreenroomClient.Outgoing] = []
        for seq in 0..<300 {
            if seq == 100 {
                // Fails twice, then succeeds on its third attempt (the harness allows 3).
                messages.append(.init(to: probe, kind: "fail", payload: Array(#"{"times":2}"#.utf8)))
            }
            messages.append(.init(to: probe, kind: "touch", payload: Array(#"{"seq":\#(seq)}"#.utf8)))
        }
        // Another probe's message fails 3 times: dead-lettered after 3 attempts
        // in all, the one made in the batch included.
        let other = try await harness.client.spawn(type: harness.type("probe"), id: "budget")
        messages.insert(.init(to: other, kind: "fail", payload: Array(#"{"times":3}"#.utf8)), at: 0)
        try await harness.client.send(messages)
        let report = try JSONDecoder().decode(Probe.Report.self, from: Data(try await harness.client.ask(probe, kind: "report", timeout: .seconds(60)).payload))
        #expect(report.touches == 300)
        #expect(report.lastSeq == 299)
        #expect(report.outOfOrder == 0)
        // Other tests browse the dead-letter queue too (their unacked reads hide
        // messages for a moment): keep what the successful read saw.
        try await eventually(30, "the message that failed 3 times dead-lettered") {
            let dead = try await harness.client.deadLetters(limit: 10_000, timeout: .milliseconds(300)).filter { $0.target?.hasPrefix(harness.type("probe")) == true }
            guard !dead.isEmpty else { return false }
            #expect(dead.count == 1)
            #expect(dead.first?.target == other.description)
            #expect(dead.first?.attempts == 3)
            return true
        }
        try await harness.cleanUp()
    }

    @Test("an actor stopped mid-batch: its later messages in the batch are refused, not applied")
    func stopInsideBatch() async throws {
        let harness = try await RuntimeHarness.start()
        let counter = try await harness.client.spawn(type: harness.type("counter"), id: "stopped")
        var messages: [GreenroomClient.Outgoing] = (0..<50).map { _ in .init(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8)) }
        messages.append(.init(to: counter, kind: WireFormat.SystemKind.stop))
        messages += (0..<50).map { _ in .init(to: counter, kind: "add", payload: Array(#"{"by":1}"#.utf8), id: "after-stop-\(UUID().uuidString)") }
        try await harness.client.send(messages)
        let prefix = harness.type("counter") + "/"
        // Taken and gathered over several scans: other suites browsing the
        // shared dead-letter queue at the same time hide some letters from any one scan.
        let refused = try await takeDeadLetters(harness.client, suffix: harness.suffix) { letters in
            letters.filter { $0.target?.hasPrefix(prefix) == true && $0.messageID?.hasPrefix("after-stop-") == true }.count >= 50
        }
        #expect(refused.filter { $0.messageID?.hasPrefix("after-stop-") == true }.count == 50)
        #expect(try await harness.client.exists(counter) == false)
        try await harness.cleanUp()
    }
}
