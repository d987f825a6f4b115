import Broker
import Synchronization

/// How far a long dead-letter scan has got, for a progress line.
public struct DeadLetterScanProgress: Sendable, Equatable {
    /// Letters looked at so far.
    public var seen: Int
    /// Letters the scan will look at: those ready in the queue when it began
    /// (at most the caller's limit).
    public var total: Int
}

/// What a scan's visitor wants after a batch.
enum DeadLetterScanStep {
    case next, stop
}

extension GreenroomClient {
    /// Unacked deliveries one consumer of a scan may hold. A scan acks
    /// nothing it only looks at, and RabbitMQ stops sending to a consumer at
    /// its prefetch count (at most 65,535): past this many, the scan cancels
    /// the consumer and starts the next one on the same channel, which
    /// receives the letters after. So the client holds at most about this
    /// many letters in memory, however long the queue.
    static let deadLetterScanChunk = 10_000

    /// Streams the letters of `greenroom.dead` to `visit`, in queue order, in
    /// batches, on a channel of its own; then calls `finish` and closes the
    /// channel. Every letter `visit` did not ack goes back to the queue, in
    /// its place (RabbitMQ requeues a closed channel's unacked deliveries at
    /// their original positions): looking loses and reorders nothing.
    ///
    /// Looks at most at `limit` letters, and at most at those ready when it
    /// begins (letters dead-lettered meanwhile are not waited for). Stops
    /// early when `visit` says `.stop`, or when no letter arrived for `idle`
    /// and none is ready in the queue, or another consumer is on it: letters
    /// another client is browsing at that moment are unacked there,
    /// invisible to this scan, unless they return to the queue before then.
    /// While letters are ready, no one else consumes and none comes, it waits
    /// up to `patience`.
    func scanDeadLetters<T>(
        limit: Int? = nil, idle: Duration, patience: Duration = .seconds(30), confirms: Bool = false,
        progress: (@Sendable (DeadLetterScanProgress) -> Void)? = nil,
        visit: (AMQPChannel, ArraySlice<AMQPDelivery>) async throws -> DeadLetterScanStep,
        finish: (AMQPChannel) async throws -> T
    ) async throws -> T {
        let channel = try await amqp.openChannel()
        // Asks whether letters are ready while the scan waits (see IdleWatch).
        let inspector = try await amqp.openChannel()
        defer { Task { try? await inspector.close() } }
        do {
            if confirms { try await channel.enableConfirms() }
            let wanted = max(limit ?? .max, 0)
            var total = min(wanted, Int(try await channel.inspectQueue(Topology.deadQueue).messageCount))
            var remaining = total
            var rechecks = 0
            // Letters another client returned meanwhile (RabbitMQ requeues a
            // closed channel's deliveries after it answered the close) are
            // ready by the time this scan has seen the rest: it looks at those
            // too, a few times over at most, so a steady stream of new letters
            // cannot keep it going forever.
            func lookForMore() async throws -> Bool {
                guard total < wanted, rechecks < 3 else { return false }
                rechecks += 1
                let more = min(wanted - total, Int(try await channel.inspectQueue(Topology.deadQueue).messageCount))
                total += more
                remaining += more
                return more > 0
            }
            scan: while remaining > 0 {
                let chunk = min(remaining, Self.deadLetterScanChunk)
                try await channel.setPrefetch(UInt16(chunk))
                let consumer = try await channel.consume(queue: Topology.deadQueue)
                let watch = IdleWatch(consumer: consumer, idle: idle, patience: patience) {
                    // Ready letters come to this scan unless another consumer takes them.
                    guard let queue = try? await inspector.inspectQueue(Topology.deadQueue) else { return false }
                    return queue.messageCount > 0 && queue.consumerCount <= 1
                }
                defer { watch.stop() }
                var received = 0
                var switching = false
                for try await batch in consumer.batches {
                    watch.busy()
                    received += batch.count
                    var rest = batch[...]
                    while !rest.isEmpty {
                        if remaining == 0, !(try await lookForMore()) { break scan }
                        let taken = rest.prefix(remaining)
                        rest = rest.dropFirst(taken.count)
                        remaining -= taken.count
                        let step = try await visit(channel, taken)
                        progress?(DeadLetterScanProgress(seen: total - remaining, total: total))
                        if step == .stop { break scan }
                    }
                    if remaining == 0, !(try await lookForMore()) { break scan }
                    watch.rest()
                    if received >= chunk, !switching {
                        // The consumer is full: what it was sent before the
                        // cancel still arrives (the loop drains it), then the
                        // next consumer takes the letters after.
                        switching = true
                        watch.stop()
                        try await consumer.cancel()
                    }
                }
                if !switching { break }  // idle: the watch cancelled the consumer
            }
            let result = try await finish(channel)
            try await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }
}

/// Cancels a scan's consumer once it has waited `idle` for a delivery (not
/// counting time spent on a batch) and `lettersWaiting` says no letter is
/// coming: none is ready, or another consumer may take them. While letters
/// are ready for this scan alone but slow to come (RabbitMQ pauses
/// deliveries while it writes many acks of persistent letters), it waits
/// on, up to `patience`.
private final class IdleWatch: Sendable {
    private struct State {
        var busy = false
        var since = ContinuousClock.now
        var stopped = false
    }

    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(consumer: AMQPConsumer, idle: Duration, patience: Duration,
         lettersWaiting: @escaping @Sendable () async -> Bool) {
        let watching = Task { [weak self] in
            while !Task.isCancelled {
                guard let (wait, waited) = self?.wait(idle) else { return }
                if wait <= .zero {
                    if waited < patience, await lettersWaiting() {
                        try? await Task.sleep(for: idle / 4)
                        continue
                    }
                    try? await consumer.cancel()
                    return
                }
                try? await Task.sleep(for: max(wait, .milliseconds(5)))
            }
        }
        task.withLock { $0 = watching }
    }

    /// How long until the consumer has waited `idle`, and how long it has
    /// waited so far; nil once stopped.
    private func wait(_ idle: Duration) -> (Duration, Duration)? {
        state.withLock { state in
            if state.stopped { return nil }
            return state.busy ? (idle, .zero) : (state.since + idle - .now, .now - state.since)
        }
    }
    /// A batch is being handled: not idle.
    func busy() { state.withLock { $0.busy = true } }

    /// Waiting again, from now.
    func rest() {
        state.withLock { state in
            state.busy = false
            state.since = .now
        }
    }

    func stop() {
        state.withLock { $0.stopped = true }
        task.withLock { $0?.cancel() }
    }
}
