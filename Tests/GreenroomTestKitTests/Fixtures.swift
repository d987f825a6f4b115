import GreenroomTestKit
import Synchronization
import Workers

/// The issue's `tally`, in the typed style.
struct Tally: TypedBehavior {
    struct State: Codable, Sendable, Equatable { var total = 0 }
    struct Add: ActorMessage {
        static let kind = "add"
        var by: Int
    }
    struct Get: ActorRequest {
        static let kind = "get"
        typealias Reply = State
    }
    /// Passes `by` on to `to` as an `add` (for ordering across senders).
    struct Forward: ActorMessage {
        static let kind = "forward"
        var to: ActorRef<Recorder>
        var seq: Int
    }

    static let typeName = "tally"
    static let initialState = State()

    let handlers = Handlers<Tally>()
        .on(Add.self) { add, state, _ in state.total += add.by }
        .on(Get.self) { _, state, _ in state }
        .on(Forward.self) { forward, _, context in
            try context.send(Recorder.Note(from: context.address.id, seq: forward.seq), to: forward.to)
        }
}

/// Keeps every note it gets, in arrival order.
struct Recorder: TypedBehavior {
    struct State: Codable, Sendable, Equatable { var notes: [Note] = [] }
    struct Note: ActorMessage, Equatable {
        static let kind = "note"
        var from: String
        var seq: Int
    }

    static let typeName = "recorder"
    static let initialState = State()

    let handlers = Handlers<Recorder>()
        .on(Note.self) { note, state, _ in state.notes.append(note) }
}

/// Values appended from inside turns, for tests to read.
final class Log<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

/// Fails the first `failures` attempts at each `work` — after changing its
/// state and sending a message, which must then count for nothing.
struct Flaky: TypedBehavior {
    struct State: Codable, Sendable, Equatable { var handled: [Int] = [] }
    struct Work: ActorMessage {
        static let kind = "work"
        var seq: Int
        var failures = 0
    }
    struct Done: ActorMessage {
        static let kind = "done"
        var seq: Int
    }
    struct Quit: ActorMessage { static let kind = "quit" }
    struct Boom: Error, CustomStringConvertible {
        var attempt: Int
        var description: String { "boom on attempt \(attempt)" }
    }
    struct Attempt: Sendable, Equatable {
        var actor: String
        var seq: Int
        var at: TestClock.Instant
    }

    static let typeName = "flaky"
    static let initialState = State()

    let clock: TestClock
    let attempts = Log<Attempt>()

    var handlers: Handlers<Flaky> {
        Handlers<Flaky>()
            .on(Work.self) { [clock, attempts] work, state, context in
                attempts.append(Attempt(actor: context.address.id, seq: work.seq, at: clock.now))
                let attempt = attempts.all.filter { $0.actor == context.address.id && $0.seq == work.seq }.count
                state.handled.append(work.seq)
                try context.send(Done(seq: work.seq), to: context.address)
                if attempt <= work.failures { throw Boom(attempt: attempt) }
            }
            .on(Done.self) { _, _, _ in }
            .on(Quit.self) { _, _, context in context.stop() }
    }

    func seconds(_ actor: String, _ seq: Int) -> [Duration] {
        attempts.all.filter { $0.actor == actor && $0.seq == seq }.map(\.at.sinceStart)
    }
}

/// Spawns `flaky` children and keeps the `child-failed` notices it hears.
struct Parent: TypedBehavior {
    struct State: Codable, Sendable, Equatable {
        var children: [ActorAddress] = []
        var failures: [ChildFailed] = []
    }
    struct Adopt: ActorMessage {
        static let kind = "adopt"
        var id: String
    }
    /// Stops this parent; first spawns `adopting`, if given, in the same turn.
    struct Retire: ActorMessage {
        static let kind = "retire"
        var adopting: String?
    }
    struct Failures: ActorRequest {
        static let kind = "failures"
        typealias Reply = [ChildFailed]
    }

    static let typeName = "parent"
    static let initialState = State()

    let handlers = Handlers<Parent>()
        .on(Adopt.self) { adopt, state, context in
            state.children.append(try context.spawn(Flaky.self, id: adopt.id).address)
        }
        .on(ChildFailed.self) { failed, state, _ in state.failures.append(failed) }
        .on(Failures.self) { _, state, _ in state.failures }
        .on(Retire.self) { retire, state, context in
            if let id = retire.adopting { state.children.append(try context.spawn(Flaky.self, id: id).address) }
            context.stop()
        }
}

/// Written wrong: two handlers for `add`.
struct Twice: TypedBehavior {
    struct State: Codable, Sendable { var total = 0 }
    struct Add: ActorMessage {
        static let kind = "add"
        var by: Int
    }
    struct Plus: ActorMessage {
        static let kind = "add"
        var by: Int
    }

    static let typeName = "twice"
    static let initialState = State()

    let handlers = Handlers<Twice>()
        .on(Add.self) { add, state, _ in state.total += add.by }
        .on(Plus.self) { add, state, _ in state.total += add.by }
}

/// Counts how many of its turns run at once: each yields a few times midway.
struct Overlap: TypedBehavior {
    struct State: Codable, Sendable { var turns = 0 }
    struct Touch: ActorRequest {
        static let kind = "touch"
        typealias Reply = Int
    }

    static let typeName = "overlap"
    static let initialState = State()

    let running = Log<Int>()
    let peaks = Log<Int>()

    var handlers: Handlers<Overlap> {
        Handlers<Overlap>().on(Touch.self) { [running, peaks] _, state, _ in
            running.append(1)
            peaks.append(running.all.reduce(0, +))
            for _ in 0..<5 { await Task.yield() }
            running.append(-1)
            state.turns += 1
            return state.turns
        }
    }
}
