import Broker
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A worker: hosts actor types, consumes their partition queues, runs turns.
///
/// It is a swift-service-lifecycle `Service`: run it in a `ServiceGroup`
/// (beside an HTTP server, say) and a graceful shutdown of the group drains
/// it — no new deliveries, every turn in flight finishes and is acked, leases
/// are released.
///
/// ```swift
/// let runtime = WorkerRuntime(configuration: .init(types: [HostedType(Counter())]))
/// let group = ServiceGroup(configuration: .init(services: [runtime], gracefulShutdownSignals: [.sigterm], logger: logger))
/// try await group.run()
/// ```
///
/// Or by hand: `try await runtime.start()`, later `await runtime.shutdown()`.
///
/// Any number of workers share the partitions of the types they host: each
/// heartbeats into Redis, every worker computes the same assignment from the
/// live set, and a worker consumes a partition only while it holds its lease
/// (see `PartitionOwnership`).
public final class WorkerRuntime: Service, Sendable {
    public struct Configuration: Sendable {
        public var amqp: AMQPConfiguration
        public var redis: RedisConfiguration
        public var types: [HostedType]
        /// Partitions per type, fixed when a type is first declared.
        public var partitions: Int
        /// Actors whose behaviours execute at once (a run waiting for its
        /// commit or its sends' confirms does not count).
        public var concurrency: Int
        /// Unacked deliveries per partition consumer.
        public var prefetch: UInt16
        /// How long, at most, a committed message's id is remembered for
        /// deduplication (docs/DESIGN.md, "Deduplication").
        public var dedupSeconds: Int
        /// How many committed message ids each partition remembers (0: four
        /// times `prefetch`, at least 1,024).
        public var dedupCapacity: Int
        public var maximumBodyBytes: Int
        /// The type of the partition queues and of `greenroom.dead`, when
        /// this worker creates them; by default quorum when the AMQP URL
        /// names several nodes, else classic (`QueueType.default(for:)`).
        public var queueType: QueueType
        public var workerID: String
        /// Actors kept in memory between turns; the least recently used beyond
        /// this are passivated (reloaded from Redis on their next message).
        public var maximumActivations: Int
        /// A partition lease's time to live; also how long a silent worker
        /// counts as alive. After a crash, its partitions wait this long.
        public var leaseMilliseconds: Int
        /// How often membership is refreshed and leases renewed.
        public var heartbeatMilliseconds: Int
        /// Observers of every turn (metrics, tracing, fault injection in tests).
        public var hooks: [any TurnHooks]
        /// Refuse to start unless Redis keeps an append-only file flushed at
        /// least every second; otherwise such a Redis only draws a warning.
        public var requireDurableRedis = false
        /// Deaths of the worker process while handling one message after which
        /// that message is dead-lettered instead of run again (docs/RUNTIME.md).
        public var maximumCrashes = 3
        /// How long and how many letters `greenroom.dead` keeps (when this
        /// worker is the one that creates it).
        public var deadLetterBounds = Topology.DeadLetterBounds()
        /// How long publishing a turn's sends or a dead letter waits for the
        /// broker's confirms; past it the publish failed and is tried again.
        public var confirmTimeout: Duration = .seconds(30)
        /// How long a turn may run, for types that set no `turnDeadline` of
        /// their own; past it the turn counts as a failed attempt. `.zero`: no
        /// deadline (the turns run in the pipeline's task, with no task of their own).
        public var turnDeadline: Duration = HostedType.defaultTurnDeadline
        /// How long a graceful shutdown waits for the admitted turns to finish
        /// and ack; then what is left is dropped (the broker requeues it).
        public var drainTimeout: Duration = .seconds(30)

        public init(
            amqp: AMQPConfiguration = AMQPConfiguration(), redis: RedisConfiguration = RedisConfiguration(),
            types: [HostedType], partitions: Int = 16, concurrency: Int = 64, prefetch: UInt16 = 256,
            dedupSeconds: Int = 86_400, dedupCapacity: Int = 0, maximumBodyBytes: Int = WireFormat.defaultMaximumBodyBytes,
            queueType: QueueType? = nil, workerID: String = WorkerRuntime.defaultWorkerID(),
            maximumActivations: Int = 100_000, leaseMilliseconds: Int = 6_000, heartbeatMilliseconds: Int = 1_000,
            hooks: [any TurnHooks] = []
        ) {
            self.amqp = amqp
            self.redis = redis
            self.types = types
            self.partitions = partitions
            self.concurrency = concurrency
            self.prefetch = prefetch
            self.dedupSeconds = dedupSeconds
            self.dedupCapacity = dedupCapacity
            self.maximumBodyBytes = maximumBodyBytes
            self.queueType = queueType ?? .default(for: amqp)
            self.workerID = workerID
            self.maximumActivations = maximumActivations
            self.leaseMilliseconds = leaseMilliseconds
            self.heartbeatMilliseconds = heartbeatMilliseconds
            self.hooks = hooks
        }

        /// The dedup window in force: `dedupCapacity`, or its default.
        var dedupWindow: CommitScript.DedupWindow {
            CommitScript.DedupWindow(seconds: dedupSeconds, capacity: dedupCapacity > 0 ? dedupCapacity : max(1_024, 4 * Int(prefetch)))
        }
    }

    public let configuration: Configuration
    let logger: Logger
    /// Turn outcomes as swift-metrics series, and the totals each heartbeat carries.
    public let metrics: GreenroomMetrics
    let state = Mutex(RunState())

    struct RunState {
        var end: WorkerEnd = WorkerEnd()
        var amqp: [AMQPConnection] = []
        /// The store's client, then the leases' own (see `start`).
        var redis: [RedisClient] = []
        var ownership: PartitionOwnership?
        var mailboxes: Mailboxes<Delivered>?
        var stopping = false
        var abandoned = false
        /// Counts the connection sessions: errors reported by an older one are stale.
        var session = 0
        /// Set while the worker reconnects after losing a server.
        var reconnecting: Task<Void, Never>?
        /// A loss of the session being started, reported before the
        /// reconnect finished: that reconnect must go round again.
        var lostWhileReconnecting: (any Error)?
    }

    public init(configuration: Configuration, logger: Logger = Logger(label: "greenroom.worker")) {
        self.configuration = configuration
        self.logger = logger
        self.metrics = GreenroomMetrics(types: configuration.types.map(\.typeName))
    }

    public static func defaultWorkerID() -> String {
        "\(hostName())-\(getpid())"
    }

    /// `Service`: starts, runs until a graceful shutdown is asked for (then
    /// drains and returns) or until an error the worker cannot recover from
    /// (then drains what it can and throws it). Losing RabbitMQ or Redis is
    /// not such an error: the worker drops its partitions, reconnects with
    /// backoff and takes them again, in the same process. Cancelled — a
    /// second signal — it closes its connections at once: what was not
    /// acked is redelivered to the next owner.
    public func run() async throws {
        try await withTaskCancellationHandler {
            try await start()
            let fatal = await withGracefulShutdownHandler {
                await self.ended()
            } onGracefulShutdown: {
                self.requestStop()
            }
            await shutdown()
            if wasAbandoned { throw CancellationError() }
            if let fatal { throw fatal }
        } onCancel: {
            self.abandon()
        }
    }

    /// Connects, declares the topology, takes this worker's partitions and
    /// starts consuming. Returns once the worker is running. A server that
    /// cannot be reached *here* is an error (a wrong URL should not look like
    /// an outage); once running, the worker reconnects by itself.
    public func start() async throws {
        let configuration = configuration
        guard !configuration.types.isEmpty else { throw WorkerConfigurationError(.noTypes, "no actor types to host") }
        if let faulty = configuration.types.lazy.compactMap(\.hostingError).first { throw faulty }
        guard (1...4096).contains(configuration.partitions) else {
            throw WorkerConfigurationError(.partitionCountOutOfRange, "the partition count must be from 1 to 4096, not \(configuration.partitions)")
        }
        guard configuration.heartbeatMilliseconds >= 50, configuration.leaseMilliseconds >= 2 * configuration.heartbeatMilliseconds else {
            throw WorkerConfigurationError(.leaseTooShort, "the lease TTL must be at least twice the heartbeat interval (and the heartbeat at least 50 ms)")
        }
        do {
            try await startSession()
        } catch {
            await closeSession()
            throw error
        }
    }

    /// One session: connections, topology, pipeline and partition ownership,
    /// all kept in `state` as they are made, so `closeSession` can undo a
    /// session that failed half-way.
    private func startSession() async throws {
        let configuration = configuration
        let session = state.withLock { state in
            state.session += 1
            state.lostWhileReconnecting = nil
            return state.session
        }
        var amqpConfiguration = configuration.amqp
        amqpConfiguration.connectionName = "greenroom worker \(configuration.workerID) consume"
        let consuming = try await AMQPConnection.connect(amqpConfiguration, logger: logger)
        state.withLock { $0.amqp = [consuming] }
        amqpConfiguration.connectionName = "greenroom worker \(configuration.workerID) publish"
        let publishing = try await AMQPConnection.connect(amqpConfiguration, logger: logger)
        state.withLock { $0.amqp.append(publishing) }
        // A lost connection ends the session even when no call is waiting on
        // it: between partitions (every consumer already closed) nothing else
        // would notice, and each partition taken would fail to open a channel.
        for connection in [consuming, publishing] {
            connection.whenLost { [weak self] error in self?.fail(error, session: session) }
        }
        let redis = try await RedisClient.connect(configuration.redis, logger: logger)
        state.withLock { $0.redis = [redis] }
        try await RedisPersistence.check(redis, endpoint: configuration.redis.endpoint, required: configuration.requireDurableRedis, logger: logger)

        let store = ActorStore(redis: redis)
        try await redis.load(CommitScript.script)
        for script in DueStore.scripts { try await redis.load(script) }
        let publishChannel = try await publishing.openChannel()
        try await publishChannel.enableConfirms(timeout: configuration.confirmTimeout)
        switch try await Topology.declareShared(on: publishChannel, deadLetterBounds: configuration.deadLetterBounds,
                                                 queueType: configuration.queueType) {
        case .asAsked:
            break
        case .otherBounds:
            logger.warning("""
                greenroom.dead exists with other arguments (made by an older Greenroom, or with other bounds) and is used as it is; \
                to bound it: rabbitmqctl set_policy greenroom-dead '^greenroom\\.dead$' \
                '{"max-length":\(configuration.deadLetterBounds.maximumLength),"message-ttl":\(configuration.deadLetterBounds.maximumAgeSeconds * 1_000),\
                "overflow":"drop-head"}' --apply-to queues (docs/PROTOCOL.md, "Dead letters")
                """)
        case .otherType(let existing):
            logger.warning("""
                greenroom.dead is a \(existing) queue and this worker's queues are \(configuration.queueType); it is used as it is. \
                To make it \(configuration.queueType): once it is empty (enqueue dead), delete it (rabbitmqctl delete_queue greenroom.dead) \
                and restart a worker (docs/SCALING.md, "RabbitMQ cluster")
                """)
        }
        // The runtime's metrics first, then the application's hooks.
        let hooks: [any TurnHooks] = [metrics] + configuration.hooks
        let publisher = FleetPublisher(channel: publishChannel, store: store, workerID: configuration.workerID, hooks: hooks)

        for type in configuration.types {
            // The partition count is checked (and recorded) first: a worker
            // configured differently must refuse before touching any queue.
            try await store.checkDeclaration(type: type.typeName, partitions: configuration.partitions)
            // Redis lost this type's data: declare nothing, consume nothing (docs/RELIABILITY.md).
            guard try await Incarnation.check(type: type.typeName, partitions: configuration.partitions, redis: redis,
                                              amqp: publishing, logger: logger) else { continue }
            for partition in PartitionID.all(of: type.typeName, partitions: configuration.partitions) {
                try await Topology.declarePartition(partition, queueType: configuration.queueType, on: publishChannel)
            }
            // Only now can clients route to the type: every queue is bound.
            try await store.declare(type: type.typeName, partitions: configuration.partitions)
        }

        let ownershipBox = Mutex<PartitionOwnership?>(nil)
        let types = configuration.types.map { type in
            var type = type
            type.turnDeadline = type.turnDeadline ?? configuration.turnDeadline
            return type
        }
        let pipeline = TurnPipeline(
            types: types, store: store, publisher: publisher,
            settings: .init(dedup: configuration.dedupWindow, maximumActivations: configuration.maximumActivations,
                            concurrency: configuration.concurrency, maximumCrashes: configuration.maximumCrashes),
            hooks: hooks, logger: logger,
            onFenced: { run in ownershipBox.withLock { $0 }?.fenced(run) },
            onFatal: { [weak self] error in self?.fail(error, session: session) })
        let mailboxes = Mailboxes<Delivered>(maximumRun: Int(configuration.prefetch)) { _, run in
            await pipeline.process(run)
        }
        state.withLock { $0.mailboxes = mailboxes }

        let me = MemberInfo(
            id: configuration.workerID, host: Self.hostName(), pid: getpid(), types: configuration.types.map(\.typeName),
            concurrency: configuration.concurrency, startedAt: Int64(Date().timeIntervalSince1970))
        // Leases and membership on a connection of their own: on the turns'
        // connection a renewal would queue behind commits, and while Redis is
        // frozen each of those waits out a command timeout, so the renewal's
        // failure (and the partitions' release) could come after the lease expired.
        let leaseRedis = try await RedisClient.connect(configuration.redis, logger: logger)
        state.withLock { $0.redis.append(leaseRedis) }
        let ownership = PartitionOwnership(
            settings: .init(workerID: configuration.workerID, types: me.types, partitions: configuration.partitions,
                            leaseMilliseconds: configuration.leaseMilliseconds, heartbeatMilliseconds: configuration.heartbeatMilliseconds,
                            redisTimeoutMilliseconds: configuration.redis.commandTimeoutMilliseconds, me: me,
                            turns: { [metrics] in
                                pipeline.hooks.didSample(Self.sample(ownership: ownershipBox.withLock { $0 }, pipeline: pipeline, mailboxes: mailboxes))
                                return metrics.totals
                            }),
            redis: leaseRedis,
            // Weak: the ownership's tasks may outlive a runtime dropped without
            // stop() (a test's), and unowned would then crash the process.
            startRun: { [weak self] partition, epoch in
                guard let self else { throw CancellationError() }
                return try await self.startRun(partition, epoch: epoch, on: consuming, store: store, pipeline: pipeline, mailboxes: mailboxes) { run, error in
                    self.consumerEnded(run, error, ownership: ownershipBox.withLock { $0 }, session: session)
                }
            },
            logger: logger)
        ownershipBox.withLock { $0 = ownership }
        state.withLock { $0.ownership = ownership }
        try await ownership.start()
        logger.info("worker started", metadata: [
            "worker": "\(configuration.workerID)", "types": "\(configuration.types.map(\.typeName).joined(separator: ","))",
            "partitions": "\(configuration.partitions)", "owned": "\(ownership.owned.count)", "concurrency": "\(configuration.concurrency)",
            "rabbitmq": "\(consuming.endpoint)", "queue type": "\(configuration.queueType)", "redis": "\(configuration.redis.endpoint)",
        ])
    }

    /// The gauges now: partitions owned and actors activated by type, and
    /// the deliveries not yet settled.
    private static func sample(ownership: PartitionOwnership?, pipeline: TurnPipeline, mailboxes: Mailboxes<Delivered>) -> WorkerSample {
        let owned = (ownership?.owned ?? []).reduce(into: [String: Int]()) { counts, partition in counts[partition.type, default: 0] += 1 }
        return WorkerSample(partitionsOwned: owned, activations: pipeline.cache.withLock { $0.countsByType }, mailboxDepth: mailboxes.count)
    }

    /// Opens a partition's consumer under `epoch` and starts its consume loop.
    /// The queue is declared again first: if it was deleted (the broker then
    /// cancelled the previous consumer), taking the partition brings it back.
    private func startRun(_ partition: PartitionID, epoch: Epoch, on connection: AMQPConnection, store: ActorStore,
                          pipeline: TurnPipeline, mailboxes: Mailboxes<Delivered>,
                          ended: @escaping @Sendable (PartitionRun, any Error) -> Void) async throws -> (run: PartitionRun, loop: Task<Void, Never>) {
        let window = configuration.dedupWindow
        let channel = try await connection.openChannel()
        try await Topology.declarePartition(partition, queueType: configuration.queueType, on: channel)
        try await channel.setPrefetch(configuration.prefetch)
        let consumer = try await channel.consume(queue: partition.queue, maximumBodyBytes: configuration.maximumBodyBytes)
        let committer = CommitCoalescer { groups in
            try await store.commit(groups, in: partition, epoch: epoch, window: window)
        }
        let run = PartitionRun(partition: partition, epoch: epoch, consumer: consumer, committer: committer)
        let dispatcher = DueDispatcher(run: run, store: DueStore(redis: store.redis), publisher: pipeline.publisher, logger: logger,
                                       onFenced: pipeline.onFenced)
        // One task: a partition's run ends when its deliveries and its due set are both let go.
        let loop = Task {
            async let due: Void = dispatcher.run()
            await self.consume(run, pipeline: pipeline, mailboxes: mailboxes, ended: ended)
            run.dueWatch.cancel()
            await due
        }
        return (run, loop)
    }

    /// A partition's consumer ended with `error`. The broker cancelled it
    /// (its queue was deleted, `consumer_timeout`, a policy) or closed its
    /// channel: that partition alone is dropped and taken again at the next
    /// heartbeat — never left leased but unconsumed. A lost connection ends
    /// the session instead.
    func consumerEnded(_ run: PartitionRun, _ error: any Error, ownership: PartitionOwnership?, session: Int) {
        if let amqp = error as? AMQPError, amqp.code == .consumerCancelled || amqp.code == .channelClosed, let ownership {
            logger.warning("RabbitMQ ended a partition's consumer: dropping the partition, to take it again",
                           metadata: ["partition": "\(run.partition.queue)", "error": "\(error)"])
            ownership.consumerLost(run)
        } else {
            fail(error, session: session)
        }
    }

    /// Reports an error of connection session `session`. A server going
    /// away starts a reconnect; anything else ends the worker and wakes
    /// `failure()` and `run()`. Reports from an older session are stale.
    func fail(_ error: any Error, session: Int) {
        guard Reconnection.isInfrastructureFailure(error) else { return end(with: error) }
        state.withLock { state in
            guard session == state.session, !state.stopping, state.end.ended == nil else { return }
            if state.reconnecting == nil {
                state.reconnecting = Task { await self.reconnect(after: error) }
            } else {
                state.lostWhileReconnecting = error
            }
        }
    }

    /// Drops the session (as cancellation does: every partition lost, the
    /// connections closed, so the broker requeues what was unacked; a late
    /// commit of the old session meets fencing or a moved version), then
    /// starts a new one with the same worker id, retrying with backoff until
    /// the servers are back, a stop is asked for, or an error is not an outage.
    private func reconnect(after cause: any Error) async {
        logger.error("lost a connection to RabbitMQ or Redis: dropping every partition and reconnecting",
                     metadata: ["worker": "\(configuration.workerID)", "error": "\(cause)"])
        await closeSession()
        var random = SystemRandomNumberGenerator()
        var attempt = 0
        var pause = Reconnection.delay(beforeAttempt: 0, using: &random)
        while !Task.isCancelled {
            try? await Task.sleep(for: pause)
            if Task.isCancelled { break }
            attempt += 1
            do {
                try await startSession()
                // Done, unless the new session was lost already (checked and
                // ended under one lock, so no later loss can slip between).
                let lost: (any Error)? = state.withLock { state in
                    if let lost = state.lostWhileReconnecting {
                        state.lostWhileReconnecting = nil
                        return lost
                    }
                    state.reconnecting = nil
                    return nil
                }
                guard let lost else {
                    // Which nodes: after a cluster node died, others than before.
                    let nodes = state.withLock { $0.amqp.map(\.endpoint).joined(separator: ",") }
                    logger.notice("reconnected", metadata: ["worker": "\(configuration.workerID)", "attempts": "\(attempt)", "rabbitmq": "\(nodes)"])
                    return
                }
                await closeSession()
                pause = Reconnection.delay(beforeAttempt: attempt, using: &random)
                logger.warning("lost the new connections at once; trying again", metadata: [
                    "attempt": "\(attempt)", "error": "\(lost)", "next": "\(pause)"])
            } catch let outage where Reconnection.isInfrastructureFailure(outage) {
                await closeSession()
                pause = Reconnection.delay(beforeAttempt: attempt, using: &random)
                logger.warning("cannot reconnect yet; trying again", metadata: [
                    "attempt": "\(attempt)", "error": "\(outage)", "next": "\(pause)"])
            } catch {
                await closeSession()
                end(with: error)
                break
            }
        }
        state.withLock { $0.reconnecting = nil }
    }

    /// Drops the current session: every partition lost, connections closed.
    /// Its turns stop at their next step. A turn already on its way to its
    /// commit gets a few seconds to reach the verdict before Redis closes
    /// (fencing or the version check makes a late commit harmless; its
    /// delivery is redelivered and meets the dedup record).
    private func closeSession() async {
        let (connections, redis, ownership, mailboxes) = state.withLock { state in
            defer {
                state.amqp = []
                state.redis = []
                state.ownership = nil
                state.mailboxes = nil
            }
            return (state.amqp, state.redis, state.ownership, state.mailboxes)
        }
        ownership?.abandonAll()
        for connection in connections { await connection.close() }
        if let mailboxes { _ = await Self.finishes(within: .seconds(5)) { await mailboxes.waitUntilIdle() } }
        for client in redis { await client.close() }
    }

    /// Records an error the worker cannot recover from (configuration, a
    /// refused login or permission) and wakes `failure()` and `run()`.
    private func end(with error: any Error) {
        let waiters = state.withLock { $0.end.finish(with: error) }
        guard let waiters else { return }  // already ending: one report is enough
        logger.critical("worker cannot go on", metadata: ["error": "\(error)"])
        for waiter in waiters { waiter.resume(returning: error) }
    }

    /// Asks `run()` to drain and return.
    private func requestStop() {
        let waiters = state.withLock { $0.end.finish(with: nil) }
        for waiter in waiters ?? [] { waiter.resume(returning: nil) }
    }

    /// Returns the error that ended the worker, or nil for a requested stop.
    private func ended() async -> (any Error)? {
        await withCheckedContinuation { continuation in
            let ended = state.withLock { $0.end.wait(continuation) }
            if let ended { continuation.resume(returning: ended.error) }
        }
    }

    /// Returns when the worker has hit an error it cannot recover from, such
    /// as a refused login or a partition count that does not match; the
    /// process should shut down and exit non-zero. A lost connection is not
    /// one: the worker reconnects by itself (see `run()`).
    public func failure() async -> any Error {
        await withCheckedContinuation { continuation in
            let error = state.withLock { $0.end.waitForFailure(continuation) }
            if let error { continuation.resume(returning: error) }
        }
    }

    /// Deliveries taken from the queues and not yet settled: queued for their
    /// actor, or in a turn.
    public func inFlight() async -> Int { state.withLock { $0.mailboxes }?.count ?? 0 }

    /// Graceful shutdown: stop consuming, finish and ack in-flight turns,
    /// release leases, close connections. Idempotent.
    public func shutdown() async {
        let (reconnecting, alreadyStopping) = state.withLock { state in
            defer { state.stopping = true }
            return (state.reconnecting, state.stopping)
        }
        guard !alreadyStopping else { return }
        logger.info("worker stopping: finishing in-flight turns", metadata: ["worker": "\(configuration.workerID)"])
        // During an outage: stop waiting for the servers (a session that
        // came up meanwhile is drained like any other).
        reconnecting?.cancel()
        await reconnecting?.value
        let (ownership, mailboxes) = state.withLock { ($0.ownership, $0.mailboxes) }
        let drained = await Self.finishes(within: configuration.drainTimeout) {
            await ownership?.stop()
            await mailboxes?.waitUntilIdle()
        }
        if !drained {
            // A turn that outlasts the drain (a slow or hung behaviour, retries):
            // drop what is left; closing the connections requeues it in order.
            logger.warning("the drain did not finish within the drain timeout: dropping what is left for the broker to requeue",
                           metadata: ["worker": "\(configuration.workerID)", "timeout": "\(configuration.drainTimeout)"])
            ownership?.abandonAll()
        }
        let (connections, redis) = state.withLock { ($0.amqp, $0.redis) }
        for connection in connections { await connection.close() }
        if !drained { await ownership?.releaseAbandonedLeases() }
        for client in redis { await client.close() }
        logger.info("worker stopped", metadata: ["worker": "\(configuration.workerID)"])
    }

    /// Runs `body` in a task of its own; true if it finished within `limit`,
    /// false if the wait gave up first (the task goes on by itself).
    private static func finishes(within limit: Duration, _ body: @escaping @Sendable () async -> Void) async -> Bool {
        let work = Task { await body() }
        let timer = Task { try? await Task.sleep(for: limit) }
        return await withCheckedContinuation { continuation in
            let first = ResumeOnce(continuation)
            Task {
                await work.value
                first.resume(true)
                timer.cancel()
            }
            Task {
                await timer.value
                first.resume(false)
            }
        }
    }

    /// Cancellation: drop every partition and close the connections now;
    /// the broker requeues what was not acked, and the draining that was
    /// under way ends within a backoff pause.
    private func abandon() {
        let (connections, redis, ownership, reconnecting) = state.withLock { state in
            state.abandoned = true
            return (state.amqp, state.redis, state.ownership, state.reconnecting)
        }
        reconnecting?.cancel()
        ownership?.abandonAll()
        requestStop()
        Task {
            for connection in connections { await connection.close() }
            for client in redis { await client.close() }
        }
    }

    /// Whether the worker was cancelled rather than stopped gracefully.
    public var wasAbandoned: Bool { state.withLock { $0.abandoned } }

    /// Partitions this worker consumes now, as `TYPE.P`.
    public var ownedPartitions: [String] { state.withLock { $0.ownership }?.owned.map(\.description) ?? [] }

    static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Resumes a continuation with the first value offered; later ones are ignored.
final class ResumeOnce<Value: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<Value, Never>?>

    init(_ continuation: CheckedContinuation<Value, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ value: Value) {
        continuation.withLock { continuation in
            defer { continuation = nil }
            return continuation
        }?.resume(returning: value)
    }
}

/// How a worker's run ends, once: a requested stop (nil) or an error.
struct WorkerEnd {
    private(set) var ended: Ended?
    private var waiters: [CheckedContinuation<(any Error)?, Never>] = []
    private var failureWaiters: [CheckedContinuation<any Error, Never>] = []

    struct Ended {
        var error: (any Error)?
    }

    /// Ends it; returns the waiters to wake with the end, or nil if it had
    /// already ended. Failure waiters are woken here only for an error.
    mutating func finish(with error: (any Error)?) -> [CheckedContinuation<(any Error)?, Never>]? {
        guard ended == nil else { return nil }
        ended = Ended(error: error)
        if let error {
            for waiter in failureWaiters { waiter.resume(returning: error) }
            failureWaiters.removeAll()
        }
        defer { waiters.removeAll() }
        return waiters
    }

    /// Parks `continuation` until the end; returns the end if it came already.
    mutating func wait(_ continuation: CheckedContinuation<(any Error)?, Never>) -> Ended? {
        if let ended { return ended }
        waiters.append(continuation)
        return nil
    }

    /// Parks `continuation` until an error ends the worker; returns the error
    /// if one did already. (After a requested stop it is never resumed.)
    mutating func waitForFailure(_ continuation: CheckedContinuation<any Error, Never>) -> (any Error)? {
        if let error = ended?.error { return error }
        failureWaiters.append(continuation)
        return nil
    }
}
