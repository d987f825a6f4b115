import Broker
import Foundation
import Logging
import Synchronization

/// Talks to actors from outside the fleet: send, spawn, ask, stop, inspect,
/// and manage dead letters. Used by `enqueue` and by tests; any program can
/// do the same over plain AMQP (docs/PROTOCOL.md).
public final class GreenroomClient: Sendable {
    let amqp: AMQPConnection
    let redis: RedisClient
    let store: ActorStore
    private let publishChannel: AMQPChannel
    private let replies: ReplyListener

    private init(amqp: AMQPConnection, redis: RedisClient, publishChannel: AMQPChannel, replies: ReplyListener) {
        self.amqp = amqp
        self.redis = redis
        self.store = ActorStore(redis: redis)
        self.publishChannel = publishChannel
        self.replies = replies
    }

    /// Connects to both servers. A send that RabbitMQ has not confirmed
    /// within `confirmTimeout` fails with `AMQPError` `.timedOut` (it may or
    /// may not have been stored: send it again with the same id), rather than
    /// wait forever on a broker that stopped answering.
    ///
    /// It declares the shared exchanges and `greenroom.dead`, the latter a
    /// queue of `deadQueueType` if it does not exist yet: by default quorum
    /// when `amqp` names several nodes (`QueueType.default(for:)`).
    public static func connect(amqp: AMQPConfiguration, redis: RedisConfiguration, confirmTimeout: Duration = .seconds(30),
                               deadQueueType: QueueType? = nil,
                               logger: Logger = Logger(label: "greenroom.client")) async throws -> GreenroomClient {
        var amqpConfiguration = amqp
        amqpConfiguration.connectionName = "greenroom client"
        let connection = try await AMQPConnection.connect(amqpConfiguration, logger: logger)
        let redisClient = try await RedisClient.connect(redis, logger: logger)
        let channel = try await connection.openChannel()
        try await channel.enableConfirms(timeout: confirmTimeout)
        try await Topology.declareShared(on: channel, queueType: deadQueueType ?? .default(for: amqp))
        let replies = try await ReplyListener.start(on: connection)
        return GreenroomClient(amqp: connection, redis: redisClient, publishChannel: channel, replies: replies)
    }

    public func close() async {
        await amqp.close()
        await redis.close()
    }

    // MARK: - Sending

    /// One message for `send(_:)`.
    public struct Outgoing: Sendable {
        public var to: ActorAddress
        public var kind: String
        /// JSON bytes.
        public var payload: [UInt8]
        /// The dedup key; a fresh unique id when nil.
        public var id: String?
        /// Create the actor on first message if it was never spawned.
        public var spawnIfMissing: Bool
        /// Not handled before this time: the target partition's owner keeps
        /// the message until then (docs/TIME.md). Nil, or a time already
        /// past: handled at once. At most `Schedules.maximumDelay` ahead.
        public var notBefore: Date?
        /// The trace the message continues (docs/OPERATIONS.md, "Tracing"):
        /// by default the current span's (`TraceHeaders.current`), if any.
        public var trace: TraceHeaders?

        public init(to: ActorAddress, kind: String, payload: [UInt8] = Array("{}".utf8), id: String? = nil, spawnIfMissing: Bool = false,
                    notBefore: Date? = nil, trace: TraceHeaders? = .current) {
            self.to = to
            self.kind = kind
            self.payload = payload
            self.id = id
            self.spawnIfMissing = spawnIfMissing
            self.notBefore = notBefore
            self.trace = trace
        }
    }

    /// Sends messages in order; returns once RabbitMQ confirmed every one.
    /// Throws on the first that could not be stored or routed, and before
    /// sending any if one is invalid (a payload that is not JSON, a
    /// `notBefore` that is not a finite time or is too far ahead).
    public func send(_ messages: [Outgoing]) async throws {
        var publications: [AMQPPublication] = []
        publications.reserveCapacity(messages.count)
        let now = Date()
        for message in messages {
            try Self.checkJSON(message.payload, kind: message.kind)
            if let notBefore = message.notBefore { try Self.checkNotBefore(notBefore, now: now) }
        }
        for message in messages {
            let partition = try await store.partition(of: message.to)
            var amqpMessage = FleetPublisher.actorMessage(to: message.to, kind: message.kind, payload: message.payload, id: message.id ?? Self.newID(),
                                                          from: nil, spawnIfMissing: message.spawnIfMissing, trace: message.trace)
            if let notBefore = message.notBefore {
                amqpMessage.properties.headers[WireFormat.notBeforeHeader] = .int64(Self.unixMilliseconds(notBefore))
            }
            publications.append(AMQPPublication(amqpMessage, exchange: Topology.actorsExchange, routingKey: partition.routingKey,
                                                mandatory: true))
        }
        for result in try await publishChannel.publish(publications) {
            try result.get()
        }
    }

    /// Sends one message (continuing `trace`: by default the current span's).
    public func send(to address: ActorAddress, kind: String, payload: [UInt8] = Array("{}".utf8), id: String? = nil, spawnIfMissing: Bool = false,
                     trace: TraceHeaders? = .current) async throws {
        try await send([Outgoing(to: address, kind: kind, payload: payload, id: id, spawnIfMissing: spawnIfMissing, trace: trace)])
    }

    /// Sends one message to be handled `delay` from now (at once for zero).
    /// Throws `InvalidSchedule`, sending nothing, for a negative delay or one
    /// over `Schedules.maximumDelay`.
    public func send(to address: ActorAddress, kind: String, payload: [UInt8] = Array("{}".utf8), id: String? = nil, spawnIfMissing: Bool = false,
                     after delay: Duration, trace: TraceHeaders? = .current) async throws {
        try await send([Outgoing(to: address, kind: kind, payload: payload, id: id, spawnIfMissing: spawnIfMissing,
                                 notBefore: try Self.notBefore(after: delay), trace: trace)])
    }

    /// Sends one message to be handled at `time` (at once if it is past).
    /// Throws `InvalidSchedule`, sending nothing, for a time that is not
    /// finite or is more than `Schedules.maximumDelay` ahead.
    public func send(to address: ActorAddress, kind: String, payload: [UInt8] = Array("{}".utf8), id: String? = nil, spawnIfMissing: Bool = false,
                     at time: Date, trace: TraceHeaders? = .current) async throws {
        try await send([Outgoing(to: address, kind: kind, payload: payload, id: id, spawnIfMissing: spawnIfMissing, notBefore: time, trace: trace)])
    }

    /// A reply: its kind (`reply`, `error`, …) and JSON payload.
    public struct Reply: Sendable {
        public var kind: String
        public var payload: [UInt8]
        public var text: String { String(decoding: payload, as: UTF8.self) }
    }

    /// Sends a message and waits for the actor's reply. A message the worker
    /// refused (unknown actor, bad payload, …) comes back as an `AskFailed`
    /// carrying the reason. The message continues `trace` (by default the current span's).
    public func ask(_ address: ActorAddress, kind: String, payload: [UInt8] = Array("{}".utf8), timeout: Duration = .seconds(10),
                    trace: TraceHeaders? = .current) async throws -> Reply {
        try Self.checkJSON(payload, kind: kind)
        let partition = try await store.partition(of: address)
        let correlationID = Self.newID()
        let message = FleetPublisher.actorMessage(
            to: address, kind: kind, payload: payload, id: Self.newID(), from: nil,
            replyTo: AMQPChannel.directReplyTo, correlationID: correlationID, trace: trace)
        let delivery = try await replies.request(
            AMQPPublication(message, exchange: Topology.actorsExchange, routingKey: partition.routingKey, mandatory: true),
            correlationID: correlationID, timeout: timeout, target: address)
        let reply = Reply(kind: delivery.properties.type ?? "reply", payload: delivery.body)
        if reply.kind == "error" {
            let reason = (try? JSONDecoder().decode([String: String].self, from: Data(reply.payload)))?["error"] ?? reply.text
            throw AskFailed(address: address, reason: reason)
        }
        return reply
    }

    // MARK: - Lifecycle

    /// Spawns an actor with an initial state (JSON), or the type's initial
    /// state when nil; returns once the owning worker created it. The spawn
    /// continues `trace` (by default the current span's).
    @discardableResult
    public func spawn(type: String, id: String? = nil, state: [UInt8]? = nil, timeout: Duration = .seconds(10),
                      trace: TraceHeaders? = .current) async throws -> ActorAddress {
        let address = try ActorAddress(type: type, id: id ?? Self.newID())
        if let state { try Self.checkJSON(state, kind: "spawn state") }
        let request = SpawnRequest(state: state.map(JSONValue.init(raw:)), parent: nil)
        _ = try await ask(address, kind: WireFormat.SystemKind.spawn, payload: try TurnContext.encode(request), timeout: timeout, trace: trace)
        return address
    }

    /// Stops an actor and, recursively, its children.
    public func stop(_ address: ActorAddress, timeout: Duration = .seconds(10)) async throws {
        _ = try await ask(address, kind: WireFormat.SystemKind.stop, timeout: timeout)
    }

    // MARK: - Inspecting

    /// An actor's committed state (JSON), straight from Redis.
    public func state(of address: ActorAddress) async throws -> [UInt8] {
        let record = try await store.load([address], in: try await store.partition(of: address))[0]
        guard record.exists else { throw ActorNotFound(address: address, stopped: false) }
        guard record.isActive else { throw ActorNotFound(address: address, stopped: true) }
        return record.state
    }

    /// Live actors of a type.
    public func find(type: String) async throws -> [ActorAddress] { try await store.actors(ofType: type) }

    /// Live children of an actor.
    public func children(of address: ActorAddress) async throws -> [ActorAddress] { try await store.children(of: address) }

    /// Whether an actor is live.
    public func exists(_ address: ActorAddress) async throws -> Bool { try await store.exists(address) }

    static func newID() -> String {
        UUID().uuidString.lowercased()
    }

    static func checkJSON(_ payload: [UInt8], kind: String) throws {
        guard JSONValidator.isValid(payload) else {
            throw InvalidPayload(kind: kind)
        }
    }
}

public struct AskFailed: Error, CustomStringConvertible {
    public let address: ActorAddress
    public let reason: String

    package init(address: ActorAddress, reason: String) {
        self.address = address
        self.reason = reason
    }

    public var description: String { "\(address) refused the message: \(reason)" }
}

public struct AskTimedOut: Error, CustomStringConvertible {
    public let address: ActorAddress
    public let timeout: Duration
    public var description: String {
        "no reply from \(address) within \(timeout)"
    }
}

public struct ActorNotFound: Error, CustomStringConvertible {
    public let address: ActorAddress
    public let stopped: Bool
    public var description: String {
        stopped ? "actor \(address) was stopped" : "actor \(address) does not exist (never spawned)"
    }
}

public struct InvalidPayload: Error, CustomStringConvertible {
    public let kind: String
    public var description: String { "the payload for '\(kind)' is not valid JSON" }
}
