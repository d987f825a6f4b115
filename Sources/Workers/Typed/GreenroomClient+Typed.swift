import Foundation

extension GreenroomClient.Outgoing {
    /// The typed `message` for `target`, for `GreenroomClient.send(_:)`;
    /// with `notBefore`, not handled before that time.
    public init<M: ActorMessage>(_ message: M, to target: ActorRef<some Behavior>, id: String? = nil, spawnIfMissing: Bool = false,
                                 notBefore: Date? = nil) throws {
        self.init(to: target.address, kind: M.kind, payload: try TurnContext.encode(message), id: id, spawnIfMissing: spawnIfMissing,
                  notBefore: notBefore)
    }
}

extension GreenroomClient {
    /// Sends the typed `message` to `target`; returns once RabbitMQ has it.
    /// `id` is the dedup key (a fresh one when nil); with `spawnIfMissing`
    /// the actor is created on this message if it was never spawned.
    public func send<M: ActorMessage>(_ message: M, to target: ActorRef<some Behavior>, id: String? = nil,
                                      spawnIfMissing: Bool = false) async throws {
        try await send([Outgoing(message, to: target, id: id, spawnIfMissing: spawnIfMissing)])
    }

    /// Sends the typed `message` to `target`, to be handled `delay` from now.
    /// Throws `InvalidSchedule`, sending nothing, for a negative delay or one
    /// over `Schedules.maximumDelay`.
    public func send<M: ActorMessage>(_ message: M, to target: ActorRef<some Behavior>, after delay: Duration, id: String? = nil,
                                      spawnIfMissing: Bool = false) async throws {
        try await send([Outgoing(message, to: target, id: id, spawnIfMissing: spawnIfMissing, notBefore: try Self.notBefore(after: delay))])
    }

    /// Sends the typed `message` to `target`, to be handled at `time` (at
    /// once if it is past). Throws `InvalidSchedule`, sending nothing, for a
    /// time that is not finite or is more than `Schedules.maximumDelay` ahead.
    public func send<M: ActorMessage>(_ message: M, to target: ActorRef<some Behavior>, at time: Date, id: String? = nil,
                                      spawnIfMissing: Bool = false) async throws {
        try await send([Outgoing(message, to: target, id: id, spawnIfMissing: spawnIfMissing, notBefore: time)])
    }

    /// Sends the request and returns the actor's typed reply. A refused
    /// request throws `AskFailed` with the reason; a reply that is not an
    /// `R.Reply` throws `ReplyDoesNotDecode`.
    public func ask<R: ActorRequest>(_ request: R, of target: ActorRef<some Behavior>,
                                     timeout: Duration = .seconds(10)) async throws -> R.Reply {
        let reply = try await ask(target.address, kind: R.kind, payload: try TurnContext.encode(request), timeout: timeout)
        do {
            return try JSONDecoder().decode(R.Reply.self, from: Data(reply.payload))
        } catch {
            throw ReplyDoesNotDecode(address: target.address, kind: R.kind, expected: "\(R.Reply.self)",
                                     problem: JSONErrorText.describe(error, in: reply.payload), reply: reply.text)
        }
    }

    /// Spawns an actor of behaviour `B` (under `B`'s type name, or
    /// `typeName`) starting from `state` (nil: `B`'s initial state), and
    /// returns once the owning worker created it.
    @discardableResult
    public func spawn<B: Behavior>(_ behavior: B.Type, id: String? = nil, state: B.State? = nil, typeName: String = B.typeName,
                                   timeout: Duration = .seconds(10)) async throws -> ActorRef<B> {
        let bytes = try state.map { try TurnContext.encode($0) }
        return ActorRef(try await spawn(type: typeName, id: id, state: bytes, timeout: timeout))
    }

    /// The actor's committed state, decoded.
    public func state<B: Behavior>(of target: ActorRef<B>) async throws -> B.State {
        let bytes = try await state(of: target.address)
        do {
            return try JSONDecoder().decode(B.State.self, from: Data(bytes))
        } catch {
            throw ReplyDoesNotDecode(address: target.address, kind: "state", expected: "\(B.State.self)",
                                     problem: JSONErrorText.describe(error, in: bytes), reply: String(decoding: bytes, as: UTF8.self))
        }
    }
}

/// A typed `ask` (or `state`) got an answer of another shape than the type
/// it was declared with: sender and receiver disagree about the message.
public struct ReplyDoesNotDecode: Error, CustomStringConvertible, Sendable {
    public let address: ActorAddress
    public let kind: String
    public let expected: String
    public let problem: String
    public let reply: String

    public var description: String {
        "the answer of \(address) to '\(kind)' does not decode as \(expected): \(problem) (it was \(reply.prefix(200)))"
    }
}
