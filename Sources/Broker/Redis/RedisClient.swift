import Logging

/// A Redis client, shared by any number of tasks: over one connection to a
/// single server (`redis://`), or over one connection per node of a Redis
/// Cluster (`redis+cluster://`, see `RedisClusterRouter`).
///
/// Commands issued concurrently are pipelined automatically (see
/// `RedisConnectionCore`), per node in a cluster. After the server restarts,
/// the next command reconnects; commands that were in flight when it went
/// away fail with `.connectionLost`.
///
/// A command whose keys lie in different slots throws `.crossSlot` before it
/// is sent: always with a cluster, and in debug builds with a single server
/// too, so that tests run against one server catch a layout a cluster would
/// refuse. Commands that name no key (`INFO`, `CONFIG`, `SCAN`) go to one
/// node of a cluster; `eachMaster` and `scanKeys` reach them all.
///
/// ```swift
/// let redis = try await RedisClient.connect(try RedisConfiguration(url: url))
/// try await redis.send("SET", "greeting", "hello")
/// let value = try await redis.send("GET", "greeting").string
/// ```
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let backend: Backend

    private enum Backend: Sendable {
        case single(RedisNodeConnection)
        case cluster(RedisClusterRouter)
    }

    private init(configuration: RedisConfiguration, backend: Backend) {
        self.configuration = configuration
        self.backend = backend
    }

    /// Connects, authenticates and selects the database, failing fast with a
    /// `RedisError` that names the problem. For a cluster, reads the slot
    /// map from the first seed that answers.
    public static func connect(_ configuration: RedisConfiguration, logger: Logger = Logger(label: "greenroom.redis")) async throws -> RedisClient {
        if configuration.isCluster {
            return RedisClient(configuration: configuration, backend: .cluster(try await RedisClusterRouter.connect(configuration, logger: logger)))
        }
        return RedisClient(configuration: configuration, backend: .single(try await RedisNodeConnection.connect(configuration, logger: logger)))
    }

    /// True when connected to a Redis Cluster.
    public var isCluster: Bool {
        if case .cluster = backend { return true }
        return false
    }

    /// Sends one command given as raw byte-string arguments; returns its reply.
    /// An error reply throws a `RedisError` with code `.server`.
    @discardableResult
    public func send(arguments: [[UInt8]]) async throws -> RedisValue {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        switch backend {
        case .single(let connection):
            #if DEBUG
            _ = try RedisCommandKeys.slot(of: arguments)
            #endif
            return try await connection.send(arguments)
        case .cluster(let router):
            return try await router.send(arguments)
        }
    }

    /// Sends several commands in one hand-off (written together, one round
    /// trip per node) and returns each one's reply or error, in order.
    /// Cheaper than as many concurrent `send`s: one continuation instead of
    /// one per command (per node in a cluster).
    public func pipeline(_ commands: [[[UInt8]]]) async throws -> [Result<RedisValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        precondition(commands.allSatisfy { !$0.isEmpty }, "a Redis command needs at least its name")
        switch backend {
        case .single(let connection):
            #if DEBUG
            for command in commands { _ = try RedisCommandKeys.slot(of: command) }
            #endif
            return try await connection.pipeline(commands)
        case .cluster(let router):
            return try await router.pipeline(commands)
        }
    }

    /// The servers a keyless command must reach: each master of a cluster,
    /// or the one server.
    public func masters() async throws -> [RedisEndpoint] {
        switch backend {
        case .single: configuration.seeds
        case .cluster(let router): try await router.masters()
        }
    }

    /// Sends a command to every master of a cluster (the one server
    /// otherwise), one after the other, and returns each one's reply: for
    /// commands that name no key, such as `INFO`, `CONFIG GET`, `DBSIZE`.
    public func eachMaster(arguments: [[UInt8]]) async throws -> [(node: RedisEndpoint, reply: RedisValue)] {
        switch backend {
        case .single(let connection):
            [(configuration.seeds[0], try await connection.send(arguments))]
        case .cluster(let router):
            try await router.eachMaster(arguments)
        }
    }

    /// `eachMaster(arguments:)` with `command` and its arguments: `eachMaster("INFO", "memory")`.
    public func eachMaster(_ command: String, _ arguments: any RedisArgument...) async throws -> [(node: RedisEndpoint, reply: RedisValue)] {
        try await eachMaster(arguments: [command.redisBytes] + arguments.map(\.redisBytes))
    }

    /// Finds every key matching `pattern` with `SCAN` (on each master of a
    /// cluster), handing them to `body` a batch at a time. A key may be
    /// handed over twice (SCAN's guarantee); keys added meanwhile may be missed.
    public func scanKeys(matching pattern: String, count: Int = 1_000, _ body: ([[UInt8]]) async throws -> Void) async throws {
        switch backend {
        case .single(let connection):
            try await Self.scan(matching: pattern, count: count, body) { try await connection.send($0) }
        case .cluster(let router):
            try await router.scanKeys(matching: pattern, count: count, body)
        }
    }

    /// The SCAN loop on one server, sending through `send`.
    static func scan(matching pattern: String, count: Int, _ body: ([[UInt8]]) async throws -> Void,
                     send: ([[UInt8]]) async throws -> RedisValue) async throws {
        var cursor: [UInt8] = "0".redisBytes
        repeat {
            let reply = try await send(["SCAN".redisBytes, cursor, "MATCH".redisBytes, pattern.redisBytes, "COUNT".redisBytes, count.redisBytes])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].bytes else {
                throw RedisError(code: .server, command: "SCAN", message: "unexpected SCAN reply \(reply)")
            }
            cursor = next
            let keys = parts[1].array?.compactMap(\.bytes) ?? []
            if !keys.isEmpty { try await body(keys) }
        } while cursor != "0".redisBytes
    }

    /// Sends `command` with `arguments`: `send("HSET", key, "field", 42)`.
    @discardableResult
    public func send(_ command: String, _ arguments: any RedisArgument...) async throws -> RedisValue {
        try await send(arguments: [command.redisBytes] + arguments.map(\.redisBytes))
    }

    /// Sends `command` with an array of arguments.
    @discardableResult
    public func send(_ command: String, arguments: [any RedisArgument]) async throws -> RedisValue {
        try await send(arguments: [command.redisBytes] + arguments.map(\.redisBytes))
    }

    /// Runs a Lua script by SHA (EVALSHA); on NOSCRIPT (a restarted Redis, a
    /// SCRIPT FLUSH) runs it once by its source (EVAL), which also caches it
    /// again — a separate SCRIPT LOAD could be flushed before the retry.
    @discardableResult
    public func run(_ script: RedisScript, keys: [any RedisArgument] = [], arguments: [any RedisArgument] = []) async throws -> RedisValue {
        let tail: [[UInt8]] = [keys.count.redisBytes] + keys.map(\.redisBytes) + arguments.map(\.redisBytes)
        do {
            return try await send(arguments: ["EVALSHA".redisBytes, script.sha1.redisBytes] + tail)
        } catch let error as RedisError where error.serverErrorKind == "NOSCRIPT" {
            return try await send(arguments: ["EVAL".redisBytes, script.source.redisBytes] + tail)
        }
    }

    /// Loads a script into the server's script cache (SCRIPT LOAD), on
    /// every master of a cluster.
    public func load(_ script: RedisScript) async throws {
        for (_, sha) in try await eachMaster("SCRIPT", "LOAD", script.source) {
            guard sha.string == script.sha1 else {
                throw RedisError(code: .server, command: "SCRIPT", message: "SCRIPT LOAD returned \(sha), expected \(script.sha1)")
            }
        }
    }

    /// Closes the connection (every node's, for a cluster). Commands issued
    /// afterwards fail with `.closed`.
    public func close() async {
        switch backend {
        case .single(let connection): await connection.close()
        case .cluster(let router): await router.close()
        }
    }
}
