import Foundation

/// Time inside a turn (docs/TIME.md): delayed sends, timers and reminders.
/// Like every effect they are stored when the turn commits and discarded
/// if it throws; a limit broken throws `MessageRejected`, so the message is
/// dead-lettered with the reason.
extension TurnContext {
    /// Sends `payload` as a `kind` message to `target` once `delay` has passed.
    /// It is stored in this actor's partition with the turn's commit and
    /// published when due, once (its id is fixed now).
    public func send(to target: ActorAddress, kind: String, _ payload: some Encodable & Sendable, after delay: Duration) throws {
        try Schedules.check(delay: delay)
        try schedule(.deliver, to: target, kind: kind, payload, due: Schedules.milliseconds(now()) + Schedules.milliseconds(delay))
    }

    /// Sends `payload` as a `kind` message to `target` at `date` (at once
    /// when `date` has passed).
    public func send(to target: ActorAddress, kind: String, _ payload: some Encodable & Sendable, at date: Date) throws {
        try schedule(.deliver, to: target, kind: kind, payload, due: try due(at: date))
    }

    /// Sends this actor a `kind` message once `delay` has passed, unless the
    /// timer is cancelled, set again (which replaces it) or the actor stops
    /// first. A fired timer is gone; set it again to repeat.
    public func setTimer(_ name: String, after delay: Duration, kind: String, _ payload: some Encodable & Sendable) throws {
        try Schedules.check(delay: delay)
        try schedule(.timer(name), to: address, kind: kind, payload, due: Schedules.milliseconds(now()) + Schedules.milliseconds(delay))
    }

    /// `setTimer` with the payload `{}`.
    public func setTimer(_ name: String, after delay: Duration, kind: String) throws {
        try setTimer(name, after: delay, kind: kind, EmptyPayload())
    }

    /// Cancels the timer `name`: a firing already on its way is not run.
    public func cancelTimer(_ name: String) {
        effects.withLock { $0.schedule.append(.cancel(field: ScheduleKind.timer(name).field)) }
    }

    /// Sends this actor a `kind` message every `period`, first at `start`
    /// (or one period from now), until cancelled or the actor stops. Stored
    /// in Redis: it survives restarts and handovers. After a time when no
    /// worker could fire it, it fires once, and `Message.firing` says how
    /// many periods were missed. Setting it again replaces it.
    public func setReminder(_ name: String, every period: Duration, startingAt start: Date? = nil, kind: String,
                            _ payload: some Encodable & Sendable) throws {
        guard period >= Schedules.minimumReminderPeriod else {
            throw MessageRejected("a reminder's period must be at least \(Schedules.minimumReminderPeriod) (got \(period) for '\(name)')")
        }
        guard period <= Schedules.maximumDelay else {
            throw MessageRejected("a reminder's period must be at most one year (got \(period) for '\(name)')")
        }
        let first = try start.map { try due(at: $0) } ?? Schedules.milliseconds(now()) + Schedules.milliseconds(period)
        try schedule(.reminder(name, every: Schedules.milliseconds(period)), to: address, kind: kind, payload, due: first)
    }

    /// `setReminder` with the payload `{}`.
    public func setReminder(_ name: String, every period: Duration, startingAt start: Date? = nil, kind: String) throws {
        try setReminder(name, every: period, startingAt: start, kind: kind, EmptyPayload())
    }

    /// Cancels the reminder `name`: a firing already on its way is not run.
    public func cancelReminder(_ name: String) {
        effects.withLock { $0.schedule.append(.cancel(field: ScheduleKind.reminder(name, every: 0).field)) }
    }

    /// The start of ids derived from `id`: `id` itself, or a digest of it
    /// when long. A timer set again by its own firing derives its id from
    /// the firing's id, which was derived the same way: without the digest,
    /// a timer kept going for a year would carry an id of megabytes.
    static func stem(of id: String) -> String {
        guard id.utf8.count > 64 else { return id }
        // Two FNV-1a hashes with different offsets: 128 bits, deterministic across processes.
        var first: UInt64 = 0xcbf2_9ce4_8422_2325
        var second: UInt64 = 0x6c62_272e_07bb_0142
        for byte in id.utf8 {
            first = (first ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            second = (second ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return "h" + String(first, radix: 16) + String(second, radix: 16)
    }

    private func due(at date: Date) throws -> Int64 {
        let now = Schedules.milliseconds(now())
        let due = Schedules.milliseconds(date)
        guard due - now <= Schedules.milliseconds(Schedules.maximumDelay) else {
            throw MessageRejected("\(date) is more than one year ahead (the longest delay)")
        }
        return max(now, due)
    }

    private func schedule(_ kind: ScheduleKind, to target: ActorAddress, kind messageKind: String, _ payload: some Encodable & Sendable,
                          due: Int64) throws {
        if case .deliver = kind {} else {
            guard !kind.name.isEmpty, kind.name.utf8.count <= 200 else {
                throw MessageRejected("a timer's or reminder's name must be 1 to 200 bytes (got '\(kind.name)')")
            }
        }
        let body = try Self.encode(payload)
        effects.withLock { effects in
            // Own numbering (`/tN`): a turn's plain sends keep the ids they always had.
            let id = "\(Self.stem(of: message.id))/t\(effects.schedule.count)"
            switch kind {
            case .deliver:
                effects.schedule.append(.deliver(DueEntry(to: target, kind: messageKind, payload: body, id: id, due: due, from: address)))
            case .timer, .reminder:
                var every: Int64?
                if case .reminder(_, let period) = kind { every = period }
                effects.schedule.append(.set(DueEntry(to: target, kind: messageKind, payload: body, id: id, due: due, from: address,
                                                      schedule: kind.field, every: every)))
            }
        }
    }
}

/// The payload `{}`.
struct EmptyPayload: Codable, Sendable {}

/// What a schedule operation is about.
enum ScheduleKind {
    case deliver
    case timer(String)
    case reminder(String, every: Int64)

    var name: String {
        switch self {
        case .deliver: ""
        case .timer(let name), .reminder(let name, _): name
        }
    }

    /// The actor's `schedules` field: `timer:NAME` or `reminder:NAME`.
    var field: String {
        switch self {
        case .deliver: ""
        case .timer(let name): "timer:\(name)"
        case .reminder(let name, _): "reminder:\(name)"
        }
    }
}
