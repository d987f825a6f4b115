import Broker
import Foundation
import Testing
import Tracing
import Workers

/// One span per turn, continuing the trace of the message that started it
/// (docs/OPERATIONS.md, "Tracing"): an in-process worker on the real
/// servers with `RecordingTracer` active, a client that sends inside a span
/// of its own, and the spans the turns ended with, parent to child.
@Suite("Tracing: one span per turn, one trace from client to the last actor", .timeLimit(.minutes(3)))
struct TracingTests {
    @Test("send, ask, spawn, delayed sends, a timer, a retry and a refusal all continue the client's trace, each turn a child of the one that sent it")
    func oneTrace() async throws {
        let tracer = RecordingTracer.shared
        try await withTracer(tracer) {
            try await withHarness { harness in
                try await GhostQueue.with { ghost in
                    let probe = harness.type("probe")
                    let a = try harness.address("probe", "a")
                    let b = try harness.address("probe", "b")
                    let c = try harness.address("probe", "c")
                    let client = tracer.startSpan("client", context: .topLevel, ofKind: .producer)
                    let root = client.traceParent
                    func body(_ json: String) -> [UInt8] { Array(json.utf8) }
                    try await ServiceContext.withValue(client.context) {
                        // Every call picks the trace up from ServiceContext.current (TraceHeaders.current).
                        try await harness.client.spawn(type: probe, id: "a")
                        try await harness.client.spawn(type: probe, id: "b")
                        try await harness.client.send(to: a, kind: "send", payload: body(#"{"to":"\#(b)","kind":"touch"}"#), id: "chain")
                        _ = try await harness.client.ask(a, kind: "report")
                        try await harness.client.send(to: a, kind: "adopt", payload: body(#"{"id":"c"}"#), id: "adopt")
                        try await harness.client.send(to: b, kind: "touch", payload: body("{}"), id: "client-delayed", after: .milliseconds(300))
                        try await harness.client.send(to: a, kind: "schedule", payload: body(#"{"kind":"tick","afterMs":200,"timer":"t"}"#), id: "timer")
                        try await harness.client.send(to: a, kind: "schedule", payload: body(#"{"kind":"touch","afterMs":200,"to":"\#(b)"}"#),
                                                      id: "turn-delayed")
                        try await harness.client.send(to: a, kind: "fail", payload: body(#"{"times":1}"#), id: "fail-once")
                        try await harness.client.send(to: a, kind: "nope", id: "unknown-kind")
                        // Messages that wait behind a slow turn run as one sequence: each still a span of its own.
                        try await harness.client.send(to: b, kind: "touch", payload: body(#"{"pauseMicroseconds":300000}"#), id: "slow")
                        try await harness.client.send((1...3).map {
                            GreenroomClient.Outgoing(to: b, kind: "touch", payload: body("{}"), id: "batch-\($0)")
                        })
                        try await harness.client.send(to: a, kind: "send", payload: body(#"{"to":"\#(ghost.address)","kind":"k"}"#), id: "to-ghost")
                    }
                    let spans = try await tracer.waitForSpans(inTrace: root.traceID, "the turns' spans", [
                        { $0.operationName == WireFormat.SystemKind.spawn && $0.string("greenroom.actor") == a.description },
                        { $0.operationName == WireFormat.SystemKind.spawn && $0.string("greenroom.actor") == b.description },
                        { $0.operationName == WireFormat.SystemKind.spawn && $0.string("greenroom.actor") == c.description },
                        { $0.string("greenroom.message_id") == "chain" },
                        { $0.operationName == "report" },
                        { $0.string("greenroom.message_id") == "adopt" },
                        { $0.string("greenroom.message_id") == "client-delayed" },
                        { $0.string("greenroom.message_id") == "timer" },
                        { $0.operationName == "tick" },
                        { $0.string("greenroom.message_id") == "turn-delayed" },
                        { $0.string("greenroom.message_id") == "fail-once" },
                        { $0.string("greenroom.message_id") == "fail-once" },
                        { $0.string("greenroom.message_id") == "unknown-kind" },
                        { $0.string("greenroom.message_id") == "to-ghost" },
                        { $0.string("greenroom.message_id") == "slow" },
                        { $0.string("greenroom.message_id") == "batch-1" },
                        { $0.string("greenroom.message_id") == "batch-2" },
                        { $0.string("greenroom.message_id") == "batch-3" },
                        // b's touches sent by a: by its turn, and its delayed send.
                        { $0.string("greenroom.message_id") == "chain/0" },
                        { $0.string("greenroom.message_id")?.hasPrefix("turn-delayed/") == true },
                    ])
                    func span(_ id: String) throws -> RecordedSpan.Snapshot {
                        try #require(spans.first { $0.string("greenroom.message_id") == id }, "no span of message \(id)")
                    }
                    func children(of parent: RecordedSpan.Snapshot, named name: String) -> [RecordedSpan.Snapshot] {
                        spans.filter { $0.parentSpanID == parent.spanID && $0.operationName == name }
                    }
                    #expect(spans.allSatisfy { $0.traceID == root.traceID })
                    // The client's own messages: children of its span.
                    for id in ["chain", "adopt", "client-delayed", "timer", "turn-delayed", "unknown-kind", "to-ghost", "slow", "batch-1", "batch-2", "batch-3"] {
                        #expect(try span(id).parentSpanID == root.spanID, "\(id)")
                    }
                    #expect(spans.filter { $0.operationName == "report" }.map(\.parentSpanID) == [root.spanID])
                    #expect(spans.filter { $0.operationName == WireFormat.SystemKind.spawn && $0.parentSpanID == root.spanID }.count == 2)
                    // What the turns sent: children of the turn's span.
                    #expect(children(of: try span("chain"), named: "touch").map { $0.string("greenroom.actor") } == [b.description])
                    #expect(children(of: try span("adopt"), named: WireFormat.SystemKind.spawn).map { $0.string("greenroom.actor") } == [c.description])
                    #expect(children(of: try span("timer"), named: "tick").map { $0.string("greenroom.actor") } == [a.description])
                    #expect(children(of: try span("turn-delayed"), named: "touch").map { $0.string("greenroom.actor") } == [b.description])
                    // The attributes, and the span's kind.
                    let chain = try span("chain")
                    #expect(chain.kind == .consumer)
                    #expect(chain.operationName == "send")
                    #expect(chain.string("greenroom.actor") == a.description)
                    #expect(chain.string("greenroom.kind") == "send")
                    #expect(chain.int("greenroom.attempt") == 1)
                    #expect(chain.int("greenroom.partition") == Int64(PartitionID(of: a, partitions: harness.runtime.configuration.partitions).index))
                    #expect(chain.string("greenroom.outcome") == "committed")
                    // A retry: one span per attempt, the failed one with its error.
                    let attempts = spans.filter { $0.string("greenroom.message_id") == "fail-once" }.sorted { ($0.int("greenroom.attempt") ?? 0) < ($1.int("greenroom.attempt") ?? 0) }
                    #expect(attempts.map { $0.int("greenroom.attempt") } == [1, 2])
                    #expect(attempts.map { $0.string("greenroom.outcome") } == ["retried", "committed"])
                    #expect(attempts[0].status?.code == .error && attempts[0].errors.count == 1)
                    #expect(attempts[1].status == nil && attempts[1].errors.isEmpty)
                    // A refusal: dead-lettered, with why.
                    let refused = try span("unknown-kind")
                    #expect(refused.string("greenroom.outcome") == "dead_lettered")
                    #expect(refused.status?.code == .error)
                    #expect(refused.errors.first?.contains("nope") == true)
                    // On the wire: a's send carries its turn's span as the parent.
                    let delivery = try #require(try await take(1, from: ghost.consumer).first)
                    #expect(delivery.properties.headers[WireFormat.traceparentHeader]?.stringValue
                            == "00-\(root.traceID)-\(try span("to-ghost").spanID)-01")
                }
            }
        }
    }

    @Test("without a tracer a turn passes traceparent and tracestate on unchanged")
    func passThrough() async throws {
        try await withHarness { harness in
            try await GhostQueue.with { ghost in
                let a = try harness.address("probe", "a")
                let incoming = TraceHeaders(TraceParent.newTrace(), tracestate: "vendor=greenroom-test")
                try await harness.client.send(to: a, kind: "send", payload: Array(#"{"to":"\#(ghost.address)","kind":"k"}"#.utf8),
                                              spawnIfMissing: true, trace: incoming)
                try await harness.client.send(to: a, kind: "send", payload: Array(#"{"to":"\#(ghost.address)","kind":"untraced"}"#.utf8),
                                              trace: nil)
                let received = try await take(2, from: ghost.consumer)
                let headers = received.map(\.properties.headers)
                #expect(headers[0][WireFormat.traceparentHeader]?.stringValue == incoming.traceparent)
                #expect(headers[0][WireFormat.tracestateHeader]?.stringValue == "vendor=greenroom-test")
                #expect(received[1].properties.type == "untraced")
                #expect(headers[1][WireFormat.traceparentHeader] == nil && headers[1][WireFormat.tracestateHeader] == nil)
            }
        }
    }

    @Test("enqueue --trace prints a traceparent the worker's span continues; --traceparent continues a given one")
    func enqueueStartsAndContinues() async throws {
        let tracer = RecordingTracer.shared
        try await withTracer(tracer) {
            try await withHarness { harness in
                let address = try harness.address("probe", "cli")
                let started = try await CommandRun.run("enqueue", ["send", address.description, "touch", "--spawn", "--trace"])
                #expect(started.status == 0, "\(started)")
                let line = try #require(started.stderr.split(separator: "\n").first { $0.hasPrefix("traceparent: ") }, "\(started)")
                let printed = try TraceParent(parsing: String(line.dropFirst("traceparent: ".count)))
                #expect(printed.isSampled)
                let touch = try await tracer.waitForSpans(inTrace: printed.traceID, "the span of enqueue's message", [{ $0.operationName == "touch" }])
                #expect(touch.first?.parentSpanID == printed.spanID)
                #expect(touch.first?.string("greenroom.actor") == address.description)

                let given = TraceParent.newTrace()
                let asked = try await CommandRun.run("enqueue", ["ask", address.description, "report", "--traceparent", given.description])
                #expect(asked.status == 0, "\(asked)")
                let report = try await tracer.waitForSpans(inTrace: given.traceID, "the span of the ask", [{ $0.operationName == "report" }])
                #expect(report.first?.parentSpanID == given.spanID)
            }
        }
    }

    @Test("a malformed --traceparent is refused, naming the W3C format; nothing is sent")
    func malformedTraceparent() async throws {
        for arguments in [["send", "counter/1", "add", "--traceparent", "00-abc-def-01"],
                          ["ask", "counter/1", "get", "--traceparent", "not a traceparent"],
                          ["spawn", "counter", "1", "--traceparent", "01-\(String(repeating: "a", count: 32))-\(String(repeating: "b", count: 16))-01"]] {
            let run = try await CommandRun.run("enqueue", arguments)
            #expect(run.status == CommandRun.usageError, "\(run)")
            #expect(run.stderr.contains("00-<32 hex trace id>-<16 hex span id>-<2 hex flags>") && run.stderr.contains("W3C"), "\(run)")
        }
    }
}
