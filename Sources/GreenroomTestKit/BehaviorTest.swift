import Foundation
import Workers

/// One behaviour, one actor, with the runtime's semantics and no servers:
/// each message runs on a copy of the state, which commits only when the
/// handler returns; what the turn did (sends, spawns, reply, stop) comes
/// back as a `TurnRecord`. Nothing it sends is delivered (see `sent`);
/// a failing message is retried per the retry policy on `clock`, then
/// dead-lettered, and the parent's `child-failed` is in `sent`. Timers
/// and reminders fire into the actor when `advance(by:)` moves the clock
/// past them.
///
/// ```swift
/// let tally = BehaviorTest(Tally())
/// let record = try await tally.receive(Tally.Add(by: 2))
/// #expect(record.committed)
/// #expect(tally.state.total == 2)
/// #expect(try await tally.ask(Tally.Get()).total == 2)
/// ```
public final class BehaviorTest<B: Behavior>: Sendable {
    /// The actor under test.
    public let address: ActorAddress
    /// The clock retries wait on; `receive` moves it through them.
    public let clock: TestClock
    private let runtime: KitRuntime
    /// Why the actor could not be made (its state did not encode): thrown by every `receive`.
    private let setupError: (any Error)?

    /// The actor `id` of `behavior` (under `B.typeName`, or `typeName`),
    /// starting from `state` (nil: `B.initialState`), with `parent` as its
    /// parent, retrying failed turns per `retry`. An `id` or `typeName` that
    /// is not a valid address stops the test at once: fix the literal.
    public convenience init(_ behavior: B, id: String = "test", state: B.State? = nil, parent: ActorAddress? = nil,
                            retry: RetryPolicy = RetryPolicy(), typeName: String = B.typeName, clock: TestClock = TestClock()) {
        self.init(behavior, id: id, parent: parent, retry: retry, typeName: typeName, clock: clock) { _ in
            try TurnContext.encode(state ?? B.initialState)
        }
    }

    /// The same, starting from the state `json`, checked as a spawn checks
    /// it (a state that does not decode makes every `receive` throw why).
    public convenience init(_ behavior: B, id: String = "test", json state: String, parent: ActorAddress? = nil,
                            retry: RetryPolicy = RetryPolicy(), typeName: String = B.typeName, clock: TestClock = TestClock()) {
        self.init(behavior, id: id, parent: parent, retry: retry, typeName: typeName, clock: clock) { type in
            try type.validateState(try TestSystem.checkedJSON(state))
        }
    }

    private init(_ behavior: B, id: String, parent: ActorAddress?, retry: RetryPolicy, typeName: String, clock: TestClock,
                 state: (HostedType) throws -> [UInt8]) {
        do {
            address = try ActorAddress(type: typeName, id: id)
        } catch {
            preconditionFailure("BehaviorTest: \(error)")
        }
        self.clock = clock
        runtime = KitRuntime(clock: clock, routing: .keep)
        let type = HostedType(behavior, name: typeName, retry: retry)
        runtime.host(type)
        do {
            let bytes = try state(type)
            runtime.world.withLock { [address] in $0.actors[address] = KitRuntime.Actor(active: true, parent: parent, state: bytes) }
            setupError = nil
        } catch {
            setupError = error
        }
    }

    /// The actor as a typed reference (for messages that carry it).
    public var ref: ActorRef<B> { ActorRef(address) }

    /// Delivers the typed `message` (`from`: the sending actor) and returns
    /// the record of its last attempt: committed, or dead-lettered after the
    /// retry policy's attempts (the clock moved through the pauses). With
    /// `expectingReply` (the default) the sender waits for a reply, so the
    /// record shows it; without, a reply is dropped, as for `enqueue send`.
    @discardableResult
    public func receive<M: ActorMessage>(_ message: M, from sender: ActorAddress? = nil, expectingReply: Bool = true) async throws -> TurnRecord {
        try await deliver(kind: M.kind, payload: try TurnContext.encode(message), from: sender, expectingReply: expectingReply)
    }

    /// Delivers a `kind` message with the payload `json`: the string escape
    /// hatch, for messages without a Swift type (or from other languages).
    @discardableResult
    public func receive(kind: String, json: String = "{}", from sender: ActorAddress? = nil, expectingReply: Bool = true) async throws -> TurnRecord {
        try await deliver(kind: kind, payload: try TestSystem.checkedJSON(json), from: sender, expectingReply: expectingReply)
    }

    /// Delivers the typed request and returns the typed reply; a request
    /// that is dead-lettered throws `AskFailed` with the reason.
    public func ask<R: ActorRequest>(_ request: R, from sender: ActorAddress? = nil) async throws -> R.Reply {
        let record = try await receive(request, from: sender)
        if let letter = record.deadLetter { throw AskFailed(address: address, reason: letter.reason) }
        guard let reply = record.reply else { throw TestKitError("\(address) handled '\(R.kind)' without replying") }
        return try reply.decode(R.Reply.self)
    }

    private func deliver(kind: String, payload: [UInt8], from sender: ActorAddress?, expectingReply: Bool) async throws -> TurnRecord {
        if let setupError { throw setupError }
        return try await runtime.driving {
            let id = runtime.enqueue(to: address, kind: kind, payload: payload, from: sender,
                                     asker: expectingReply ? runtime.newAsker() : nil)
            try await runtime.run { world in !world.pending.contains { $0.message.id == id } }
            return try runtime.world.withLock { world in
                world.answers.removeAll()
                guard let record = world.records.last(where: { $0.message.id == id }) else {
                    throw TestKitError("the message \(id) was never run")
                }
                return record
            }
        }
    }

    /// Moves `clock` forward by `duration`, then runs what came due: the
    /// actor's timers and reminders (a reminder due several times meanwhile
    /// fires once, `firing.missedPeriods` saying how many it missed) and its
    /// retries. Its delayed sends, once due, are in `sent`. Returns the
    /// records of the turns run, oldest first. Nothing fires before the
    /// clock reaches its time; `receive` does not move the clock for them.
    @discardableResult
    public func advance(by duration: Duration, maximumTurns: Int = 100_000) async throws -> [TurnRecord] {
        if let setupError { throw setupError }
        return try await runtime.advance(by: duration, maximumTurns: maximumTurns)
    }

    /// The actor's delayed sends, timers and reminders waiting for the
    /// clock, earliest first (a cancelled or fired timer is not among them).
    public var scheduled: [TestScheduled] { runtime.scheduled() }

    /// The committed state (after a stop, the last one).
    public var state: B.State {
        runtime.world.withLock { world in
            let actor = world.actors[address]
            if let decoded = actor?.decoded as? B.State { return decoded }
            return actor.flatMap { try? JSONDecoder().decode(B.State.self, from: Data($0.state)) } ?? B.initialState
        }
    }

    /// The committed state as JSON (keys sorted, as stored).
    public var stateJSON: String { runtime.stateJSON(of: address, includingStopped: true) ?? "" }

    /// Whether the actor has stopped (its later messages are refused).
    public var isStopped: Bool { !runtime.isLive(address) }

    /// Every message the actor sent (and each `child-failed` to its parent), oldest first.
    public var sent: [TestMessage] { runtime.world.withLock { $0.outbox } }

    /// Every message dead-lettered, oldest first.
    public var deadLetters: [TestDeadLetter] { runtime.world.withLock { $0.deadLetters } }

    /// Every attempt at every message, oldest first.
    public var records: [TurnRecord] { runtime.world.withLock { $0.records } }

    /// The actor's running children (spawned ones count as running here).
    public var children: [ActorAddress] { runtime.liveChildren(of: address) }
}
