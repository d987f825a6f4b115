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
/// else can run.
final class KitRuntime: ActorDirectory, Sendable {
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
    private let routing: Routing
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
    /// clock to the next retry whenever nothing else can run.
    func run(maximumTurns: Int = 100_000, until done: (borrowing World) -> Bool) async throws {
        var turns = 0
        while !world.withLock({ done($0) }) {
            try Task.checkCancellation()
            if await runNext() {
                turns += 1
                if turns >= maximumTurns {
                    let waiting = world.withLock { $0.pending.prefix(3).map { "\($0.message.kind) to \($0.target)" } }
                    throw TestKitError("still running after \(maximumTurns) turns (do actors send each other messages forever?); waiting: \(waiting.joined(separator: ", "))")
                }
                continue
            }
            guard let due = world.withLock({ $0.nextDue }) else { return }
            clock.advance(to: due)
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

    private enum Step {
        case settled
        case run(HostedType, state: [UInt8], decoded: (any Sendable)?, parent: ActorAddress?)
    }

    /// One attempt at one delivery, taken off the queue at `index`.
    private func turn(_ delivery: Delivery, at index: Int) async {
        let address = delivery.target
        let message = delivery.message
        let step = world.withLock { world -> Step in
            guard let type = world.types[address.type] else {
                deadLetter(delivery, RefusalReason.notHosted(type: address.type), attempts: 0, in: &world)
                return .settled
            }
            switch message.kind {
            case WireFormat.SystemKind.spawn:
                spawn(delivery, type: type, in: &world)
                return .settled
            case WireFormat.SystemKind.stop:
                guard world.actors[address]?.active == true else {
                    deadLetter(delivery, RefusalReason.notRunning(address), attempts: 0, in: &world)
                    return .settled
                }
                stop(address, by: message, spawnedNow: [], in: &world)
                answer(delivery, lifecycle: "stopped", in: &world)
                record(delivery, attempt: 0, outcome: .committed, in: &world)
                return .settled
            default:
                if let actor = world.actors[address], actor.active {
                    return .run(type, state: actor.state, decoded: actor.decoded, parent: actor.parent)
                }
                guard delivery.spawnIfMissing, world.actors[address] == nil else {
                    deadLetter(delivery, RefusalReason.doesNotExist(address), attempts: 0, in: &world)
                    return .settled
                }
                do {
                    return .run(type, state: try type.initialState(), decoded: nil, parent: nil)
                } catch {
                    deadLetter(delivery, RefusalReason.cannotSpawn(address, error), attempts: 0, in: &world)
                    return .settled
                }
            }
        }
        guard case .run(let type, let state, let decoded, let parent) = step else { return }

        let context = TurnContext(address: address, parent: parent, message: message, directory: self)
        let outcome = await type.runSequence(state, decoded, [(message, context)])

        world.withLock { world in
            let attempt = delivery.failedAttempts + 1
            if outcome.completed == 1, let newState = outcome.state {
                let effects = context.collectedEffects
                var actor = world.actors[address] ?? Actor(active: true, parent: nil, state: newState)
                actor.state = newState
                actor.decoded = outcome.decoded
                for child in effects.spawnedChildren where !actor.children.contains(child) { actor.children.append(child) }
                world.actors[address] = actor
                for outgoing in effects.outbox { route(outgoing, in: &world) }
                if effects.stopSelf { stop(address, by: message, spawnedNow: effects.spawnedChildren, in: &world) }
                record(delivery, attempt: attempt, outcome: .committed, effects: effects, in: &world)
                return
            }
            let failure = outcome.failure ?? TestKitError("the turn ended without completing or failing")
            switch type.retry.verdict(on: failure, attempt: attempt) {
            case .rejected(let reason):
                deadLetter(delivery, reason, attempts: 1, error: failure, in: &world)
            case .exhausted(let reason, let attempts):
                deadLetter(delivery, reason, attempts: attempts, error: failure, in: &world)
                if let parent, let notice = try? ChildFailed.notice(to: parent, child: address, message: message, reason: reason) {
                    route(notice, in: &world)
                }
            case .retry:
                var again = delivery
                again.failedAttempts = attempt
                again.due = clock.now.advanced(by: type.retry.delay(after: attempt))
                world.pending.insert(again, at: min(index, world.pending.count))
                record(delivery, attempt: attempt, outcome: .willRetry(at: again.due), error: failure, in: &world)
            }
        }
    }

    /// A `greenroom.spawn`: checked and made as `TurnPlan` does.
    private func spawn(_ delivery: Delivery, type: HostedType, in world: inout World) {
        let address = delivery.target
        if let existing = world.actors[address] {
            deadLetter(delivery, RefusalReason.alreadyExists(address, status: existing.active ? "active" : "stopped"), attempts: 0, in: &world)
            return
        }
        do {
            let request = try delivery.message.decode(SpawnRequest.self)
            let state = try request.state.map { try type.validateState($0.raw) } ?? type.initialState()
            world.actors[address] = Actor(active: true, parent: request.parent, state: state)
        } catch {
            deadLetter(delivery, RefusalReason.cannotSpawn(address, error), attempts: 0, in: &world)
            return
        }
        answer(delivery, lifecycle: "spawned", in: &world)
        record(delivery, attempt: 0, outcome: .committed, in: &world)
    }

    /// Marks `address` stopped and sends `greenroom.stop` to its live
    /// children and those spawned in the stopping turn, as `TurnPlan` does;
    /// the stopped actor's set of children is cleared, as the commit does.
    private func stop(_ address: ActorAddress, by message: Message, spawnedNow: [ActorAddress], in world: inout World) {
        guard var actor = world.actors[address] else { return }
        let live = actor.children.filter { world.actors[$0]?.active == true }
        let children = live + spawnedNow.filter { !live.contains($0) }
        actor.active = false
        actor.children = []
        world.actors[address] = actor
        for (index, child) in children.enumerated() {
            let stop = Message(kind: WireFormat.SystemKind.stop, payload: Array("{}".utf8), id: "\(message.id)/stop-\(index)", sender: address)
            route(stop, to: child, in: &world)
        }
    }

    /// Where a committed turn's message goes (see `Routing`).
    private func route(_ outgoing: OutgoingMessage, in world: inout World) {
        switch outgoing.destination {
        case .reply(_, let correlationID):
            if let correlationID { world.answers[correlationID] = .reply(TestReply(kind: outgoing.kind, payload: outgoing.payload)) }
        case .actor(let target):
            let message = Message(kind: outgoing.kind, payload: outgoing.payload, id: outgoing.id, sender: outgoing.from)
            route(message, to: target, spawnIfMissing: outgoing.spawnIfMissing, in: &world)
        }
    }

    private func route(_ message: Message, to target: ActorAddress, spawnIfMissing: Bool = false, in world: inout World) {
        switch routing {
        case .deliver:
            world.pending.append(Delivery(target: target, message: message, spawnIfMissing: spawnIfMissing, due: clock.now))
        case .keep:
            keep(message, to: target, in: &world)
        }
    }

    /// `.keep`: a message that stays undelivered; spawns and stops still
    /// show in the table (see `Routing.keep`).
    private func keep(_ message: Message, to target: ActorAddress, in world: inout World) {
        switch message.kind {
        case WireFormat.SystemKind.spawn:
            guard world.actors[target] == nil, let request = try? message.decode(SpawnRequest.self) else { return }
            world.actors[target] = Actor(active: true, parent: request.parent, state: request.state?.raw ?? [])
        case WireFormat.SystemKind.stop:
            stop(target, by: message, spawnedNow: [], in: &world)
        default:
            world.outbox.append(TestMessage(to: target, kind: message.kind, payload: message.payload, id: message.id, from: message.sender))
        }
    }

    /// The reply to a caller waiting on a spawn or stop: `{"KIND": "ADDRESS"}`.
    private func answer(_ delivery: Delivery, lifecycle kind: String, in world: inout World) {
        guard let asker = delivery.asker else { return }
        let payload = (try? TurnContext.encode([kind: delivery.target.description])) ?? []
        world.answers[asker] = .reply(TestReply(kind: kind, payload: payload))
    }

    private func deadLetter(_ delivery: Delivery, _ reason: String, attempts: Int, error: (any Error)? = nil, in world: inout World) {
        let message = delivery.message
        let letter = TestDeadLetter(actor: delivery.target, kind: message.kind, id: message.id, payload: message.payload,
                                    reason: reason, attempts: attempts, error: error)
        world.deadLetters.append(letter)
        if let asker = delivery.asker { world.answers[asker] = .refused(reason) }
        record(delivery, attempt: attempts == 0 ? 0 : delivery.failedAttempts + 1, outcome: .deadLettered(letter), error: error, in: &world)
    }

    private func record(_ delivery: Delivery, attempt: Int, outcome: TurnRecord.Outcome, effects: TurnEffects? = nil,
                        error: (any Error)? = nil, in world: inout World) {
        var sent: [TestMessage] = []
        var spawned: [TestSpawn] = []
        var reply: TestReply?
        for outgoing in effects?.outbox ?? [] {
            switch outgoing.destination {
            case .reply:
                reply = TestReply(kind: outgoing.kind, payload: outgoing.payload)
            case .actor(let target) where outgoing.kind == WireFormat.SystemKind.spawn:
                let request = try? JSONDecoder().decode(SpawnRequest.self, from: Data(outgoing.payload))
                spawned.append(TestSpawn(address: target, stateJSON: request?.state.map { String(decoding: $0.raw, as: UTF8.self) }))
            case .actor(let target):
                sent.append(TestMessage(to: target, kind: outgoing.kind, payload: outgoing.payload, id: outgoing.id, from: outgoing.from))
            }
        }
        let message = delivery.message
        world.records.append(TurnRecord(
            message: TestMessage(to: delivery.target, kind: message.kind, payload: message.payload, id: message.id, from: message.sender),
            attempt: attempt, outcome: outcome, sent: sent, spawned: spawned, reply: reply, stopped: effects?.stopSelf ?? false, error: error))
    }

    // MARK: - Looking around (ActorDirectory: what a turn's context asks)

    func children(of address: ActorAddress) async throws -> [ActorAddress] { liveChildren(of: address) }
    func actors(ofType type: String) async throws -> [ActorAddress] { live(ofType: type) }
    func exists(_ address: ActorAddress) async throws -> Bool { isLive(address) }

    func liveChildren(of address: ActorAddress) -> [ActorAddress] {
        world.withLock { world in
            (world.actors[address]?.children ?? []).filter { world.actors[$0]?.active == true }.sorted { $0.description < $1.description }
        }
    }

    func live(ofType type: String) -> [ActorAddress] {
        world.withLock { world in
            world.actors.filter { $0.key.type == type && $0.value.active }.keys.sorted { $0.description < $1.description }
        }
    }

    func isLive(_ address: ActorAddress) -> Bool {
        world.withLock { $0.actors[address]?.active == true }
    }

    /// The committed state of a live actor (as its behaviour's value when
    /// `S` is its state type), nil for an actor that is not running.
    func state<S: Decodable>(of address: ActorAddress, as type: S.Type) -> S? {
        let found = world.withLock { world -> (bytes: [UInt8], decoded: (any Sendable)?)? in
            guard let actor = world.actors[address], actor.active else { return nil }
            return (actor.state, actor.decoded)
        }
        guard let found else { return nil }
        if let value = found.decoded as? S { return value }
        return try? JSONDecoder().decode(S.self, from: Data(found.bytes))
    }

    /// The committed state of an actor, live or stopped, as JSON.
    func stateJSON(of address: ActorAddress, includingStopped: Bool = false) -> String? {
        world.withLock { world in
            guard let actor = world.actors[address], actor.active || includingStopped else { return nil }
            return String(decoding: actor.state, as: UTF8.self)
        }
    }
}
