import Broker
import Foundation
import Logging
import Synchronization

/// Runs one message through its actor: decode → behaviour on a copy of the
/// state → one atomic commit (fencing, dedup, state, children, outbox) →
/// publish the outbox with confirms. The caller acks afterwards.
///
/// Every message ends in exactly one `Disposition`: done (ack), dead-lettered
/// with a reason (then ack), or fenced (this worker lost the partition: the
/// message must go back to the queue for the new owner).
final class TurnRunner: Sendable {
    enum Disposition: Equatable, Sendable {
        case done
        case deadLettered(reason: String)
        case fenced
    }

    struct Settings: Sendable {
        var dedupSeconds: Int
        var workerID: String
        /// Activated actors kept in memory; past this, the least recently
        /// used are passivated (their state stays in Redis).
        var maximumActivations: Int = 100_000
        /// Test-only: crash the process at a point in the turn.
        var fault: FaultInjection?
    }

    let types: [String: HostedType]
    let store: ActorStore
    let publisher: FleetPublisher
    let settings: Settings
    let logger: Logger
    /// Activated actors: state cached while this worker owns their partition.
    let cache: Mutex<ActivationCache>

    init(types: [HostedType], store: ActorStore, publisher: FleetPublisher, settings: Settings, logger: Logger) {
        self.types = Dictionary(uniqueKeysWithValues: types.map { ($0.typeName, $0) })
        self.store = store
        self.publisher = publisher
        self.settings = settings
        self.logger = logger
        self.cache = Mutex(ActivationCache(capacity: settings.maximumActivations))
    }

    /// A failed attempt made before the message reached `run` (by a batch).
    struct PriorFailure: Sendable {
        var attempts: Int
        var reason: String
    }

    func run(_ envelope: Envelope, delivery: AMQPDelivery, partition: Int, epoch: String, prior: PriorFailure? = nil) async throws -> Disposition {
        guard let type = types[envelope.target.type] else {
            return try await deadLetter(delivery, reason: "this worker does not host actor type '\(envelope.target.type)'", attempts: 0, actor: envelope.target)
        }
        var staleRetries = 0
        while true {
            let outcome = try await attempt(envelope, type: type, delivery: delivery, partition: partition, epoch: epoch, prior: prior)
            if case .stale = outcome, staleRetries < 5 {
                staleRetries += 1
                cache.withLock { $0.remove(envelope.target) }
                continue
            }
            switch outcome {
            case .disposition(let disposition): return disposition
            case .stale: throw WorkerConfigurationError("actor \(envelope.target) keeps changing under this worker; is another worker writing it?")
            }
        }
    }

    private enum Outcome {
        case disposition(Disposition)
        /// The stored version moved: reload and run again.
        case stale
    }

    private func attempt(_ envelope: Envelope, type: HostedType, delivery: AMQPDelivery, partition: Int, epoch: String, prior: PriorFailure?) async throws -> Outcome {
        let address = envelope.target
        let message = envelope.message
        let record: ActorRecord
        if let cached = cache.withLock({ $0.get(address) }) {
            record = cached
        } else {
            record = try await store.load(address, partition: partition)
        }

        var newState: [UInt8]?
        var newStatus: ActorRecord.Status?
        var parent: ActorAddress?
        var effects = TurnEffects()
        var baseVersion = record.version

        switch message.kind {
        case WireFormat.SystemKind.spawn:
            if record.exists {
                return try await rejectUnlessDuplicate(envelope, delivery: delivery, partition: partition,
                    reason: "actor \(address) already exists (\(record.status.rawValue)); spawn each address once")
            }
            let request: SpawnRequest
            do {
                request = try message.decode(SpawnRequest.self)
                newState = try request.state.map { try type.validateState($0.raw) } ?? type.initialState()
            } catch {
                return try await rejectUnlessDuplicate(envelope, delivery: delivery, partition: partition, reason: "cannot spawn \(address): \(error)")
            }
            newStatus = .active
            parent = request.parent
            if let replyTo = message.replyTo {
                effects.outbox.append(OutgoingMessage(
                    destination: .reply(queue: replyTo, correlationID: message.correlationID), kind: "spawned",
                    payload: Array(#"{"spawned":"\#(address)"}"#.utf8), id: "\(message.id)/0", from: address))
            }

        case WireFormat.SystemKind.stop:
            guard record.isActive else {
                return try await rejectUnlessDuplicate(envelope, delivery: delivery, partition: partition,
                    reason: "actor \(address) is not running (never spawned, or already stopped)")
            }
            effects.stopSelf = true
            if let replyTo = message.replyTo {
                effects.outbox.append(OutgoingMessage(
                    destination: .reply(queue: replyTo, correlationID: message.correlationID), kind: "stopped",
                    payload: Array(#"{"stopped":"\#(address)"}"#.utf8), id: "\(message.id)/0", from: address))
            }

        default:
            var current = record
            if !record.isActive {
                guard envelope.spawnIfMissing, !record.exists else {
                    return try await rejectUnlessDuplicate(envelope, delivery: delivery, partition: partition,
                        reason: "actor \(address) does not exist (never spawned, or stopped); spawn it first, or send with --spawn")
                }
                current = ActorRecord(status: .active, parent: nil, version: 0, state: try type.initialState())
                newStatus = .active
            }
            baseVersion = current.version
            switch try await runBehavior(type, state: current.state, envelope: envelope, parent: current.parent, prior: prior) {
            case .success(let (state, turnEffects)):
                newState = state
                effects = turnEffects
            case .failure(let failure):
                return .disposition(try await deadLetterFailed(envelope, delivery: delivery, failure: failure, parent: current.parent))
            }
        }

        if effects.stopSelf {
            newStatus = .stopped
            try await addChildStops(to: &effects, of: address, messageID: message.id)
        }

        let outbox = try Self.encodeOutbox(effects.outbox)
        let result = try await store.commit(ActorStore.Commit(
            address: address, partition: partition, epoch: epoch, messageID: message.id, outbox: outbox,
            newState: newState, newStatus: newStatus, parent: parent, expectedVersion: baseVersion,
            children: effects.spawnedChildren), dedupSeconds: settings.dedupSeconds)

        switch result {
        case .committed(let version):
            settings.fault?.trip(.afterCommit)
            cache.withLock { cache in
                var updated = record.exists ? record : ActorRecord(status: .active, parent: parent, version: 0, state: [])
                updated.version = version
                if let newState { updated.state = newState }
                if let newStatus { updated.status = newStatus }
                if let parent { updated.parent = parent }
                if updated.status == .active { cache.put(address, updated) } else { cache.remove(address) }
            }
            try await publisher.publish(effects.outbox)
            settings.fault?.trip(.afterPublish)
            return .disposition(.done)
        case .duplicate(let stored):
            logger.debug("redelivered message already committed: re-publishing its outbox", metadata: ["message": "\(message.id)"])
            cache.withLock { $0.remove(address) }
            try await publisher.republish(storedOutbox: stored)
            return .disposition(.done)
        case .fenced(let current):
            logger.warning("commit refused: partition fenced by a newer owner",
                           metadata: ["actor": "\(address)", "partition": "\(partition)", "epoch": "\(epoch)", "current": "\(current)"])
            return .disposition(.fenced)
        case .versionMoved:
            return .stale
        }
    }

    /// A turn that stops its actor also stops its live children: a
    /// `greenroom.stop` to each, in the turn's outbox.
    func addChildStops(to effects: inout TurnEffects, of address: ActorAddress, messageID: String) async throws {
        for child in try await store.children(of: address) {
            effects.outbox.append(OutgoingMessage(
                destination: .actor(child), kind: WireFormat.SystemKind.stop, payload: Array("{}".utf8),
                id: "\(messageID)/\(effects.outbox.count)", from: address))
        }
    }

    /// An outbox as stored in the dedup record (JSON); most turns send nothing.
    static func encodeOutbox(_ outbox: [OutgoingMessage]) throws -> [UInt8] {
        outbox.isEmpty ? Array("[]".utf8) : Array(try JSONEncoder().encode(outbox))
    }

    /// Runs the behaviour, retrying in place with backoff; a `MessageRejected`
    /// is not retried. Returns the new state and effects, or the last failure.
    private func runBehavior(_ type: HostedType, state: [UInt8], envelope: Envelope, parent: ActorAddress?, prior: PriorFailure?) async throws
        -> Result<([UInt8], TurnEffects), TurnFailure> {
        var attempt = 1
        if let prior {
            // Carry on where the batch left off: same budget, same backoff.
            guard prior.attempts < type.retry.attempts else {
                return .failure(TurnFailure(reason: prior.reason, attempts: prior.attempts, retried: true))
            }
            try await Task.sleep(for: type.retry.delay(after: prior.attempts))
            attempt = prior.attempts + 1
        }
        while true {
            let context = TurnContext(address: envelope.target, parent: parent, message: envelope.message, directory: store)
            do {
                let newState = try await type.run(state, envelope.message, context)
                return .success((newState, context.collectedEffects))
            } catch let rejected as MessageRejected {
                return .failure(TurnFailure(reason: rejected.reason, attempts: attempt, retried: false))
            } catch {
                guard attempt < type.retry.attempts else {
                    return .failure(TurnFailure(reason: "\(error)", attempts: attempt, retried: true))
                }
                logger.debug("turn failed; retrying", metadata: ["actor": "\(envelope.target)", "attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: type.retry.delay(after: attempt))
                attempt += 1
            }
        }
    }

    private struct TurnFailure: Error {
        var reason: String
        var attempts: Int
        var retried: Bool
    }

    /// Dead-letters a message whose turn failed; tells the parent, if any.
    private func deadLetterFailed(_ envelope: Envelope, delivery: AMQPDelivery, failure: TurnFailure, parent: ActorAddress?) async throws -> Disposition {
        let reason = failure.retried ? "failed after \(failure.attempts) attempts: \(failure.reason)" : failure.reason
        let disposition = try await deadLetter(delivery, reason: reason, attempts: failure.attempts, actor: envelope.target)
        if failure.retried, let parent {
            let payload = try TurnContext.encode(ChildFailed(child: envelope.target, kind: envelope.message.kind, error: reason, messageID: envelope.message.id))
            try await publisher.publish([OutgoingMessage(
                destination: .actor(parent), kind: WireFormat.SystemKind.childFailed, payload: payload,
                id: "\(envelope.message.id)/child-failed", from: envelope.target)])
        }
        return disposition
    }

    /// Dead-letters unless this message was already committed (a redelivery
    /// whose turn changed what we now see, e.g. the stop that stopped it).
    private func rejectUnlessDuplicate(_ envelope: Envelope, delivery: AMQPDelivery, partition: Int, reason: String) async throws -> Outcome {
        let key = RedisLayout.dedup(messageID: envelope.message.id, type: envelope.target.type, partition: partition)
        if let stored = try await store.redis.send("GET", key).bytes {
            try await publisher.republish(storedOutbox: stored)
            return .disposition(.done)
        }
        return .disposition(try await deadLetter(delivery, reason: reason, attempts: 0, actor: envelope.target))
    }

    func deadLetter(_ delivery: AMQPDelivery, reason: String, attempts: Int, actor: ActorAddress?) async throws -> Disposition {
        logger.info("dead-lettered a message", metadata: ["actor": "\(actor?.description ?? "-")", "reason": "\(reason)"])
        let message = AMQPMessage(body: delivery.body, properties: delivery.properties)
        try await publisher.publishDeadLetters([publisher.deadLetter(message, routingKey: delivery.routingKey, reason: reason, attempts: attempts, actor: actor)])
        if let replyTo = delivery.properties.replyTo {
            // Someone is waiting (ask, spawn, stop): tell them now instead of letting them time out.
            let payload = try TurnContext.encode(["error": reason])
            try await publisher.publish([OutgoingMessage(
                destination: .reply(queue: replyTo, correlationID: delivery.properties.correlationID), kind: "error",
                payload: payload, id: "\(delivery.properties.messageID ?? "?")/error", from: actor)])
        }
        return .deadLettered(reason: reason)
    }
}

/// The payload of a `child-failed` message to a parent.
public struct ChildFailed: Codable, Sendable, Equatable {
    public var child: ActorAddress
    public var kind: String
    public var error: String
    public var messageID: String
}
