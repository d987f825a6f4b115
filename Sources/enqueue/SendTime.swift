import ArgumentParser
import Foundation
import Workers

/// `--delay` / `--at` of `enqueue send`: when the message(s) may be handled.
/// Every problem is a usage error that says what was wrong (and nothing is sent).
struct SendTime {
    var delay: String?
    var at: String?

    /// The not-before time (nil: at once), as of `now`.
    func notBefore(now: Date = Date()) throws -> Date? {
        switch (delay, at) {
        case (nil, nil):
            return nil
        case (.some, .some):
            throw ValidationError("give --delay or --at, not both")
        case (let delay?, nil):
            do {
                return try GreenroomClient.notBefore(after: try DelayText.parse(delay), now: now)
            } catch let error as InvalidDelayText {
                throw ValidationError("--delay: \(error)")
            } catch let error as InvalidSchedule {
                throw ValidationError("--delay \(delay): \(error)")
            }
        case (nil, let at?):
            guard let time = DelayText.parseISO8601(at) else {
                throw ValidationError("--at '\(at)' is not an ISO 8601 time with a zone; e.g. 2026-12-01T10:00:00Z or 2026-12-01T11:00:00+01:00")
            }
            guard time > now else {
                throw ValidationError("--at \(at) is in the past (now is \(DelayText.iso8601(now.rounded()))); "
                                      + "drop --at to send at once, or give a later time")
            }
            do {
                try GreenroomClient.checkNotBefore(time, now: now)
            } catch let error as InvalidSchedule {
                throw ValidationError("--at \(at): \(error)")
            }
            return time
        }
    }
}

private extension Date {
    /// To the whole second, for showing "now".
    func rounded() -> Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
