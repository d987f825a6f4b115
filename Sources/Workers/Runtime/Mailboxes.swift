import Synchronization

/// Per-actor mailboxes: each actor's messages run strictly one at a time, in
/// arrival order, while different actors run concurrently — at most
/// `concurrency` turns at once across the worker.
///
/// Swift's `actor` alone would not give this: an actor is re-entrant at every
/// `await`, so two messages for one Greenroom actor could interleave inside a
/// handler. Here each non-empty mailbox has a single drain task that awaits
/// each turn to the end before starting the next.
///
/// The bookkeeping is a mutex, not an `actor`: enqueueing and finishing a
/// turn are a few dictionary operations, and an actor hop for each (several
/// per message) cost more CPU than the work (see BENCHMARKS.md).
final class Mailboxes: Sendable {
    typealias Turn = @Sendable () async -> Void

    private struct State {
        var pending: [ActorAddress: [Turn]] = [:]
        var inFlight = 0
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let permits: TurnPermits

    init(concurrency: Int) {
        permits = TurnPermits(count: concurrency)
    }

    /// Queues `turn` behind the actor's earlier ones.
    func enqueue(_ address: ActorAddress, _ turn: @escaping Turn) {
        let startDrain = state.withLock { state -> Bool in
            state.inFlight += 1
            if state.pending[address] != nil {
                state.pending[address]!.append(turn)
                return false
            }
            state.pending[address] = []
            return true
        }
        guard startDrain else { return }
        let permits = permits
        Task {
            var next: Turn? = turn
            while let current = next {
                await permits.acquire()
                await current()
                permits.release()
                next = self.finishOne(address)
            }
        }
    }

    /// Marks one turn done; returns the actor's next turn, or nil (and closes
    /// the mailbox) when it has none.
    private func finishOne(_ address: ActorAddress) -> Turn? {
        let (next, waiters): (Turn?, [CheckedContinuation<Void, Never>]) = state.withLock { state in
            state.inFlight -= 1
            var waiters: [CheckedContinuation<Void, Never>] = []
            if state.inFlight == 0 {
                waiters = state.idleWaiters
                state.idleWaiters.removeAll()
            }
            guard var queue = state.pending[address], !queue.isEmpty else {
                state.pending[address] = nil
                return (nil, waiters)
            }
            let next = queue.removeFirst()
            state.pending[address] = queue
            return (next, waiters)
        }
        for waiter in waiters { waiter.resume() }
        return next
    }

    /// Whether the actor has a turn queued or running here.
    func isBusy(_ address: ActorAddress) -> Bool {
        state.withLock { $0.pending[address] != nil }
    }

    /// Turns queued or running.
    var count: Int { state.withLock { $0.inFlight } }

    /// Returns once no turn is queued or running.
    func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state in
                if state.inFlight == 0 { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}

/// A counting semaphore for async code: bounds how many turns run at once.
/// Taking a free permit does not suspend.
final class TurnPermits: Sendable {
    private let state: Mutex<(available: Int, waiters: [CheckedContinuation<Void, Never>])>

    init(count: Int) {
        state = Mutex((max(1, count), []))
    }

    func acquire() async {
        let taken = state.withLock { state in
            guard state.available > 0 else { return false }
            state.available -= 1
            return true
        }
        if taken { return }
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state in
                // A permit may have come back between the two locks.
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }
}
