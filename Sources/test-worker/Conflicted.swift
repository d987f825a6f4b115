import Workers

/// A behaviour written wrong on purpose: two handlers for the kind `add`.
/// `test-worker` hosts it with GREENROOM_TEST_FAULTY_HOSTING=conflicting-handlers, so the
/// process tests can see a worker refuse it at start-up, naming both.
struct Conflicted: TypedBehavior {
    struct State: Codable, Sendable { var total = 0 }
    struct AddOne: ActorMessage { static let kind = "add" }
    struct AddMany: ActorMessage {
        static let kind = "add"
        var by: Int
    }

    static let typeName = "conflicted"
    static let initialState = State()

    let handlers = Handlers<Conflicted>()
        .on(AddOne.self) { _, state, _ in state.total += 1 }
        .on(AddMany.self) { add, state, _ in state.total += add.by }
}
