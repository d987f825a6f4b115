/// The rules of partition ownership inside one worker, with no I/O, so tests
/// can drive them with any order of events. Each partition this worker deals
/// with is in one phase; events (heartbeat results, lease answers, consumer
/// and channel news, a fenced commit, shutdown) move it on and say which
/// actions to take. The driver (`PartitionOwnership`) performs the actions
/// and reports their results back as events.
///
/// What the rules guarantee: a consumer is started only from `acquiring`,
/// which a partition reaches only with no phase, and a phase ends only once
/// its consumer is gone (handed over, closed, or never started) — so at most
/// one consumer per partition exists in a process at any time.
struct OwnershipMachine {
    enum Phase: Equatable, Sendable {
        /// A lease request is on its way.
        case acquiring
        /// The lease is ours under `epoch`; the consumer is being opened.
        case starting(Epoch)
        /// Consuming; the lease was last renewed at `renewedAt` (ms, monotonic).
        case consuming(Epoch, renewedAt: UInt64)
        /// Giving the partition up on purpose: the consumer is cancelled, its
        /// turns finish and ack, then the lease is released. The lease is
        /// still renewed meanwhile, however long the turns take.
        case handingOver(Epoch)
        /// The lease is ours but must be given back (taken during shutdown).
        case releasing
        /// Lost: the channel is closed so the broker requeues, in order,
        /// everything it held.
        case closing(Epoch)
    }

    enum Event: Sendable {
        /// The heartbeat's assignment: whether this worker should own it.
        case assigned(PartitionID, toMe: Bool)
        case acquired(PartitionID, Epoch, now: UInt64)
        case notAcquired(PartitionID)
        case consumerStarted(PartitionID, now: UInt64)
        case consumerFailed(PartitionID)
        case renewed(PartitionID, now: UInt64)
        case renewalRefused(PartitionID)
        /// Redis could not be reached for the heartbeat.
        case heartbeatFailed(now: UInt64)
        /// A commit under `epoch` was refused: a newer owner exists.
        case fenced(PartitionID, Epoch)
        /// RabbitMQ ended the consumer under `epoch` (cancelled it, or closed its channel).
        case consumerLost(PartitionID, Epoch)
        case released(PartitionID)
        case closed(PartitionID)
        case shutdown
    }

    enum Action: Equatable, Sendable {
        case acquire(PartitionID)
        case startConsumer(PartitionID, Epoch)
        case renew(PartitionID)
        case handOver(PartitionID)
        case release(PartitionID)
        case close(PartitionID, reason: String)
    }

    private(set) var phases: [PartitionID: Phase] = [:]
    private(set) var stopping = false
    let leaseMilliseconds: UInt64
    /// How long before its lease expires a partition whose renewal failed is
    /// given up: the longest the *next* try's answer can take. Waiting for a
    /// failure after expiry would leave the partition consumed past its
    /// lease, while another worker may already hold it.
    let marginMilliseconds: UInt64

    init(leaseMilliseconds: Int, marginMilliseconds: Int = 0) {
        self.leaseMilliseconds = UInt64(max(1, leaseMilliseconds))
        self.marginMilliseconds = UInt64(max(0, marginMilliseconds))
    }

    /// Partitions being consumed now.
    var consuming: [PartitionID] {
        phases.compactMap { partition, phase in
            if case .consuming = phase { return partition }
            return nil
        }.sorted()
    }

    /// Whether nothing is left to wind down (after `shutdown`).
    var isIdle: Bool { phases.isEmpty }

    mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .assigned(let partition, let toMe):
            switch (phases[partition], toMe) {
            case (nil, true) where !stopping:
                phases[partition] = .acquiring
                return [.acquire(partition)]
            case (.consuming, true), (.handingOver, _):
                return [.renew(partition)]
            case (.consuming(let epoch, _), false):
                phases[partition] = .handingOver(epoch)
                return [.handOver(partition)]
            default:
                return []
            }

        case .acquired(let partition, let epoch, _):
            guard phases[partition] == .acquiring else { return [] }
            if stopping {
                phases[partition] = .releasing
                return [.release(partition)]
            }
            phases[partition] = .starting(epoch)
            return [.startConsumer(partition, epoch)]

        case .notAcquired(let partition):
            if phases[partition] == .acquiring { phases[partition] = nil }
            return []

        case .consumerStarted(let partition, let now):
            guard case .starting(let epoch) = phases[partition] else { return [] }
            if stopping {
                phases[partition] = .handingOver(epoch)
                return [.handOver(partition)]
            }
            phases[partition] = .consuming(epoch, renewedAt: now)
            return []

        case .consumerFailed(let partition):
            guard case .starting = phases[partition] else { return [] }
            phases[partition] = .releasing
            return [.release(partition)]

        case .renewed(let partition, let now):
            guard case .consuming(let epoch, _) = phases[partition] else { return [] }
            phases[partition] = .consuming(epoch, renewedAt: now)
            return []

        case .renewalRefused(let partition):
            return lose(partition, reason: "its lease was taken over (this worker was paused or cut off longer than the lease)")

        case .heartbeatFailed(let now):
            var actions: [Action] = []
            for (partition, phase) in phases {
                if case .consuming(_, let renewedAt) = phase, now + marginMilliseconds >= renewedAt + leaseMilliseconds {
                    actions += lose(partition, reason: "its lease could not be renewed within its TTL")
                }
            }
            return actions

        case .fenced(let partition, let epoch):
            switch phases[partition] {
            case .consuming(epoch, _)?, .handingOver(epoch)?:
                phases[partition] = .closing(epoch)
                return [.close(partition, reason: "a commit was refused: a newer owner holds the partition")]
            default:
                return []
            }

        case .consumerLost(let partition, let epoch):
            guard case .consuming(epoch, _) = phases[partition] else { return [] }
            phases[partition] = .closing(epoch)
            return [.close(partition, reason: "RabbitMQ ended its consumer; it is taken again at the next heartbeat")]

        case .released(let partition):
            switch phases[partition] {
            case .handingOver?, .releasing?: phases[partition] = nil
            default: break
            }
            return []

        case .closed(let partition):
            if case .closing = phases[partition] { phases[partition] = nil }
            return []

        case .shutdown:
            stopping = true
            var actions: [Action] = []
            for (partition, phase) in phases.sorted(by: { $0.key < $1.key }) {
                if case .consuming(let epoch, _) = phase {
                    phases[partition] = .handingOver(epoch)
                    actions.append(.handOver(partition))
                }
            }
            return actions
        }
    }

    private mutating func lose(_ partition: PartitionID, reason: String) -> [Action] {
        guard case .consuming(let epoch, _) = phases[partition] else { return [] }
        phases[partition] = .closing(epoch)
        return [.close(partition, reason: reason)]
    }
}
