import CAMQP

/// Every AMQP method Greenroom sends, and the one place that encodes them.
///
/// Each case knows its method id (`id`), the reply the broker answers it with
/// (`reply`, nil when there is none), the phrase that names it in errors
/// (`operation`), and how to put itself on the wire (`send`): it builds
/// rabbitmq-c's method struct, with strings and tables copied into a `CArena`
/// that lives until the frame is written, and hands it to `amqp_send_method`
/// (or `amqp_basic_publish`, for the one method that carries content).
///
/// Not here: the login handshake and `connection.close`, which are
/// rabbitmq-c's own blocking exchanges (`AMQPConnectionCore.open` and
/// `closeConnection`).
enum AMQPMethod: Sendable {
    // Synchronous: the channel waits for `reply` before sending the next one.
    case channelOpen
    case channelClose
    case exchangeDeclare(String, kind: String, durable: Bool, autoDelete: Bool, internal: Bool, arguments: AMQPTable)
    case exchangeDelete(String, ifUnused: Bool)
    case queueDeclare(String, passive: Bool, durable: Bool, exclusive: Bool, autoDelete: Bool, arguments: AMQPTable)
    case queueBind(String, exchange: String, routingKey: String, arguments: AMQPTable)
    case queueUnbind(String, exchange: String, routingKey: String, arguments: AMQPTable)
    case queuePurge(String)
    case queueDelete(String, ifUnused: Bool, ifEmpty: Bool)
    case basicQos(prefetchCount: UInt16, global: Bool)
    case basicConsume(queue: String, consumerTag: String, noAck: Bool, exclusive: Bool, arguments: AMQPTable)
    case basicCancel(consumerTag: String)
    case confirmSelect

    // Asynchronous: no reply (a publish is confirmed separately, in confirm mode).
    case basicPublish(AMQPPublication)
    case basicAck(UInt64, multiple: Bool)
    case basicNack(UInt64, multiple: Bool, requeue: Bool)
    case basicReject(UInt64, requeue: Bool)

    // Answers to methods the broker sends.
    case channelCloseOK
    case channelFlowOK(active: Bool)
    case basicCancelOK(consumerTag: String)
    case connectionCloseOK

    /// The method's id on the wire.
    var id: amqp_method_number_t {
        switch self {
        case .channelOpen: AMQPMethodID.channelOpen
        case .channelClose: AMQPMethodID.channelClose
        case .exchangeDeclare: AMQPMethodID.exchangeDeclare
        case .exchangeDelete: AMQPMethodID.exchangeDelete
        case .queueDeclare: AMQPMethodID.queueDeclare
        case .queueBind: AMQPMethodID.queueBind
        case .queueUnbind: AMQPMethodID.queueUnbind
        case .queuePurge: AMQPMethodID.queuePurge
        case .queueDelete: AMQPMethodID.queueDelete
        case .basicQos: AMQPMethodID.basicQos
        case .basicConsume: AMQPMethodID.basicConsume
        case .basicCancel: AMQPMethodID.basicCancel
        case .confirmSelect: AMQPMethodID.confirmSelect
        case .basicPublish: AMQPMethodID.basicPublish
        case .basicAck: AMQPMethodID.basicAck
        case .basicNack: AMQPMethodID.basicNack
        case .basicReject: AMQPMethodID.basicReject
        case .channelCloseOK: AMQPMethodID.channelCloseOK
        case .channelFlowOK: AMQPMethodID.channelFlowOK
        case .basicCancelOK: AMQPMethodID.basicCancelOK
        case .connectionCloseOK: AMQPMethodID.connectionCloseOK
        }
    }

    /// The method the broker answers with, for synchronous methods.
    var reply: amqp_method_number_t? {
        switch self {
        case .channelOpen: AMQPMethodID.channelOpenOK
        case .channelClose: AMQPMethodID.channelCloseOK
        case .exchangeDeclare: AMQPMethodID.exchangeDeclareOK
        case .exchangeDelete: AMQPMethodID.exchangeDeleteOK
        case .queueDeclare: AMQPMethodID.queueDeclareOK
        case .queueBind: AMQPMethodID.queueBindOK
        case .queueUnbind: AMQPMethodID.queueUnbindOK
        case .queuePurge: AMQPMethodID.queuePurgeOK
        case .queueDelete: AMQPMethodID.queueDeleteOK
        case .basicQos: AMQPMethodID.basicQosOK
        case .basicConsume: AMQPMethodID.basicConsumeOK
        case .basicCancel: AMQPMethodID.basicCancelOK
        case .confirmSelect: AMQPMethodID.confirmSelectOK
        case .basicPublish, .basicAck, .basicNack, .basicReject,
             .channelCloseOK, .channelFlowOK, .basicCancelOK, .connectionCloseOK: nil
        }
    }

    /// What sending it means, for errors: "declaring queue 'jobs'".
    var operation: String {
        switch self {
        case .channelOpen: "opening a channel"
        case .channelClose: "closing the channel"
        case .exchangeDeclare(let name, _, _, _, _, _): "declaring exchange '\(name)'"
        case .exchangeDelete(let name, _): "deleting exchange '\(name)'"
        case .queueDeclare(let name, _, _, _, _, _): "declaring queue '\(name)'"
        case .queueBind(let queue, let exchange, _, _): "binding queue '\(queue)' to exchange '\(exchange)'"
        case .queueUnbind(let queue, let exchange, _, _): "unbinding queue '\(queue)' from exchange '\(exchange)'"
        case .queuePurge(let name): "purging queue '\(name)'"
        case .queueDelete(let name, _, _): "deleting queue '\(name)'"
        case .basicQos(let count, _): "setting prefetch to \(count)"
        case .basicConsume(let queue, _, _, _, _): "consuming from queue '\(queue)'"
        case .basicCancel(let tag): "cancelling consumer '\(tag)'"
        case .confirmSelect: "enabling publisher confirms"
        case .basicPublish(let publication): publication.operation
        case .basicAck(let tag, _): "acknowledging delivery \(tag)"
        case .basicNack(let tag, _, _): "nacking delivery \(tag)"
        case .basicReject(let tag, _): "rejecting delivery \(tag)"
        case .channelCloseOK: "confirming a channel close"
        case .channelFlowOK: "answering channel flow"
        case .basicCancelOK: "confirming a consumer cancel"
        case .connectionCloseOK: "confirming a connection close"
        }
    }

    /// Writes the method (and a publish's content) on `channel`; returns
    /// rabbitmq-c's status. Runs on the connection thread.
    func send(on channel: UInt16, through state: amqp_connection_state_t) -> Int32 {
        let arena = CArena()
        // The arena's memory must outlive the write, not just the encoding.
        return withExtendedLifetime(arena) {
            switch self {
            case .channelOpen:
                write(amqp_channel_open_t(out_of_band: amqp_bytes_t(len: 0, bytes: nil)), on: channel, through: state)
            case .channelClose:
                write(amqp_channel_close_t(reply_code: UInt16(AMQP_REPLY_SUCCESS), reply_text: arena.bytes("closing"), class_id: 0, method_id: 0),
                      on: channel, through: state)
            case let .exchangeDeclare(name, kind, durable, autoDelete, `internal`, arguments):
                write(amqp_exchange_declare_t(
                    ticket: 0, exchange: arena.bytes(name), type: arena.bytes(kind), passive: 0, durable: flag(durable),
                    auto_delete: flag(autoDelete), internal: flag(`internal`), nowait: 0, arguments: arena.table(arguments)), on: channel, through: state)
            case let .exchangeDelete(name, ifUnused):
                write(amqp_exchange_delete_t(ticket: 0, exchange: arena.bytes(name), if_unused: flag(ifUnused), nowait: 0), on: channel, through: state)
            case let .queueDeclare(name, passive, durable, exclusive, autoDelete, arguments):
                write(amqp_queue_declare_t(
                    ticket: 0, queue: arena.bytes(name), passive: flag(passive), durable: flag(durable), exclusive: flag(exclusive),
                    auto_delete: flag(autoDelete), nowait: 0, arguments: arena.table(arguments)), on: channel, through: state)
            case let .queueBind(queue, exchange, routingKey, arguments):
                write(amqp_queue_bind_t(
                    ticket: 0, queue: arena.bytes(queue), exchange: arena.bytes(exchange), routing_key: arena.bytes(routingKey),
                    nowait: 0, arguments: arena.table(arguments)), on: channel, through: state)
            case let .queueUnbind(queue, exchange, routingKey, arguments):
                write(amqp_queue_unbind_t(
                    ticket: 0, queue: arena.bytes(queue), exchange: arena.bytes(exchange), routing_key: arena.bytes(routingKey),
                    arguments: arena.table(arguments)), on: channel, through: state)
            case let .queuePurge(name):
                write(amqp_queue_purge_t(ticket: 0, queue: arena.bytes(name), nowait: 0), on: channel, through: state)
            case let .queueDelete(name, ifUnused, ifEmpty):
                write(amqp_queue_delete_t(ticket: 0, queue: arena.bytes(name), if_unused: flag(ifUnused), if_empty: flag(ifEmpty), nowait: 0),
                      on: channel, through: state)
            case let .basicQos(count, global):
                write(amqp_basic_qos_t(prefetch_size: 0, prefetch_count: count, global: flag(global)), on: channel, through: state)
            case let .basicConsume(queue, tag, noAck, exclusive, arguments):
                write(amqp_basic_consume_t(
                    ticket: 0, queue: arena.bytes(queue), consumer_tag: arena.bytes(tag), no_local: 0, no_ack: flag(noAck),
                    exclusive: flag(exclusive), nowait: 0, arguments: arena.table(arguments)), on: channel, through: state)
            case let .basicCancel(tag):
                write(amqp_basic_cancel_t(consumer_tag: arena.bytes(tag), nowait: 0), on: channel, through: state)
            case .confirmSelect:
                write(amqp_confirm_select_t(nowait: 0), on: channel, through: state)
            case let .basicPublish(publication):
                publish(publication, on: channel, through: state, arena: arena)
            case let .basicAck(tag, multiple):
                write(amqp_basic_ack_t(delivery_tag: tag, multiple: flag(multiple)), on: channel, through: state)
            case let .basicNack(tag, multiple, requeue):
                write(amqp_basic_nack_t(delivery_tag: tag, multiple: flag(multiple), requeue: flag(requeue)), on: channel, through: state)
            case let .basicReject(tag, requeue):
                write(amqp_basic_reject_t(delivery_tag: tag, requeue: flag(requeue)), on: channel, through: state)
            case .channelCloseOK:
                write(amqp_channel_close_ok_t(dummy: 0), on: channel, through: state)
            case let .channelFlowOK(active):
                write(amqp_channel_flow_ok_t(active: flag(active)), on: channel, through: state)
            case let .basicCancelOK(tag):
                write(amqp_basic_cancel_ok_t(consumer_tag: arena.bytes(tag)), on: channel, through: state)
            case .connectionCloseOK:
                write(amqp_connection_close_ok_t(dummy: 0), on: channel, through: state)
            }
        }
    }

    private func write<Method: BitwiseCopyable>(_ method: Method, on channel: UInt16, through state: amqp_connection_state_t) -> Int32 {
        var method = method
        return withUnsafeMutableBytes(of: &method) { amqp_send_method(state, channel, id, $0.baseAddress) }
    }

    /// basic.publish, then the content header and body frames.
    private func publish(_ publication: AMQPPublication, on channel: UInt16, through state: amqp_connection_state_t, arena: CArena) -> Int32 {
        var properties = arena.properties(publication.message.properties)
        let exchange = arena.bytes(publication.exchange)
        let routingKey = arena.bytes(publication.routingKey)
        return publication.message.body.withUnsafeBytes { raw in
            amqp_basic_publish(state, channel, exchange, routingKey, flag(publication.mandatory), 0, &properties,
                               amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
        }
    }
}

// MARK: - Replies

/// Reading the replies of synchronous methods. Runs on the connection thread
/// while rabbitmq-c's decoded reply is valid, and copies what it reads.
extension amqp_method_t {
    /// queue.declare-ok: the queue's name and counts.
    var declaredQueue: AMQPChannel.QueueInfo {
        let ok = decoded.assumingMemoryBound(to: amqp_queue_declare_ok_t.self).pointee
        return AMQPChannel.QueueInfo(name: CDecode.string(ok.queue), messageCount: ok.message_count, consumerCount: ok.consumer_count)
    }

    /// basic.consume-ok: the consumer's tag.
    var consumerTag: String {
        CDecode.string(decoded.assumingMemoryBound(to: amqp_basic_consume_ok_t.self).pointee.consumer_tag)
    }

    /// queue.purge-ok and queue.delete-ok: how many messages went.
    var messageCount: UInt32 {
        switch id {
        case AMQPMethodID.queuePurgeOK: decoded.assumingMemoryBound(to: amqp_queue_purge_ok_t.self).pointee.message_count
        case AMQPMethodID.queueDeleteOK: decoded.assumingMemoryBound(to: amqp_queue_delete_ok_t.self).pointee.message_count
        default: preconditionFailure("method \(id) carries no message count")
        }
    }
}

extension AMQPPublication {
    /// What publishing it means, for errors.
    var operation: String { "publishing to exchange '\(exchange)' with routing key '\(routingKey)'" }
}

/// rabbitmq-c's boolean.
@inline(__always)
func flag(_ value: Bool) -> amqp_boolean_t { value ? 1 : 0 }
