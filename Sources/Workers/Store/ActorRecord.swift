/// An actor as stored in Redis: registry entry and state in one hash.
struct ActorRecord: Sendable, Equatable {
    enum Status: String, Sendable {
        case active, stopped
    }

    var status: Status
    var parent: ActorAddress?
    /// Bumped by every committed turn; 0 means the actor never existed.
    var version: Int64
    /// The state as JSON.
    var state: [UInt8]

    static let missing = ActorRecord(status: .stopped, parent: nil, version: 0, state: [])

    var exists: Bool { version > 0 }
    var isActive: Bool { exists && status == .active }
}
