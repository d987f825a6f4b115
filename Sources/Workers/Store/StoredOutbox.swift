import Foundation

/// An outbox as the dedup record stores it (`CommitScript`): JSON, each
/// message's payload as a JSON string of its UTF-8 text — about 1.1 bytes per
/// payload byte, where the array of numbers Codable makes of `[UInt8]` took
/// 3–4. Most turns send nothing and store `[]`.
///
/// Records written before (payload as an array of numbers) still decode: a
/// redelivery after an upgrade re-publishes them like any other.
enum StoredOutbox {
    static func encode(_ outbox: [OutgoingMessage]) throws -> [UInt8] {
        outbox.isEmpty ? Array("[]".utf8) : Array(try JSONEncoder().encode(outbox.map(StoredMessage.init)))
    }

    static func decode(_ bytes: [UInt8]) throws -> [OutgoingMessage] {
        try JSONDecoder().decode([StoredMessage].self, from: Data(bytes)).map(\.message)
    }
}

/// `OutgoingMessage` with the payload as text: same keys, so records of
/// either form decode; `from`, a false `spawnIfMissing` and an absent trace
/// are left out. The trace is stored as `traceparent` and `tracestate`, so a
/// re-published outbox continues the same trace.
private struct StoredMessage: Codable {
    var message: OutgoingMessage

    init(_ message: OutgoingMessage) {
        self.message = message
    }

    enum CodingKeys: String, CodingKey {
        case destination, kind, payload, id, from, spawnIfMissing, traceparent, tracestate
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let payload: [UInt8]
        if let text = try? container.decode(String.self, forKey: .payload) {
            payload = Array(text.utf8)
        } else {
            payload = try container.decode([UInt8].self, forKey: .payload)  // the record format before
        }
        message = OutgoingMessage(
            destination: try container.decode(OutgoingMessage.Destination.self, forKey: .destination),
            kind: try container.decode(String.self, forKey: .kind), payload: payload,
            id: try container.decode(String.self, forKey: .id),
            from: try container.decodeIfPresent(ActorAddress.self, forKey: .from),
            spawnIfMissing: try container.decodeIfPresent(Bool.self, forKey: .spawnIfMissing) ?? false,
            trace: try container.decodeIfPresent(String.self, forKey: .traceparent).map {
                TraceHeaders(traceparent: $0, tracestate: try container.decodeIfPresent(String.self, forKey: .tracestate))
            })
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(message.destination, forKey: .destination)
        try container.encode(message.kind, forKey: .kind)
        if let text = String(validating: message.payload, as: UTF8.self) {
            try container.encode(text, forKey: .payload)
        } else {
            try container.encode(message.payload, forKey: .payload)
        }
        try container.encode(message.id, forKey: .id)
        try container.encodeIfPresent(message.from, forKey: .from)
        if message.spawnIfMissing { try container.encode(true, forKey: .spawnIfMissing) }
        try container.encodeIfPresent(message.trace?.traceparent, forKey: .traceparent)
        try container.encodeIfPresent(message.trace?.tracestate, forKey: .tracestate)
    }
}
