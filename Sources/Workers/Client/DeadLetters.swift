import Broker
import Foundation

/// A message in `greenroom.dead`, with why it died.
public struct DeadLetter: Sendable, Codable {
    public var target: String?
    public var kind: String?
    public var messageID: String?
    public var reason: String
    public var attempts: Int
    public var worker: String?
    /// Seconds since the Unix epoch.
    public var deadAt: UInt64?
    public var body: String
}

extension GreenroomClient {
    /// Reads up to `limit` dead letters without removing them (they go back
    /// to the queue, in order, when the browsing channel closes). Stops early
    /// when no letter arrived for `timeout`.
    public func deadLetters(limit: Int = 100, timeout: Duration = .seconds(5)) async throws -> [DeadLetter] {
        var letters: [DeadLetter] = []
        return try await scanDeadLetters(limit: limit, idle: timeout) { _, batch in
            letters += batch.map(Self.describe)
            return .next
        } finish: { _ in letters }
    }

    /// Sends dead letters back to their actors (death headers removed, same
    /// message id) and removes them from the dead-letter queue, among the
    /// first `limit`. Only those matching `predicate` (all by default) are
    /// replayed; messages that never had a valid target are left where they
    /// are. Returns how many were replayed.
    public func replayDeadLetters(limit: Int = 100, timeout: Duration = .seconds(5),
                                  matching predicate: (DeadLetter) -> Bool = { _ in true }) async throws -> Int {
        try await replayDeadLetters(lookingAt: limit, idle: timeout, upTo: .max, progress: nil, matching: predicate)
    }

    /// Replays up to `count` letters matching `predicate` among the first
    /// `limit` (all when nil). Each letter is acked only after RabbitMQ
    /// confirmed its copy: an interrupted replay leaves every letter it did
    /// not replay in the queue (and one replayed but not yet acked is
    /// replayed again later, under the same message id, which its actor
    /// dedupes).
    ///
    /// A run replays each message id once: a letter whose id it already
    /// replayed stays in the queue. (The scan looks at letters that become
    /// ready while it runs, and a replayed letter whose actor refuses it
    /// again is dead-lettered anew behind the ones being looked at.)
    func replayDeadLetters(lookingAt limit: Int?, idle: Duration, upTo count: Int,
                           progress: (@Sendable (DeadLetterScanProgress) -> Void)?,
                           matching predicate: (DeadLetter) -> Bool) async throws -> Int {
        guard count > 0 else { return 0 }
        var replayed = 0
        var replayedIDs: Set<String> = []
        return try await scanDeadLetters(limit: limit, idle: idle, confirms: true, progress: progress) { channel, batch in
            var picked: [(tag: UInt64, id: String?, publication: AMQPPublication)] = []
            var pickedIDs: Set<String> = []
            for delivery in batch where replayed + picked.count < count && predicate(Self.describe(delivery)) {
                let id = delivery.properties.messageID
                if let id, replayedIDs.contains(id) || !pickedIDs.insert(id).inserted { continue }
                if let publication = try await replayPublication(of: delivery) { picked.append((delivery.deliveryTag, id, publication)) }
            }
            let results = try await channel.publish(picked.map(\.publication))
            let confirmed = zip(picked, results).filter { (try? $1.get()) != nil }.map(\.0)
            channel.acknowledgeWithoutWaiting(confirmed.map { .ack($0.tag, multiple: false) })
            replayedIDs.formUnion(confirmed.compactMap(\.id))
            replayed += confirmed.count
            return replayed >= count ? .stop : .next
        } finish: { _ in replayed }
    }

    /// The letter as it goes back to its actor's partition; nil when it has
    /// no valid target or the target's type is unknown.
    private func replayPublication(of delivery: AMQPDelivery) async throws -> AMQPPublication? {
        guard let to = delivery.properties.headers[WireFormat.toHeader]?.stringValue,
              let target = try? ActorAddress(parsing: to),
              let partition = try? await store.partition(of: target) else { return nil }
        var message = AMQPMessage(body: delivery.body, properties: delivery.properties)
        for header in [WireFormat.errorHeader, WireFormat.attemptsHeader, WireFormat.workerHeader, WireFormat.deadAtHeader,
                       WireFormat.actorHeader, WireFormat.originalRoutingKeyHeader, "x-death", "x-first-death-exchange",
                       "x-first-death-queue", "x-first-death-reason"] {
            message.properties.headers[header] = nil
        }
        return AMQPPublication(message, exchange: Topology.actorsExchange, routingKey: partition.routingKey, mandatory: true)
    }

    /// Removes and returns the dead letters (among the first `limit`) that
    /// match `predicate`; the others stay in the queue. Stops early when no
    /// letter arrived for `timeout`.
    public func takeDeadLetters(limit: Int = 1_000, timeout: Duration = .seconds(5),
                                matching predicate: (DeadLetter) -> Bool) async throws -> [DeadLetter] {
        var taken: [DeadLetter] = []
        return try await scanDeadLetters(limit: limit, idle: timeout) { channel, batch in
            var tags: [AMQPChannel.Acknowledgement] = []
            for delivery in batch {
                let letter = Self.describe(delivery)
                guard predicate(letter) else { continue }
                tags.append(.ack(delivery.deliveryTag, multiple: false))
                taken.append(letter)
            }
            channel.acknowledgeWithoutWaiting(tags)
            return .next
        } finish: { _ in taken }
    }

    /// Deletes every dead letter ready in the queue; returns how many there were.
    public func purgeDeadLetters() async throws -> Int {
        let channel = try await amqp.openChannel()
        defer { Task { try? await channel.close() } }
        return Int(try await channel.purgeQueue(Topology.deadQueue))
    }

    static func describe(_ delivery: AMQPDelivery) -> DeadLetter {
        let headers = delivery.properties.headers
        return DeadLetter(
            target: headers[WireFormat.toHeader]?.stringValue,
            kind: delivery.properties.type,
            messageID: delivery.properties.messageID,
            reason: headers[WireFormat.errorHeader]?.stringValue
                ?? headers["x-first-death-reason"]?.stringValue.map { "rejected by RabbitMQ (\($0))" } ?? "unknown",
            attempts: Int(headers[WireFormat.attemptsHeader]?.intValue ?? 0),
            worker: headers[WireFormat.workerHeader]?.stringValue,
            deadAt: headers[WireFormat.deadAtHeader]?.intValue.map { UInt64($0) },
            body: String(decoding: delivery.body, as: UTF8.self))
    }
}
