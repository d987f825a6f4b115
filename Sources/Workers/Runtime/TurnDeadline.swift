import Synchronization

/// A turn that ran past its deadline. It counts as a failed attempt: retried
/// per the type's retry policy, then dead-lettered with this reason.
public struct TurnDeadlineExceeded: Error, CustomStringConvertible, Sendable {
    public let deadline: Duration

    public var description: String {
        "the turn did not finish within its deadline of \(deadline); the runtime stopped waiting for it"
    }
}

/// Runs one actor's turns in order, in a task of their own, and stops
/// waiting when one turn runs past `deadline`: the turns completed before it
/// count, the late one fails with `TurnDeadlineExceeded`.
///
/// Swift cannot kill a task. The abandoned one is cancelled and left to end
/// on its own; whatever it does afterwards is never applied (it works on a
/// copy of the state, and its effects are dropped). It holds no concurrency
/// permit: the permit is returned when the run stops waiting, so a behaviour
/// that ignores cancellation and never returns keeps a thread of the
/// cooperative pool busy, but not its actor's mailbox nor its partition.
enum TurnDeadline {
    struct Outcome<State: Sendable>: Sendable {
        var completed: Int
        var state: State
        var failure: (any Error)?
    }

    /// `turn(index, &state)` runs turn `index` and returns whether the next
    /// one may follow (false: the actor stopped itself).
    static func run<State: Sendable>(
        from initial: State, turns: Int, deadline: Duration,
        _ turn: @escaping @Sendable (_ index: Int, _ state: inout State) async throws -> Bool
    ) async -> Outcome<State> {
        let watch = Watch(initial)
        let work = Task {
            var state = initial
            for index in 0..<turns {
                var next = state
                do {
                    let goOn = try await turn(index, &next)
                    state = next
                    guard watch.completed(index + 1, state), goOn else { break }
                } catch {
                    watch.finish(failure: error)
                    return
                }
            }
            watch.finish(failure: nil)
        }
        let timer = Task {
            while let started = watch.currentTurnStarted {
                try await Task.sleep(until: started.advanced(by: deadline))
                if watch.expire(turnStartedAt: started, TurnDeadlineExceeded(deadline: deadline)) {
                    work.cancel()
                    return
                }
            }
        }
        let outcome = await withCheckedContinuation { watch.park($0) }
        timer.cancel()
        return outcome
    }

    /// The progress of one sequence, shared by its work, its timer and its waiter.
    private final class Watch<State: Sendable>: Sendable {
        private struct Progress {
            var completed = 0
            var state: State
            var turnStarted = ContinuousClock.now
            var outcome: Outcome<State>?
            var waiter: CheckedContinuation<Outcome<State>, Never>?
        }

        private let progress: Mutex<Progress>

        init(_ state: State) { progress = Mutex(Progress(state: state)) }

        /// When the running turn started; nil once the sequence is decided.
        var currentTurnStarted: ContinuousClock.Instant? {
            progress.withLock { $0.outcome == nil ? $0.turnStarted : nil }
        }

        /// Records a completed turn; false if the sequence was decided without it.
        func completed(_ count: Int, _ state: State) -> Bool {
            progress.withLock { progress in
                guard progress.outcome == nil else { return false }
                progress.completed = count
                progress.state = state
                progress.turnStarted = .now
                return true
            }
        }

        func finish(failure: (any Error)?) {
            decide { progress in Outcome(completed: progress.completed, state: progress.state, failure: failure) }
        }

        /// Decides the sequence as failed by `error` if the turn that started
        /// at `started` is still running; false if it moved on or ended.
        func expire(turnStartedAt started: ContinuousClock.Instant, _ error: any Error) -> Bool {
            decide { progress in
                guard progress.turnStarted == started else { return nil }
                return Outcome(completed: progress.completed, state: progress.state, failure: error)
            }
        }

        func park(_ continuation: CheckedContinuation<Outcome<State>, Never>) {
            let outcome: Outcome<State>? = progress.withLock { progress in
                if progress.outcome == nil { progress.waiter = continuation }
                return progress.outcome
            }
            if let outcome { continuation.resume(returning: outcome) }
        }

        @discardableResult
        private func decide(_ make: (Progress) -> Outcome<State>?) -> Bool {
            let (waiter, outcome): (CheckedContinuation<Outcome<State>, Never>?, Outcome<State>?) = progress.withLock { progress in
                guard progress.outcome == nil, let outcome = make(progress) else { return (nil, nil) }
                progress.outcome = outcome
                defer { progress.waiter = nil }
                return (progress.waiter, outcome)
            }
            guard let outcome else { return false }
            waiter?.resume(returning: outcome)
            return true
        }
    }
}
