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
    /// Entries by actor type (the `greenroom_activations` gauge), kept as
    /// entries come and go, so a sample never walks the cache.
    private(set) var countsByType: [String: Int] = [:]
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
        if entries.updateValue((record, clock), forKey: Key(partition: partition, address: address)) == nil {
            countsByType[address.type, default: 0] += 1
        }
        if entries.count > capacity { passivateOldest() }
    }

    mutating func remove(_ address: ActorAddress, in partition: PartitionID) {
        if entries.removeValue(forKey: Key(partition: partition, address: address)) != nil {
            countsByType[address.type, default: 0] -= 1
        }
    }

    /// Drops the least recently used quarter, so sweeps are rare.
    private mutating func passivateOldest() {
        let keep = capacity - capacity / 4
        let cutoff = entries.values.map(\.touched).sorted(by: >)[min(keep, entries.count) - 1]
        entries = entries.filter { $0.value.touched >= cutoff }
        countsByType = entries.keys.reduce(into: [:]) { counts, key in counts[key.address.type, default: 0] += 1 }
    }
}
