/// A message type, bound to its kind: the wire name (AMQP `type`) that
/// senders in any language use, as docs/PROTOCOL.md describes. Its payload
/// is the message encoded as JSON.
///
/// ```swift
/// struct Add: ActorMessage {
///     static let kind = "add"
///     var by: Int
/// }
/// ```
public protocol ActorMessage: Codable, Sendable {
    /// The wire name of this message, unique among the messages one actor type takes.
    static var kind: String { get }
}

/// A message that is answered: its handler returns a `Reply`, which goes
/// back to the sender when it asked (`ask`), and is dropped otherwise.
///
/// ```swift
/// struct Get: ActorRequest {
///     static let kind = "get"
///     typealias Reply = Tally.State
/// }
/// ```
public protocol ActorRequest: ActorMessage {
    associatedtype Reply: Codable & Sendable
    /// The wire kind of the reply (AMQP `type`): `reply` unless the request
    /// says otherwise (`Echo.Ping` answers `pong`).
    static var replyKind: String { get }
}

extension ActorRequest {
    public static var replyKind: String { "reply" }
}

/// A parent hears of a child's message that was dead-lettered (retries used
/// up, rejected, poison): handle `ChildFailed` to repair; a typed behaviour
/// that does not handle it ignores it (the dead letter is in `greenroom.dead`).
extension ChildFailed: ActorMessage {
    public static let kind = WireFormat.SystemKind.childFailed
}
