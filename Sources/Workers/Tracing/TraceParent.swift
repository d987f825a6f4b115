/// A W3C Trace Context `traceparent` value (docs/PROTOCOL.md, "Tracing"):
/// `00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>`, lower case.
public struct TraceParent: Sendable, Hashable, CustomStringConvertible {
    /// 32 lower-case hex digits, not all zero.
    public let traceID: String
    /// 16 lower-case hex digits, not all zero: the span the receiver's span is a child of.
    public let spanID: String
    /// 2 hex digits; bit 0 is "sampled".
    public let flags: String

    /// The W3C format, as errors name it.
    public static let format = "00-<32 hex trace id>-<16 hex span id>-<2 hex flags> (W3C Trace Context traceparent)"

    /// Reads a `traceparent` value; throws `MalformedTraceParent` naming the format.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 4, parts[0] == "00",
              Self.isHex(parts[1], count: 32), Self.isHex(parts[2], count: 16), Self.isHex(parts[3], count: 2),
              parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }) else {
            throw MalformedTraceParent(text: text)
        }
        traceID = parts[1]
        spanID = parts[2]
        flags = parts[3]
    }

    /// A new trace: random trace and span ids, sampled.
    public static func newTrace() -> TraceParent {
        var generator = SystemRandomNumberGenerator()
        return TraceParent(traceID: hex(generator.next(), 16) + hex(generator.next(), 16), spanID: hex(generator.next(), 16), flags: "01")
    }

    private init(traceID: String, spanID: String, flags: String) {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
    }

    public var description: String { "00-\(traceID)-\(spanID)-\(flags)" }

    /// Whether the sender records this trace (flag bit 0).
    public var isSampled: Bool { (UInt8(flags, radix: 16) ?? 0) & 1 == 1 }

    private static func isHex(_ text: String, count: Int) -> Bool {
        text.utf8.count == count && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    /// `value` as `digits` lower-case hex digits (a never-zero id: a zero draw becomes 1).
    private static func hex(_ value: UInt64, _ digits: Int) -> String {
        let text = String(max(value, 1), radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }
}

/// A `traceparent` that is not in the W3C format.
public struct MalformedTraceParent: Error, CustomStringConvertible, Sendable {
    public let text: String
    public var description: String { "'\(text)' is not a traceparent: expected \(TraceParent.format)" }
}
