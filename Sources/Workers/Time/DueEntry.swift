import Broker
import Foundation

/// A message waiting in a partition's due set until its time (docs/TIME.md):
/// a delayed send, a timer, a reminder's next firing, or a parked actor's
/// message to release. Stored as JSON in `gr:{P}:due-entries`, its due time
/// as its score in `gr:{P}:due`.
package struct DueEntry: Codable, Sendable, Equatable {
    package var to: ActorAddress
    package var kind: String
    /// The payload as JSON text.
    package var payload: String
    /// The entry's id in the due set: a delayed message's own id, or a
    /// timer's or reminder's generation.
    package var id: String
    /// Unix milliseconds.
    package var due: Int64
    package var from: ActorAddress?
    package var spawn: Bool?
    /// `timer:NAME` or `reminder:NAME`.
    package var schedule: String?
    /// A reminder's period in milliseconds.
    package var every: Int64?
    package var replyTo: String?
    package var correlationID: String?
    /// The park this message is released from (a delayed retry).
    package var release: String?
    /// The trace its firing continues (W3C `traceparent`, `tracestate`).
    package var traceparent: String?
    package var tracestate: String?

    enum CodingKeys: String, CodingKey {
        case to, kind, payload, id, due, from, spawn, schedule, every, release, traceparent, tracestate
        case replyTo = "reply_to"
        case correlationID = "correlation_id"
    }

    package init(to: ActorAddress, kind: String, payload: [UInt8], id: String, due: Int64, from: ActorAddress? = nil,
                 spawn: Bool = false, schedule: String? = nil, every: Int64? = nil) {
        self.to = to
        self.kind = kind
        self.payload = String(decoding: payload, as: UTF8.self)
        self.id = id
        self.due = due
        self.from = from
        self.spawn = spawn ? true : nil
        self.schedule = schedule
        self.every = every
    }

    /// The id the message carries when it fires at `due`: a reminder's
    /// firings each have their own (`GENERATION@DUE`), so the receiver's
    /// dedup tells a re-publish from the next period.
    package func messageID(firingAt due: Int64) -> String {
        every == nil ? id : "\(id)@\(due)"
    }

    /// The trace its firing continues, if any.
    package var trace: TraceHeaders? {
        get { traceparent.map { TraceHeaders(traceparent: $0, tracestate: tracestate) } }
        set {
            traceparent = newValue?.traceparent
            tracestate = newValue?.tracestate
        }
    }

    package func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(self))
    }

    package static func decode(_ bytes: [UInt8]) throws -> DueEntry {
        try JSONDecoder().decode(DueEntry.self, from: Data(bytes))
    }
}

extension AMQPMessage {
    /// Adds the headers of a message fired from a due set (docs/PROTOCOL.md),
    /// as `Envelope.parse` reads them back: when it was due, the timer or
    /// reminder and its generation, the periods a reminder missed. Set by
    /// the dispatcher, and again on a held firing a parked actor releases.
    mutating func markFiring(dueAt: Int64?, schedule: (field: String, generation: String)?, missed: Int?) {
        if let dueAt { properties.headers[WireFormat.dueAtHeader] = .int64(dueAt) }
        if let schedule {
            properties.headers[WireFormat.scheduleHeader] = .string(schedule.field)
            properties.headers[WireFormat.generationHeader] = .string(schedule.generation)
        }
        if let missed { properties.headers[WireFormat.missedHeader] = .int32(Int32(clamping: missed)) }
    }
}
