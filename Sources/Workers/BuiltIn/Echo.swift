/// `echo`: `ping` with any JSON object replies with the same object.
public struct Echo: Behavior {
    public struct State: Codable, Sendable {
        public var pings = 0
    }

    public static let typeName = "echo"
    public static let initialState = State()

    public init() {}

    public func handle(_ message: Message, state: inout State, context: TurnContext) async throws {
        guard message.kind == "ping" else { throw MessageRejected.unknownKind(message.kind) }
        let object = try message.decode(AnyJSON.self)
        guard case .object = object else { throw MessageRejected("ping takes a JSON object") }
        let (pings, overflow) = state.pings.addingReportingOverflow(1)
        guard !overflow else { throw MessageRejected("ping count \(state.pings) cannot grow") }
        state.pings = pings
        try context.reply(object, kind: "pong")
    }
}
