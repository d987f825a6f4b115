import Broker
import Synchronization

/// How a worker consumes one partition it owns: batches of deliveries, the
/// fast path for ordinary messages, mailboxes for the rest, and the acks.
extension WorkerRuntime {
    /// A partition's consume loop: every batch of deliveries the connection
    /// read is checked, its ordinary messages run as one batch
    /// (`TurnRunner.runBatch`), and the rest — and whatever the batch defers —
    /// go to the actors' mailboxes, one message at a time, in order. An actor
    /// with a turn in its mailbox keeps to the mailbox until it is empty, so
    /// its messages never overtake each other.
    func consume(_ consumer: AMQPConsumer, type: String, partition: Int, epoch: String, inFlight: InFlight, runner: TurnRunner) async {
        let acks = ChannelAcknowledger(channel: consumer.channel)
        let key = PartitionOwnership.key(type, partition)
        let maximumBodyBytes = configuration.maximumBodyBytes
        let partitions = configuration.partitions
        do {
            for try await deliveries in consumer.batches {
                // The partition was lost and its channel closed: the broker
                // requeued these for the new owner.
                if consumer.channel.closedBecause != nil { break }
                var batch: [TurnRunner.BatchItem] = []
                var later: [TurnRunner.Deferred] = []
                var diverted = Set<ActorAddress>()
                for delivery in deliveries {
                    switch Envelope.parse(delivery, maximumBodyBytes: maximumBodyBytes) {
                    case .failure(let invalid):
                        do {
                            _ = try await runner.deadLetter(delivery, reason: invalid.description, attempts: 0, actor: invalid.target)
                            acks.finish(delivery.deliveryTag)
                        } catch {
                            logger.error("could not dead-letter an invalid message; it stays unacked and returns to the queue",
                                         metadata: ["error": "\(error)"])
                        }
                    case .success(let envelope):
                        let item = TurnRunner.BatchItem(envelope: envelope, delivery: delivery)
                        if !diverted.contains(envelope.target), !mailboxes.isBusy(envelope.target),
                           runner.canBatch(envelope, delivery, type: type, partition: partition, partitions: partitions) {
                            batch.append(item)
                        } else {
                            diverted.insert(envelope.target)
                            later.append(.init(item: item, prior: nil))
                        }
                    }
                }
                let deferred = batch.isEmpty ? [] : await runBatch(batch, type: type, partition: partition, epoch: epoch, key: key, runner: runner, acks: acks)
                for one in deferred + later {
                    inFlight.enter()
                    mailboxes.enqueue(one.item.envelope.target) {
                        await self.finish(one, key: key, partition: partition, epoch: epoch, runner: runner, acks: acks)
                        inFlight.leave()
                    }
                }
            }
            // Ended without an error: this worker cancelled it (handover, lost lease, shutdown).
        } catch {
            if !state.withLock({ $0.stopping }) { fail(error) }
        }
    }

    /// Runs one batch; returns what it leaves to the one-message path.
    func runBatch(_ batch: [TurnRunner.BatchItem], type: String, partition: Int, epoch: String, key: String,
                  runner: TurnRunner, acks: ChannelAcknowledger) async -> [TurnRunner.Deferred] {
        do {
            switch try await runner.runBatch(batch, type: type, partition: partition, epoch: epoch) {
            case .done(let committed, let deferred):
                infrastructureFailures.withLock { $0 = 0 }
                acks.finish(committed)
                return deferred
            case .fenced:
                handBackFenced(batch.map(\.delivery.deliveryTag), key: key, acks: acks)
                return []
            }
        } catch {
            logger.error("a batch of turns could not finish; its messages will be redelivered",
                         metadata: ["messages": "\(batch.count)", "partition": "\(key)", "error": "\(error)"])
            await handBack(batch.map(\.delivery.deliveryTag), after: error, acks: acks)
            return []
        }
    }

    /// Runs one message on the one-message path and acks (or hands back) its delivery.
    func finish(_ one: TurnRunner.Deferred, key: String, partition: Int, epoch: String, runner: TurnRunner, acks: ChannelAcknowledger) async {
        let (envelope, delivery) = (one.item.envelope, one.item.delivery)
        do {
            let disposition = try await runner.run(envelope, delivery: delivery, partition: partition, epoch: epoch, prior: one.prior)
            infrastructureFailures.withLock { $0 = 0 }
            switch disposition {
            case .done, .deadLettered:
                // Not awaited: a lost ack only means a redelivery, which the dedup record absorbs.
                acks.finish(delivery.deliveryTag)
            case .fenced:
                handBackFenced([delivery.deliveryTag], key: key, acks: acks)
            }
        } catch {
            // Redis or RabbitMQ failed mid-turn. Nothing is acked, so the broker
            // redelivers the message; the dedup record makes that safe.
            logger.error("turn could not finish; the message will be redelivered",
                         metadata: ["actor": "\(envelope.target)", "message": "\(envelope.message.id)", "error": "\(error)"])
            await handBack([delivery.deliveryTag], after: error, acks: acks)
        }
    }

    /// Another worker owns the partition now: hand the messages back for it,
    /// and stop consuming.
    private func handBackFenced(_ tags: [UInt64], key: String, acks: ChannelAcknowledger) {
        for tag in tags { acks.nack(tag, requeue: true) }
        state.withLock { $0.ownership }?.lose(key, reason: "a commit was refused: a newer owner holds the partition")
    }

    /// Redis or RabbitMQ failed mid-turn: nothing was acked, so the messages
    /// go back for redelivery (the dedup record makes that safe) — after a
    /// pause, since while Redis is down every redelivery fails at once and
    /// without one that is a hot loop (50 ms doubling to 2 s). A lost
    /// publishing connection would fail every later turn the same way: stop.
    private func handBack(_ tags: [UInt64], after error: any Error, acks: ChannelAcknowledger) async {
        let failures = infrastructureFailures.withLock { count in
            count += 1
            return count
        }
        try? await Task.sleep(for: .milliseconds(min(2_000, 25 << min(failures, 7))))
        for tag in tags { acks.nack(tag, requeue: true) }
        if let amqp = error as? AMQPError, amqp.code == .connectionClosed || amqp.code == .channelClosed {
            fail(amqp)
        }
    }
}
