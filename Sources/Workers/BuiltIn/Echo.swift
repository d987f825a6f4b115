/// `echo`: `ping` with any JSON object replies with the same object, as `pong`.
public struct Echo: TypedBehavior {
    public struct State: Codable, Sendable, Equatable {
        public var pings = 0

        public init(pings: Int = 0) { self.pings = pings }
    }

    /// Any JSON object; the reply is the same object, of kind `pong`. On the
    /// wire the payload is the object itself (no wrapper).
    public struct Ping: ActorRequest, Equatable {
        public static let kind = "ping"
        public static let replyKind = "pong"
        public typealias Reply = Ping
        public var object: [String: AnyJSON]

        public init(_ object: [String: AnyJSON]) { self.object = object }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            guard case .object(let object) = try container.decode(AnyJSON.self) else {
                throw DecodingError.typeMismatch([String: AnyJSON].self, .init(codingPath: decoder.codingPath, debugDescription: "a ping is a JSON object"))
            }
            self.object = object
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(object)
        }
    }

    public static let typeName = "echo"
    public static let initialState = State()

    public init() {}

    public let handlers = Handlers<Echo>()
        .on(Ping.self) { ping, state, _ in
            let (pings, overflow) = state.pings.addingReportingOverflow(1)
            guard !overflow else { throw MessageRejected("ping count \(state.pings) cannot grow") }
            state.pings = pings
            return ping
        }
}
