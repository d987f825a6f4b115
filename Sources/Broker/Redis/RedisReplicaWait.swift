import Logging
import Synchronization

/// Makes a cluster node's batches of writes durable across its failover.
///
/// Redis replicates asynchronously: a write a master answered may not have
/// reached its replica when the master dies, and the replica promoted in its
/// place never had it — yet the caller (a turn's commit) was told it was done.
/// So after a batch that holds a write, the node's connection thread writes
/// `WAIT 1 timeout` with the batch and resumes the batch's callers only once
/// it has answered: a replica acknowledged every write of the batch, or the
/// timeout passed.
///
/// A master with no replica (its replica was promoted after a failover and
/// the old master is not back yet) would make every batch wait out the
/// timeout, so the slot map's replica count for the node (`replicas`, set by
/// each refresh) switches the wait off while it is 0, and a WAIT that times
/// out with no replica acknowledging sets it to 0 until the next refresh.
final class RedisReplicaWait: Sendable {
    /// How long a batch waits for a replica, in milliseconds.
    let timeoutMilliseconds: Int
    /// The command written after a batch of writes.
    let command: [[UInt8]]
    private let replicaCount = Atomic<Int>(0)

    init(timeoutMilliseconds: Int) {
        self.timeoutMilliseconds = timeoutMilliseconds
        command = ["WAIT".redisBytes, 1.redisBytes, timeoutMilliseconds.redisBytes]
    }

    /// The node's replicas as the last slot map (or a timed-out WAIT) says.
    var replicas: Int {
        get { replicaCount.load(ordering: .relaxed) }
        set { replicaCount.store(newValue, ordering: .relaxed) }
    }

    /// True when `commands` hold a write and the node has a replica to wait for.
    func isNeeded(after commands: [[[UInt8]]]) -> Bool {
        replicas > 0 && commands.contains { !Self.readOnly.contains(RedisConnectionCore.name(of: $0)) }
    }

    /// Reads WAIT's reply: no replica acknowledged within the timeout means
    /// none is there to wait for, until a refresh of the slot map says so.
    func record(_ reply: Result<RedisValue, RedisError>, endpoint: String, logger: Logger) {
        switch reply {
        case .success(let value) where (value.integer ?? 0) > 0:
            return
        case .success:
            replicas = 0
            logger.warning("""
                no replica of the Redis Cluster master acknowledged a batch of writes within \(timeoutMilliseconds) ms; \
                writes to it go on without waiting until the cluster's slot map shows it a replica again
                """, metadata: ["endpoint": "\(endpoint)"])
        case .failure(let error):
            logger.debug("WAIT failed", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
        }
    }

    /// Commands that change no data: a batch of only these does not wait.
    /// Anything else (scripts included) counts as a write.
    static let readOnly: Set<String> = [
        "GET", "MGET", "HGET", "HMGET", "HGETALL", "HEXISTS", "HLEN", "HKEYS", "HVALS", "EXISTS", "TTL", "PTTL", "TYPE",
        "STRLEN", "SMEMBERS", "SISMEMBER", "SCARD", "LRANGE", "LLEN", "LINDEX", "ZRANGE", "ZRANGEBYSCORE", "ZSCORE",
        "ZCARD", "ZCOUNT", "ZRANK", "SCAN", "KEYS", "INFO", "PING", "CONFIG", "CLUSTER", "MEMORY", "OBJECT", "DBSIZE",
        "TIME", "SCRIPT", "ASKING", "WAIT", "EVAL_RO", "EVALSHA_RO", "ROLE", "CLIENT",
    ]
}
