/// A message to publish.
public struct AMQPMessage: Sendable, Equatable {
    public var body: [UInt8]
    public var properties: AMQPProperties

    public init(body: [UInt8], properties: AMQPProperties = AMQPProperties()) {
        self.body = body
        self.properties = properties
    }

    /// A message whose body is the UTF-8 of `text`.
    public init(_ text: String, properties: AMQPProperties = AMQPProperties()) {
        self.init(body: Array(text.utf8), properties: properties)
    }
}

/// A message handed to a consumer. Acknowledge it with its channel's `ack`,
/// `nack` or `reject`, passing `deliveryTag` (unless consumed with `noAck`).
public struct AMQPDelivery: Sendable {
    public var body: [UInt8]
    public var properties: AMQPProperties
    /// Identifies the delivery on its channel, for ack/nack/reject.
    public var deliveryTag: UInt64
    /// True when the broker delivered this message before and it was not acked.
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var consumerTag: String
    /// Set when the body was not read: its size as the content header
    /// declared it, over the consumer's `maximumBodyBytes`. `body` is then empty.
    public var oversizedBodyBytes: Int? = nil

    /// The body as UTF-8 text, when it is valid UTF-8.
    public var text: String? { String(validating: body, as: UTF8.self) }
}
