import Broker
import Foundation

/// A delivery checked against the wire format (docs/PROTOCOL.md): a target
/// address, a kind, a message id, a JSON body within the size limit.
struct Envelope: Sendable {
    let target: ActorAddress
    let message: Message
    let spawnIfMissing: Bool
    /// A client's delayed message: not to run before (unix ms, `x-greenroom-not-before`).
    var notBefore: Int64? = nil

    /// Why a delivery can never be handled; it is dead-lettered with this.
    struct Invalid: Error, CustomStringConvertible {
        let description: String
        /// The target, when it could be read.
        var target: ActorAddress?
    }

    static func parse(_ delivery: AMQPDelivery, maximumBodyBytes: Int) -> Result<Envelope, Invalid> {
        let properties = delivery.properties
        guard let toText = properties.headers[WireFormat.toHeader]?.stringValue else {
            return .failure(Invalid(description: "missing header \(WireFormat.toHeader) (the target address)"))
        }
        let target: ActorAddress
        do {
            target = try ActorAddress(parsing: toText)
        } catch {
            return .failure(Invalid(description: "bad header \(WireFormat.toHeader): \(error)"))
        }
        guard let id = properties.messageID, !id.isEmpty else {
            return .failure(Invalid(description: "missing message_id property (required: it is the dedup key)", target: target))
        }
        guard let kind = properties.type, !kind.isEmpty else {
            return .failure(Invalid(description: "missing type property (the message kind)", target: target))
        }
        let size = delivery.oversizedBodyBytes ?? delivery.body.count
        guard size <= maximumBodyBytes else {
            return .failure(Invalid(description: "body is \(size) bytes; the limit is \(maximumBodyBytes)", target: target))
        }
        guard JSONValidator.isValid(delivery.body) else {
            return .failure(Invalid(description: "body is not valid JSON", target: target))
        }
        var sender: ActorAddress?
        if let from = properties.headers[WireFormat.fromHeader]?.stringValue {
            guard let parsed = try? ActorAddress(parsing: from) else {
                return .failure(Invalid(description: "bad header \(WireFormat.fromHeader): '\(from)' is not an address", target: target))
            }
            sender = parsed
        }
        let spawn: Bool = switch properties.headers[WireFormat.spawnHeader] {
        case .bool(let value)?: value
        case let other?: other.stringValue == "true"
        case nil: false
        }
        let headers = properties.headers
        var firing: ScheduleFiring?
        if let field = headers[WireFormat.scheduleHeader]?.stringValue {
            guard let generation = headers[WireFormat.generationHeader]?.stringValue,
                  let parsed = ScheduleFiring(field: field, missedPeriods: Int(Self.integer(headers[WireFormat.missedHeader]) ?? 0),
                                              generation: generation) else {
                return .failure(Invalid(description: "bad header \(WireFormat.scheduleHeader) '\(field)': expected timer:NAME or reminder:NAME "
                                        + "with \(WireFormat.generationHeader)", target: target))
            }
            firing = parsed
        }
        return .success(Envelope(
            target: target,
            message: Message(kind: kind, payload: delivery.body, id: id, sender: sender,
                             replyTo: honoured(replyTo: properties.replyTo), correlationID: properties.correlationID,
                             scheduledAt: Self.integer(headers[WireFormat.dueAtHeader]).map { Date(timeIntervalSince1970: Double($0) / 1_000) },
                             firing: firing, trace: TraceHeaders(headers)),
            spawnIfMissing: spawn,
            notBefore: Self.integer(headers[WireFormat.notBeforeHeader])))
    }

    /// A header's integer: any AMQP integer type, or decimal digits in a
    /// string (as clients in other languages may send it).
    static func integer(_ value: AMQPFieldValue?) -> Int64? {
        value?.intValue ?? value?.stringValue.flatMap { Int64($0) }
    }

    /// `reply_to` if replies may go there: only RabbitMQ's direct reply-to
    /// (`amq.rabbitmq.reply-to…`), which Greenroom's clients use. Any other
    /// value names some queue a sender could make a worker write into.
    static func honoured(replyTo: String?) -> String? {
        // The broker names each reply queue `amq.rabbitmq.reply-to.…`.
        guard let replyTo, replyTo.hasPrefix(AMQPChannel.directReplyTo) else { return nil }
        return replyTo
    }

    /// True when the delivery named a `reply_to` that is ignored.
    static func ignoresReplyTo(_ delivery: AMQPDelivery) -> Bool {
        delivery.properties.replyTo != nil && honoured(replyTo: delivery.properties.replyTo) == nil
    }
}
