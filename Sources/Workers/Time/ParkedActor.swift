import Broker
import Foundation

/// Parking: how a retry whose pause is longer than `RetryPolicy.parkThreshold`
/// waits without holding its actor's later deliveries unacked (docs/TIME.md,
/// "Delayed retries"). The failing message heads the actor's held list, the
/// actor's field `parked` names the park, and a due entry releases it.
///
/// A park id is `<message id>#<failed attempts>`: unique per park (a message
/// parks again only after one more failed attempt), and it names the parked
/// message, so a copy of that message arriving while it is parked (a
/// redelivery) is known as one and not held a second time.
enum ParkID {
    static func make(messageID: String, attempts: Int) -> String { "\(messageID)#\(attempts)" }

    /// The parked message's id in `park`.
    static func messageID(of park: String) -> Substring? {
        guard let mark = park.lastIndex(of: "#"), !park[park.index(after: mark)...].isEmpty,
              park[park.index(after: mark)...].allSatisfy(\.isNumber) else { return nil }
        return park[..<mark]
    }

    /// The id of the due entry that releases `park` (its `greenroom.unpark`).
    static func releaseEntryID(_ park: String) -> String { "\(park)/unpark" }

    /// The entry that releases `park` at `due`: when it is due, the
    /// dispatcher publishes the head of the held list, then this
    /// `greenroom.unpark` message.
    static func releaseEntry(_ park: String, actor: ActorAddress, due: Int64) throws -> DueEntry {
        var entry = DueEntry(to: actor, kind: WireFormat.SystemKind.unpark, payload: try TurnContext.encode(Unpark(park: park)),
                             id: releaseEntryID(park), due: due)
        entry.release = park
        return entry
    }
}

/// The payload of `greenroom.unpark`.
struct Unpark: Codable, Sendable {
    var park: String
}

/// What becomes of a delivery for an actor, given its park.
enum ParkedArrival: Equatable {
    /// Runs as usual: the actor is not parked, or the message was released from its park.
    case run
    /// Appended to the held list, acked once committed.
    case hold
    /// Acked, nothing else: its copy is stored already (the parked message
    /// itself, or a message released from an earlier park, whose copy stays
    /// in the held list until its turn settles), or it was settled before.
    case drop
    /// A `greenroom.unpark` of the current park: ends the park, or starts the next release round.
    case unpark

    /// The decision for a message (`kind`, `messageID`, its `x-greenroom-release`,
    /// and for a `greenroom.unpark` the park it names) to an actor parked as `parked`.
    static func of(kind: String, messageID: String, release: String?, unparking: String?, parked: String?) -> ParkedArrival {
        if kind == WireFormat.SystemKind.unpark { return parked != nil && unparking == parked ? .unpark : .drop }
        guard let parked else { return release == nil ? .run : .drop }
        if release == parked { return .run }
        if release != nil || ParkID.messageID(of: parked).map({ $0 == messageID }) == true { return .drop }
        return .hold
    }
}

/// A message in a parked actor's held list (`gr:{P}:h:<id>`): what it needs
/// to be published again as it came, with the headers its turn reads.
/// Stored as `<byte length of id>:<id><JSON>`, so the commit script can
/// compare the head's id without decoding JSON.
struct HeldMessage: Codable, Sendable, Equatable {
    var id: String
    var kind: String
    /// The payload as JSON text.
    var payload: String
    var from: ActorAddress?
    var spawn: Bool?
    var replyTo: String?
    var correlationID: String?
    /// Failed attempts so far (the parked message).
    var attempts: Int?
    var dueAt: Int64?
    var schedule: String?
    var generation: String?
    var missed: Int?
    /// The trace it belongs to (W3C `traceparent`, `tracestate`), kept for its release.
    var traceparent: String?
    var tracestate: String?

    enum CodingKeys: String, CodingKey {
        case id, kind, payload, from, spawn, attempts, schedule, generation, missed, traceparent, tracestate
        case replyTo = "reply_to"
        case correlationID = "correlation_id"
        case dueAt = "due_at"
    }

    /// The message of `item` as it arrived, with `attempts` failed attempts.
    init(_ item: Delivered, attempts: Int = 0) {
        let message = item.envelope.message
        let headers = item.delivery.properties.headers
        id = message.id
        kind = message.kind
        payload = String(decoding: message.payload, as: UTF8.self)
        from = message.sender
        spawn = item.envelope.spawnIfMissing ? true : nil
        replyTo = message.replyTo
        correlationID = message.correlationID
        self.attempts = attempts > 0 ? attempts : nil
        dueAt = Envelope.integer(headers[WireFormat.dueAtHeader])
        schedule = message.firing?.field
        generation = message.firing?.generation
        missed = message.firing.flatMap { $0.isReminder ? $0.missedPeriods : nil }
        traceparent = message.trace?.traceparent
        tracestate = message.trace?.tracestate
    }

    /// The list element.
    func element() throws -> [UInt8] {
        Array("\(id.utf8.count):\(id)".utf8) + (try JSONEncoder.sorted.encode(self))
    }

    /// Reads a list element.
    static func decode(element: [UInt8]) throws -> HeldMessage {
        guard let colon = element.firstIndex(of: UInt8(ascii: ":")),
              let length = Int(String(decoding: element[..<colon], as: UTF8.self)), colon + 1 + length <= element.count else {
            throw Unreadable()
        }
        return try JSONDecoder().decode(HeldMessage.self, from: Data(element[(colon + 1 + length)...]))
    }

    struct Unreadable: Error, CustomStringConvertible {
        var description: String { "a held message does not start with its id's length" }
    }

    /// The message published again to `actor`, released from `park`.
    func message(to actor: ActorAddress, release park: String) -> AMQPMessage {
        var message = FleetPublisher.actorMessage(to: actor, kind: kind, payload: Array(payload.utf8), id: id, from: from,
                                                  spawnIfMissing: spawn ?? false, replyTo: replyTo, correlationID: correlationID,
                                                  trace: traceparent.map { TraceHeaders(traceparent: $0, tracestate: tracestate) })
        message.properties.headers[WireFormat.releaseHeader] = .string(park)
        if let attempts { message.properties.headers[WireFormat.attemptsHeader] = .int32(Int32(clamping: attempts)) }
        message.markFiring(dueAt: dueAt, schedule: schedule.flatMap { schedule in generation.map { (schedule, $0) } }, missed: missed)
        return message
    }

    /// The failed attempts a released message carries (`x-greenroom-attempts`).
    static func attempts(in headers: AMQPTable) -> Int {
        max(0, Int(clamping: Envelope.integer(headers[WireFormat.attemptsHeader]) ?? 0))
    }
}
