import Foundation

/// Delays as people write them: `250ms`, `5s`, `2m`, `1h`, `1d`, or several
/// units from the largest down, `1h30m`, `1d12h`, `2m30s500ms`. Whole numbers
/// only. `enqueue send --delay` reads them; errors say what is wrong and show
/// valid examples.
public enum DelayText {
    /// Valid delays, shown in errors.
    public static let examples = "250ms, 5s, 2m, 1h, 1d, 1h30m"

    private static let units: [(name: String, milliseconds: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]

    /// The delay `text` stands for; throws `InvalidDelayText` naming the problem.
    public static func parse(_ text: String) throws -> Duration {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func invalid(_ problem: String) -> InvalidDelayText { InvalidDelayText(text: text, problem: problem) }
        guard !trimmed.isEmpty else { throw invalid("it is empty") }
        if trimmed.hasPrefix("-") { throw invalid("a delay cannot be negative; use 0s to send at once") }
        var rest = Substring(trimmed)
        var total: Int64 = 0
        var previousRank: Int?
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty else {
                if let first = rest.first, !first.isLetter { throw invalid("unexpected '\(first)'") }
                throw invalid("expected a number at '\(rest)'")
            }
            rest = rest.dropFirst(digits.count)
            if rest.first == "." || rest.first == "," {
                throw invalid("use whole numbers, e.g. 1h30m rather than 1.5h, 1500ms rather than 1.5s")
            }
            let unit = rest.prefix { $0.isLetter }
            guard !unit.isEmpty else {
                if rest.isEmpty { throw invalid("'\(digits)' has no unit; e.g. \(digits)s for seconds, \(digits)ms for milliseconds") }
                throw invalid("unexpected '\(rest.first!)' after \(digits)")
            }
            rest = rest.dropFirst(unit.count)
            guard let rank = units.firstIndex(where: { $0.name == unit }) else {
                throw invalid("unknown unit '\(unit)' (units: ms, s, m, h, d)")
            }
            if let previousRank, rank <= previousRank {
                throw invalid("give each unit once, largest first, e.g. 1h30m")
            }
            previousRank = rank
            guard let count = Int64(digits) else { throw invalid("\(digits) is too large") }
            let (part, overflow) = count.multipliedReportingOverflow(by: units[rank].milliseconds)
            let (sum, overflowSum) = total.addingReportingOverflow(part)
            guard !overflow, !overflowSum else { throw invalid("it is too large") }
            total = sum
        }
        return .milliseconds(total)
    }

    /// `duration` written as `parse` reads it, to the millisecond: `1h30m`,
    /// `250ms`, `0s`; negative durations with a leading `-`.
    public static func format(_ duration: Duration) -> String {
        let milliseconds = Int64((seconds(duration) * 1_000).rounded())
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds.magnitude
        var text = milliseconds < 0 ? "-" : ""
        for unit in units where rest >= unit.milliseconds.magnitude {
            text += "\(rest / unit.milliseconds.magnitude)\(unit.name)"
            rest %= unit.milliseconds.magnitude
        }
        return text
    }

    /// `time` in ISO 8601, UTC, to the millisecond when it has any:
    /// `2026-12-01T10:00:00Z`, `2026-12-01T10:00:00.250Z`.
    public static func iso8601(_ time: Date) -> String {
        let formatter = ISO8601DateFormatter()
        let wholeSecond = time.timeIntervalSince1970.rounded(.down) == time.timeIntervalSince1970
        formatter.formatOptions = wholeSecond ? [.withInternetDateTime] : [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: time)
    }

    /// Parses an ISO 8601 time with a date, a time and a zone (`Z` or an
    /// offset), with or without fractional seconds: `2026-12-01T10:00:00Z`,
    /// `2026-12-01T11:00:00.5+01:00`. Nil for anything else.
    public static func parseISO8601(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    /// `duration` in seconds.
    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A delay that `DelayText.parse` cannot read: the text, what is wrong with
/// it, and valid examples.
public struct InvalidDelayText: Error, CustomStringConvertible, Sendable {
    public let text: String
    public let problem: String

    public var description: String {
        "invalid delay '\(text)': \(problem); valid delays look like \(DelayText.examples)"
    }
}
