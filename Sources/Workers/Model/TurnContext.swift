import Foundation
import Synchronization
import Tracing

/// What a handler can do besides changing its state: send, spawn, reply, stop,
/// and look around. Effects are collected and take place when the turn
/// commits; if the handler throws, none of them happen.
public final class TurnContext: Sendable {
    /// This actor's address.
    public let address: ActorAddress
    /// The actor that sent the current message, if an actor sent it.
    public let sender: ActorAddress?
    /// The actor that spawned this one, if any.
    public let parent: ActorAddress?

    let message: Message
    let effects = Mutex(TurnEffects())
    private let directory: any ActorDirectory
    /// The wall clock delays and reminders are counted from (the test kit's clock in unit tests).
    let now: @Sendable () -> Date
    /// The turn's span context, the handler's `ServiceContext.current` (nil when nothing traces).
    package let serviceContext: ServiceContext?

    package init(address: ActorAddress, parent: ActorAddress?, message: Message, directory: any ActorDirectory,
                 now: @escaping @Sendable () -> Date = { Date() }, serviceContext: ServiceContext? = nil) {
        self.address = address
        self.sender = message.sender
        self.parent = parent
        self.message = message
        self.directory = directory
        self.now = now
        self.serviceContext = serviceContext
    }

    /// Sends `payload` (any `Encodable`, sent as JSON) as a `kind` message to `target`.
    public func send(to target: ActorAddress, kind: String, _ payload: some Encodable & Sendable) throws {
        let body = try Self.encode(payload)
        effects.withLock { effects in
            effects.outbox.append(OutgoingMessage(
                destination: .actor(target), kind: kind, payload: body,
                id: "\(message.id)/\(effects.outbox.count)", from: address))
        }
    }

    /// Spawns a child of type `type` (with `id`, or a fresh unique one) and
    /// returns its address at once. The child exists once this turn commits;
    /// messages sent to it from this turn arrive after its creation.
    @discardableResult
    public func spawn(type: String, id: String? = nil, state: (some Encodable & Sendable)? = Optional<Int>.none) throws -> ActorAddress {
        let child = try ActorAddress(type: type, id: id ?? "\(address.id).\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)")
        let body = try Self.encode(SpawnRequest(state: try state.map { JSONValue(raw: try Self.encode($0)) }, parent: address))
        effects.withLock { effects in
            effects.outbox.append(OutgoingMessage(
                destination: .actor(child), kind: WireFormat.SystemKind.spawn, payload: body,
                id: "\(message.id)/\(effects.outbox.count)", from: address))
            effects.spawnedChildren.append(child)
        }
        return child
    }

    /// Replies to the sender of the current message (ignored when nobody waits).
    public func reply(_ payload: some Encodable & Sendable, kind: String = "reply") throws {
        guard let queue = message.replyTo else { return }
        let body = try Self.encode(payload)
        effects.withLock { effects in
            effects.outbox.append(OutgoingMessage(
                destination: .reply(queue: queue, correlationID: message.correlationID), kind: kind, payload: body,
                id: "\(message.id)/\(effects.outbox.count)", from: address))
        }
    }

    /// Stops this actor once the turn commits, and its children after it.
    public func stop() {
        effects.withLock { $0.stopSelf = true }
    }

    /// The addresses of this actor's live children.
    public func children() async throws -> [ActorAddress] {
        try await directory.children(of: address)
    }

    /// Every live actor of a type (a scan: for small types and tools, not hot paths).
    public func find(type: String) async throws -> [ActorAddress] {
        try await directory.actors(ofType: type)
    }

    /// Whether `address` names a live actor.
    public func exists(_ address: ActorAddress) async throws -> Bool {
        try await directory.exists(address)
    }

    package var collectedEffects: TurnEffects { effects.withLock { $0 } }

    /// Whether the handler called `stop()`.
    var stopsActor: Bool { effects.withLock { $0.stopSelf } }

    package static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }
}

/// Lookups a turn may make (answered from Redis; in memory in the test kit).
package protocol ActorDirectory: Sendable {
    func children(of address: ActorAddress) async throws -> [ActorAddress]
    func actors(ofType type: String) async throws -> [ActorAddress]
    func exists(_ address: ActorAddress) async throws -> Bool
}

/// The payload of a `greenroom.spawn` system message.
package struct SpawnRequest: Codable, Sendable {
    package var state: JSONValue?
    package var parent: ActorAddress?

    package init(state: JSONValue?, parent: ActorAddress?) {
        self.state = state
        self.parent = parent
    }
}

/// Raw JSON carried inside another JSON document without re-decoding it.
package struct JSONValue: Codable, Sendable, Equatable {
    package var raw: [UInt8]

    package init(raw: [UInt8]) { self.raw = raw }

    package init(from decoder: any Decoder) throws {
        let any = try decoder.singleValueContainer().decode(AnyJSON.self)
        raw = try TurnContext.encode(any)  // keys sorted: the same document gives the same bytes
    }

    package func encode(to encoder: any Encoder) throws {
        let any = try JSONDecoder().decode(AnyJSON.self, from: Data(raw))
        var container = encoder.singleValueContainer()
        try container.encode(any)
    }
}
