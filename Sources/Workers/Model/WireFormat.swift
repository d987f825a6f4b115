/// Names on the wire that other programs rely on (docs/PROTOCOL.md).
public enum WireFormat {
    /// Header: the target address, `TYPE/ID` (required).
    public static let toHeader = "x-greenroom-to"
    /// Header: the sending actor's address, when an actor sent it.
    public static let fromHeader = "x-greenroom-from"
    /// Header: `true` asks the worker to create the target on first message.
    public static let spawnHeader = "x-greenroom-spawn"
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

    /// Header on a message fired from a due set: when it was due (int64, unix milliseconds).
    public static let dueAtHeader = "x-greenroom-due-at"
    /// Header on a timer's or reminder's firing: `timer:NAME` or `reminder:NAME`.
    public static let scheduleHeader = "x-greenroom-schedule"
    /// Header on a timer's or reminder's firing: the generation it was set as.
    public static let generationHeader = "x-greenroom-generation"
    /// Header on a reminder's firing: whole periods missed before it (int32).
    public static let missedHeader = "x-greenroom-missed"
    /// Header on a parked actor's message published again: the park it is released from.
    public static let releaseHeader = "x-greenroom-release"
    /// Header a client sets on a delayed message: not to run before (int64, unix milliseconds).
    public static let notBeforeHeader = "x-greenroom-not-before"
    /// Header: the W3C Trace Context `traceparent` of the trace the message belongs to.
    public static let traceparentHeader = "traceparent"
    /// Header: the W3C Trace Context `tracestate` travelling with `traceparent`, when there is one.
    public static let tracestateHeader = "tracestate"

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
        /// Cancels the target's reminder (payload: `{"name": NAME}`); replies `{"cancelled": BOOL}`.
        public static let cancelReminder = "greenroom.cancel-reminder"
        /// Ends a release round of a parked actor (payload: `{"park": ID}`; docs/TIME.md, "Delayed retries").
        public static let unpark = "greenroom.unpark"

        /// Whether `kind` creates or stops its target (not run by the behaviour).
        public static func isLifecycle(_ kind: String) -> Bool { kind == spawn || kind == stop }

        /// Whether the runtime handles `kind` itself, never the behaviour.
        public static func isRuntimeHandled(_ kind: String) -> Bool { isLifecycle(kind) || kind == cancelReminder || kind == unpark }
    }
}
