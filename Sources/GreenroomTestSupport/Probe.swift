import Synchronization
import Workers
#if canImport(Glibc)
import Glibc
#endif

/// `probe`: for tests of the runtime's guarantees. `touch {"seq": N}` records
/// that the actor was entered and left (and notices if two turns of one actor
/// ever overlap), and the sequence numbers it saw, in order; `report` replies
/// with what it saw. `fail {"times": N}` throws on its first N attempts (for
/// retry tests; N larger than the retry budget dead-letters it), and when an
/// attempt succeeds it replies `{"attempts": N, "atMicroseconds": [t1, …]}`:
/// when each attempt of that message started in this process (monotonic
/// clock), so a test can check the retry gaps of a real worker; `adopt
/// {"id": ID}` spawns a child probe, whose failures arrive as `child-failed`.
/// More for tests: `touch {"mark": PATH}` creates the file PATH when the
/// turn starts (a test can see that a worker process is inside a turn, e.g.
/// to freeze it there); `send {"to": "T/ID", "kind": K}` sends `{}` to any
/// address (e.g. one of a type nobody hosts); `trap` kills the process with a
/// trap, like a bug in a handler would (for poison-message tests). A touch's
/// pause is at most `maximumPauseMicroseconds` (10 minutes); longer is refused.
///
/// Probe is written in the string style on purpose: it is the example of the
/// escape hatch (`Behavior.handle` with a switch on `message.kind`, see
/// docs/ACTORS.md), for what typed messages do not express — `send` chooses
/// the kind it sends at run time, and `fail` counts attempts by the
/// incoming message's id. Behaviours with a fixed set of messages use
/// `TypedBehavior` (the built-ins in Sources/Workers/BuiltIn).
public struct Probe: Behavior {
    public struct State: Codable, Sendable, Equatable {
        public var touches = 0
        public var lastSeq = -1
        public var outOfOrder = 0
        public var failures = 0
        /// Messages received from timers, reminders and delayed sends (`tick`), in order.
        public var fired: [Fired]? = nil
    }

    public struct Report: Codable, Sendable, Equatable {
        public var touches: Int
        public var lastSeq: Int
        public var outOfOrder: Int
        /// Overlapping turns seen in this process, by any probe of this
        /// actor's type (tests give each run its own type name, so a test
        /// sees only its own overlaps).
        public var overlaps: Int
        /// `child-failed` messages received.
        public var childFailures: Int
    }

    struct Touch: Decodable {
        var seq: Int?
        var pauseMicroseconds: Int?
        var mark: String?
    }

    struct Fail: Decodable {
        var times: Int
    }

    /// The reply of a `fail` that finally succeeded.
    public struct Attempts: Codable, Sendable, Equatable {
        public var attempts: Int
        /// When each attempt started, in µs of this process's monotonic clock.
        public var atMicroseconds: [Int64]
    }

    struct Send: Decodable {
        var to: ActorAddress
        var kind: String
    }

    public static let typeName = "probe"
    public static let maximumPauseMicroseconds = 600_000_000
    public static let initialState = State()

    /// Actors currently inside a turn in this process, and overlaps seen,
    /// by actor type: process-wide, but scoped so tests running side by side
    /// under different type names never see each other's.
    static let inside = Mutex<(active: Set<ActorAddress>, overlaps: [String: Int])>(([], [:]))

    public init() {}

    public func handle(_ message: Message, state: inout State, context: TurnContext) async throws {
        switch message.kind {
        case "touch":
            let touch = try message.decode(Touch.self)
            if let pause = touch.pauseMicroseconds, pause > Self.maximumPauseMicroseconds {
                throw MessageRejected("pauseMicroseconds \(pause) is over the limit of \(Self.maximumPauseMicroseconds)")
            }
            if let mark = touch.mark {
                let file = open(mark, O_WRONLY | O_CREAT, 0o644)
                if file >= 0 { close(file) }
            }
            Self.inside.withLock { inside in
                if !inside.active.insert(context.address).inserted { inside.overlaps[context.address.type, default: 0] += 1 }
            }
            // Yield (and optionally pause) while "inside", so an overlap would show.
            if let pause = touch.pauseMicroseconds, pause > 0 {
                try await Task.sleep(for: .microseconds(pause))
            } else {
                await Task.yield()
            }
            Self.inside.withLock { _ = $0.active.remove(context.address) }
            state.touches += 1
            if let seq = touch.seq {
                if seq <= state.lastSeq { state.outOfOrder += 1 }
                state.lastSeq = seq
            }
        case "report":
            let overlaps = Self.inside.withLock { $0.overlaps[context.address.type, default: 0] }
            try context.reply(Report(touches: state.touches, lastSeq: state.lastSeq, outOfOrder: state.outOfOrder, overlaps: overlaps, childFailures: state.failures))
        case "fail":
            let fail = try message.decode(Fail.self)
            // Failed turns change nothing, so attempts are counted outside the state.
            let key = AttemptKey(type: context.address.type, messageID: message.id)
            let attempt = Self.attempts.withLock { attempts in
                attempts[key, default: 0] += 1
                return attempts[key]!
            }
            let startedAt = Self.attemptTimes.withLock { times in
                times[key, default: []].append(Self.origin.duration(to: .now))
                return times[key]!
            }
            if attempt <= fail.times { throw ProbeFailure(attempt: attempt) }
            try context.reply(Attempts(attempts: attempt, atMicroseconds: startedAt.map { $0.components.seconds * 1_000_000 + $0.components.attoseconds / 1_000_000_000_000 }))
        case "send":
            let send = try message.decode(Send.self)
            try context.send(to: send.to, kind: send.kind, [String: String]())
        case "adopt":
            let child = try message.decode([String: String].self)
            guard let id = child["id"] else { throw MessageRejected("adopt takes {\"id\": …}") }
            try context.spawn(type: context.address.type, id: id, state: State())
        case "schedule":
            try schedule(try message.decode(Schedule.self), context: context)
        case "unschedule":
            let names = try message.decode([String: String].self)
            if let timer = names["timer"] { context.cancelTimer(timer) }
            if let reminder = names["reminder"] { context.cancelReminder(reminder) }
        case "tick":
            state.fired = (state.fired ?? []) + [Fired(message)]
        case "trap":
            fatalError("probe trap, as asked")
        case WireFormat.SystemKind.childFailed:
            state.failures += 1
        default:
            throw MessageRejected.unknownKind(message.kind)
        }
    }

    /// Attempts of each `fail` message, by actor type and message id, so a
    /// message id reused by another test (or another type) starts from zero.
    static let attempts = Mutex<[AttemptKey: Int]>([:])

    struct AttemptKey: Hashable {
        var type: String
        var messageID: String
    }
    /// When each attempt of a `fail` message started, by actor type and message id.
    static let attemptTimes = Mutex<[AttemptKey: [Duration]]>([:])
    static let origin = ContinuousClock.now

    struct ProbeFailure: Error, CustomStringConvertible {
        let attempt: Int
        var description: String { "probe failure on attempt \(attempt), as asked" }
    }
}
