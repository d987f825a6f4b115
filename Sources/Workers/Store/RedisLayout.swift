/// Greenroom's Redis keys (docs/PROTOCOL.md, "Redis layout"). Keys of one
/// partition share the hash tag `{TYPE.P}`, so a turn's commit touches a single
/// slot and the layout is ready for Redis Cluster.
enum RedisLayout {
    /// Hash: partition count per actor type.
    static let types = "gr:types"

    static func tag(type: String, partition: Int) -> String { "{\(type).\(partition)}" }

    /// Hash: status, parent, version, state of one actor.
    static func actor(_ address: ActorAddress, partition: Int) -> String {
        "gr:\(tag(type: address.type, partition: partition)):a:\(address.id)"
    }

    /// Set: addresses of an actor's children.
    static func children(_ address: ActorAddress, partition: Int) -> String {
        "gr:\(tag(type: address.type, partition: partition)):c:\(address.id)"
    }

    /// String: a committed turn's outbox, kept for the dedup window.
    static func dedup(messageID: String, type: String, partition: Int) -> String {
        "gr:\(tag(type: type, partition: partition)):d:\(messageID)"
    }

    /// String: the partition's fencing epoch, bumped on every acquisition.
    static func epoch(type: String, partition: Int) -> String {
        "gr:\(tag(type: type, partition: partition)):epoch"
    }

    /// Pattern matching every actor hash of a type, for SCAN.
    static func actorPattern(type: String) -> String { "gr:{\(type).*}:a:*" }
}
