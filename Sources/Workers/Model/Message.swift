import Foundation

/// A message as a handler sees it.
public struct Message: Sendable {
    /// The message kind (AMQP `type` property), e.g. `add`.
    public let kind: String
    /// The JSON payload.
    public let payload: [UInt8]
    /// Unique per logical message; the dedup key.
    public let id: String
    /// The sending actor, when an actor sent it.
    public let sender: ActorAddress?
    /// Where a reply goes, when the sender asked for one.
    let replyTo: String?
    let correlationID: String?

    public init(kind: String, payload: [UInt8], id: String, sender: ActorAddress? = nil, replyTo: String? = nil, correlationID: String? = nil) {
        self.kind = kind
        self.payload = payload
        self.id = id
        self.sender = sender
        self.replyTo = replyTo
        self.correlationID = correlationID
    }

    /// Decodes the payload; a payload that does not decode rejects the message
    /// (it is dead-lettered with the decoding error, not retried).
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(payload))
        } catch {
            throw MessageRejected("payload of '\(kind)' does not decode as \(T.self): \(JSONErrorText.describe(error, in: payload))")
        }
    }

    /// True when the sender is waiting for a reply.
    public var expectsReply: Bool { replyTo != nil }
}
