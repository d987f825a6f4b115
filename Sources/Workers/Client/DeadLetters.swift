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
        let channel = try await amqp.openChannel()
        let available = Int(try await channel.inspectQueue(Topology.deadQueue).messageCount)
        let wanted = min(limit, available)
        guard wanted > 0 else {
            try await channel.close()
            return []
        }
        try await channel.setPrefetch(UInt16(clamping: wanted))
        let consumer = try await channel.consume(queue: Topology.deadQueue)
        var found: [DeadLetter] = []
        try await Self.collect(wanted, from: consumer, timeout: timeout) { delivery in
            found.append(Self.describe(delivery))
        }
        try await channel.close()
        return found
    }

    /// Sends up to `limit` dead letters back to their actors (death headers
    /// removed, same message id) and removes them from the dead-letter queue.
    /// Messages that never had a valid target are left where they are.
    /// Returns how many were replayed.
    public func replayDeadLetters(limit: Int = 100, timeout: Duration = .seconds(5)) async throws -> Int {
        let channel = try await amqp.openChannel()
        try await channel.enableConfirms()
        let available = Int(try await channel.inspectQueue(Topology.deadQueue).messageCount)
        let wanted = min(limit, available)
        guard wanted > 0 else {
            try await channel.close()
            return 0
        }
        try await channel.setPrefetch(UInt16(clamping: wanted))
        let consumer = try await channel.consume(queue: Topology.deadQueue)
        var deliveries: [AMQPDelivery] = []
        try await Self.collect(wanted, from: consumer, timeout: timeout) { deliveries.append($0) }
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
                                      routingKey: Topology.partitionQueue(type: target.type, partition: partition), mandatory: true)
            try await channel.ack(delivery.deliveryTag)
            replayed += 1
        }
        try await channel.close()
        return replayed
    }

    /// Removes and returns the dead letters (among the first `limit`) that
    /// match `predicate`; the others stay in the queue.
    public func takeDeadLetters(limit: Int = 1_000, timeout: Duration = .seconds(5),
                                matching predicate: @Sendable (DeadLetter) -> Bool) async throws -> [DeadLetter] {
        let channel = try await amqp.openChannel()
        let available = Int(try await channel.inspectQueue(Topology.deadQueue).messageCount)
        let wanted = min(limit, available)
        guard wanted > 0 else {
            try await channel.close()
            return []
        }
        try await channel.setPrefetch(UInt16(clamping: wanted))
        let consumer = try await channel.consume(queue: Topology.deadQueue)
        var deliveries: [AMQPDelivery] = []
        try await Self.collect(wanted, from: consumer, timeout: timeout) { deliveries.append($0) }
        var taken: [DeadLetter] = []
        for delivery in deliveries {
            let letter = Self.describe(delivery)
            if predicate(letter) {
                try await channel.ack(delivery.deliveryTag)
                taken.append(letter)
            }
        }
        try await channel.close()  // the rest go back to the queue
        return taken
    }

    /// Deletes every dead letter; returns how many there were.
    public func purgeDeadLetters() async throws -> Int {
        let channel = try await amqp.openChannel()
        defer { Task { try? await channel.close() } }
        return Int(try await channel.purgeQueue(Topology.deadQueue))
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
