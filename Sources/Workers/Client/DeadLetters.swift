import Broker
import Foundation
import Synchronization

/// A message in `greenroom.dead`, with why it died.
public struct DeadLetter: Sendable, Codable {
    public var target: String?
    public var kind: String?
    public var messageID: String?
    public var reason: String
    public var attempts: Int
    public var worker: String?
    /// Seconds since the Unix epoch.
    public var deadAt: UInt64?
    public var body: String
}

extension GreenroomClient {
    /// Reads up to `limit` dead letters without removing them (they go back
    /// to the queue, in order, when the browsing channel closes).
    public func deadLetters(limit: Int = 100, timeout: Duration = .seconds(5)) async throws -> [DeadLetter] {
        try await withDeadLetters(limit: limit, timeout: timeout) { _, deliveries in
            deliveries.map(Self.describe)
        }
    }

    /// Sends up to `limit` dead letters back to their actors (death headers
    /// removed, same message id) and removes them from the dead-letter queue.
    /// Messages that never had a valid target are left where they are.
    /// Returns how many were replayed.
    /// Only those matching `predicate` (all by default) are replayed.
    public func replayDeadLetters(limit: Int = 100, timeout: Duration = .seconds(5),
                                  matching predicate: @Sendable (DeadLetter) -> Bool = { _ in true }) async throws -> Int {
        try await withDeadLetters(limit: limit, timeout: timeout, confirms: true) { channel, deliveries in
            try await replay(deliveries.filter { predicate(Self.describe($0)) }, on: channel)
        }
    }

    private func replay(_ deliveries: [AMQPDelivery], on channel: AMQPChannel) async throws -> Int {
        var replayed = 0
        for delivery in deliveries {
            guard let to = delivery.properties.headers[WireFormat.toHeader]?.stringValue,
                  let target = try? ActorAddress(parsing: to),
                  let partition = try? await store.partition(of: target) else { continue }
            var message = AMQPMessage(body: delivery.body, properties: delivery.properties)
            for header in [WireFormat.errorHeader, WireFormat.attemptsHeader, WireFormat.workerHeader, WireFormat.deadAtHeader,
                           WireFormat.actorHeader, WireFormat.originalRoutingKeyHeader, "x-death", "x-first-death-exchange",
                           "x-first-death-queue", "x-first-death-reason"] {
                message.properties.headers[header] = nil
            }
            try await channel.publish(message, exchange: Topology.actorsExchange,
                                      routingKey: partition.routingKey, mandatory: true)
            try await channel.ack(delivery.deliveryTag)
            replayed += 1
        }
        return replayed
    }

    /// Removes and returns the dead letters (among the first `limit`) that
    /// match `predicate`; the others stay in the queue.
    public func takeDeadLetters(limit: Int = 1_000, timeout: Duration = .seconds(5),
                                matching predicate: @Sendable (DeadLetter) -> Bool) async throws -> [DeadLetter] {
        try await withDeadLetters(limit: limit, timeout: timeout) { channel, deliveries in
            var taken: [DeadLetter] = []
            for delivery in deliveries {
                let letter = Self.describe(delivery)
                if predicate(letter) {
                    try await channel.ack(delivery.deliveryTag)
                    taken.append(letter)
                }
            }
            return taken
        }
    }
    /// Deletes every dead letter; returns how many there were.
    public func purgeDeadLetters() async throws -> Int {
        let channel = try await amqp.openChannel()
        defer { Task { try? await channel.close() } }
        return Int(try await channel.purgeQueue(Topology.deadQueue))
    }

    /// Opens a channel, takes up to `limit` dead letters (waiting at most
    /// `timeout`), hands them to `body` to ack or leave, then closes the
    /// channel: whatever `body` did not ack goes back to the queue, in order.
    private func withDeadLetters<T>(
        limit: Int, timeout: Duration, confirms: Bool = false,
        _ body: (AMQPChannel, [AMQPDelivery]) async throws -> T
    ) async throws -> T {
        let channel = try await amqp.openChannel()
        do {
            if confirms { try await channel.enableConfirms() }
            let available = Int(try await channel.inspectQueue(Topology.deadQueue).messageCount)
            let wanted = min(limit, available)
            var deliveries: [AMQPDelivery] = []
            if wanted > 0 {
                try await channel.setPrefetch(UInt16(clamping: wanted))
                let consumer = try await channel.consume(queue: Topology.deadQueue)
                try await Self.collect(wanted, from: consumer, timeout: timeout) { deliveries.append($0) }
            }
            let result = try await body(channel, deliveries)
            try await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Takes up to `count` deliveries, giving up after `timeout` (messages may
    /// be taken by someone else meanwhile).
    private static func collect(_ count: Int, from consumer: AMQPConsumer, timeout: Duration,
                                _ body: (AMQPDelivery) throws -> Void) async throws {
        let collected = Mutex<[AMQPDelivery]>([])
        let reader = Task {
            for try await delivery in consumer {
                if collected.withLock({ $0.append(delivery); return $0.count }) >= count { break }
            }
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            try? await consumer.cancel()
        }
        _ = await reader.result
        timer.cancel()
        for delivery in collected.withLock({ $0 }) { try body(delivery) }
    }

    static func describe(_ delivery: AMQPDelivery) -> DeadLetter {
        let headers = delivery.properties.headers
        return DeadLetter(
            target: headers[WireFormat.toHeader]?.stringValue,
            kind: delivery.properties.type,
            messageID: delivery.properties.messageID,
            reason: headers[WireFormat.errorHeader]?.stringValue
                ?? headers["x-first-death-reason"]?.stringValue.map { "rejected by RabbitMQ (\($0))" } ?? "unknown",
            attempts: Int(headers[WireFormat.attemptsHeader]?.intValue ?? 0),
            worker: headers[WireFormat.workerHeader]?.stringValue,
            deadAt: headers[WireFormat.deadAtHeader]?.intValue.map { UInt64($0) },
            body: String(decoding: delivery.body, as: UTF8.self))
    }
}
