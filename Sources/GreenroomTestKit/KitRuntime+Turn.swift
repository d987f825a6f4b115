import Foundation
import Workers

/// One attempt at one delivery, as `TurnPlan` makes it: refusals before the
/// behaviour runs, void firings of cancelled timers, `greenroom.spawn`,
/// `greenroom.stop` and `greenroom.cancel-reminder`, the behaviour's turn
/// through `HostedType.runSequence`, then commit, retry or dead letter.
extension KitRuntime {
    private enum Step {
        case settled
        case run(HostedType, state: [UInt8], decoded: (any Sendable)?, parent: ActorAddress?)
    }

    /// One attempt at one delivery, taken off the queue at `index`.
    func turn(_ delivery: Delivery, at index: Int) async {
        let address = delivery.target
        let message = delivery.message
        let step = world.withLock { world -> Step in
            guard let type = world.types[address.type] else {
                deadLetter(delivery, RefusalReason.notHosted(type: address.type), attempts: 0, in: &world)
                return .settled
            }
            // Acked, not run, not dead-lettered: nothing to record.
            if isVoid(message, for: address, in: world) { return .settled }
            switch message.kind {
            case WireFormat.SystemKind.cancelReminder:
                switch cancelReminder(delivery, in: &world) {
                case .success(let reply):
                    if let asker = delivery.asker { world.answers[asker] = .reply(reply) }
                    record(delivery, attempt: 0, outcome: .committed, in: &world)
                case .failure(let refused):
                    deadLetter(delivery, refused.reason, attempts: 0, in: &world)
                }
                return .settled
            case WireFormat.SystemKind.spawn:
                spawn(delivery, type: type, in: &world)
                return .settled
            case WireFormat.SystemKind.stop:
                guard world.actors[address]?.active == true else {
                    deadLetter(delivery, RefusalReason.notRunning(address), attempts: 0, in: &world)
                    return .settled
                }
                stop(address, by: message, spawnedNow: [], in: &world)
                answer(delivery, lifecycle: "stopped", in: &world)
                record(delivery, attempt: 0, outcome: .committed, in: &world)
                return .settled
            default:
                if let actor = world.actors[address], actor.active {
                    return .run(type, state: actor.state, decoded: actor.decoded, parent: actor.parent)
                }
                guard delivery.spawnIfMissing, world.actors[address] == nil else {
                    deadLetter(delivery, RefusalReason.doesNotExist(address), attempts: 0, in: &world)
                    return .settled
                }
                do {
                    return .run(type, state: try type.initialState(), decoded: nil, parent: nil)
                } catch {
                    deadLetter(delivery, RefusalReason.cannotSpawn(address, error), attempts: 0, in: &world)
                    return .settled
                }
            }
        }
        guard case .run(let type, let state, let decoded, let parent) = step else { return }

        let context = TurnContext(address: address, parent: parent, message: message, directory: self, now: { [clock] in clock.date })
        let outcome = await type.runSequence(state, decoded, [(message, context)])

        world.withLock { world in
            let attempt = delivery.failedAttempts + 1
            if outcome.completed == 1, let newState = outcome.state {
                let effects = context.collectedEffects
                var actor = world.actors[address] ?? Actor(active: true, parent: nil, state: newState)
                actor.state = newState
                actor.decoded = outcome.decoded
                for child in effects.spawnedChildren where !actor.children.contains(child) { actor.children.append(child) }
                world.actors[address] = actor
                commitSchedules(of: address, firing: message.firing, effects.schedule, in: &world)
                for outgoing in effects.outbox { route(outgoing, in: &world) }
                if effects.stopSelf { stop(address, by: message, spawnedNow: effects.spawnedChildren, in: &world) }
                record(delivery, attempt: attempt, outcome: .committed, effects: effects, in: &world)
                return
            }
            let failure = outcome.failure ?? TestKitError("the turn ended without completing or failing")
            switch type.retry.verdict(on: failure, attempt: attempt) {
            case .rejected(let reason):
                deadLetter(delivery, reason, attempts: 1, error: failure, in: &world)
            case .exhausted(let reason, let attempts):
                deadLetter(delivery, reason, attempts: attempts, error: failure, in: &world)
                if let parent, let notice = try? ChildFailed.notice(to: parent, child: address, message: message, reason: reason) {
                    route(notice, in: &world)
                }
            case .retry:
                var again = delivery
                again.failedAttempts = attempt
                again.due = clock.now.advanced(by: type.retry.delay(after: attempt))
                world.pending.insert(again, at: min(index, world.pending.count))
                record(delivery, attempt: attempt, outcome: .willRetry(at: again.due), error: failure, in: &world)
            }
        }
    }

    /// A `greenroom.spawn`: checked and made as `TurnPlan` does.
    private func spawn(_ delivery: Delivery, type: HostedType, in world: inout World) {
        let address = delivery.target
        if let existing = world.actors[address] {
            deadLetter(delivery, RefusalReason.alreadyExists(address, status: existing.active ? "active" : "stopped"), attempts: 0, in: &world)
            return
        }
        do {
            let request = try delivery.message.decode(SpawnRequest.self)
            let state = try request.state.map { try type.validateState($0.raw) } ?? type.initialState()
            world.actors[address] = Actor(active: true, parent: request.parent, state: state)
        } catch {
            deadLetter(delivery, RefusalReason.cannotSpawn(address, error), attempts: 0, in: &world)
            return
        }
        answer(delivery, lifecycle: "spawned", in: &world)
        record(delivery, attempt: 0, outcome: .committed, in: &world)
    }

    /// Marks `address` stopped and sends `greenroom.stop` to its live
    /// children and those spawned in the stopping turn, as `TurnPlan` does;
    /// the stopped actor's set of children is cleared, as the commit does.
    private func stop(_ address: ActorAddress, by message: Message, spawnedNow: [ActorAddress], in world: inout World) {
        guard var actor = world.actors[address] else { return }
        let live = actor.children.filter { world.actors[$0]?.active == true }
        let children = live + spawnedNow.filter { !live.contains($0) }
        actor.active = false
        actor.children = []
        world.actors[address] = actor
        clearSchedules(of: address, in: &world)
        for (index, child) in children.enumerated() {
            let stop = Message(kind: WireFormat.SystemKind.stop, payload: Array("{}".utf8), id: "\(message.id)/stop-\(index)", sender: address)
            route(stop, to: child, in: &world)
        }
    }

    /// Where a committed turn's message goes (see `Routing`).
    private func route(_ outgoing: OutgoingMessage, in world: inout World) {
        switch outgoing.destination {
        case .reply(_, let correlationID):
            if let correlationID { world.answers[correlationID] = .reply(TestReply(kind: outgoing.kind, payload: outgoing.payload)) }
        case .actor(let target):
            let message = Message(kind: outgoing.kind, payload: outgoing.payload, id: outgoing.id, sender: outgoing.from)
            route(message, to: target, spawnIfMissing: outgoing.spawnIfMissing, in: &world)
        }
    }

    private func route(_ message: Message, to target: ActorAddress, spawnIfMissing: Bool = false, in world: inout World) {
        switch routing {
        case .deliver:
            world.pending.append(Delivery(target: target, message: message, spawnIfMissing: spawnIfMissing, due: clock.now))
        case .keep:
            keep(message, to: target, in: &world)
        }
    }

    /// `.keep`: a message that stays undelivered; spawns and stops still
    /// show in the table (see `Routing.keep`).
    private func keep(_ message: Message, to target: ActorAddress, in world: inout World) {
        switch message.kind {
        case WireFormat.SystemKind.spawn:
            guard world.actors[target] == nil, let request = try? message.decode(SpawnRequest.self) else { return }
            world.actors[target] = Actor(active: true, parent: request.parent, state: request.state?.raw ?? [])
        case WireFormat.SystemKind.stop:
            stop(target, by: message, spawnedNow: [], in: &world)
        default:
            world.outbox.append(TestMessage(message, to: target))
        }
    }

    /// The reply to a caller waiting on a spawn or stop: `{"KIND": "ADDRESS"}`.
    private func answer(_ delivery: Delivery, lifecycle kind: String, in world: inout World) {
        guard let asker = delivery.asker else { return }
        let payload = (try? TurnContext.encode([kind: delivery.target.description])) ?? []
        world.answers[asker] = .reply(TestReply(kind: kind, payload: payload))
    }

    private func deadLetter(_ delivery: Delivery, _ reason: String, attempts: Int, error: (any Error)? = nil, in world: inout World) {
        let message = delivery.message
        let letter = TestDeadLetter(actor: delivery.target, kind: message.kind, id: message.id, payload: message.payload,
                                    reason: reason, attempts: attempts, error: error)
        world.deadLetters.append(letter)
        if let asker = delivery.asker { world.answers[asker] = .refused(reason) }
        record(delivery, attempt: attempts == 0 ? 0 : delivery.failedAttempts + 1, outcome: .deadLettered(letter), error: error, in: &world)
    }

    private func record(_ delivery: Delivery, attempt: Int, outcome: TurnRecord.Outcome, effects: TurnEffects? = nil,
                        error: (any Error)? = nil, in world: inout World) {
        var sent: [TestMessage] = []
        var scheduled: [TestScheduled] = []
        var spawned: [TestSpawn] = []
        var reply: TestReply?
        for outgoing in effects?.outbox ?? [] {
            switch outgoing.destination {
            case .reply:
                reply = TestReply(kind: outgoing.kind, payload: outgoing.payload)
            case .actor(let target) where outgoing.kind == WireFormat.SystemKind.spawn:
                let request = try? JSONDecoder().decode(SpawnRequest.self, from: Data(outgoing.payload))
                spawned.append(TestSpawn(address: target, stateJSON: request?.state.map { String(decoding: $0.raw, as: UTF8.self) }))
            case .actor(let target):
                sent.append(TestMessage(to: target, kind: outgoing.kind, payload: outgoing.payload, id: outgoing.id, from: outgoing.from))
            }
        }
        for operation in effects?.schedule ?? [] {
            switch operation {
            case .deliver(let entry), .set(let entry): scheduled.append(self.scheduled(entry))
            case .cancel: break
            }
        }
        world.records.append(TurnRecord(
            message: TestMessage(delivery.message, to: delivery.target),
            attempt: attempt, outcome: outcome, sent: sent, scheduled: scheduled, spawned: spawned, reply: reply,
            stopped: effects?.stopSelf ?? false, error: error))
    }
}
