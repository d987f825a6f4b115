import Synchronization

/// Where a connection to a cluster starts in its list of nodes: each
/// connection of a process takes the next position, and the first is drawn at
/// random, so the connections of one process and of a fleet of processes
/// spread over the nodes rather than all landing on the first.
enum HostRotation {
    private static let counter = Atomic<Int>(Int.random(in: 0..<1_000_000))

    /// The next position (taken modulo the number of hosts by the caller).
    static func next() -> Int {
        counter.add(1, ordering: .relaxed).oldValue & Int.max
    }
}
