import CAMQP

/// Everything the connection thread tracks for one open channel. Lives only on
/// that thread (see `AMQPConnectionCore`), so it needs no locks.
final class AMQPChannelState {
    /// A synchronous AMQP method awaiting its reply. The head of the queue is on
    /// the wire; the rest wait their turn (one outstanding RPC per channel).
    struct PendingRPC {
        /// What to send; its `reply` is what the channel waits for.
        var method: AMQPMethod
        /// What it is for, in errors (usually `method.operation`).
        var operation: String
        /// Called on the connection thread with the reply, while its decoded
        /// memory is still valid, or with the error that ended the wait.
        var complete: (Result<amqp_method_t, AMQPError>) -> Void

        init(_ method: AMQPMethod, operation: String? = nil, complete: @escaping (Result<amqp_method_t, AMQPError>) -> Void) {
            precondition(method.reply != nil, "\(method.operation) has no reply to wait for")
            self.method = method
            self.operation = operation ?? method.operation
            self.complete = complete
        }
    }

    /// A published message awaiting the broker's confirm.
    struct PendingPublish {
        /// Called once, on the connection thread, with the broker's verdict.
        var complete: (Result<Void, AMQPError>) -> Void
        var exchange: String
        var routingKey: String
        var messageID: String?
        /// Set when the broker returned the message as unroutable; the confirm
        /// that follows then completes the publish with this error.
        var returned: AMQPError?
        /// When it was written, for the confirm timeout.
        var sentAt: ContinuousClock.Instant
    }

    /// A consumer's end of its delivery stream. Deliveries read in one round
    /// of the connection loop are handed over together, as one batch, when
    /// the round ends (`AMQPConnectionCore.flushDeliveries`): one resume of
    /// the consuming task per round instead of one per message.
    final class Consumer {
        let queue: String
        let noAck: Bool
        private let deliveries: DeliveryBuffer
        private var buffered: [AMQPDelivery] = []

        init(queue: String, noAck: Bool, deliveries: DeliveryBuffer) {
            self.queue = queue
            self.noAck = noAck
            self.deliveries = deliveries
        }

        /// Buffers a delivery; true when the buffer was empty (the consumer
        /// must then be flushed at the end of the round).
        func buffer(_ delivery: AMQPDelivery) -> Bool {
            buffered.append(delivery)
            return buffered.count == 1
        }

        /// Hands the buffered deliveries to the consuming task.
        func flush() {
            guard !buffered.isEmpty else { return }
            deliveries.push(buffered)
            buffered.removeAll()
        }

        /// The largest body this consumer takes in (`DeliveryBuffer.maximumBodyBytes`).
        var maximumBodyBytes: Int { deliveries.maximumBodyBytes }

        /// Whether this consumer's deliveries go to `buffer`.
        func feeds(_ buffer: DeliveryBuffer) -> Bool { deliveries === buffer }

        /// Ends the stream after what is buffered; with an error, iteration throws it.
        func finish(throwing error: AMQPError? = nil) {
            flush()
            deliveries.finish(throwing: error)
        }
    }

    /// A message whose content (header and body frames) is still arriving.
    enum IncomingKind {
        case delivery(consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String)
        case returned(replyCode: UInt16, replyText: String, exchange: String, routingKey: String)
    }

    struct Incoming {
        var kind: IncomingKind
        var properties = AMQPProperties()
        var expectedSize: Int = -1
        var body: [UInt8] = []
        /// Over the consumer's limit: body frames are counted, not kept.
        var oversized = false
        var skipped = 0
    }

    let number: UInt16
    var rpcs: [PendingRPC] = []
    var confirmMode = false
    var nextPublishSequence: UInt64 = 1
    var lowestUnconfirmed: UInt64 = 1
    var pendingPublishes: [UInt64: PendingPublish] = [:]
    var consumers: [String: Consumer] = [:]
    var incoming: Incoming?
    var nextConsumerNumber = 1
    /// Why the channel can no longer be used, once it can't. Shared with the
    /// `AMQPChannel` handle, which also uses it to tell its channel apart from
    /// a later one that reuses the same number.
    let ended = EndReason()
    var closedBecause: AMQPError? { ended.current }

    init(number: UInt16) {
        self.number = number
    }

    /// Registers a consumer before its basic.consume is sent and returns its
    /// tag: `tag`, or a fresh one. Fails when the tag is taken on this channel.
    func addConsumer(tag: String?, queue: String, noAck: Bool, deliveries: DeliveryBuffer) throws(AMQPError) -> String {
        let tag = tag ?? "greenroom-\(number)-\(nextConsumerNumber)"
        nextConsumerNumber += 1
        guard consumers[tag] == nil else {
            throw AMQPError(code: .invalidArgument, operation: "consuming from queue '\(queue)'",
                            detail: "consumer tag '\(tag)' is already in use on this channel")
        }
        consumers[tag] = Consumer(queue: queue, noAck: noAck, deliveries: deliveries)
        return tag
    }

    /// Ends and forgets the consumer feeding `deliveries`: its basic.consume failed.
    func removeConsumer(feeding deliveries: DeliveryBuffer, because error: AMQPError) {
        guard let tag = consumers.first(where: { $0.value.feeds(deliveries) })?.key else { return }
        consumers.removeValue(forKey: tag)?.finish(throwing: error)
    }

    /// Called once `publication` is written. In confirm mode it now waits for
    /// the broker's confirm (`confirm`) and perhaps a return (`markReturned`);
    /// otherwise it is done.
    func awaitConfirm(of publication: AMQPPublication, complete: @escaping (Result<Void, AMQPError>) -> Void) {
        guard confirmMode else {
            complete(.success(()))
            return
        }
        let sequence = nextPublishSequence
        nextPublishSequence += 1
        pendingPublishes[sequence] = PendingPublish(
            complete: complete, exchange: publication.exchange, routingKey: publication.routingKey,
            messageID: publication.message.properties.messageID, returned: nil, sentAt: .now)
    }

    /// Resolves publishes confirmed (or nacked) by the broker: `tag` alone, or
    /// every outstanding one up to `tag` when `multiple`.
    func confirm(tag: UInt64, multiple: Bool, nacked: Bool) {
        func resolve(_ sequence: UInt64) {
            guard let publish = pendingPublishes.removeValue(forKey: sequence) else { return }
            if let returned = publish.returned {
                publish.complete(.failure(returned))
            } else if nacked {
                publish.complete(.failure(AMQPError(
                    code: .nacked, operation: "publishing to exchange '\(publish.exchange)' with routing key '\(publish.routingKey)'",
                    detail: "the broker nacked the message: it could not store it")))
            } else {
                publish.complete(.success(()))
            }
        }
        if multiple {
            var sequence = lowestUnconfirmed
            while sequence <= tag {
                resolve(sequence)
                sequence += 1
            }
        } else {
            resolve(tag)
        }
        while lowestUnconfirmed < nextPublishSequence, pendingPublishes[lowestUnconfirmed] == nil {
            lowestUnconfirmed += 1
        }
    }

    /// Fails the unconfirmed publishes sent before `cutoff` (their confirm
    /// wait timed out) with the error `error` makes for each; a later confirm
    /// for one of them finds nothing to resolve.
    func expireConfirms(sentBefore cutoff: ContinuousClock.Instant, error: (PendingPublish) -> AMQPError) {
        var sequence = lowestUnconfirmed
        while sequence < nextPublishSequence {
            if let publish = pendingPublishes[sequence] {
                guard publish.sentAt < cutoff else { break }  // sent in sequence order: the rest are younger
                pendingPublishes.removeValue(forKey: sequence)
                publish.complete(.failure(error(publish)))
            }
            sequence += 1
        }
        while lowestUnconfirmed < nextPublishSequence, pendingPublishes[lowestUnconfirmed] == nil {
            lowestUnconfirmed += 1
        }
    }

    /// Marks the oldest matching unconfirmed publish as returned. The broker
    /// returns messages in publish order, so the oldest match is the right one.
    func markReturned(exchange: String, routingKey: String, messageID: String?, error: AMQPError) {
        var sequence = lowestUnconfirmed
        while sequence < nextPublishSequence {
            if var publish = pendingPublishes[sequence], publish.returned == nil,
               publish.exchange == exchange, publish.routingKey == routingKey, publish.messageID == messageID {
                publish.returned = error
                pendingPublishes[sequence] = publish
                return
            }
            sequence += 1
        }
    }

    /// Fails everything still waiting on this channel and ends its consumers.
    /// `error` nil means a clean close: consumers finish without an error.
    func shutDown(because error: AMQPError?) {
        let failure = error ?? AMQPError(code: .channelClosed, operation: "using channel \(number)", detail: "the channel was closed")
        ended.record(failure)
        let rpcs = self.rpcs
        self.rpcs.removeAll()
        for rpc in rpcs { rpc.complete(.failure(failure.during(rpc.operation))) }
        let publishes = pendingPublishes
        pendingPublishes.removeAll()
        for (_, publish) in publishes.sorted(by: { $0.key < $1.key }) {
            publish.complete(.failure(failure.during(
                "publishing to exchange '\(publish.exchange)' with routing key '\(publish.routingKey)' (unconfirmed: it may or may not have been stored)")))
        }
        let consumers = self.consumers
        self.consumers.removeAll()
        for (_, consumer) in consumers {
            consumer.finish(throwing: error)
        }
        incoming = nil
    }
}
