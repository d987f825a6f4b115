/// An actor as stored in Redis: registry entry and state in one hash.
struct ActorRecord: Sendable, Equatable {
    enum Status: String, Sendable {
        case active, stopped
    }

    var status: Status
    var parent: ActorAddress?
    /// Bumped by every committed turn; 0 means the actor never existed.
    var version: Int64
    /// The state as JSON. Setting it forgets `decoded`.
    var state: [UInt8] {
        didSet { decoded = nil }
    }
    /// The same state as the behaviour's own value, kept by the activation
    /// cache so a cached actor's next batch need not decode the JSON again.
    var decoded: (any Sendable)?
    /// Its timers and reminders: `timer:NAME` / `reminder:NAME` → the
    /// generation set last, whose entry waits in the due set (docs/TIME.md).
    var schedules: [String: String] = [:]

    init(status: Status, parent: ActorAddress?, version: Int64, state: [UInt8], decoded: (any Sendable)? = nil,
         schedules: [String: String] = [:]) {
        self.status = status
        self.parent = parent
        self.version = version
        self.state = state
        self.decoded = decoded
        self.schedules = schedules
    }

    static let missing = ActorRecord(status: .stopped, parent: nil, version: 0, state: [])

    /// Records are equal when what is stored is equal (`decoded` is a cache).
    static func == (left: ActorRecord, right: ActorRecord) -> Bool {
        left.status == right.status && left.parent == right.parent && left.version == right.version && left.state == right.state
            && left.schedules == right.schedules
    }

    var exists: Bool { version > 0 }
    var isActive: Bool { exists && status == .active }
}
