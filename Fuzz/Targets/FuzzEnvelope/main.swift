import FuzzDriver
@testable import Broker
@testable import Workers

/// The libFuzzer target: the envelope check every delivery passes before its
/// turn. The input is cut at NUL bytes into: flags, x-greenroom-to,
/// message_id, type, x-greenroom-from, x-greenroom-spawn, body (the rest).
/// The flags choose how headers are typed on the wire (longstr, bytes,
/// bool, int) and which are absent. It must never crash; an envelope it
/// accepts holds the delivery's own target, id, kind and a JSON body.
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
    let properties = AMQPProperties(headers: headers, messageID: flags & 0x40 != 0 ? nil : text(2), type: flags & 0x80 != 0 ? nil : text(3))
    let delivery = AMQPDelivery(body: fields[6], properties: properties, deliveryTag: 1, redelivered: false,
                                exchange: "greenroom.actors", routingKey: "fuzz.0", consumerTag: "fuzz")
    let limit = 64 + Int(fields[0].dropFirst().first ?? 255) * 16

    switch Envelope.parse(delivery, maximumBodyBytes: limit) {
    case .success(let envelope):
        precondition(envelope.target.description == headers[WireFormat.toHeader]?.stringValue, "target \(envelope.target)")
        precondition(envelope.message.id == properties.messageID && envelope.message.kind == properties.type)
        precondition(envelope.message.payload == fields[6] && fields[6].count <= limit && JSONValidator.isValid(fields[6]))
    case .failure(let invalid):
        precondition(!invalid.description.isEmpty)
    }
    return 0
}

runFuzzer { start, count in fuzzEnvelope(start, count) }
