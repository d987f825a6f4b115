import Logging

/// One Redis server's connection: a `RedisConnectionCore` on its own thread
/// and the queue async callers hand it commands through. A `RedisClient`
/// has one for a single server, and one per node it has used for a cluster.
final class RedisNodeConnection: Sendable {
    let configuration: RedisConfiguration
    /// Set for a cluster node when batches of writes wait for a replica.
    let replicaWait: RedisReplicaWait?
    private let jobs: JobQueue<RedisConnectionCore.Job>

    private init(configuration: RedisConfiguration, replicaWait: RedisReplicaWait?, jobs: JobQueue<RedisConnectionCore.Job>) {
        self.configuration = configuration
        self.replicaWait = replicaWait
        self.jobs = jobs
    }

    /// Starts the connection's thread, connects, authenticates and selects
    /// the database, failing fast with a `RedisError` that names the problem.
    static func connect(_ configuration: RedisConfiguration, logger: Logger) async throws -> RedisNodeConnection {
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
        return RedisNodeConnection(configuration: configuration, replicaWait: nil, jobs: jobs)
    }

    /// Starts the thread of a cluster node's connection, which connects at
    /// its first command (an unreachable node fails that command with
    /// `.connectFailed`: it was never sent).
    static func start(_ configuration: RedisConfiguration, replicaWait: RedisReplicaWait?, logger: Logger) -> RedisNodeConnection {
        let jobs = JobQueue<RedisConnectionCore.Job>()
        startOwnedThread(name: "redis \(configuration.endpoint)") {
            RedisConnectionCore(configuration: configuration, logger: logger, replicaWait: replicaWait).run(jobs: jobs)
        }
        return RedisNodeConnection(configuration: configuration, replicaWait: replicaWait, jobs: jobs)
    }

    /// Sends one command; an error reply throws a `RedisError` (`.server`).
    func send(_ arguments: [[UInt8]]) async throws -> RedisValue {
        try await withCheckedThrowingContinuation { continuation in
            if !jobs.push(.command(arguments: arguments, continuation: continuation)) {
                continuation.resume(throwing: RedisError(code: .closed, command: RedisConnectionCore.name(of: arguments),
                                                         message: "the Redis client was closed"))
            }
        }
    }

    /// Sends one command, its error (a reply or the connection's) as a result.
    func result(_ arguments: [[UInt8]]) async -> Result<RedisValue, RedisError> {
        do {
            return .success(try await send(arguments))
        } catch let error as RedisError {
            return .failure(error)
        } catch {
            return .failure(RedisError(code: .connectionLost, command: RedisConnectionCore.name(of: arguments), message: "\(error)"))
        }
    }

    /// Sends `commands` in one hand-off, so they are written together and
    /// in order; returns each one's reply or error.
    func pipeline(_ commands: [[[UInt8]]]) async throws -> [Result<RedisValue, RedisError>] {
        try await withCheckedThrowingContinuation { continuation in
            if !jobs.push(.pipeline(commands: commands, continuation: continuation)) {
                continuation.resume(throwing: RedisError(code: .closed, command: "pipeline", message: "the Redis client was closed"))
            }
        }
    }

    /// Closes the connection; commands sent afterwards fail with `.closed`.
    func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            if !jobs.push(.close(continuation)) { continuation.resume() }
        }
    }
}
