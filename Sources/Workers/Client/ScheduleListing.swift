import Foundation

/// One named timer or reminder of an actor, as `GreenroomClient.schedules(of:)`
/// reads it from Redis (docs/TIME.md).
public struct ScheduleInfo: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case timer
        case reminder
    }

    /// The name the actor gave it (`setTimer("NAME", …)`, `setReminder("NAME", …)`).
    public var name: String
    public var kind: Kind
    /// A reminder's period; nil for a timer.
    public var every: Duration?
    /// When it fires next; nil while none is pending (a firing in flight,
    /// or a generation whose entry is gone).
    public var nextDue: Date?
    /// The kind of the message it sends the actor.
    public var messageKind: String?
    /// The generation id: a timer's message id, a reminder's message ids' prefix.
    public var generation: String

    public init(name: String, kind: Kind, every: Duration?, nextDue: Date?, messageKind: String?, generation: String) {
        self.name = name
        self.kind = kind
        self.every = every
        self.nextDue = nextDue
        self.messageKind = messageKind
        self.generation = generation
    }
}

extension GreenroomClient {
    /// The actor's timers and reminders, by kind then name: read from its
    /// hash's `schedules` field, then each generation's entry and due time in
    /// its partition's due set (docs/PROTOCOL.md, "Redis layout"). Throws
    /// `ActorNotFound` for an actor that was never spawned or was stopped.
    public func schedules(of address: ActorAddress) async throws -> [ScheduleInfo] {
        let partition = try await store.partition(of: address)
        let fields = try await redis.send("HMGET", RedisLayout.actor(address, in: partition), "status", "schedules").array ?? []
        guard fields.count == 2, let status = fields[0].string else { throw ActorNotFound(address: address, stopped: false) }
        guard status == ActorRecord.Status.active.rawValue else { throw ActorNotFound(address: address, stopped: true) }
        guard let text = fields[1].bytes,
              let schedules = try? JSONDecoder().decode([String: String].self, from: Data(text)), !schedules.isEmpty else {
            return []
        }
        let named = schedules.sorted { $0.key < $1.key }
        let dueKey = RedisLayout.due(partition), entriesKey = RedisLayout.dueEntries(partition)
        let replies = try await redis.pipeline(named.flatMap { _, generation in
            [["HGET", entriesKey, generation].map(\.redisBytes), ["ZSCORE", dueKey, generation].map(\.redisBytes)]
        })
        var found: [ScheduleInfo] = []
        for (index, (field, generation)) in named.enumerated() {
            let parts = field.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let kind = ScheduleInfo.Kind(rawValue: String(parts[0])) else { continue }
            let entry = try replies[2 * index].get().bytes.flatMap { try? DueEntry.decode($0) }
            let score = try replies[2 * index + 1].get().string.flatMap(Double.init)
            found.append(ScheduleInfo(
                name: String(parts[1]), kind: kind, every: entry?.every.map { .milliseconds($0) },
                nextDue: score.map { Date(timeIntervalSince1970: $0 / 1_000) }, messageKind: entry?.kind, generation: generation))
        }
        return found
    }
}
