/// The parts of a `redis+cluster://` URL that a `redis://` URL does not have:
/// `redis+cluster://[[user]:password@]host:port,host:port,…[/0][?options]`.
///
/// The host list is split into seeds; the rest (credentials, database,
/// `connect_timeout`, `command_timeout`) is read as the first seed's
/// `redis://` URL would be, so both schemes share their rules. A port may be
/// omitted (6379). The database must be 0: Redis Cluster has no other.
/// `replica_wait=MS` (cluster only, default
/// `RedisConfiguration.defaultReplicaWaitMilliseconds`, 0 for off) is how long
/// a batch of writes waits for a replica (`RedisReplicaWait`).
struct RedisClusterURL {
    static let scheme = "redis+cluster"
    /// The option only a cluster URL takes.
    static let clusterOnlyOption = "replica_wait"

    /// The seeds, in the URL's order.
    var seeds: [RedisEndpoint]
    /// The first seed's `redis://` URL (credentials, database and the
    /// shared options), for `RedisConfiguration` to read.
    var firstSeedURL: String
    /// `replica_wait` in milliseconds, when given.
    var replicaWaitMilliseconds: Int?

    /// Nil when `url` is not a `redis+cluster://` URL.
    init?(_ url: String) throws(URLFormatError) {
        guard let separator = url.rangeOfSchemeSeparator(), url[..<separator.lowerBound].lowercased() == Self.scheme else { return nil }
        // Split as ServerURL does: options at the first '?', the path at the
        // first '/' before them, credentials up to the last '@'.
        let rest = url[separator.upperBound...]
        let queryStart = rest.firstIndex(of: "?") ?? rest.endIndex
        let authorityEnd = rest[..<queryStart].firstIndex(of: "/") ?? queryStart
        let authority = rest[..<authorityEnd]
        let hostsStart = authority.lastIndex(of: "@").map { authority.index(after: $0) } ?? authority.startIndex
        let hostList = authority[hostsStart...]
        guard !hostList.isEmpty else {
            throw URLFormatError(url: url, problem: "no seeds: name one or more cluster nodes as host:port,host:port")
        }
        var seeds: [RedisEndpoint] = []
        for seed in hostList.split(separator: ",", omittingEmptySubsequences: false) {
            guard !seed.isEmpty else {
                throw URLFormatError(url: url, problem: "an empty seed in '\(hostList)': separate seeds with single commas")
            }
            let parsed: ServerURL
            do {
                parsed = try ServerURL("redis://\(seed)")
            } catch {
                throw URLFormatError(url: url, problem: "seed '\(seed)': \(error.problem)")
            }
            seeds.append(RedisEndpoint(host: parsed.host, port: parsed.port ?? 6379))
        }
        self.seeds = seeds

        var sharedQuery: [Substring] = []
        if queryStart < rest.endIndex {
            for pair in rest[rest.index(after: queryStart)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts[0] == Self.clusterOnlyOption else { sharedQuery.append(pair); continue }
                let value = parts.count > 1 ? String(parts[1]) : ""
                guard let milliseconds = Int(value), milliseconds >= 0 else {
                    throw URLFormatError(url: url, problem: "replica_wait must be a number of milliseconds (0 to not wait), not '\(value)'")
                }
                replicaWaitMilliseconds = milliseconds
            }
        }
        let path = rest[authorityEnd..<queryStart]
        firstSeedURL = "redis://" + rest[..<hostsStart] + seeds[0].description + path
            + (sharedQuery.isEmpty ? "" : "?" + sharedQuery.joined(separator: "&"))
    }
}
