/// Where and how to connect to Redis, usually read from a URL:
/// `redis://[[user]:password@]host[:port][/db][?connect_timeout=ms&command_timeout=ms]`.
///
/// The port defaults to 6379 and the database to 0. `command_timeout`
/// (default 2000 ms, 0 for none) bounds how long a command may go without an
/// answer: a Redis that stops answering without closing the connection
/// (frozen, packets dropped) fails the command with `RedisError.Code.timedOut`
/// and the connection is made anew, so a worker gives up its leases within
/// their time to live (6 s by default) instead of hanging. A user name needs Redis 6
/// ACLs; a password alone uses the classic `AUTH password`. `rediss://` (TLS)
/// is refused: hiredis 0.14, Debian 12's version, has no TLS.
///
/// A Redis Cluster is named by its seeds (`RedisClusterURL`):
/// `redis+cluster://[[user]:password@]host:port,host:port,…[/0][?options]`;
/// `host` and `port` are then the first seed.
public struct RedisConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    public var database: Int
    public var connectTimeoutMilliseconds: Int
    /// How long a command may wait for its reply (no bytes from the server
    /// for this long); 0 waits forever. Keep it below the lease time to live.
    public var commandTimeoutMilliseconds: Int
    /// True for a Redis Cluster (`redis+cluster://`): commands are routed by
    /// key slot to the node that serves it (`RedisClusterRouter`).
    public var isCluster = false
    /// The cluster's seeds after the first (`host`/`port`): any reachable one
    /// tells the client the slot map.
    public var otherSeeds: [RedisEndpoint] = []
    /// In a cluster, how long (ms) a batch of writes waits for a replica to
    /// acknowledge them (`WAIT 1 ms`) before its callers are answered; 0 does
    /// not wait. See `RedisReplicaWait`.
    public var replicaWaitMilliseconds = 0

    /// Every seed, `host`/`port` first.
    public var seeds: [RedisEndpoint] { [RedisEndpoint(host: host, port: port)] + otherSeeds }

    /// The default `commandTimeoutMilliseconds`: well below the default lease
    /// time to live (6 s), well above any normal command's time.
    public static let defaultCommandTimeoutMilliseconds = 2_000

    /// The default `replicaWaitMilliseconds` of a cluster URL: long enough
    /// for a replica on a busy host to acknowledge, well below the command
    /// timeout and the lease time to live.
    public static let defaultReplicaWaitMilliseconds = 1_000

    /// The URL used when neither a flag nor `GREENROOM_REDIS_URL` gives one.
    public static let defaultURL = "redis://127.0.0.1:6379/0"

    public init(host: String = "127.0.0.1", port: Int = 6379, user: String? = nil, password: String? = nil,
                database: Int = 0, connectTimeoutMilliseconds: Int = 5_000,
                commandTimeoutMilliseconds: Int = RedisConfiguration.defaultCommandTimeoutMilliseconds) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
        self.commandTimeoutMilliseconds = commandTimeoutMilliseconds
    }

    /// Reads a `redis://` or `redis+cluster://` URL; throws `URLFormatError`
    /// naming the problem.
    public init(url: String) throws(URLFormatError) {
        if let cluster = try RedisClusterURL(url) {
            do {
                try self.init(url: cluster.firstSeedURL)
            } catch {
                // The same problem, about the URL as given.
                throw URLFormatError(url: url, problem: error.problem)
            }
            guard database == 0 else {
                throw URLFormatError(url: url, problem: "a Redis Cluster has only database 0, not \(database): end the URL with /0 or no path")
            }
            isCluster = true
            otherSeeds = Array(cluster.seeds.dropFirst())
            replicaWaitMilliseconds = cluster.replicaWaitMilliseconds ?? Self.defaultReplicaWaitMilliseconds
            // WAIT holds the connection silent while it waits: as long as the
            // command timeout, and the batch would time out and drop it.
            guard commandTimeoutMilliseconds == 0 || replicaWaitMilliseconds < commandTimeoutMilliseconds else {
                throw URLFormatError(url: url, problem: "replica_wait (\(replicaWaitMilliseconds) ms) must be below command_timeout "
                                     + "(\(commandTimeoutMilliseconds) ms): a batch waiting for a replica would time out and drop the connection")
            }
            return
        }
        let parsed = try ServerURL(url)
        guard parsed.scheme == "redis" else {
            let hint = parsed.scheme == "rediss" ? " (TLS is not supported by hiredis 0.14)" : ""
            throw URLFormatError(url: url, problem: "scheme must be redis (or redis+cluster for a Redis Cluster), not '\(parsed.scheme)'\(hint)")
        }
        guard parsed.hosts.count == 1 else {
            throw URLFormatError(url: url, problem: "a redis:// URL names one server; for the nodes of a Redis Cluster use "
                                 + "redis+cluster://\(parsed.hosts.map { "\($0.host):\($0.port ?? 6379)" }.joined(separator: ","))")
        }
        self.init(host: parsed.host, port: parsed.port ?? 6379)
        user = parsed.user.flatMap { $0.isEmpty ? nil : $0 }
        password = parsed.password
        if let path = parsed.path, !path.isEmpty {
            guard let number = Int(path), number >= 0 else {
                throw URLFormatError(url: url, problem: "the database after the '/' must be a number, not '\(path)'")
            }
            database = number
        }
        for (name, value) in parsed.query {
            switch name {
            case "connect_timeout":
                guard let milliseconds = Int(value), milliseconds > 0 else {
                    throw URLFormatError(url: url, problem: "connect_timeout must be a positive number of milliseconds, not '\(value)'")
                }
                connectTimeoutMilliseconds = milliseconds
            case "command_timeout":
                guard let milliseconds = Int(value), milliseconds >= 0 else {
                    throw URLFormatError(url: url, problem: "command_timeout must be a number of milliseconds (0 for none), not '\(value)'")
                }
                commandTimeoutMilliseconds = milliseconds
            case RedisClusterURL.clusterOnlyOption:
                throw URLFormatError(url: url, problem: "\(name) is an option of redis+cluster:// URLs (a cluster's replicas), not of redis://")
            default:
                throw URLFormatError(url: url, problem: "unknown option '\(name)' (known: connect_timeout, command_timeout; "
                                     + "for redis+cluster:// also replica_wait)")
            }
        }
    }

    /// `host:port`, for messages.
    public var endpoint: String { ServerEndpoint(host: host, port: port).description }
}

/// Printed (`"\(configuration)"`, `debugPrint`, `dump`, a log line) as a URL
/// with the password masked: the password itself never reaches output.
extension RedisConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        let credentials = password == nil ? (user.map { "\($0)@" } ?? "") : "\(user ?? ""):***@"
        guard isCluster else { return "redis://\(credentials)\(endpoint)/\(database)" }
        return "redis+cluster://\(credentials)\(seeds.map(\.description).joined(separator: ","))/\(database)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["endpoint": endpoint, "user": user as Any, "password": password == nil ? "none" : "***",
                                "database": database, "connectTimeoutMilliseconds": connectTimeoutMilliseconds,
                                "commandTimeoutMilliseconds": commandTimeoutMilliseconds, "isCluster": isCluster,
                                "otherSeeds": otherSeeds.map(\.description), "replicaWaitMilliseconds": replicaWaitMilliseconds])
    }
}
