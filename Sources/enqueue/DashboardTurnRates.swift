import Workers

/// Turn rates and mean latency per actor type, from two successive readings
/// of each worker's running totals (`MemberInfo.turns`, written with every
/// heartbeat), summed over the live workers.
///
/// A worker's rate is kept from its last two distinct heartbeats, so polling
/// faster than workers heartbeat shows the last known rate rather than zero.
/// A worker whose totals went down restarted: its new totals are the next
/// baseline. Types no live worker reports totals for (workers older than the
/// field) have no rate: the page shows "—".
actor DashboardTurnRates {
    /// One type's figures, summed over the workers.
    struct TypeRate: Codable, Sendable, Equatable {
        var type: String
        /// Committed turns per second; nil until a worker has heartbeated twice.
        var turnsPerSecond: Double?
        var deadLetteredPerSecond: Double?
        var retriedPerSecond: Double?
        /// Mean duration of the turns committed between the two readings, in
        /// milliseconds; nil when none committed.
        var meanLatencyMilliseconds: Double?
        /// Committed since each live worker started.
        var committedTotal: Int
    }

    private struct Reading {
        var at: Int64
        var totals: [String: TurnTotals]
    }

    private struct Interval {
        var seconds: Double
        var delta: [String: TurnTotals]
    }

    private var last: [String: Reading] = [:]
    private var intervals: [String: Interval] = [:]

    /// Takes the workers' latest heartbeats and returns the rates by type.
    func update(_ workers: [MemberInfo]) -> [TypeRate] {
        let live = Set(workers.map(\.id))
        last = last.filter { live.contains($0.key) }
        intervals = intervals.filter { live.contains($0.key) }
        for worker in workers {
            guard let totals = worker.turns, let at = worker.lastSeenMilliseconds else { continue }
            let reading = Reading(at: at, totals: totals)
            defer { if (last[worker.id]?.at ?? .min) < at { last[worker.id] = reading } }
            guard let previous = last[worker.id], previous.at < at else { continue }
            guard let delta = Self.delta(from: previous.totals, to: totals) else {
                intervals[worker.id] = nil  // restarted under the same id: start again from here
                continue
            }
            intervals[worker.id] = Interval(seconds: Double(at - previous.at) / 1_000, delta: delta)
        }
        var types = Set<String>()
        for worker in workers { types.formUnion(worker.turns.map { Array($0.keys) } ?? []) }
        return types.sorted().map { type in
            var rate = TypeRate(type: type, committedTotal: workers.reduce(0) { $0 + ($1.turns?[type]?.committed ?? 0) })
            let measured = workers.compactMap { intervals[$0.id] }.filter { $0.delta[type] != nil }
            guard !measured.isEmpty else { return rate }
            rate.turnsPerSecond = measured.reduce(0) { $0 + Double($1.delta[type]!.committed) / $1.seconds }
            rate.deadLetteredPerSecond = measured.reduce(0) { $0 + Double($1.delta[type]!.deadLettered) / $1.seconds }
            rate.retriedPerSecond = measured.reduce(0) { $0 + Double($1.delta[type]!.retried) / $1.seconds }
            let committed = measured.reduce(0) { $0 + $1.delta[type]!.committed }
            let seconds = measured.reduce(0) { $0 + $1.delta[type]!.seconds }
            if committed > 0 { rate.meanLatencyMilliseconds = seconds / Double(committed) * 1_000 }
            return rate
        }
    }

    /// What happened between two readings, by type; nil if any total went
    /// down (the worker restarted).
    private static func delta(from old: [String: TurnTotals], to new: [String: TurnTotals]) -> [String: TurnTotals]? {
        var delta: [String: TurnTotals] = [:]
        for (type, now) in new {
            let before = old[type] ?? TurnTotals()
            let change = TurnTotals(committed: now.committed - before.committed, deadLettered: now.deadLettered - before.deadLettered,
                                    retried: now.retried - before.retried, seconds: now.seconds - before.seconds)
            guard change.committed >= 0, change.deadLettered >= 0, change.retried >= 0, change.seconds >= -1e-9 else { return nil }
            delta[type] = change
        }
        return delta
    }
}
