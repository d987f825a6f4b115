import Foundation

/// `lateness`: how late each message is handled after it was due — now,
/// at the turn, minus `Message.scheduledAt` — kept as a histogram in ms.
/// `enqueue bench --delays` sends it delayed messages and merges the
/// histograms of many actors. Any kind but `get` is recorded; `get` replies
/// with the state. Written in the string style: a typed handler sees its
/// decoded message, not when it was due.
public struct Lateness: Behavior {
    public struct State: Codable, Sendable, Equatable {
        /// The messages that had a due time.
        public var histogram = LatenessHistogram()
        /// Messages without one (sent without a delay, or due on arrival).
        public var unscheduled = 0

        public init(histogram: LatenessHistogram = LatenessHistogram(), unscheduled: Int = 0) {
            self.histogram = histogram
            self.unscheduled = unscheduled
        }
    }

    public static let typeName = "lateness"
    public static let initialState = State()
    /// The kind that replies with the state; every other kind is recorded.
    public static let getKind = "get"

    public init() {}

    public func handle(_ message: Message, state: inout State, context: TurnContext) async throws {
        if message.kind == Self.getKind {
            try context.reply(state)
            return
        }
        guard let due = message.scheduledAt else {
            state.unscheduled += 1
            return
        }
        let milliseconds = Date().timeIntervalSince(due) * 1_000
        state.histogram.record(Int(milliseconds.rounded(.down)))
    }
}
