import Tracing

/// One span per turn (docs/OPERATIONS.md, "Tracing"): started from the
/// incoming message's `traceparent` when the turn is planned, named after
/// the message kind, of kind consumer, with the actor, kind, message id,
/// attempt and partition as attributes; ended once the turn's outcome is
/// known, with its error when it failed. Whatever the turn sends, spawns,
/// replies or schedules carries the span's context.
///
/// With no tracer bootstrapped (`NoOpTracer`) nothing is started: a turn
/// passes its incoming `traceparent`/`tracestate` on unchanged, so a trace
/// survives hops through workers that do not trace, at the cost of one
/// header lookup per message (`Envelope.parse`).
struct TurnTracing: Sendable {
    /// Nil without a tracer: every method is then a nil check.
    private let tracer: (any Tracer)?

    /// The tracer is read once, when the worker's runtime starts: bootstrap
    /// it (`InstrumentationSystem.bootstrap`) before.
    init(tracer: any Tracer) {
        self.tracer = tracer is NoOpTracer ? nil : tracer
    }

    /// How a turn's span ended (its `greenroom.outcome` attribute).
    enum Outcome: String {
        case committed, duplicate, retried, fenced
        case deadLettered = "dead_lettered"
        /// Its partition was lost before the turn was decided: the broker redelivers it.
        case requeued
        /// A firing of a timer or reminder cancelled or set again: acked without running.
        case ignored
        /// Stored behind its parked actor: it runs later, published again (a new span then).
        case held
    }

    /// Starts the span of `item`'s turn, unless it has one: a turn planned
    /// again (after a stale or duplicate commit, or a Redis failure) keeps it.
    func begin(_ item: Delivered) {
        guard let tracer, item.trace.withLock({ $0 == nil }) else { return }
        let message = item.envelope.message
        var parent = ServiceContext.topLevel
        tracer.extract(item.delivery.properties.headers, into: &parent, using: AMQPHeadersExtractor())
        let span = tracer.startSpan(message.kind, context: parent, ofKind: .consumer)
        span.updateAttributes { attributes in
            attributes.set("greenroom.actor", value: .string(item.actor.description))
            attributes.set("greenroom.kind", value: .string(message.kind))
            attributes.set("greenroom.message_id", value: .string(message.id))
            attributes.set("greenroom.attempt", value: .int64(Int64(item.failedAttempts + 1)))
            attributes.set("greenroom.partition", value: .int64(Int64(item.run.partition.index)))
        }
        let outgoing = TraceHeaders.injected(span.context, by: tracer) ?? message.trace
        item.trace.withLock { $0 = TurnTrace(span: span, outgoing: outgoing) }
    }

    /// The trace headers the messages of `item`'s turn carry: its span's
    /// context, or without a tracer the ones it came with.
    func outgoing(for item: Delivered) -> TraceHeaders? {
        guard tracer != nil else { return item.envelope.message.trace }
        return item.trace.withLock { $0?.outgoing } ?? item.envelope.message.trace
    }

    /// The context the behaviour runs in (`ServiceContext.current`), so its
    /// own spans are children of the turn's; nil without a tracer.
    func context(of item: Delivered) -> ServiceContext? {
        guard tracer != nil else { return nil }
        return item.trace.withLock { $0?.span.context }
    }

    /// Ends the spans of `items` that have one, with `failure` recorded as an error.
    func end(_ items: some Sequence<Delivered>, _ outcome: Outcome, failure: String? = nil) {
        guard tracer != nil else { return }
        for item in items {
            guard let trace = item.trace.withLock({ trace in defer { trace = nil }; return trace }) else { continue }
            trace.span.attributes.set("greenroom.outcome", value: .string(outcome.rawValue))
            if let failure {
                trace.span.recordError(TurnFailure(description: failure))
                trace.span.setStatus(SpanStatus(code: .error, message: failure))
            }
            trace.span.end()
        }
    }

    /// Ends the span of one item (see `end(_:_:failure:)`).
    func end(_ item: Delivered, _ outcome: Outcome, failure: String? = nil) {
        end(CollectionOfOne(item), outcome, failure: failure)
    }
}

/// The span of a turn in progress and the headers its messages carry.
struct TurnTrace: Sendable {
    let span: any Span
    let outgoing: TraceHeaders?
}

/// A turn's failure as its span records it: the reason, in words.
struct TurnFailure: Error, CustomStringConvertible {
    let description: String
}
