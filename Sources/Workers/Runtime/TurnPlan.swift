import Foundation

/// What an actor's waiting messages come to when run, before anything is
/// stored: the commit group to write, the sends of each applied turn, the
/// messages refused on the way, and the turn that threw, if one did.
///
/// A plan covers a prefix of the messages: it ends before a turn that threw
/// and may be retried (that message waits, and so does everything after it),
/// and otherwise runs to the end. System messages (`greenroom.spawn`,
/// `greenroom.stop`) and ordinary ones mix in one plan in delivery order.
struct TurnPlan {
    var group: CommitScript.Group
    /// Applied turns, in order: the message and its sends.
    var applied: [(item: Delivered, outbox: [OutgoingMessage])] = []
    /// Refused messages, to dead-letter with their reason once the group is decided.
    var refused: [Refusal] = []
    /// The record after the applied turns, its version counting them.
    var record: ActorRecord
    /// Messages the plan covers (applied or refused), from the front.
    var covered = 0
    /// The turn that threw and will be retried, with why; not covered.
    var retry: (item: Delivered, reason: String)?
    /// The turn that threw and parked its actor (a delayed retry), with why and its failed attempts.
    var parked: (item: Delivered, reason: String, attempts: Int)?
    /// Covered messages that are neither turns nor refusals, acked once the
    /// group is decided: the parked message, held and dropped ones, an unpark.
    var stored: [Delivered] = []
    /// Whether the plan ends with an unpark: the commit decides whether the actor is still parked.
    var unparks = false

    struct Refusal {
        var item: Delivered
        var reason: String
        var attempts: Int
        /// A turn that failed every attempt: its parent hears `child-failed`.
        var exhaustedRetries: Bool
        /// Not dead-lettered, only acked: a firing of a timer or reminder
        /// cancelled or set again since it was published.
        var silent = false
    }

    /// All messages the plan settles, applied then refused — the order the
    /// commit script numbers them in.
    var settled: [Delivered] { applied.map(\.item) + refused.map(\.item) }
}

extension TurnPipeline {
    /// Runs `items` (one actor's, oldest first) on `record`. `diedBefore`:
    /// how often the process died handling the first message (`CrashMarks`);
    /// at `Settings.maximumCrashes` it is refused instead of run again.
    func plan(_ items: [Delivered], from record: ActorRecord, type: HostedType?, diedBefore: Int = 0) async throws -> TurnPlan {
        // A message id seen a second time must meet the first copy's dedup
        // record, so the plan ends before it (it comes back next round).
        var ids = Set<String>()
        let items = Array(items.prefix { ids.insert($0.messageID).inserted })
        let address = items[0].actor
        var plan = TurnPlan(group: CommitScript.Group(address: address, expectedVersion: record.version), record: record)
        if let parked = record.parked { plan.group.parking = CommitScript.Parking(expected: parked) }
        if diedBefore >= settings.maximumCrashes {
            // Refused through the commit like any refusal: one already committed is a duplicate, not poison.
            tracing.begin(items[0])
            plan.refuse(items[0], "the worker process died \(diedBefore) times while handling it", attempts: diedBefore, exhaustedRetries: true)
            return plan
        }
        var index = 0
        while index < items.count {
            let item = items[index]
            let message = item.envelope.message
            if plan.record.parked != nil || item.release != nil {
                switch try plan.arrival(item) {
                case .run: break
                case .hold, .drop:
                    index += 1
                    continue
                case .unpark:
                    return plan  // whether the actor is still parked is decided in the commit
                }
            }
            tracing.begin(item)
            guard let type else {
                plan.refuse(item, RefusalReason.notHosted(type: address.type))
                index += 1
                continue
            }
            if let firing = message.firing, !ScheduleBook(plan.record.schedules).isCurrent(firing) {
                plan.refuse(item, "the \(firing.isReminder ? "reminder" : "timer") '\(firing.name)' was cancelled or set again", silent: true)
                index += 1
                continue
            }
            switch message.kind {
            case WireFormat.SystemKind.unpark:
                plan.store(item)  // not from a release round: no park of this actor's
                index += 1
            case WireFormat.SystemKind.cancelReminder:
                if let effects = planCancelReminder(item, into: &plan) {
                    try await apply(item, effects, into: &plan)
                }
                index += 1
            case WireFormat.SystemKind.spawn:
                if let effects = planSpawn(item, type: type, into: &plan) {
                    try await apply(item, effects, into: &plan)
                }
                index += 1
            case WireFormat.SystemKind.stop:
                guard plan.record.isActive else {
                    plan.refuse(item, RefusalReason.notRunning(address))
                    index += 1
                    continue
                }
                var effects = Self.lifecycleReply(to: message, kind: "stopped", from: address)
                effects.stopSelf = true
                try await apply(item, effects, into: &plan)
                index += 1
            default:
                if !plan.record.isActive {
                    guard item.envelope.spawnIfMissing, !plan.record.exists else {
                        plan.refuse(item, RefusalReason.doesNotExist(address))
                        index += 1
                        continue
                    }
                    plan.record = ActorRecord(status: .active, parent: nil, version: 0, state: try type.initialState())
                    plan.group.status = .active
                }
                // Consecutive ordinary messages run as one sequence: the
                // state is decoded once and encoded once.
                var end = index + 1
                // A firing starts a sequence of its own: whether it still
                // counts depends on the turns before it.
                // While parked, a message not released from the park is held instead.
                while end < items.count, !WireFormat.SystemKind.isRuntimeHandled(items[end].envelope.message.kind),
                      items[end].envelope.message.firing == nil, items[end].release == plan.record.parked { end += 1 }
                let sequence = Array(items[index..<end])
                index += try await runSequence(sequence, type: type, into: &plan)
                if plan.retry != nil { return plan }
            }
        }
        return plan
    }

    /// Runs ordinary messages in order; returns how many the plan now covers
    /// (all of them, or up to a stop, a refusal or a turn to retry).
    private func runSequence(_ items: [Delivered], type: HostedType, into plan: inout TurnPlan) async throws -> Int {
        let address = items[0].actor
        for item in items { tracing.begin(item) }
        let contexts = items.map {
            TurnContext(address: address, parent: plan.record.parent, message: $0.envelope.message, directory: store,
                        serviceContext: tracing.context(of: $0))
        }
        let outcome = await type.runSequence(plan.record.state, plan.record.decoded, Array(zip(items.map(\.envelope.message), contexts)))
        if outcome.completed > 0, let state = outcome.state {
            plan.record.state = state
            plan.record.decoded = outcome.decoded
            plan.group.state = state
            for (item, context) in zip(items, contexts).prefix(outcome.completed) {
                try await apply(item, context.collectedEffects, into: &plan)
            }
        }
        guard outcome.completed < items.count else { return items.count }
        guard let failure = outcome.failure else { return outcome.completed }  // the actor stopped: the rest is refused next
        let failing = items[outcome.completed]
        switch type.retry.verdict(on: failure, attempt: failing.failedAttempts + 1) {
        case .rejected(let reason):
            plan.refuse(failing, reason, attempts: 1)
            return outcome.completed + 1
        case .exhausted(let reason, let attempts):
            plan.refuse(failing, reason, attempts: attempts, exhaustedRetries: true)
            return outcome.completed + 1
        case .retry(let reason):
            let attempts = failing.failedAttempts + 1
            guard type.retry.parks(after: attempts) else {
                plan.retry = (failing, reason)
                return outcome.completed
            }
            try plan.park(failing, reason: reason, attempts: attempts, pause: type.retry.delay(after: attempts), now: DueWatch.now())
            return outcome.completed + 1
        }
    }

    /// Checks a `greenroom.cancel-reminder`; returns the turn's effects (the
    /// cancel, and `{"cancelled": BOOL}` to a caller waiting on `reply_to`),
    /// or nil when it was refused.
    private func planCancelReminder(_ item: Delivered, into plan: inout TurnPlan) -> TurnEffects? {
        let message = item.envelope.message
        guard plan.record.isActive else {
            plan.refuse(item, RefusalReason.notRunning(item.actor))
            return nil
        }
        let name: String
        do {
            name = try message.decode(CancelReminder.self).name
        } catch {
            plan.refuse(item, "\(error)")
            return nil
        }
        var effects = TurnEffects()
        let field = ScheduleKind.reminder(name, every: 0).field
        effects.schedule.append(.cancel(field: field))
        if let replyTo = message.replyTo {
            effects.outbox.append(OutgoingMessage(
                destination: .reply(queue: replyTo, correlationID: message.correlationID), kind: "reply",
                payload: Array(#"{"cancelled":\#(plan.record.schedules[field] != nil)}"#.utf8), id: "\(message.id)/0", from: item.actor))
        }
        return effects
    }

    /// Checks a spawn and makes the actor in `plan`; returns the turn's
    /// effects (its reply), or nil when the spawn was refused.
    private func planSpawn(_ item: Delivered, type: HostedType, into plan: inout TurnPlan) -> TurnEffects? {
        let message = item.envelope.message
        let address = item.actor
        if plan.record.exists {
            plan.refuse(item, RefusalReason.alreadyExists(address, status: plan.record.status.rawValue))
            return nil
        }
        let request: SpawnRequest
        let state: [UInt8]
        do {
            request = try message.decode(SpawnRequest.self)
            state = try request.state.map { try type.validateState($0.raw) } ?? type.initialState()
        } catch {
            plan.refuse(item, RefusalReason.cannotSpawn(address, error))
            return nil
        }
        plan.record = ActorRecord(status: .active, parent: request.parent, version: 0, state: state)
        plan.group.state = state
        plan.group.status = .active
        plan.group.parent = request.parent
        return Self.lifecycleReply(to: message, kind: "spawned", from: address)
    }

    /// The effects of a spawn or stop: a reply `{"KIND": "ADDRESS"}` to a
    /// caller waiting on `reply_to`, if there is one.
    private static func lifecycleReply(to message: Message, kind: String, from address: ActorAddress) -> TurnEffects {
        var effects = TurnEffects()
        if let replyTo = message.replyTo {
            effects.outbox.append(OutgoingMessage(
                destination: .reply(queue: replyTo, correlationID: message.correlationID), kind: kind,
                payload: Array(#"{"\#(kind)":"\#(address)"}"#.utf8), id: "\(message.id)/0", from: address))
        }
        return effects
    }

    /// Adds one applied turn; a turn that stops its actor also stops the
    /// actor's live children (stored ones and those spawned in this plan).
    private func apply(_ item: Delivered, _ effects: TurnEffects, into plan: inout TurnPlan) async throws {
        var effects = effects
        let message = item.envelope.message
        plan.group.children += effects.spawnedChildren
        let trace = tracing.outgoing(for: item)
        if let firing = message.firing, !firing.isReminder {
            plan.forgetSchedule(firing.field)  // a timer that fired is gone
        }
        if let trace {
            // What the turn sends and schedules continues its trace.
            for index in effects.outbox.indices where effects.outbox[index].trace == nil { effects.outbox[index].trace = trace }
            effects.schedule = effects.schedule.map { $0.continuing(trace) }
        }
        for operation in effects.schedule { try plan.schedule(operation) }
        if effects.stopSelf {
            let stored = try await store.children(of: item.actor)
            for child in stored + plan.group.children.filter({ !stored.contains($0) }) {
                effects.outbox.append(OutgoingMessage(
                    destination: .actor(child), kind: WireFormat.SystemKind.stop, payload: Array("{}".utf8),
                    id: "\(message.id)/\(effects.outbox.count)", from: item.actor, trace: trace))
            }
            plan.record.status = .stopped
            plan.group.status = .stopped
            for field in plan.record.schedules.keys { plan.forgetSchedule(field) }
        }
        plan.applied.append((item, effects.outbox))
        plan.group.applied.append((message.id, try StoredOutbox.encode(effects.outbox)))
        plan.settledRelease(item)
        plan.record.version += 1  // as the commit will store it: every applied turn counts
        plan.covered += 1
    }
}

extension TurnPlan {
    mutating func refuse(_ item: Delivered, _ reason: String, attempts: Int = 0, exhaustedRetries: Bool = false, silent: Bool = false) {
        refused.append(Refusal(item: item, reason: reason, attempts: attempts, exhaustedRetries: exhaustedRetries, silent: silent))
        group.checked.append(item.messageID)
        // A timer whose firing is dead-lettered has fired all the same: it is gone.
        if !silent, let firing = item.envelope.message.firing, !firing.isReminder, ScheduleBook(record.schedules).isCurrent(firing) {
            forgetSchedule(firing.field)
        }
        settledRelease(item)
        covered += 1
    }

    /// A covered message that is neither a turn nor a refusal.
    mutating func store(_ item: Delivered) {
        stored.append(item)
        covered += 1
    }
}

extension TurnPlan {
    /// Adds one schedule operation of an applied turn to the commit.
    mutating func schedule(_ operation: ScheduleOperation) throws {
        var book = ScheduleBook(record.schedules)
        book.apply(operation)
        try write(book)
    }

    /// Drops the timer or reminder `field`, and its waiting entry, if it has one.
    mutating func forgetSchedule(_ field: String) {
        var book = ScheduleBook(record.schedules)
        book.forget(field)
        try? write(book)  // a forget adds no entry to encode
    }

    /// Takes what `book` decided into the record and the commit.
    private mutating func write(_ book: ScheduleBook) throws {
        for entry in book.added { group.dueAdded.append((entry.id, entry.due, try entry.encoded())) }
        group.dueRemoved += book.removed
        guard book.changed else { return }
        record.schedules = book.generations
        group.schedules = Array(try JSONEncoder.sorted.encode(record.schedules))
    }
}

/// The payload of `greenroom.cancel-reminder`.
struct CancelReminder: Codable, Sendable {
    var name: String
}

extension JSONEncoder {
    /// An encoder with sorted keys: the same value gives the same bytes.
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
