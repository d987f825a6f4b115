import Broker
import Foundation

/// What a worker says about itself in its heartbeat.
public struct MemberInfo: Codable, Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int32
    public var types: [String]
    public var concurrency: Int
    /// Unix seconds.
    public var startedAt: Int64
    /// Redis server time of the last heartbeat, in Unix milliseconds (filled in when read).
    public var lastSeenMilliseconds: Int64?
    /// What this worker's turns did since it started, by actor type: the
    /// dashboard's rates and latencies are the difference of two heartbeats.
    /// Nil from workers older than this field.
    public var turns: [String: TurnTotals]?
}

/// A worker's running totals for one actor type, since the worker started.
public struct TurnTotals: Codable, Sendable, Equatable {
    /// Turns committed (duplicates of stored turns not counted).
    public var committed: Int = 0
    /// Messages dead-lettered.
    public var deadLettered: Int = 0
    /// Turns that threw and will run again.
    public var retried: Int = 0
    /// The sum of committed turns' durations, in seconds (run and commit):
    /// with `committed`, their mean.
    public var seconds: Double = 0

    public init(committed: Int = 0, deadLettered: Int = 0, retried: Int = 0, seconds: Double = 0) {
        self.committed = committed
        self.deadLettered = deadLettered
        self.retried = retried
        self.seconds = seconds
    }
}

/// Live workers, by heartbeat. A worker silent for longer than the TTL is
/// dead to the others. Times are Redis server time, so worker clocks may drift.
struct Membership: Sendable {
    let redis: RedisClient
    static let members = "gr:{members}"
    static let info = "gr:{members}:info"

    /// Records a heartbeat, forgets members silent past `ttlMilliseconds`, and
    /// returns the live members. One round trip.
    static let heartbeatScript = RedisScript("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        if ARGV[1] ~= '' then
            redis.call('ZADD', KEYS[1], now, ARGV[1])
            redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
        end
        local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
        for _, id in ipairs(dead) do
            redis.call('ZREM', KEYS[1], id)
            redis.call('HDEL', KEYS[2], id)
        end
        local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
        local out = {}
        for i = 1, #live, 2 do
            out[#out + 1] = live[i + 1]
            out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
        end
        return out
        """)

    func heartbeat(_ me: MemberInfo?, ttlMilliseconds: Int) async throws -> [MemberInfo] {
        let info = try me.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) } ?? ""
        let reply = try await redis.run(Self.heartbeatScript, keys: [Self.members, Self.info],
                                        arguments: [me?.id ?? "", info, ttlMilliseconds])
        let parts = reply.array ?? []
        var live: [MemberInfo] = []
        for index in stride(from: 0, to: parts.count - 1, by: 2) {
            guard let bytes = parts[index + 1].bytes, var member = try? JSONDecoder().decode(MemberInfo.self, from: Data(bytes)) else { continue }
            member.lastSeenMilliseconds = parts[index].integer
            live.append(member)
        }
        return live
    }

    /// The live members, without heartbeating (for `enqueue status`).
    func live(ttlMilliseconds: Int) async throws -> [MemberInfo] {
        try await heartbeat(nil, ttlMilliseconds: ttlMilliseconds)
    }

    func leave(_ id: String) async throws {
        try await redis.send("ZREM", Self.members, id)
        try await redis.send("HDEL", Self.info, id)
    }
}
