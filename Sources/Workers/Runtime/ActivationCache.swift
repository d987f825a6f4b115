/// Actor records kept in memory between turns, bounded: when it overflows,
/// the least recently used quarter is passivated in one sweep, so eviction
/// costs O(1) amortized per turn.
///
/// Passivating only drops the copy in memory; the state is in Redis and the
/// next message reloads it.
struct ActivationCache {
    private var entries: [ActorAddress: (record: ActorRecord, touched: UInt64)] = [:]
    private var clock: UInt64 = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    mutating func get(_ address: ActorAddress) -> ActorRecord? {
        guard let entry = entries[address] else { return nil }
        clock += 1
        entries[address] = (entry.record, clock)
        return entry.record
    }

    mutating func put(_ address: ActorAddress, _ record: ActorRecord) {
        clock += 1
        entries[address] = (record, clock)
        if entries.count > capacity { passivateOldest() }
    }

    mutating func remove(_ address: ActorAddress) {
        entries[address] = nil
    }

    /// Drops the least recently used quarter, so sweeps are rare.
    private mutating func passivateOldest() {
        let keep = capacity - capacity / 4
        let cutoff = entries.values.map(\.touched).sorted(by: >)[min(keep, entries.count) - 1]
        entries = entries.filter { $0.value.touched >= cutoff }
    }
}
