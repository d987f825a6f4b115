/// A running consumer: iterate it for deliveries.
///
/// ```swift
/// for try await delivery in consumer {
///     handle(delivery.body)
///     try await consumer.channel.ack(delivery.deliveryTag)
/// }
/// ```
public struct AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery

    /// The consumer tag, for `AMQPChannel.cancel(consumerTag:)`.
    public let tag: String
    public let queue: String
    /// The channel the deliveries arrive on; ack them here.
    public let channel: AMQPChannel
    let deliveries: DeliveryBuffer

    /// The deliveries in batches: each is everything that arrived since the
    /// last one was taken (never empty, in delivery order), so a busy
    /// consumer gets bigger batches — for consumers that handle many
    /// messages at once, e.g. to acknowledge them with one frame. Iterate
    /// either the consumer or its batches, from one task.
    public var batches: Batches { Batches(deliveries: deliveries) }

    public struct Batches: AsyncSequence, Sendable {
        public typealias Element = [AMQPDelivery]
        let deliveries: DeliveryBuffer

        public func makeAsyncIterator() -> Iterator { Iterator(deliveries: deliveries) }

        public struct Iterator: AsyncIteratorProtocol {
            let deliveries: DeliveryBuffer
            public mutating func next() async throws -> [AMQPDelivery]? { try await deliveries.take() }
        }
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(deliveries: deliveries)
    }

    /// Yields the deliveries of each batch one by one.
    public struct Iterator: AsyncIteratorProtocol {
        let deliveries: DeliveryBuffer
        var current: [AMQPDelivery] = []
        var index = 0

        public mutating func next() async throws -> AMQPDelivery? {
            if index == current.count {
                guard let batch = try await deliveries.take() else { return nil }
                current = batch
                index = 0
            }
            defer { index += 1 }
            return current[index]
        }
    }

    /// Stops the consumer (see `AMQPChannel.cancel(consumerTag:)`).
    public func cancel() async throws {
        try await channel.cancel(consumerTag: tag)
    }
}
