import Broker
import Foundation
import Logging
import Synchronization

/// Membership, assignment and leases (docs/SCALING.md): every heartbeat,
/// compute who should own each partition from the live set, and feed the
/// answer to `OwnershipMachine`, whose actions this type performs — take a
/// lease and start consuming, renew, hand a partition over (stop consuming,
/// let its turns finish and ack, release), or drop one that is lost (close
/// its channel so the broker requeues in order).
final class PartitionOwnership: Sendable {
    struct Settings: Sendable {
        var workerID: String
        var types: [String]
        var partitions: Int
        var leaseMilliseconds: Int
        var heartbeatMilliseconds: Int
        /// How long a Redis command may go unanswered (0: no limit).
        var redisTimeoutMilliseconds: Int = 0
        var me: MemberInfo
        /// Called before each heartbeat: the turn totals it carries (`MemberInfo.turns`).
        var turns: @Sendable () -> [String: TurnTotals]? = { nil }

        /// The longest a heartbeat retried at once after a failure can take to
        /// fail again: a reconnect's PING and then a command, each up to the
        /// Redis timeout. Without a timeout, one heartbeat interval.
        var retryMarginMilliseconds: Int {
            redisTimeoutMilliseconds > 0 ? 2 * redisTimeoutMilliseconds + 100 : heartbeatMilliseconds
        }
    }

    /// Opens a consumer for a partition under an epoch.
    typealias StartRun = @Sendable (_ partition: PartitionID, _ epoch: Epoch) async throws -> (run: PartitionRun, loop: Task<Void, Never>)

    private struct Running {
        var run: PartitionRun
        var loop: Task<Void, Never>
    }

    private let settings: Settings
    private let membership: Membership
    private let leases: Leases
    private let startRun: StartRun
    private let logger: Logger
    private let machine: Mutex<OwnershipMachine>
    private let runs = Mutex<[PartitionID: Running]>([:])
    private let heartbeat = Mutex<Task<Void, Never>?>(nil)
    private let windDown = Mutex<[CheckedContinuation<Void, Never>]>([])
    /// Types whose partitions were refused for a missing incarnation marker (logged once each).
    private let lostTypes = Mutex<Set<String>>([])

    init(settings: Settings, redis: RedisClient, startRun: @escaping StartRun, logger: Logger) {
        self.settings = settings
        self.membership = Membership(redis: redis)
        self.leases = Leases(redis: redis)
        self.startRun = startRun
        self.logger = logger
        self.machine = Mutex(OwnershipMachine(
            leaseMilliseconds: settings.leaseMilliseconds, marginMilliseconds: settings.retryMarginMilliseconds))
    }

    /// Partitions this worker consumes now.
    var owned: [PartitionID] { machine.withLock { $0.consuming } }

    /// Runs one reconciliation now (returning once its partitions are taken),
    /// then one every heartbeat until `stop`.
    func start() async throws {
        try await reconcile()
        let interval = settings.heartbeatMilliseconds
        heartbeat.withLock {
            $0 = Task {
                // After a failure the next try comes at once (a dropped
                // connection is back at the next command); partitions whose
                // lease could expire before that try answers are given up.
                var pause = interval
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(pause))
                    if Task.isCancelled { break }
                    do {
                        try await reconcile()
                        pause = interval
                    } catch {
                        logger.warning("ownership heartbeat failed", metadata: ["error": "\(error)"])
                        await handle(.heartbeatFailed(now: Self.now()))
                        pause = min(interval, 100)
                    }
                }
            }
        }
    }

    /// One heartbeat: who is live, who should own what, and the actions that follow.
    func reconcile() async throws {
        var me = settings.me
        me.turns = settings.turns()
        let live = try await membership.heartbeat(me, ttlMilliseconds: settings.leaseMilliseconds)
        var events: [OwnershipMachine.Event] = []
        for type in settings.types {
            let candidates = live.filter { $0.types.contains(type) }.map(\.id)
            let owners = Rendezvous.assignments(type: type, partitions: settings.partitions, among: candidates)
            for partition in PartitionID.all(of: type, partitions: settings.partitions) {
                events.append(.assigned(partition, toMe: owners[partition.index] == settings.workerID))
            }
        }
        // Every partition at once: one after another, a pass over many
        // partitions could outlast the lease TTL on a loaded host.
        await withTaskGroup(of: Void.self) { group in
            for event in events { group.addTask { await self.handle(event) } }
        }
    }

    /// A commit under `run`'s epoch was refused: drop the partition.
    func fenced(_ run: PartitionRun) {
        Task { await handle(.fenced(run.partition, run.epoch)) }
    }

    /// RabbitMQ ended `run`'s consumer: drop the partition (a later
    /// heartbeat takes it again), rather than go on renewing its lease.
    func consumerLost(_ run: PartitionRun) {
        Task { await handle(.consumerLost(run.partition, run.epoch)) }
    }

    /// Shutdown: hand every partition over (its turns finish and ack, the
    /// heartbeat goes on renewing its lease meanwhile), release every lease,
    /// stop the heartbeat and leave the membership, so others take over at once.
    func stop() async {
        await handle(.shutdown)
        await withCheckedContinuation { continuation in
            let idle = machine.withLock { $0.isIdle }
            if idle { continuation.resume() } else { windDown.withLock { $0.append(continuation) } }
            // A phase may have ended between the two locks.
            wakeIfIdle()
        }
        // Awaited: a last heartbeat must not put this worker back after it left.
        let beating = heartbeat.withLock { $0 }
        beating?.cancel()
        await beating?.value
        try? await membership.leave(settings.workerID)
    }

    /// Cancellation: every run is lost at once (its turns stop at their next
    /// step); the connections are about to close, so the broker requeues.
    func abandonAll() {
        heartbeat.withLock { $0?.cancel() }
        for running in runs.withLock({ Array($0.values) }) { running.run.markLost() }
    }

    /// After `abandonAll` and once the consumers' channels are closed (their
    /// deliveries requeued, in order): gives back the leases still held, so
    /// the next owner need not wait for them to expire. A turn of ours that
    /// is still running commits nothing after that: the next acquisition
    /// bumps the epoch. Best effort: a lease that cannot be released expires.
    func releaseAbandonedLeases() async {
        let partitions = Set(runs.withLock { Array($0.keys) }).union(machine.withLock { Array($0.phases.keys) })
        await withTaskGroup(of: Void.self) { group in
            for partition in partitions {
                group.addTask { try? await self.leases.release(partition, worker: self.settings.workerID) }
            }
        }
    }

    // MARK: - Performing actions

    private func handle(_ event: OwnershipMachine.Event) async {
        let actions = machine.withLock { $0.handle(event) }
        wakeIfIdle()
        await withTaskGroup(of: Void.self) { group in
            for action in actions { group.addTask { await self.perform(action) } }
        }
    }

    private func wakeIfIdle() {
        guard machine.withLock({ $0.stopping && $0.isIdle }) else { return }
        for waiter in windDown.withLock({ waiters in defer { waiters.removeAll() }; return waiters }) { waiter.resume() }
    }

    private func perform(_ action: OwnershipMachine.Action) async {
        let me = settings.workerID
        switch action {
        case .acquire(let partition):
            do {
                switch try await leases.acquire(partition, worker: me, ttlMilliseconds: settings.leaseMilliseconds) {
                case .heldBy:
                    await handle(.notAcquired(partition))  // the previous owner is still handing over, or its lease has not expired
                case .dataLost:
                    // Tried again every heartbeat: a restore or an explicit reset lets it resume.
                    if lostTypes.withLock({ $0.insert(partition.type).inserted }) {
                        logger.critical("\(Incarnation.lossReport(type: partition.type, partitions: settings.partitions))")
                    }
                    await handle(.notAcquired(partition))
                case .acquired(let epoch, let previous):
                    if lostTypes.withLock({ $0.remove(partition.type) }) != nil {
                        logger.notice("incarnation marker back: consuming again", metadata: ["type": "\(partition.type)"])
                    }
                    logger.info("took partition", metadata: ["partition": "\(partition.queue)", "old": "\(previous ?? "-")", "new": "\(me)", "epoch": "\(epoch)"])
                    await handle(.acquired(partition, epoch, now: Self.now()))
                case .alreadyOurs(let epoch):
                    // Ours from before: this worker reconnected within the TTL. The
                    // epoch is new all the same, fencing the old session's commits.
                    await handle(.acquired(partition, epoch, now: Self.now()))
                }
            } catch {
                logger.warning("could not take partition", metadata: ["partition": "\(partition.queue)", "error": "\(error)"])
                await handle(.notAcquired(partition))
            }

        case .startConsumer(let partition, let epoch):
            do {
                let (run, loop) = try await startRun(partition, epoch)
                runs.withLock { $0[partition] = Running(run: run, loop: loop) }
                await handle(.consumerStarted(partition, now: Self.now()))
            } catch {
                logger.error("could not start consuming partition", metadata: ["partition": "\(partition.queue)", "error": "\(error)"])
                await handle(.consumerFailed(partition))
            }

        case .renew(let partition):
            do {
                let ours = try await leases.renew(partition, worker: me, ttlMilliseconds: settings.leaseMilliseconds)
                await handle(ours ? .renewed(partition, now: Self.now()) : .renewalRefused(partition))
            } catch {
                logger.warning("could not renew a lease", metadata: ["partition": "\(partition.queue)", "error": "\(error)"])
            }

        case .handOver(let partition):
            // Not awaited by the heartbeat: draining takes as long as the slowest turn.
            Task {
                await retire(partition, draining: true)
                try? await leases.release(partition, worker: me)
                logger.info("handed over partition", metadata: ["partition": "\(partition.queue)", "old": "\(me)"])
                await handle(.released(partition))
            }

        case .release(let partition):
            try? await leases.release(partition, worker: me)
            await handle(.released(partition))

        case .close(let partition, let reason):
            logger.warning("lost partition", metadata: ["partition": "\(partition.queue)", "reason": "\(reason)"])
            Task {
                await retire(partition, draining: false)
                await handle(.closed(partition))
            }
        }
    }

    /// Ends a partition's run. With `draining` (a handover) it first stops
    /// admitting deliveries and lets the admitted turns finish and ack. Then
    /// the run is marked lost and its channel closed — never its consumer
    /// cancelled: the broker requeues everything unacked *before* the next
    /// consumer becomes active, so the next owner sees the messages in order.
    /// Turns still running stop at their next step or are refused at commit.
    private func retire(_ partition: PartitionID, draining: Bool) async {
        guard let running = runs.withLock({ $0[partition] }) else { return }
        if draining {
            running.run.stopAdmitting()
            await running.run.inFlight.waitUntilZero()
        }
        running.run.markLost()
        try? await running.run.consumer.channel.close()
        await running.loop.value
        await running.run.inFlight.waitUntilZero()
        runs.withLock { $0[partition] = nil }
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000 + UInt64(time.tv_nsec) / 1_000_000
    }
}
