import Broker
import Tracing

/// The W3C Trace Context a message carries in its AMQP headers
/// (`traceparent`, and `tracestate` when present; docs/PROTOCOL.md,
/// "Tracing"). A worker passes them on unchanged when it does not trace, so
/// a trace survives hops through workers that do not trace.
public struct TraceHeaders: Sendable, Hashable, Codable {
    /// The `traceparent` value, as it came (a worker passes on what it got, unchecked).
    public var traceparent: String
    public var tracestate: String?

    /// Headers that continue the trace `traceparent`.
    public init(_ traceparent: TraceParent, tracestate: String? = nil) {
        self.init(traceparent: traceparent.description, tracestate: tracestate)
    }

    /// Headers that continue the trace of a `traceparent` value given as
    /// text; throws `MalformedTraceParent`, naming the format, for one that
    /// is not W3C's.
    public init(parsing traceparent: String, tracestate: String? = nil) throws {
        self.init(try TraceParent(parsing: traceparent), tracestate: tracestate)
    }

    package init(traceparent: String, tracestate: String?) {
        self.traceparent = traceparent
        self.tracestate = tracestate
    }

    /// The trace headers in an AMQP headers table, if it has a `traceparent`.
    package init?(_ headers: AMQPTable) {
        guard let traceparent = headers[WireFormat.traceparentHeader]?.stringValue else { return nil }
        self.init(traceparent: traceparent, tracestate: headers[WireFormat.tracestateHeader]?.stringValue)
    }

    /// The current trace context (`ServiceContext.current`) as the
    /// bootstrapped tracer injects it; nil outside a span, or when the
    /// tracer injects no `traceparent` (no tracer bootstrapped).
    public static var current: TraceHeaders? {
        guard let context = ServiceContext.current else { return nil }
        return injected(context, by: InstrumentationSystem.tracer)
    }

    /// `context` as `tracer` injects it into message headers.
    package static func injected(_ context: ServiceContext, by tracer: any Tracer) -> TraceHeaders? {
        var headers: AMQPTable = [:]
        tracer.inject(context, into: &headers, using: AMQPHeadersInjector())
        return TraceHeaders(headers)
    }

    /// Writes them into `headers`.
    package func write(into headers: inout AMQPTable) {
        headers[WireFormat.traceparentHeader] = .string(traceparent)
        if let tracestate { headers[WireFormat.tracestateHeader] = .string(tracestate) }
    }
}

/// Reads trace context from AMQP message headers, for a tracer's `extract`.
public struct AMQPHeadersExtractor: Extractor {
    public init() {}

    public func extract(key: String, from carrier: AMQPTable) -> String? {
        carrier[key]?.stringValue
    }
}

/// Writes trace context into AMQP message headers, for a tracer's `inject`.
public struct AMQPHeadersInjector: Injector {
    public init() {}

    public func inject(_ value: String, forKey key: String, into carrier: inout AMQPTable) {
        carrier[key] = .string(value)
    }
}
