import Foundation
import Workers

/// Delayed sends, timers and reminders in the kit, decided by the runtime's
/// own pieces: `ScheduleBook` (what setting, cancelling, firing and
/// stopping do, and whether a firing is void) and `DueDispatcher.firing`
/// (a reminder's missed periods and next time). `World.due` stands for the
/// partition's due set; the `TestClock`'s `date` is the wall clock.
extension KitRuntime {
    /// Moves the clock forward by `duration` in one step — like time passing
    /// with no worker to fire anything — then fires what came due (a
    /// reminder due several times, once, with its missed periods) and runs
    /// everything due now, with what it sends; returns those turns' records.
    func advance(by duration: Duration, maximumTurns: Int) async throws -> [TurnRecord] {
        try await driving {
            let before = world.withLock { $0.records.count }
            clock.advance(by: duration)
            try await run(maximumTurns: maximumTurns, stepping: false) { _ in false }
            return world.withLock { Array($0.records[before...]) }
        }
    }

    /// The clock's wall-clock time in unix milliseconds, as due times are kept.
    var nowMilliseconds: Int64 { Schedules.milliseconds(clock.date) }

    /// When the earliest waiting entry is due, on the test clock.
    func nextFiring() -> TestClock.Instant? {
        guard let due = world.withLock({ $0.due.map(\.due).min() }) else { return nil }
        return clock.instant(at: Date(timeIntervalSince1970: Double(due) / 1_000))
    }

    /// Fires every entry the clock has reached, in due order (ties by id, as
    /// in Redis), as the partition owner's dispatcher does: a delayed send or
    /// a timer once, a reminder once however many periods it missed, moved
    /// on to its next time.
    func fireDue() {
        let now = nowMilliseconds
        world.withLock { world in
            let due = world.due.filter { $0.due <= now }.sorted { ($0.due, $0.id) < ($1.due, $1.id) }
            guard !due.isEmpty else { return }
            let fired = Set(due.map(\.id))
            world.due.removeAll { fired.contains($0.id) }
            for entry in due {
                let firing = DueDispatcher.firing(entry, due: entry.due, now: now)
                if let next = firing.next {
                    var moved = entry
                    moved.due = next
                    world.due.append(moved)
                }
                deliver(entry, missed: firing.missed, in: &world)
            }
        }
    }

    /// The message `entry` fires as (its id, when it was due, and for a timer
    /// or reminder its firing), delivered, or for `BehaviorTest` kept in
    /// `sent` unless it is the actor's own timer or reminder.
    private func deliver(_ entry: DueEntry, missed: Int, in world: inout World) {
        let message = Message(
            kind: entry.kind, payload: Array(entry.payload.utf8), id: entry.messageID(firingAt: entry.due), sender: entry.from,
            scheduledAt: Date(timeIntervalSince1970: Double(entry.due) / 1_000),
            firing: entry.schedule.flatMap { ScheduleFiring(field: $0, missedPeriods: entry.every == nil ? 0 : missed, generation: entry.id) })
        if routing == .keep, entry.schedule == nil {
            world.outbox.append(TestMessage(message, to: entry.to))
        } else {
            world.pending.append(Delivery(target: entry.to, message: message, spawnIfMissing: entry.spawn ?? false, due: clock.now))
        }
    }

    /// Whether `message` is a firing of a timer or reminder that `address`
    /// cancelled, set again or lost with a stop since: acked, not run.
    func isVoid(_ message: Message, for address: ActorAddress, in world: borrowing World) -> Bool {
        guard let firing = message.firing else { return false }
        return !ScheduleBook(world.actors[address]?.schedules ?? [:]).isCurrent(firing)
    }

    /// Writes a committed turn's schedule operations (after the firing it
    /// handled; a stop clears them after) as the commit writes them:
    /// entries added, then those cancelled or replaced removed.
    func commitSchedules(of address: ActorAddress, firing: ScheduleFiring?, _ operations: [ScheduleOperation], in world: inout World) {
        var book = ScheduleBook(world.actors[address]?.schedules ?? [:])
        if let firing { book.ran(firing) }
        for operation in operations { book.apply(operation) }
        write(book, of: address, in: &world)
    }

    /// Every timer and reminder of `address` goes (it stopped).
    func clearSchedules(of address: ActorAddress, in world: inout World) {
        var book = ScheduleBook(world.actors[address]?.schedules ?? [:])
        book.clear()
        write(book, of: address, in: &world)
    }

    private func write(_ book: ScheduleBook, of address: ActorAddress, in world: inout World) {
        world.actors[address]?.schedules = book.generations
        world.due += book.added
        let removed = Set(book.removed)
        if !removed.isEmpty { world.due.removeAll { removed.contains($0.id) } }
    }

    /// `greenroom.cancel-reminder` (`{"name": NAME}`): cancels in the
    /// actor's turn order and answers `{"cancelled": BOOL}`; for an actor
    /// not running, or a payload without a name, the reason to dead-letter with.
    func cancelReminder(_ delivery: Delivery, in world: inout World) -> Result<TestReply, RefusedCancel> {
        let address = delivery.target
        guard world.actors[address]?.active == true else { return .failure(RefusedCancel(reason: RefusalReason.notRunning(address))) }
        let name: String
        do {
            name = try delivery.message.decode(CancelReminderRequest.self).name
        } catch {
            return .failure(RefusedCancel(reason: "\(error)"))
        }
        let field = "reminder:\(name)"
        let cancelled = world.actors[address]?.schedules[field] != nil
        var book = ScheduleBook(world.actors[address]?.schedules ?? [:])
        book.apply(.cancel(field: field))
        write(book, of: address, in: &world)
        return .success(TestReply(kind: "reply", payload: Array(#"{"cancelled":\#(cancelled)}"#.utf8)))
    }

    struct RefusedCancel: Error {
        var reason: String
    }

    /// The waiting entries, oldest due first, as tests see them.
    func scheduled(matching include: (DueEntry) -> Bool = { _ in true }) -> [TestScheduled] {
        world.withLock { $0.due.filter(include) }.sorted { ($0.due, $0.id) < ($1.due, $1.id) }.map(scheduled)
    }

    func scheduled(_ entry: DueEntry) -> TestScheduled {
        let due = clock.instant(at: Date(timeIntervalSince1970: Double(entry.due) / 1_000))
        let name = entry.schedule.flatMap { ScheduleFiring(field: $0, missedPeriods: 0, generation: entry.id)?.name }
        return TestScheduled(
            message: TestMessage(to: entry.to, kind: entry.kind, payload: Array(entry.payload.utf8), id: entry.messageID(firingAt: entry.due),
                                 from: entry.from),
            due: due, name: name, isReminder: entry.every != nil, every: entry.every.map { .milliseconds($0) })
    }
}

/// The payload of `greenroom.cancel-reminder`.
private struct CancelReminderRequest: Decodable {
    var name: String
}
