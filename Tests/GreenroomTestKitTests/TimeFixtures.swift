import Foundation
import GreenroomTestKit
import Workers

/// Timers, reminders and delayed sends through the typed API: each `Ring`
/// it receives is noted with the firing it came from.
struct Alarm: TypedBehavior {
    struct State: Codable, Sendable, Equatable { var rang: [Rang] = [] }
    struct Rang: Codable, Sendable, Equatable {
        var label: String
        var name: String?
        var missed: Int?
        var scheduledAt: Date?
    }
    /// Noted; `cancel: NAME` also cancels the timer NAME.
    struct Ring: ActorMessage {
        static let kind = "ring"
        var label: String
        var cancel: String?
    }
    struct Arm: ActorMessage {
        static let kind = "arm"
        var name: String
        var afterMilliseconds: Int64
        var ring: Ring
        /// Throw after setting it (a rejection when true, else a failure to retry).
        var thenFail: Bool?
    }
    struct Repeat: ActorMessage {
        static let kind = "repeat"
        var name: String
        var everyMilliseconds: Int64
        var label: String
        var start: Date?
    }
    struct Disarm: ActorMessage {
        static let kind = "disarm"
        var timer: String?
        var reminder: String?
    }
    /// Sends `ring` to `to` after the delay, or at `at`.
    struct Later: ActorMessage {
        static let kind = "later"
        var to: ActorRef<Alarm>
        var afterMilliseconds: Int64?
        var at: Date?
        var ring: Ring
    }
    struct Quit: ActorMessage { static let kind = "quit" }
    struct Failed: Error, CustomStringConvertible {
        var description: String { "failed after arming, as asked" }
    }

    static let typeName = "alarm"
    static let initialState = State()

    let handlers = Handlers<Alarm>()
        .on(Ring.self) { ring, state, context in
            state.rang.append(Rang(label: ring.label, name: context.firing?.name, missed: context.firing?.missedPeriods,
                                   scheduledAt: context.scheduledAt))
            if let timer = ring.cancel { context.cancelTimer(timer) }
        }
        .on(Arm.self) { arm, _, context in
            try context.setTimer(arm.name, after: .milliseconds(arm.afterMilliseconds), arm.ring)
            switch arm.thenFail {
            case true?: throw MessageRejected("rejected after arming, as asked")
            case false?: throw Failed()
            case nil: break
            }
        }
        .on(Repeat.self) { repeating, _, context in
            try context.setReminder(repeating.name, every: .milliseconds(repeating.everyMilliseconds), startingAt: repeating.start,
                                    Ring(label: repeating.label))
        }
        .on(Disarm.self) { disarm, _, context in
            if let timer = disarm.timer { context.cancelTimer(timer) }
            if let reminder = disarm.reminder { context.cancelReminder(reminder) }
        }
        .on(Later.self) { later, _, context in
            if let at = later.at {
                try context.send(later.ring, to: later.to, at: at)
            } else {
                try context.send(later.ring, to: later.to, after: .milliseconds(later.afterMilliseconds ?? 0))
            }
        }
        .on(Quit.self) { _, _, context in context.stop() }
}
