import Foundation
import Synchronization
import Workers

/// The in-memory actors behind `TestSystem` and `BehaviorTest`. A turn runs
/// through the runtime's own pieces — `HostedType.runSequence` (state
/// decoding, the copy the handler works on, stop), `TurnContext` (the
/// effects), `RetryPolicy.verdict` and `delay(after:)`, `RefusalReason` and
/// `ChildFailed.notice` — around an actor table and a queue in memory in
/// place of Redis and RabbitMQ.
///
/// One delivery runs at a time. The queue is in arrival order; an actor's
/// next message is the first of its messages in the queue, so messages
/// from one sender arrive in the order sent, and a message waiting for a
/// retry holds up its actor's later ones (not other actors'). Retries wait
/// on the `TestClock`; `run` moves the clock to the next one when nothing
/// else can run. Delayed sends, timers and reminders wait in `World.due`
/// (the partition's due set) until the clock reaches them
/// (`KitRuntime+Time.swift`).
final class KitRuntime: Sendable {
    /// Where a turn's messages to actors go.
    enum Routing: Sendable {
        /// Into the queue, to be delivered (`TestSystem`).
        case deliver
        /// Nowhere: kept in `World.outbox` (`BehaviorTest`: one actor only).
        /// Spawned children are entered in the table as live, so
        /// `children()`, `exists` and `find` answer as they will once the
        /// spawns arrive; a stop marks them stopped.
        case keep
    }

    struct Actor {
        var active: Bool
        var parent: ActorAddress?
        var state: [UInt8]
        var decoded: (any Sendable)?
        var children: [ActorAddress] = []
        /// Its timers and reminders: `timer:NAME` / `reminder:NAME` → generation.
        var schedules: [String: String] = [:]
    }

    struct Delivery: Sendable {
        var target: ActorAddress
        var message: Message
        var spawnIfMissing = false
        /// The correlation id of a caller waiting for the answer.
        var asker: String?
        var failedAttempts = 0
        var due: TestClock.Instant
    }

    /// What a waiting caller hears: a reply, or why the message was dead-lettered.
    enum Answer: Sendable {
        case reply(TestReply)
        case refused(String)
    }

    struct World {
        var types: [String: HostedType] = [:]
        var actors: [ActorAddress: Actor] = [:]
        var pending: [Delivery] = []
        var deadLetters: [TestDeadLetter] = []
        var records: [TurnRecord] = []
        var answers: [String: Answer] = [:]
        /// Messages that left the actors and were not delivered (`.keep`).
        var outbox: [TestMessage] = []
        /// Delayed sends, timers and reminders not yet fired (the due set).
        var due: [DueEntry] = []
        var nextID = 0

        /// When the earliest mailbox head is due (a later message of an
        /// actor waits for its head, however early it arrived).
        var nextDue: TestClock.Instant? {
            var seen = Set<ActorAddress>()
            return pending.filter { seen.insert($0.target).inserted }.map(\.due).min()
        }
    }

    static let replyQueue = "greenroom.test-kit"

    let clock: TestClock
    let routing: Routing
    let world = Mutex(World())
    private let gate = TurnGate()

    init(clock: TestClock, routing: Routing) {
        self.clock = clock
        self.routing = routing
    }

    // MARK: - Set-up and sending

    /// Hosts `type`. Turns have no deadline here: it would be real time.
    func host(_ type: HostedType) {
        var type = type
        type.turnDeadline = .zero
        world.withLock { $0.types[type.typeName] = type }
    }

    /// Queues a message; returns its id.
    @discardableResult
    func enqueue(to target: ActorAddress, kind: String, payload: [UInt8], from sender: ActorAddress? = nil,
                 spawnIfMissing: Bool = false, asker: String? = nil) -> String {
        world.withLock { world in
            world.nextID += 1
            let id = "test-\(world.nextID)"
            let message = Message(kind: kind, payload: payload, id: id, sender: sender,
                                  replyTo: asker == nil ? nil : Self.replyQueue, correlationID: asker)
            world.pending.append(Delivery(target: target, message: message, spawnIfMissing: spawnIfMissing, asker: asker, due: clock.now))
            return id
        }
    }

    /// A fresh correlation id for a caller that waits for an answer.
    func newAsker() -> String {
        world.withLock { world in
            world.nextID += 1
            return "ask-\(world.nextID)"
        }
    }

    /// Runs `body` while no other caller drives the actors; throws first if
    /// a hosted type cannot be hosted (as a worker would refuse to start).
    func driving<T>(_ body: () async throws -> T) async throws -> T {
        if let faulty = world.withLock({ $0.types.values.lazy.compactMap(\.hostingError).first }) { throw faulty }
        return try await gate.holding(body)
    }

    // MARK: - Running

    /// Runs turns until `done` holds or nothing is left to run, moving the
    /// clock to the next retry whenever nothing else can run (`stepping`),
    /// through the due entries before it, each at its time. What the clock
    /// reached fires first (`fireDue`). Without `stepping` the clock stays:
    /// the run ends when nothing due now is left.
    func run(maximumTurns: Int = 100_000, stepping: Bool = true, until done: (borrowing World) -> Bool) async throws {
        var turns = 0
        while !world.withLock({ done($0) }) {
            try Task.checkCancellation()
            fireDue()
            if await runNext() {
                turns += 1
                if turns >= maximumTurns {
                    let waiting = world.withLock { $0.pending.prefix(3).map { "\($0.message.kind) to \($0.target)" } }
                    throw TestKitError("still running after \(maximumTurns) turns (do actors send each other messages forever?); waiting: \(waiting.joined(separator: ", "))")
                }
                continue
            }
            guard stepping, let due = world.withLock({ $0.nextDue }) else { return }
            clock.advance(to: min(due, nextFiring() ?? due))
        }
    }

    /// Runs the first delivery that is at the head of its actor's mailbox
    /// and due; false if there is none.
    private func runNext() async -> Bool {
        let now = clock.now
        let picked = world.withLock { world -> (Int, Delivery)? in
            var seen = Set<ActorAddress>()
            for (index, delivery) in world.pending.enumerated() where seen.insert(delivery.target).inserted {
                if delivery.due <= now { return (index, world.pending.remove(at: index)) }
            }
            return nil
        }
        guard let (index, delivery) = picked else { return false }
        await turn(delivery, at: index)
        return true
    }
}
