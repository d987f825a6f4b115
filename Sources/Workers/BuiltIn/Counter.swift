/// `counter`: state `{"count": Int}` from 0; `add {"by": Int}` (replies with
/// the new state when asked); `get` replies `{"count": Int}`.
public struct Counter: TypedBehavior {
    public struct State: Codable, Sendable, Equatable {
        public var count = 0

        public init(count: Int = 0) { self.count = count }
    }

    /// Adds `by` (which may be negative); an overflow is refused, not trapped.
    public struct Add: ActorRequest {
        public static let kind = "add"
        public typealias Reply = State
        public var by: Int

        public init(by: Int) { self.by = by }
    }

    /// Replies with the state.
    public struct Get: ActorRequest {
        public static let kind = "get"
        public typealias Reply = State

        public init() {}
    }

    public static let typeName = "counter"
    public static let initialState = State()

    public init() {}

    public let handlers = Handlers<Counter>()
        .on(Add.self) { add, state, _ in
            let (sum, overflow) = state.count.addingReportingOverflow(add.by)
            // A trap here would kill the worker on every redelivery: refuse instead.
            guard !overflow else { throw MessageRejected("adding \(add.by) to \(state.count) overflows") }
            state.count = sum
            return state
        }
        .on(Get.self) { _, state, _ in state }
}
