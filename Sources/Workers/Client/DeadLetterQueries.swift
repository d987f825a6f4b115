import Broker

/// Counts of the dead letters in `greenroom.dead`, by actor type and reason class.
public struct DeadLetterStats: Sendable, Codable, Equatable {
    public struct Group: Sendable, Codable, Equatable {
        /// The target's actor type; nil for letters without a valid target.
        public var type: String?
        public var reasonClass: DeadLetterClass
        public var count: Int
        /// One reason of the group, as written (the first seen).
        public var example: String
    }

    /// Letters counted.
    public var total: Int
    /// Largest group first.
    public var groups: [Group]
}

extension DeadLetter {
    /// The class of `reason`.
    public var reasonClass: DeadLetterClass { DeadLetterClass(reason: reason) }

    /// The target's actor type (`counter` of `counter/42`); nil without a target.
    public var type: String? { target.flatMap { $0.split(separator: "/", maxSplits: 1).first.map(String.init) } }
}

extension GreenroomClient {
    /// How long a scan by filter waits for the next letter, before it has
    /// seen every letter that was ready, until it asks whether any is still
    /// ready (another client may have the rest; see `scanDeadLetters`).
    static let deadLetterBrowseIdle: Duration = .milliseconds(300)

    /// Up to `limit` dead letters that pass `filter`, oldest first, without
    /// removing any. Streams the queue (the client holds only the matches)
    /// and stops at the `limit`th match. `progress` is told how far the scan
    /// got after each batch of letters.
    public func deadLetters(matching filter: DeadLetterFilter, limit: Int = 100,
                            progress: (@Sendable (DeadLetterScanProgress) -> Void)? = nil) async throws -> [DeadLetter] {
        guard limit > 0 else { return [] }
        var found: [DeadLetter] = []
        return try await scanDeadLetters(idle: Self.deadLetterBrowseIdle, progress: progress) { _, batch in
            for delivery in batch {
                let letter = Self.describe(delivery)
                guard filter.matches(letter) else { continue }
                found.append(letter)
                if found.count == limit { return .stop }
            }
            return .next
        } finish: { _ in found }
    }

    /// How many dead letters pass `filter` (every letter is looked at; none
    /// is removed).
    public func deadLetterCount(matching filter: DeadLetterFilter,
                                progress: (@Sendable (DeadLetterScanProgress) -> Void)? = nil) async throws -> Int {
        var count = 0
        return try await scanDeadLetters(idle: Self.deadLetterBrowseIdle, progress: progress) { _, batch in
            count += filter.isEmpty ? batch.count : batch.lazy.filter { filter.matches(Self.describe($0)) }.count
            return .next
        } finish: { _ in count }
    }

    /// Sends up to `limit` of the dead letters that pass `filter` back to
    /// their actors; returns how many. Each is removed from the queue only
    /// after RabbitMQ confirmed its copy, so an interrupted replay loses
    /// nothing. Letters without a valid target stay.
    public func replayDeadLetters(matching filter: DeadLetterFilter, limit: Int = 100,
                                  progress: (@Sendable (DeadLetterScanProgress) -> Void)? = nil) async throws -> Int {
        try await replayDeadLetters(lookingAt: nil, idle: Self.deadLetterBrowseIdle, upTo: limit, progress: progress,
                                    matching: filter.matches)
    }

    /// Deletes the dead letters that pass `filter` (all of them for an empty
    /// filter); returns how many. The others stay, in order.
    public func purgeDeadLetters(matching filter: DeadLetterFilter,
                                 progress: (@Sendable (DeadLetterScanProgress) -> Void)? = nil) async throws -> Int {
        if filter.isEmpty { return try await purgeDeadLetters() }
        // Acked at the end, all at once: acks mixed with the scan's
        // deliveries slow RabbitMQ's deliveries of persistent letters down
        // many times over. Until then an interrupted purge deletes nothing.
        var matched: [UInt64] = []
        return try await scanDeadLetters(idle: Self.deadLetterBrowseIdle, progress: progress) { _, batch in
            matched += batch.lazy.filter { filter.matches(Self.describe($0)) }.map(\.deliveryTag)
            return .next
        } finish: { channel in
            channel.acknowledgeWithoutWaiting(matched.map { .ack($0, multiple: false) })
            return matched.count
        }
    }

    /// Counts every dead letter by type and reason class, streaming the
    /// queue: the client holds one group per (type, class), not the letters.
    public func deadLetterStats(progress: (@Sendable (DeadLetterScanProgress) -> Void)? = nil) async throws -> DeadLetterStats {
        var groups: [GroupKey: DeadLetterStats.Group] = [:]
        var total = 0
        return try await scanDeadLetters(idle: Self.deadLetterBrowseIdle, progress: progress) { _, batch in
            total += batch.count
            for delivery in batch {
                let letter = Self.describe(delivery)
                let key = GroupKey(type: letter.type, reasonClass: letter.reasonClass)
                groups[key, default: .init(type: key.type, reasonClass: key.reasonClass, count: 0, example: letter.reason)].count += 1
            }
            return .next
        } finish: { _ in
            DeadLetterStats(total: total, groups: groups.values.sorted {
                ($0.count, $1.type ?? "", $1.reasonClass.rawValue) > ($1.count, $0.type ?? "", $0.reasonClass.rawValue)
            })
        }
    }

    private struct GroupKey: Hashable {
        var type: String?
        var reasonClass: DeadLetterClass
    }
}
