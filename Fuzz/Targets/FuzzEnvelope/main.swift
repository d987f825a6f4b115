import FuzzDriver
@testable import Broker
@testable import Workers

/// The libFuzzer target: the envelope check every delivery passes before its
/// turn. The input is cut at NUL bytes into: flags, x-greenroom-to,
/// message_id, type, x-greenroom-from, x-greenroom-spawn, body (the rest).
/// The flags choose how headers are typed on the wire (longstr, bytes,
/// bool, int) and which are absent; a second byte sets the body limit, a
/// third marks the body oversized (unread) and sets reply_to. It must never
/// crash; an envelope it accepts holds the delivery's own target, id, kind
/// and a JSON body within the limit, was not oversized, and honours only a
/// direct reply-to.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    var fields = bytes.split(separator: 0, maxSplits: 6, omittingEmptySubsequences: false).map(Array.init)
    while fields.count < 7 { fields.append([]) }
    let flags = fields[0].first ?? 0
    let text = { (index: Int) in String(decoding: fields[index], as: UTF8.self) }

    var headers: AMQPTable = [:]
    func header(_ name: String, _ index: Int, absentBit: UInt8, bytesBit: UInt8) {
        guard flags & absentBit == 0 else { return }
        headers[name] = flags & bytesBit != 0 ? .bytes(fields[index]) : .string(text(index))
    }
    header(WireFormat.toHeader, 1, absentBit: 0x01, bytesBit: 0x02)
    header(WireFormat.fromHeader, 4, absentBit: 0x04, bytesBit: 0x08)
    switch (flags >> 4) & 0x03 {
    case 0: break
    case 1: headers[WireFormat.spawnHeader] = .bool(fields[5].first.map { $0 & 1 == 1 } ?? false)
    case 2: headers[WireFormat.spawnHeader] = .string(text(5))
    default: headers[WireFormat.spawnHeader] = .int32(Int32(fields[5].first ?? 0))
    }
    let limit = 64 + Int(fields[0].dropFirst().first ?? 255) * 16
    // A third flags byte: the body was too big to read (the consumer's
    // declared-size check), and reply_to (direct reply-to, or any text).
    let extra = fields[0].dropFirst(2).first ?? 0
    let replyTo: String? = switch extra & 0x06 {
    case 0x02: "amq.rabbitmq.reply-to.fuzz"
    case 0x04: text(4)
    default: nil
    }
    var properties = AMQPProperties(headers: headers, messageID: flags & 0x40 != 0 ? nil : text(2), type: flags & 0x80 != 0 ? nil : text(3))
    properties.replyTo = replyTo
    var delivery = AMQPDelivery(body: fields[6], properties: properties, deliveryTag: 1, redelivered: false,
                                exchange: "greenroom.actors", routingKey: "fuzz.0", consumerTag: "fuzz")
    if extra & 0x01 != 0 {
        delivery.body = []
        delivery.oversizedBodyBytes = limit + fields[6].count + 1
    }

    switch Envelope.parse(delivery, maximumBodyBytes: limit) {
    case .success(let envelope):
        precondition(envelope.target.description == headers[WireFormat.toHeader]?.stringValue, "target \(envelope.target)")
        precondition(envelope.message.id == properties.messageID && envelope.message.kind == properties.type)
        precondition(envelope.message.payload == fields[6] && fields[6].count <= limit && JSONValidator.isValid(fields[6]))
        precondition(delivery.oversizedBodyBytes == nil, "an oversized delivery was accepted")
        precondition(envelope.message.replyTo == nil || envelope.message.replyTo!.hasPrefix("amq.rabbitmq.reply-to"),
                     "reply_to \(envelope.message.replyTo!) honoured")
    case .failure(let invalid):
        precondition(!invalid.description.isEmpty)
    }
    return 0
}

runFuzzer { start, count in fuzzEnvelope(start, count) }
