/// `ticker`: a durable reminder in its simplest form. `start {"everyMs": N}`
/// sets the reminder `tick` (N ≥ 1000; setting it again replaces it), which
/// sends the actor `tick` every N ms — across restarts and handovers — until
/// it is cancelled (`enqueue reminders cancel ticker/ID tick`) or the actor
/// stops; each `tick` adds one to `ticks`; `get` replies with the state.
public struct Ticker: TypedBehavior {
    public struct State: Codable, Sendable, Equatable {
        public var ticks = 0

        public init(ticks: Int = 0) { self.ticks = ticks }
    }

    /// Sets the reminder `tick`, every `everyMs` milliseconds (at least 1000).
    public struct Start: ActorMessage {
        public static let kind = "start"
        public var everyMs: Int

        public init(everyMs: Int) { self.everyMs = everyMs }
    }

    /// What the reminder sends.
    public struct Tick: ActorMessage {
        public static let kind = "tick"

        public init() {}
    }

    /// Replies with the state.
    public struct Get: ActorRequest {
        public static let kind = "get"
        public typealias Reply = State

        public init() {}
    }

    public static let typeName = "ticker"
    public static let initialState = State()
    /// The reminder's name.
    public static let reminder = "tick"

    public init() {}

    public let handlers = Handlers<Ticker>()
        .on(Start.self) { start, _, context in
            // A period below the minimum (or above a year) is refused by setReminder: dead-lettered with the reason.
            try context.setReminder(Ticker.reminder, every: .milliseconds(start.everyMs), kind: Tick.kind)
        }
        .on(Tick.self) { _, state, _ in
            let (ticks, overflow) = state.ticks.addingReportingOverflow(1)
            guard !overflow else { throw MessageRejected("tick count \(state.ticks) cannot grow") }
            state.ticks = ticks
        }
        .on(Get.self) { _, state, _ in state }
}
