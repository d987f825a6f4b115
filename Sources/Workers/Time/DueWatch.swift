import Foundation
import Synchronization

/// What a partition's owner knows of its due set's earliest time, and the
/// alarm its dispatcher sleeps on. Everything that adds an entry (a commit,
/// a client's delayed message stored) notes its time here, so the
/// dispatcher wakes when something is due, not by polling; a backstop
/// look every second covers what it cannot know (a commit whose reply was
/// lost). `cancel` wakes it for good.
final class DueWatch: Sendable {
    private struct State {
        var earliest: Int64?
        var sleeper: CheckedContinuation<Void, Never>?
        var sleepingUntil: Int64 = .max
        var rung = false
        var cancelled = false
    }

    private let state = Mutex(State())

    /// An entry is due at `due` (unix ms): wakes the dispatcher if it sleeps past it.
    func note(due: Int64) {
        let sleeper: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.earliest = min(state.earliest ?? .max, due)
            guard due < state.sleepingUntil else { return nil }
            state.rung = true
            defer { state.sleeper = nil }
            return state.sleeper
        }
        sleeper?.resume()
    }

    /// Wakes the dispatcher for good (its partition is gone).
    func cancel() {
        let sleeper: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.cancelled = true
            defer { state.sleeper = nil }
            return state.sleeper
        }
        sleeper?.resume()
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }

    /// Forgets what was noted up to now and takes `earliest` (read from
    /// Redis) as the set's earliest time; returns the earliest known.
    func reset(to earliest: Int64?) -> Int64? {
        state.withLock { state in
            // A note that came in while Redis was read may be earlier than the reply.
            let noted = state.rung ? state.earliest : nil
            state.rung = false
            state.earliest = [earliest, noted].compactMap { $0 }.min()
            return state.earliest
        }
    }

    /// Sleeps until `until` (unix ms), or until a note earlier than that, or `cancel`.
    func sleep(until: Int64) async {
        await sleep(until: until, heedingNotes: true)
    }

    private func sleep(until: Int64, heedingNotes: Bool) async {
        let milliseconds = until - Self.now()
        guard milliseconds > 0 else { return }
        let timer = Task { [weak self] in
            // A timer cancelled (its sleep over) must not wake the next sleep.
            guard (try? await Task.sleep(for: .milliseconds(milliseconds))) != nil else { return }
            self?.wake()
        }
        defer { timer.cancel() }
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                // The timer may have fired before the continuation was here.
                if (heedingNotes && state.rung) || state.cancelled || Self.now() >= until { return true }
                state.sleeper = continuation
                // A pause is woken by no note: none is earlier than .min.
                state.sleepingUntil = heedingNotes ? until : .min
                return false
            }
            if resumeNow { continuation.resume() }
        }
        state.withLock { $0.sleepingUntil = .max }
    }

    private func wake() {
        let sleeper: CheckedContinuation<Void, Never>? = state.withLock { state in
            defer { state.sleeper = nil }
            return state.sleeper
        }
        sleeper?.resume()
    }

    /// Pauses until `until` (unix ms), or `cancel`, whatever is noted
    /// meanwhile: the dispatcher's gap between rounds, after which it reads
    /// Redis anyway (so what was noted during the pause is found there).
    func pause(until: Int64) async {
        await sleep(until: until, heedingNotes: false)
    }

    /// Now in unix ms, rounded down: an entry due at D is taken only once
    /// the clock has reached D, never up to half a millisecond before.
    static func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000).rounded(.down)) }
}
