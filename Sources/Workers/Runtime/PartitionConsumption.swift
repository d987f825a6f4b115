import Broker

/// How a worker consumes one partition it owns: every batch of deliveries
/// the connection read is checked against the wire format, and each valid
/// delivery joins its actor's mailbox, from which the turn pipeline takes it.
extension WorkerRuntime {
    /// `ended` hears why the consumer stopped, unless this worker stopped it.
    func consume(_ run: PartitionRun, pipeline: TurnPipeline, mailboxes: Mailboxes<Delivered>,
                 ended: @Sendable (PartitionRun, any Error) -> Void) async {
        let maximumBodyBytes = configuration.maximumBodyBytes
        let partitions = configuration.partitions
        do {
            for try await deliveries in run.consumer.batches {
                // The partition was lost and its channel closed: the broker
                // requeued these for the new owner.
                guard run.isLive, run.consumer.channel.closedBecause == nil else { break }
                // Handing over: what arrives now stays unacked and returns to
                // the queue, in order, when the channel closes.
                guard run.isAdmitting else { continue }
                var admitted: [(Delivered, ActorAddress)] = []
                admitted.reserveCapacity(deliveries.count)
                var delayed: [(entry: DueEntry, delivery: AMQPDelivery)] = []
                let now = DueWatch.now()
                let received = ContinuousClock.now
                var redelivered = 0
                for delivery in deliveries {
                    if delivery.redelivered { redelivered += 1 }
                    switch Envelope.parse(delivery, maximumBodyBytes: maximumBodyBytes) {
                    case .failure(let invalid):
                        await refuse(delivery, reason: invalid.description, actor: invalid.target, run: run, pipeline: pipeline)
                    case .success(let envelope):
                        // A PartitionID names its type: another type's message never matches.
                        guard PartitionID(of: envelope.target, partitions: partitions) == run.partition else {
                            // Running it here would write its actor's record under the wrong partition's keys.
                            await refuse(delivery, reason: await misrouted(envelope.target, store: pipeline.store),
                                         actor: envelope.target, run: run, pipeline: pipeline)
                            continue
                        }
                        if Envelope.ignoresReplyTo(delivery) { pipeline.ignoredReplyTo(delivery, actor: envelope.target) }
                        if let tooLate = Self.beyondMaximumDelay(envelope, now: now) {
                            await refuse(delivery, reason: tooLate, actor: envelope.target, run: run, pipeline: pipeline)
                            continue
                        }
                        if let entry = Self.delayedEntry(envelope, delivery, now: now) {
                            delayed.append((entry, delivery))
                            continue
                        }
                        admitted.append((Delivered(envelope: envelope, delivery: delivery, run: run, received: received), envelope.target))
                    }
                }
                pipeline.hooks.didReceive(type: run.partition.type, deliveries: deliveries.count, redelivered: redelivered)
                run.inFlight.enter(admitted.count)
                mailboxes.enqueue(contentsOf: admitted)
                if !delayed.isEmpty { await storeDelayed(delayed, run: run, pipeline: pipeline) }
            }
            // Ended without an error: this worker cancelled it (handover, lost lease, shutdown).
        } catch {
            if !state.withLock({ $0.stopping }), run.isLive { ended(run, error) }
        }
    }

    /// Why a message in the wrong queue is refused: the queue it belongs to
    /// (for another type, by that type's declared partition count).
    private func misrouted(_ target: ActorAddress, store: ActorStore) async -> String {
        guard let home = try? await store.partition(of: target) else {
            return "misrouted: belongs to actor type '\(target.type)', which no worker has declared"
        }
        return "misrouted: belongs to \(home.queue)"
    }

    /// Dead-letters a delivery that can never be handled, then acks it. If
    /// the dead letter cannot be published, the delivery is nacked back to
    /// the queue after a pause (growing while publishing keeps failing), to
    /// be checked and dead-lettered again: never left unacked.
    private func refuse(_ delivery: AMQPDelivery, reason: String, actor: ActorAddress?, run: PartitionRun, pipeline: TurnPipeline) async {
        do {
            try await pipeline.deadLetter(delivery, reason: reason, attempts: 0, actor: actor)
            pipeline.deadLetterFailures.store(0, ordering: .relaxed)
            run.acks.finish(delivery.deliveryTag)
        } catch {
            let failures = pipeline.deadLetterFailures.wrappingAdd(1, ordering: .relaxed).newValue
            let pause = Duration.milliseconds(min(30_000, 250 << min(failures, 7)))
            logger.error("could not dead-letter a message that can never be handled; it goes back to the queue to try again",
                         metadata: ["error": "\(error)", "reason": "\(reason)", "retry in": "\(pause)"])
            Task {
                try? await Task.sleep(for: pause)
                run.acks.nack(delivery.deliveryTag, requeue: true)
            }
        }
    }
}
