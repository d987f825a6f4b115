import GreenroomTestKit
import Testing

@Suite("TestClock: time moves only when told", .timeLimit(.minutes(1)))
struct TestClockTests {
    @Test("a sleeper wakes when the clock is advanced to its deadline, not before")
    func sleepAndAdvance() async throws {
        let clock = TestClock()
        let woke = Log<Duration>()
        let sleeper = Task {
            try await clock.sleep(for: .seconds(5))
            woke.append(clock.now.sinceStart)
        }
        try await waitForSleepers(clock, 1)
        clock.advance(by: .seconds(4))
        #expect(clock.sleepers == 1, "4 s is not yet 5 s")
        clock.advance(by: .seconds(1))
        try await sleeper.value
        #expect(woke.all == [.seconds(5)])
        #expect(clock.sleepers == 0)
    }

    @Test("a deadline already reached returns at once; a cancelled sleep throws CancellationError")
    func pastAndCancelled() async throws {
        let clock = TestClock()
        clock.advance(by: .seconds(1))
        try await clock.sleep(until: TestClock.Instant(sinceStart: .milliseconds(500)), tolerance: nil)
        let sleeper = Task { try await clock.sleep(for: .seconds(60)) }
        try await waitForSleepers(clock, 1)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleepers == 0)
        #expect(clock.now.sinceStart == .seconds(1))
    }

    /// Yields until `count` tasks sleep on `clock` (no real time: a bounded number of yields).
    private func waitForSleepers(_ clock: TestClock, _ count: Int) async throws {
        for _ in 0..<100_000 where clock.sleepers < count { await Task.yield() }
        try #require(clock.sleepers == count)
    }
}
