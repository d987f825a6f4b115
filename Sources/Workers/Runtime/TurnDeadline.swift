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
        var failure: (any Error)? = nil
    }

    /// `turn(index, &state)` runs turn `index` and returns whether the next
    /// one may follow (false: the actor stopped itself).
    static func run<State: Sendable>(
        from initial: State, turns: Int, deadline: Duration,
        _ turn: @escaping @Sendable (_ index: Int, _ state: inout State) async throws -> Bool
    ) async -> Outcome<State> {
        guard deadline > .zero else { return await runTurns(from: initial, turns: turns, turn) }
        let watch = Watch(initial, deadline: deadline)
        let work = Task {
            let outcome = await runTurns(from: initial, turns: turns, turn) { completed, state in watch.completed(completed, state) }
            watch.finish(failure: outcome.failure)
        }
        watch.attach(work)
        Watchdog.shared.add(watch)
        let outcome = await withCheckedContinuation { watch.park($0) }
        Watchdog.shared.remove(watch)
        return outcome
    }

    /// Runs the turns one after another in the calling task, each on a copy
    /// of the state. `didComplete(count, state)` hears of every completed
    /// turn and may end the run (false: the sequence was decided without it).
    /// Alone (a deadline of zero: none) nothing watches them: the cheapest
    /// path, for behaviours that cannot hang; BENCHMARKS.md has the cost.
    private static func runTurns<State: Sendable>(
        from initial: State, turns: Int,
        _ turn: @Sendable (_ index: Int, _ state: inout State) async throws -> Bool,
        didComplete: (_ count: Int, _ state: State) -> Bool = { _, _ in true }
    ) async -> Outcome<State> {
        var state = initial
        for index in 0..<turns {
            var next = state
            do {
                let goOn = try await turn(index, &next)
                state = next
                if !didComplete(index + 1, state) || !goOn { return Outcome(completed: index + 1, state: state) }
            } catch {
                return Outcome(completed: index, state: state, failure: error)
            }
        }
        return Outcome(completed: turns, state: state)
    }

    /// A sequence the watchdog can give up on.
    protocol Expiring: AnyObject, Sendable {
        /// Decides the sequence as failed if its running turn started at
        /// least its deadline before `now`; true if it did.
        func expireIfLate(now: ContinuousClock.Instant) -> Bool
    }

    /// One task for the whole process looks for late turns, ten times a
    /// second, while any run is watched: a timer task per run cost twice as
    /// much worker CPU in `enqueue bench`.
    final class Watchdog: Sendable {
        static let shared = Watchdog()
        static let tick: Duration = .milliseconds(100)

        private let watched = Mutex<(sequences: [ObjectIdentifier: any Expiring], ticking: Bool)>(([:], false))

        func add(_ sequence: any Expiring) {
            let start = watched.withLock { watched in
                watched.sequences[ObjectIdentifier(sequence)] = sequence
                defer { watched.ticking = true }
                return !watched.ticking
            }
            if start { Task { await self.patrol() } }
        }

        func remove(_ sequence: any Expiring) {
            watched.withLock { _ = $0.sequences.removeValue(forKey: ObjectIdentifier(sequence)) }
        }

        /// Ticks while anything is watched; ends when nothing is.
        private func patrol() async {
            while true {
                try? await Task.sleep(for: Self.tick)
                let sequences: [any Expiring]? = watched.withLock { watched in
                    if watched.sequences.isEmpty {
                        watched.ticking = false
                        return nil
                    }
                    return Array(watched.sequences.values)
                }
                guard let sequences else { return }
                let now = ContinuousClock.now
                for sequence in sequences where sequence.expireIfLate(now: now) { remove(sequence) }
            }
        }
    }

    /// The progress of one sequence, shared by its work, the watchdog and its waiter.
    private final class Watch<State: Sendable>: Expiring {
        private struct Progress {
            var completed = 0
            var state: State
            var turnStarted = ContinuousClock.now
            var outcome: Outcome<State>?
            var waiter: CheckedContinuation<Outcome<State>, Never>?
        }

        private let progress: Mutex<Progress>
        private let deadline: Duration
        private let work = Mutex<Task<Void, Never>?>(nil)

        init(_ state: State, deadline: Duration) {
            progress = Mutex(Progress(state: state))
            self.deadline = deadline
        }

        /// The task running the turns, cancelled if the sequence is given up on.
        func attach(_ task: Task<Void, Never>) {
            work.withLock { $0 = task }
        }

        func expireIfLate(now: ContinuousClock.Instant) -> Bool {
            let expired = decide { progress in
                guard progress.turnStarted.advanced(by: deadline) <= now else { return nil }
                return Outcome(completed: progress.completed, state: progress.state, failure: TurnDeadlineExceeded(deadline: deadline))
            }
            if expired { work.withLock { $0 }?.cancel() }
            return expired
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
