/// Which master serves each of a Redis Cluster's 16384 slots, and how many
/// replicas each master has, as `CLUSTER SLOTS` tells it.
struct RedisSlotMap: Sendable {
    /// The masters, in the order the reply first names them.
    private(set) var masters: [RedisEndpoint]
    /// Every replica the reply names, for asking when masters do not answer.
    private(set) var replicas: [RedisEndpoint]
    /// Each master's replicas that are not failing (Redis leaves failing
    /// nodes out of `CLUSTER SLOTS`).
    private(set) var replicaCounts: [RedisEndpoint: Int]
    /// Slot → index in `masters`; `uncovered` when no master serves it.
    private var owners: [UInt16]
    private static let uncovered = UInt16.max

    /// Reads a `CLUSTER SLOTS` reply from the node at `askedHost` (a node
    /// whose address is empty in the reply is that host).
    init(clusterSlots reply: RedisValue, askedHost: String) throws(RedisError) {
        masters = []
        replicas = []
        replicaCounts = [:]
        owners = Array(repeating: Self.uncovered, count: RedisSlot.count)
        guard let ranges = reply.array else { throw Self.malformed(reply) }
        for range in ranges {
            guard let parts = range.array, parts.count >= 3,
                  let first = parts[0].integer, let last = parts[1].integer, 0 <= first, first <= last, last < RedisSlot.count,
                  let master = Self.endpoint(parts[2], askedHost: askedHost) else { throw Self.malformed(range) }
            let index: Int
            if let known = masters.firstIndex(of: master) { index = known } else {
                index = masters.count
                masters.append(master)
            }
            let rangeReplicas = parts.dropFirst(3).compactMap { Self.endpoint($0, askedHost: askedHost) }
            replicaCounts[master] = rangeReplicas.count
            for replica in rangeReplicas where !replicas.contains(replica) { replicas.append(replica) }
            for slot in Int(first)...Int(last) { owners[slot] = UInt16(index) }
        }
        guard !masters.isEmpty else {
            throw RedisError(code: .server, command: "CLUSTER", message: "CLUSTER SLOTS lists no slot: the cluster has not been created "
                             + "(redis-cli --cluster create …, or scripts/services up --cluster)")
        }
    }

    /// The master serving `slot`, nil when none does.
    func master(ofSlot slot: Int) -> RedisEndpoint? {
        let index = owners[slot]
        return index == Self.uncovered ? nil : masters[Int(index)]
    }

    /// Records what a `MOVED` reply said: `slot` is now served by `node`.
    mutating func move(slot: Int, to node: RedisEndpoint) {
        let index: Int
        if let known = masters.firstIndex(of: node) { index = known } else {
            index = masters.count
            masters.append(node)
        }
        owners[slot] = UInt16(index)
    }

    /// The masters that serve at least one slot.
    var servingMasters: [RedisEndpoint] {
        var serving = Array(repeating: false, count: masters.count)
        for owner in owners where owner != Self.uncovered { serving[Int(owner)] = true }
        return masters.indices.filter { serving[$0] }.map { masters[$0] }
    }

    private static func endpoint(_ node: RedisValue, askedHost: String) -> RedisEndpoint? {
        guard let parts = node.array, parts.count >= 2, let host = parts[0].string, let port = parts[1].integer else { return nil }
        return RedisEndpoint(host: host.isEmpty || host == "?" ? askedHost : host, port: Int(port))
    }

    private static func malformed(_ value: RedisValue) -> RedisError {
        RedisError(code: .server, command: "CLUSTER", message: "unexpected CLUSTER SLOTS reply \(value)")
    }
}
