import Broker

/// The dispatcher's part of parking (docs/TIME.md, "Delayed retries"): when
/// a park's release entry is due, the head of the actor's held list is
/// published, in order, each message with `x-greenroom-release` (and its
/// attempts), before the entry's own `greenroom.unpark`; the entry is then
/// settled like any other. The list is not trimmed here: each released
/// message leaves it in the commit that settles its turn, so what is not
/// settled (a crash, a message that parks the actor again) is still there,
/// in order, for the next round.
extension DueDispatcher {
    /// Held messages published per release round; the unpark at its end
    /// starts the next round while more are held.
    static let releaseRoundSize = 128

    /// A held element that cannot be read is dead-lettered, then removed
    /// under the epoch (it would otherwise head every round).
    /// KEYS: epoch, held list. ARGV: epoch, element.
    static let removeUnreadable = RedisScript("""
        local current = redis.call('GET', KEYS[1]) or '0'
        if current ~= ARGV[1] then return {'fenced', current} end
        redis.call('LREM', KEYS[2], 1, ARGV[2])
        return {'ok'}
        """)

    /// The held messages of `actor` released from `park` in this round, as publications.
    func releaseRound(of park: String, to actor: ActorAddress) async throws -> [FleetPublisher.Publication] {
        let key = RedisLayout.held(actor, in: run.partition)
        let elements = try await store.redis.send("LRANGE", key, 0, Self.releaseRoundSize - 1).array ?? []
        var publications: [FleetPublisher.Publication] = []
        for element in elements.compactMap(\.bytes) {
            guard let held = try? HeldMessage.decode(element: element) else {
                try await publisher.publishDeadLetters([publisher.deadLetter(
                    AMQPMessage(body: element, properties: AMQPProperties(headers: [WireFormat.toHeader: .string(actor.description)],
                                                                          type: "greenroom.held-message")),
                    routingKey: run.partition.routingKey,
                    reason: "a held message of \(actor) could not be read; its bytes are the body", attempts: 0, actor: actor)])
                let reply = try await store.redis.run(Self.removeUnreadable, keys: [RedisLayout.epoch(run.partition), key],
                                                      arguments: [run.epoch.description, element])
                if reply.array?.first?.string == "fenced" { throw DueStore.Fenced(partition: run.partition) }
                continue
            }
            publications.append(.actor(actor, held.message(to: actor, release: park)))
        }
        return publications
    }
}
