/// The address of an actor of behaviour `B`: what typed senders hold.
/// `ActorRef` encodes as its address (`"type/id"`), so it can travel in
/// messages and state like an `ActorAddress`.
public struct ActorRef<B: Behavior>: Sendable, Hashable, Codable, CustomStringConvertible {
    public let address: ActorAddress

    /// The actor `address`, which you know to be a `B` (its type may be a
    /// renamed host of `B`, as in `HostedType(_:name:)`).
    public init(_ address: ActorAddress) {
        self.address = address
    }

    /// The actor `id` of `B`'s type (or of `typeName`, when `B` is hosted
    /// under another name). Throws for an id an address cannot carry.
    public init(id: String, typeName: String = B.typeName) throws {
        address = try ActorAddress(type: typeName, id: id)
    }

    public init(from decoder: any Decoder) throws {
        address = try ActorAddress(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        try address.encode(to: encoder)
    }

    public var description: String { address.description }
}
