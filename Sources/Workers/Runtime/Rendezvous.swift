/// Which worker owns which partition: rendezvous (highest random weight)
/// hashing with bounded loads. Every worker computes the same answer from the
/// same live set. Partitions are placed in order, each with the worker that
/// weighs highest for it among those not yet holding ⌈P/N⌉, so the spread is
/// even (3 workers × 16 partitions: at most 6 each) while a join or a leave
/// still moves few partitions.
public enum Rendezvous {
    /// Partition → owner, for `partitions` partitions of `type` among `candidates` (worker ids).
    public static func assignments(type: String, partitions: Int, among candidates: [String]) -> [Int: String] {
        guard !candidates.isEmpty else { return [:] }
        let workers = candidates.sorted()
        let cap = (partitions + workers.count - 1) / workers.count
        var load: [String: Int] = [:]
        var owners: [Int: String] = [:]
        for partition in 0..<partitions {
            let ranked = workers.sorted { left, right in
                let (l, r) = (weight(left, type, partition), weight(right, type, partition))
                return l == r ? left < right : l > r
            }
            let owner = ranked.first { load[$0, default: 0] < cap } ?? ranked[0]
            load[owner, default: 0] += 1
            owners[partition] = owner
        }
        return owners
    }

    static func weight(_ worker: String, _ type: String, _ partition: Int) -> UInt64 {
        // FNV-1a alone clusters on similar strings; a final mix (splitmix64) spreads it.
        var x = Partitioning.fnv1a64("\(worker)|\(type).\(partition)".utf8)
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }
}
