import Foundation
import Workers

/// Many actors in memory, with the runtime's semantics and no servers:
/// messages are delivered one at a time per actor, in order per sender;
/// spawns, stops (cascading to children), `find`, asks, retries on a
/// virtual clock, dead letters and `child-failed` work as in a worker.
///
/// ```swift
/// let system = TestSystem()
/// system.host(Tally())
/// let tally = try await system.spawn(Tally.self, id: "x")
/// try await system.send(Tally.Add(by: 2), to: tally)
/// try await system.settle()
/// #expect(system.state(of: tally)?.total == 2)
/// #expect(try await system.ask(Tally.Get(), of: tally).total == 2)
/// ```
///
/// `send` only queues; `settle`, `ask`, `spawn` and `stop` deliver;
/// `advance(by:)` moves the clock and fires delayed sends, timers and
/// reminders that came due. What it
/// does not model is distribution: partitions, leases, redelivery and
/// deduplication, crashes, server failures, turn deadlines — the
/// integration tests prove those against real servers.
public final class TestSystem: Sendable {
    /// The clock retries wait on; `settle` moves it through pending retries.
    public let clock: TestClock
    let runtime: KitRuntime

    public init(clock: TestClock = TestClock()) {
        self.clock = clock
        runtime = KitRuntime(clock: clock, routing: .deliver)
    }

    // MARK: - Hosting

    /// Hosts `behavior` under its type name, with the default retry policy.
    public func host<B: Behavior>(_ behavior: B) {
        host(HostedType(behavior))
    }

    /// Hosts a type as a worker would (a renamed type, a retry policy). A
    /// type the runtime would refuse to host (`HostedType.problems`) makes
    /// every later `spawn`, `ask`, `stop` and `settle` throw the worker's error.
    public func host(_ type: HostedType) {
        runtime.host(type)
    }

    // MARK: - Sending

    /// Spawns an actor of behaviour `B` (under `B`'s type name, or
    /// `typeName`) from `state` (nil: `B.initialState`), delivering what is
    /// queued before it; throws `AskFailed` if the spawn is refused.
    @discardableResult
    public func spawn<B: Behavior>(_ behavior: B.Type, id: String? = nil, state: B.State? = nil,
                                   typeName: String = B.typeName) async throws -> ActorRef<B> {
        let json = try state.map { String(decoding: try TurnContext.encode($0), as: UTF8.self) }
        return ActorRef(try await spawn(type: typeName, id: id, json: json))
    }

    /// Spawns an actor of `type` from the state `json` (nil: the type's initial state).
    @discardableResult
    public func spawn(type: String, id: String? = nil, json state: String? = nil) async throws -> ActorAddress {
        let address = try ActorAddress(type: type, id: id ?? UUID().uuidString)
        let raw = try state.map { try Self.checkedJSON($0) }
        let spawn = SpawnRequest(state: raw.map(JSONValue.init(raw:)), parent: nil)
        _ = try await request(address, kind: WireFormat.SystemKind.spawn, payload: try TurnContext.encode(spawn))
        return address
    }

    /// Queues the typed `message` for `target` (delivered by `settle`).
    /// `from`: the sending actor, as `context.sender` shows it; with
    /// `spawnIfMissing` the target is created on this message if it never existed.
    public func send<M: ActorMessage>(_ message: M, to target: ActorRef<some Behavior>, from sender: ActorAddress? = nil,
                                      spawnIfMissing: Bool = false) async throws {
        runtime.enqueue(to: target.address, kind: M.kind, payload: try TurnContext.encode(message), from: sender, spawnIfMissing: spawnIfMissing)
    }

    /// Queues a `kind` message with the payload `json`: the string escape hatch.
    public func send(kind: String, json: String = "{}", to target: ActorAddress, from sender: ActorAddress? = nil,
                     spawnIfMissing: Bool = false) async throws {
        runtime.enqueue(to: target, kind: kind, payload: try Self.checkedJSON(json), from: sender, spawnIfMissing: spawnIfMissing)
    }

    /// Sends the typed request and delivers until it is answered; returns
    /// the typed reply. A refused request throws `AskFailed` with the reason.
    public func ask<R: ActorRequest>(_ request: R, of target: ActorRef<some Behavior>) async throws -> R.Reply {
        try await self.request(target.address, kind: R.kind, payload: try TurnContext.encode(request)).decode(R.Reply.self)
    }

    /// Asks with a `kind` message and the payload `json`; returns the reply as sent.
    public func ask(kind: String, json: String = "{}", of target: ActorAddress) async throws -> TestReply {
        try await request(target, kind: kind, payload: try Self.checkedJSON(json))
    }

    /// Stops the actor and, once delivered, its children (as `enqueue stop`
    /// does); delivers until the actor itself has stopped.
    public func stop(_ target: ActorAddress) async throws {
        _ = try await request(target, kind: WireFormat.SystemKind.stop, payload: Array("{}".utf8))
    }

    /// Stops the actor and, once delivered, its children.
    public func stop(_ target: ActorRef<some Behavior>) async throws {
        try await stop(target.address)
    }

    /// Delivers everything, including what the deliveries send, moving the
    /// clock through pending retries, until nothing is left. Throws if
    /// actors keep messaging each other past `maximumTurns`.
    public func settle(maximumTurns: Int = 100_000) async throws {
        try await runtime.driving {
            try await runtime.run(maximumTurns: maximumTurns) { $0.pending.isEmpty }
        }
    }

    /// Moves `clock` forward by `duration` in one step, then delivers what
    /// came due — delayed sends, timers, reminders (one due several times
    /// meanwhile fires once, with its missed periods), retries — and what
    /// they send, until nothing due now is left; returns the records of the
    /// turns run. Nothing fires before the clock reaches its time: `settle`
    /// moves the clock only through pending retries (firing what it passes
    /// on the way, each at its time), never to a timer alone.
    @discardableResult
    public func advance(by duration: Duration, maximumTurns: Int = 100_000) async throws -> [TurnRecord] {
        try await runtime.advance(by: duration, maximumTurns: maximumTurns)
    }

    /// Cancels the reminder `name` of `target` as `greenroom.cancel-reminder`
    /// does (in the actor's turn order); returns whether it had one.
    @discardableResult
    public func cancelReminder(_ name: String, of target: ActorAddress) async throws -> Bool {
        let reply = try await request(target, kind: WireFormat.SystemKind.cancelReminder, payload: try TurnContext.encode(["name": name]))
        return try reply.decode([String: Bool].self)["cancelled"] ?? false
    }

    @discardableResult
    public func cancelReminder(_ name: String, of target: ActorRef<some Behavior>) async throws -> Bool {
        try await cancelReminder(name, of: target.address)
    }

    /// Delayed sends, timers and reminders waiting for the clock, earliest first.
    public var scheduled: [TestScheduled] { runtime.scheduled() }

    private func request(_ target: ActorAddress, kind: String, payload: [UInt8]) async throws -> TestReply {
        try await runtime.driving {
            let asker = runtime.newAsker()
            runtime.enqueue(to: target, kind: kind, payload: payload, asker: asker)
            try await runtime.run { $0.answers[asker] != nil }
            switch runtime.world.withLock({ $0.answers.removeValue(forKey: asker) }) {
            case .reply(let reply): return reply
            case .refused(let reason): throw AskFailed(address: target, reason: reason)
            case nil: throw TestKitError("\(target) handled '\(kind)' without replying; nothing is left to deliver")
            }
        }
    }

    static func checkedJSON(_ json: String) throws -> [UInt8] {
        let bytes = Array(json.utf8)
        guard (try? JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed)) != nil else {
            throw TestKitError("the payload is not valid JSON: \(json.prefix(200))")
        }
        return bytes
    }

    // MARK: - Looking

    /// The committed state of a running actor; nil if it is not running
    /// (never spawned, or stopped).
    public func state<B: Behavior>(of target: ActorRef<B>) -> B.State? {
        runtime.state(of: target.address, as: B.State.self)
    }

    /// The committed state of a running actor as JSON (keys sorted, as stored).
    public func stateJSON(of target: ActorAddress) -> String? {
        runtime.stateJSON(of: target)
    }

    /// Every message dead-lettered so far, oldest first.
    public var deadLetters: [TestDeadLetter] { runtime.world.withLock { $0.deadLetters } }

    /// Every turn so far (each attempt, spawns and stops too), oldest first.
    public var records: [TurnRecord] { runtime.world.withLock { $0.records } }

    /// The running actors of `type`, sorted.
    public func find(type: String) -> [ActorAddress] { runtime.live(ofType: type) }

    /// The running children of `parent`, sorted.
    public func children(of parent: ActorAddress) -> [ActorAddress] { runtime.liveChildren(of: parent) }

    public func children(of parent: ActorRef<some Behavior>) -> [ActorAddress] { children(of: parent.address) }

    /// Whether `address` is a running actor.
    public func exists(_ address: ActorAddress) -> Bool { runtime.isLive(address) }

    public func exists(_ target: ActorRef<some Behavior>) -> Bool { exists(target.address) }
}
