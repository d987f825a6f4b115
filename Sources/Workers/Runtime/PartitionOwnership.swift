import Broker
import Foundation
import Logging
import Synchronization

/// Turns still running for one partition, so a handover can wait for them.
final class InFlight: Sendable {
    private let state = Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))

    func enter() { state.withLock { $0.count += 1 } }

    func leave() {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.count -= 1
            guard state.count == 0 else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func waitUntilZero() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.count == 0 { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// One partition this worker consumes.
struct PartitionRun: Sendable {
    var type: String
    var partition: Int
    var epoch: String
    var consumer: AMQPConsumer
    var loop: Task<Void, Never>
    var inFlight: InFlight
}

/// Membership, assignment and leases (DESIGN.md, Workers point 1): every
/// heartbeat, compute who should own each partition from the live set; take
/// the leases this worker should hold, hand over the ones it should not
/// (stop consuming, finish in-flight turns, release), and renew the rest. A
/// lease it fails to renew is dropped at once: its epoch has moved on, so any
/// turn still running there will be refused at commit.
final class PartitionOwnership: Sendable {
    struct Settings: Sendable {
        var workerID: String
        var types: [String]
        var partitions: Int
        var leaseMilliseconds: Int
        var heartbeatMilliseconds: Int
        var me: MemberInfo
    }

    typealias StartConsuming = @Sendable (_ type: String, _ partition: Int, _ epoch: String) async throws -> PartitionRun

    private let settings: Settings
    private let membership: Membership
    private let leases: Leases
    private let startConsuming: StartConsuming
    private let logger: Logger
    private let state = Mutex<State>(State())

    private struct State {
        var runs: [String: PartitionRun] = [:]
        var releasing: Set<String> = []
        /// When each held lease was last renewed (uptime ms): a lease not
        /// renewed within its TTL (Redis unreachable) is given up.
        var renewedAt: [String: UInt64] = [:]
        var stopped = false
        var loop: Task<Void, Never>?
    }

    init(settings: Settings, redis: RedisClient, startConsuming: @escaping StartConsuming, logger: Logger) {
        self.settings = settings
        self.membership = Membership(redis: redis)
        self.leases = Leases(redis: redis)
        self.startConsuming = startConsuming
        self.logger = logger
    }

    static func key(_ type: String, _ partition: Int) -> String { "\(type).\(partition)" }

    /// Partitions this worker consumes now.
    var owned: [String] { state.withLock { Array($0.runs.keys).sorted() } }

    /// Runs one reconciliation now, then one every heartbeat until `stop`.
    func start() async throws {
        try await reconcile()
        let interval = settings.heartbeatMilliseconds
        let loop = Task {
            while !state.withLock({ $0.stopped }) {
                try? await Task.sleep(for: .milliseconds(interval))
                if state.withLock({ $0.stopped }) { break }
                do {
                    try await reconcile()
                } catch {
                    logger.warning("ownership heartbeat failed", metadata: ["error": "\(error)"])
                    dropExpiredLeases()
                }
            }
        }
        state.withLock { $0.loop = loop }
    }

    func reconcile() async throws {
        let live = try await membership.heartbeat(settings.me, ttlMilliseconds: settings.leaseMilliseconds)
        // Every partition at once: one after another, a pass over many types
        // and partitions (each new one opens a channel and a consumer) could
        // outlast the lease TTL on a loaded host, and the leases taken first
        // would expire before the pass ended.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for type in settings.types {
                let candidates = live.filter { $0.types.contains(type) }.map(\.id)
                let owners = Rendezvous.assignments(type: type, partitions: settings.partitions, among: candidates)
                for partition in 0..<settings.partitions {
                    let desired = owners[partition]
                    group.addTask { try await self.reconcile(type: type, partition: partition, desired: desired) }
                }
            }
            try await group.waitForAll()
        }
    }

    private func reconcile(type: String, partition: Int, desired: String?) async throws {
        let key = Self.key(type, partition)
        let (run, releasing, stopped) = state.withLock { ($0.runs[key], $0.releasing.contains(key), $0.stopped) }
        if stopped || releasing { return }
        let me = settings.workerID
        if let run {
            if desired != me {
                handOver(key, run: run, to: desired)
            } else if try await leases.renew(type: type, partition: partition, worker: me, ttlMilliseconds: settings.leaseMilliseconds) {
                state.withLock { $0.renewedAt[key] = Self.now() }
            } else {
                lose(key, reason: "its lease was taken over (this worker was paused or cut off longer than the lease)")
            }
            return
        }
        guard desired == me else { return }
        switch try await leases.acquire(type: type, partition: partition, worker: me, ttlMilliseconds: settings.leaseMilliseconds) {
        case .heldBy:
            return  // the previous owner is still handing over, or its lease has not expired yet
        case .acquired(let epoch, let previous):
            try await consume(type: type, partition: partition, epoch: epoch, key: key)
            logger.info("took partition", metadata: [
                "partition": "\(Topology.partitionQueue(type: type, partition: partition))",
                "old": "\(previous ?? "-")", "new": "\(me)", "epoch": "\(epoch)",
            ])
        case .alreadyOurs(let epoch):
            // Ours from before (e.g. a restart with the same worker id within the TTL).
            try await consume(type: type, partition: partition, epoch: epoch, key: key)
        }
    }

    private func consume(type: String, partition: Int, epoch: String, key: String) async throws {
        let run = try await startConsuming(type, partition, epoch)
        state.withLock {
            $0.runs[key] = run
            $0.renewedAt[key] = Self.now()
        }
    }

    /// Stops consuming a partition this worker should no longer own, lets its
    /// turns finish and ack, then releases the lease for the new owner.
    private func handOver(_ key: String, run: PartitionRun, to next: String?) {
        state.withLock { _ = $0.releasing.insert(key) }
        Task {
            try? await run.consumer.cancel()
            await run.loop.value
            await run.inFlight.waitUntilZero()
            try? await leases.release(type: run.type, partition: run.partition, worker: settings.workerID)
            state.withLock {
                $0.runs[key] = nil
                $0.renewedAt[key] = nil
                $0.releasing.remove(key)
            }
            logger.info("handed over partition", metadata: [
                "partition": "\(Topology.partitionQueue(type: run.type, partition: run.partition))",
                "old": "\(settings.workerID)", "new": "\(next ?? "-")", "epoch": "\(run.epoch)",
            ])
        }
    }

    /// Drops a partition at once: the lease is gone (or the commit check said
    /// so). Its channel is closed rather than its consumer cancelled: the
    /// broker then requeues everything unacked *before* the next consumer of
    /// the queue becomes active, so the new owner sees the messages in their
    /// order. Turns still running here are refused at commit.
    func lose(_ key: String, reason: String) {
        guard let run = state.withLock({ state -> PartitionRun? in
            state.renewedAt[key] = nil
            return state.runs.removeValue(forKey: key)
        }) else { return }
        logger.warning("lost partition", metadata: [
            "partition": "\(Topology.partitionQueue(type: run.type, partition: run.partition))", "epoch": "\(run.epoch)", "reason": "\(reason)",
        ])
        Task { try? await run.consumer.channel.close() }
    }

    /// Without Redis no lease can be renewed; once one's TTL has passed,
    /// another worker may hold it, so stop consuming that partition.
    private func dropExpiredLeases() {
        let now = Self.now()
        let expired = state.withLock { state in
            state.renewedAt.filter { now - $0.value >= UInt64(settings.leaseMilliseconds) }.map(\.key)
        }
        for key in expired { lose(key, reason: "its lease could not be renewed within its TTL") }
    }

    /// Shutdown: stop the loop and every consumer, wait for in-flight turns,
    /// release every lease and leave the membership, so others take over at once.
    func stop() async {
        let (loop, runs) = state.withLock { state in
            state.stopped = true
            return (state.loop, Array(state.runs.values))
        }
        loop?.cancel()
        for run in runs { try? await run.consumer.cancel() }
        for run in runs {
            await run.loop.value
            await run.inFlight.waitUntilZero()
            try? await leases.release(type: run.type, partition: run.partition, worker: settings.workerID)
        }
        try? await membership.leave(settings.workerID)
    }

    private static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000 + UInt64(time.tv_nsec) / 1_000_000
    }
}
