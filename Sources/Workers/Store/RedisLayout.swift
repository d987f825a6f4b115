/// Greenroom's Redis keys (docs/PROTOCOL.md, "Redis layout"). Keys of one
/// partition share its hash tag (`PartitionID.hashTag`), so a turn's commit
/// touches a single slot and the layout is ready for Redis Cluster.
enum RedisLayout {
    /// Hash: partition count per actor type.
    static let types = "gr:types"

    /// String: the deployment's incarnation id, written when the first type
    /// is declared (`Incarnation`).
    static let incarnation = "gr:incarnation"

    private static func key(_ partition: PartitionID, _ rest: String) -> String {
        "gr:\(partition.hashTag):\(rest)"
    }

    /// Hash: status, parent, version, state of one actor.
    static func actor(_ address: ActorAddress, in partition: PartitionID) -> String {
        key(partition, "a:\(address.id)")
    }

    /// Set: addresses of an actor's children.
    static func children(_ address: ActorAddress, in partition: PartitionID) -> String {
        key(partition, "c:\(address.id)")
    }

    /// Hash: message id → the outbox its committed turn stored, for the
    /// partition's most recent commits (the dedup record, docs/DESIGN.md).
    static func dedup(_ partition: PartitionID) -> String { key(partition, "dedup") }

    /// List: `UNIXSECONDS ID` of each id in `dedup`, oldest first, so the
    /// record can be trimmed by count and by age.
    static func dedupLog(_ partition: PartitionID) -> String { key(partition, "dedup-log") }

    /// Hash: message id → marked starts of its turn as a redelivered message
    /// that were not committed (`CrashMarks`), with a TTL.
    static func crashMarks(_ partition: PartitionID) -> String { key(partition, "crashes") }

    /// String: the partition's fencing epoch, bumped on every acquisition.
    static func epoch(_ partition: PartitionID) -> String { key(partition, "epoch") }

    /// String: the worker holding the partition's lease (with a TTL).
    static func lease(_ partition: PartitionID) -> String { key(partition, "lease") }

    /// String: the last worker to hold the lease (no TTL), for logs.
    static func lastLeaseHolder(_ partition: PartitionID) -> String { key(partition, "lease-last") }

    /// String: the deployment's incarnation id, in the partition's slot. A
    /// lease is granted only while it exists: gone, Redis lost its data.
    static func incarnation(_ partition: PartitionID) -> String { key(partition, "incarnation") }

    /// Sorted set: entry id → due time (unix ms) of the partition's waiting
    /// delayed messages, timers and reminders (docs/TIME.md).
    static func due(_ partition: PartitionID) -> String { key(partition, "due") }

    /// Hash: entry id → the waiting message (`DueEntry` JSON).
    static func dueEntries(_ partition: PartitionID) -> String { key(partition, "due-entries") }

    /// Pattern matching every actor hash of a type, for SCAN.
    static func actorPattern(type: String) -> String { "gr:{\(type).*}:a:*" }
}
