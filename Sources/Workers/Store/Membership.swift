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

    /// The lease TTL the workers last wrote, in milliseconds (`enqueue status`
    /// reads it, so no flag has to match the workers').
    static let leaseMilliseconds = "gr:{members}:lease-ms"
    /// The TTL assumed when no worker ever wrote one (the workers' default).
    static let defaultLeaseMilliseconds = 6_000

    /// Records a heartbeat (and the worker's lease TTL), forgets members
    /// silent past the TTL, and returns the TTL used and the live members.
    /// A reader (no member) forgets nobody: it only leaves out the silent,
    /// so a reader's shorter TTL cannot drop a live worker's record.
    /// Without a member (ARGV[1] empty) and without a TTL (ARGV[3] empty),
    /// the TTL is the one the workers wrote, else ARGV[4]. One round trip.
    static let heartbeatScript = RedisScript("""
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local ttl = tonumber(ARGV[3])
        if ARGV[1] ~= '' then
            redis.call('ZADD', KEYS[1], now, ARGV[1])
            redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
            redis.call('SET', KEYS[3], ARGV[3])
        end
        if not ttl then ttl = tonumber(redis.call('GET', KEYS[3])) or tonumber(ARGV[4]) end
        if ARGV[1] ~= '' then
            local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
            for _, id in ipairs(dead) do
                redis.call('ZREM', KEYS[1], id)
                redis.call('HDEL', KEYS[2], id)
            end
        end
        local live = redis.call('ZRANGEBYSCORE', KEYS[1], now - ttl, '+inf', 'WITHSCORES')
        local out = {ttl}
        for i = 1, #live, 2 do
            out[#out + 1] = live[i + 1]
            out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or ''
        end
        return out
        """)

    func heartbeat(_ me: MemberInfo, ttlMilliseconds: Int) async throws -> [MemberInfo] {
        try await run(me, ttlMilliseconds: ttlMilliseconds).members
    }

    /// The live members, without heartbeating (for `enqueue status`), by the
    /// lease TTL the workers wrote unless `ttlMilliseconds` overrides it.
    func live(ttlMilliseconds: Int? = nil) async throws -> (ttlMilliseconds: Int, members: [MemberInfo]) {
        try await run(nil, ttlMilliseconds: ttlMilliseconds)
    }

    private func run(_ me: MemberInfo?, ttlMilliseconds: Int?) async throws -> (ttlMilliseconds: Int, members: [MemberInfo]) {
        let info = try me.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) } ?? ""
        let reply = try await redis.run(Self.heartbeatScript, keys: [Self.members, Self.info, Self.leaseMilliseconds],
                                        arguments: [me?.id ?? "", info, ttlMilliseconds.map(String.init) ?? "",
                                                    Self.defaultLeaseMilliseconds])
        let parts = reply.array ?? []
        var live: [MemberInfo] = []
        for index in stride(from: 1, to: parts.count - 1, by: 2) {
            guard let bytes = parts[index + 1].bytes, var member = try? JSONDecoder().decode(MemberInfo.self, from: Data(bytes)) else { continue }
            member.lastSeenMilliseconds = parts[index].integer
            live.append(member)
        }
        return (Int(parts.first?.integer ?? Int64(Self.defaultLeaseMilliseconds)), live)
    }

    func leave(_ id: String) async throws {
        try await redis.send("ZREM", Self.members, id)
        try await redis.send("HDEL", Self.info, id)
    }
}
