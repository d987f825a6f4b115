import Foundation

/// A message as a handler sees it.
public struct Message: Sendable {
    /// The message kind (AMQP `type` property), e.g. `add`.
    public let kind: String
    /// The JSON payload.
    public let payload: [UInt8]
    /// Unique per logical message; the dedup key.
    public let id: String
    /// The sending actor, when an actor sent it.
    public let sender: ActorAddress?
    /// Where a reply goes, when the sender asked for one.
    let replyTo: String?
    let correlationID: String?
    /// When the message was due, for one sent with a delay, a timer's or a
    /// reminder's (docs/TIME.md).
    public let scheduledAt: Date?
    /// The timer or reminder that sent it, if one did.
    public let firing: ScheduleFiring?
    /// The trace the message belongs to (`traceparent`, `tracestate`), if it carries one.
    public let trace: TraceHeaders?

    public init(kind: String, payload: [UInt8], id: String, sender: ActorAddress? = nil, replyTo: String? = nil, correlationID: String? = nil,
                scheduledAt: Date? = nil, firing: ScheduleFiring? = nil, trace: TraceHeaders? = nil) {
        self.kind = kind
        self.payload = payload
        self.id = id
        self.sender = sender
        self.replyTo = replyTo
        self.correlationID = correlationID
        self.scheduledAt = scheduledAt
        self.firing = firing
        self.trace = trace
    }

    /// Decodes the payload; a payload that does not decode rejects the message
    /// (it is dead-lettered with the decoding error, not retried).
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(payload))
        } catch {
            throw MessageRejected("payload of '\(kind)' does not decode as \(T.self): \(JSONErrorText.describe(error, in: payload))")
        }
    }

    /// True when the sender is waiting for a reply.
    public var expectsReply: Bool { replyTo != nil }
}

/// A timer's or reminder's firing, as its message carries it.
public struct ScheduleFiring: Sendable, Equatable {
    /// The name it was set with.
    public let name: String
    /// A reminder (recurring), or else a timer (once).
    public let isReminder: Bool
    /// Whole periods that passed with nobody to fire it (a reminder after an
    /// outage fires once, not once per period): 0 normally.
    public let missedPeriods: Int
    /// The set it belongs to: a firing of a timer or reminder cancelled or set
    /// again since is not run.
    package let generation: String

    package init(name: String, isReminder: Bool, missedPeriods: Int, generation: String) {
        self.name = name
        self.isReminder = isReminder
        self.missedPeriods = missedPeriods
        self.generation = generation
    }

    /// The actor's `schedules` field it belongs to.
    package var field: String { (isReminder ? "reminder:" : "timer:") + name }

    /// Reads `timer:NAME` / `reminder:NAME`.
    package init?(field: String, missedPeriods: Int, generation: String) {
        if field.hasPrefix("timer:") {
            self.init(name: String(field.dropFirst(6)), isReminder: false, missedPeriods: missedPeriods, generation: generation)
        } else if field.hasPrefix("reminder:") {
            self.init(name: String(field.dropFirst(9)), isReminder: true, missedPeriods: missedPeriods, generation: generation)
        } else {
            return nil
        }
    }
}
