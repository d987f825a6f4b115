import Foundation
import Synchronization

/// A clock that moves only when told to: retries in `TestSystem` and
/// `BehaviorTest` wait on it, and anything written against `Clock` can sleep
/// on it. A test runs in no real time at all.
///
/// ```swift
/// let clock = TestClock()
/// async let woke: Void = clock.sleep(for: .seconds(5))
/// clock.advance(by: .seconds(5))   // wakes the sleeper
/// ```
public final class TestClock: Clock, Sendable {
    /// A point on a `TestClock`: how long after the clock's start.
    public struct Instant: InstantProtocol, Sendable, Hashable, CustomStringConvertible {
        /// Time since the clock started.
        public let sinceStart: Duration

        public init(sinceStart: Duration) { self.sinceStart = sinceStart }

        public func advanced(by duration: Duration) -> Instant { Instant(sinceStart: sinceStart + duration) }
        public func duration(to other: Instant) -> Duration { other.sinceStart - sinceStart }
        public static func < (left: Instant, right: Instant) -> Bool { left.sinceStart < right.sinceStart }
        public var description: String { "start + \(sinceStart)" }
    }

    private struct Sleeper {
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(sinceStart: .zero)
        var sleepers: [Int: Sleeper] = [:]
        /// Sleeps begun but not yet waiting, and those of them cancelled already.
        var starting: Set<Int> = []
        var cancelled: Set<Int> = []
        var nextSleeper = 0
    }

    private let state = Mutex(State())

    /// The wall-clock time the clock starts at: a turn's `Date`s (delays,
    /// `at:`, reminders) are counted from `date`, which is `start` plus the
    /// time advanced since.
    public let start: Date

    /// 2026-01-01T00:00:00Z: the same in every run, so ids and due times are too.
    public static let defaultStart = Date(timeIntervalSince1970: 1_767_225_600)

    public init(start: Date = TestClock.defaultStart) {
        self.start = start
    }

    public var now: Instant { state.withLock { $0.now } }

    /// The wall-clock time now: `start` plus the time advanced.
    public var date: Date { date(at: now) }

    /// The wall-clock time at `instant`.
    public func date(at instant: Instant) -> Date {
        let (seconds, attoseconds) = instant.sinceStart.components
        return start.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// The instant of the wall-clock time `date` (before `start`: `start`).
    public func instant(at date: Date) -> Instant {
        Instant(sinceStart: .milliseconds(max(0, Int64(((date.timeIntervalSince(start)) * 1_000).rounded()))))
    }

    public var minimumResolution: Duration { .nanoseconds(1) }

    /// How many tasks are sleeping on this clock.
    public var sleepers: Int { state.withLock { $0.sleepers.count } }

    /// Waits until the clock has been advanced to `deadline` (at once if it
    /// is there already); throws `CancellationError` if the task is cancelled.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state in
            defer { state.nextSleeper += 1 }
            state.starting.insert(state.nextSleeper)
            return state.nextSleeper
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let answer: Result<Void, any Error>? = state.withLock { state in
                    state.starting.remove(id)
                    if state.cancelled.remove(id) != nil { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let answer { continuation.resume(with: answer) }
            }
        } onCancel: {
            let sleeper = state.withLock { state in
                let sleeper = state.sleepers.removeValue(forKey: id)
                if sleeper == nil, state.starting.contains(id) { state.cancelled.insert(id) }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the clock forward by `duration` and wakes the sleepers whose
    /// deadline it reached, earliest first. (It never moves back: a negative
    /// `duration` does nothing.)
    public func advance(by duration: Duration) {
        advance(to: now.advanced(by: duration))
    }

    /// Moves the clock to `instant` (if it is later than now) and wakes the
    /// sleepers whose deadline it reached, earliest first.
    public func advance(to instant: Instant) {
        let woken = state.withLock { state -> [Sleeper] in
            guard instant > state.now else { return [] }
            state.now = instant
            let due = state.sleepers.filter { $0.value.deadline <= instant }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }
}
