import Foundation

/// Time in a typed turn (docs/TIME.md): the typed forms of
/// `send(to:kind:_:after:)`, `setTimer(_:after:kind:_:)` and
/// `setReminder(_:every:startingAt:kind:_:)`, the kind taken from the
/// message type. Like every effect they are stored when the turn commits
/// and discarded if it throws; a limit broken throws `MessageRejected`.
///
/// ```swift
/// .on(Start.self) { _, state, context in
///     try context.setTimer("give-up", after: .minutes(5), GiveUp())
///     try context.setReminder("poll", every: .seconds(30), Poll())
///     try context.send(Ping(), to: state.peer, after: .seconds(10))
/// }
/// ```
extension TurnContext {
    /// Sends the typed `message` to `target` once `delay` has passed (at
    /// least 0, at most `Schedules.maximumDelay`).
    public func send<M: ActorMessage>(_ message: M, to target: ActorRef<some Behavior>, after delay: Duration) throws {
        try send(to: target.address, kind: M.kind, message, after: delay)
    }

    /// Sends the typed `message` to the actor at `target` once `delay` has passed.
    public func send<M: ActorMessage>(_ message: M, to target: ActorAddress, after delay: Duration) throws {
        try send(to: target, kind: M.kind, message, after: delay)
    }

    /// Sends the typed `message` to `target` at `date` (at once when it has passed).
    public func send<M: ActorMessage>(_ message: M, to target: ActorRef<some Behavior>, at date: Date) throws {
        try send(to: target.address, kind: M.kind, message, at: date)
    }

    /// Sends the typed `message` to the actor at `target` at `date`.
    public func send<M: ActorMessage>(_ message: M, to target: ActorAddress, at date: Date) throws {
        try send(to: target, kind: M.kind, message, at: date)
    }

    /// Sends this actor `message` (one of its own behaviour's) once `delay`
    /// has passed, unless the timer `name` is cancelled, set again (which
    /// replaces it) or the actor stops first. A fired timer is gone.
    public func setTimer<M: ActorMessage>(_ name: String, after delay: Duration, _ message: M) throws {
        try setTimer(name, after: delay, kind: M.kind, message)
    }

    /// Sends this actor `message` every `period` (at least one second),
    /// first at `start` (or one period from now), until the reminder `name`
    /// is cancelled or the actor stops. It survives restarts; after a time
    /// nobody could fire it, it fires once and `Message.firing` says how
    /// many periods were missed.
    public func setReminder<M: ActorMessage>(_ name: String, every period: Duration, startingAt start: Date? = nil, _ message: M) throws {
        try setReminder(name, every: period, startingAt: start, kind: M.kind, message)
    }

    /// The timer or reminder this turn's message is a firing of (its name,
    /// and after an outage the periods a reminder missed): a typed handler
    /// receives only the decoded message, so it reads this here.
    public var firing: ScheduleFiring? { message.firing }

    /// When this turn's message was due, if it was sent with a delay or by
    /// a timer or reminder.
    public var scheduledAt: Date? { message.scheduledAt }
}
