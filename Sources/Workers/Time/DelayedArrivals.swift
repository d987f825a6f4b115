import Broker
import Foundation

/// A client's delayed message (`x-greenroom-not-before`) arrives in its
/// target's partition at once; its owner stores it in the partition's due
/// set and acks it, and the `DueDispatcher` publishes it again, with the
/// same id, when due. It never waits in a mailbox, so it holds back none of
/// its actor's other messages.
extension WorkerRuntime {
    /// How close to its time a delayed message may arrive and still be run
    /// at once rather than stored.
    static let notBeforeTolerance: Int64 = 5

    /// Why a delayed message is refused: due more than `Schedules.maximumDelay`
    /// ahead (Greenroom's clients refuse to send it; another program might).
    static func beyondMaximumDelay(_ envelope: Envelope, now: Int64) -> String? {
        // Compared as a sum of two bounded times: a hostile value (Int64.min) must not overflow.
        guard let notBefore = envelope.notBefore, notBefore > now + Schedules.milliseconds(Schedules.maximumDelay) else { return nil }
        return "\(WireFormat.notBeforeHeader) \(notBefore) is more than one year ahead (the longest delay)"
    }

    /// The due entry for a delivery that is not due yet, or nil when it is.
    static func delayedEntry(_ envelope: Envelope, _ delivery: AMQPDelivery, now: Int64) -> DueEntry? {
        guard let notBefore = envelope.notBefore, notBefore > now + notBeforeTolerance else { return nil }
        let message = envelope.message
        var entry = DueEntry(to: envelope.target, kind: message.kind, payload: message.payload, id: message.id, due: notBefore,
                             from: message.sender, spawn: envelope.spawnIfMissing)
        entry.replyTo = message.replyTo
        entry.correlationID = message.correlationID
        entry.trace = message.trace
        return entry
    }

    /// Stores delayed messages in the run's due set, then acks them. If the
    /// partition has a newer owner they stay unacked (the closing channel
    /// requeues them for it); if Redis fails they go back to the queue
    /// after a pause, to be stored again.
    func storeDelayed(_ arrivals: [(entry: DueEntry, delivery: AMQPDelivery)], run: PartitionRun, pipeline: TurnPipeline) async {
        run.inFlight.enter(arrivals.count)
        defer { run.inFlight.leave(arrivals.count) }
        do {
            try await DueStore(redis: pipeline.store.redis).store(arrivals.map(\.entry), in: run.partition, epoch: run.epoch)
            if let earliest = arrivals.map(\.entry.due).min() { run.dueWatch.note(due: earliest) }
            run.acks.finish(arrivals.map(\.delivery.deliveryTag))
        } catch is DueStore.Fenced {
            pipeline.onFenced(run)
        } catch {
            logger.error("could not store delayed messages; they go back to the queue to be stored again",
                         metadata: ["partition": "\(run.partition.queue)", "messages": "\(arrivals.count)", "error": "\(error)"])
            let tags = arrivals.map(\.delivery.deliveryTag)
            Task {
                try? await Task.sleep(for: .milliseconds(500))
                for tag in tags { run.acks.nack(tag, requeue: true) }
            }
        }
    }
}
