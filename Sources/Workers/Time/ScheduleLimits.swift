import Foundation

/// The limits of delays and reminders (docs/TIME.md).
public enum Schedules {
    /// The longest delay a message may be sent with: one year.
    public static let maximumDelay: Duration = .seconds(365 * 86_400)
    /// The shortest period a reminder may have: one second.
    public static let minimumReminderPeriod: Duration = .seconds(1)

    /// Unix milliseconds of `date`.
    package static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1_000).rounded())
    }

    /// Milliseconds in `duration`, rounded up (a delay never comes early).
    package static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }

    /// Refuses a delay that is negative or longer than `maximumDelay`.
    package static func check(delay: Duration) throws {
        guard delay >= .zero else {
            throw MessageRejected("a delay cannot be negative (got \(delay)); use .zero to send at once")
        }
        guard delay <= maximumDelay else {
            throw MessageRejected("a delay of \(delay) is longer than the maximum of one year (\(maximumDelay))")
        }
    }
}
