/// An actor type: its name, its state, and what it does with each message.
///
/// ```swift
/// struct Counter: Behavior {
///     struct State: Codable, Sendable { var count = 0 }
///     static let typeName = "counter"
///     static let initialState = State()
///
///     func handle(_ message: Message, state: inout State, context: TurnContext) async throws {
///         switch message.kind {
///         case "add": state.count += try message.decode(Add.self).by
///         case "get": try context.reply(["count": state.count])
///         default: throw MessageRejected.unknownKind(message.kind)
///         }
///     }
/// }
/// ```
///
/// Written so, with a switch on `message.kind`, a behaviour is in the string
/// style: the escape hatch for kinds chosen at run time and payloads without
/// a fixed shape. Most behaviours are `TypedBehavior`s, a handler per message
/// type; both take the same messages on the wire.
///
/// The handler runs on a copy of the state, one message at a time per actor.
/// Its changes, sends, spawns, reply and stop take effect together when the
/// turn commits — or not at all if it throws.
public protocol Behavior: Sendable {
    associatedtype State: Codable & Sendable
    /// The actor type name, `[a-z][a-z0-9_-]{0,63}`.
    static var typeName: String { get }
    /// The state of a new actor spawned without one.
    static var initialState: State { get }
    /// Handles one message.
    func handle(_ message: Message, state: inout State, context: TurnContext) async throws
    /// What is wrong with this behaviour as written (e.g. two handlers for
    /// one kind): a worker hosting it refuses to start, naming each.
    func hostingProblems() -> [String]
}

extension Behavior {
    public func hostingProblems() -> [String] { [] }
}

/// Thrown by a handler for input that will never succeed (unknown kind, bad
/// payload): the message is dead-lettered at once, without retries.
public struct MessageRejected: Error, CustomStringConvertible, Sendable {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public static func unknownKind(_ kind: String) -> MessageRejected {
        MessageRejected("unknown message kind '\(kind)'")
    }

    public var description: String { reason }
}
