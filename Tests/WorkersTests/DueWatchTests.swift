import Foundation
import Testing
@testable import Workers

/// The dispatcher's clock and alarm: never early, woken by notes when it
/// sleeps, deaf to them while it pauses between rounds.
@Suite("Due watch: clock, sleep and pause", .timeLimit(.minutes(1)))
struct DueWatchTests {
    @Test("its clock never reads a millisecond the real clock has not reached")
    func clockRoundsDown() {
        for _ in 0..<20_000 {
            let watch = DueWatch.now()
            let real = Date().timeIntervalSince1970 * 1_000
            #expect(Double(watch) <= real, "DueWatch.now() \(watch) is ahead of the clock \(real)")
            if Double(watch) > real { return }
        }
    }

    @Test("a note earlier than the sleep's end wakes it")
    func noteWakesSleep() async {
        let watch = DueWatch()
        let start = ContinuousClock.now
        async let slept: Void = watch.sleep(until: DueWatch.now() + 5_000)
        try? await Task.sleep(for: .milliseconds(50))
        watch.note(due: DueWatch.now())
        await slept
        #expect(ContinuousClock.now - start < .seconds(4))
    }

    @Test("a pause lasts until its end, whatever is noted meanwhile; cancel ends it")
    func pauseIgnoresNotes() async {
        let watch = DueWatch()
        let start = ContinuousClock.now
        async let paused: Void = watch.pause(until: DueWatch.now() + 300)
        for _ in 0..<5 {
            try? await Task.sleep(for: .milliseconds(20))
            watch.note(due: DueWatch.now())
        }
        await paused
        #expect(ContinuousClock.now - start >= .milliseconds(299))

        let cancelled = ContinuousClock.now
        async let long: Void = watch.pause(until: DueWatch.now() + 5_000)
        try? await Task.sleep(for: .milliseconds(50))
        watch.cancel()
        await long
        #expect(ContinuousClock.now - cancelled < .seconds(4))
    }
}
