/// `counter`: state `{"count": Int}` from 0; `add {"by": Int}` (replies with
/// the new count when asked); `get` replies `{"count": Int}`.
public struct Counter: Behavior {
    public struct State: Codable, Sendable, Equatable {
        public var count = 0
    }

    struct Add: Decodable {
        var by: Int
    }

    public static let typeName = "counter"
    public static let initialState = State()

    public init() {}

    public func handle(_ message: Message, state: inout State, context: TurnContext) async throws {
        switch message.kind {
        case "add":
            let add = try message.decode(Add.self)
            let (sum, overflow) = state.count.addingReportingOverflow(add.by)
            guard !overflow else { throw MessageRejected("adding \(add.by) to \(state.count) overflows") }
            state.count = sum
            try context.reply(state)
        case "get":
            try context.reply(state)
        default:
            throw MessageRejected.unknownKind(message.kind)
        }
    }
}
