/// Names on the wire that other programs rely on (docs/PROTOCOL.md).
public enum WireFormat {
    /// Header: the target address, `TYPE/ID` (required).
    public static let toHeader = "x-greenroom-to"
    /// Header: the sending actor's address, when an actor sent it.
    public static let fromHeader = "x-greenroom-from"
    /// Header: `true` asks the worker to create the target on first message.
    public static let spawnHeader = "x-greenroom-spawn"
    /// Header (int64, unix milliseconds): a client's delayed message is not
    /// handled before this time; the target partition's owner keeps it until then.
    public static let notBeforeHeader = "x-greenroom-not-before"
    /// Dead-letter headers: why, after how many attempts, where.
    public static let errorHeader = "x-greenroom-error"
    public static let attemptsHeader = "x-greenroom-attempts"
    public static let actorHeader = "x-greenroom-actor"
    public static let workerHeader = "x-greenroom-worker"
    public static let deadAtHeader = "x-greenroom-dead-at"
    /// Dead-letter header: the exchange and routing key the message was sent to.
    public static let originalRoutingKeyHeader = "x-greenroom-routing-key"
    /// Dead-letter header: the declared body size of an oversized message,
    /// whose body was never read (the dead letter is a stub without it).
    public static let bodyBytesHeader = "x-greenroom-body-bytes"

    public static let contentType = "application/json"
    /// Bodies larger than this are dead-lettered unread (1 MiB).
    public static let defaultMaximumBodyBytes = 1 << 20

    /// System message kinds, handled by the runtime rather than behaviours.
    public enum SystemKind {
        /// Creates the target actor (payload: `{"state": …?, "parent": "T/ID"?}`).
        public static let spawn = "greenroom.spawn"
        /// Stops the target actor and, recursively, its children.
        public static let stop = "greenroom.stop"
        /// Sent to a parent when a child's message was dead-lettered after retries.
        public static let childFailed = "child-failed"

        /// Whether `kind` creates or stops its target (not run by the behaviour).
        public static func isLifecycle(_ kind: String) -> Bool { kind == spawn || kind == stop }
    }
}
