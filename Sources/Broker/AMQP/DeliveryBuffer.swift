import Synchronization

/// Deliveries handed from the connection thread to the one task consuming
/// them. The thread pushes what it read in one round; the task takes
/// *everything* waiting each time it asks. So the batches grow when the
/// consumer is busy and shrink to single messages when it keeps up: a slow
/// moment costs one bigger batch, not a backlog of small wake-ups.
final class DeliveryBuffer: Sendable {
    /// Bodies declared larger than this are skipped as their frames arrive,
    /// never buffered: the delivery comes with an empty body and
    /// `AMQPDelivery.oversizedBodyBytes` set.
    let maximumBodyBytes: Int

    init(maximumBodyBytes: Int = .max) {
        self.maximumBodyBytes = maximumBodyBytes
    }

    private struct State {
        var waiting: [AMQPDelivery] = []
        var taker: CheckedContinuation<[AMQPDelivery]?, any Error>?
        /// Set once the stream ended: nil error for a clean end.
        var ended: (any Error)??
    }

    private let state = Mutex(State())

    /// Adds deliveries (connection thread).
    func push(_ deliveries: [AMQPDelivery]) {
        let resume: (CheckedContinuation<[AMQPDelivery]?, any Error>, [AMQPDelivery])? = state.withLock { state in
            guard state.ended == nil else { return nil }
            if let taker = state.taker {
                state.taker = nil
                let batch = state.waiting + deliveries
                state.waiting.removeAll()
                return (taker, batch)
            }
            state.waiting += deliveries
            return nil
        }
        if let (taker, batch) = resume {
            taker.resume(returning: batch)
        }
    }

    /// Ends the stream after what is waiting; with an error, taking throws it then.
    func finish(throwing error: (any Error)?) {
        let taker: CheckedContinuation<[AMQPDelivery]?, any Error>? = state.withLock { state in
            guard state.ended == nil else { return nil }
            state.ended = .some(error)
            defer { state.taker = nil }
            return state.waiting.isEmpty ? state.taker : nil
        }
        if let taker {
            if let error { taker.resume(throwing: error) } else { taker.resume(returning: nil) }
        }
    }

    /// Everything waiting, or the next deliveries once some arrive; nil when
    /// the stream ended cleanly (or the task was cancelled). One taker at a time.
    func take() async throws -> [AMQPDelivery]? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                enum Now { case batch([AMQPDelivery]), end((any Error)?), wait }
                let now: Now = state.withLock { state in
                    if !state.waiting.isEmpty {
                        defer { state.waiting.removeAll() }
                        return .batch(state.waiting)
                    }
                    if let ended = state.ended { return .end(ended) }
                    if Task.isCancelled { return .end(nil) }
                    precondition(state.taker == nil, "an AMQPConsumer's deliveries can be iterated by one task at a time")
                    state.taker = continuation
                    return .wait
                }
                switch now {
                case .batch(let batch): continuation.resume(returning: batch)
                case .end(let error?): continuation.resume(throwing: error)
                case .end(nil): continuation.resume(returning: nil)
                case .wait: break
                }
            }
        } onCancel: {
            let taker = state.withLock { state in
                defer { state.taker = nil }
                return state.taker
            }
            taker?.resume(returning: nil)
        }
    }
}
