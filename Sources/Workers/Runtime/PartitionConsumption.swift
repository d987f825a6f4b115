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
                for delivery in deliveries {
                    switch Envelope.parse(delivery, maximumBodyBytes: maximumBodyBytes) {
                    case .failure(let invalid):
                        await refuse(delivery, reason: invalid.description, actor: invalid.target, run: run, pipeline: pipeline)
                    case .success(let envelope):
                        let home = PartitionID(of: envelope.target, partitions: partitions)
                        guard home == run.partition else {
                            // Running it here would write its actor's record under the wrong partition's keys.
                            await refuse(delivery, reason: "delivered to \(run.partition.queue), but \(envelope.target) belongs to \(home.queue)",
                                         actor: envelope.target, run: run, pipeline: pipeline)
                            continue
                        }
                        admitted.append((Delivered(envelope: envelope, delivery: delivery, run: run), envelope.target))
                    }
                }
                run.inFlight.enter(admitted.count)
                mailboxes.enqueue(contentsOf: admitted)
            }
            // Ended without an error: this worker cancelled it (handover, lost lease, shutdown).
        } catch {
            if !state.withLock({ $0.stopping }), run.isLive { ended(run, error) }
        }
    }

    /// Dead-letters a delivery that can never be handled, then acks it.
    private func refuse(_ delivery: AMQPDelivery, reason: String, actor: ActorAddress?, run: PartitionRun, pipeline: TurnPipeline) async {
        do {
            try await pipeline.deadLetter(delivery, reason: reason, attempts: 0, actor: actor)
            run.acks.finish(delivery.deliveryTag)
        } catch {
            logger.error("could not dead-letter an invalid message; it stays unacked and returns to the queue",
                         metadata: ["error": "\(error)"])
        }
    }
}
