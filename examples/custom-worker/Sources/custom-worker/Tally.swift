import Workers

/// `tally`: state `{"total": N}`; `add {"by": N}` adds to the total; `get`
/// replies with the state.
struct Tally: TypedBehavior {
    struct State: Codable, Sendable, Equatable {
        var total = 0
    }

    struct Add: ActorMessage {
        static let kind = "add"
        var by: Int
    }

    struct Get: ActorRequest {
        static let kind = "get"
        typealias Reply = State
    }

    static let typeName = "tally"
    static let initialState = State()

    let handlers = Handlers<Tally>()
        .on(Add.self) { add, state, _ in
            let (total, overflow) = state.total.addingReportingOverflow(add.by)
            guard !overflow else { throw MessageRejected("adding \(add.by) to \(state.total) overflows") }
            state.total = total
        }
        .on(Get.self) { _, state, _ in state }
}
