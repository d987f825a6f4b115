/// A message a turn will send once it commits. Stored in the turn's dedup
/// record, so a redelivered message re-publishes exactly the same messages.
package struct OutgoingMessage: Codable, Sendable, Equatable {
    package enum Destination: Codable, Sendable, Equatable {
        /// To an actor, through `greenroom.actors`.
        case actor(ActorAddress)
        /// A reply, to the sender's reply-to queue.
        case reply(queue: String, correlationID: String?)
    }

    package var destination: Destination
    package var kind: String
    package var payload: [UInt8]
    /// Derived from the incoming message id and the send's index in the turn,
    /// so a re-published outbox carries the same ids and receivers dedupe it.
    package var id: String
    package var from: ActorAddress?
    /// Asks the receiving worker to create the target if it does not exist.
    package var spawnIfMissing: Bool = false
    /// The trace it continues: its turn's span, or the turn's incoming trace passed on.
    package var trace: TraceHeaders? = nil
}

/// Everything a turn does besides changing its own state.
package struct TurnEffects: Sendable {
    package var outbox: [OutgoingMessage] = []
    package var spawnedChildren: [ActorAddress] = []
    package var stopSelf = false
    /// Delayed sends, timers and reminders set or cancelled, in order (docs/TIME.md).
    package var schedule: [ScheduleOperation] = []
}

/// What a turn does to the actor's future: stored in its commit, in the
/// partition's due set, or discarded with the turn.
package enum ScheduleOperation: Sendable, Equatable {
    /// A delayed message, sent once when due.
    case deliver(DueEntry)
    /// Sets the timer or reminder `entry.schedule` (`timer:NAME`,
    /// `reminder:NAME`), replacing one of that name; `entry.id` is its generation.
    case set(DueEntry)
    /// Cancels the timer or reminder `field`, if there is one.
    case cancel(field: String)

    /// The operation with its due entry continuing `trace` (unless it has a trace of its own).
    package func continuing(_ trace: TraceHeaders) -> ScheduleOperation {
        switch self {
        case .deliver(var entry) where entry.trace == nil:
            entry.trace = trace
            return .deliver(entry)
        case .set(var entry) where entry.trace == nil:
            entry.trace = trace
            return .set(entry)
        default:
            return self
        }
    }
}
