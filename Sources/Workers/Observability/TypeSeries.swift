import CoreMetrics
import Synchronization

/// One hosted actor type's metric handles and running totals
/// (`GreenroomMetrics`): made once, recorded into per group of turns.
final class TypeSeries: Sendable {
    let committedCounter: CoreMetrics.Counter
    let duplicate: CoreMetrics.Counter
    let retriedCounter: CoreMetrics.Counter
    let deadLetteredCounter: CoreMetrics.Counter
    let fenced: CoreMetrics.Counter
    let duration: CoreMetrics.Timer
    let partitionsOwned: Gauge
    let activations: Gauge

    private let committedTotal = Atomic<Int>(0)
    private let retriedTotal = Atomic<Int>(0)
    private let deadLetteredTotal = Atomic<Int>(0)
    /// Committed turns' durations summed, in nanoseconds (a turn of a group
    /// counts the group's duration).
    private let nanosecondsTotal = Atomic<Int64>(0)

    init(type: String, factory: any MetricsFactory) {
        func outcome(_ name: String) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: GreenroomMetrics.Name.turns, dimensions: [("type", type), ("outcome", name)], factory: factory)
        }
        committedCounter = outcome("committed")
        duplicate = outcome("duplicate")
        retriedCounter = outcome("retried")
        deadLetteredCounter = outcome("dead_lettered")
        fenced = outcome("fenced")
        duration = CoreMetrics.Timer(label: GreenroomMetrics.Name.turnDuration, dimensions: [("type", type)], factory: factory)
        partitionsOwned = Gauge(label: GreenroomMetrics.Name.partitionsOwned, dimensions: [("type", type)], factory: factory)
        activations = Gauge(label: GreenroomMetrics.Name.activations, dimensions: [("type", type)], factory: factory)
    }

    /// A group of `turns` committed `taking` from its run's start: one
    /// observation of the duration histogram per group.
    func committed(_ turns: Int, taking duration: Duration) {
        let nanoseconds = duration.nanoseconds
        committedCounter.increment(by: Int64(turns))
        self.duration.recordNanoseconds(nanoseconds)
        committedTotal.wrappingAdd(turns, ordering: .relaxed)
        nanosecondsTotal.wrappingAdd(nanoseconds * Int64(turns), ordering: .relaxed)
    }

    func retried() {
        retriedCounter.increment()
        retriedTotal.wrappingAdd(1, ordering: .relaxed)
    }

    func deadLettered() {
        deadLetteredCounter.increment()
        deadLetteredTotal.wrappingAdd(1, ordering: .relaxed)
    }

    var totals: TurnTotals {
        TurnTotals(committed: committedTotal.load(ordering: .relaxed), deadLettered: deadLetteredTotal.load(ordering: .relaxed),
                   retried: retriedTotal.load(ordering: .relaxed),
                   seconds: Double(nanosecondsTotal.load(ordering: .relaxed)) / 1_000_000_000)
    }
}
