/// How late messages were handled, in milliseconds past their due time: a
/// sparse histogram, exact below one second, to 10 ms below ten seconds and
/// to 100 ms above, so its size stays small whatever the count. Histograms
/// of many actors merge by adding (`enqueue bench --delays` does).
///
/// In JSON the buckets are one string, `"MS:N MS:N …"` in ascending order:
/// the `lateness` actor's state is encoded at every commit, and a JSON
/// object of a hundred keys cost more than the rest of its turn.
public struct LatenessHistogram: Codable, Sendable, Equatable {
    /// Bucket lower bound in ms (as text: JSON keys) → messages in it.
    public var buckets: [String: Int] = [:]
    /// Messages recorded.
    public var count = 0
    /// The latest, exactly.
    public var maximum = 0
    /// Messages handled before their due time (counted, not in the buckets):
    /// zero unless clocks disagree, since a due message is never released early.
    public var early = 0

    public init() {}

    private enum CodingKeys: String, CodingKey { case buckets, count, maximum, early }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        count = try container.decode(Int.self, forKey: .count)
        maximum = try container.decode(Int.self, forKey: .maximum)
        early = try container.decode(Int.self, forKey: .early)
        guard let text = try? container.decode(String.self, forKey: .buckets) else {
            // Written before the buckets were a string.
            buckets = try container.decode([String: Int].self, forKey: .buckets)
            return
        }
        for pair in text.split(separator: " ") {
            let parts = pair.split(separator: ":")
            guard parts.count == 2, let bucket = Int(parts[0]), let count = Int(parts[1]) else {
                throw DecodingError.dataCorruptedError(forKey: .buckets, in: container,
                                                       debugDescription: "lateness bucket '\(pair)' is not MS:COUNT")
            }
            buckets[String(bucket), default: 0] += count
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let pairs = buckets.compactMap { key, value in Int(key).map { ($0, value) } }.sorted { $0.0 < $1.0 }
        try container.encode(pairs.map { "\($0.0):\($0.1)" }.joined(separator: " "), forKey: .buckets)
        try container.encode(count, forKey: .count)
        try container.encode(maximum, forKey: .maximum)
        try container.encode(early, forKey: .early)
    }

    /// The bucket `milliseconds` falls in.
    static func bucket(_ milliseconds: Int) -> Int {
        switch milliseconds {
        case ..<1_000: milliseconds
        case ..<10_000: milliseconds / 10 * 10
        default: milliseconds / 100 * 100
        }
    }

    /// Records one message handled `milliseconds` after it was due.
    public mutating func record(_ milliseconds: Int) {
        count += 1
        guard milliseconds >= 0 else {
            early += 1
            return
        }
        buckets[String(Self.bucket(milliseconds)), default: 0] += 1
        maximum = max(maximum, milliseconds)
    }

    /// Adds `other`'s messages to these.
    public mutating func merge(_ other: LatenessHistogram) {
        for (bucket, count) in other.buckets { buckets[bucket, default: 0] += count }
        count += other.count
        maximum = max(maximum, other.maximum)
        early += other.early
    }

    /// The lateness below which `percent` % of the (not early) messages
    /// were handled, as its bucket's lower bound; nil when there are none.
    public func percentile(_ percent: Double) -> Int? {
        let recorded = count - early
        guard recorded > 0 else { return nil }
        let rank = max(1, Int((percent / 100 * Double(recorded)).rounded(.up)))
        var seen = 0
        for (bucket, count) in buckets.compactMap({ key, value in Int(key).map { ($0, value) } }).sorted(by: { $0.0 < $1.0 }) {
            seen += count
            if seen >= rank { return bucket }
        }
        return maximum
    }
}
