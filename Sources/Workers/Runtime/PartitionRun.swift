import Broker
import Synchronization

/// One partition this worker consumes under one epoch: its consumer, its
/// acks, its group commit, and the deliveries it still holds. A new lease
/// makes a new run; a lost one is never revived.
final class PartitionRun: Sendable {
    let partition: PartitionID
    let epoch: Epoch
    let consumer: AMQPConsumer
    let acks: ChannelAcknowledger
    let committer: CommitCoalescer
    /// Deliveries taken from the queue and not yet settled or abandoned.
    let inFlight = InFlight()
    /// The earliest due time known in the partition's due set (`DueDispatcher`).
    let dueWatch = DueWatch()
    private let live = Mutex(true)
    private let admitting = Mutex(true)

    init(partition: PartitionID, epoch: Epoch, consumer: AMQPConsumer, committer: CommitCoalescer) {
        self.partition = partition
        self.epoch = epoch
        self.consumer = consumer
        self.acks = ChannelAcknowledger(channel: consumer.channel)
        self.committer = committer
    }

    /// False once the partition is lost: its channel is closed and the broker
    /// has requeued what it held, so nothing of it may run any more.
    var isLive: Bool { live.withLock { $0 } }

    /// False once a handover began: deliveries that arrive now are left
    /// unacked, for the broker to requeue in order when the channel closes.
    var isAdmitting: Bool { admitting.withLock { $0 } }

    /// Stops admitting deliveries to the turn pipeline (a handover).
    func stopAdmitting() { admitting.withLock { $0 = false } }

    /// Marks the run lost.
    func markLost() {
        live.withLock { $0 = false }
        dueWatch.cancel()
    }
}

/// Deliveries a partition run holds, so a handover can wait for them.
final class InFlight: Sendable {
    private let state = Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))

    func enter(_ count: Int = 1) { state.withLock { $0.count += count } }

    func leave(_ count: Int = 1) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.count -= count
            guard state.count == 0 else { return [] }
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var count: Int { state.withLock { $0.count } }

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

/// A delivery on its way through the turn pipeline. A class: it is passed
/// through mailboxes, runs and plans, and copying its envelope and
/// properties at every step cost more than the turn (seen in a profile).
final class Delivered: Sendable {
    let envelope: Envelope
    let delivery: AMQPDelivery
    let run: PartitionRun
    /// The park this message was released from (`x-greenroom-release`), if any.
    let release: String?
    /// When its batch was read from the broker (`greenroom_delivery_to_commit_seconds`).
    let received: ContinuousClock.Instant
    private let failures: Atomic<Int>
    /// Its turn's span while the turn is undecided (`TurnTracing`; nil without a tracer).
    let trace = Mutex<TurnTrace?>(nil)

    init(envelope: Envelope, delivery: AMQPDelivery, run: PartitionRun, received: ContinuousClock.Instant) {
        self.envelope = envelope
        self.delivery = delivery
        self.run = run
        self.received = received
        release = delivery.properties.headers[WireFormat.releaseHeader]?.stringValue
        // A delayed retry carries the attempts that failed before it was parked.
        failures = Atomic(release == nil ? 0 : HeldMessage.attempts(in: delivery.properties.headers))
    }

    /// Attempts of its turn that threw so far.
    var failedAttempts: Int { failures.load(ordering: .relaxed) }

    /// Counts one more failed attempt; returns the count.
    func countFailure() -> Int { failures.wrappingAdd(1, ordering: .relaxed).newValue }

    var actor: ActorAddress { envelope.target }
    var messageID: String { envelope.message.id }
}
