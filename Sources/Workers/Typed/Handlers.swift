/// The handlers of a `TypedBehavior`, one per message type, found by the
/// message's kind. Built by chaining `on`:
///
/// ```swift
/// let handlers = Handlers<Tally>()
///     .on(Add.self) { add, state, _ in state.total += add.by }
///     .on(Get.self) { _, state, _ in state }
/// ```
public struct Handlers<B: Behavior>: Sendable {
    typealias Handler = @Sendable (_ message: Message, _ state: inout B.State, _ context: TurnContext) async throws -> Void

    struct Entry: Sendable {
        var messageType: String
        var handle: Handler
    }

    private(set) var entries: [String: Entry] = [:]
    /// What is wrong with these handlers as written — a kind registered
    /// twice (naming both message types), a kind only the runtime receives:
    /// a worker hosting them refuses to start.
    private(set) var problems: [String] = []

    public init() {}

    /// Handles `M`: the payload is decoded as `M` (a payload that does not
    /// decode is dead-lettered, naming the field and what was expected).
    public func on<M: ActorMessage>(
        _ type: M.Type,
        _ handle: @escaping @Sendable (_ message: M, _ state: inout B.State, _ context: TurnContext) async throws -> Void
    ) -> Handlers {
        adding(M.self) { message, state, context in
            try await handle(try message.decode(M.self), &state, context)
        }
    }

    /// Handles the request `R`: what the handler returns is the reply (sent
    /// as `R.replyKind` when the sender asked; dropped otherwise).
    public func on<R: ActorRequest>(
        _ type: R.Type,
        _ handle: @escaping @Sendable (_ request: R, _ state: inout B.State, _ context: TurnContext) async throws -> R.Reply
    ) -> Handlers {
        adding(R.self) { message, state, context in
            let reply = try await handle(try message.decode(R.self), &state, context)
            try context.reply(reply, kind: R.replyKind)
        }
    }

    private func adding<M: ActorMessage>(_ type: M.Type, _ handler: @escaping Handler) -> Handlers {
        var copy = self
        if WireFormat.SystemKind.isRuntimeHandled(M.kind) {
            copy.problems.append("kind '\(M.kind)' of \(M.self) in \(B.typeName) is the runtime's own, never delivered to a behaviour: give \(M.self) another kind")
        } else if let existing = entries[M.kind] {
            copy.problems.append("kind '\(M.kind)' is handled twice in \(B.typeName): by \(existing.messageType) and by \(M.self)")
        } else {
            copy.entries[M.kind] = Entry(messageType: "\(M.self)", handle: handler)
        }
        return copy
    }

    /// The kinds handled, sorted (for errors and docs).
    public var kinds: [String] { entries.keys.sorted() }
}
