/// One partition of one actor type: the unit a worker owns, consumes and
/// fences. Every name derived from a partition is assembled here and only
/// here (docs/PROTOCOL.md):
///
/// | what                     | form                 |
/// |--------------------------|----------------------|
/// | `description` (logs)     | `TYPE.P`             |
/// | RabbitMQ queue and key   | `greenroom.TYPE.P`   |
/// | Redis hash tag           | `{TYPE.P}`           |
public struct PartitionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let type: String
    public let index: Int

    public init(type: String, index: Int) {
        self.type = type
        self.index = index
    }

    /// The partition `address` belongs to among `partitions`.
    public init(of address: ActorAddress, partitions: Int) {
        self.init(type: address.type, index: Partitioning.partition(of: address.id, partitions: partitions))
    }

    /// `TYPE.P`, as in logs and `enqueue status`.
    public var description: String { "\(type).\(index)" }

    /// The partition's durable queue, also its routing key on `greenroom.actors`.
    public var queue: String { "greenroom.\(type).\(index)" }

    /// The routing key that reaches this partition's queue.
    public var routingKey: String { queue }

    /// The Redis hash tag every key of this partition shares, so one turn's
    /// commit touches a single slot (Redis Cluster-ready).
    public var hashTag: String { "{\(type).\(index)}" }

    /// Every partition of `type`, in order.
    public static func all(of type: String, partitions: Int) -> [PartitionID] {
        (0..<partitions).map { PartitionID(type: type, index: $0) }
    }

    public static func < (left: PartitionID, right: PartitionID) -> Bool {
        (left.type, left.index) < (right.type, right.index)
    }
}

/// A partition's fencing epoch: bumped in Redis each time a worker acquires
/// the partition's lease. A commit names the epoch it runs under and is
/// refused once a newer one exists.
public struct Epoch: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let value: Int64

    public init(_ value: Int64) {
        self.value = value
    }

    /// Parses the decimal form Redis stores; a missing key is epoch 0.
    init?(stored text: String?) {
        guard let text else { self.init(0); return }
        guard let value = Int64(text) else { return nil }
        self.init(value)
    }

    public var description: String { String(value) }

    public static func < (left: Epoch, right: Epoch) -> Bool { left.value < right.value }
}

/// The kind of RabbitMQ queue behind every partition.
public enum QueueType: String, Sendable, CaseIterable, CustomStringConvertible {
    /// One node's durable queue: the default, fastest on a single node.
    case classic
    /// Raft-replicated across a cluster: survives a node's loss.
    case quorum

    public var description: String { rawValue }
}
