import CAMQP

/// What the connection thread does with each frame the broker sends.
extension AMQPConnectionCore {
    func handle(_ frame: amqp_frame_t) {
        switch Int32(frame.frame_type) {
        case AMQP_FRAME_METHOD:
            handleMethod(frame.payload.method, on: frame.channel)
        case AMQP_FRAME_HEADER:
            handleHeader(frame, on: frame.channel)
        case AMQP_FRAME_BODY:
            handleBody(frame.payload.body_fragment, on: frame.channel)
        default:
            break  // heartbeats are handled inside rabbitmq-c
        }
    }

    private func handleMethod(_ method: amqp_method_t, on number: UInt16) {
        if number == 0 {
            handleConnectionMethod(method)
            return
        }
        guard let channel = channels[number] else {
            logger.debug("AMQP method for unknown channel", metadata: ["channel": "\(number)", "method": "\(method.id)"])
            return
        }
        switch method.id {
        case AMQPMethodID.basicDeliver:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            channel.incoming = .init(kind: .delivery(
                consumerTag: CDecode.string(deliver.consumer_tag), deliveryTag: deliver.delivery_tag,
                redelivered: deliver.redelivered != 0, exchange: CDecode.string(deliver.exchange),
                routingKey: CDecode.string(deliver.routing_key)))
        case AMQPMethodID.basicReturn:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            channel.incoming = .init(kind: .returned(
                replyCode: returned.reply_code, replyText: CDecode.string(returned.reply_text),
                exchange: CDecode.string(returned.exchange), routingKey: CDecode.string(returned.routing_key)))
        case AMQPMethodID.basicAck:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            channel.confirm(tag: ack.delivery_tag, multiple: ack.multiple != 0, nacked: false)
        case AMQPMethodID.basicNack:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            channel.confirm(tag: nack.delivery_tag, multiple: nack.multiple != 0, nacked: true)
        case AMQPMethodID.basicCancel:
            // The broker cancelled a consumer: its queue was deleted, or it moved.
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = CDecode.string(cancel.consumer_tag)
            if let consumer = channel.consumers.removeValue(forKey: tag) {
                logger.info("RabbitMQ cancelled a consumer", metadata: ["queue": "\(consumer.queue)", "consumer": "\(tag)"])
                consumer.finish(throwing: AMQPError(
                    code: .consumerCancelled, operation: "consuming from queue '\(consumer.queue)'",
                    detail: "the broker cancelled the consumer (its queue was deleted or became unavailable)"))
            }
            if cancel.nowait == 0 { send(.basicCancelOK(consumerTag: tag), on: number) }
        case AMQPMethodID.channelClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let error = AMQPError(code: .channelClosed, operation: channel.rpcs.first?.operation ?? "using channel \(number)",
                                  replyCode: close.reply_code, replyText: CDecode.string(close.reply_text))
            logger.debug("RabbitMQ closed a channel", metadata: ["channel": "\(number)", "error": "\(error)"])
            let status = AMQPMethod.channelCloseOK.send(on: number, through: state)
            channels[number] = nil
            channel.shutDown(because: error)
            if status != AMQP_STATUS_OK.rawValue { failWrite(status, operation: AMQPMethod.channelCloseOK.operation) }
        case AMQPMethodID.channelFlow:
            let flow = method.decoded.assumingMemoryBound(to: amqp_channel_flow_t.self).pointee
            send(.channelFlowOK(active: flow.active != 0), on: number)
        default:
            completeRPC(method, on: channel)
        }
    }

    private func completeRPC(_ method: amqp_method_t, on channel: AMQPChannelState) {
        guard let head = channel.rpcs.first, head.method.reply == method.id else {
            logger.debug("unexpected AMQP method", metadata: ["channel": "\(channel.number)", "method": "\(method.id)"])
            return
        }
        channel.rpcs.removeFirst()
        head.complete(.success(method))
        if !channel.rpcs.isEmpty, channels[channel.number] === channel {
            // Send the next one only after the completion ran: it may have closed the channel.
            sendHeadRPC(of: channel)
        }
    }

    private func handleConnectionMethod(_ method: amqp_method_t) {
        switch method.id {
        case AMQPMethodID.connectionClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let error = AMQPError(code: .connectionClosed, operation: "using the RabbitMQ connection to \(configuration.endpoint)",
                                  endpoint: configuration.endpoint, replyCode: close.reply_code, replyText: CDecode.string(close.reply_text))
            _ = AMQPMethod.connectionCloseOK.send(on: 0, through: state)
            terminate(error)
        case AMQPMethodID.connectionBlocked:
            let blocked = method.decoded.assumingMemoryBound(to: amqp_connection_blocked_t.self).pointee
            logger.warning("RabbitMQ blocked publishing on this connection", metadata: ["reason": "\(CDecode.string(blocked.reason))"])
        case AMQPMethodID.connectionUnblocked:
            logger.info("RabbitMQ unblocked publishing on this connection")
        default:
            logger.debug("unexpected AMQP connection method", metadata: ["method": "\(method.id)"])
        }
    }

    private func handleHeader(_ frame: amqp_frame_t, on number: UInt16) {
        guard let channel = channels[number], var incoming = channel.incoming else { return }
        if let decoded = frame.payload.properties.decoded {
            incoming.properties = CDecode.properties(decoded.assumingMemoryBound(to: amqp_basic_properties_t.self).pointee)
        }
        incoming.expectedSize = Int(frame.payload.properties.body_size)
        // Checked from the declared size, before any body frame: an oversized
        // body is skipped frame by frame, never held in memory.
        if case .delivery(let consumerTag, _, _, _, _) = incoming.kind, let consumer = channel.consumers[consumerTag],
           incoming.expectedSize > consumer.maximumBodyBytes {
            incoming.oversized = true
        } else {
            incoming.body.reserveCapacity(incoming.expectedSize)
        }
        channel.incoming = incoming
        if incoming.expectedSize == 0 { finishIncoming(on: channel) }
    }

    private func handleBody(_ fragment: amqp_bytes_t, on number: UInt16) {
        guard let channel = channels[number], channel.incoming != nil else { return }
        if channel.incoming!.oversized {
            channel.incoming!.skipped += fragment.len
            // rabbitmq-c decoded the fragment into the channel's pool, which
            // would otherwise keep every frame of the round (the whole body).
            amqp_maybe_release_buffers_on_channel(state, number)
            if channel.incoming!.skipped >= channel.incoming!.expectedSize { finishIncoming(on: channel) }
            return
        }
        if fragment.len > 0, let bytes = fragment.bytes {
            channel.incoming!.body.append(contentsOf: UnsafeRawBufferPointer(start: bytes, count: fragment.len))
        }
        if channel.incoming!.body.count >= channel.incoming!.expectedSize { finishIncoming(on: channel) }
    }

    private func finishIncoming(on channel: AMQPChannelState) {
        guard let incoming = channel.incoming else { return }
        channel.incoming = nil
        switch incoming.kind {
        case let .delivery(consumerTag, deliveryTag, redelivered, exchange, routingKey):
            guard let consumer = channel.consumers[consumerTag] else {
                logger.debug("delivery for unknown consumer", metadata: ["consumer": "\(consumerTag)"])
                return
            }
            let first = consumer.buffer(AMQPDelivery(
                body: incoming.body, properties: incoming.properties, deliveryTag: deliveryTag, redelivered: redelivered,
                exchange: exchange, routingKey: routingKey, consumerTag: consumerTag,
                oversizedBodyBytes: incoming.oversized ? incoming.expectedSize : nil))
            if first { consumersToFlush.append(consumer) }
        case let .returned(replyCode, replyText, exchange, routingKey):
            let error = AMQPError(
                code: .unroutable, operation: "publishing to exchange '\(exchange)' with routing key '\(routingKey)'",
                replyCode: replyCode, replyText: replyText,
                detail: "no queue is bound for this routing key")
            channel.markReturned(exchange: exchange, routingKey: routingKey, messageID: incoming.properties.messageID, error: error)
        }
    }
}
