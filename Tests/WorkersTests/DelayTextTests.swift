import Foundation
import Testing
@testable import Workers

/// `enqueue send --delay` reads delays with `DelayText`; a client's delayed
/// send is checked by `GreenroomClient.notBefore` / `checkNotBefore`. No servers.
@Suite("Delays as text, and the limits of a client's delayed send", .timeLimit(.minutes(1)))
struct DelayTextTests {
    @Test("each unit, and units combined from the largest down", arguments: [
        ("250ms", Duration.milliseconds(250)), ("5s", .seconds(5)), ("2m", .seconds(120)), ("1h", .seconds(3_600)),
        ("1d", .seconds(86_400)), ("1h30m", .seconds(5_400)), ("1d12h", .seconds(129_600)),
        ("2m30s500ms", .milliseconds(150_500)), ("0s", .zero), ("0ms", .zero), (" 5s ", .seconds(5)), ("365d", .seconds(365 * 86_400)),
    ])
    func parses(_ text: String, _ expected: Duration) throws {
        #expect(try DelayText.parse(text) == expected)
    }

    @Test("what is wrong is named, and valid examples shown", arguments: [
        ("", "empty"), ("-5s", "negative"), ("5", "'5' has no unit"), ("5x", "unknown unit 'x'"), ("5S", "unknown unit 'S'"),
        ("1.5h", "whole numbers"), ("30m1h", "largest first"), ("1h1h", "largest first"), ("1h 30m", "unexpected ' '"),
        ("h", "expected a number"), ("99999999999999999999d", "too large"), ("9999999999999999d", "too large"),
    ])
    func refuses(_ text: String, _ problem: String) {
        let error = #expect(throws: InvalidDelayText.self) { try DelayText.parse(text) }
        let description = error?.description ?? ""
        #expect(description.contains(problem), "\(description)")
        #expect(description.contains("'\(text)'"), "\(description)")
        #expect(description.contains(DelayText.examples), "\(description)")
    }

    @Test("formatting gives back what parsing reads")
    func formatRoundTrip() throws {
        for text in ["250ms", "5s", "2m", "1h", "1d", "1h30m", "1d12h", "2m30s500ms", "0s"] {
            #expect(DelayText.format(try DelayText.parse(text)) == text)
        }
        #expect(DelayText.format(.seconds(-5)) == "-5s")
    }

    @Test("ISO 8601 times with a zone, with or without fractions; nothing else")
    func iso8601() {
        #expect(DelayText.parseISO8601("2026-12-01T10:00:00Z") == Date(timeIntervalSince1970: 1_796_119_200))
        #expect(DelayText.parseISO8601("2026-12-01T11:00:00+01:00") == Date(timeIntervalSince1970: 1_796_119_200))
        #expect(DelayText.parseISO8601("2026-12-01T10:00:00.250Z") == Date(timeIntervalSince1970: 1_796_119_200.25))
        #expect(DelayText.parseISO8601("2026-12-01T10:00:00") == nil)
        #expect(DelayText.parseISO8601("tomorrow") == nil)
        #expect(DelayText.iso8601(Date(timeIntervalSince1970: 1_796_119_200)) == "2026-12-01T10:00:00Z")
    }

    @Test("a delay from zero to the maximum is a not-before time that far ahead")
    func notBefore() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try GreenroomClient.notBefore(after: .zero, now: now) == now)
        #expect(try GreenroomClient.notBefore(after: .milliseconds(1_500), now: now) == now.addingTimeInterval(1.5))
        #expect(try GreenroomClient.notBefore(after: Schedules.maximumDelay, now: now) == now.addingTimeInterval(365 * 86_400))
    }

    @Test("negative, over the maximum, not finite: refused with the code and the value")
    func limits() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let negative = #expect(throws: InvalidSchedule.self) { try GreenroomClient.notBefore(after: .milliseconds(-1), now: now) }
        #expect(negative?.code == .negativeDelay)
        #expect(negative?.description.contains("-1ms") == true, "\(String(describing: negative))")
        let over = #expect(throws: InvalidSchedule.self) {
            try GreenroomClient.notBefore(after: Schedules.maximumDelay + .milliseconds(1), now: now)
        }
        #expect(over?.code == .beyondMaximum)
        #expect(over?.description.contains("365 days") == true, "\(String(describing: over))")
        let late = #expect(throws: InvalidSchedule.self) {
            try GreenroomClient.checkNotBefore(now.addingTimeInterval(366 * 86_400), now: now)
        }
        #expect(late?.code == .beyondMaximum)
        #expect(late?.description.contains("366 days ahead") == true, "\(String(describing: late))")
        for time in [Date(timeIntervalSince1970: .nan), .distantFuture.addingTimeInterval(.infinity), Date(timeIntervalSince1970: -.infinity)] {
            let error = #expect(throws: InvalidSchedule.self) { try GreenroomClient.checkNotBefore(time, now: now) }
            #expect(error?.code == .notFinite)
        }
    }

    @Test("a time in the past, or exactly at the maximum, is valid: sent at once, or that far ahead")
    func pastAndEdge() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try GreenroomClient.checkNotBefore(now.addingTimeInterval(-3_600), now: now)
        try GreenroomClient.checkNotBefore(now.addingTimeInterval(365 * 86_400), now: now)
    }

    @Test("the header carries unix milliseconds, rounded up so a message is never early")
    func headerMilliseconds() {
        #expect(GreenroomClient.unixMilliseconds(Date(timeIntervalSince1970: 1_800_000_000.0004)) == 1_800_000_000_001)
        #expect(GreenroomClient.unixMilliseconds(Date(timeIntervalSince1970: 1_800_000_000)) == 1_800_000_000_000)
    }
}
