extension TurnContext {
    /// Sends the typed `message` to `target` once this turn commits.
    public func send<M: ActorMessage>(_ message: M, to target: ActorRef<some Behavior>) throws {
        try send(to: target.address, kind: M.kind, message)
    }

    /// Sends the typed `message` to the actor at `target` once this turn commits.
    public func send<M: ActorMessage>(_ message: M, to target: ActorAddress) throws {
        try send(to: target, kind: M.kind, message)
    }

    /// Spawns a child of behaviour `B` (under `B`'s type name, or `typeName`),
    /// with `id` or a fresh unique one, starting from `state` (nil: `B`'s
    /// initial state). The child exists once this turn commits; messages
    /// sent to it from this turn arrive after its creation.
    @discardableResult
    public func spawn<B: Behavior>(_ behavior: B.Type, id: String? = nil, state: B.State? = nil,
                                   typeName: String = B.typeName) throws -> ActorRef<B> {
        ActorRef(try spawn(type: typeName, id: id, state: state))
    }

    /// This actor, as a typed reference.
    public func me<B: Behavior>(as behavior: B.Type) -> ActorRef<B> { ActorRef(address) }
}
