import Foundation
import Workers

/// A message as the test kit saw it: one an actor received, or one a turn
/// sent. `json` is the payload as text (keys sorted, as the runtime encodes).
public struct TestMessage: Sendable, CustomStringConvertible {
    /// The target actor.
    public let to: ActorAddress
    /// The kind (the wire name, AMQP `type`).
    public let kind: String
    /// The JSON payload.
    public let payload: [UInt8]
    /// The message id (the dedup key); a turn's sends get `INCOMING-ID/N`.
    public let id: String
    /// The sending actor, when an actor sent it.
    public let from: ActorAddress?
    /// When it was due, for a message that waited (a delayed send, a timer's
    /// or reminder's firing): `clock.date(at:)` of the instant it came due.
    public let scheduledAt: Date?
    /// The timer or reminder it is a firing of (name, missed periods).
    public let firing: ScheduleFiring?

    init(to: ActorAddress, kind: String, payload: [UInt8], id: String, from: ActorAddress?,
         scheduledAt: Date? = nil, firing: ScheduleFiring? = nil) {
        self.to = to
        self.kind = kind
        self.payload = payload
        self.id = id
        self.from = from
        self.scheduledAt = scheduledAt
        self.firing = firing
    }

    init(_ message: Message, to target: ActorAddress) {
        self.init(to: target, kind: message.kind, payload: message.payload, id: message.id, from: message.sender,
                  scheduledAt: message.scheduledAt, firing: message.firing)
    }

    public var json: String { String(decoding: payload, as: UTF8.self) }

    /// The payload as the typed message `M`. Throws if the kind is not
    /// `M.kind`, or (naming the field) if the payload does not decode.
    public func decode<M: ActorMessage>(_ type: M.Type) throws -> M {
        guard kind == M.kind else { throw KindMismatch(message: self, expected: M.kind) }
        return try Message(kind: kind, payload: payload, id: id).decode(M.self)
    }

    public var description: String { "\(kind) \(json) to \(to)" + (from.map { " from \($0)" } ?? "") }

    /// `TestMessage.decode` was asked for another kind than the message has.
    public struct KindMismatch: Error, CustomStringConvertible {
        public let message: TestMessage
        public let expected: String
        public var description: String { "expected a '\(expected)' message, got \(message)" }
    }
}

/// A reply a turn gave (`context.reply`, or a typed request's return value).
public struct TestReply: Sendable, CustomStringConvertible {
    /// `reply` unless the handler named another (echo answers `pong`).
    public let kind: String
    public let payload: [UInt8]

    public var json: String { String(decoding: payload, as: UTF8.self) }

    /// The reply as `T`; a reply of another shape throws, saying why.
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(payload))
        } catch {
            throw TestKitError("the reply \(json) does not decode as \(T.self): \(error)")
        }
    }

    public var description: String { "\(kind) \(json)" }
}

/// A delayed send, timer or reminder waiting for the test clock: the
/// message it sends when due (for a reminder, its next firing).
public struct TestScheduled: Sendable, CustomStringConvertible {
    /// The message, with the id it fires with.
    public let message: TestMessage
    /// When it is due on the test clock (it fires once the clock reaches it).
    public let due: TestClock.Instant
    /// The timer's or reminder's name; nil for a delayed send.
    public let name: String?
    public let isReminder: Bool
    /// A reminder's period.
    public let every: Duration?

    public var description: String {
        let what = name.map { (isReminder ? "reminder '" : "timer '") + $0 + "'" } ?? "delayed send"
        return "\(what) due at \(due): \(message)" + (every.map { ", every \($0)" } ?? "")
    }
}

/// A child a turn spawned.
public struct TestSpawn: Sendable, CustomStringConvertible {
    public let address: ActorAddress
    /// The child's initial state as JSON; nil: its type's initial state.
    public let stateJSON: String?

    public var description: String { "\(address)" + (stateJSON.map { " with \($0)" } ?? "") }
}

/// A message that could not be handled, as the runtime would put it in
/// `greenroom.dead`: the reason and how many attempts were made (0: refused
/// before the behaviour ran; 1: rejected; N: failed N times).
public struct TestDeadLetter: Sendable, CustomStringConvertible {
    /// The actor it was for.
    public let actor: ActorAddress
    public let kind: String
    /// The message id.
    public let id: String
    public let payload: [UInt8]
    /// Why, worded as in the runtime's `x-greenroom-error` header.
    public let reason: String
    /// As the runtime's `x-greenroom-attempts` header.
    public let attempts: Int
    /// What the handler threw on the last attempt (nil when it never ran).
    public let error: (any Error)?

    public var json: String { String(decoding: payload, as: UTF8.self) }

    public var description: String { "\(kind) \(json) to \(actor), attempts \(attempts): \(reason)" }
}

/// What one turn (one attempt at one message) did.
public struct TurnRecord: Sendable, CustomStringConvertible {
    /// How the attempt ended.
    public enum Outcome: Sendable {
        /// The handler returned: the state and the effects below are committed.
        case committed
        /// The handler threw; the message runs again at `at` on the test clock.
        case willRetry(at: TestClock.Instant)
        /// The message was dead-lettered: refused, rejected, or out of attempts.
        case deadLettered(TestDeadLetter)
    }

    /// The message the actor received (`to` is the actor).
    public let message: TestMessage
    /// 1 for the first attempt; 0 for a message refused before the behaviour ran.
    public let attempt: Int
    public let outcome: Outcome
    /// Messages sent to actors (spawns and the runtime's stop cascade are
    /// not listed here); empty unless committed.
    public let sent: [TestMessage]
    /// Delayed sends, timers and reminders the turn set (in the due set
    /// once committed); empty unless committed.
    public let scheduled: [TestScheduled]
    /// Children spawned; empty unless committed.
    public let spawned: [TestSpawn]
    /// The reply, if the handler gave one and the message was committed.
    public let reply: TestReply?
    /// Whether the turn stopped its actor.
    public let stopped: Bool
    /// What the handler threw, if it threw.
    public let error: (any Error)?

    public var committed: Bool {
        if case .committed = outcome { true } else { false }
    }

    /// The dead letter, when this attempt ended in one.
    public var deadLetter: TestDeadLetter? {
        if case .deadLettered(let letter) = outcome { letter } else { nil }
    }

    /// Why the attempt failed (the dead letter's reason, or the error), nil if committed.
    public var failure: String? {
        switch outcome {
        case .committed: nil
        case .willRetry: error.map { "\($0)" }
        case .deadLettered(let letter): letter.reason
        }
    }

    public var description: String {
        switch outcome {
        case .committed: "\(message): committed" + (reply.map { ", replied \($0)" } ?? "")
        case .willRetry(let at): "\(message): attempt \(attempt) failed (\(failure ?? "?")), again at \(at)"
        case .deadLettered(let letter): "\(message): dead-lettered, \(letter.reason)"
        }
    }
}

/// The test kit was used in a way that cannot work, or a request got no
/// usable answer; `description` says which and what to do.
public struct TestKitError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) { self.description = description }
}
