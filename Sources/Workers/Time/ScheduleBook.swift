/// An actor's timers and reminders — its `schedules` field, name →
/// generation — and what turns change in the due set: the one place that
/// decides what setting, cancelling, firing and stopping do to them
/// (docs/TIME.md). `TurnPlan` writes the outcome into its commit; the test
/// kit keeps it in memory.
package struct ScheduleBook: Sendable, Equatable {
    /// `timer:NAME` / `reminder:NAME` → the generation set last.
    package private(set) var generations: [String: String]
    /// Entries to add to the due set, in order.
    package private(set) var added: [DueEntry] = []
    /// Entry ids to remove from the due set (cancelled or replaced).
    package private(set) var removed: [String] = []
    /// Whether `generations` changed (the `schedules` field is written).
    package private(set) var changed = false

    package init(_ generations: [String: String]) {
        self.generations = generations
    }

    /// Whether `firing` is of the generation set last: a firing of a timer
    /// or reminder cancelled or set again since is void (acked, not run).
    package func isCurrent(_ firing: ScheduleFiring) -> Bool {
        generations[firing.field] == firing.generation
    }

    /// One schedule operation of an applied turn.
    package mutating func apply(_ operation: ScheduleOperation) {
        switch operation {
        case .deliver(let entry):
            added.append(entry)
        case .set(let entry):
            guard let field = entry.schedule else { return }
            forget(field)
            generations[field] = entry.id
            added.append(entry)
            changed = true
        case .cancel(let field):
            forget(field)
        }
    }

    /// A current firing ran: a timer is gone, a reminder stays.
    package mutating func ran(_ firing: ScheduleFiring) {
        if !firing.isReminder { forget(firing.field) }
    }

    /// The actor stopped: every timer and reminder goes.
    package mutating func clear() {
        for field in generations.keys.sorted() { forget(field) }
    }

    /// Drops the timer or reminder `field`, and its waiting entry, if it has one.
    package mutating func forget(_ field: String) {
        guard let generation = generations.removeValue(forKey: field) else { return }
        removed.append(generation)
        changed = true
    }
}
