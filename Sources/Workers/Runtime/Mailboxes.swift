import Synchronization

/// Per-actor mailboxes: each actor's messages run one run at a time, in
/// arrival order, while different actors run concurrently. The rules are
/// `MailboxAdmission`'s; this type adds the lock and the drain tasks. (How
/// many behaviours execute at once is bounded where they execute, by the
/// pipeline's `TurnPermits`; a run waiting for its commit holds none.)
///
/// Swift's `actor` alone would not give this: an actor is re-entrant at every
/// `await`, so two messages for one Greenroom actor could interleave inside a
/// handler. Here each open mailbox has a single drain task that awaits each
/// run to its end before taking the next.
final class Mailboxes<Item: Sendable>: Sendable {
    typealias Process = @Sendable (_ actor: ActorAddress, _ run: [Item]) async -> Void

    private struct State {
        var admission: MailboxAdmission<Item>
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>
    private let process: Process

    init(maximumRun: Int, process: @escaping Process) {
        state = Mutex(State(admission: MailboxAdmission(maximumRun: maximumRun)))
        self.process = process
    }

    /// Queues many items, each behind its actor's earlier ones, under one
    /// lock: a drain started here finds all of its actor's items of the
    /// batch waiting, so they run (and commit) as one group.
    func enqueue(contentsOf items: [(Item, ActorAddress)]) {
        let opened: [ActorAddress] = state.withLock { state in
            items.compactMap { item, actor in state.admission.enqueue(item, for: actor) ? actor : nil }
        }
        for actor in opened { Task { await self.drain(actor) } }
    }

    private func drain(_ actor: ActorAddress) async {
        while true {
            let run = state.withLock { $0.admission.take(actor) }
            if run.isEmpty { return }
            await process(actor, run)
            let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
                state.admission.finish(actor, items: run.count)
                guard state.admission.count == 0 else { return [] }
                defer { state.idleWaiters.removeAll() }
                return state.idleWaiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    /// Items queued or running.
    var count: Int { state.withLock { $0.admission.count } }

    /// Returns once no item is queued or running.
    func waitUntilIdle() async {
        await withCheckedContinuation { continuation in
            let idle = state.withLock { state in
                if state.admission.count == 0 { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }
}

/// A counting semaphore for async code: bounds how many runs go at once.
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

    /// Runs `body` holding a permit.
    func holding<T>(_ body: () async throws -> T) async rethrows -> T {
        await acquire()
        defer { release() }
        return try await body()
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
