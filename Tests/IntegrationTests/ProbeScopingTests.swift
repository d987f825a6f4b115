import Foundation
import Testing
import GreenroomTestSupport
import Workers

/// The probe's process-wide counters are scoped by actor type, so tests that
/// run side by side in one process (each under its own type names) never see
/// each other's attempts or overlaps.
@Suite("The probe's counters belong to one test", .timeLimit(.minutes(2)))
struct ProbeScopingTests {
    @Test("a message id reused by another test's probe starts again from attempt 1")
    func attemptsPerTest() async throws {
        let id = TestServers.unique("shared-fail-id")
        for run in 0..<2 {
            try await withHarness { harness in
                let probe = try harness.address("probe", "p")
                // 3 failures against a budget of 3 attempts: dead-lettered, in each test.
                try await harness.client.send(to: probe, kind: "fail", payload: Array(#"{"times":3}"#.utf8), id: id, spawnIfMissing: true)
                let dead = try await harness.takeDeadLetters(1)
                #expect(dead.first?.reason.contains("probe failure on attempt 3") == true, "run \(run): \(dead)")
            }
        }
    }
}
