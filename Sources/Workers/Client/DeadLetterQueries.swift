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
}

extension GreenroomClient {
    /// Up to `limit` dead letters that pass `filter`, oldest first, without
    /// removing any.
    public func deadLetters(matching filter: DeadLetterFilter, limit: Int = 100) async throws -> [DeadLetter] {
        Array(try await deadLetters(limit: 100_000).filter(filter.matches).prefix(limit))
    }

    /// Sends up to `limit` of the dead letters that pass `filter` back to
    /// their actors; returns how many.
    public func replayDeadLetters(matching filter: DeadLetterFilter, limit: Int = 100) async throws -> Int {
        try await replayDeadLetters(limit: limit) { filter.matches($0) }
    }

    /// Deletes the dead letters that pass `filter` (all of them for an empty
    /// filter); returns how many.
    public func purgeDeadLetters(matching filter: DeadLetterFilter) async throws -> Int {
        if filter.isEmpty { return try await purgeDeadLetters() }
        return try await takeDeadLetters(limit: 100_000) { filter.matches($0) }.count
    }

    /// Counts every dead letter by type and reason class.
    public func deadLetterStats() async throws -> DeadLetterStats {
        let letters = try await deadLetters(limit: 100_000)
        var groups: [String: DeadLetterStats.Group] = [:]
        for letter in letters {
            let type = letter.target.flatMap { $0.split(separator: "/").first.map(String.init) }
            let key = "\(type ?? "")\u{0}\(letter.reasonClass.rawValue)"
            groups[key, default: .init(type: type, reasonClass: letter.reasonClass, count: 0, example: letter.reason)].count += 1
        }
        return DeadLetterStats(total: letters.count, groups: groups.values.sorted { ($0.count, $1.type ?? "") > ($1.count, $0.type ?? "") })
    }
}
