import Foundation
import Synchronization
import Tracing
import Workers

/// A tracer that keeps every span it ends in memory: the test double of an
/// exporter (an OpenTelemetry one, say). It propagates W3C `traceparent`
/// like a real one, so spans link across processes and hops.
///
/// Tracing tests share the one instance, `shared`, and make it the active
/// tracer with `withTracer(_:_:)` around the code that starts a runtime or
/// sends: the task-local scope of swift-distributed-tracing, where
/// `InstrumentationSystem.bootstrap` would turn tracing on for every suite
/// of the test process at once (and change the headers they check). Only
/// spans continuing a trace are kept, so other runs add nothing.
final class RecordingTracer: Tracer {
    static let shared = RecordingTracer()

    private let finished = Mutex<[RecordedSpan.Snapshot]>([])

    /// Spans ended so far in the trace `traceID`.
    func spans(inTrace traceID: String) -> [RecordedSpan.Snapshot] {
        finished.withLock { $0.filter { $0.traceID == traceID } }
    }

    /// Waits until the trace holds spans matching every one of `wanted`
    /// (each takes a span of its own), and returns the trace's spans.
    func waitForSpans(inTrace traceID: String, seconds: Double = 30, _ what: String,
                      _ wanted: [@Sendable (RecordedSpan.Snapshot) -> Bool]) async throws -> [RecordedSpan.Snapshot] {
        do {
            try await eventually(seconds, what) { [self] in
                var left = spans(inTrace: traceID)
                for want in wanted {
                    guard let index = left.firstIndex(where: want) else { return false }
                    left.remove(at: index)
                }
                return true
            }
        } catch let timedOut as TimedOut {
            throw SpansMissing(timedOut: timedOut, seen: spans(inTrace: traceID))
        }
        return spans(inTrace: traceID)
    }

    func record(_ span: RecordedSpan.Snapshot) {
        guard span.parentSpanID != nil else { return }
        finished.withLock { $0.append(span) }
    }

    func startSpan<Instant: TracerInstant>(_ operationName: String, context: @autoclosure () -> ServiceContext, ofKind kind: SpanKind,
                                           at instant: @autoclosure () -> Instant, function: String, file fileID: String,
                                           line: UInt) -> RecordedSpan {
        var context = context()
        let parent = context.traceParent
        let ids = TraceParent.newTrace()
        let own = try! TraceParent(parsing: "00-\(parent?.traceID ?? ids.traceID)-\(ids.spanID)-01")
        context.traceParent = own
        return RecordedSpan(operationName: operationName, kind: kind, context: context, traceParent: own,
                            parentSpanID: parent?.spanID, tracer: self)
    }

    func forceFlush() {}

    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout ServiceContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        if let text = extractor.extract(key: "traceparent", from: carrier), let parsed = try? TraceParent(parsing: text) {
            context.traceParent = parsed
        }
    }

    func inject<Carrier, Inject: Injector>(_ context: ServiceContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        if let traceParent = context.traceParent {
            injector.inject(traceParent.description, forKey: "traceparent", into: &carrier)
        }
    }
}

/// Not every span a test waited for ended in time: what did.
struct SpansMissing: Error, CustomStringConvertible {
    let timedOut: TimedOut
    let seen: [RecordedSpan.Snapshot]
    var description: String {
        "\(timedOut); the trace's spans: " + seen.map {
            "\($0.operationName) \($0.string("greenroom.actor") ?? "-") id=\($0.string("greenroom.message_id") ?? "-") span=\($0.spanID) parent=\($0.parentSpanID ?? "-")"
        }.joined(separator: "; ")
    }
}

/// A span of `RecordingTracer`.
final class RecordedSpan: Span {
    /// What a test reads of an ended span.
    struct Snapshot: Sendable {
        var operationName: String
        var kind: SpanKind
        var traceID: String
        var spanID: String
        var parentSpanID: String?
        var attributes: SpanAttributes
        var status: SpanStatus?
        var errors: [String]

        func string(_ name: String) -> String? {
            if case .string(let value)? = attributes.get(name) { return value }
            return nil
        }

        func int(_ name: String) -> Int64? {
            if case .int64(let value)? = attributes.get(name) { return value }
            return nil
        }
    }

    let context: ServiceContext
    private let state: Mutex<Snapshot>
    private let tracer: RecordingTracer

    init(operationName: String, kind: SpanKind, context: ServiceContext, traceParent: TraceParent, parentSpanID: String?, tracer: RecordingTracer) {
        self.context = context
        self.tracer = tracer
        state = Mutex(Snapshot(operationName: operationName, kind: kind, traceID: traceParent.traceID, spanID: traceParent.spanID,
                               parentSpanID: parentSpanID, attributes: [:], status: nil, errors: []))
    }

    var traceParent: TraceParent { state.withLock { try! TraceParent(parsing: "00-\($0.traceID)-\($0.spanID)-01") } }

    var operationName: String {
        get { state.withLock { $0.operationName } }
        set { state.withLock { $0.operationName = newValue } }
    }

    var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { $0.attributes = newValue } }
    }

    var isRecording: Bool { true }

    func setStatus(_ status: SpanStatus) { state.withLock { $0.status = status } }

    func addEvent(_ event: SpanEvent) {}

    func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        state.withLock { $0.errors.append("\(error)") }
    }

    func addLink(_ link: SpanLink) {}

    func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        tracer.record(state.withLock { $0 })
    }
}

/// The recording tracer's own span context in a `ServiceContext`.
private enum TraceParentKey: ServiceContextKey {
    typealias Value = TraceParent
}

extension ServiceContext {
    fileprivate var traceParent: TraceParent? {
        get { self[TraceParentKey.self] }
        set { self[TraceParentKey.self] = newValue }
    }
}
