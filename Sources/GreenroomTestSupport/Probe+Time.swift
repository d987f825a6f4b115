import Foundation
import Workers

/// The probe's time kinds: `schedule {"kind": K, "afterMs": N, "timer": NAME?,
/// "reminder": NAME?, "everyMs": N?, "to": "T/ID"?, "stop": true?}` sets a
/// timer, a reminder or (neither named) sends a delayed `K` message (to
/// itself, or `to`); `"stop": true` also stops the actor in the same turn.
/// `unschedule {"timer": NAME?, "reminder": NAME?}` cancels; a `tick`
/// received is recorded in the state's `fired`, in order.
extension Probe {
    struct Schedule: Decodable {
        var kind: String?
        var afterMs: Int64?
        var timer: String?
        var reminder: String?
        var everyMs: Int64?
        var to: ActorAddress?
        var stop: Bool?
    }

    /// One firing the probe received.
    public struct Fired: Codable, Sendable, Equatable {
        public var id: String
        public var name: String?
        public var missed: Int?
        /// Milliseconds between when it was due and when its turn ran.
        public var lateMs: Int64?

        init(_ message: Message) {
            id = message.id
            name = message.firing?.name
            missed = message.firing?.missedPeriods
            lateMs = message.scheduledAt.map { Int64(Date().timeIntervalSince($0) * 1_000) }
        }
    }

    func schedule(_ schedule: Schedule, context: TurnContext) throws {
        let after = Duration.milliseconds(schedule.afterMs ?? 0)
        if let timer = schedule.timer {
            try context.setTimer(timer, after: after, kind: schedule.kind ?? "tick")
        } else if let reminder = schedule.reminder {
            let start = schedule.afterMs.map { Date().addingTimeInterval(Double($0) / 1_000) }
            try context.setReminder(reminder, every: .milliseconds(schedule.everyMs ?? 1_000), startingAt: start, kind: schedule.kind ?? "tick")
        } else {
            try context.send(to: schedule.to ?? context.address, kind: schedule.kind ?? "tick", [String: String](), after: after)
        }
        if schedule.stop == true { context.stop() }
    }
}
