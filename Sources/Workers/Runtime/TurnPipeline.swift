import Broker
import Foundation
import Logging
import Synchronization
import Tracing

/// The one path every delivery takes: an actor's waiting messages are
/// loaded, planned (run on a copy of its state, `TurnPlan`), committed in one
/// group (`CommitCoalescer` → `CommitScript`), their sends published with
/// confirms, refusals dead-lettered, and the deliveries acked. One delivery
/// is simply a run of one.
///
/// The commit decides, per group:
/// - **committed** → publish, dead-letter the refusals, ack;
/// - **duplicate** → those messages were committed before (a redelivery or
///   a re-send): re-publish their stored sends, ack them, run the rest again
///   on the reloaded state;
/// - **stale** → the stored version moved: reload, run again;
/// - **fenced** → another worker owns the partition: drop the partition (its
///   channel closes and the broker requeues everything it held, in order).
///
/// Around the commit are steps, not branches: a turn that threw is retried
/// after the policy's pause (its actor waits, others go on; a long pause
/// parks the actor instead, docs/TIME.md), Redis or
/// RabbitMQ failures back off and try again while the partition is still
/// ours, and `TurnHooks` see every stage.
final class TurnPipeline: Sendable {
    struct Settings: Sendable {
        var dedup: CommitScript.DedupWindow
        /// Activated actors kept in memory; past this, the least recently
        /// used are passivated (their state stays in Redis).
        var maximumActivations: Int = 100_000
        /// Actors whose behaviours execute at once.
        var concurrency: Int = 64
        /// Deaths of the worker process while handling one message after
        /// which that message is dead-lettered instead of run again.
        var maximumCrashes: Int = 3
    }

    let types: [String: HostedType]
    let store: ActorStore
    let publisher: FleetPublisher
    let settings: Settings
    let hooks: HookChain
    /// One span per turn, when a tracer is bootstrapped (`TurnTracing`).
    let tracing = TurnTracing(tracer: InstrumentationSystem.tracer)
    let logger: Logger
    /// Activated actors: records cached between runs.
    let cache: Mutex<ActivationCache>
    /// Bounds the behaviours executing at once (`Settings.concurrency`).
    let permits: TurnPermits
    /// Called when a commit was fenced: the partition must be dropped.
    let onFenced: @Sendable (PartitionRun) -> Void
    /// Called when publishing is impossible for good (its connection closed).
    let onFatal: @Sendable (any Error) -> Void
    /// Dead letters of refused deliveries that failed in a row (their retry backs off).
    let deadLetterFailures = Atomic<Int>(0)
    /// When an ignored `reply_to` was last logged (one line a minute at most).
    private let replyToLogged = Mutex<ContinuousClock.Instant?>(nil)

    init(types: [HostedType], store: ActorStore, publisher: FleetPublisher, settings: Settings, hooks: [any TurnHooks], logger: Logger,
         onFenced: @escaping @Sendable (PartitionRun) -> Void, onFatal: @escaping @Sendable (any Error) -> Void) {
        self.types = Dictionary(uniqueKeysWithValues: types.map { ($0.typeName, $0) })
        self.store = store
        self.publisher = publisher
        self.settings = settings
        self.hooks = HookChain(hooks: hooks)
        self.logger = logger
        self.cache = Mutex(ActivationCache(capacity: settings.maximumActivations))
        self.permits = TurnPermits(count: settings.concurrency)
        self.onFenced = onFenced
        self.onFatal = onFatal
    }

    /// Takes one actor's run of deliveries (oldest first, all of one
    /// partition run) to the end: every one is acked, handed back, or left
    /// to the broker because its partition was lost.
    func process(_ items: [Delivered]) async {
        var pending = items
        var staleRetries = 0
        var infrastructureFailures = 0
        // Redelivered deliveries marked in this call, with their marked starts (`CrashMarks`).
        var crashes: [ObjectIdentifier: Int] = [:]
        while let first = pending.first {
            let run = first.run
            guard run.isLive else {
                tracing.end(pending, .requeued)
                run.inFlight.leave(pending.count)  // the broker requeued them with the closed channel
                return
            }
            do {
                let batch = try await suspectsAlone(pending, crashes: &crashes)
                let record = try await activate(first.actor, in: run.partition)
                let started = ContinuousClock.now
                hooks.willRun(first.actor, messages: batch.count, attempt: first.failedAttempts + 1)
                let diedBefore = crashes[ObjectIdentifier(first)] ?? 0
                let plan = try await permits.holding {
                    try await self.plan(batch, from: record, type: types[first.actor.type], diedBefore: diedBefore)
                }
                if plan.covered == 0, let retry = plan.retry {
                    try await retryLater(retry.item, reason: retry.reason)
                    continue
                }
                switch try await run.committer.submit(plan.group) {
                case .fenced(let current):
                    logger.warning("commit refused: a newer owner holds the partition", metadata: [
                        "partition": "\(run.partition.queue)", "epoch": "\(run.epoch)", "current": "\(current)", "actor": "\(first.actor)"])
                    // No nacks: requeued one by one while this consumer is still the
                    // active one, they would come straight back here, behind later
                    // messages. Closing the channel (onFenced) requeues everything
                    // held, in order, before the new owner's consumer starts.
                    hooks.wasFenced(first.actor, messages: batch.count)
                    tracing.end(pending, .fenced)
                    run.inFlight.leave(pending.count)
                    onFenced(run)
                    return
                case .decided(.stale):
                    cache.withLock { $0.remove(first.actor, in: run.partition) }
                    staleRetries += 1
                    if staleRetries > 5 {
                        throw WorkerConfigurationError(.actorChangingElsewhere(first.actor), "actor \(first.actor) keeps changing under this worker; is another worker writing it?")
                    }
                case .decided(.duplicate(let found)):
                    cache.withLock { $0.remove(first.actor, in: run.partition) }
                    let settled = plan.settled
                    for position in found.keys.sorted() {
                        try await publisher.republish(storedOutbox: found[position]!)
                        logger.debug("a message was committed before: re-published its sends",
                                     metadata: ["actor": "\(first.actor)", "message": "\(settled[position].messageID)"])
                    }
                    hooks.didFindDuplicates(first.actor, messages: found.count)
                    let duplicates = Set(found.keys.map { ObjectIdentifier(settled[$0]) })
                    let settledAsDuplicates = pending.filter { duplicates.contains(ObjectIdentifier($0)) }
                    tracing.end(settledAsDuplicates, .duplicate)
                    settle(settledAsDuplicates)
                    pending.removeAll { duplicates.contains(ObjectIdentifier($0)) }
                case .decided(let outcome):
                    try await finish(plan, outcome: outcome, run: run, started: started, received: first.received)
                    pending.removeFirst(plan.covered)
                    if let retry = plan.retry {
                        try await retryLater(retry.item, reason: retry.reason)
                    }
                    staleRetries = 0
                }
                infrastructureFailures = 0
            } catch {
                infrastructureFailures += 1
                if let amqp = error as? AMQPError, amqp.code == .connectionClosed || amqp.code == .channelClosed, run.isLive {
                    // The publishing connection is gone: every later turn would fail alike.
                    onFatal(amqp)
                }
                logger.error("turns could not finish; trying again while the partition is ours", metadata: [
                    "actor": "\(first.actor)", "messages": "\(pending.count)", "error": "\(error)"])
                // A pause, since while Redis is down every try fails at once: 25 ms doubling to 2 s.
                try? await Task.sleep(for: .milliseconds(min(2_000, 25 << min(infrastructureFailures, 7))))
                cache.withLock { $0.remove(first.actor, in: run.partition) }
            }
        }
    }

    /// The messages to run next, from the front of `pending`. A redelivered
    /// message may be one that killed the process: it runs alone, so a death
    /// is pinned on it and not on messages grouped with it, and its start is
    /// marked first (one round trip, on redelivery only) — the mark counts
    /// one death if the turn never commits. Other messages run up to the
    /// next redelivered one.
    private func suspectsAlone(_ pending: [Delivered], crashes: inout [ObjectIdentifier: Int]) async throws -> [Delivered] {
        let first = pending[0]
        if first.delivery.redelivered {
            if crashes[ObjectIdentifier(first)] == nil {
                crashes[ObjectIdentifier(first)] = try await store.markStart(of: first.messageID, in: first.run.partition)
            }
            return [first]
        }
        guard let suspect = pending.firstIndex(where: { $0.delivery.redelivered }) else { return pending }
        return Array(pending[..<suspect])
    }

    /// Stores what a decided plan did in memory, publishes its sends,
    /// dead-letters its refusals and acks everything it covered. `started`:
    /// when its run began; `received`: when its oldest delivery arrived.
    private func finish(_ plan: TurnPlan, outcome: CommitScript.GroupOutcome, run: PartitionRun,
                        started: ContinuousClock.Instant, received: ContinuousClock.Instant) async throws {
        let address = plan.group.address
        if case .committed(let version) = outcome {
            if !plan.applied.isEmpty {
                let now = ContinuousClock.now
                hooks.didCommit(address, turns: plan.applied.count)
                hooks.didMeasure(address, turns: plan.applied.count, timing: TurnTiming(turn: now - started, sinceDelivery: now - received))
            }
            var record = plan.record
            record.version = version
            let partition = run.partition
            cache.withLock { cache in
                // After an unpark only Redis knows whether the actor is still parked: the next run loads it.
                if record.isActive, !plan.unparks { cache.put(address, in: partition, record) } else { cache.remove(address, in: partition) }
            }
            if let due = plan.group.dueAdded.map(\.due).min() { run.dueWatch.note(due: due) }
            if let round = plan.group.parking?.unpark?.round { run.dueWatch.note(due: round.due) }
            if let parked = plan.parked {
                hooks.didFail(address, messageID: parked.item.messageID, reason: parked.reason, attempts: parked.attempts, willRetry: true)
                tracing.end(parked.item, .retried, failure: parked.reason)
                logger.debug("turn failed; the actor is parked until its retry", metadata: [
                    "actor": "\(address)", "attempt": "\(parked.attempts)", "park": "\(record.parked ?? "")", "error": "\(parked.reason)"])
            }
            if !plan.applied.isEmpty {
                try await publisher.publish(plan.applied.flatMap(\.outbox))
                hooks.didPublish(address, turns: plan.applied.count)
                tracing.end(plan.applied.lazy.map(\.item), .committed)
            }
        }
        for refusal in plan.refused where !refusal.silent {
            hooks.didFail(address, messageID: refusal.item.messageID, reason: refusal.reason, attempts: refusal.attempts, willRetry: false)
            try await deadLetter(refusal, parent: plan.record.parent)
            tracing.end(refusal.item, .deadLettered, failure: refusal.reason)
        }
        tracing.end(plan.refused.lazy.filter(\.silent).map(\.item), .ignored)
        tracing.end(plan.stored, .held)
        settle(plan.settled + plan.stored)
    }

    /// A turn threw and has attempts left, with a pause short enough to wait
    /// in memory (`RetryPolicy.parkThreshold`; a longer one parks the actor
    /// in the plan): wait it (the actor's later messages wait too), then run
    /// it again.
    private func retryLater(_ item: Delivered, reason: String) async throws {
        let attempts = item.countFailure()
        hooks.didFail(item.actor, messageID: item.messageID, reason: reason, attempts: attempts, willRetry: true)
        tracing.end(item, .retried, failure: reason)
        logger.debug("turn failed; retrying", metadata: ["actor": "\(item.actor)", "attempt": "\(attempts)", "error": "\(reason)"])
        let policy = types[item.actor.type]?.retry ?? RetryPolicy()
        try await Task.sleep(for: policy.delay(after: attempts))
    }

    /// Logs, at most once a minute, that a `reply_to` other than direct
    /// reply-to was ignored (`Envelope.honoured(replyTo:)`).
    func ignoredReplyTo(_ delivery: AMQPDelivery, actor: ActorAddress) {
        let now = ContinuousClock.now
        let due = replyToLogged.withLock { last in
            guard last.map({ now - $0 >= .seconds(60) }) ?? true else { return false }
            last = now
            return true
        }
        guard due else { return }
        logger.warning("ignored a reply_to that is not direct reply-to (amq.rabbitmq.reply-to); no reply is sent there (logged once a minute)",
                       metadata: ["actor": "\(actor)", "reply_to": "\(delivery.properties.replyTo ?? "")",
                                  "message": "\(delivery.properties.messageID ?? "-")"])
    }

    /// Acks deliveries whose turn is decided, and lets their run forget them.
    private func settle(_ items: [Delivered]) {
        guard let run = items.first?.run else { return }
        // Not awaited: a lost ack only means a redelivery, which the dedup record absorbs.
        run.acks.finish(items.map(\.delivery.deliveryTag))
        run.inFlight.leave(items.count)
    }

    /// The actor's record: from memory, or loaded (concurrent loads share
    /// Redis round trips through the client's pipelining).
    private func activate(_ address: ActorAddress, in partition: PartitionID) async throws -> ActorRecord {
        if let cached = cache.withLock({ $0.get(address, in: partition) }) { return cached }
        return try await store.load([address], in: partition)[0]
    }
}
