/// The rules behind `Mailboxes`, with no tasks and no locks, so tests can
/// drive them with any order of events: each actor's items leave in the
/// order they came, in *runs* (everything the actor has waiting, up to
/// `maximumRun`), and an actor never has two runs out at once.
///
/// An actor's mailbox is open from its first item until a `take` finds it
/// empty. `enqueue` answers `true` exactly when it opened the mailbox: the
/// caller then starts the one drain for that actor, which calls `take`
/// again after each run has finished, until it gets an empty run.
struct MailboxAdmission<Item> {
    /// Waiting items of every open mailbox.
    private var waiting: [ActorAddress: [Item]] = [:]
    /// Actors whose drain holds a run right now.
    private(set) var running: Set<ActorAddress> = []
    /// Items queued or in a run not yet finished.
    private(set) var count = 0
    let maximumRun: Int

    init(maximumRun: Int) {
        self.maximumRun = max(1, maximumRun)
    }

    /// Queues `item` behind `actor`'s earlier ones; `true` when this opened
    /// the actor's mailbox (start its drain).
    mutating func enqueue(_ item: Item, for actor: ActorAddress) -> Bool {
        count += 1
        if waiting[actor] != nil {
            waiting[actor]!.append(item)
            return false
        }
        waiting[actor] = [item]
        return true
    }

    /// The actor's next run, oldest first. Empty when nothing waits: the
    /// mailbox is then closed and the drain must end.
    ///
    /// - Precondition: the actor's previous run has `finish`ed.
    mutating func take(_ actor: ActorAddress) -> [Item] {
        precondition(!running.contains(actor), "two runs of \(actor) at once")
        guard var queue = waiting[actor], !queue.isEmpty else {
            waiting[actor] = nil
            return []
        }
        let run = Array(queue.prefix(maximumRun))
        queue.removeFirst(run.count)
        waiting[actor] = queue
        running.insert(actor)
        return run
    }

    /// The actor's run of `items` items is over (each settled or abandoned).
    mutating func finish(_ actor: ActorAddress, items: Int) {
        running.remove(actor)
        count -= items
    }

    /// Whether `actor` has an open mailbox.
    func isOpen(_ actor: ActorAddress) -> Bool { waiting[actor] != nil }
}
