import Broker
import Foundation
import Logging
import Synchronization

/// A worker: hosts actor types, consumes their partition queues, runs turns.
///
/// ```swift
/// let runtime = WorkerRuntime(configuration: .init(types: [HostedType(Counter())]))
/// try await runtime.start()
/// // … until SIGTERM:
/// await runtime.shutdown()
/// ```
///
/// Any number of workers share the partitions of the types they host: each
/// heartbeats into Redis, every worker computes the same assignment from the
/// live set, and a worker consumes a partition only while it holds its lease
/// (see `PartitionOwnership`).
public final class WorkerRuntime: Sendable {
    public struct Configuration: Sendable {
        public var amqp: AMQPConfiguration
        public var redis: RedisConfiguration
        public var types: [HostedType]
        /// Partitions per type, fixed when a type is first declared.
        public var partitions: Int
        /// Turns running at once across all actors.
        public var concurrency: Int
        /// Unacked deliveries per partition consumer.
        public var prefetch: UInt16
        /// How long a committed turn's dedup record is kept (redeliveries
        /// within this window are recognised).
        public var dedupSeconds: Int
        public var maximumBodyBytes: Int
        /// `classic` (single node) or `quorum` (replicated clusters).
        public var queueType: String
        public var workerID: String
        /// Actors kept in memory between turns; the least recently used beyond
        /// this are passivated (reloaded from Redis on their next message).
        public var maximumActivations: Int
        /// A partition lease's time to live; also how long a silent worker
        /// counts as alive. After a crash, its partitions wait this long.
        public var leaseMilliseconds: Int
        /// How often membership is refreshed and leases renewed.
        public var heartbeatMilliseconds: Int
        public var fault: FaultInjection?

        public init(
            amqp: AMQPConfiguration = AMQPConfiguration(), redis: RedisConfiguration = RedisConfiguration(),
            types: [HostedType], partitions: Int = 16, concurrency: Int = 64, prefetch: UInt16 = 256,
            dedupSeconds: Int = 86_400, maximumBodyBytes: Int = WireFormat.defaultMaximumBodyBytes,
            queueType: String = "classic", workerID: String = WorkerRuntime.defaultWorkerID(),
            maximumActivations: Int = 100_000, leaseMilliseconds: Int = 6_000, heartbeatMilliseconds: Int = 1_000,
            fault: FaultInjection? = nil
        ) {
            self.amqp = amqp
            self.redis = redis
            self.types = types
            self.partitions = partitions
            self.concurrency = concurrency
            self.prefetch = prefetch
            self.dedupSeconds = dedupSeconds
            self.maximumBodyBytes = maximumBodyBytes
            self.queueType = queueType
            self.workerID = workerID
            self.maximumActivations = maximumActivations
            self.leaseMilliseconds = leaseMilliseconds
            self.heartbeatMilliseconds = heartbeatMilliseconds
            self.fault = fault
        }
    }

    public let configuration: Configuration
    let logger: Logger
    let state = Mutex(RunState())
    let mailboxes: Mailboxes
    /// Consecutive turns that failed on Redis or RabbitMQ (not on the
    /// behaviour): drives the pause before such a message is requeued.
    let infrastructureFailures = Mutex(0)

    struct RunState {
        var fatal: (any Error)?
        var fatalWaiters: [CheckedContinuation<any Error, Never>] = []
        var amqp: [AMQPConnection] = []
        var redis: RedisClient?
        var ownership: PartitionOwnership?
        var runner: TurnRunner?
        var stopping = false
    }

    public init(configuration: Configuration, logger: Logger = Logger(label: "greenroom.worker")) {
        self.configuration = configuration
        self.logger = logger
        self.mailboxes = Mailboxes(concurrency: configuration.concurrency)
    }

    public static func defaultWorkerID() -> String {
        "\(hostName())-\(getpid())"
    }

    /// Connects, declares the topology, takes every partition and starts
    /// consuming. Returns once the worker is running.
    public func start() async throws {
        let configuration = configuration
        guard !configuration.types.isEmpty else { throw WorkerConfigurationError("no actor types to host") }
        guard (1...4096).contains(configuration.partitions) else {
            throw WorkerConfigurationError("--partitions must be from 1 to 4096, not \(configuration.partitions)")
        }
        guard ["classic", "quorum"].contains(configuration.queueType) else {
            throw WorkerConfigurationError("queue type must be classic or quorum, not '\(configuration.queueType)'")
        }
        guard configuration.heartbeatMilliseconds >= 50, configuration.leaseMilliseconds >= 2 * configuration.heartbeatMilliseconds else {
            throw WorkerConfigurationError("the lease TTL must be at least twice the heartbeat interval (and the heartbeat at least 50 ms)")
        }
        var amqpConfiguration = configuration.amqp
        amqpConfiguration.connectionName = "greenroom worker \(configuration.workerID) consume"
        let consuming = try await AMQPConnection.connect(amqpConfiguration, logger: logger)
        amqpConfiguration.connectionName = "greenroom worker \(configuration.workerID) publish"
        let publishing = try await AMQPConnection.connect(amqpConfiguration, logger: logger)
        let redis = try await RedisClient.connect(configuration.redis, logger: logger)
        state.withLock {
            $0.amqp = [consuming, publishing]
            $0.redis = redis
        }

        let store = ActorStore(redis: redis)
        try await redis.load(CommitScript.script)
        try await redis.load(BatchCommitScript.script)
        let publishChannel = try await publishing.openChannel()
        try await publishChannel.enableConfirms()
        try await Topology.declareShared(on: publishChannel)
        let publisher = FleetPublisher(channel: publishChannel, store: store, workerID: configuration.workerID)
        let runner = TurnRunner(
            types: configuration.types, store: store, publisher: publisher,
            settings: .init(dedupSeconds: configuration.dedupSeconds, workerID: configuration.workerID,
                            maximumActivations: configuration.maximumActivations, fault: configuration.fault),
            logger: logger)
        state.withLock { $0.runner = runner }

        for type in configuration.types {
            // The partition count is checked (and recorded) first: a worker
            // configured differently must refuse before touching any queue.
            try await store.checkDeclaration(type: type.typeName, partitions: configuration.partitions)
            for partition in 0..<configuration.partitions {
                try await Topology.declarePartition(
                    queue: Topology.partitionQueue(type: type.typeName, partition: partition), queueType: configuration.queueType, on: publishChannel)
            }
            // Only now can clients route to the type: every queue is bound.
            try await store.declare(type: type.typeName, partitions: configuration.partitions)
        }

        let me = MemberInfo(
            id: configuration.workerID, host: Self.hostName(), pid: getpid(), types: configuration.types.map(\.typeName),
            concurrency: configuration.concurrency, startedAt: Int64(Date().timeIntervalSince1970))
        let ownership = PartitionOwnership(
            settings: .init(workerID: configuration.workerID, types: me.types, partitions: configuration.partitions,
                            leaseMilliseconds: configuration.leaseMilliseconds, heartbeatMilliseconds: configuration.heartbeatMilliseconds, me: me),
            redis: redis,
            startConsuming: { [unowned self] type, partition, epoch in
                let channel = try await consuming.openChannel()
                try await channel.setPrefetch(configuration.prefetch)
                let consumer = try await channel.consume(queue: Topology.partitionQueue(type: type, partition: partition))
                let inFlight = InFlight()
                let loop = Task {
                    await self.consume(consumer, type: type, partition: partition, epoch: epoch, inFlight: inFlight, runner: runner)
                    // Acks need the channel: close it only once the partition's turns are done.
                    await inFlight.waitUntilZero()
                    try? await channel.close()
                }
                return PartitionRun(type: type, partition: partition, epoch: epoch, consumer: consumer, loop: loop, inFlight: inFlight)
            },
            logger: logger)
        state.withLock { $0.ownership = ownership }
        try await ownership.start()
        logger.info("worker started", metadata: [
            "worker": "\(configuration.workerID)", "types": "\(configuration.types.map(\.typeName).joined(separator: ","))",
            "partitions": "\(configuration.partitions)", "owned": "\(ownership.owned.count)", "concurrency": "\(configuration.concurrency)",
            "rabbitmq": "\(configuration.amqp.endpoint)", "redis": "\(configuration.redis.endpoint)",
        ])
    }

    /// Records an error the worker cannot recover from by itself (a lost
    /// connection, a cancelled consumer) and wakes `failure()`.
    func fail(_ error: any Error) {
        let waiters: [CheckedContinuation<any Error, Never>]? = state.withLock { state in
            guard state.fatal == nil else { return nil }
            state.fatal = error
            defer { state.fatalWaiters.removeAll() }
            return state.fatalWaiters
        }
        guard let waiters else { return }  // already failing: one report is enough
        logger.critical("worker cannot go on", metadata: ["error": "\(error)"])
        for waiter in waiters { waiter.resume(returning: error) }
    }

    /// Returns when the worker has hit an error it cannot recover from, such
    /// as a lost connection; the process should shut down and exit non-zero
    /// so its supervisor restarts it. Unacked messages go to the next owner.
    public func failure() async -> any Error {
        await withCheckedContinuation { continuation in
            let existing: (any Error)? = state.withLock { state in
                if let fatal = state.fatal { return fatal }
                state.fatalWaiters.append(continuation)
                return nil
            }
            if let existing { continuation.resume(returning: existing) }
        }
    }

    /// Turns queued or running right now.
    public func inFlight() async -> Int { mailboxes.count }

    /// Graceful shutdown: stop consuming, finish and ack in-flight turns,
    /// close connections. Idempotent.
    public func shutdown() async {
        let (ownership, alreadyStopping) = state.withLock { state in
            defer { state.stopping = true }
            return (state.ownership, state.stopping)
        }
        guard !alreadyStopping else { return }
        logger.info("worker stopping: finishing in-flight turns", metadata: ["worker": "\(configuration.workerID)"])
        await ownership?.stop()
        await mailboxes.waitUntilIdle()
        let (connections, redis) = state.withLock { ($0.amqp, $0.redis) }
        for connection in connections { await connection.close() }
        await redis?.close()
        logger.info("worker stopped", metadata: ["worker": "\(configuration.workerID)"])
    }

    /// Partitions this worker consumes now, as `TYPE.P`.
    public var ownedPartitions: [String] { state.withLock { $0.ownership }?.owned ?? [] }

    static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
