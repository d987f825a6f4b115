/// Steps around every turn that observers plug into: metrics, tracing, and
/// in tests, fault injection. The runtime calls them on the turn's own task,
/// in this order for each group of an actor's messages: `willRun`, then
/// `didCommit` and `didPublish` once its turns are stored and their sends
/// confirmed, or `didFail` for a turn that threw or a message that was
/// refused. Keep them quick: the actor waits for them.
///
/// Every method has an empty default, so a hook implements only what it needs.
public protocol TurnHooks: Sendable {
    /// An actor's messages are about to run (`attempt` counts from 1; above
    /// 1 the first of them is being retried).
    func willRun(_ actor: ActorAddress, messages: Int, attempt: Int)
    /// `turns` turns of `actor` were committed, before their sends go out.
    func didCommit(_ actor: ActorAddress, turns: Int)
    /// The sends of `turns` committed turns were confirmed by RabbitMQ.
    func didPublish(_ actor: ActorAddress, turns: Int)
    /// A turn threw (`willRetry`: it runs again after the policy's pause),
    /// or a message was refused and is being dead-lettered.
    func didFail(_ actor: ActorAddress, messageID: String, reason: String, attempts: Int, willRetry: Bool)
}

extension TurnHooks {
    public func willRun(_ actor: ActorAddress, messages: Int, attempt: Int) {}
    public func didCommit(_ actor: ActorAddress, turns: Int) {}
    public func didPublish(_ actor: ActorAddress, turns: Int) {}
    public func didFail(_ actor: ActorAddress, messageID: String, reason: String, attempts: Int, willRetry: Bool) {}
}

/// Several hooks called in order, as one.
struct HookChain: TurnHooks {
    let hooks: [any TurnHooks]

    func willRun(_ actor: ActorAddress, messages: Int, attempt: Int) {
        for hook in hooks { hook.willRun(actor, messages: messages, attempt: attempt) }
    }

    func didCommit(_ actor: ActorAddress, turns: Int) {
        for hook in hooks { hook.didCommit(actor, turns: turns) }
    }

    func didPublish(_ actor: ActorAddress, turns: Int) {
        for hook in hooks { hook.didPublish(actor, turns: turns) }
    }

    func didFail(_ actor: ActorAddress, messageID: String, reason: String, attempts: Int, willRetry: Bool) {
        for hook in hooks { hook.didFail(actor, messageID: messageID, reason: reason, attempts: attempts, willRetry: willRetry) }
    }
}
