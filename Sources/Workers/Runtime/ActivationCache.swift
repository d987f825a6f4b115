/// Actor records kept in memory between turns, bounded: when it overflows,
/// the least recently used quarter is passivated in one sweep, so eviction
/// costs O(1) amortized per turn.
///
/// Passivating only drops the copy in memory; the state is in Redis and the
/// next message reloads it.
///
/// Entries are keyed by partition as well as address: a record is the one
/// stored under that partition's keys, so a message that reached the wrong
/// partition can never be run on (or overwrite) the real actor's copy.
struct ActivationCache {
    struct Key: Hashable {
        var partition: PartitionID
        var address: ActorAddress
    }

    private var entries: [Key: (record: ActorRecord, touched: UInt64)] = [:]
    private var clock: UInt64 = 0
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    mutating func get(_ address: ActorAddress, in partition: PartitionID) -> ActorRecord? {
        let key = Key(partition: partition, address: address)
        guard let entry = entries[key] else { return nil }
        clock += 1
        entries[key] = (entry.record, clock)
        return entry.record
    }

    mutating func put(_ address: ActorAddress, in partition: PartitionID, _ record: ActorRecord) {
        clock += 1
        entries[Key(partition: partition, address: address)] = (record, clock)
        if entries.count > capacity { passivateOldest() }
    }

    mutating func remove(_ address: ActorAddress, in partition: PartitionID) {
        entries[Key(partition: partition, address: address)] = nil
    }

    /// Drops the least recently used quarter, so sweeps are rare.
    private mutating func passivateOldest() {
        let keep = capacity - capacity / 4
        let cutoff = entries.values.map(\.touched).sorted(by: >)[min(keep, entries.count) - 1]
        entries = entries.filter { $0.value.touched >= cutoff }
    }
}
