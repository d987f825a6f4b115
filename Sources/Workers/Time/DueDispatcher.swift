import Broker
import Logging

/// Publishes a partition's due entries when their time comes (docs/TIME.md).
/// One per partition run, for as long as the run lives: read what is due,
/// publish it with confirms (with its fixed message id), then settle it in
/// Redis under the run's epoch. A crash between publish and settle publishes
/// the same ids again after takeover, and the receivers' dedup keeps them
/// to one turn; a settle that meets a newer epoch drops the partition.
package struct DueDispatcher: Sendable {
    let run: PartitionRun
    let store: DueStore
    let publisher: FleetPublisher
    let logger: Logger
    /// Called when the partition turned out to have a newer owner.
    let onFenced: @Sendable (PartitionRun) -> Void

    /// Entries published per round.
    static let batch = 512
    /// The longest the dispatcher sleeps without looking at Redis: catches
    /// entries it could not know of (a commit whose reply was lost).
    static let backstopMilliseconds: Int64 = 1_000
    /// The least time from one round's start to the next's. A round costs
    /// the same few round trips (read, confirmed publish, settle) for one
    /// entry as for hundreds, so under load a round takes everything that
    /// came due meanwhile; an entry waits at most this much longer. The
    /// first entry due after a quiet moment goes at once.
    static let roundGapMilliseconds: Int64 = 20

    func run() async {
        let watch = run.dueWatch
        var failures = 0
        var nextRound = Int64.min
        while run.isLive, !watch.isCancelled {
            do {
                let now = DueWatch.now()
                if now < nextRound {
                    await watch.pause(until: nextRound)
                    continue
                }
                let (entries, earliest) = try await store.due(in: run.partition, now: now, limit: Self.batch)
                if entries.isEmpty {
                    let next = watch.reset(to: earliest)
                    await watch.sleep(until: min(next ?? .max, now + Self.backstopMilliseconds))
                } else {
                    try await dispatch(entries, now: now)
                    nextRound = now + Self.roundGapMilliseconds
                }
                failures = 0
            } catch is DueStore.Fenced {
                logger.warning("due set: the partition has a newer owner", metadata: ["partition": "\(run.partition.queue)"])
                onFenced(run)
                return
            } catch {
                guard run.isLive else { return }
                failures += 1
                logger.error("due set: could not publish due messages; trying again while the partition is ours",
                             metadata: ["partition": "\(run.partition.queue)", "error": "\(error)"])
                await watch.sleep(until: DueWatch.now() + min(2_000, 25 << min(failures, 7)))
            }
        }
    }

    /// Publishes one round of due entries, in due order, then settles them.
    private func dispatch(_ entries: [DueStore.Due], now: Int64) async throws {
        var publications: [FleetPublisher.Publication] = []
        var settlements: [DueStore.Settlement] = []
        var unreadable: [AMQPPublication] = []
        for due in entries {
            guard let entry = due.entry else {
                // Never dropped: what was stored goes to the dead letters, with why.
                unreadable.append(publisher.deadLetter(
                    AMQPMessage(body: due.raw, properties: AMQPProperties(messageID: due.id, type: "greenroom.due-entry")),
                    routingKey: run.partition.routingKey,
                    reason: "due entry '\(due.id)' of \(run.partition.queue) could not be read as a delayed message", attempts: 0, actor: nil))
                settlements.append(.init(id: due.id, dueRead: due.due, next: nil))
                continue
            }
            let firing = Self.firing(entry, due: due.due, now: now)
            if let park = entry.release {
                // A parked actor's release round: its held messages, then this entry's unpark.
                publications += try await releaseRound(of: park, to: entry.to)
            }
            publications.append(.actor(entry.to, Self.message(entry, due: due.due, missed: firing.missed)))
            settlements.append(.init(id: due.id, dueRead: due.due, next: try firing.next.map { next in
                var moved = entry
                moved.due = next
                return (next, try moved.encoded())
            }))
        }
        try await publisher.publishDeadLetters(unreadable)
        try await publisher.publish(publications)
        try await store.settle(settlements, in: run.partition, epoch: run.epoch)
        if let next = settlements.compactMap(\.next?.due).min() { run.dueWatch.note(due: next) }
    }

    /// A reminder's periods missed at `now` and its next time, after which it
    /// fires once for all it missed; a timer or delayed message has no next.
    package static func firing(_ entry: DueEntry, due: Int64, now: Int64) -> (missed: Int, next: Int64?) {
        guard let every = entry.every, every > 0 else { return (0, nil) }
        let missed = max(0, (now - due) / every)
        return (Int(missed), due + (missed + 1) * every)
    }

    /// The AMQP message a due entry fires as (docs/PROTOCOL.md).
    static func message(_ entry: DueEntry, due: Int64, missed: Int) -> AMQPMessage {
        var message = FleetPublisher.actorMessage(
            to: entry.to, kind: entry.kind, payload: Array(entry.payload.utf8), id: entry.messageID(firingAt: due),
            from: entry.from, spawnIfMissing: entry.spawn ?? false, replyTo: entry.replyTo, correlationID: entry.correlationID,
            trace: entry.trace)
        message.markFiring(dueAt: due, schedule: entry.schedule.map { ($0, entry.id) }, missed: entry.every != nil ? missed : nil)
        if let release = entry.release { message.properties.headers[WireFormat.releaseHeader] = .string(release) }
        return message
    }
}
