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
    /// early when `visit` says `.stop`, or when no letter arrived for `idle`:
    /// letters another client is browsing at that moment are unacked there,
    /// invisible to this scan, unless they return to the queue within `idle`.
    func scanDeadLetters<T>(
        limit: Int? = nil, idle: Duration, confirms: Bool = false,
        progress: (@Sendable (DeadLetterScanProgress) -> Void)? = nil,
        visit: (AMQPChannel, ArraySlice<AMQPDelivery>) async throws -> DeadLetterScanStep,
        finish: (AMQPChannel) async throws -> T
    ) async throws -> T {
        let channel = try await amqp.openChannel()
        do {
            if confirms { try await channel.enableConfirms() }
            let ready = Int(try await channel.inspectQueue(Topology.deadQueue).messageCount)
            let total = min(max(limit ?? .max, 0), ready)
            var remaining = total
            scan: while remaining > 0 {
                let chunk = min(remaining, Self.deadLetterScanChunk)
                try await channel.setPrefetch(UInt16(chunk))
                let consumer = try await channel.consume(queue: Topology.deadQueue)
                let watch = IdleWatch(consumer: consumer, idle: idle)
                defer { watch.stop() }
                var received = 0
                var switching = false
                for try await batch in consumer.batches {
                    watch.busy()
                    received += batch.count
                    let taken = batch.prefix(remaining)
                    remaining -= taken.count
                    let step = try await visit(channel, taken)
                    progress?(DeadLetterScanProgress(seen: total - remaining, total: total))
                    if step == .stop || remaining == 0 { break scan }
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

/// Cancels a scan's consumer once no delivery arrived for `idle` while the
/// scan was waiting (not while it was busy with a batch).
private final class IdleWatch: Sendable {
    private struct State {
        var busy = false
        var since = ContinuousClock.now
        var stopped = false
    }

    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(consumer: AMQPConsumer, idle: Duration) {
        let watching = Task { [weak self] in
            while !Task.isCancelled {
                guard let wait = self?.wait(idle) else { return }
                if wait <= .zero {
                    try? await consumer.cancel()
                    return
                }
                try? await Task.sleep(for: max(wait, .milliseconds(5)))
            }
        }
        task.withLock { $0 = watching }
    }

    /// How long until the consumer counts as idle; nil once stopped.
    private func wait(_ idle: Duration) -> Duration? {
        state.withLock { state in
            if state.stopped { return nil }
            return state.busy ? idle : state.since + idle - .now
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
