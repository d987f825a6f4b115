import CoreMetrics
import Synchronization

/// The runtime's own `TurnHooks`, always in its chain: it records every turn
/// outcome through swift-metrics (the series below; docs/OPERATIONS.md,
/// "Metrics") and keeps the per-type running totals each heartbeat carries
/// (`MemberInfo.turns`).
///
/// Its handles are made once, when the worker is created, for every hosted
/// type, so recording is an atomic add or one short lock per group of turns,
/// never an allocation. Bootstrap `MetricsSystem` (the `worker` does it for
/// `--metrics-port`) before creating the `WorkerRuntime`: handles made
/// before that are swift-metrics' no-ops for good.
public final class GreenroomMetrics: TurnHooks {
    /// The series' names.
    public enum Name {
        public static let turns = "greenroom_turns_total"
        public static let turnDuration = "greenroom_turn_duration_seconds"
        public static let deliveryToCommit = "greenroom_delivery_to_commit_seconds"
        public static let partitionsOwned = "greenroom_partitions_owned"
        public static let activations = "greenroom_activations"
        public static let deadLetters = "greenroom_dead_letters_total"
        public static let redeliveries = "greenroom_redeliveries_total"
        public static let mailboxDepth = "greenroom_mailbox_depth"
    }

    /// Histogram buckets for the two durations: a turn commits in about a
    /// millisecond when Redis is near, a backlog makes deliveries wait seconds.
    public static let durationBuckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500),
        .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    /// The `type` label of a dead letter whose actor type this worker does
    /// not host, or that names no actor.
    public static let otherType = "other"

    private let factory: any MetricsFactory
    private let byType: [String: TypeSeries]
    private let deliveryToCommit: CoreMetrics.Timer
    private let redeliveries: CoreMetrics.Counter
    private let mailboxDepth: Gauge
    private let deadLetters = Mutex<[DeadLetterKey: CoreMetrics.Counter]>([:])

    private struct DeadLetterKey: Hashable {
        var type: String
        var reason: DeadLetterClass
    }

    /// Handles for `types` from `factory` (the bootstrapped one by default).
    public init(types: [String], factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        byType = Dictionary(types.map { ($0, TypeSeries(type: $0, factory: factory)) }) { first, _ in first }
        deliveryToCommit = CoreMetrics.Timer(label: Name.deliveryToCommit, dimensions: [], factory: factory)
        redeliveries = CoreMetrics.Counter(label: Name.redeliveries, dimensions: [], factory: factory)
        mailboxDepth = Gauge(label: Name.mailboxDepth, dimensions: [], factory: factory)
    }

    /// What this worker's turns did since it started, by hosted type.
    public var totals: [String: TurnTotals] { byType.mapValues(\.totals) }

    public func didMeasure(_ actor: ActorAddress, turns: Int, timing: TurnTiming) {
        byType[actor.type]?.committed(turns, taking: timing.turn)
        deliveryToCommit.recordNanoseconds(timing.sinceDelivery.nanoseconds)
    }

    public func didFindDuplicates(_ actor: ActorAddress, messages: Int) {
        byType[actor.type]?.duplicate.increment(by: Int64(messages))
    }

    public func wasFenced(_ actor: ActorAddress, messages: Int) {
        byType[actor.type]?.fenced.increment(by: Int64(messages))
    }

    public func didFail(_ actor: ActorAddress, messageID: String, reason: String, attempts: Int, willRetry: Bool) {
        if willRetry { byType[actor.type]?.retried() } else { byType[actor.type]?.deadLettered() }
    }

    public func didDeadLetter(_ actor: ActorAddress?, reason: String) {
        let type = actor.map(\.type).flatMap { byType[$0] == nil ? nil : $0 } ?? Self.otherType
        let key = DeadLetterKey(type: type, reason: DeadLetterClass(reason: reason))
        let counter = deadLetters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = CoreMetrics.Counter(label: Name.deadLetters, dimensions: [("type", key.type), ("reason", key.reason.rawValue)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }

    public func didReceive(type: String, deliveries: Int, redelivered: Int) {
        if redelivered > 0 { redeliveries.increment(by: Int64(redelivered)) }
    }

    public func didSample(_ sample: WorkerSample) {
        for (type, series) in byType {
            series.partitionsOwned.record(sample.partitionsOwned[type] ?? 0)
            series.activations.record(sample.activations[type] ?? 0)
        }
        mailboxDepth.record(sample.mailboxDepth)
    }
}

extension Duration {
    /// Whole nanoseconds (what swift-metrics' timers take).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
