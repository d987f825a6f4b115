import Broker
import Foundation

/// Publishes turn outboxes and dead letters, with confirms, in order.
///
/// An outgoing message that cannot be routed (its type is unknown, its queue
/// missing) is not dropped: it goes to the dead-letter queue with the reason.
final class FleetPublisher: Sendable {
    let channel: AMQPChannel
    let store: ActorStore
    let workerID: String
    /// Hear of the sends dead-lettered as unroutable (`TurnHooks.didDeadLetter`).
    let hooks: HookChain

    /// `channel` is in confirm mode, with a timeout (`enableConfirms(timeout:)`):
    /// a publish the broker does not confirm in time fails, and the turn's
    /// finish is tried again, rather than hang.
    init(channel: AMQPChannel, store: ActorStore, workerID: String, hooks: [any TurnHooks] = []) {
        self.channel = channel
        self.store = store
        self.workerID = workerID
        self.hooks = HookChain(hooks: hooks)
    }

    /// The AMQP form of an actor message (docs/PROTOCOL.md).
    static func actorMessage(to target: ActorAddress, kind: String, payload: [UInt8], id: String,
                             from: ActorAddress?, spawnIfMissing: Bool = false,
                             replyTo: String? = nil, correlationID: String? = nil, trace: TraceHeaders? = nil) -> AMQPMessage {
        var headers: AMQPTable = [WireFormat.toHeader: .string(target.description)]
        if let from { headers[WireFormat.fromHeader] = .string(from.description) }
        if spawnIfMissing { headers[WireFormat.spawnHeader] = .bool(true) }
        trace?.write(into: &headers)
        return AMQPMessage(body: payload, properties: AMQPProperties(
            contentType: WireFormat.contentType, headers: headers, persistent: true,
            correlationID: correlationID, replyTo: replyTo, messageID: id, type: kind))
    }

    /// Publishes `outbox` in order and returns when every message is confirmed
    /// (or, if it could not be routed, dead-lettered).
    func publish(_ outbox: [OutgoingMessage]) async throws {
        guard !outbox.isEmpty else { return }
        try await publish(outbox.map { message -> Publication in
            switch message.destination {
            case .actor(let target):
                return .actor(target, Self.actorMessage(to: target, kind: message.kind, payload: message.payload, id: message.id,
                                                        from: message.from, spawnIfMissing: message.spawnIfMissing, trace: message.trace))
            case .reply(let queue, let correlationID):
                // Replies go to a reply-to queue (often direct reply-to, which
                // vanishes with its caller): not mandatory, a late reply may be lost.
                var headers: AMQPTable = message.from.map { [WireFormat.fromHeader: .string($0.description)] } ?? [:]
                message.trace?.write(into: &headers)
                return .direct(AMQPPublication(
                    AMQPMessage(body: message.payload, properties: AMQPProperties(
                        contentType: WireFormat.contentType, headers: headers,
                        correlationID: correlationID, messageID: message.id, type: message.kind)),
                    routingKey: queue))
            }
        })
    }

    /// One message to publish: to an actor (routed to its partition), or as it is.
    enum Publication: Sendable {
        case actor(ActorAddress, AMQPMessage)
        case direct(AMQPPublication)
    }

    /// Publishes in order and returns when every message is confirmed; an
    /// actor message that cannot be routed (its type unknown, no queue bound)
    /// is dead-lettered with the reason instead.
    func publish(_ items: [Publication]) async throws {
        guard !items.isEmpty else { return }
        var publications: [AMQPPublication] = []
        var unroutable: [(AMQPMessage, String)] = []
        for item in items {
            switch item {
            case .actor(let target, let message):
                do {
                    let partition = try await store.partition(of: target)
                    publications.append(AMQPPublication(message, exchange: Topology.actorsExchange, routingKey: partition.routingKey, mandatory: true))
                } catch let error as UnknownActorType {
                    unroutable.append((message, error.description))
                }
            case .direct(let publication):
                publications.append(publication)
            }
        }
        let results = try await channel.publish(publications)
        var deadLetters: [AMQPPublication] = []
        var reasons: [String] = []
        for (publication, result) in zip(publications, results) {
            if case .failure(let error) = result {
                guard error.code == .unroutable else { throw error }
                let reason = "unroutable: \(error.replyText ?? "NO_ROUTE") for \(publication.routingKey)"
                deadLetters.append(deadLetter(publication.message, routingKey: publication.routingKey, reason: reason, attempts: 0, actor: nil))
                reasons.append(reason)
            }
        }
        for (message, reason) in unroutable {
            deadLetters.append(deadLetter(message, routingKey: "", reason: reason, attempts: 0, actor: nil))
            reasons.append(reason)
        }
        try await publishDeadLetters(deadLetters)
        for reason in reasons { hooks.didDeadLetter(nil, reason: reason) }
    }

    /// Re-publishes the outbox a committed turn stored as its dedup record
    /// (a redelivery of that turn's message): same messages, same ids.
    func republish(storedOutbox: [UInt8]) async throws {
        try await publish(try StoredOutbox.decode(storedOutbox))
    }

    /// A copy of `message` for the dead-letter queue, carrying why it died.
    /// The original headers and body stay; `user_id` goes (the broker refuses
    /// a publish whose user_id is not the publishing user, and closes the
    /// channel) and so does `expiration` (a dead letter must not vanish on a
    /// sender's TTL).
    func deadLetter(_ message: AMQPMessage, routingKey: String, reason: String, attempts: Int, actor: ActorAddress?) -> AMQPPublication {
        var copy = message
        copy.properties.userID = nil
        copy.properties.expiration = nil
        copy.properties.headers[WireFormat.errorHeader] = .string(reason)
        copy.properties.headers[WireFormat.attemptsHeader] = .int32(Int32(clamping: attempts))
        copy.properties.headers[WireFormat.workerHeader] = .string(workerID)
        copy.properties.headers[WireFormat.deadAtHeader] = .timestamp(UInt64(Date().timeIntervalSince1970))
        copy.properties.headers[WireFormat.originalRoutingKeyHeader] = .string(routingKey)
        if let actor { copy.properties.headers[WireFormat.actorHeader] = .string(actor.description) }
        copy.properties.persistent = true
        return AMQPPublication(copy, exchange: Topology.deadExchange, routingKey: routingKey, mandatory: true)
    }

    func publishDeadLetters(_ publications: [AMQPPublication]) async throws {
        guard !publications.isEmpty else { return }
        for result in try await channel.publish(publications) {
            try result.get()
        }
    }
}
