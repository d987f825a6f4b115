/// A message a turn will send once it commits. Stored in the turn's dedup
/// record, so a redelivered message re-publishes exactly the same messages.
struct OutgoingMessage: Codable, Sendable, Equatable {
    enum Destination: Codable, Sendable, Equatable {
        /// To an actor, through `greenroom.actors`.
        case actor(ActorAddress)
        /// A reply, to the sender's reply-to queue.
        case reply(queue: String, correlationID: String?)
    }

    var destination: Destination
    var kind: String
    var payload: [UInt8]
    /// Derived from the incoming message id and the send's index in the turn,
    /// so a re-published outbox carries the same ids and receivers dedupe it.
    var id: String
    var from: ActorAddress?
    /// Asks the receiving worker to create the target if it does not exist.
    var spawnIfMissing: Bool = false
}

/// Everything a turn does besides changing its own state.
struct TurnEffects: Sendable {
    var outbox: [OutgoingMessage] = []
    var spawnedChildren: [ActorAddress] = []
    var stopSelf = false
}
