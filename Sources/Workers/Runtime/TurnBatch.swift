import Broker
import Foundation

/// The fast path: a whole batch of deliveries from one partition, run and
/// committed together.
///
/// The consume loop hands over the deliveries the connection read in one go.
/// Each actor's messages among them run one after another on its state
/// (decoded once, encoded once), every actor's turns commit in ONE Lua script
/// (`BatchCommitScript`), their outboxes go out in one confirmed publish, and
/// the deliveries are acked together. Per message that saves a task, a
/// script call, a Redis round trip and an ack frame — the batch is how the
/// worker keeps up with the broker.
///
/// Anything unusual is left to the one-message path (`run`), in delivery
/// order: redeliveries (the dedup record decides them), spawn and stop, a
/// missing or stopped actor, a turn that throws (with that attempt counted),
/// and a group whose commit found a dedup record or a moved version.
extension TurnRunner {
    /// One checked delivery.
    struct BatchItem: Sendable {
        var envelope: Envelope
        var delivery: AMQPDelivery
    }

    /// A delivery for the one-message path, after the batch.
    struct Deferred: Sendable {
        var item: BatchItem
        var prior: PriorFailure?
    }

    enum BatchResult {
        /// `committed`: delivery tags to ack; `deferred`: for the one-message
        /// path, in delivery order.
        case done(committed: [UInt64], deferred: [Deferred])
        /// Another worker owns the partition; nothing was committed.
        case fenced
    }

    /// Whether a delivery may take the fast path of partition `partition` of `type`.
    func canBatch(_ envelope: Envelope, _ delivery: AMQPDelivery, type: String, partition: Int, partitions: Int) -> Bool {
        let kind = envelope.message.kind
        return !delivery.redelivered
            && kind != WireFormat.SystemKind.spawn && kind != WireFormat.SystemKind.stop
            && envelope.target.type == type && types[type] != nil
            // A message published to the wrong partition queue keeps the slow
            // path, whose mailboxes serialize it with its actor's own partition.
            && Partitioning.partition(of: envelope.target.id, partitions: partitions) == partition
    }

    /// Runs and commits `items` (all `canBatch`). Throws when Redis or
    /// RabbitMQ failed: then nothing is acked, and redelivery is safe.
    func runBatch(_ items: [BatchItem], type: String, partition: Int, epoch: String) async throws -> BatchResult {
        var order: [ActorAddress] = []
        var byActor: [ActorAddress: [BatchItem]] = [:]
        var deferred: [Deferred] = []
        // A message id seen twice in one batch: the second copy must find the
        // first one's dedup record, so it (and its actor's later messages)
        // waits for this commit, on the one-message path.
        var ids = Set<String>()
        var cut = Set<ActorAddress>()
        for item in items {
            let address = item.envelope.target
            if cut.contains(address) || !ids.insert(item.envelope.message.id).inserted {
                cut.insert(address)
                deferred.append(Deferred(item: item, prior: nil))
                continue
            }
            if byActor[address] == nil { order.append(address) }
            byActor[address, default: []].append(item)
        }
        let records = try await activate(order, partition: partition)

        var runnable: [ActorAddress] = []
        for address in order {
            if records[address]!.isActive, types[address.type] != nil {
                runnable.append(address)
            } else {
                deferred += byActor[address]!.map { Deferred(item: $0, prior: nil) }
            }
        }
        let ran = await runActors(runnable, byActor: byActor, records: records)

        var groups: [BatchCommitScript.Group] = []
        var groupItems: [[BatchItem]] = []
        var groupOutboxes: [[OutgoingMessage]] = []
        var groupDecoded: [(any Sendable)?] = []
        for (address, (contexts, outcome)) in zip(runnable, ran) {
            let mine = byActor[address]!
            let record = records[address]!
            let done = outcome.completed
            if done < mine.count {
                var prior: PriorFailure?
                if let failure = outcome.failure, !(failure is MessageRejected) {
                    prior = PriorFailure(attempts: 1, reason: "\(failure)")
                }
                deferred.append(Deferred(item: mine[done], prior: prior))
                deferred += mine[(done + 1)...].map { Deferred(item: $0, prior: nil) }
            }
            guard done > 0, let state = outcome.state else { continue }

            var turns: [(messageID: String, outbox: [UInt8])] = []
            var outboxes: [OutgoingMessage] = []
            var children: [ActorAddress] = []
            var stopped = false
            for index in 0..<done {
                var effects = contexts[index].collectedEffects
                let message = mine[index].envelope.message
                if effects.stopSelf {
                    stopped = true
                    try await addChildStops(to: &effects, of: address, messageID: message.id)
                }
                turns.append((message.id, try Self.encodeOutbox(effects.outbox)))
                outboxes += effects.outbox
                children += effects.spawnedChildren
            }
            groups.append(BatchCommitScript.Group(
                address: address, expectedVersion: record.version, state: state, newStatus: stopped ? .stopped : nil,
                children: children, turns: turns))
            groupItems.append(Array(mine[..<done]))
            groupOutboxes.append(outboxes)
            groupDecoded.append(outcome.decoded)
        }

        var committed: [UInt64] = []
        if !groups.isEmpty {
            let outcome = try await store.commitBatch(groups, type: type, partition: partition, epoch: epoch, dedupSeconds: settings.dedupSeconds)
            guard case .committed(let versions) = outcome else {
                if case .fenced(let current) = outcome {
                    logger.warning("batch commit refused: partition fenced by a newer owner",
                                   metadata: ["type": "\(type)", "partition": "\(partition)", "epoch": "\(epoch)", "current": "\(current)"])
                }
                return .fenced
            }
            var outbox: [OutgoingMessage] = []
            cache.withLock { cache in
                for (index, group) in groups.enumerated() {
                    guard let version = versions[index] else {
                        // A redelivery or a stale cache: the one-message path sorts it out.
                        cache.remove(group.address)
                        deferred += groupItems[index].map { Deferred(item: $0, prior: nil) }
                        continue
                    }
                    if group.newStatus == .stopped {
                        cache.remove(group.address)
                    } else {
                        var record = records[group.address]!
                        record.version = version
                        record.state = group.state
                        record.decoded = groupDecoded[index]
                        cache.put(group.address, record)
                    }
                    committed += groupItems[index].map(\.delivery.deliveryTag)
                    outbox += groupOutboxes[index]
                }
            }
            if let fault = settings.fault { for _ in committed { fault.trip(.afterCommit) } }
            try await publisher.publish(outbox)
            if let fault = settings.fault { for _ in committed { fault.trip(.afterPublish) } }
        }
        deferred.sort { $0.item.delivery.deliveryTag < $1.item.delivery.deliveryTag }
        return .done(committed: committed, deferred: deferred)
    }

    /// Runs each actor's messages in order on its state; different actors
    /// concurrently, so a handler that waits (on I/O, a timer) holds up only
    /// its own actor, as on the one-message path. Results in `addresses` order.
    private func runActors(_ addresses: [ActorAddress], byActor: [ActorAddress: [BatchItem]], records: [ActorAddress: ActorRecord]) async
        -> [([TurnContext], SequenceOutcome)] {
        let store = store
        let types = types
        func run(_ address: ActorAddress) async -> ([TurnContext], SequenceOutcome) {
            let mine = byActor[address]!
            let record = records[address]!
            let contexts = mine.map { TurnContext(address: address, parent: record.parent, message: $0.envelope.message, directory: store) }
            let outcome = await types[address.type]!.runSequence(record.state, record.decoded, Array(zip(mine.map(\.envelope.message), contexts)))
            return (contexts, outcome)
        }
        guard addresses.count > 1 else { return addresses.isEmpty ? [] : [await run(addresses[0])] }
        return await withTaskGroup(of: (Int, [TurnContext], SequenceOutcome).self) { group in
            for (index, address) in addresses.enumerated() {
                group.addTask { let (contexts, outcome) = await run(address); return (index, contexts, outcome) }
            }
            var results = [([TurnContext], SequenceOutcome)?](repeating: nil, count: addresses.count)
            for await (index, contexts, outcome) in group { results[index] = (contexts, outcome) }
            return results.map { $0! }
        }
    }

    /// The records of `addresses`: cached ones from memory, the rest loaded
    /// from Redis in one pipelined round trip.
    private func activate(_ addresses: [ActorAddress], partition: Int) async throws -> [ActorAddress: ActorRecord] {
        var records: [ActorAddress: ActorRecord] = [:]
        var missing: [ActorAddress] = []
        cache.withLock { cache in
            for address in addresses {
                if let record = cache.get(address) { records[address] = record } else { missing.append(address) }
            }
        }
        guard !missing.isEmpty else { return records }
        for (address, record) in zip(missing, try await store.load(missing, partition: partition)) {
            records[address] = record
        }
        return records
    }
}
