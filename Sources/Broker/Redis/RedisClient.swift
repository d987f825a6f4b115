import Logging

/// A Redis client over one connection, shared by any number of tasks.
///
/// Commands issued concurrently are pipelined automatically (see
/// `RedisConnectionCore`). After the server restarts, the next command
/// reconnects; commands that were in flight when it went away fail with
/// `.connectionLost`.
///
/// ```swift
/// let redis = try await RedisClient.connect(try RedisConfiguration(url: url))
/// try await redis.send("SET", "greeting", "hello")
/// let value = try await redis.send("GET", "greeting").string
/// ```
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let jobs: JobQueue<RedisConnectionCore.Job>

    private init(configuration: RedisConfiguration, jobs: JobQueue<RedisConnectionCore.Job>) {
        self.configuration = configuration
        self.jobs = jobs
    }

    /// Connects, authenticates and selects the database, failing fast with a
    /// `RedisError` that names the problem.
    public static func connect(_ configuration: RedisConfiguration, logger: Logger = Logger(label: "greenroom.redis")) async throws -> RedisClient {
        let jobs = JobQueue<RedisConnectionCore.Job>()
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            startOwnedThread(name: "redis \(configuration.endpoint)") {
                let core = RedisConnectionCore(configuration: configuration, logger: logger)
                if let error = core.connectIfNeeded() {
                    _ = jobs.close()
                    continuation.resume(throwing: error)
                    return
                }
                continuation.resume()
                core.run(jobs: jobs)
            }
        }
        return RedisClient(configuration: configuration, jobs: jobs)
    }

    /// Sends one command given as raw byte-string arguments; returns its reply.
    /// An error reply throws a `RedisError` with code `.server`.
    @discardableResult
    public func send(arguments: [[UInt8]]) async throws -> RedisValue {
        precondition(!arguments.isEmpty, "a Redis command needs at least its name")
        return try await withCheckedThrowingContinuation { continuation in
            if !jobs.push(.command(arguments: arguments, continuation: continuation)) {
                continuation.resume(throwing: RedisError(code: .closed, command: RedisConnectionCore.name(of: arguments),
                                                         message: "the Redis client was closed"))
            }
        }
    }

    /// Sends several commands in one hand-off (written together, one round
    /// trip) and returns each one's reply or error, in order. Cheaper than
    /// as many concurrent `send`s: one continuation instead of one per command.
    public func pipeline(_ commands: [[[UInt8]]]) async throws -> [Result<RedisValue, RedisError>] {
        guard !commands.isEmpty else { return [] }
        precondition(commands.allSatisfy { !$0.isEmpty }, "a Redis command needs at least its name")
        return try await withCheckedThrowingContinuation { continuation in
            if !jobs.push(.pipeline(commands: commands, continuation: continuation)) {
                continuation.resume(throwing: RedisError(code: .closed, command: "pipeline", message: "the Redis client was closed"))
            }
        }
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

    /// Loads a script into the server's script cache (SCRIPT LOAD).
    public func load(_ script: RedisScript) async throws {
        let sha = try await send("SCRIPT", "LOAD", script.source)
        guard sha.string == script.sha1 else {
            throw RedisError(code: .server, command: "SCRIPT", message: "SCRIPT LOAD returned \(sha), expected \(script.sha1)")
        }
    }

    /// Closes the connection. Commands issued afterwards fail with `.closed`.
    public func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !jobs.push(.close(continuation)) { continuation.resume() }
        }
    }
}
