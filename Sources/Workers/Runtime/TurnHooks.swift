/// Steps around every turn that observers plug into: metrics, tracing, and
/// in tests, fault injection. The runtime calls them on the turn's own task,
/// in this order for each group of an actor's messages: `willRun`, then
/// `didCommit` and `didPublish` once its turns are stored and their sends
/// confirmed, or `didFail` for a turn that threw or a message that was
/// refused. Keep them quick: the actor waits for them. `didReceive` is
/// called by a partition's consumer for each batch it reads, `didSample` by
/// the heartbeat. They are called per group or batch, never per message on
/// the normal path: `GreenroomMetrics` is the one the runtime always has.
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
    /// Right after `didCommit`: how long that group of `turns` took.
    func didMeasure(_ actor: ActorAddress, turns: Int, timing: TurnTiming)
    /// `messages` of `actor` were committed before (a redelivery or a
    /// re-send): their stored sends go out again, they are acked, not run.
    func didFindDuplicates(_ actor: ActorAddress, messages: Int)
    /// The commit of `messages` of `actor` was refused because another
    /// worker owns the partition now: they go back to the broker.
    func wasFenced(_ actor: ActorAddress, messages: Int)
    /// A message went to `greenroom.dead` with `reason`: a turn's refusal, or
    /// a delivery that could never be handled (`actor` nil when it names none).
    func didDeadLetter(_ actor: ActorAddress?, reason: String)
    /// A batch of deliveries of one partition of `type` arrived, with
    /// `redelivered` of them flagged redelivered by the broker.
    func didReceive(type: String, deliveries: Int, redelivered: Int)
    /// Once a heartbeat: the worker's gauges.
    func didSample(_ sample: WorkerSample)
}

/// How long a committed group of an actor's turns took (one delivery is a
/// group of one).
public struct TurnTiming: Sendable, Equatable {
    /// From the start of the group's run (`willRun`) to its commit.
    public var turn: Duration
    /// From when the oldest of its deliveries arrived at this worker to its commit.
    public var sinceDelivery: Duration

    public init(turn: Duration, sinceDelivery: Duration) {
        self.turn = turn
        self.sinceDelivery = sinceDelivery
    }
}

/// A worker's gauges at one moment (`TurnHooks.didSample`).
public struct WorkerSample: Sendable, Equatable {
    /// Partitions consumed now, by actor type (every hosted type present, 0 if none).
    public var partitionsOwned: [String: Int]
    /// Actors activated in memory, by actor type (every hosted type present).
    public var activations: [String: Int]
    /// Deliveries taken from the queues and not yet settled (waiting for
    /// their actor, or in a turn).
    public var mailboxDepth: Int

    public init(partitionsOwned: [String: Int], activations: [String: Int], mailboxDepth: Int) {
        self.partitionsOwned = partitionsOwned
        self.activations = activations
        self.mailboxDepth = mailboxDepth
    }
}

extension TurnHooks {
    public func willRun(_ actor: ActorAddress, messages: Int, attempt: Int) {}
    public func didCommit(_ actor: ActorAddress, turns: Int) {}
    public func didPublish(_ actor: ActorAddress, turns: Int) {}
    public func didFail(_ actor: ActorAddress, messageID: String, reason: String, attempts: Int, willRetry: Bool) {}
    public func didMeasure(_ actor: ActorAddress, turns: Int, timing: TurnTiming) {}
    public func didFindDuplicates(_ actor: ActorAddress, messages: Int) {}
    public func wasFenced(_ actor: ActorAddress, messages: Int) {}
    public func didDeadLetter(_ actor: ActorAddress?, reason: String) {}
    public func didReceive(type: String, deliveries: Int, redelivered: Int) {}
    public func didSample(_ sample: WorkerSample) {}
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

    func didMeasure(_ actor: ActorAddress, turns: Int, timing: TurnTiming) {
        for hook in hooks { hook.didMeasure(actor, turns: turns, timing: timing) }
    }

    func didFindDuplicates(_ actor: ActorAddress, messages: Int) {
        for hook in hooks { hook.didFindDuplicates(actor, messages: messages) }
    }

    func wasFenced(_ actor: ActorAddress, messages: Int) {
        for hook in hooks { hook.wasFenced(actor, messages: messages) }
    }

    func didDeadLetter(_ actor: ActorAddress?, reason: String) {
        for hook in hooks { hook.didDeadLetter(actor, reason: reason) }
    }

    func didReceive(type: String, deliveries: Int, redelivered: Int) {
        for hook in hooks { hook.didReceive(type: type, deliveries: deliveries, redelivered: redelivered) }
    }

    func didSample(_ sample: WorkerSample) {
        for hook in hooks { hook.didSample(sample) }
    }
}
