import Foundation

extension GreenroomClient {
    /// The not-before time of a message sent `delay` after `now`. Throws
    /// `InvalidSchedule` for a negative delay or one over
    /// `Schedules.maximumDelay`.
    public static func notBefore(after delay: Duration, now: Date = Date()) throws -> Date {
        guard delay >= .zero else {
            throw InvalidSchedule(.negativeDelay, "a delay cannot be negative (it was \(DelayText.format(delay))); use 0 to send at once")
        }
        guard delay <= Schedules.maximumDelay else {
            throw InvalidSchedule(.beyondMaximum, "a delay of \(DelayText.format(delay)) is over the maximum of 365 days (Schedules.maximumDelay)")
        }
        return now.addingTimeInterval(DelayText.seconds(delay))
    }

    /// Throws `InvalidSchedule` unless `time` is a finite date at most
    /// `Schedules.maximumDelay` after `now`. A time in the past is valid: the
    /// message is handled at once.
    public static func checkNotBefore(_ time: Date, now: Date = Date()) throws {
        guard time.timeIntervalSince1970.isFinite, abs(time.timeIntervalSince1970) < 1e14 else {
            throw InvalidSchedule(.notFinite, "the time to send at is not a finite date (\(time.timeIntervalSince1970) s since 1970)")
        }
        let ahead = time.timeIntervalSince(now)
        guard ahead <= DelayText.seconds(Schedules.maximumDelay) else {
            throw InvalidSchedule(.beyondMaximum, "\(DelayText.iso8601(time)) is \(Int(ahead / 86_400)) days ahead, "
                                    + "over the maximum delay of 365 days (Schedules.maximumDelay)")
        }
    }

    /// `time` as the not-before header carries it: unix milliseconds, rounded
    /// up so a message is never released before its time.
    static func unixMilliseconds(_ time: Date) -> Int64 {
        Int64((time.timeIntervalSince1970 * 1_000).rounded(.up))
    }
}

/// A delayed send that cannot be scheduled: nothing was sent. `code` says
/// what is wrong; the description says it in words, with the value given.
public struct InvalidSchedule: Error, CustomStringConvertible, Sendable {
    public enum Code: Sendable, Equatable {
        /// A delay below zero.
        case negativeDelay
        /// Further ahead than `Schedules.maximumDelay`.
        case beyondMaximum
        /// A time that is not a finite date (NaN, infinite, or absurdly far).
        case notFinite
    }

    public let code: Code
    public let description: String

    init(_ code: Code, _ description: String) {
        self.code = code
        self.description = description
    }
}
