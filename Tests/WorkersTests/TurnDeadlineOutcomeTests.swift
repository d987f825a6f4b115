import Testing
@testable import Workers

/// `TurnDeadline.run` decides a run of turns the same way with a deadline
/// (a task of their own, watched) and without one (inline).
@Suite("Turn deadlines: the outcome of a run of turns", .timeLimit(.minutes(1)))
struct TurnDeadlineOutcomeTests {
    struct Boom: Error {}

    @Test("completed turns, the state after them, and the failure that ended the run: the same with and without a deadline", arguments: [Duration.zero, .seconds(30)])
    func outcomes(deadline: Duration) async {
        let all = await TurnDeadline.run(from: 0, turns: 3, deadline: deadline) { index, state in state += index + 1; return true }
        #expect(all.completed == 3 && all.state == 6 && all.failure == nil)

        let stopped = await TurnDeadline.run(from: 0, turns: 3, deadline: deadline) { index, state in state += 1; return index < 1 }
        #expect(stopped.completed == 2 && stopped.state == 2 && stopped.failure == nil)

        let failed = await TurnDeadline.run(from: 0, turns: 3, deadline: deadline) { index, state in
            state += 10
            if index == 1 { throw Boom() }
            return true
        }
        #expect(failed.completed == 1 && failed.state == 10 && failed.failure is Boom)
    }

    @Test("a turn past its deadline fails the run; the turns before it count")
    func late() async {
        let outcome = await TurnDeadline.run(from: 0, turns: 2, deadline: .milliseconds(200)) { index, state in
            state += 1
            if index == 1 { try await Task.sleep(for: .seconds(20)) }
            return true
        }
        #expect(outcome.completed == 1 && outcome.state == 1 && outcome.failure is TurnDeadlineExceeded)
    }
}
