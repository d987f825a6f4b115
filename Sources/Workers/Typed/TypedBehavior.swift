/// A behaviour written with typed messages: a handler per message type,
/// found by kind — no switch on strings. Unknown kinds are dead-lettered
/// with the kinds the type takes; a payload that does not decode is
/// dead-lettered naming the field; two handlers for one kind (or one for
/// `greenroom.spawn`/`greenroom.stop`, which only the runtime receives) stop
/// the worker at start-up, naming both.
///
/// ```swift
/// struct Tally: TypedBehavior {
///     struct State: Codable, Sendable { var total = 0 }
///     struct Add: ActorMessage { static let kind = "add"; var by: Int }
///     struct Get: ActorRequest { static let kind = "get"; typealias Reply = State }
///
///     static let typeName = "tally"
///     static let initialState = State()
///
///     let handlers = Handlers<Tally>()
///         .on(Add.self) { add, state, _ in state.total += add.by }
///         .on(Get.self) { _, state, _ in state }
/// }
/// ```
///
/// The string style (`Behavior.handle(_:state:context:)` with a switch on
/// `message.kind`) remains, as an escape hatch for payloads without a fixed
/// shape; the two styles meet on the wire, where a kind is a string.
public protocol TypedBehavior: Behavior {
    /// This type's handlers.
    var handlers: Handlers<Self> { get }
}

extension TypedBehavior {
    public func handle(_ message: Message, state: inout State, context: TurnContext) async throws {
        let handlers = handlers
        guard let entry = handlers.entries[message.kind] else {
            if message.kind == ChildFailed.kind { return }  // not handled: already in greenroom.dead
            throw MessageRejected("unknown message kind '\(message.kind)' for \(context.address.type); it takes: \(handlers.kinds.joined(separator: ", "))")
        }
        try await entry.handle(message, &state, context)
    }

    public func hostingProblems() -> [String] { handlers.problems }
}
