/// Per-actor mailboxes: each actor's messages run strictly one at a time, in
/// arrival order, while different actors run concurrently — at most
/// `concurrency` turns at once across the worker.
///
/// Swift's `actor` alone would not give this: an actor is re-entrant at every
/// `await`, so two messages for one Greenroom actor could interleave inside a
/// handler. Here each mailbox has a single drain task that awaits each turn to
/// the end before starting the next.
actor Mailboxes {
    typealias Turn = @Sendable () async -> Void

    private var pending: [ActorAddress: [Turn]] = [:]
    private var inFlight = 0
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private let permits: TurnPermits

    init(concurrency: Int) {
        permits = TurnPermits(count: concurrency)
    }

    /// Queues `turn` behind the actor's earlier ones.
    func enqueue(_ address: ActorAddress, _ turn: @escaping Turn) {
        inFlight += 1
        if pending[address] != nil {
            pending[address]!.append(turn)
            return
        }
        pending[address] = []
        let permits = permits
        Task {
            var next: Turn? = turn
            while let current = next {
                await permits.acquire()
                await current()
                await permits.release()
                next = await self.finishOne(address)
            }
        }
    }

    /// Marks one turn done; returns the actor's next turn, or nil (and closes
    /// the mailbox) when it has none.
    private func finishOne(_ address: ActorAddress) -> Turn? {
        inFlight -= 1
        if inFlight == 0 {
            let waiters = idleWaiters
            idleWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
        guard var queue = pending[address], !queue.isEmpty else {
            pending[address] = nil
            return nil
        }
        let next = queue.removeFirst()
        pending[address] = queue
        return next
    }

    /// Turns queued or running.
    var count: Int { inFlight }

    /// Returns once no turn is queued or running.
    func waitUntilIdle() async {
        if inFlight == 0 { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }
}

/// A counting semaphore for async code: bounds how many turns run at once.
actor TurnPermits {
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(count: Int) {
        available = max(1, count)
    }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            available += 1
        } else {
            waiters.removeFirst().resume()
        }
    }
}
