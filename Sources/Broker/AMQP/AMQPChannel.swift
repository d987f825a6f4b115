import CAMQP

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

    public let connection: AMQPConnection
    /// The channel number on the connection.
    public let number: UInt16
    /// Shared with the thread-side state: why this channel ended, once it has.
    private let ended: EndReason

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
        public var messageCount: UInt32
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
        try await rpc("declaring exchange '\(name)'", expecting: AMQPMethodID.exchangeDeclareOK, send: { core, number in
            let arena = CArena()
            return core.sendMethod(AMQPMethodID.exchangeDeclare, on: number, amqp_exchange_declare_t(
                ticket: 0, exchange: arena.bytes(name), type: arena.bytes(kind.rawValue), passive: 0, durable: flag(durable),
                auto_delete: flag(autoDelete), internal: flag(`internal`), nowait: 0, arguments: arena.table(arguments)))
        }, decode: { _, _ in () })
    }

    /// Deletes an exchange.
    public func deleteExchange(_ name: String, ifUnused: Bool = false) async throws {
        try await rpc("deleting exchange '\(name)'", expecting: AMQPMethodID.exchangeDeleteOK, send: { core, number in
            let arena = CArena()
            return core.sendMethod(AMQPMethodID.exchangeDelete, on: number, amqp_exchange_delete_t(
                ticket: 0, exchange: arena.bytes(name), if_unused: flag(ifUnused), nowait: 0))
        }, decode: { _, _ in () })
    }

    /// Declares a queue and returns its name and counts. With `passive`, only
    /// checks that it exists (a missing queue closes the channel with 404).
    @discardableResult
    public func declareQueue(
        _ name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        passive: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> QueueInfo {
        try await rpc("declaring queue '\(name)'", expecting: AMQPMethodID.queueDeclareOK, send: { core, number in
            let arena = CArena()
            return core.sendMethod(AMQPMethodID.queueDeclare, on: number, amqp_queue_declare_t(
                ticket: 0, queue: arena.bytes(name), passive: flag(passive), durable: flag(durable), exclusive: flag(exclusive),
                auto_delete: flag(autoDelete), nowait: 0, arguments: arena.table(arguments)))
        }, decode: { method, _ in
            let ok = method.decoded.assumingMemoryBound(to: amqp_queue_declare_ok_t.self).pointee
            return QueueInfo(name: CDecode.string(ok.queue), messageCount: ok.message_count, consumerCount: ok.consumer_count)
        })
    }

    /// Reports a queue's message and consumer counts without changing it.
    public func inspectQueue(_ name: String) async throws -> QueueInfo {
        try await declareQueue(name, passive: true)
    }

    /// Binds a queue to an exchange.
    public func bindQueue(_ queue: String, to exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        try await rpc("binding queue '\(queue)' to exchange '\(exchange)'", expecting: AMQPMethodID.queueBindOK, send: { core, number in
            let arena = CArena()
            return core.sendMethod(AMQPMethodID.queueBind, on: number, amqp_queue_bind_t(
                ticket: 0, queue: arena.bytes(queue), exchange: arena.bytes(exchange), routing_key: arena.bytes(routingKey),
                nowait: 0, arguments: arena.table(arguments)))
        }, decode: { _, _ in () })
    }

    /// Removes a binding.
    public func unbindQueue(_ queue: String, from exchange: String, routingKey: String, arguments: AMQPTable = [:]) async throws {
        try await rpc("unbinding queue '\(queue)' from exchange '\(exchange)'", expecting: AMQPMethodID.queueUnbindOK, send: { core, number in
            let arena = CArena()
            return core.sendMethod(AMQPMethodID.queueUnbind, on: number, amqp_queue_unbind_t(
                ticket: 0, queue: arena.bytes(queue), exchange: arena.bytes(exchange), routing_key: arena.bytes(routingKey),
                arguments: arena.table(arguments)))
        }, decode: { _, _ in () })
    }

    /// Removes every ready message from a queue; returns how many.
    @discardableResult
    public func purgeQueue(_ name: String) async throws -> UInt32 {
        try await rpc("purging queue '\(name)'", expecting: AMQPMethodID.queuePurgeOK, send: { core, number in
            let arena = CArena()
            return core.sendMethod(AMQPMethodID.queuePurge, on: number, amqp_queue_purge_t(ticket: 0, queue: arena.bytes(name), nowait: 0))
        }, decode: { method, _ in
            method.decoded.assumingMemoryBound(to: amqp_queue_purge_ok_t.self).pointee.message_count
        })
    }

    /// Deletes a queue; returns how many messages it held.
    @discardableResult
    public func deleteQueue(_ name: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        try await rpc("deleting queue '\(name)'", expecting: AMQPMethodID.queueDeleteOK, send: { core, number in
            let arena = CArena()
            return core.sendMethod(AMQPMethodID.queueDelete, on: number, amqp_queue_delete_t(
                ticket: 0, queue: arena.bytes(name), if_unused: flag(ifUnused), if_empty: flag(ifEmpty), nowait: 0))
        }, decode: { method, _ in
            method.decoded.assumingMemoryBound(to: amqp_queue_delete_ok_t.self).pointee.message_count
        })
    }

    // MARK: - Publishing

    /// Puts the channel in confirm mode: from now on `publish` returns only
    /// once the broker has taken responsibility for the message.
    public func enableConfirms() async throws {
        try await rpc("enabling publisher confirms", expecting: AMQPMethodID.confirmSelectOK, send: { core, number in
            core.sendMethod(AMQPMethodID.confirmSelect, on: number, amqp_confirm_select_t(nowait: 0))
        }, decode: { _, channel in channel.confirmMode = true })
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
        let operation = publications.count == 1
            ? "publishing to exchange '\(publications[0].exchange)' with routing key '\(publications[0].routingKey)'"
            : "publishing \(publications.count) messages"
        let (number, ended) = (number, ended)
        return try await connection.perform(operation) { core, continuation in
            let channel: AMQPChannelState
            switch core.channel(number, ended, for: operation) {
            case .failure(let error): continuation.resume(throwing: error); return
            case .success(let open): channel = open
            }
            let collector = ResultGatherer(count: publications.count, continuation: continuation)
            for (index, publication) in publications.enumerated() {
                let arena = CArena()
                var properties = arena.properties(publication.message.properties)
                let status = publication.message.body.withUnsafeBytes { raw in
                    amqp_basic_publish(core.state, number, arena.bytes(publication.exchange), arena.bytes(publication.routingKey),
                                       flag(publication.mandatory), 0, &properties,
                                       amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
                }
                guard status == AMQP_STATUS_OK.rawValue else {
                    let error = AMQPError(code: .connectionClosed, operation: operation, detail: String(cString: amqp_error_string2(status)))
                    for rest in index..<publications.count { collector.set(rest, .failure(error)) }
                    core.failWrite(status, operation: operation)
                    return
                }
                guard channel.confirmMode else {
                    collector.set(index, .success(()))
                    continue
                }
                let sequence = channel.nextPublishSequence
                channel.nextPublishSequence += 1
                channel.pendingPublishes[sequence] = .init(
                    complete: { collector.set(index, $0) }, exchange: publication.exchange,
                    routingKey: publication.routingKey, messageID: publication.message.properties.messageID)
            }
        }
    }

    // MARK: - Consuming

    /// Limits how many unacknowledged deliveries the broker sends to this
    /// channel's consumers (`global: false`: per consumer).
    public func setPrefetch(_ count: UInt16, global: Bool = false) async throws {
        try await rpc("setting prefetch to \(count)", expecting: AMQPMethodID.basicQosOK, send: { core, number in
            core.sendMethod(AMQPMethodID.basicQos, on: number, amqp_basic_qos_t(prefetch_size: 0, prefetch_count: count, global: flag(global)))
        }, decode: { _, _ in () })
    }

    /// Starts a consumer on `queue`. Iterate the returned consumer for
    /// deliveries. The sequence ends normally after `cancel` or a clean close,
    /// and throws when the broker cancels the consumer (`.consumerCancelled`)
    /// or the channel or connection is lost.
    public func consume(
        queue: String, consumerTag: String? = nil, noAck: Bool = false, exclusive: Bool = false, arguments: AMQPTable = [:]
    ) async throws -> AMQPConsumer {
        let operation = "consuming from queue '\(queue)'"
        let deliveries = DeliveryBuffer()
        let (number, ended) = (number, ended)
        let tag: String = try await connection.perform(operation) { core, continuation in
            let channel: AMQPChannelState
            switch core.channel(number, ended, for: operation) {
            case .failure(let error): continuation.resume(throwing: error); return
            case .success(let open): channel = open
            }
            let tag = consumerTag ?? "greenroom-\(number)-\(channel.nextConsumerNumber)"
            channel.nextConsumerNumber += 1
            guard channel.consumers[tag] == nil else {
                continuation.resume(throwing: AMQPError(code: .invalidArgument, operation: operation, detail: "consumer tag '\(tag)' is already in use on this channel"))
                return
            }
            channel.consumers[tag] = .init(queue: queue, noAck: noAck, deliveries: deliveries)
            core.enqueueRPC(.init(
                operation: operation, expecting: [AMQPMethodID.basicConsumeOK],
                send: { core in
                    let arena = CArena()
                    return core.sendMethod(AMQPMethodID.basicConsume, on: number, amqp_basic_consume_t(
                        ticket: 0, queue: arena.bytes(queue), consumer_tag: arena.bytes(tag), no_local: 0, no_ack: flag(noAck),
                        exclusive: flag(exclusive), nowait: 0, arguments: arena.table(arguments)))
                },
                complete: { result in
                    switch result {
                    case .success: continuation.resume(returning: tag)
                    case .failure(let error):
                        channel.consumers[tag] = nil
                        deliveries.finish(throwing: error)
                        continuation.resume(throwing: error)
                    }
                }), on: channel)
        }
        return AMQPConsumer(tag: tag, queue: queue, channel: self, deliveries: deliveries)
    }

    /// Stops a consumer. Deliveries already sent stay unacked on this channel
    /// until acked or the channel closes; the consumer's sequence then ends.
    public func cancel(consumerTag: String) async throws {
        try await rpc("cancelling consumer '\(consumerTag)'", expecting: AMQPMethodID.basicCancelOK, send: { core, number in
            let arena = CArena()
            return core.sendMethod(AMQPMethodID.basicCancel, on: number, amqp_basic_cancel_t(consumer_tag: arena.bytes(consumerTag), nowait: 0))
        }, decode: { _, channel in
            channel.consumers.removeValue(forKey: consumerTag)?.finish()
        })
    }

    // MARK: - Acknowledging

    /// Acknowledges a delivery (and, with `multiple`, every earlier one on this channel).
    public func ack(_ deliveryTag: UInt64, multiple: Bool = false) async throws {
        try await send("acknowledging delivery \(deliveryTag)") { core, number in
            amqp_basic_ack(core.state, number, deliveryTag, flag(multiple))
        }
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
        let (number, ended) = (number, ended)
        connection.submit { core in
            guard case .success = core.channel(number, ended, for: "acknowledging") else { return }
            for acknowledgement in acknowledgements {
                let status = switch acknowledgement {
                case .ack(let tag, let multiple): amqp_basic_ack(core.state, number, tag, flag(multiple))
                case .nack(let tag, let requeue): amqp_basic_nack(core.state, number, tag, 0, flag(requeue))
                }
                if status != AMQP_STATUS_OK.rawValue {
                    core.failWrite(status, operation: "acknowledging deliveries")
                    return
                }
            }
        }
    }

    /// Negatively acknowledges a delivery; `requeue: false` dead-letters or drops it
    /// (per the queue's dead-letter settings).
    public func nack(_ deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) async throws {
        try await send("nacking delivery \(deliveryTag)") { core, number in
            amqp_basic_nack(core.state, number, deliveryTag, flag(multiple), flag(requeue))
        }
    }

    /// Rejects one delivery; `requeue: false` dead-letters or drops it.
    public func reject(_ deliveryTag: UInt64, requeue: Bool = true) async throws {
        try await send("rejecting delivery \(deliveryTag)") { core, number in
            amqp_basic_reject(core.state, number, deliveryTag, flag(requeue))
        }
    }

    // MARK: - Closing

    /// Closes the channel. Unacked deliveries go back to their queues; calls
    /// still waiting fail. Closing a channel that is already closed does nothing.
    public func close() async throws {
        let (number, ended) = (number, ended)
        try await connection.perform("closing channel \(number)") { (core, continuation: CheckedContinuation<Void, any Error>) in
            guard let channel = core.channels[number], channel.ended === ended, channel.closedBecause == nil else {
                continuation.resume()
                return
            }
            core.enqueueRPC(.init(
                operation: "closing channel \(number)", expecting: [AMQPMethodID.channelCloseOK],
                send: { core in
                    let arena = CArena()
                    return core.sendMethod(AMQPMethodID.channelClose, on: number, amqp_channel_close_t(
                        reply_code: UInt16(AMQP_REPLY_SUCCESS), reply_text: arena.bytes("closing"), class_id: 0, method_id: 0))
                },
                complete: { result in
                    if core.channels[number] === channel { core.channels[number] = nil }
                    channel.shutDown(because: nil)
                    switch result {
                    case .success: continuation.resume()
                    case .failure(let error): continuation.resume(throwing: error)
                    }
                }), on: channel)
        }
    }

    // MARK: - Plumbing

    /// Sends a synchronous method and waits for its reply; `decode` runs on the
    /// connection thread while the reply's memory is valid.
    private func rpc<T: Sendable>(
        _ operation: String, expecting reply: amqp_method_number_t,
        send: @escaping @Sendable (AMQPConnectionCore, UInt16) -> Int32,
        decode: @escaping @Sendable (amqp_method_t, AMQPChannelState) -> T
    ) async throws -> T {
        let (number, ended) = (number, ended)
        return try await connection.perform(operation) { core, continuation in
            switch core.channel(number, ended, for: operation) {
            case .failure(let error):
                continuation.resume(throwing: error)
            case .success(let channel):
                core.enqueueRPC(.init(
                    operation: operation, expecting: [reply],
                    send: { core in send(core, number) },
                    complete: { result in
                        switch result {
                        case .success(let method): continuation.resume(returning: decode(method, channel))
                        case .failure(let error): continuation.resume(throwing: error)
                        }
                    }), on: channel)
            }
        }
    }

    /// Sends an asynchronous method (no reply) and returns once it is written.
    private func send(_ operation: String, _ body: @escaping @Sendable (AMQPConnectionCore, UInt16) -> Int32) async throws {
        let (number, ended) = (number, ended)
        try await connection.perform(operation) { (core, continuation: CheckedContinuation<Void, any Error>) in
            switch core.channel(number, ended, for: operation) {
            case .failure(let error):
                continuation.resume(throwing: error)
            case .success:
                let status = body(core, number)
                if status == AMQP_STATUS_OK.rawValue {
                    continuation.resume()
                } else {
                    continuation.resume(throwing: AMQPError(code: .connectionClosed, operation: operation, detail: String(cString: amqp_error_string2(status))))
                    core.failWrite(status, operation: operation)
                }
            }
        }
    }
}

/// One message to publish, with where it goes.
public struct AMQPPublication: Sendable {
    public var message: AMQPMessage
    public var exchange: String
    public var routingKey: String
    /// Return the message as an error (`.unroutable`) when no queue matches.
    public var mandatory: Bool

    public init(_ message: AMQPMessage, exchange: String = "", routingKey: String, mandatory: Bool = false) {
        self.message = message
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
    }
}

/// rabbitmq-c's boolean.
@inline(__always)
func flag(_ value: Bool) -> amqp_boolean_t { value ? 1 : 0 }
