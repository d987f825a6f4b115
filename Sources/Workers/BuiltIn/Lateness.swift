import Foundation

/// `lateness`: how late each message is handled after it was due — now,
/// at the turn, minus `Message.scheduledAt`, or minus the payload's `due`
/// (unix ms) for a message that came without one (its not-before had passed
/// when it arrived, so it ran at once) — kept as a histogram in ms.
/// `enqueue bench --delays` sends it delayed messages and merges the
/// histograms of many actors. Any kind but `get` is recorded; `get` replies
/// with the state. Written in the string style: a typed handler sees its
/// decoded message, not when it was due.
public struct Lateness: Behavior {
    public struct State: Codable, Sendable, Equatable {
        /// Messages recorded (every kind but `get`).
        public var handled = 0
        /// The lateness of those that had a due time.
        public var histogram = LatenessHistogram()
        /// Messages that came without `scheduledAt` (sent without a delay,
        /// or due on arrival and run at once); those with a payload `due`
        /// are in the histogram too.
        public var unscheduled = 0

        public init(handled: Int = 0, histogram: LatenessHistogram = LatenessHistogram(), unscheduled: Int = 0) {
            self.handled = handled
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
        state.handled += 1
        if message.scheduledAt == nil { state.unscheduled += 1 }
        guard let due = message.scheduledAt ?? Self.intended(message.payload) else { return }
        let milliseconds = Date().timeIntervalSince(due) * 1_000
        state.histogram.record(Int(milliseconds.rounded(.down)))
    }

    /// The due time a payload says its message was meant for, if any
    /// (decoded only for a message without `scheduledAt`).
    private static func intended(_ payload: [UInt8]) -> Date? {
        (try? JSONDecoder().decode(Intended.self, from: Data(payload)).due).map { Date(timeIntervalSince1970: Double($0) / 1_000) }
    }

    /// A payload that says when its message was meant to be due.
    private struct Intended: Decodable {
        var due: Int64?
    }
}
