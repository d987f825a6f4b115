import Broker
import Synchronization

/// Request/reply over RabbitMQ's direct reply-to: one channel consumes
/// `amq.rabbitmq.reply-to` and publishes the requests (direct reply-to needs
/// both on the same channel); replies are matched by correlation id.
final class ReplyListener: Sendable {
    private let channel: AMQPChannel
    private let waiting = Mutex<[String: CheckedContinuation<AMQPDelivery, any Error>]>([:])

    private init(channel: AMQPChannel) {
        self.channel = channel
    }

    static func start(on connection: AMQPConnection) async throws -> ReplyListener {
        let channel = try await connection.openChannel()
        let consumer = try await channel.consume(queue: AMQPChannel.directReplyTo, noAck: true)
        try await channel.enableConfirms()
        let listener = ReplyListener(channel: channel)
        Task {
            do {
                for try await reply in consumer {
                    guard let id = reply.properties.correlationID else { continue }
                    listener.waiting.withLock { $0.removeValue(forKey: id) }?.resume(returning: reply)
                }
                listener.failAll(AMQPError(code: .channelClosed, operation: "waiting for a reply", detail: "the reply channel closed"))
            } catch {
                listener.failAll(error)
            }
        }
        return listener
    }

    private func failAll(_ error: any Error) {
        let all = waiting.withLock { waiting in
            defer { waiting.removeAll() }
            return waiting
        }
        for (_, continuation) in all { continuation.resume(throwing: error) }
    }

    /// Publishes a request and waits for the reply carrying `correlationID`.
    func request(_ publication: AMQPPublication, correlationID: String, timeout: Duration, target: ActorAddress) async throws -> AMQPDelivery {
        try await withThrowingTaskGroup(of: AMQPDelivery?.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    self.waiting.withLock { $0[correlationID] = continuation }
                    Task {
                        do {
                            try await self.channel.publish(publication.message, exchange: publication.exchange,
                                                           routingKey: publication.routingKey, mandatory: publication.mandatory)
                        } catch {
                            self.waiting.withLock { $0.removeValue(forKey: correlationID) }?.resume(throwing: error)
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            if let first = try await group.next(), let reply = first {
                return reply
            }
            waiting.withLock { $0.removeValue(forKey: correlationID) }?.resume(throwing: AskTimedOut(address: target, timeout: timeout))
            throw AskTimedOut(address: target, timeout: timeout)
        }
    }
}
