import Broker
import Foundation
import Testing
import GreenroomTestSupport
import Workers

/// One actor's slow turn must not hold up the other actors of its partition:
/// their turns run, commit and are acked meanwhile, and per-actor order holds.
@Suite("A slow actor holds up only itself", .timeLimit(.minutes(3)))
struct PipelineIsolationTests {
    @Test("in one partition, B's quick turn commits while A's 15 s turn is still running; A's later message waits for A")
    func slowActorDoesNotStallItsPartition() async throws {
        try await withHarness(partitions: 1) { harness in
            let a = try harness.address("probe", "slow-a")
            let b = try harness.address("probe", "quick-b")
            for probe in [a, b] { try await harness.client.spawn(type: probe.type, id: probe.id) }
            try await harness.client.send(to: a, kind: "touch", payload: Array(#"{"seq":1,"pauseMicroseconds":15000000}"#.utf8))
            try await harness.client.send(to: a, kind: "touch", payload: Array(#"{"seq":2}"#.utf8))
            try await harness.client.send(to: b, kind: "touch", payload: Array(#"{"seq":1}"#.utf8))

            // B's report is a turn after B's touch: its reply means both committed.
            let reply = try await harness.client.ask(b, kind: "report", timeout: .seconds(10))
            #expect(try JSONDecoder().decode(Probe.Report.self, from: Data(reply.payload)).touches == 1)
            // A's slow turn has not committed yet (its stored state is untouched), so B did not wait for it.
            let stored = try #require(try await storedProbe(harness.client, a))
            #expect(stored.touches == 0, "B answered only after A's slow turn: a slow actor stalled its partition")

            // A's second message waited for its first: both in order.
            let report = try await harness.client.ask(a, kind: "report", timeout: .seconds(60))
            let seen = try JSONDecoder().decode(Probe.Report.self, from: Data(report.payload))
            #expect(seen.touches == 2)
            #expect(seen.lastSeq == 2)
            #expect(seen.outOfOrder == 0)
            #expect(seen.overlaps == 0)
        }
    }
}
