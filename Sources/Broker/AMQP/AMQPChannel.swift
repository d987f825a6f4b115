/// An AMQP channel: declare topology, publish, consume and acknowledge.
///
/// A channel is a lightweight handle; all work happens on the connection's
/// thread in the order calls arrive. If the broker closes the channel (for
/// example 404 NOT_FOUND for a missing queue, 406 PRECONDITION_FAILED for
/// mismatched queue arguments), every later call throws an `AMQPError` with
/// the broker's reply code and text: open a new channel to go on.
///
/// Direct reply-to: consume from `AMQPChannel.directReplyTo` with `noAck: true`
/// on a channel, then publish requests from the same channel with
/// `replyTo: AMQPChannel.directReplyTo`; replies arrive on that consumer.
public final class AMQPChannel: Sendable {
    /// The pseudo-queue for RabbitMQ's direct reply-to.
    public static let directReplyTo = "amq.rabbitmq.reply-to"

    /// The connection this channel runs on.
    public let connection: AMQPConnection
    /// The channel number on the connection.
    public let number: UInt16
    /// Shared with the thread-side state: why this channel ended, once it has.
    let ended: EndReason

    init(connection: AMQPConnection, number: UInt16, ended: EndReason) {
        self.connection = connection
        self.number = number
        self.ended = ended
    }

    /// Why the channel was closed, or nil while it is open.
    public var closedBecause: AMQPError? { ended.current ?? connection.closedBecause }

    // MARK: - Topology

    /// What the broker reports about a queue.
    public struct QueueInfo: Sendable, Equatable {
        /// The queue's name (server-generated when declared with an empty name).
        public var name: String
        /// Messages ready for delivery (not counting unacked ones).
        public var messageCount: UInt32
        /// Consumers attached to the queue.
        public var consumerCount: UInt32
    }

    /// The exchange kinds RabbitMQ knows by default.
    public enum ExchangeKind: String, Sendable {
        case direct, fanout, topic, headers
    }

    /// Declares an exchange (creates it, or checks an existing one matches).
    public func declareExchange(
        _ name: String, kind: ExchangeKind = .direct, durable: Bool = true, autoDelete: Bool = false,
        internal: Bool = false, arguments: AMQPTable = [:]
    ) async throws {
        try await rpc(.exchangeDeclare(name, kind: kind.rawValue, durable: durable, autoDelete: autoDelete, internal: `internal`, arguments: arguments))
    }

    /// Deletes an exchange.
    public func deleteExchange(_ name: String, ifUnused: Bool = false) async throws {
        try await rpc(.exchangeDelete(name, ifUnused: ifUnused))
    }

    /// Declares a queue and returns its name and counts. With `passive`, only
    /// checks that it exists (a missing queue closes the channel with 404).
    @discardableResult
    public func declareQueue(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        passive: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> QueueInfo {
        try await rpc(.queueDeclare(name, passive: passive, durable: durable, exclusive: exclusive, autoDelete: autoDelete, arguments: arguments),
                      reading: \.declaredQueue)
    }

    /// Reports a queue's message and consumer counts without changing it.
    public func inspectQueue(_ name: String) async throws -> QueueInfo {
        try await declareQueue(name, passive: true)
    }

    /// Binds a queue to an exchange.
    public func bindQueue(_ queue: String, to exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        try await rpc(.queueBind(queue, exchange: exchange, routingKey: routingKey, arguments: arguments))
    }

    /// Removes a binding.
    public func unbindQueue(_ queue: String, from exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        try await rpc(.queueUnbind(queue, exchange: exchange, routingKey: routingKey, arguments: arguments))
    }

    /// Removes every ready message from a queue; returns how many.
    @discardableResult
    public func purgeQueue(_ name: String) async throws -> UInt32 {
        try await rpc(.queuePurge(name), reading: \.messageCount)
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        try await rpc(.queueDelete(name, ifUnused: ifUnused, ifEmpty: ifEmpty), reading: \.messageCount)
    }

    // MARK: - Publishing

    /// Puts the channel in confirm mode: from now on `publish` returns only
    /// once the broker has taken responsibility for the message.
    ///
    /// With `timeout`, a message the broker has not confirmed that long after
    /// it was sent (a broker that stopped reading — a memory or disk alarm
    /// blocks publishers — or a lost confirm) fails with `.timedOut`: it may
    /// or may not have been stored, so publish it again (receivers dedupe by
    /// id). A confirm that arrives later is ignored. The channel checks a few
    /// times per `timeout` (at most every second), not per message.
    public func enableConfirms(timeout: Duration? = nil) async throws {
        try await rpc(.confirmSelect) { channel in channel.confirmMode = true }
        guard let timeout else { return }
        let interval = min(max(timeout / 4, .milliseconds(50)), .seconds(1))
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: interval)
                guard let self, self.closedBecause == nil else { return }
                try? await self.onChannel("expiring unconfirmed publishes") { (_, channel, continuation: CheckedContinuation<Void, any Error>) in
                    channel.expireConfirms(sentBefore: .now - timeout) { publish in
                        AMQPError(code: .timedOut, operation: "publishing to exchange '\(publish.exchange)' with routing key '\(publish.routingKey)'",
                                  detail: "the broker did not confirm within \(timeout) (unconfirmed: it may or may not have been stored)")
                    }
                    continuation.resume()
                }
            }
        }
    }

    /// Publishes a message.
    ///
    /// In confirm mode (see `enableConfirms`) this returns when the broker
    /// confirmed the message, and throws `.nacked` if it refused it, or
    /// `.unroutable` if `mandatory` is set and no queue matched. Without
    /// confirm mode it returns once the message is written to the socket, and
    /// an unroutable mandatory message cannot be reported. Many concurrent
    /// calls are pipelined: confirms for all of them are awaited together.
    public func publish(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = false) async throws {
        let results = try await publish([AMQPPublication(message, exchange: exchange, routingKey: routingKey, mandatory: mandatory)])
        try results[0].get()
    }

    /// Publishes several messages in order, in one hand-off to the connection
    /// thread, and waits until the broker has confirmed (or refused) each.
    /// Returns one result per message, in order: a returned or nacked message
    /// fails alone. Throws only when the channel or connection is unusable.
    public func publish(_ publications: [AMQPPublication]) async throws -> [Result<Void, AMQPError>] {
        guard !publications.isEmpty else { return [] }
        let operation = publications.count == 1 ? publications[0].operation : "publishing \(publications.count) messages"
        let number = number
        return try await onChannel(operation) { core, channel, continuation in
            let collector = ResultGatherer(count: publications.count, continuation: continuation)
            for (index, publication) in publications.enumerated() {
                guard core.send(.basicPublish(publication), on: number, operation: operation) else {
                    let error = core.terminalError ?? AMQPError(code: .connectionClosed, operation: operation)
                    for rest in index..<publications.count { collector.set(rest, .failure(error)) }
                    return
                }
                channel.awaitConfirm(of: publication) { collector.set(index, $0) }
            }
        }
    }

    // MARK: - Consuming

    /// Limits how many unacknowledged deliveries the broker sends to this
    /// channel's consumers (`global: false`: per consumer).
    public func setPrefetch(_ count: UInt16, global: Bool = false) async throws {
        try await rpc(.basicQos(prefetchCount: count, global: global))
    }

    /// Starts a consumer on `queue`. Iterate the returned consumer for
    /// deliveries. The sequence ends normally after `cancel` or a clean close,
    /// and throws when the broker cancels the consumer (`.consumerCancelled`)
    /// or the channel or connection is lost.
    public func consume(
        queue: String, consumerTag: String? = nil, noAck: Bool = false, exclusive: Bool = false, arguments: AMQPTable = [:],
        maximumBodyBytes: Int = .max
    ) async throws -> AMQPConsumer {
        let deliveries = DeliveryBuffer(maximumBodyBytes: maximumBodyBytes)
        let tag = try await rpc("consuming from queue '\(queue)'", prepare: { channel throws(AMQPError) in
            let tag = try channel.addConsumer(tag: consumerTag, queue: queue, noAck: noAck, deliveries: deliveries)
            return .basicConsume(queue: queue, consumerTag: tag, noAck: noAck, exclusive: exclusive, arguments: arguments)
        }, complete: { channel, reply throws(AMQPError) in
            switch reply {
            case .success(let ok):
                return ok.consumerTag
            case .failure(let error):
                channel.removeConsumer(feeding: deliveries, because: error)
                throw error
            }
        })
        return AMQPConsumer(tag: tag, queue: queue, channel: self, deliveries: deliveries)
    }

    /// Stops a consumer. Deliveries already sent stay unacked on this channel
    /// until acked or the channel closes; the consumer's sequence then ends.
    public func cancel(consumerTag: String) async throws {
        try await rpc(.basicCancel(consumerTag: consumerTag)) { channel in channel.consumers.removeValue(forKey: consumerTag)?.finish() }
    }

    // MARK: - Acknowledging

    /// Acknowledges a delivery (and, with `multiple`, every earlier one on this channel).
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) async throws {
        try await send(.basicAck(deliveryTag, multiple: multiple))
    }

    /// Acknowledges a delivery without waiting for the frame to be written:
    /// one hand-off to the connection thread, no continuation. If the channel
    /// is gone by then, the ack is lost and the broker redelivers the message
    /// — so use it where a redelivery is harmless (Greenroom's turns dedupe).
    /// With `multiple`, every unacked delivery up to `deliveryTag` is acked
    /// by the one frame (`deliveryTag` itself must still be unacked).
    public func ackWithoutWaiting(_ deliveryTag: UInt64, multiple: Bool = false) {
        acknowledgeWithoutWaiting([.ack(deliveryTag, multiple: multiple)])
    }

    /// One acknowledgement frame, for `acknowledgeWithoutWaiting(_:)`.
    public enum Acknowledgement: Sendable, Equatable {
        /// basic.ack: the delivery, or with `multiple` every unacked one up to it.
        case ack(UInt64, multiple: Bool)
        /// basic.nack of one delivery, requeued or dead-lettered.
        case nack(UInt64, requeue: Bool)
    }

    /// Writes several acks and nacks, in order, in one hand-off to the
    /// connection thread, without waiting (see `ackWithoutWaiting`). Calls
    /// made one after another reach the broker in that order.
    public func acknowledgeWithoutWaiting(_ acknowledgements: [Acknowledgement]) {
        guard !acknowledgements.isEmpty else { return }
        acknowledgeWithoutWaiting { acknowledgements }
    }

    /// Like `acknowledgeWithoutWaiting(_:)`, but the frames are collected on
    /// the connection thread, when it gets to this hand-off: a caller can
    /// keep adding frames to what `collect` will return until then, so many
    /// acks arriving together cost one hand-off.
    public func acknowledgeWithoutWaiting(collecting collect: @escaping @Sendable () -> [Acknowledgement]) {
        let (number, ended) = (number, ended)
        connection.submit { core in
            let acknowledgements = collect()
            guard !acknowledgements.isEmpty, case .success = core.channel(number, ended, for: "acknowledging") else { return }
            for acknowledgement in acknowledgements {
                let method: AMQPMethod = switch acknowledgement {
                case .ack(let tag, let multiple): .basicAck(tag, multiple: multiple)
                case .nack(let tag, let requeue): .basicNack(tag, multiple: false, requeue: requeue)
                }
                guard core.send(method, on: number, operation: "acknowledging deliveries") else { return }
            }
        }
    }

    /// Negatively acknowledges a delivery; `requeue: false` dead-letters or drops it
    /// (per the queue's dead-letter settings).
    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) async throws {
        try await send(.basicNack(deliveryTag, multiple: multiple, requeue: requeue))
    }

    /// Rejects one delivery; `requeue: false` dead-letters or drops it.
    public func reject(_ deliveryTag: UInt64, requeue: Bool = true) async throws {
        try await send(.basicReject(deliveryTag, requeue: requeue))
    }

    // MARK: - Closing

    /// Closes the channel. Unacked deliveries go back to their queues; calls
    /// still waiting fail, and calls made from now on fail at once: nothing
    /// more is sent on it (see `AMQPConnectionCore.closeChannel`). Closing a
    /// channel that is already closed does nothing.
    public func close() async throws {
        let (number, ended) = (number, ended)
        try await connection.perform("closing channel \(number)") { (core, continuation: CheckedContinuation<Void, any Error>) in
            core.closeChannel(number, ended) { result in
                continuation.resume(with: result.mapError { $0 as any Error })
            }
        }
    }
}

/// One message to publish, with where it goes.
public struct AMQPPublication: Sendable {
    /// The message: body and properties.
    public var message: AMQPMessage
    /// The exchange to publish to; "" is the default exchange (routes by queue name).
    public var exchange: String
    /// The routing key the exchange routes by.
    public var routingKey: String
    /// Return the message as an error (`.unroutable`) when no queue matches.
    public var mandatory: Bool

    /// A message for `exchange` with `routingKey`.
    public init(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = false) {
        self.message = message
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
    }
}
