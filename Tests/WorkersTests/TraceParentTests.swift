import Foundation
import Testing
@testable import Workers

@Suite("traceparent: the W3C format, new traces, and trace headers kept where messages wait", .timeLimit(.minutes(1)))
struct TraceParentTests {
    static let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test("a valid value reads into its parts and prints as it came")
    func valid() throws {
        let parsed = try TraceParent(parsing: Self.valid)
        #expect(parsed.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(parsed.spanID == "00f067aa0ba902b7")
        #expect(parsed.isSampled)
        #expect(parsed.description == Self.valid)
        #expect(try !TraceParent(parsing: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").isSampled)
        #expect(try TraceHeaders(parsing: Self.valid, tracestate: "k=v") == TraceHeaders(traceparent: Self.valid, tracestate: "k=v"))
        #expect(throws: MalformedTraceParent.self) { try TraceHeaders(parsing: "00-00") }
    }

    @Test("malformed values are refused, naming the format", arguments: [
        "", "00", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9g2b7-01",
    ])
    func malformed(_ text: String) {
        #expect {
            try TraceParent(parsing: text)
        } throws: { error in
            "\(error)".contains("00-<32 hex trace id>-<16 hex span id>-<2 hex flags>") && "\(error)".contains("W3C")
        }
    }

    @Test("a new trace is valid, sampled, and new each time")
    func newTrace() throws {
        let traces = (0..<100).map { _ in TraceParent.newTrace() }
        for trace in traces { #expect(try TraceParent(parsing: trace.description) == trace && trace.isSampled) }
        #expect(Set(traces.map(\.traceID)).count == 100)
        #expect(Set(traces.map(\.spanID)).count == 100)
    }

    @Test("a stored outbox keeps each message's trace (a re-published turn continues it); none is left out")
    func storedOutbox() throws {
        var traced = OutgoingMessage(destination: .actor(try ActorAddress(type: "counter", id: "a")), kind: "add",
                                     payload: Array(#"{"by":1}"#.utf8), id: "m/0", from: nil)
        traced.trace = TraceHeaders(traceparent: Self.valid, tracestate: "k=v")
        var plain = traced
        plain.trace = nil
        plain.id = "m/1"
        let stored = try StoredOutbox.encode([traced, plain])
        #expect(try StoredOutbox.decode(stored) == [traced, plain])
        #expect(String(decoding: stored, as: UTF8.self).components(separatedBy: "traceparent").count == 2)
    }

    @Test("a due entry keeps its trace: a timer's firing continues the turn that set it")
    func dueEntry() throws {
        var entry = DueEntry(to: try ActorAddress(type: "counter", id: "a"), kind: "tick", payload: Array("{}".utf8), id: "g1", due: 1_000)
        entry.trace = TraceHeaders(traceparent: Self.valid, tracestate: nil)
        let decoded = try DueEntry.decode(try entry.encoded())
        #expect(decoded.trace == entry.trace)
        let message = DueDispatcher.message(decoded, due: 1_000, missed: 0)
        #expect(message.properties.headers[WireFormat.traceparentHeader]?.stringValue == Self.valid)
        #expect(message.properties.headers[WireFormat.tracestateHeader] == nil)
    }
}
