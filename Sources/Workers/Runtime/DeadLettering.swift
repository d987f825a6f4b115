import Broker

/// The last step for a message that can never be handled: a copy goes to
/// `greenroom.dead` with the reason and attempt count in its headers; a
/// caller waiting on `reply_to` hears the reason at once; and when a turn
/// failed every attempt, the actor's parent gets `child-failed`.
extension TurnPipeline {
    func deadLetter(_ refusal: TurnPlan.Refusal, parent: ActorAddress?) async throws {
        let envelope = refusal.item.envelope
        let trace = tracing.outgoing(for: refusal.item)
        try await deadLetter(refusal.item.delivery, reason: refusal.reason, attempts: refusal.attempts, actor: envelope.target, trace: trace)
        if refusal.exhaustedRetries, let parent {
            var notice = try ChildFailed.notice(to: parent, child: envelope.target, message: envelope.message, reason: refusal.reason)
            notice.trace = trace
            try await publisher.publish([notice])
        }
    }

    /// Dead-letters one delivery (also one that failed the wire-format check);
    /// an `error` reply to a waiting caller continues `trace`.
    func deadLetter(_ delivery: AMQPDelivery, reason: String, attempts: Int, actor: ActorAddress?,
                    trace: TraceHeaders? = nil) async throws {
        logger.info("dead-lettered a message", metadata: ["actor": "\(actor?.description ?? "-")", "reason": "\(reason)"])
        var message = AMQPMessage(body: delivery.body, properties: delivery.properties)
        if let size = delivery.oversizedBodyBytes {
            // The body was never read: the dead letter is a stub that says how big it was.
            message.properties.headers[WireFormat.bodyBytesHeader] = .int64(Int64(size))
        }
        try await publisher.publishDeadLetters([publisher.deadLetter(message, routingKey: delivery.routingKey, reason: reason, attempts: attempts, actor: actor)])
        hooks.didDeadLetter(actor, reason: reason)
        if let replyTo = Envelope.honoured(replyTo: delivery.properties.replyTo) {
            // Someone is waiting (ask, spawn, stop): tell them now instead of letting them time out.
            let payload = try TurnContext.encode(["error": reason])
            try await publisher.publish([OutgoingMessage(
                destination: .reply(queue: replyTo, correlationID: delivery.properties.correlationID), kind: "error",
                payload: payload, id: "\(delivery.properties.messageID ?? "?")/error", from: actor,
                trace: trace ?? TraceHeaders(delivery.properties.headers))])
        }
    }
}

/// The payload of a `child-failed` message to a parent.
public struct ChildFailed: Codable, Sendable, Equatable {
    public var child: ActorAddress
    public var kind: String
    public var error: String
    public var messageID: String

    /// The `child-failed` message to `parent` for `message`, which `child`
    /// could not handle (dead-lettered with `reason`).
    package static func notice(to parent: ActorAddress, child: ActorAddress, message: Message, reason: String) throws -> OutgoingMessage {
        let payload = try TurnContext.encode(ChildFailed(child: child, kind: message.kind, error: reason, messageID: message.id))
        return OutgoingMessage(destination: .actor(parent), kind: WireFormat.SystemKind.childFailed, payload: payload,
                               id: "\(message.id)/child-failed", from: child)
    }
}
