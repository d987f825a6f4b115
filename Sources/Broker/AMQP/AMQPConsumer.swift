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
    let deliveries: AsyncThrowingStream<AMQPDelivery, any Error>

    public func makeAsyncIterator() -> AsyncThrowingStream<AMQPDelivery, any Error>.AsyncIterator {
        deliveries.makeAsyncIterator()
    }

    /// Stops the consumer (see `AMQPChannel.cancel(consumerTag:)`).
    public func cancel() async throws {
        try await channel.cancel(consumerTag: tag)
    }
}
