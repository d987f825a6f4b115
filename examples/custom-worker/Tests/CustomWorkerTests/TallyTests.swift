import GreenroomTestKit
import Testing
@testable import custom_worker

/// `tally` without servers, through the test kit (GreenroomTestKit): what it
/// does with each message. Greenroom's integration suite runs the built
/// `custom-worker` against RabbitMQ and Redis.
@Suite("tally, without servers", .timeLimit(.minutes(1)))
struct TallyTests {
    @Test("add adds to the total; get replies with the state")
    func addThenGet() async throws {
        let tally = BehaviorTest(Tally(), id: "x")
        try await tally.receive(Tally.Add(by: 2))
        try await tally.receive(Tally.Add(by: 3))
        let reply: Tally.State = try await tally.ask(Tally.Get())
        #expect(reply == Tally.State(total: 5))
        #expect(tally.state == Tally.State(total: 5))
    }

    @Test("an add that would overflow is dead-lettered with the reason, and the total stays")
    func overflowIsRefused() async throws {
        let tally = BehaviorTest(Tally(), id: "x", state: Tally.State(total: .max))
        try await tally.receive(Tally.Add(by: 1))
        #expect(tally.state == Tally.State(total: .max))
        #expect(tally.deadLetters.count == 1)
        #expect(tally.deadLetters.first?.reason.contains("overflows") == true, "\(tally.deadLetters)")
    }
}
